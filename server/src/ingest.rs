//! Accepting samples of any host (agents, scripts, the demo fleet): stored, judged by the alert
//! engine and shown to live clients, in one place, so every way in behaves the same. Also what
//! samples say about their host: its clock skew, a reboot or new platform facts, and that it
//! appeared or came back (`system_change` events; `watch_silence` says when one went silent).
use crate::{
    alerts::{AlertEngine, Observation},
    live::Hub,
    storage::{
        custom_metrics, hosts,
        ingest::{self, HostReport, NewSample},
        timeline,
    },
};
use app::models::LiveEvent;
use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;
use std::collections::HashMap;
use tokio_util::sync::CancellationToken;

/// Samples older than this are history being filled in, not news: live clients are not told.
const LIVE_WINDOW: Duration = Duration::minutes(2);
/// Clock skew worth a warning in the log.
pub const SKEW_WARN_MS: i64 = 2_000;
/// Clock skew that flags the host (a `system_change` event, shown on the fleet page).
pub const SKEW_FLAG_MS: i64 = 5 * 60_000;

/// What accepting a batch did.
pub struct Accepted {
    /// Items that were new (the rest were already stored).
    pub stored: u64,
    /// The host row id of every `vmId` in the batch.
    pub host_ids: HashMap<String, i32>,
}

fn change(hub: &Hub, host: &str, what: &str) {
    hub.publish(&LiveEvent::SystemChange {
        host: host.to_owned(),
        change: what.to_owned(),
        timestamp: Utc::now(),
    });
}

/// Stores validated samples, hands them to the alert engine (which keeps only current values)
/// and publishes each host's newest recent sample as a `metric_update`. `sent_at` is the
/// sender's clock when it sent the batch (agents give it), for the host's clock skew.
pub async fn accept(
    pool: &PgPool,
    alerts: &AlertEngine,
    hub: &Hub,
    items: &[NewSample],
    sent_at: Option<DateTime<Utc>>,
) -> Result<Accepted, sqlx::Error> {
    let received = Utc::now();
    let (stored, host_ids, created) = ingest::store_with_hosts(pool, items).await?;
    crate::counters::add(crate::counters::SAMPLES_STORED, &[], stored);
    for vm in &created {
        tracing::info!(vm = %vm, "A new host reports.");
        change(hub, vm, "appeared");
    }
    let observations = items
        .iter()
        .filter_map(|item| {
            host_ids
                .get(&item.vm_id)
                .map(|id| Observation::from_sample(*id, &item.sample, item.present))
        })
        .collect();
    alerts.observe(observations).await;
    let cutoff = received - LIVE_WINDOW;
    let mut newest: HashMap<&str, &NewSample> = HashMap::new();
    for item in items {
        let entry = newest.entry(item.vm_id.as_str()).or_insert(item);
        if item.sample.timestamp > entry.sample.timestamp {
            *entry = item;
        }
    }
    for (vm_id, item) in &newest {
        let Some(&host_id) = host_ids.get(*vm_id) else {
            continue;
        };
        if item.sample.timestamp >= cutoff {
            hub.publish(&LiveEvent::MetricUpdate {
                host: (*vm_id).to_string(),
                metric: item.sample.clone(),
                absent: item
                    .present
                    .absent()
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
            });
            came_back(pool, hub, host_id, vm_id).await?;
        }
        if let Some(sent) = sent_at {
            skew(
                pool,
                hub,
                host_id,
                vm_id,
                (received - sent).num_milliseconds(),
            )
            .await?;
        }
        if let Some(facts) = &item.facts {
            report(pool, hub, host_id, vm_id, facts).await?;
        }
    }
    Ok(Accepted { stored, host_ids })
}

async fn came_back(pool: &PgPool, hub: &Hub, host_id: i32, vm_id: &str) -> Result<(), sqlx::Error> {
    let silent: Option<DateTime<Utc>> =
        sqlx::query_scalar("UPDATE hosts h SET silent_since = NULL FROM (SELECT silent_since FROM hosts WHERE id = $1 FOR UPDATE) old WHERE h.id = $1 AND old.silent_since IS NOT NULL RETURNING old.silent_since")
            .bind(host_id)
            .fetch_optional(pool)
            .await?;
    if let Some(since) = silent {
        tracing::info!(vm = vm_id, silent_since = %since, "A host reports again.");
        change(hub, vm_id, "came_back");
    }
    Ok(())
}

/// Records the skew (receipt minus the sender's clock); logs above 2 s and flags the host with a
/// `system_change` event when it first exceeds 5 minutes.
async fn skew(
    pool: &PgPool,
    hub: &Hub,
    host_id: i32,
    vm_id: &str,
    skew_ms: i64,
) -> Result<(), sqlx::Error> {
    let skew_ms = skew_ms.clamp(i64::from(i32::MIN), i64::from(i32::MAX));
    let previous: Option<Option<i32>> = sqlx::query_scalar(
        "UPDATE hosts h SET clock_skew_ms = $2, clock_skew_at = now() FROM (SELECT clock_skew_ms FROM hosts WHERE id = $1 FOR UPDATE) old
         WHERE h.id = $1 RETURNING old.clock_skew_ms",
    )
    .bind(host_id)
    .bind(skew_ms as i32)
    .fetch_optional(pool)
    .await?;
    let before = previous.flatten().map(i64::from).unwrap_or(0);
    if skew_ms.abs() > SKEW_WARN_MS && before.abs() <= SKEW_WARN_MS {
        tracing::warn!(
            vm = vm_id,
            skew_ms,
            "A host's clock is off (server time minus the agent's send time)."
        );
    }
    if skew_ms.abs() > SKEW_FLAG_MS && before.abs() <= SKEW_FLAG_MS {
        change(hub, vm_id, "clock_skew");
    }
    Ok(())
}

