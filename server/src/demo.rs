//! The demo fleet (`--demo`): a simulated fleet that shows every page at its best within about
//! a minute of the first start, and then keeps reporting live.
//!
//! 12 hosts in 4 groups and 2 clusters, 180 days of history — hourly samples for the oldest
//! days, one every five minutes for the month judged at seeding, one a minute for the last
//! week, every 10 s for the last day — with the simulator's
//! growth, rhythm and incidents, plus scripted events: one host's CPU and another's memory
//! running hot around the time of seeding (alerts), a host off for two hours two days ago (power
//! changes), a deployment note and a maintenance window. After writing, the history is rolled
//! up and anomaly detection runs over the last 30 days, so anomalies exist at once. From then on
//! every host sends a sample every 10 s through the same path agents use, and the hosts with
//! containers their application's custom metrics once a minute (a day of them at seeding).
//!
//! Seeded only on a database without other hosts; the seeding time is recorded, so a restart
//! with `--demo` resumes the live samples of the same fleet instead of seeding again.
use crate::storage::hosts::HostRef;
use crate::{
    alerts::AlertEngine,
    detect,
    live::Hub,
    simulate::{self, Fleet, Incident, Plan},
    storage::{catalog::Group, timeline},
};
use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

const HOSTS: usize = 12;
const GROUP_SIZE: usize = 3;
const DAYS: u32 = 180;
const SEED: u64 = 42;
const LIVE_EVERY: Duration = Duration::seconds(10);
/// Days judged by anomaly detection at seeding; they (and a day before them) are seeded at five
/// minutes at least, as an agent would have sent them: one sample an hour leaves eleven of an
/// hour's twelve five-minute buckets empty, and the detector's five-minute tier would judge the
/// month on a baseline no real host has.
const JUDGED_DAYS: i64 = 30;
/// Records when the demo fleet was seeded (`lookout_maintenance.done_at`).
const MARKER: &str = "demo_fleet";
/// Recorded once the demo's history is rolled up and judged.
pub const READY: &str = "demo_fleet_ready";

/// The demo fleet as seeded at `seeded_at`: the simulator's plan plus the scripted events.
pub fn fleet(seeded_at: DateTime<Utc>) -> anyhow::Result<Fleet> {
    let plan = Plan {
        hosts: HOSTS,
        days: DAYS,
        interval_secs: 3600,
        seed: SEED,
        until: seeded_at,
    };
    let mut truth = simulate::plan_hosts_in_groups(&plan, GROUP_SIZE);
    // Half a year of the simulator's growth and lasting memory steps saturates most hosts;
    // the demo keeps each one's level at seeding at or below a cap (70–82 %, so a few cross the
    // 80 % threshold within weeks) by scaling its growth and steps, and its steps last on.
    let days = f64::from(DAYS);
    for (index, host) in truth.hosts.iter_mut().enumerate() {
        let cap = 70.0 + 4.0 * (index % 4) as f64;
        let fit = |base: f64, rise: f64| {
            if rise > 0.0 && base + rise > cap {
                ((cap - base) / rise).max(0.0)
            } else {
                1.0
            }
        };
        host.growth_per_day.cpu *= fit(host.base.cpu + 12.0, host.growth_per_day.cpu * days);
        host.growth_per_day.disk *= fit(host.base.disk, host.growth_per_day.disk * days);
        let steps: f64 = host
            .incidents
            .iter()
            .filter(|i| i.kind == "level_shift")
            .map(|i| i.magnitude)
            .sum();
        let factor = fit(
            host.base.memory + 3.0,
            host.growth_per_day.memory * days + steps,
        );
        host.growth_per_day.memory *= factor;
        for incident in host
            .incidents
            .iter_mut()
            .filter(|i| i.kind == "level_shift")
        {
            incident.magnitude *= factor;
            incident.end = seeded_at + Duration::days(3650);
        }
    }
    let hot = |metric: &str, from: Duration, to: Duration, target: f64, base: f64| Incident {
        kind: if metric == "cpu" {
            "spike".into()
        } else {
            "level_shift".into()
        },
        metric: metric.into(),
        start: seeded_at + from,
        end: seeded_at + to,
        magnitude: target - base,
    };
    if let [first, second, third, ..] = truth.hosts.as_mut_slice() {
        let cpu = hot(
            "cpu",
            -Duration::minutes(25),
            Duration::minutes(35),
            96.0,
            first.base.cpu,
        );
        first.incidents.push(cpu);
        let steps: f64 = second
            .incidents
            .iter()
            .filter(|i| i.kind == "level_shift")
            .map(|i| i.magnitude)
            .sum();
        let level = second.base.memory + second.growth_per_day.memory * f64::from(DAYS) + steps;
        let memory = hot(
            "memory",
            -Duration::minutes(90),
            Duration::hours(1),
            95.0,
            level,
        );
        second.incidents.push(memory);
        let off = seeded_at - Duration::days(2) - Duration::hours(3);
        third.outages.push((off, off + Duration::hours(2)));
    }
    let mut fleet = Fleet::new(truth, SEED)?;
    fleet.extras = true;
    Ok(fleet)
}

