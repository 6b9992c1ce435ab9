//! `POST /api/v1/ingest/samples`: full samples of any host, including backfilled history.
use super::{
    history::MAX_RANGE_DAYS,
    history_error::{history_success_with, HistoryError, HistoryJson},
};
use crate::api::history_error::Answer;
use crate::{
    auth::{MetricsWrite, RequireScope},
    state::AppState,
    storage::{
        ingest::NewSample,
        samples::{Present, FIELDS},
    },
};
use app::models::{IngestOutcome, IngestRejection, Stats};
use axum::{extract::State, Json};
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::Deserialize;
use serde_json::Value;
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

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:-".contains(c))
}

/// How a sample field is checked and where it goes.
enum Field {
    /// 0–100.
    Percent(fn(&mut Stats, f64)),
    /// A finite number from 0 to 1e15 (rates, loads, latencies).
    Number(fn(&mut Stats, f64)),
    /// A whole number ≥ 0 (sizes, counters).
    Count(fn(&mut Stats, u64)),
}

/// `samples::FIELDS` with their checks, in the same order.
fn field(path: &str) -> Option<Field> {
    use Field::*;
    let u32_of = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
    Some(match path {
        "cpu.percent" => Percent(|s, v| s.cpu.percent = v),
        "cpu.cores" => Count(|s, v| s.cpu.cores = u32::try_from(v).unwrap_or(u32::MAX)),
        "cpu.frequency" => Count(|s, v| s.cpu.frequency = v),
        "cpu.usage_mhz" => Number(|s, v| s.cpu.usage_mhz = v),
        "cpu.ready_percent" => Percent(|s, v| s.cpu.ready_percent = v),
        "cpu.load1" => Number(|s, v| s.cpu.load1 = v),
        "cpu.load5" => Number(|s, v| s.cpu.load5 = v),
        "cpu.load15" => Number(|s, v| s.cpu.load15 = v),
        "memory.total" => Count(|s, v| s.memory.total = v),
        "memory.used" => Count(|s, v| s.memory.used = v),
        "memory.free" => Count(|s, v| s.memory.free = v),
        "memory.available" => Count(|s, v| s.memory.available = v),
        "memory.cached" => Count(|s, v| s.memory.cached = v),
        "memory.percent" => Percent(|s, v| s.memory.percent = v),
        "memory.swap_total" => Count(|s, v| s.memory.swap_total = v),
        "memory.swap_used" => Count(|s, v| s.memory.swap_used = v),
        "disk.total" => Count(|s, v| s.disk.total = v),
        "disk.used" => Count(|s, v| s.disk.used = v),
        "disk.free" => Count(|s, v| s.disk.free = v),
        "disk.percent" => Percent(|s, v| s.disk.percent = v),
        "disk.read_bytes" => Count(|s, v| s.disk.read_bytes = v),
        "disk.write_bytes" => Count(|s, v| s.disk.write_bytes = v),
        "disk.read_bps" => Number(|s, v| s.disk.read_bps = v),
        "disk.write_bps" => Number(|s, v| s.disk.write_bps = v),
        "disk.read_iops" => Number(|s, v| s.disk.read_iops = v),
        "disk.write_iops" => Number(|s, v| s.disk.write_iops = v),
        "disk.read_latency_ms" => Number(|s, v| s.disk.read_latency_ms = v),
        "disk.write_latency_ms" => Number(|s, v| s.disk.write_latency_ms = v),
        "network.bytes_recv" => Count(|s, v| s.network.bytes_recv = v),
        "network.bytes_sent" => Count(|s, v| s.network.bytes_sent = v),
        "network.packets_recv" => Count(|s, v| s.network.packets_recv = v),
        "network.packets_sent" => Count(|s, v| s.network.packets_sent = v),
        "network.in_bps" => Number(|s, v| s.network.in_bps = v),
        "network.out_bps" => Number(|s, v| s.network.out_bps = v),
        "processes.total" => Count(|s, v| s.processes.total = u32::try_from(v).unwrap_or(u32::MAX)),
        "processes.running" => {
            Count(|s, v| s.processes.running = u32::try_from(v).unwrap_or(u32::MAX))
        }
        "processes.sleeping" => {
            Count(|s, v| s.processes.sleeping = u32::try_from(v).unwrap_or(u32::MAX))
        }
        "processes.zombie" => {
            Count(|s, v| s.processes.zombie = u32::try_from(v).unwrap_or(u32::MAX))
        }
        "connections.active" => {
            Count(|s, v| s.connections.active = u32::try_from(v).unwrap_or(u32::MAX))
        }
        "connections.listening" => {
            Count(|s, v| s.connections.listening = u32::try_from(v).unwrap_or(u32::MAX))
        }
        "connections.established" => {
            Count(|s, v| s.connections.established = u32::try_from(v).unwrap_or(u32::MAX))
        }
        _ => {
            let _ = u32_of;
            return None;
        }
    })
}

