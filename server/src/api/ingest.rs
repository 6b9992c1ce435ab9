//! `POST /api/v1/ingest/samples`: full samples of any host, including backfilled history.
use super::{
    history::MAX_RANGE_DAYS,
    history_error::{history_success, HistoryError, HistoryJson},
};
use crate::{
    auth::{MetricsWrite, RequireScope},
    state::AppState,
    storage::ingest::NewSample,
};
use axum::{extract::State, Json};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashSet;

/// Samples per request; larger backfills are sent in several requests.
pub const MAX_ITEMS: usize = 10_000;
/// Clock skew tolerated for samples stamped in the future.
pub const MAX_FUTURE_SKEW_SECS: i64 = 300;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestRequest {
    samples: Vec<Value>,
    /// The sender's clock when it sent the batch (agents give it): the host's clock skew.
    #[serde(default, rename = "sentAt")]
    sent_at: Option<Value>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Rejected {
    index: usize,
    vm_id: Option<String>,
    reason: String,
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.chars().all(|c| c.is_ascii_alphanumeric() || "._:-".contains(c))
}

/// Checks one item; returns why it cannot be stored.
fn check(item: &NewSample, now: DateTime<Utc>) -> Result<(), String> {
    if !valid_id(&item.vm_id) {
        return Err("`vmId` must be 1–128 characters of letters, digits, `.`, `_`, `:` or `-`".into());
    }
    for (field, value) in [("groupId", &item.group_id), ("clusterId", &item.cluster_id), ("name", &item.name)] {
        if value.as_ref().is_some_and(|v| v.trim().is_empty() || v.len() > 128) {
            return Err(format!("`{field}` must be 1–128 characters"));
        }
    }
    let s = &item.sample;
    if s.timestamp > now + Duration::seconds(MAX_FUTURE_SKEW_SECS) {
        return Err(format!("`sample.timestamp` is more than {MAX_FUTURE_SKEW_SECS} s in the future"));
    }
    if s.timestamp < now - Duration::days(MAX_RANGE_DAYS) {
        return Err("`sample.timestamp` is older than the 2 years history is kept".into());
    }
    for (field, value) in [("cpu.percent", s.cpu.percent), ("memory.percent", s.memory.percent), ("disk.percent", s.disk.percent), ("cpu.ready_percent", s.cpu.ready_percent)] {
        if !(0.0..=100.0).contains(&value) {
            return Err(format!("`sample.{field}` must be between 0 and 100, got {value}"));
        }
    }
    for (field, value) in [
        ("cpu.usage_mhz", s.cpu.usage_mhz),
        ("cpu.load1", s.cpu.load1),
        ("cpu.load5", s.cpu.load5),
        ("cpu.load15", s.cpu.load15),
        ("disk.read_bps", s.disk.read_bps),
        ("disk.write_bps", s.disk.write_bps),
        ("disk.read_iops", s.disk.read_iops),
        ("disk.write_iops", s.disk.write_iops),
        ("disk.read_latency_ms", s.disk.read_latency_ms),
        ("disk.write_latency_ms", s.disk.write_latency_ms),
        ("network.in_bps", s.network.in_bps),
        ("network.out_bps", s.network.out_bps),
    ] {
        if !value.is_finite() || !(0.0..=1e15).contains(&value) {
            return Err(format!("`sample.{field}` must be a finite number from 0 to 1e15, got {value}"));
        }
    }
    if s.memory.used > s.memory.total || s.disk.used > s.disk.total {
        return Err("`used` cannot exceed `total`".into());
    }
    Ok(())
}

/// `POST /api/v1/ingest/samples` — accepts the valid items, reports each invalid one, and stores
/// nothing twice: (vmId, timestamp) already stored counts as a duplicate.
pub async fn samples(
    RequireScope(principal, _): RequireScope<MetricsWrite, HistoryError>,
    State(state): State<AppState>,
    HistoryJson(request): HistoryJson<IngestRequest>,
) -> Result<Json<Value>, HistoryError> {
    if request.samples.len() > MAX_ITEMS {
        return Err(HistoryError::BadRequest(format!("at most {MAX_ITEMS} samples per request, got {}", request.samples.len())));
    }
    // A per-host token writes its own host only.
    if let Some((_, own)) = &principal.host {
        if let Some((index, other)) = request.samples.iter().enumerate().find_map(|(i, v)| {
            let vm = v.get("vmId").and_then(Value::as_str).unwrap_or_default();
            (vm != own).then(|| (i, vm.to_owned()))
        }) {
            return Err(HistoryError::Forbidden(format!("this token writes samples of `{own}` only; item {index} is for `{other}`")));
        }
    }
    let sent_at = match &request.sent_at {
        None | Some(Value::Null) => None,
        Some(value) => Some(super::history::parse_instant(Some(value), "sentAt")?),
    };
    // Stores run a few at a time; beyond that, callers (agents replaying a backlog) wait.
    let slot = tokio::time::timeout(std::time::Duration::from_secs(2), state.ingest_slots.clone().acquire_owned()).await;
    let Ok(Ok(_slot)) = slot else {
        return Err(HistoryError::Busy(2));
    };
    let now = Utc::now();
    let mut rejected = Vec::new();
    let mut items = Vec::with_capacity(request.samples.len());
    let mut keys = HashSet::new();
    for (index, value) in request.samples.into_iter().enumerate() {
        let vm_id = value.get("vmId").and_then(Value::as_str).map(str::to_string);
        match serde_json::from_value::<NewSample>(value) {
            Err(error) => rejected.push(Rejected { index, vm_id, reason: format!("not a valid sample item: {error}") }),
            Ok(mut item) => {
                // Stored instants have millisecond precision, like the local sampler's.
                item.sample.timestamp =
                    DateTime::from_timestamp_millis(item.sample.timestamp.timestamp_millis()).unwrap_or(item.sample.timestamp);
                match check(&item, now) {
                    Err(reason) => rejected.push(Rejected { index, vm_id, reason }),
                    Ok(()) if !keys.insert((item.vm_id.clone(), item.sample.timestamp)) => {
                        rejected.push(Rejected { index, vm_id, reason: "the same vmId and timestamp appear earlier in this batch".into() })
                    }
                    Ok(()) => items.push(item),
                }
            }
        }
    }
    let stored = crate::ingest::accept(&state.pool, &state.alerts, &state.hub, &items, sent_at).await?.stored as usize;
    Ok(history_success(json!({
        "accepted": items.len(),
        "stored": stored,
        "duplicates": items.len() - stored,
        "rejected": rejected,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::models::Stats;

    fn item(vm_id: &str, offset_secs: i64) -> NewSample {
        let mut sample = Stats { timestamp: Utc::now() + Duration::seconds(offset_secs), ..Default::default() };
        sample.cpu.percent = 50.0;
        NewSample { vm_id: vm_id.into(), name: None, group_id: None, cluster_id: None, sample, processes: None, facts: None }
    }

    #[test]
    fn items_are_checked_one_by_one() {
        let now = Utc::now();
        assert!(check(&item("web-01", 0), now).is_ok());
        assert!(check(&item("", 0), now).is_err());
        assert!(check(&item("bad id", 0), now).is_err());
        assert!(check(&item("web-01", 3600), now).expect_err("refused").contains("future"));
        assert!(check(&item("web-01", -800 * 86_400), now).expect_err("refused").contains("2 years"));
        let mut over = item("web-01", 0);
        over.sample.cpu.percent = 140.0;
        assert!(check(&over, now).expect_err("refused").contains("cpu.percent"));
        let mut negative = item("web-01", 0);
        negative.sample.network.in_bps = -1.0;
        assert!(check(&negative, now).expect_err("refused").contains("in_bps"));
    }
}
