//! The continuous detector: every round, the last three hours of every host seen recently,
//! through the same path as requests, new events published on the WebSocket; then the ended
//! days of a few hosts that no round saw live, and the custom metrics' days written after the
//! rounds had passed them.
use super::{
    fine_window_start, kept::day_of, run, DetectError, Group, Request, CONTINUOUS_CUSTOM_METRICS,
};
use crate::analysis::anomaly::{Kind, Sensitivity};
use crate::live::Hub;
use crate::storage::{hosts::HostRef, judgements::Missing};
use app::models::LiveEvent;
use chrono::{DateTime, Duration, DurationRound, Utc};
use sqlx::PgPool;
use std::sync::atomic::{AtomicI32, Ordering};
use tokio_util::sync::CancellationToken;

/// The continuous detector for [`crate::jobs::run`] (once every `LOOKOUT_DETECT_INTERVAL`): each
/// round runs detection at medium sensitivity over the last three hours of every host seen
/// recently (complete hours, and five-minute buckets up to now) — every catalogue series and the
/// custom metrics sent for those hosts in that time — and publishes events stored for the first
/// time. With `history_days` above 0, it then catches up on up to [`CATCH_UP_HOSTS`] hosts'
/// unseen days ([`catch_up`]), taking the hosts in turn. Servers sharing a database take turns:
/// a round runs only where it is claimed (`storage::rounds`), about once an interval between them.
pub struct Detector {
    pool: PgPool,
    hub: Hub,
    every: std::time::Duration,
    history_days: u32,
    /// The last host the catch-up judged: the next round starts after it.
    caught_up_to: AtomicI32,
}

impl Detector {
    pub fn new(pool: PgPool, hub: Hub, every: std::time::Duration, history_days: u32) -> Detector {
        Detector {
            pool,
            hub,
            every,
            history_days,
            caught_up_to: AtomicI32::new(0),
        }
    }
}

impl crate::jobs::Queue for Detector {
    const NAME: &'static str = "detect";

    async fn step(&self, shutdown: &CancellationToken) -> anyhow::Result<crate::jobs::Step> {
        use anyhow::Context;
        // Nine tenths of the interval: rounds jittered up to a quarter later still find theirs due.
        let gap = self.every.mul_f64(0.9);
        let ours = crate::storage::rounds::claim(&self.pool, ROUND, gap)
            .await
            .context("claiming a detection round")?;
        if !ours {
            return Ok(crate::jobs::Step::Idle(None));
        }
        let recent = detect_recent(&self.pool, &self.hub)
            .await
            .context("continuous anomaly detection");
        if self.history_days > 0 && !shutdown.is_cancelled() {
            let after = self.caught_up_to.load(Ordering::Relaxed);
            let caught = catch_up(&self.pool, self.history_days, after)
                .await
                .context("catching up on unseen days")?;
            if caught.hosts > 0 {
                self.caught_up_to.store(caught.last, Ordering::Relaxed);
                tracing::info!(
                    hosts = caught.hosts,
                    events = caught.events,
                    "Judged the ended days no round saw live."
                );
            }
        }
        if !shutdown.is_cancelled() {
            let days = catch_up_custom(&self.pool, self.history_days)
                .await
                .context("judging custom metrics' late days")?;
            if days > 0 {
                tracing::info!(
                    days,
                    "Judged custom metrics' days written after the rounds had passed them."
                );
            }
        }
        recent?;
        Ok(crate::jobs::Step::Idle(None))
    }
}

/// The continuous detector's round in `shared_rounds`.
const ROUND: &str = "continuous_detection";

/// Hosts whose unseen days one round judges (the history bench judged a year of 100 hosts in
/// about 5 s).
const CATCH_UP_HOSTS: i64 = 25;

/// What one round of [`catch_up`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CaughtUp {
    pub hosts: usize,
    /// Events found in those days at medium (stored, new or not).
    pub events: usize,
    /// The last host judged (the next round starts after it).
    pub last: i32,
}