type Facts = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i32>,
    Option<i64>,
    Option<DateTime<Utc>>,
);

/// A reboot (the boot time moved) becomes a power change on the timeline and a `system_change`
/// event, as does a change of platform, kernel, CPU count or memory; the stored facts follow.
async fn report(
    pool: &PgPool,
    hub: &Hub,
    host_id: i32,
    vm_id: &str,
    facts: &HostReport,
) -> Result<(), sqlx::Error> {
    let (platform, version, model, cores, memory, boot): Facts =
        sqlx::query_as("SELECT platform, platform_version, cpu_model, cpu_cores, memory_total, boot_time FROM hosts WHERE id = $1").bind(host_id).fetch_one(pool).await?;
    // Boot times read from different clocks can differ by a second or two without a reboot.
    let rebooted =
        matches!((boot, facts.boot_time), (Some(a), Some(b)) if (b - a).num_seconds().abs() > 5);
    let changed = platform.is_some()
        && (platform.as_deref() != Some(facts.platform.as_str())
            || version.as_deref() != Some(facts.platform_version.as_str())
            || model.as_deref() != Some(facts.cpu_model.as_str())
            || cores != Some(facts.cpu_cores)
            || memory != Some(facts.memory_total));
    let unchanged =
        !rebooted && !changed && platform.is_some() && boot.is_some() == facts.boot_time.is_some();
    if unchanged {
        return Ok(());
    }
    sqlx::query(
        "UPDATE hosts SET hostname = $2, platform = $3, platform_version = $4, architecture = $5, cpu_model = $6, cpu_cores = $7,
             memory_total = $8, boot_time = coalesce($9, boot_time), agent_version = $10 WHERE id = $1",
    )
    .bind(host_id)
    .bind(&facts.hostname)
    .bind(&facts.platform)
    .bind(&facts.platform_version)
    .bind(&facts.architecture)
    .bind(&facts.cpu_model)
    .bind(facts.cpu_cores)
    .bind(facts.memory_total)
    .bind(facts.boot_time)
    .bind(&facts.agent_version)
    .execute(pool)
    .await?;
    if let (true, Some(at)) = (rebooted, facts.boot_time) {
        tracing::info!(vm = vm_id, boot_time = %at, "A host rebooted.");
        let event = timeline::NewEvent {
            host_id,
            ts: at,
            kind: "power_change",
            title: "VM rebooted",
            description: Some("the boot time its agent reports changed"),
            severity: None,
            state: Some(("poweredOff", "poweredOn")),
            created_by: None,
            ends_at: None,
        };
        timeline::add(pool, vm_id, &event).await?;
        change(hub, vm_id, "boot");
    }
    if changed {
        tracing::info!(vm = vm_id, platform = %facts.platform, version = %facts.platform_version, "A host's platform facts changed.");
        change(hub, vm_id, "facts_changed");
    }
    Ok(())
}

/// Stores custom-metric points and hands them to the alert engine (which keeps only current
/// values, so backfills never alert); returns their ids in input order.
pub async fn accept_custom(
    pool: &PgPool,
    alerts: &AlertEngine,
    points: Vec<custom_metrics::NewPoint>,
) -> Result<Vec<i64>, sqlx::Error> {
    let ids = custom_metrics::insert(
        pool,
        &points,
        crate::detect::live_window_start(chrono::Utc::now()),
    )
    .await?;
    let observations = points
        .into_iter()
        .map(|p| Observation {
            host_id: p.host_id,
            ts: p.ts,
            values: vec![(p.name, p.value)],
        })
        .collect();
    alerts.observe(observations).await;
    Ok(ids)
}

/// Every 30 s (run by [`crate::jobs::run`] every [`SilenceWatch::PERIOD`]): hosts that stopped
/// reporting (no sample for 5 minutes) get a `went_silent` event, once; `accept` says when they
/// come back.
pub struct SilenceWatch {
    pub pool: PgPool,
    pub hub: Hub,
}

impl SilenceWatch {
    pub const PERIOD: std::time::Duration = std::time::Duration::from_secs(30);
}

impl crate::jobs::Queue for SilenceWatch {
    const NAME: &'static str = "silence";

    async fn step(&self, _: &CancellationToken) -> anyhow::Result<crate::jobs::Step> {
        for vm in hosts::mark_silent(&self.pool).await? {
            tracing::info!(vm = %vm, "A host went silent.");
            change(&self.hub, &vm, "went_silent");
        }
        Ok(crate::jobs::Step::Idle(None))
    }
}
