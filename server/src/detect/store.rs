//! Found anomalies kept with stable ids: each matched with the stored event of its host, series
//! and kind that it overlaps (written only where something moved), the rest inserted, with related
//! hosts and explanations worked out on the way. Reading stored events back, acknowledging and
//! resolving them is `storage::anomalies`.
use super::{explain::explain, Found, Outcome, Request};
use crate::analysis::anomaly::{self, Detected};
use crate::storage::anomalies::StoredAnomaly;
use app::models::AnomalyEvent;
use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;
use std::collections::{BTreeSet, HashMap};

/// Percent away from the baseline; robust sigmas when the baseline is zero.
fn deviation(d: &Detected) -> f64 {
    if d.baseline.abs() > 1e-9 {
        (d.value - d.baseline) / d.baseline.abs() * 100.0
    } else {
        d.score.copysign(d.value - d.baseline)
    }
}

/// `texts` as owned strings.
fn owned(texts: &[&str]) -> Vec<String> {
    texts.iter().map(|t| (*t).to_string()).collect()
}

/// Whether stored strings say the same as `texts`.
fn same_texts(stored: &[String], texts: &[&str]) -> bool {
    stored.iter().map(String::as_str).eq(texts.iter().copied())
}

/// How close two events' starts must be for their hosts to be related: anomalous at the same
/// time, as a fleet-wide incident's hosts are. (Overlap alone made every host of a fleet related
/// to every week-long trend change.)
pub(super) const RELATED_WITHIN: Duration = Duration::hours(1);

/// Found events (indices into `found`) in start order, each host's and all of them: a host's
/// events and the hosts whose events began near a time are binary searches.
pub(super) struct HostEvents {
    by_host: std::collections::BTreeMap<usize, Vec<usize>>,
    /// (start, host) of every event, in start order.
    onsets: Vec<(DateTime<Utc>, usize)>,
}

impl HostEvents {
    pub(super) fn new(found: &[Found]) -> Self {
        let mut by_host: std::collections::BTreeMap<usize, Vec<usize>> =
            std::collections::BTreeMap::new();
        for (i, f) in found.iter().enumerate() {
            by_host.entry(f.host).or_default().push(i);
        }
        for indices in by_host.values_mut() {
            indices.sort_by_key(|i| found[*i].start);
        }
        let mut onsets: Vec<(DateTime<Utc>, usize)> =
            found.iter().map(|f| (f.start, f.host)).collect();
        onsets.sort_unstable();
        Self { by_host, onsets }
    }

    pub(super) fn of_host(&self, host: usize) -> &[usize] {
        self.by_host.get(&host).map_or(&[], Vec::as_slice)
    }

    /// Hosts with an event that began within `RELATED_WITHIN` of `start`, ascending, once each.
    pub(super) fn started_near(&self, start: DateTime<Utc>) -> Vec<usize> {
        let from = self
            .onsets
            .partition_point(|(at, _)| *at < start - RELATED_WITHIN);
        let mut hosts: Vec<usize> = self.onsets[from..]
            .iter()
            .take_while(|(at, _)| *at <= start + RELATED_WITHIN)
            .map(|(_, host)| *host)
            .collect();
        hosts.sort_unstable();
        hosts.dedup();
        hosts
    }
}

/// A found event to insert: its index in `found`, severity, related VMs, causes, actions.
type NewRow = (usize, String, Vec<String>, Vec<String>, Vec<String>);

fn json_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

