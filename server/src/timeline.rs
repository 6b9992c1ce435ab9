//! A host's timeline: anomalies, alerts, power changes derived from gaps in its data, reboots,
//! and the notes and maintenance windows people add — for the timeline API and the host view.
use crate::storage::hosts::HostRef;
use crate::{
    detect,
    history::{QueryError, RAW_RETENTION_DAYS},
    storage::timeline::{self, GAP_INTERVALS},
};
use app::{
    models::{StateChange, TimelineEvent, TimelineMetric},
    panels::format_series_value,
};
use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;

/// Every event type, as `types` names them.
pub const TYPES: [&str; 5] = [
    "metric_alert",
    "power_change",
    "anomaly",
    "manual",
    "maintenance",
];

fn power_event(
    vm_id: &str,
    at: DateTime<Utc>,
    off: bool,
    gap: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> TimelineEvent {
    let (from, to) = if off {
        ("poweredOn", "poweredOff")
    } else {
        ("poweredOff", "poweredOn")
    };
    let description = match gap {
        Some((a, b)) => {
            let minutes = (b - a).num_minutes();
            format!(
                "no data for {} h {} min ({} – {})",
                minutes / 60,
                minutes % 60,
                a.format("%Y-%m-%d %H:%M"),
                b.format("%Y-%m-%d %H:%M")
            )
        }
        None => "no data since this time".to_string(),
    };
    TimelineEvent {
        id: format!(
            "power_{}_{}",
            at.timestamp(),
            if off { "off" } else { "on" }
        ),
        vm_id: vm_id.into(),
        timestamp: at,
        kind: "power_change".into(),
        title: if off {
            "VM stopped reporting".into()
        } else {
            "VM reporting again".into()
        },
        description: Some(description),
        metric_data: None,
        state_change: Some(StateChange {
            from: from.into(),
            to: to.into(),
        }),
        severity: None,
        acknowledged: false,
        created_by: None,
        created_at: at,
        end_time: if off { gap.map(|g| g.1) } else { None },
    }
}

/// The events of `host` of the given types overlapping `start`…`end`,
/// newest first.
pub async fn events(
    pool: &PgPool,
    host: &HostRef,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    types: &[&str],
    now: DateTime<Utc>,
) -> Result<Vec<TimelineEvent>, QueryError> {
    let (host_id, vm_id, vm_name) = (host.id, host.vm_id.clone(), host.name.clone());
    let wants = |t: &str| types.contains(&t);

    let mut events: Vec<TimelineEvent> = Vec::new();
    if wants("anomaly") {
        for a in detect::of_host(pool, host_id, &vm_id, &vm_name, start, end).await? {
            let minutes = a.duration / 60;
            events.push(TimelineEvent {
                id: a.id.clone(),
                vm_id: vm_id.clone(),
                timestamp: a.timestamp,
                kind: "anomaly".into(),
                title: format!("{} {}", a.series, a.kind.replace('_', " ")),
                description: Some(format!(
                    "{} at {} against a usual {} ({:+.0} %), {minutes} min",
                    a.series,
                    format_series_value(&a.series, a.value),
                    format_series_value(&a.series, a.baseline),
                    a.deviation
                )),
                metric_data: Some(TimelineMetric {
                    metric: a.metric.clone(),
                    value: a.value,
                    threshold: None,
                    baseline: Some(a.baseline),
                    // Already the full name (`cpu.usagePercent`, or a custom metric's).
                    series: Some(a.series.clone()),
                }),
                state_change: None,
                severity: Some(a.severity.clone()),
                acknowledged: a.status != "active",
                created_by: None,
                created_at: a.created_at,
                end_time: Some(a.timestamp + Duration::seconds(a.duration.max(0))),
            });
        }
    }
    let stored = timeline::stored(pool, host_id, &vm_id, start, end).await?;
    events.extend(stored.into_iter().filter(|e| wants(&e.kind)));
    if wants("power_change") {
        let raw_since = now - Duration::days(RAW_RETENTION_DAYS);
        let (gaps, typical, last) = timeline::gaps(pool, host_id, start, end, raw_since).await?;
        for (before, after) in gaps {
            for (at, off) in [(before, true), (after, false)] {
                if at >= start && at <= end {
                    events.push(power_event(&vm_id, at, off, Some((before, after))));
                }
            }
        }
        // Silent now for longer than the gap rule allows: it is off (or unreachable) at present.
        if let (Some(last), Some(typical)) = (last, typical) {
            if last >= start
                && (end.min(now) - last).num_milliseconds() as f64 / 1000.0
                    > GAP_INTERVALS * typical
            {
                events.push(power_event(&vm_id, last, true, None));
            }
        }
    }
    if wants("metric_alert") {
        for row in crate::alerts::store::of_host(pool, host_id, start, end).await? {
            let alert = row.to_model();
            events.push(TimelineEvent {
                id: alert.id.clone(),
                vm_id: vm_id.clone(),
                timestamp: row.triggered_at,
                kind: "metric_alert".into(),
                title: alert.title.clone(),
                description: Some(match &alert.resolved_at {
                    Some(at) => format!(
                        "{} — resolved at {} ({})",
                        alert.message,
                        at.to_rfc3339(),
                        alert.resolution.clone().unwrap_or_default()
                    ),
                    None => alert.message.clone(),
                }),
                metric_data: Some(TimelineMetric {
                    metric: alert.metric.clone(),
                    value: alert.value,
                    threshold: Some(alert.threshold),
                    baseline: None,
                    series: None,
                }),
                state_change: None,
                severity: Some(
                    match alert.level.as_str() {
                        "critical" => "critical",
                        "warning" => "medium",
                        _ => "low",
                    }
                    .into(),
                ),
                acknowledged: alert.status == "resolved",
                created_by: alert.resolved_by.clone(),
                created_at: alert.created_at,
                end_time: alert.resolved_at,
            });
        }
    }
    events.sort_by(|a, b| b.timestamp.cmp(&a.timestamp).then_with(|| a.id.cmp(&b.id)));
    Ok(events)
}