const ITEM_FIELDS: [&str; 8] = [
    "vmId",
    "name",
    "groupId",
    "clusterId",
    "sample",
    "processes",
    "facts",
    "present",
];
const GROUPS: [&str; 6] = [
    "cpu",
    "memory",
    "disk",
    "network",
    "processes",
    "connections",
];

/// Parses one item: only `vmId`, `sample.timestamp` and one metric value are required; what is
/// absent is recorded as absent. Every problem is listed, not only the first.
fn parse_item(value: Value, now: DateTime<Utc>) -> Result<NewSample, Vec<String>> {
    let mut problems = Vec::new();
    let Value::Object(mut item) = value else {
        return Err(vec!["an item must be a JSON object".into()]);
    };
    for key in item.keys() {
        if !ITEM_FIELDS[..7].contains(&key.as_str()) {
            problems.push(crate::error::unknown_field_message(key, &ITEM_FIELDS[..7]));
        }
    }
    let text = |item: &serde_json::Map<String, Value>,
                key: &str,
                problems: &mut Vec<String>|
     -> Option<String> {
        match item.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 128 => Some(s.clone()),
            Some(_) => {
                problems.push(format!("`{key}` must be a string of 1–128 characters"));
                None
            }
        }
    };
    let vm_id = match item.get("vmId") {
        Some(Value::String(id)) if valid_id(id) => id.clone(),
        Some(_) => {
            problems.push(
                "`vmId` must be 1–128 characters of letters, digits, `.`, `_`, `:` or `-`".into(),
            );
            String::new()
        }
        None => {
            problems.push("`vmId` is required".into());
            String::new()
        }
    };
    let (name, group_id, cluster_id) = (
        text(&item, "name", &mut problems),
        text(&item, "groupId", &mut problems),
        text(&item, "clusterId", &mut problems),
    );
    let mut sample = Stats::default();
    let mut present = Present::NONE;
    match item.remove("sample") {
        Some(Value::Object(body)) => {
            match body
                .get("timestamp")
                .and_then(Value::as_str)
                .map(DateTime::parse_from_rfc3339)
            {
                Some(Ok(t)) => {
                    let t = t.with_timezone(&Utc);
                    // Stored instants have millisecond precision, like the local sampler's.
                    sample.timestamp =
                        DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t);
                    if sample.timestamp > now + Duration::seconds(MAX_FUTURE_SKEW_SECS) {
                        problems.push(format!("`sample.timestamp` is more than {MAX_FUTURE_SKEW_SECS} s in the future (is the sender's clock right?)"));
                    }
                    if sample.timestamp < now - Duration::days(MAX_RANGE_DAYS) {
                        problems.push(
                            "`sample.timestamp` is older than the 2 years history is kept".into(),
                        );
                    }
                }
                Some(Err(_)) | None => {
                    problems.push("`sample.timestamp` is required as an RFC 3339 date-time".into())
                }
            }
            for (group, fields) in &body {
                if group == "timestamp" {
                    continue;
                }
                if group == "containers" || group == "gpus" {
                    parse_extras(group, fields, &mut sample, &mut problems);
                    continue;
                }
                let Value::Object(fields) = fields else {
                    if GROUPS.contains(&group.as_str()) {
                        problems.push(format!("`sample.{group}` must be an object"));
                    } else {
                        problems.push(crate::error::unknown_field_message(
                            &format!("sample.{group}"),
                            &[
                                "sample.timestamp",
                                "sample.cpu",
                                "sample.memory",
                                "sample.disk",
                                "sample.network",
                                "sample.processes",
                                "sample.connections",
                                "sample.containers",
                                "sample.gpus",
                            ],
                        ));
                    }
                    continue;
                };
                if !GROUPS.contains(&group.as_str()) {
                    problems.push(format!(
                        "unknown field `sample.{group}` (known: {})",
                        GROUPS.join(", ")
                    ));
                    continue;
                }
                for (key, value) in fields {
                    let path = format!("{group}.{key}");
                    if path == "disk.filesystems" {
                        match serde_json::from_value::<Vec<app::models::FilesystemUsage>>(
                            value.clone(),
                        ) {
                            Ok(list) if list.iter().all(|f| (0.0..=100.0).contains(&f.percent)) => {
                                sample.disk.filesystems = list;
                                present.insert(&path);
                            }
                            Ok(_) => problems.push(
                                "`sample.disk.filesystems[].percent` must be between 0 and 100"
                                    .into(),
                            ),
                            Err(error) => problems.push(format!(
                                "`sample.disk.filesystems` is not a list of file systems: {error}"
                            )),
                        }
                        continue;
                    }
                    let Some(kind) = field(&path) else {
                        let known: Vec<&str> = FIELDS
                            .iter()
                            .filter(|(p, _)| p.starts_with(&format!("{group}.")))
                            .map(|(p, _)| *p)
                            .collect();
                        problems.push(format!(
                            "sample: {}",
                            crate::error::unknown_field_message(&path, &known)
                        ));
                        continue;
                    };
                    if value.is_null() {
                        continue; // explicitly absent
                    }
                    let number = value.as_f64().filter(|v| v.is_finite());
                    match (kind, number) {
                        (Field::Percent(set), Some(v)) if (0.0..=100.0).contains(&v) => {
                            set(&mut sample, v)
                        }
                        (Field::Percent(_), _) => {
                            problems.push(format!(
                                "`sample.{path}` must be a number between 0 and 100, got {value}"
                            ));
                            continue;
                        }
                        (Field::Number(set), Some(v)) if (0.0..=1e15).contains(&v) => {
                            set(&mut sample, v)
                        }
                        (Field::Number(_), _) => {
                            problems.push(format!("`sample.{path}` must be a finite number from 0 to 1e15, got {value}"));
                            continue;
                        }
                        (Field::Count(set), _) => match value.as_u64() {
                            Some(v) if v <= i64::MAX as u64 => set(&mut sample, v),
                            _ => {
                                problems.push(format!(
                                    "`sample.{path}` must be a whole number ≥ 0, got {value}"
                                ));
                                continue;
                            }
                        },
                    }
                    present.insert(&path);
                }
            }
            if present == Present::NONE
                && sample.containers.is_empty()
                && sample.gpus.is_empty()
                && body.contains_key("timestamp")
            {
                problems.push(
                    "`sample` carries no metric value (give at least one, e.g. `cpu.percent`)"
                        .into(),
                );
            }
            let both = |a: &str, b: &str| present.has(a) && present.has(b);
            if both("memory.used", "memory.total") && sample.memory.used > sample.memory.total {
                problems.push("`sample.memory.used` cannot exceed `sample.memory.total`".into());
            }
            if both("disk.used", "disk.total") && sample.disk.used > sample.disk.total {
                problems.push("`sample.disk.used` cannot exceed `sample.disk.total`".into());
            }
        }
        Some(_) => {
            problems.push("`sample` must be an object in the /performance/stats shape".into())
        }
        None => problems.push("`sample` is required".into()),
    }
    let processes = match item.remove("processes") {
        None | Some(Value::Null) => None,
        Some(value) => match serde_json::from_value::<Vec<app::models::ProcessInfo>>(value) {
            Ok(list) => Some(list.into_iter().take(20).collect()),
            Err(error) => {
                problems.push(format!("`processes` is not a list of processes: {error}"));
                None
            }
        },
    };
    let facts = match item.remove("facts") {
        None | Some(Value::Null) => None,
        Some(value) => match serde_json::from_value::<crate::storage::ingest::HostReport>(value) {
            Ok(facts) => Some(facts),
            Err(error) => {
                problems.push(format!("`facts` is not a host report: {error}"));
                None
            }
        },
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(NewSample {
        vm_id,
        name,
        group_id,
        cluster_id,
        sample,
        processes,
        facts,
        present,
    })
}

