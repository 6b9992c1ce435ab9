//! Capacity planning for what the hosts' applications send (custom metrics): each host's daily
//! means over the history, the robust trend of each in its own unit (no 0–100 scale), and — for
//! a metric whose capacity a person set — when the trend reaches it; the soonest first, then
//! the fastest growing. Setting and clearing capacities comes here too, from the REST API and
//! the capacity page alike.
use crate::{
    analysis::trend::{self, UnitTrend},
    storage::{custom_metrics, hosts::HostRef},
};
use app::models::{AppMetricTrend, CustomMetricCapacity, CustomMetricSkip, HostMetricCapacity};
use chrono::{DateTime, Duration, DurationRound, Utc};
use std::collections::HashMap;

/// A series whose newest day is older than this has stopped: it is not planned.
const STALE_DAYS: i64 = 2;

/// Trends of the custom metrics `names` (`None`: every one) of `hosts` over the complete UTC
/// days from `start` to the day of `now`, with the line's value `horizon` days after the newest
/// day. Series with fewer than `trend::MIN_POINTS` days, or that stopped reporting more than
/// [`STALE_DAYS`] before `now`, are left out.
pub async fn trends(
    pool: &sqlx::PgPool,
    hosts: &[HostRef],
    (start, now): (DateTime<Utc>, DateTime<Utc>),
    horizon: f64,
    names: Option<&[String]>,
) -> Result<Vec<AppMetricTrend>, sqlx::Error> {
    let today = now.duration_trunc(Duration::days(1)).unwrap_or(now);
    let first_day = start.duration_trunc(Duration::days(1)).unwrap_or(start);
    // Only complete days, as for the catalogue's trends: today's partial mean would bend the line.
    let rows = custom_metrics::daily_means_by_host(pool, first_day, today, names).await?;
    let units: HashMap<String, String> = custom_metrics::sent_by_hosts(pool, first_day)
        .await?
        .into_iter()
        .collect();
    let capacities: HashMap<String, f64> = custom_metrics::capacities(pool)
        .await?
        .into_iter()
        .map(|c| (c.name, c.capacity))
        .collect();
    let own_capacities: HashMap<(String, i32), f64> = custom_metrics::host_capacities(pool, None)
        .await?
        .into_iter()
        .map(|c| ((c.name, c.host_id), c.capacity))
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
        // A host's own capacity replaces the metric's for it.
        let (capacity, capacity_scope) =
            match own_capacities.get(&(first.name.clone(), first.host_id)) {
                Some(own) => (Some(*own), Some("host")),
                None => {
                    let every = capacities.get(&first.name).copied();
                    (every, every.map(|_| "metric"))
                }
            };
        let Some(UnitTrend {
            level_now,
            monthly,
            monthly_relative,
            predicted,
            days_to_capacity,
        }) = trend::unit_trend(&days, &values, horizon, capacity)
        else {
            continue;
        };
        let capacity_date = days_to_capacity.map(|days| super::date_after(last.day, days));
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
            capacity,
            capacity_scope: capacity_scope.map(str::to_owned),
            capacity_date,
            days_to_capacity,
        });
    }
    // What reaches its capacity soonest first; then the fastest growing (relative growth; series
    // without a level last), then by name.
    out.sort_by(|a, b| {
        let soon = |t: &AppMetricTrend| t.days_to_capacity.unwrap_or(f64::INFINITY);
        let growth = |t: &AppMetricTrend| t.monthly_relative.unwrap_or(f64::NEG_INFINITY);
        soon(a)
            .total_cmp(&soon(b))
            .then_with(|| growth(b).total_cmp(&growth(a)))
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.vm_name.cmp(&b.vm_name))
    });
    Ok(out)
}

/// The trends of the custom metrics a `/history/trends` request names, over its hosts and
/// range, and the names that have none with the reason.
pub async fn asked(
    pool: &sqlx::PgPool,
    hosts: &[HostRef],
    range: (DateTime<Utc>, DateTime<Utc>),
    horizon: f64,
    names: &[String],
) -> Result<(Vec<AppMetricTrend>, Vec<CustomMetricSkip>), sqlx::Error> {
    let planned = trends(pool, hosts, range, horizon, Some(names)).await?;
    let mut skipped = Vec::new();
    for name in names {
        if planned.iter().any(|t| &t.name == name)
            || skipped.iter().any(|s: &CustomMetricSkip| &s.name == name)
        {
            continue;
        }
        let reason = if custom_metrics::exists(pool, name).await? {
            format!(
                "no host of the selection sent it on {} complete days or more of the range, the newest at most {STALE_DAYS} days before its end",
                trend::MIN_POINTS
            )
        } else {
            format!("no custom metric named `{name}` has been stored")
        };
        skipped.push(CustomMetricSkip {
            name: name.clone(),
            reason,
        });
    }
    Ok((planned, skipped))
}

/// The capacities set for every host of a metric, by name.
pub async fn metric_capacities(pool: &sqlx::PgPool) -> Result<Vec<(String, f64)>, sqlx::Error> {
    Ok(custom_metrics::capacities(pool)
        .await?
        .into_iter()
        .map(|c| (c.name, c.capacity))
        .collect())
}

/// The largest capacity taken: far above any rate or size a metric is sent in, and small enough
/// that a typo of many zeros is told rather than stored.
pub const MAX_CAPACITY: f64 = 1e15;