/// Seeds the demo fleet (or resumes it) in the background; never delays start-up.
pub async fn start(
    pool: PgPool,
    alerts: AlertEngine,
    hub: Hub,
    tasks: &TaskTracker,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let seeded_at: Option<DateTime<Utc>> =
        sqlx::query_scalar("SELECT done_at FROM lookout_maintenance WHERE name = $1")
            .bind(MARKER)
            .fetch_optional(&pool)
            .await?;
    if let Some(seeded_at) = seeded_at {
        tracing::info!(%seeded_at, "Resuming the demo fleet's live samples.");
        let fleet = fleet(seeded_at)?;
        // The hosts "kept running" while the server was down (up to a day): no false outage.
        let newest: Option<DateTime<Utc>> = sqlx::query_scalar(
            "SELECT max(s.ts) FROM samples s JOIN hosts h ON h.id = s.host_id WHERE h.vm_id LIKE 'sim-%' AND s.ts > now() - interval '1 day'",
        )
        .fetch_one(&pool)
        .await?;
        let since = newest.unwrap_or_else(|| Utc::now() - Duration::days(1));
        tasks.spawn(live(pool, alerts, hub, fleet, since, shutdown));
        return Ok(());
    }
    let hosts: i64 = sqlx::query_scalar("SELECT count(*) FROM hosts")
        .fetch_one(&pool)
        .await?;
    if hosts > 1 {
        tracing::info!("Demo fleet skipped: the database already has other hosts.");
        return Ok(());
    }
    let tracker = tasks.clone();
    tasks.spawn(async move {
        let started = std::time::Instant::now();
        let seeded_at = Utc::now();
        tracing::info!(
            hosts = HOSTS,
            days = DAYS,
            "Seeding a demo fleet in the background."
        );
        match seed(&pool, &alerts, seeded_at).await {
            Ok((fleet, samples)) => {
                tracker.spawn(live(
                    pool.clone(),
                    alerts,
                    hub.clone(),
                    fleet,
                    seeded_at,
                    shutdown,
                ));
                match finish(&pool, seeded_at).await {
                    Ok(anomalies) => tracing::info!(
                        samples,
                        anomalies,
                        secs = started.elapsed().as_secs(),
                        "Demo fleet ready."
                    ),
                    Err(error) => tracing::warn!(
                        error = format!("{error:#}"),
                        "Demo fleet written, but rolling it up failed."
                    ),
                }
            }
            Err(error) => tracing::warn!(
                error = format!("{error:#}"),
                "Demo fleet could not be written."
            ),
        }
    });
    Ok(())
}

