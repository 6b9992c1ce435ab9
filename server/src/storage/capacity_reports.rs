//! The monthly capacity reports (`capacity_reports`): one PDF per month and scope (the fleet, or
//! a host group), kept for 24 months.
use app::models::{CapacityReportFile, Runway};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{FromRow, PgPool};

/// A report's facts, without its bytes.
#[derive(FromRow)]
struct Row {
    id: i64,
    month: NaiveDate,
    group_name: Option<String>,
    as_of: DateTime<Utc>,
    hosts: i32,
    history_days: i32,
    horizon_days: i32,
    threshold: i32,
    generated_at: DateTime<Utc>,
    bytes: i32,
    cpu_days: Option<f64>,
    memory_days: Option<f64>,
    disk_days: Option<f64>,
}

impl From<Row> for CapacityReportFile {
    fn from(row: Row) -> Self {
        CapacityReportFile {
            download_url: format!("/api/v1/history/capacity-reports/{}", row.id),
            id: row.id,
            month: row.month,
            group_id: row.group_name,
            as_of: row.as_of,
            hosts: i64::from(row.hosts),
            history_days: i64::from(row.history_days),
            horizon_days: i64::from(row.horizon_days),
            threshold: i64::from(row.threshold),
            generated_at: row.generated_at,
            bytes: i64::from(row.bytes),
            runway: Runway {
                cpu_days: row.cpu_days,
                memory_days: row.memory_days,
                disk_days: row.disk_days,
            },
        }
    }
}

const COLUMNS: &str = "id, month, group_name, as_of, hosts, history_days, horizon_days,
    threshold, generated_at, octet_length(pdf) AS bytes, cpu_days, memory_days, disk_days";

/// What is stored for a month, a scope at a time.
pub struct NewReport<'a> {
    pub month: NaiveDate,
    pub group: Option<&'a str>,
    pub as_of: DateTime<Utc>,
    pub hosts: usize,
    pub view: &'a app::view_state::CapacityQuery,
    pub pdf: &'a [u8],
    pub runway: Runway,
}

/// The reports, newest month first: every scope's, or with `scope` one scope's (`Some(None)`:
/// the fleet's).
pub async fn list(
    pool: &PgPool,
    scope: Option<Option<&str>>,
) -> Result<Vec<CapacityReportFile>, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM capacity_reports
         WHERE NOT $1 OR group_name IS NOT DISTINCT FROM $2
         ORDER BY month DESC, group_name NULLS FIRST"
    )))
    .bind(scope.is_some())
    .bind(scope.flatten())
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(CapacityReportFile::from).collect())
}

/// A report's facts and its PDF.
pub async fn read(
    pool: &PgPool,
    id: i64,
) -> Result<Option<(CapacityReportFile, Vec<u8>)>, sqlx::Error> {
    #[derive(FromRow)]
    struct WithPdf {
        #[sqlx(flatten)]
        row: Row,
        pdf: Vec<u8>,
    }
    let found: Option<WithPdf> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS}, pdf FROM capacity_reports WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(found.map(|f| (CapacityReportFile::from(f.row), f.pdf)))
}

/// The scopes (`None`: the whole fleet) with a daily rollup from `since` to before `before`:
/// every group one of whose hosts has one, and the fleet when any host has.
pub async fn scopes_with_history(
    pool: &PgPool,
    since: DateTime<Utc>,
    before: DateTime<Utc>,
) -> Result<Vec<Option<String>>, sqlx::Error> {
    let groups: Vec<Option<String>> = sqlx::query_scalar(
        "SELECT DISTINCT h.group_id FROM hosts h
         WHERE EXISTS (SELECT 1 FROM rollup_daily d
                       WHERE d.host_id = h.id AND d.bucket >= $1 AND d.bucket < $2)",
    )
    .bind(since)
    .bind(before)
    .fetch_all(pool)
    .await?;
    let fleet = (!groups.is_empty()).then_some(None);
    Ok(fleet
        .into_iter()
        .chain(groups.into_iter().filter(Option::is_some))
        .collect())
}

/// The runway in the report of `month` for a scope (`None`: the fleet), if there is one.
pub async fn runway_of(
    pool: &PgPool,
    month: NaiveDate,
    group: Option<&str>,
) -> Result<Option<Runway>, sqlx::Error> {
    let row: Option<(Option<f64>, Option<f64>, Option<f64>)> = sqlx::query_as(
        "SELECT cpu_days, memory_days, disk_days FROM capacity_reports
         WHERE month = $1 AND group_name IS NOT DISTINCT FROM $2",
    )
    .bind(month)
    .bind(group)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(cpu_days, memory_days, disk_days)| Runway {
        cpu_days,
        memory_days,
        disk_days,
    }))
}

/// The scopes (`None`: the fleet) that have a report of `month`.
pub async fn scopes_of(
    pool: &PgPool,
    month: NaiveDate,
) -> Result<Vec<Option<String>>, sqlx::Error> {
    sqlx::query_scalar("SELECT group_name FROM capacity_reports WHERE month = $1")
        .bind(month)
        .fetch_all(pool)
        .await
}

/// Stores a report unless its month and scope have one already (another server made it first):
/// whether it was stored.
pub async fn insert(pool: &PgPool, report: &NewReport<'_>) -> Result<bool, sqlx::Error> {
    let narrow = |v: i64| i32::try_from(v).unwrap_or(i32::MAX);
    let stored = sqlx::query(
        "INSERT INTO capacity_reports (month, group_name, as_of, hosts, history_days,
             horizon_days, threshold, pdf, cpu_days, memory_days, disk_days)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (month, (coalesce(group_name, ''))) DO NOTHING",
    )
    .bind(report.month)
    .bind(report.group)
    .bind(report.as_of)
    .bind(i32::try_from(report.hosts).unwrap_or(i32::MAX))
    .bind(narrow(report.view.history_days))
    .bind(narrow(report.view.horizon_days))
    .bind(narrow(report.view.threshold))
    .bind(report.pdf)
    .bind(report.runway.cpu_days)
    .bind(report.runway.memory_days)
    .bind(report.runway.disk_days)
    .execute(pool)
    .await?;
    Ok(stored.rows_affected() == 1)
}

/// Removes the reports of months before `oldest_kept`: how many.
pub async fn remove_before(pool: &PgPool, oldest_kept: NaiveDate) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM capacity_reports WHERE month < $1")
        .bind(oldest_kept)
        .execute(pool)
        .await?
        .rows_affected())
}
