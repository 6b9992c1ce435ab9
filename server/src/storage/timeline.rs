//! Timeline events people add (manual notes, maintenance) or the server records (reboots), and
//! power changes derived from gaps in a host's data.
use app::models::{StateChange, TimelineEvent};
use chrono::{DateTime, Duration, Utc};
use sqlx::{FromRow, PgPool};

/// A gap longer than this many typical intervals means the host was off (or unreachable).
pub const GAP_INTERVALS: f64 = 3.0;

#[derive(FromRow)]
struct StoredEvent {
    id: i64,
    ts: DateTime<Utc>,
    kind: String,
    title: String,
    description: Option<String>,
    severity: Option<String>,
    state_from: Option<String>,
    state_to: Option<String>,
    created_by: Option<String>,
    created_at: DateTime<Utc>,
    ends_at: Option<DateTime<Utc>>,
}

impl StoredEvent {
    fn into_event(self, vm_id: &str) -> TimelineEvent {
        let state_change = match (self.state_from, self.state_to) {
            (Some(from), Some(to)) => Some(StateChange { from, to }),
            _ => None,
        };
        TimelineEvent {
            id: format!("event_{}", self.id),
            vm_id: vm_id.into(),
            timestamp: self.ts,
            kind: self.kind,
            title: self.title,
            description: self.description,
            metric_data: None,
            state_change,
            severity: self.severity,
            acknowledged: false,
            created_by: self.created_by,
            created_at: self.created_at,
            end_time: self.ends_at,
        }
    }
}

pub struct NewEvent<'a> {
    pub host_id: i32,
    pub ts: DateTime<Utc>,
    pub kind: &'a str,
    pub title: &'a str,
    pub description: Option<&'a str>,
    pub severity: Option<&'a str>,
    pub state: Option<(&'a str, &'a str)>,
    pub created_by: Option<&'a str>,
    /// Where it ends, for a span (a maintenance window, a selection on a chart).
    pub ends_at: Option<DateTime<Utc>>,
}

pub async fn add(
    pool: &PgPool,
    vm_id: &str,
    event: &NewEvent<'_>,
) -> Result<TimelineEvent, sqlx::Error> {
    let row: StoredEvent = sqlx::query_as(
        "INSERT INTO timeline_events (host_id, ts, kind, title, description, severity, state_from, state_to, created_by, ends_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *",
    )
    .bind(event.host_id)
    .bind(event.ts)
    .bind(event.kind)
    .bind(event.title)
    .bind(event.description)
    .bind(event.severity)
    .bind(event.state.map(|s| s.0))
    .bind(event.state.map(|s| s.1))
    .bind(event.created_by)
    .bind(event.ends_at)
    .fetch_one(pool)
    .await?;
    Ok(row.into_event(vm_id))
}

pub async fn stored(
    pool: &PgPool,
    host_id: i32,
    vm_id: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<TimelineEvent>, sqlx::Error> {
    // Spans that started before the range but reach into it count too.
    let rows: Vec<StoredEvent> = sqlx::query_as("SELECT * FROM timeline_events WHERE host_id = $1 AND ts <= $3 AND coalesce(ends_at, ts) >= $2")
        .bind(host_id)
        .bind(start)
        .bind(end)
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().map(|r| r.into_event(vm_id)).collect())
}

type Instants = Vec<DateTime<Utc>>;

/// (last instant before a gap, first instant after it) for gaps longer than `GAP_INTERVALS`
/// typical spacings, plus the typical spacing in seconds. Raw samples within the raw window,
/// hourly rollup buckets (typical spacing one hour) before it.
pub async fn gaps(
    pool: &PgPool,
    host_id: i32,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    raw_since: DateTime<Utc>,
) -> Result<
    (
        Vec<(DateTime<Utc>, DateTime<Utc>)>,
        Option<f64>,
        Option<DateTime<Utc>>,
    ),
    sqlx::Error,
> {
    // Look back a day so a gap that ends inside the range is seen whole.
    let lookback = start - Duration::days(1);
    let mut found = Vec::new();
    if lookback < raw_since {
        let older: Vec<(DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
            "SELECT prev, bucket FROM (
                 SELECT bucket, lag(bucket) OVER (ORDER BY bucket) AS prev FROM rollup_hourly
                 WHERE host_id = $1 AND metric = $5 AND bucket >= $2 AND bucket < $3
             ) s WHERE bucket - prev > $4 * interval '1 hour'",
        )
        .bind(host_id)
        .bind(lookback)
        .bind(raw_since.min(end))
        .bind(GAP_INTERVALS)
        // Every rolled-up hour has its CPU row: its buckets are the hours the host reported.
        .bind(super::catalog::CPU_PERCENT)
        .fetch_all(pool)
        .await?;
        found.extend(older);
    }
    // One pass. A gap is an outage when it is longer than GAP_INTERVALS times the spacing the
    // host reports at around it: the larger of the shortest of the 3 gaps before and of the 3
    // after. Local, not one median for the range: a host (or the demo) that went from one sample
    // a minute to one every 10 s is not "off" between its minute samples, and a second outage
    // right after a first one is still seen. The typical spacing returned (the median of the last
    // 30 gaps) is the host's current one, for "silent until now".
    let raw: Option<(Option<f64>, Instants, Instants)> = sqlx::query_as(
        "WITH s AS (
             SELECT ts, extract(epoch FROM ts - lag(ts) OVER (ORDER BY ts)) AS gap FROM samples
             WHERE host_id = $1 AND ts >= $2 AND ts <= $3
         ), around AS (
             SELECT ts, gap,
                    greatest(min(gap) OVER (ORDER BY ts ROWS BETWEEN 3 PRECEDING AND 1 PRECEDING),
                             min(gap) OVER (ORDER BY ts ROWS BETWEEN 1 FOLLOWING AND 3 FOLLOWING)) AS usual
             FROM s
         ), typical AS (
             SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY gap) AS secs
             FROM (SELECT gap FROM s WHERE gap IS NOT NULL ORDER BY ts DESC LIMIT 30) recent
         )
         SELECT typical.secs,
                coalesce(array_agg(ts - gap * interval '1 second' ORDER BY ts) FILTER (WHERE gap > $4 * usual), '{}'),
                coalesce(array_agg(ts ORDER BY ts) FILTER (WHERE gap > $4 * usual), '{}')
         FROM typical CROSS JOIN around GROUP BY typical.secs",
    )
    .bind(host_id)
    .bind(lookback.max(raw_since))
    .bind(end)
    .bind(GAP_INTERVALS)
    .fetch_optional(pool)
    .await?;
    let (typical, before, after) = raw.unwrap_or_default();
    found.extend(before.into_iter().zip(after));
    let last: Option<DateTime<Utc>> =
        sqlx::query_scalar("SELECT max(ts) FROM samples WHERE host_id = $1 AND ts <= $2")
            .bind(host_id)
            .bind(end)
            .fetch_one(pool)
            .await?;
    Ok((found, typical, last))
}