/// Writes the history, coarse to fine, and records the seeding.
async fn seed(
    pool: &PgPool,
    alerts: &AlertEngine,
    seeded_at: DateTime<Utc>,
) -> anyhow::Result<(Fleet, u64)> {
    let mut fleet = fleet(seeded_at)?;
    let start = fleet.truth.start;
    let month = seeded_at - Duration::days(JUDGED_DAYS + 1);
    let week = seeded_at - Duration::days(7);
    let day = seeded_at - Duration::days(1);
    let mut written = fleet
        .write(pool, start, month, Duration::hours(1), false)
        .await?;
    written += fleet
        .write(pool, month, week, Duration::minutes(5), false)
        .await?;
    written += fleet
        .write(pool, week, day, Duration::minutes(1), false)
        .await?;
    written += fleet.write(pool, day, seeded_at, LIVE_EVERY, false).await?;
    // The applications' metrics: hourly over the history (the capacity page plans them by day),
    // then a point a minute for the last day, as they arrive live.
    send_custom(pool, alerts, &fleet, start, day, Duration::hours(1)).await?;
    send_custom(pool, alerts, &fleet, day, seeded_at, CUSTOM_EVERY).await?;
    // Their capacities, as an operator would set them, so the capacity page dates the crossings
    // (a capacity set already is kept).
    for (name, capacity) in DEMO_CAPACITIES {
        crate::storage::custom_metrics::set_capacity(pool, name, capacity, "demo", true).await?;
    }
    sqlx::query(
        "INSERT INTO lookout_maintenance (name, done_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(MARKER)
    .bind(seeded_at)
    .execute(pool)
    .await?;
    Ok((fleet, written))
}

/// Rolls the history up, adds the notes and runs anomaly detection over the judged days.
async fn finish(pool: &PgPool, seeded_at: DateTime<Utc>) -> anyhow::Result<usize> {
    simulate::roll_up_all(pool, false).await?;
    let hosts: Vec<HostRef> =
        sqlx::query_as("SELECT id, vm_id, name FROM hosts WHERE vm_id LIKE 'sim-%' ORDER BY vm_id")
            .fetch_all(pool)
            .await?;
    let notes = [
        (
            0,
            Duration::hours(26),
            "manual",
            "Deployed release 2.14",
            "rolled out to the web tier",
        ),
        (
            1,
            Duration::hours(50),
            "maintenance",
            "Kernel patching window",
            "planned reboot of the database hosts",
        ),
    ];
    for (index, ago, kind, title, description) in notes {
        let Some(HostRef {
            id: host_id, vm_id, ..
        }) = hosts.get(index)
        else {
            continue;
        };
        let event = timeline::NewEvent {
            host_id: *host_id,
            ts: seeded_at - ago,
            kind,
            title,
            description: Some(description),
            severity: None,
            state: None,
            created_by: Some("demo"),
            ends_at: (kind == "maintenance").then(|| seeded_at - ago + Duration::hours(2)),
        };
        timeline::add(pool, vm_id, &event).await?;
    }
    let request = detect::Request {
        hosts,
        start: seeded_at - Duration::days(JUDGED_DAYS),
        end: seeded_at,
        groups: Group::ALL.to_vec(),
        custom_metrics: Vec::new(),
        sensitivity: crate::analysis::anomaly::Sensitivity::Medium,
        kinds: crate::analysis::anomaly::Kind::ALL.to_vec(),
        kept_within: None,
    };
    let outcome = detect::run(pool, &request).await?;
    sqlx::query("INSERT INTO lookout_maintenance (name) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(READY)
        .execute(pool)
        .await?;
    Ok(outcome.events.len())
}

/// One sample per host every 10 s, through the path agents use (storage, alerts, live clients),
/// after filling in the samples since `since` (seeding or a restart took that long).
async fn live(
    pool: PgPool,
    alerts: AlertEngine,
    hub: Hub,
    mut fleet: Fleet,
    since: DateTime<Utc>,
    shutdown: CancellationToken,
) {
    if let Err(error) = fleet
        .write(&pool, since, Utc::now(), LIVE_EVERY, false)
        .await
    {
        tracing::warn!(
            error = format!("{error:#}"),
            "The demo fleet's samples since {since} could not be filled in."
        );
    }
    if let Err(error) = send_custom(&pool, &alerts, &fleet, since, Utc::now(), CUSTOM_EVERY).await {
        tracing::warn!(
            error = format!("{error:#}"),
            "The demo fleet's custom metrics since {since} could not be filled in."
        );
    }
    let mut custom_sent_to = Utc::now();
    let every = LIVE_EVERY
        .to_std()
        .unwrap_or(std::time::Duration::from_secs(10));
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        let now = Utc::now();
        let now = DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now);
        let samples = fleet.samples_at(now, LIVE_EVERY);
        if let Err(error) = crate::ingest::accept(&pool, &alerts, &hub, &samples, None).await {
            tracing::debug!(%error, "Demo samples not stored this round.");
        }
        if now - custom_sent_to >= CUSTOM_EVERY {
            match send_custom(&pool, &alerts, &fleet, custom_sent_to, now, CUSTOM_EVERY).await {
                Ok(_) => custom_sent_to = now,
                Err(error) => tracing::debug!(%error, "Demo custom metrics not stored this round."),
            }
        }
    }
}

