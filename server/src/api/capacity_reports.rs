//! `GET /api/v1/history/capacity-reports` and `…/{id}` (an extension): the monthly capacity
//! reports (`capacity::monthly`) — the list, and each one's PDF; and
//! `GET /api/v1/history/capacity-plan`, a view's plan as a PDF made on the spot.
use super::history_error::{history_success, Answer, HistoryError};
use crate::{
    auth::{RequireScope, VmRead},
    state::AppState,
    storage::capacity_reports,
};
use app::models::CapacityReportFile;
use app::view_state::{parse_query, CapacityQuery};
use axum::{
    extract::{Path, Query, RawQuery, State},
    response::Response,
    Json,
};
use serde::Deserialize;

/// `?groupId=` of the list (absent: every scope's).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportFilter {
    group_id: Option<String>,
}

/// `GET /capacity-reports`: the reports, newest month first; the fleet's first within a month.
pub async fn list(
    _: RequireScope<VmRead, HistoryError>,
    State(state): State<AppState>,
    Query(filter): Query<ReportFilter>,
) -> Result<Json<Answer<Vec<CapacityReportFile>>>, HistoryError> {
    let scope = filter.group_id.as_deref().map(Some);
    Ok(history_success(
        capacity_reports::list(&state.pool, scope).await?,
    ))
}

/// `GET /capacity-reports/{id}`: the report's PDF.
pub async fn download(
    _: RequireScope<VmRead, HistoryError>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, HistoryError> {
    let missing = || HistoryError::NotFound(format!("no capacity report {id}"));
    let number = id.parse::<i64>().map_err(|_| missing())?;
    let (report, pdf) = capacity_reports::read(&state.pool, number)
        .await?
        .ok_or_else(missing)?;
    let name = format!(
        "lookout-capacity-{}-{}.pdf",
        crate::capacity::report::scope_file_name(report.group_id.as_deref()),
        report.month.format("%Y-%m")
    );
    Ok(crate::pdf::download(pdf, &name))
}

/// `GET /capacity-plan?group=&history=&horizon=&threshold=`: the capacity page's view (the
/// same keys and choices) as a PDF, as of now.
pub async fn plan(
    _: RequireScope<VmRead, HistoryError>,
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, HistoryError> {
    let view = CapacityQuery::from_pairs(&parse_query(query.as_deref().unwrap_or_default()))
        .map_err(HistoryError::BadRequest)?;
    let now = chrono::Utc::now();
    let pdf = crate::capacity::report::pdf(&state.pool, &view, now, "Capacity plan", None)
        .await?
        .pdf;
    Ok(crate::pdf::download(
        pdf,
        &crate::capacity::report::file_name(view.group.as_deref(), now, "pdf"),
    ))
}