/// `POST /api/v1/ingest/samples` — accepts the valid items, reports each invalid one, and stores
/// nothing twice: (vmId, timestamp) already stored counts as a duplicate.
pub async fn samples(
    RequireScope(principal, _): RequireScope<MetricsWrite, HistoryError>,
    State(state): State<AppState>,
    HistoryJson(request): HistoryJson<IngestRequest>,
) -> Result<Json<Answer<IngestOutcome>>, HistoryError> {
    if request.samples.len() > MAX_ITEMS {
        return Err(HistoryError::BadRequest(format!(
            "at most {MAX_ITEMS} samples per request, got {}",
            request.samples.len()
        )));
    }
    // A per-host token writes its own host only (an item without a vmId is rejected below).
    for (index, item) in request.samples.iter().enumerate() {
        let named = item.get("vmId").and_then(Value::as_str);
        if let Err(own) = principal.host_for_write(named) {
            return Err(HistoryError::Forbidden(format!(
                "this token writes samples of `{own}` only; item {index} is for `{}`",
                named.unwrap_or_default()
            )));
        }
    }
    let sent_at = match &request.sent_at {
        None | Some(Value::Null) => None,
        Some(value) => Some(super::history::parse_instant(Some(value), "sentAt")?),
    };
    // Stores run a few at a time; beyond that, callers (agents replaying a backlog) wait.
    let slot = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        state.ingest_slots.clone().acquire_owned(),
    )
    .await;
    let Ok(Ok(_slot)) = slot else {
        return Err(HistoryError::Busy(2));
    };
    let now = Utc::now();
    let total = request.samples.len();
    let mut rejected = Vec::new();
    let mut items = Vec::with_capacity(total);
    let mut keys = HashSet::new();
    for (index, value) in request.samples.into_iter().enumerate() {
        let vm_id = value
            .get("vmId")
            .and_then(Value::as_str)
            .map(str::to_string);
        match parse_item(value, now) {
            Err(problems) => rejected.push(IngestRejection {
                index,
                vm_id,
                reason: problems.join("; "),
                problems,
            }),
            Ok(item) if !keys.insert((item.vm_id.clone(), item.sample.timestamp)) => {
                let reason = "the same vmId and timestamp appear earlier in this batch".to_string();
                rejected.push(IngestRejection {
                    index,
                    vm_id,
                    reason: reason.clone(),
                    problems: vec![reason],
                })
            }
            Ok(item) => items.push(item),
        }
    }
    if items.is_empty() && !rejected.is_empty() {
        // Nothing stored: a 400 with every item's reasons, never a success.
        return Err(HistoryError::Rejected { total, rejected });
    }
    let stored = crate::ingest::accept(&state.pool, &state.alerts, &state.hub, &items, sent_at)
        .await?
        .stored as usize;
    // Samples of an hour that has ended make its rollups due now, not at the worker's next look.
    let this_hour = now
        .duration_trunc(chrono::Duration::hours(1))
        .unwrap_or(now);
    if stored > 0 && items.iter().any(|i| i.sample.timestamp < this_hour) {
        state.jobs.rollups.notify_one();
    }
    let message = format!(
        "{} accepted ({stored} stored, {} already stored), {} rejected",
        items.len(),
        items.len() - stored,
        rejected.len()
    );
    Ok(history_success_with(
        &message,
        IngestOutcome {
            accepted: items.len(),
            stored,
            duplicates: items.len() - stored,
            rejected,
        },
    ))
}