/// Judges at medium the ended days of the last `days` that have no complete kept judgement at a
/// tier that keeps them — days no live round saw: a backfill, an agent's spool older than the
/// rounds' three hours, the server down, a new detector version — for up to [`CATCH_UP_HOSTS`]
/// hosts after `after` in id order (from the first when none is left after it). Their events
/// are stored, so the pages and the timeline show them, but not published: they are not news.
/// The days are kept, so requests over them answer from what was kept. A host with hours before
/// today still waiting for their rollup waits too (its days could not be kept complete yet).
pub async fn catch_up(pool: &PgPool, days: u32, after: i32) -> Result<CaughtUp, DetectError> {
    let now = Utc::now();
    let today = day_of(now);
    let first = today - Duration::days(days.into());
    let missing = Missing {
        days: (first, today),
        fine_from: day_of(fine_window_start(now)),
    };
    let pick = |after: i32| {
        crate::storage::judgements::hosts_missing_days(pool, &missing, after, CATCH_UP_HOSTS)
    };
    let mut hosts = pick(after).await?;
    if hosts.is_empty() && after > 0 {
        hosts = pick(0).await?;
    }
    let Some(last) = hosts.last().map(|h| h.id) else {
        return Ok(CaughtUp::default());
    };
    let count = hosts.len();
    let request = Request {
        hosts,
        start: first,
        // To the end of yesterday: today is the live rounds'.
        end: today - Duration::seconds(1),
        groups: Group::ALL.to_vec(),
        custom_metrics: Vec::new(),
        sensitivity: Sensitivity::Medium,
        kinds: Kind::ALL.to_vec(),
        kept_within: None,
    };
    let outcome = run(pool, &request).await?;
    Ok(CaughtUp {
        hosts: count,
        events: outcome.events.len(),
        last,
    })
}

/// How far back a live round looks.
const LIVE_HOURS: i64 = 3;

/// The first instant a live round at `now` judges: points before it are only judged by a request
/// or a catch-up.
pub fn live_window_start(now: DateTime<Utc>) -> DateTime<Utc> {
    now.duration_trunc(Duration::hours(1)).unwrap_or(now) - Duration::hours(LIVE_HOURS)
}

/// Days of custom metrics one round judges at most (a two-year backfill of one metric is 731).
const CUSTOM_CATCH_UP_DAYS: i64 = 1_000;

/// Judges at medium the custom metrics' days that were written after the live rounds had passed
/// them (queued by the write, `storage::custom_metrics::unjudged`), within the last `days`:
/// per host, its metrics over the span of their waiting days, each with the history before it as
/// its baseline. Events are stored, not published (not news). Returns the number of days judged.
pub async fn catch_up_custom(pool: &PgPool, days: u32) -> Result<usize, DetectError> {
    if days == 0 {
        // The catch-up is off: what waits would wait for ever.
        crate::storage::custom_metrics::forget_unjudged(pool).await?;
        return Ok(0);
    }
    let now = Utc::now();
    let since = day_of(now) - Duration::days(days.into());
    let waiting =
        crate::storage::custom_metrics::unjudged(pool, since, CUSTOM_CATCH_UP_DAYS).await?;
    for host in waiting.chunk_by(|a, b| a.host_id == b.host_id) {
        let mut names: Vec<String> = host.iter().map(|d| d.name.clone()).collect();
        names.dedup();
        let first = host.iter().map(|d| d.day).min().unwrap_or(since);
        let last = host.iter().map(|d| d.day).max().unwrap_or(first);
        let request = Request {
            hosts: vec![HostRef {
                id: host[0].host_id,
                vm_id: host[0].vm_id.clone(),
                name: host[0].host_name.clone(),
            }],
            start: first,
            end: (last + Duration::days(1) - Duration::seconds(1)).min(now),
            groups: Vec::new(),
            custom_metrics: names,
            sensitivity: Sensitivity::Medium,
            kinds: Kind::ALL.to_vec(),
            kept_within: None,
        };
        run(pool, &request).await?;
    }
    crate::storage::custom_metrics::judged(pool, &waiting).await?;
    Ok(waiting.len())
}

pub async fn detect_recent(pool: &PgPool, hub: &Hub) -> Result<usize, DetectError> {
    let now = Utc::now();
    let hosts = crate::storage::hosts::seen_since(pool, now - Duration::hours(LIVE_HOURS)).await?;
    if hosts.is_empty() {
        return Ok(0);
    }
    let start = live_window_start(now);
    // The custom metrics sent for these hosts in the judged hours, the busiest first.
    let host_ids: Vec<i32> = hosts.iter().map(|h| h.id).collect();
    let custom_metrics = crate::storage::custom_metrics::busiest_sent_by(
        pool,
        &host_ids,
        start,
        CONTINUOUS_CUSTOM_METRICS,
    )
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
