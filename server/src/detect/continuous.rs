//! The continuous detector: every round, the last three hours of every host seen recently,
//! through the same path as requests; new events are published on the WebSocket.
use super::{run, Group, Request, CONTINUOUS_CUSTOM_METRICS};
use crate::analysis::anomaly::{Kind, Sensitivity};
use crate::live::Hub;
use app::models::LiveEvent;
use chrono::{Duration, DurationRound, Utc};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// Runs detection at medium sensitivity over the last three hours of every host seen recently
/// (complete hours, and five-minute buckets up to now) — every catalogue series and the custom
/// metrics sent for those hosts in that time — and publishes events stored for the first time.
pub async fn worker(
    pool: PgPool,
    hub: Hub,
    every: std::time::Duration,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(crate::state::jittered(every)) => {}
        }
        if let Err(error) = detect_recent(&pool, &hub).await {
            tracing::warn!(%error, "Continuous anomaly detection failed; retrying next round.");
        }
    }
}

pub async fn detect_recent(pool: &PgPool, hub: &Hub) -> Result<usize, sqlx::Error> {
    let now = Utc::now();
    let hosts: Vec<(i32, String, String)> =
        sqlx::query_as("SELECT id, vm_id, name FROM hosts WHERE last_seen > $1 ORDER BY id")
            .bind(now - Duration::hours(3))
            .fetch_all(pool)
            .await?;
    if hosts.is_empty() {
        return Ok(0);
    }
    let current_hour = now.duration_trunc(Duration::hours(1)).unwrap_or(now);
    let start = current_hour - Duration::hours(3);
    // The custom metrics sent for these hosts in the judged hours, the busiest first.
    let host_ids: Vec<i32> = hosts.iter().map(|(id, _, _)| *id).collect();
    let custom_metrics: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM custom_metrics WHERE ts >= $1 AND host_id = ANY($2)
         GROUP BY name ORDER BY count(*) DESC, name LIMIT $3",
    )
    .bind(start)
    .bind(&host_ids)
    .bind(CONTINUOUS_CUSTOM_METRICS)
    .fetch_all(pool)
    .await?;
    let request = Request {
        hosts,
        start,
        end: now,
        groups: Group::ALL.to_vec(),
        custom_metrics,
        sensitivity: Sensitivity::Medium,
        kinds: Kind::ALL.to_vec(),
        // Today's judgement is what this round refreshes.
        kept_within: None,
    };
    let outcome = run(pool, &request).await?;
    for event in outcome
        .events
        .iter()
        .filter(|e| outcome.new.contains(&e.id))
    {
        tracing::info!(id = %event.id, vm = %event.vm_id, kind = %event.kind, metric = %event.series, severity = %event.severity, "Anomaly detected.");
        hub.publish(&LiveEvent::AnomalyDetected {
            anomaly: event.clone(),
        });
    }
    Ok(outcome.new.len())
}