/// `sample.containers` and `sample.gpus`: lists in the `/performance/stats` shape, each value
/// finite and in range (a list the sender could not read is simply left out).
fn parse_extras(group: &str, value: &Value, sample: &mut Stats, problems: &mut Vec<String>) {
    let sane = |v: f64, max: f64| v.is_finite() && (0.0..=max).contains(&v);
    match group {
        "containers" => match serde_json::from_value::<Vec<app::models::ContainerStats>>(value.clone()) {
            Ok(list) if list.len() > crate::sampling::containers::MAX_CONTAINERS => {
                problems.push(format!("`sample.containers` holds at most {} containers", crate::sampling::containers::MAX_CONTAINERS))
            }
            Ok(list) if list.iter().all(|c| sane(c.cpu_percent, 102_400.0) && c.read_bps.is_none_or(|v| sane(v, 1e12)) && c.write_bps.is_none_or(|v| sane(v, 1e12)) && !c.name.is_empty() && c.name.len() <= 128 && c.id.len() <= 128) => {
                sample.containers = list
            }
            Ok(_) => problems.push("`sample.containers[]` needs a name (1–128 characters) and finite, non-negative rates".into()),
            Err(error) => problems.push(format!("`sample.containers` is not a list of containers: {error}")),
        },
        _ => match serde_json::from_value::<Vec<app::models::GpuStats>>(value.clone()) {
            Ok(list) if list.len() <= 64 && list.iter().all(|g| sane(g.utilization_percent, 100.0) && sane(g.temperature_celsius, 200.0) && sane(g.power_watts, 10_000.0) && g.memory_used_bytes <= g.memory_total_bytes && g.name.len() <= 128) => {
                sample.gpus = list
            }
            Ok(_) => problems.push("`sample.gpus[]` needs utilization 0–100, a temperature, power and memory used ≤ total (at most 64 GPUs)".into()),
            Err(error) => problems.push(format!("`sample.gpus` is not a list of GPUs: {error}")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<NewSample, Vec<String>> {
        parse_item(value, Utc::now())
    }

    #[test]
    fn a_partial_sample_keeps_what_it_carries_and_nothing_more() {
        let now = Utc::now();
        let item = parse(json!({"vmId": "web-01", "sample": {"timestamp": now, "cpu": {"percent": 42.5}, "network": {"in_bps": 1000}}})).expect("valid");
        assert_eq!(item.sample.cpu.percent, 42.5);
        assert!(item.present.has("cpu.percent") && item.present.has("network.in_bps"));
        assert!(!item.present.has("memory.percent") && !item.present.has("disk.filesystems"));
        assert_eq!(item.present.absent().len(), 40);
    }

    #[test]
    fn every_problem_of_an_item_is_listed() {
        let now = Utc::now();
        let problems = parse(
            json!({"vmId": "bad id", "colour": 1, "sample": {"timestamp": now + Duration::hours(1),
            "cpu": {"percent": 140, "cores": -1, "bogus": 1}, "memory": {"used": 10, "total": 5}}}),
        )
        .expect_err("refused");
        let all = problems.join(" | ");
        for needle in [
            "vmId",
            "colour",
            "future",
            "cpu.percent",
            "cpu.cores",
            "bogus",
            "cannot exceed",
        ] {
            assert!(all.contains(needle), "{needle} missing from: {all}");
        }
        assert_eq!(problems.len(), 7, "{all}");
        let nothing =
            parse(json!({"vmId": "x", "sample": {"timestamp": now}})).expect_err("no metric");
        assert!(nothing[0].contains("no metric value"), "{nothing:?}");
        assert!(
            parse(json!({"vmId": "x", "sample": {"timestamp": now, "cpu": {"percent": null}}}))
                .is_err(),
            "null is absent, so nothing is carried"
        );
        assert!(
            parse(json!({"vmId": "x"})).expect_err("no sample")[0].contains("`sample` is required")
        );
    }

    #[test]
    fn a_full_sample_carries_every_field() {
        let now = Utc::now();
        let full = serde_json::to_value(Stats {
            timestamp: now,
            ..Default::default()
        })
        .expect("json");
        let item = parse(json!({"vmId": "full", "sample": full})).expect("valid");
        assert_eq!(item.present, Present::ALL);
    }
}
