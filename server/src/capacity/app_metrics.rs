//! Capacity planning for what the hosts' applications send (custom metrics): each host's daily
//! means over the history, the robust trend of each in its own unit (no 0–100 scale, no
//! threshold), the fastest growing first.
use crate::{
    analysis::trend::{self, UnitTrend},
    storage::{custom_metrics, hosts::HostRef},
};
use app::models::AppMetricTrend;
use chrono::{DateTime, Duration, DurationRound, Utc};
use std::collections::HashMap;

/// A series whose newest day is older than this has stopped: it is not planned.
const STALE_DAYS: i64 = 2;

/// Trends of every custom metric of `hosts` over the complete UTC days from `start` to today,
/// with the line's value `horizon` days after the newest day. Series with fewer than
/// `trend::MIN_POINTS` days, or that stopped reporting, are left out.
pub async fn trends(
    pool: &sqlx::PgPool,
    hosts: &[HostRef],
    start: DateTime<Utc>,
    now: DateTime<Utc>,
    horizon: f64,
) -> Result<Vec<AppMetricTrend>, sqlx::Error> {
    let today = now.duration_trunc(Duration::days(1)).unwrap_or(now);
    let first_day = start.duration_trunc(Duration::days(1)).unwrap_or(start);
    // Only complete days, as for the catalogue's trends: today's partial mean would bend the line.
    let rows = custom_metrics::daily_means_by_host(pool, first_day, today).await?;
    let units: HashMap<String, String> = custom_metrics::sent_by_hosts(pool, first_day)
        .await?
        .into_iter()
        .collect();
    let by_id: HashMap<i32, &HostRef> = hosts.iter().map(|h| (h.id, h)).collect();
    let mut out = Vec::new();
    for series in rows.chunk_by(|a, b| a.name == b.name && a.host_id == b.host_id) {
        let (Some(first), Some(last)) = (series.first(), series.last()) else {
            continue;
        };
        let Some(host) = by_id.get(&first.host_id) else {
            continue;
        };
        if (today - last.day).num_days() > STALE_DAYS {
            continue;
        }
        let days: Vec<f64> = series
            .iter()
            .map(|p| (p.day - first_day).num_days() as f64)
            .collect();
        let values: Vec<f64> = series.iter().map(|p| p.mean).collect();
        let Some(UnitTrend {
            level_now,
            monthly,
            monthly_relative,
            predicted,
        }) = trend::unit_trend(&days, &values, horizon)
        else {
            continue;
        };
        out.push(AppMetricTrend {
            name: first.name.clone(),
            unit: units.get(&first.name).cloned().unwrap_or_default(),
            vm_id: host.vm_id.clone(),
            vm_name: host.name.clone(),
            days: series.len(),
            level_now,
            monthly_change: monthly,
            monthly_relative,
            predicted,
        });
    }
    // The fastest growing first (relative growth; series without a level last), then by name.
    out.sort_by(|a, b| {
        let key = |t: &AppMetricTrend| t.monthly_relative.unwrap_or(f64::NEG_INFINITY);
        key(b)
            .total_cmp(&key(a))
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.vm_name.cmp(&b.vm_name))
    });
    Ok(out)
}
