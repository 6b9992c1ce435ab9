//! Accepting samples of any host (agents, scripts, the demo fleet): stored, judged by the alert
//! engine and shown to live clients, in one place, so every way in behaves the same.
use crate::{
    alerts::{AlertEngine, Observation},
    live::Hub,
    storage::ingest::{self, NewSample},
};
use app::models::LiveEvent;
use chrono::{Duration, Utc};
use sqlx::PgPool;
use std::collections::HashMap;

/// Samples older than this are history being filled in, not news: live clients are not told.
const LIVE_WINDOW: Duration = Duration::minutes(2);

/// What accepting a batch did.
pub struct Accepted {
    /// Items that were new (the rest were already stored).
    pub stored: u64,
    /// The host row id of every `vmId` in the batch.
    pub host_ids: HashMap<String, i32>,
}

/// Stores validated samples, hands them to the alert engine (which keeps only current values)
/// and publishes each host's newest recent sample as a `metric_update`.
pub async fn accept(pool: &PgPool, alerts: &AlertEngine, hub: &Hub, items: &[NewSample]) -> Result<Accepted, sqlx::Error> {
    let (stored, host_ids) = ingest::store_with_hosts(pool, items).await?;
    let observations =
        items.iter().filter_map(|item| host_ids.get(&item.vm_id).map(|id| Observation::from_sample(*id, &item.sample))).collect();
    alerts.observe(observations).await;
    let cutoff = Utc::now() - LIVE_WINDOW;
    let mut newest: HashMap<&str, &NewSample> = HashMap::new();
    for item in items.iter().filter(|i| i.sample.timestamp >= cutoff) {
        let entry = newest.entry(item.vm_id.as_str()).or_insert(item);
        if item.sample.timestamp > entry.sample.timestamp {
            *entry = item;
        }
    }
    for (vm_id, item) in newest {
        hub.publish(&LiveEvent::MetricUpdate { host: vm_id.to_string(), metric: item.sample.clone() });
    }
    Ok(Accepted { stored, host_ids })
}