/// Stores found events in one transaction of four statements: hosts locked (in id order, so a
/// request and the continuous detector cannot both insert one event), overlapping stored events
/// read, matches updated in one batch, the rest inserted in one batch.
pub(super) async fn store(
    pool: &PgPool,
    request: &Request,
    found: &[Found],
    thresholds: &anomaly::Thresholds,
) -> Result<Outcome, sqlx::Error> {
    if found.is_empty() {
        return Ok(Outcome {
            events: Vec::new(),
            new: Vec::new(),
            judged: Vec::new(),
            skipped: Vec::new(),
        });
    }
    let mut tx = pool.begin().await?;
    let mut host_ids: Vec<i32> = found.iter().map(|f| request.hosts[f.host].id).collect();
    host_ids.sort_unstable();
    host_ids.dedup();
    sqlx::query("SELECT pg_advisory_xact_lock(872211, h) FROM unnest($1::int4[]) AS h ORDER BY h")
        .bind(&host_ids)
        .execute(&mut *tx)
        .await?;
    let earliest = found.iter().map(|f| f.start).min().unwrap_or(request.start);
    let latest = found.iter().map(|f| f.end).max().unwrap_or(request.end);
    let mut stored: Vec<StoredAnomaly> = sqlx::query_as(
        "SELECT * FROM anomalies WHERE host_id = ANY($1) AND started_at < $3 AND ended_at > $2 ORDER BY started_at, id",
    )
    .bind(&host_ids)
    .bind(earliest)
    .bind(latest)
    .fetch_all(&mut *tx)
    .await?;

    // Match each found event to the earliest stored one of the same host, series and kind that it
    // overlaps, and fold it in; what matches nothing is new.
    let mut matched: Vec<Option<usize>> = Vec::with_capacity(found.len());
    let mut changed = vec![false; stored.len()];
    let mut inserts: Vec<NewRow> = Vec::new();
    // Look-ups that keep this loop from comparing every pair (a year of a fleet finds tens of
    // thousands of events): each host's events in start order, and the stored events by host,
    // series and kind in their stored order (earliest first).
    let by_host = HostEvents::new(found);
    let mut stored_by_key: HashMap<(i32, String, String), Vec<usize>> = HashMap::new();
    for (k, e) in stored.iter().enumerate() {
        stored_by_key
            .entry((e.host_id, e.series.clone(), e.kind.clone()))
            .or_default()
            .push(k);
    }
    for (index, f) in found.iter().enumerate() {
        let host_id = request.hosts[f.host].id;
        let series = f.series.name.clone();
        let related: BTreeSet<&str> = by_host
            .started_near(f.start)
            .into_iter()
            .filter(|host| *host != f.host)
            .map(|host| request.hosts[host].vm_id.as_str())
            .collect();
        let same_host: Vec<&Found> = by_host
            .of_host(f.host)
            .iter()
            .map(|i| &found[*i])
            .filter(|o| !std::ptr::eq(*o, f) && o.start < f.end && f.start < o.end)
            .collect();
        let (causes, actions) = explain(f, &same_host);
        let severity =
            anomaly::severity(&f.detected, &f.series.significance, thresholds).to_string();
        let position = stored_by_key
            .get(&(host_id, series.clone(), f.detected.kind.name().to_owned()))
            .and_then(|ks| {
                ks.iter().copied().find(|k| {
                    let e = &stored[*k];
                    e.started_at < f.end && e.ended_at > f.start
                })
            });
        match position {
            Some(k) => {
                // Re-running over a range finds the same events again: only what moved is
                // written, and nothing is copied to find out.
                let e = &mut stored[k];
                let mut moved = f.start < e.started_at || f.end > e.ended_at;
                e.started_at = e.started_at.min(f.start);
                e.ended_at = e.ended_at.max(f.end);
                if f.detected.score > e.score {
                    e.value = f.detected.value;
                    e.baseline = f.detected.baseline;
                    e.deviation = deviation(&f.detected);
                    e.severity = severity;
                    e.score = f.detected.score;
                    moved = true;
                }
                // Stored related hosts are kept sorted (they were collected from a set).
                let missing: Vec<&str> = related
                    .iter()
                    .filter(|vm| {
                        e.related_vms
                            .binary_search_by(|r| r.as_str().cmp(vm))
                            .is_err()
                    })
                    .copied()
                    .collect();
                if !missing.is_empty() {
                    let mut all: BTreeSet<String> = e.related_vms.drain(..).collect();
                    all.extend(missing.into_iter().map(str::to_string));
                    e.related_vms = all.into_iter().collect();
                    moved = true;
                }
                if !same_texts(&e.possible_causes, causes) {
                    e.possible_causes = owned(causes);
                    moved = true;
                }
                if !same_texts(&e.suggested_actions, actions) {
                    e.suggested_actions = owned(actions);
                    moved = true;
                }
                if !f.detected.short_baseline && e.confidence != "normal" {
                    e.confidence = "normal".into();
                    moved = true;
                }
                changed[k] |= moved;
                matched.push(Some(k));
            }
            None => {
                matched.push(None);
                inserts.push((
                    index,
                    severity,
                    related.into_iter().map(str::to_string).collect(),
                    owned(causes),
                    owned(actions),
                ));
            }
        }
    }

    let updates: Vec<&StoredAnomaly> = stored
        .iter()
        .zip(&changed)
        .filter(|(_, c)| **c)
        .map(|(e, _)| e)
        .collect();
    if !updates.is_empty() {
        sqlx::query(
            "UPDATE anomalies a SET started_at = u.s, ended_at = u.e, value = u.v, baseline = u.b, deviation = u.d,
                 severity = u.sev, score = u.sc,
                 related_vms = ARRAY(SELECT jsonb_array_elements_text(u.rel::jsonb)),
                 possible_causes = ARRAY(SELECT jsonb_array_elements_text(u.causes::jsonb)),
                 suggested_actions = ARRAY(SELECT jsonb_array_elements_text(u.actions::jsonb)), confidence = u.conf
             FROM unnest($1::int8[], $2::timestamptz[], $3::timestamptz[], $4::float8[], $5::float8[], $6::float8[], $7::text[],
                         $8::float8[], $9::text[], $10::text[], $11::text[], $12::text[])
                  AS u(id, s, e, v, b, d, sev, sc, rel, causes, actions, conf)
             WHERE a.id = u.id",
        )
        .bind(updates.iter().map(|e| e.id).collect::<Vec<_>>())
        .bind(updates.iter().map(|e| e.started_at).collect::<Vec<_>>())
        .bind(updates.iter().map(|e| e.ended_at).collect::<Vec<_>>())
        .bind(updates.iter().map(|e| e.value).collect::<Vec<_>>())
        .bind(updates.iter().map(|e| e.baseline).collect::<Vec<_>>())
        .bind(updates.iter().map(|e| e.deviation).collect::<Vec<_>>())
        .bind(updates.iter().map(|e| e.severity.clone()).collect::<Vec<_>>())
        .bind(updates.iter().map(|e| e.score).collect::<Vec<_>>())
        .bind(updates.iter().map(|e| json_list(&e.related_vms)).collect::<Vec<_>>())
        .bind(updates.iter().map(|e| json_list(&e.possible_causes)).collect::<Vec<_>>())
        .bind(updates.iter().map(|e| json_list(&e.suggested_actions)).collect::<Vec<_>>())
        .bind(updates.iter().map(|e| e.confidence.clone()).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
    }
    let mut inserted: Vec<StoredAnomaly> = Vec::new();
    if !inserts.is_empty() {
        let f = |i: &NewRow| &found[i.0];
        inserted = sqlx::query_as(
            "INSERT INTO anomalies (host_id, metric, series, kind, started_at, ended_at, value, baseline, deviation, score,
                                    severity, related_vms, possible_causes, suggested_actions, confidence)
             SELECT h, m, se, k, s, e, v, b, d, sc, sev, ARRAY(SELECT jsonb_array_elements_text(rel::jsonb)),
                    ARRAY(SELECT jsonb_array_elements_text(causes::jsonb)), ARRAY(SELECT jsonb_array_elements_text(actions::jsonb)), conf
             FROM unnest($1::int4[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[], $7::float8[], $8::float8[],
                         $9::float8[], $10::float8[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[])
                  AS t(h, m, se, k, s, e, v, b, d, sc, sev, rel, causes, actions, conf)
             RETURNING *",
        )
        .bind(inserts.iter().map(|i| request.hosts[f(i).host].id).collect::<Vec<_>>())
        .bind(inserts.iter().map(|i| f(i).series.group_name()).collect::<Vec<_>>())
        .bind(inserts.iter().map(|i| f(i).series.name.as_str()).collect::<Vec<_>>())
        .bind(inserts.iter().map(|i| f(i).detected.kind.name().to_string()).collect::<Vec<_>>())
        .bind(inserts.iter().map(|i| f(i).start).collect::<Vec<_>>())
        .bind(inserts.iter().map(|i| f(i).end).collect::<Vec<_>>())
        .bind(inserts.iter().map(|i| f(i).detected.value).collect::<Vec<_>>())
        .bind(inserts.iter().map(|i| f(i).detected.baseline).collect::<Vec<_>>())
        .bind(inserts.iter().map(|i| deviation(&f(i).detected)).collect::<Vec<_>>())
        .bind(inserts.iter().map(|i| f(i).detected.score).collect::<Vec<_>>())
        .bind(inserts.iter().map(|i| i.1.clone()).collect::<Vec<_>>())
        .bind(inserts.iter().map(|i| json_list(&i.2)).collect::<Vec<_>>())
        .bind(inserts.iter().map(|i| json_list(&i.3)).collect::<Vec<_>>())
        .bind(inserts.iter().map(|i| json_list(&i.4)).collect::<Vec<_>>())
        .bind(
            inserts
                .iter()
                .map(|i| if f(i).detected.short_baseline { "low" } else { "normal" })
                .collect::<Vec<_>>(),
        )
        .fetch_all(&mut *tx)
        .await?;
    }
    tx.commit().await?;

    let names: HashMap<i32, (&str, &str)> = request
        .hosts
        .iter()
        .map(|h| (h.id, (h.vm_id.as_str(), h.name.as_str())))
        .collect();
    let name_of = |host_id: i32| names.get(&host_id).copied().unwrap_or(("", ""));
    let mut events: Vec<AnomalyEvent> = Vec::with_capacity(found.len());
    // One stored event may have been matched by several detections: each is answered once.
    let mut answered: Vec<usize> = matched.iter().flatten().copied().collect();
    answered.sort_unstable();
    answered.dedup();
    let mut stored: Vec<Option<StoredAnomaly>> = stored.into_iter().map(Some).collect();
    for k in answered {
        if let Some(e) = stored[k].take() {
            let (vm_id, vm_name) = name_of(e.host_id);
            events.push(e.into_event(vm_id, vm_name));
        }
    }
    let new: Vec<String> = inserted
        .iter()
        .map(|e| format!("anomaly_{}", e.id))
        .collect();
    for e in inserted {
        let (vm_id, vm_name) = name_of(e.host_id);
        events.push(e.into_event(vm_id, vm_name));
    }
    // One stored event may have been matched by several detections.
    events.sort_by(|a, b| b.timestamp.cmp(&a.timestamp).then_with(|| a.id.cmp(&b.id)));
    events.dedup_by(|a, b| a.id == b.id);
    Ok(Outcome {
        events,
        new,
        judged: Vec::new(),
        skipped: Vec::new(),
    })
}
