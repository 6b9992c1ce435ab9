//! Stored anomaly events (table `anomalies`): the row, read back one by id, a host's over a
//! range, the fleet's newest, and acknowledged or resolved by a person. The detector's
//! `detect::store` matches what it finds against these rows and writes them.
use app::models::AnomalyEvent;
use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgPool};

/// One row of `anomalies`.
#[derive(Clone, PartialEq, FromRow)]
pub struct StoredAnomaly {
    pub id: i64,
    pub host_id: i32,
    pub metric: String,
    pub series: String,
    pub kind: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub value: f64,
    pub baseline: f64,
    pub deviation: f64,
    pub score: f64,
    pub severity: String,
    pub related_vms: Vec<String>,
    pub possible_causes: Vec<String>,
    pub suggested_actions: Vec<String>,
    pub status: String,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub confidence: String,
}

impl StoredAnomaly {
    /// The event as the API answers it, for a host of this vmId and name.
    pub fn into_event(self, vm_id: &str, vm_name: &str) -> AnomalyEvent {
        AnomalyEvent {
            id: format!("anomaly_{}", self.id),
            vm_id: vm_id.into(),
            vm_name: vm_name.into(),
            timestamp: self.started_at,
            metric: self.metric,
            series: self.series,
            kind: self.kind,
            severity: self.severity,
            value: round2(self.value),
            baseline: round2(self.baseline),
            deviation: round2(self.deviation),
            duration: (self.ended_at - self.started_at).num_seconds(),
            related_vms: self.related_vms,
            possible_causes: self.possible_causes,
            suggested_actions: self.suggested_actions,
            status: self.status,
            confidence: self.confidence,
            acknowledged_by: self.acknowledged_by,
            acknowledged_at: self.acknowledged_at,
            resolved_by: self.resolved_by,
            resolved_at: self.resolved_at,
            created_at: self.created_at,
        }
    }
}

/// Values are answered with two decimals.
fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

#[derive(FromRow)]
struct AnomalyWithHost {
    #[sqlx(flatten)]
    anomaly: StoredAnomaly,
    vm_id: String,
    name: String,
}

impl AnomalyWithHost {
    fn into_event(self) -> AnomalyEvent {
        self.anomaly.into_event(&self.vm_id, &self.name)
    }
}

/// One stored event by row id.
pub async fn load(pool: &PgPool, id: i64) -> Result<Option<AnomalyEvent>, sqlx::Error> {
    let row: Option<AnomalyWithHost> =
        sqlx::query_as("SELECT a.*, h.vm_id, h.name FROM anomalies a JOIN hosts h ON h.id = a.host_id WHERE a.id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(AnomalyWithHost::into_event))
}

/// Acknowledges a stored event (who and when; acknowledging twice keeps the first) and answers
/// it, or `None` for an unknown id.
pub async fn acknowledge(
    pool: &PgPool,
    id: i64,
    by: &str,
) -> Result<Option<AnomalyEvent>, sqlx::Error> {
    let row: Option<AnomalyWithHost> = sqlx::query_as(
        "WITH a AS (
             UPDATE anomalies SET
                 status = CASE WHEN status = 'active' THEN 'acknowledged' ELSE status END,
                 acknowledged_by = coalesce(acknowledged_by, $2), acknowledged_at = coalesce(acknowledged_at, now())
             WHERE id = $1 RETURNING *)
         SELECT a.*, h.vm_id, h.name FROM a JOIN hosts h ON h.id = a.host_id",
    )
    .bind(id)
    .bind(by)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(AnomalyWithHost::into_event))
}

/// Resolves a stored event with an optional note; resolving twice keeps the first resolution.
/// `None` for an unknown id.
pub async fn resolve(
    pool: &PgPool,
    id: i64,
    by: &str,
    resolution: Option<&str>,
) -> Result<Option<AnomalyEvent>, sqlx::Error> {
    let row: Option<AnomalyWithHost> = sqlx::query_as(
        "WITH a AS (
             UPDATE anomalies SET status = 'resolved',
                 resolved_by = CASE WHEN status = 'resolved' THEN resolved_by ELSE $2 END,
                 resolved_at = CASE WHEN status = 'resolved' THEN resolved_at ELSE now() END,
                 resolution = CASE WHEN status = 'resolved' THEN resolution ELSE $3 END
             WHERE id = $1 RETURNING *)
         SELECT a.*, h.vm_id, h.name FROM a JOIN hosts h ON h.id = a.host_id",
    )
    .bind(id)
    .bind(by)
    .bind(resolution)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(AnomalyWithHost::into_event))
}

/// The newest stored anomalies of the hosts `host_ids` (`None`: every host) still going on after
/// `since`, newest first.
pub async fn recent(
    pool: &PgPool,
    since: DateTime<Utc>,
    host_ids: Option<&[i32]>,
    limit: i64,
) -> Result<Vec<AnomalyEvent>, sqlx::Error> {
    let rows: Vec<AnomalyWithHost> = sqlx::query_as(
        "SELECT a.*, h.vm_id, h.name FROM anomalies a JOIN hosts h ON h.id = a.host_id
         WHERE a.ended_at > $1 AND ($3::int4[] IS NULL OR a.host_id = ANY($3))
         ORDER BY a.started_at DESC, a.id LIMIT $2",
    )
    .bind(since)
    .bind(limit)
    .bind(host_ids)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(AnomalyWithHost::into_event).collect())
}

/// Anomalies of one host overlapping a range, for the timeline.
pub async fn of_host(
    pool: &PgPool,
    host_id: i32,
    vm_id: &str,
    vm_name: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<AnomalyEvent>, sqlx::Error> {
    let rows: Vec<StoredAnomaly> =
        sqlx::query_as("SELECT * FROM anomalies WHERE host_id = $1 AND started_at <= $3 AND ended_at > $2 ORDER BY started_at")
            .bind(host_id)
            .bind(start)
            .bind(end)
            .fetch_all(pool)
            .await?;
    Ok(rows
        .into_iter()
        .map(|r| r.into_event(vm_id, vm_name))
        .collect())
}
