//! The capacity plan of a view as one document: what the capacity page shows (the forecasts of
//! the group's or fleet's average, the hosts that cross, every group's runway on the fleet's
//! view, recommendations, right-sizing, application metrics near their capacity, committed
//! plans), read once for the page and for the PDF (`capacity::pdf`), on demand or monthly
//! (`capacity::monthly`).
use super::{runway, whatif, Plan};
use crate::history::QueryError;
use app::{
    models::{CapacityPlan, GroupRunway, Runway, TrendReport},
    view_state::CapacityQuery,
};
use chrono::{DateTime, Utc};

/// A view's plan with the runway of every group (the fleet's view only) and the committed
/// plans of its scope.
pub struct Overview {
    pub plan: Plan,
    pub runway: Vec<GroupRunway>,
    pub plans: Vec<CapacityPlan>,
}

/// The overview of `view` as of `now`.
pub async fn overview(
    pool: &sqlx::PgPool,
    view: &CapacityQuery,
    now: DateTime<Utc>,
) -> Result<Overview, QueryError> {
    let plan = super::plan(pool, view, now).await?;
    // The fleet's view starts with every group's runway; a group's view is one.
    let runway = match view.group {
        None => runway::of_groups(pool, view, now).await?,
        Some(_) => Vec::new(),
    };
    let plans = whatif::plans(pool, view.group.as_deref()).await?;
    Ok(Overview {
        plan,
        runway,
        plans,
    })
}

/// A file name's part for a scope: `fleet`, or the group's name with anything but letters,
/// digits, `-` and `_` as `_`.
pub fn scope_file_name(group: Option<&str>) -> String {
    group.unwrap_or("fleet").replace(
        |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_',
        "_",
    )
}

/// The name of a plan's file made at `at`: `lookout-capacity-grp_01-20261207.pdf` (`extension`
/// `pdf`).
pub fn file_name(group: Option<&str>, at: DateTime<Utc>, extension: &str) -> String {
    format!(
        "lookout-capacity-{}-{}.{extension}",
        scope_file_name(group),
        at.format("%Y%m%d")
    )
}

/// The scope's runway in a trends answer: days from its newest complete day to each forecast
/// crossing of the threshold (0: there already).
pub fn runway_of(trends: &TrendReport) -> Runway {
    let newest = trends.historical.last().map(|d| d.date);
    let days = |metric: &str| {
        let when = trends
            .forecast
            .as_ref()?
            .get(metric)?
            .capacity_exceed_date?;
        days_between(newest, when).map(|d| d.max(0.0))
    };
    Runway {
        cpu_days: days("cpu"),
        memory_days: days("memory"),
        disk_days: days("disk"),
    }
}

/// Whole days from the day of `from` (a history's newest day) to the day of `to`.
pub fn days_between(from: Option<DateTime<Utc>>, to: DateTime<Utc>) -> Option<f64> {
    from.map(|from| (to.date_naive() - from.date_naive()).num_days() as f64)
}

/// A plan's PDF as made: the document, its number of hosts and its runway.
pub struct Made {
    pub pdf: Vec<u8>,
    pub hosts: usize,
    pub runway: Runway,
}

/// The PDF of `view`'s plan as of `now`, with how the runway moved since `previous` (a
/// month's title and that report's runway) when given.
pub async fn pdf(
    pool: &sqlx::PgPool,
    view: &CapacityQuery,
    now: DateTime<Utc>,
    title: &str,
    previous: Option<(String, Runway)>,
) -> Result<Made, QueryError> {
    let overview = overview(pool, view, now).await?;
    let hosts = overview.plan.hosts.len();
    let runway = runway_of(&overview.plan.trends);
    let (title, view) = (title.to_string(), view.clone());
    // Drawing the charts and compressing the pages is CPU work (tens of milliseconds): on the
    // blocking pool, not on a worker that serves requests.
    let pdf = tokio::task::spawn_blocking(move || {
        super::pdf::render(&super::pdf::Document {
            title: &title,
            view: &view,
            as_of: now,
            generated_at: Utc::now(),
            overview: &overview,
            previous: previous
                .as_ref()
                .map(|(month, runway)| (month.as_str(), runway)),
        })
    })
    .await
    .map_err(|e| QueryError::Internal(anyhow::anyhow!("the PDF's task failed: {e}")))?
    .map_err(QueryError::Internal)?;
    Ok(Made { pdf, hosts, runway })
}