/// Why a capacity was not set.
#[derive(Debug, thiserror::Error)]
pub enum CapacityError {
    /// The value is not a capacity (the message says why).
    #[error("{0}")]
    Invalid(String),
    #[error("no custom metric named `{0}` has been stored")]
    UnknownMetric(String),
    #[error("no host with vmId `{0}`")]
    UnknownHost(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// A metric's capacities as the API answers them: every host's (`capacity: None` when none is
/// set) and the hosts' own.
pub async fn capacity_of(
    pool: &sqlx::PgPool,
    name: &str,
) -> Result<CustomMetricCapacity, CapacityError> {
    let unit = known_unit(pool, name).await?;
    answer(pool, name, unit).await
}

/// Sets the capacity of the custom metric `name` (one that has been stored) for every host to
/// `capacity`, in the metric's unit.
pub async fn set_capacity(
    pool: &sqlx::PgPool,
    name: &str,
    capacity: f64,
    updated_by: &str,
) -> Result<CustomMetricCapacity, CapacityError> {
    check(capacity)?;
    let unit = known_unit(pool, name).await?;
    custom_metrics::set_capacity(pool, name, capacity, updated_by, false).await?;
    tracing::info!(target: "lookout::capacity", metric = name, capacity, updated_by, "Capacity of an application metric set.");
    answer(pool, name, unit).await
}

/// Clears the capacity of `name` for every host (the hosts' own stay); clearing one that was
/// not set is not an error (the outcome is the same).
pub async fn clear_capacity(
    pool: &sqlx::PgPool,
    name: &str,
    cleared_by: &str,
) -> Result<CustomMetricCapacity, CapacityError> {
    let unit = known_unit(pool, name).await?;
    if custom_metrics::clear_capacity(pool, name).await? {
        tracing::info!(target: "lookout::capacity", metric = name, cleared_by, "Capacity of an application metric cleared.");
    }
    answer(pool, name, unit).await
}

/// Sets the host `vm_id`'s own capacity of `name`, which replaces the metric's for it (a bigger
/// or smaller node than the rest).
pub async fn set_host_capacity(
    pool: &sqlx::PgPool,
    name: &str,
    vm_id: &str,
    capacity: f64,
    updated_by: &str,
) -> Result<CustomMetricCapacity, CapacityError> {
    check(capacity)?;
    let unit = known_unit(pool, name).await?;
    let host = known_host(pool, vm_id).await?;
    custom_metrics::set_host_capacity(pool, name, host, capacity, updated_by).await?;
    tracing::info!(target: "lookout::capacity", metric = name, host = vm_id, capacity, updated_by, "A host's own capacity of an application metric set.");
    answer(pool, name, unit).await
}

/// Clears the host `vm_id`'s own capacity of `name`: the metric's applies to it again.
pub async fn clear_host_capacity(
    pool: &sqlx::PgPool,
    name: &str,
    vm_id: &str,
    cleared_by: &str,
) -> Result<CustomMetricCapacity, CapacityError> {
    let unit = known_unit(pool, name).await?;
    let host = known_host(pool, vm_id).await?;
    if custom_metrics::clear_host_capacity(pool, name, host).await? {
        tracing::info!(target: "lookout::capacity", metric = name, host = vm_id, cleared_by, "A host's own capacity of an application metric cleared.");
    }
    answer(pool, name, unit).await
}

/// A capacity is a finite number above zero, at most [`MAX_CAPACITY`].
fn check(capacity: f64) -> Result<(), CapacityError> {
    if !capacity.is_finite() || capacity <= 0.0 {
        return Err(CapacityError::Invalid(format!(
            "`capacity` must be a number above zero, got {capacity}"
        )));
    }
    if capacity > MAX_CAPACITY {
        return Err(CapacityError::Invalid(format!(
            "`capacity` must be at most {MAX_CAPACITY:e}, got {capacity:e}"
        )));
    }
    Ok(())
}

async fn known_host(pool: &sqlx::PgPool, vm_id: &str) -> Result<i32, CapacityError> {
    crate::storage::hosts::find(pool, vm_id)
        .await?
        .map(|h| h.id)
        .ok_or_else(|| CapacityError::UnknownHost(vm_id.to_owned()))
}

/// The unit of a stored custom metric, or why there is none.
async fn known_unit(pool: &sqlx::PgPool, name: &str) -> Result<String, CapacityError> {
    if !crate::alerts::rules::valid_metric_name(name) {
        return Err(CapacityError::UnknownMetric(name.to_owned()));
    }
    custom_metrics::describe_any(pool, name)
        .await?
        .ok_or_else(|| CapacityError::UnknownMetric(name.to_owned()))
}

/// The metric's capacities as they are now.
async fn answer(
    pool: &sqlx::PgPool,
    name: &str,
    unit: String,
) -> Result<CustomMetricCapacity, CapacityError> {
    let set = custom_metrics::capacity(pool, name).await?;
    let hosts = custom_metrics::host_capacities(pool, Some(name))
        .await?
        .into_iter()
        .map(|c| HostMetricCapacity {
            host: c.vm_id,
            host_name: c.vm_name,
            capacity: c.capacity,
            updated_at: c.updated_at,
            updated_by: c.updated_by,
        })
        .collect();
    Ok(CustomMetricCapacity {
        name: name.to_owned(),
        unit,
        capacity: set.as_ref().map(|c| c.capacity),
        updated_at: set.as_ref().map(|c| c.updated_at),
        updated_by: set.map(|c| c.updated_by),
        hosts,
    })
}