/// How often the demo's applications send their metrics.
const CUSTOM_EVERY: Duration = Duration::minutes(1);
/// Each demo application's request rate grows by this share of its level at seeding a month
/// (hosts sim-000, sim-004, sim-008), so the capacity page has application trends to plan.
const APP_GROWTH_PER_MONTH: [f64; 3] = [0.02, 0.05, 0.09];

/// The demo applications' capacities: sim-008's request rate (110 req/s growing 9 % of that a
/// month) reaches 135 in about 2.5 months, sim-004's in about a year, sim-000's not within two
/// years; sim-008's latency reaches 150 ms in about 5 months.
const DEMO_CAPACITIES: [(&str, f64); 2] = [("api.requests", 135.0), ("api.latency_p95", 150.0)];

/// The custom metrics the demo's hosts with containers (every fourth, see `simulate`) send, as
/// an application would through `/api/v1/performance/metrics/batch`: its request rate, with a
/// daily rhythm and a steady growth, and its 95th-percentile latency rising with it, a point
/// every `step` in `(from, to]`, through the same service as the API's points; deterministic,
/// so a restart continues the same curves.
async fn send_custom(
    pool: &PgPool,
    alerts: &AlertEngine,
    fleet: &Fleet,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    step: Duration,
) -> anyhow::Result<usize> {
    use crate::storage::custom_metrics::NewPoint;
    let seeded_at = fleet.truth.end;
    let minute = step.num_seconds().max(1);
    let first = from.timestamp().div_euclid(minute) + 1;
    let last = to.timestamp().div_euclid(minute);
    let mut points = Vec::new();
    for (index, host) in fleet.truth.hosts.iter().enumerate().step_by(4) {
        let Some(row) = crate::storage::hosts::find(pool, &host.vm_id).await? else {
            continue;
        };
        for step in first..=last {
            let Some(ts) = DateTime::from_timestamp(step * minute, 0) else {
                continue;
            };
            let (requests, latency) = demo_application(index, ts, seeded_at);
            let tags = serde_json::json!({"service": "api"});
            for (name, value, unit) in [
                ("api.requests", requests, "req/s"),
                ("api.latency_p95", latency, "ms"),
            ] {
                points.push(NewPoint {
                    name: name.into(),
                    ts,
                    value,
                    unit: unit.into(),
                    category: "application".into(),
                    tags: tags.clone(),
                    host_id: Some(row.id),
                });
            }
        }
    }
    let sent = points.len();
    let mut points = points.into_iter().peekable();
    while points.peek().is_some() {
        let chunk: Vec<NewPoint> = points.by_ref().take(1_000).collect();
        crate::ingest::accept_custom(pool, alerts, chunk).await?;
    }
    Ok(sent)
}

/// Host `index`'s application at `ts`: requests a second (a daily rhythm peaking mid-afternoon
/// UTC, ±8 % noise, growing by `APP_GROWTH_PER_MONTH` of its level at seeding each month) and
/// the 95th-percentile latency in ms, which climbs with the load.
fn demo_application(index: usize, ts: DateTime<Utc>, seeded_at: DateTime<Utc>) -> (f64, f64) {
    use chrono::Timelike;
    use rand::{Rng, SeedableRng};
    let hour = f64::from(ts.num_seconds_from_midnight()) / 3600.0;
    let rhythm = 1.0 + 0.6 * ((hour - 9.0) / 24.0 * std::f64::consts::TAU).sin();
    // Seeded by (host, minute): the same noise on every run.
    let key = ((index as u64) << 40) ^ (ts.timestamp() as u64 / 60);
    let noise: f64 = rand::rngs::StdRng::seed_from_u64(key).gen_range(-1.0..1.0);
    let base = 60.0 + 25.0 * (index / 4) as f64;
    let months = (ts - seeded_at).num_seconds() as f64 / (30.0 * 86_400.0);
    let growth = APP_GROWTH_PER_MONTH[(index / 4).min(APP_GROWTH_PER_MONTH.len() - 1)];
    let trend = (1.0 + growth * months).max(0.1);
    let requests = (base * trend * rhythm * (1.0 + 0.08 * noise)).max(0.0);
    let latency = 38.0 + 0.004 * requests * requests + 4.0 * noise.abs();
    (
        (requests * 10.0).round() / 10.0,
        (latency * 10.0).round() / 10.0,
    )
}
