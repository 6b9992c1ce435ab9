//! The fleet simulator: months of realistic history for many hosts, written through the ingest path.
//!
//! Each host gets a base level per metric, a daily and weekly rhythm, a slow linear growth trend,
//! autocorrelated noise and occasional incidents (spikes, drops, level shifts). What was injected
//! is written to a ground-truth JSON file so analysis results can be checked against it.
use crate::storage::{
    ingest::{self, NewSample},
    rollups,
};
use app::models::{
    ConnectionStats, CpuStats, DiskStats, FilesystemUsage, MemoryStats, NetworkStats, ProcessStats,
    Stats,
};
use chrono::{DateTime, Datelike, Duration, DurationRound, Timelike, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use rand::{rngs::StdRng, Rng, SeedableRng};
use rand_distr::{Distribution, Normal};
use serde::Serialize;
use sqlx::PgPool;
use std::path::Path;

#[derive(Clone, Debug)]
pub struct Plan {
    pub hosts: usize,
    pub days: u32,
    pub interval_secs: u64,
    pub seed: u64,
    /// The last simulated instant (normally now).
    pub until: DateTime<Utc>,
}

/// Hosts per group; three groups make a cluster.
const GROUP_SIZE: usize = 10;

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Incident {
    /// `spike`, `drop` or `level_shift`.
    pub kind: String,
    pub metric: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Percentage points added (negative for drops) while it lasts.
    pub magnitude: f64,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostTruth {
    pub vm_id: String,
    pub name: String,
    pub group_id: String,
    pub cluster_id: String,
    /// Base level (percent) at the start of the simulation, per metric.
    pub base: Levels,
    /// Linear growth in percentage points per day, per metric.
    pub growth_per_day: Levels,
    pub incidents: Vec<Incident>,
    /// Periods without samples (the host was off or unreachable).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub outages: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Levels {
    pub cpu: f64,
    pub memory: f64,
    pub disk: f64,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroundTruth {
    pub seed: u64,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub interval_secs: u64,
    pub hosts: Vec<HostTruth>,
}

const ROLES: [&str; 4] = ["web", "db", "cache", "batch"];

/// Draws each host's character: levels, trends and incidents. Deterministic for a seed.
pub fn plan_hosts(plan: &Plan) -> GroundTruth {
    plan_hosts_in_groups(plan, GROUP_SIZE)
}

/// The same with `group_size` hosts per group (the demo uses small groups to show several).
pub fn plan_hosts_in_groups(plan: &Plan, group_size: usize) -> GroundTruth {
    let start = plan.until - Duration::days(i64::from(plan.days));
    let groups = (plan.hosts / group_size.max(1)).max(1);
    let clusters = groups.div_ceil(3).max(1);
    let mut rng = StdRng::seed_from_u64(plan.seed);
    let hosts = (0..plan.hosts)
        .map(|h| {
            let role = ROLES[h % ROLES.len()];
            let base = Levels {
                cpu: rng.gen_range(10.0..40.0),
                memory: rng.gen_range(25.0..60.0),
                disk: rng.gen_range(20.0..60.0),
            };
            // About one host in five grows fast enough to cross 80 % within months.
            let fast = rng.gen_bool(0.2);
            let growth_per_day = Levels {
                cpu: if fast {
                    rng.gen_range(0.2..0.5)
                } else {
                    rng.gen_range(-0.02..0.08)
                },
                memory: rng.gen_range(0.0..0.12),
                disk: if fast {
                    rng.gen_range(0.15..0.4)
                } else {
                    rng.gen_range(0.01..0.1)
                },
            };
            let mut incidents = Vec::new();
            let expected = f64::from(plan.days) / 10.0; // one incident per host every ten days on average
            let count = (expected + rng.gen_range(-0.5..0.5)).round().max(0.0) as usize;
            for _ in 0..count {
                let at = start + Duration::seconds(rng.gen_range(0..i64::from(plan.days) * 86_400));
                let incident = match rng.gen_range(0..3) {
                    0 => Incident {
                        kind: "spike".into(),
                        metric: "cpu".into(),
                        start: at,
                        end: at + Duration::minutes(rng.gen_range(5..45)),
                        magnitude: rng.gen_range(30.0..55.0),
                    },
                    1 => Incident {
                        kind: "drop".into(),
                        metric: "cpu".into(),
                        start: at,
                        end: at + Duration::minutes(rng.gen_range(10..90)),
                        magnitude: -rng.gen_range(20.0..40.0),
                    },
                    _ => Incident {
                        kind: "level_shift".into(),
                        metric: "memory".into(),
                        start: at,
                        end: plan.until,
                        magnitude: rng.gen_range(8.0..20.0),
                    },
                };
                incidents.push(incident);
            }
            HostTruth {
                vm_id: format!("sim-{h:03}"),
                name: format!("{role}-{:02}", h / ROLES.len() + 1),
                group_id: format!("grp_{:02}", h % groups + 1),
                cluster_id: format!("cl_{}", (h % groups) % clusters + 1),
                base,
                growth_per_day,
                incidents,
                outages: Vec::new(),
            }
        })
        .collect();
    GroundTruth {
        seed: plan.seed,
        start,
        end: plan.until,
        interval_secs: plan.interval_secs,
        hosts,
    }
}

/// Daily rhythm (peak mid-afternoon UTC, quiet at night) damped on weekends: −1…1.
fn rhythm(t: DateTime<Utc>) -> f64 {
    let hour = f64::from(t.hour()) + f64::from(t.minute()) / 60.0;
    let daily = ((hour - 8.0) / 24.0 * std::f64::consts::TAU).sin();
    let weekend = weekend_weight(t);
    daily * (1.0 - 0.6 * weekend) - 0.2 * weekend
}

/// Hours over which the weekend's damping fades in and out, centred on Saturday's and Monday's
/// midnights: real traffic does not change its character at 00:00, and a step there would be
/// an incident the demo's detector reports every week.
const WEEKEND_EASE_HOURS: f64 = 3.0;

/// How much of the weekend `t` is in: 0 on weekdays, 1 from Saturday 03:00 to Sunday 21:00,
/// easing between.
fn weekend_weight(t: DateTime<Utc>) -> f64 {
    let hours_into_week = f64::from(t.weekday().num_days_from_monday()) * 24.0
        + f64::from(t.hour())
        + f64::from(t.minute()) / 60.0
        + f64::from(t.second()) / 3600.0;
    let ease = |hours_from_midnight: f64| {
        let x = ((hours_from_midnight + WEEKEND_EASE_HOURS) / (2.0 * WEEKEND_EASE_HOURS))
            .clamp(0.0, 1.0);
        x * x * (3.0 - 2.0 * x)
    };
    const SATURDAY: f64 = 5.0 * 24.0;
    const NEXT_MONDAY: f64 = 7.0 * 24.0;
    if hours_into_week < SATURDAY / 2.0 {
        // Early in the week: the tail of the weekend before.
        1.0 - ease(hours_into_week)
    } else {
        ease(hours_into_week - SATURDAY) * (1.0 - ease(hours_into_week - NEXT_MONDAY))
    }
}

/// State carried from one sample of a host to the next (noise and counters).
struct HostState {
    rng: StdRng,
    normal: Normal<f64>,
    noise: [f64; 3],
    net_in: u64,
    net_out: u64,
    disk_read: u64,
    disk_write: u64,
}

fn sample_at(
    host: &HostTruth,
    state: &mut HostState,
    t: DateTime<Utc>,
    start: DateTime<Utc>,
    interval: f64,
) -> Stats {
    let days = (t - start).num_seconds() as f64 / 86_400.0;
    // AR(1) noise: consecutive samples are correlated, as real load is.
    for n in &mut state.noise {
        *n = 0.9 * *n + 0.45 * state.normal.sample(&mut state.rng);
    }
    let shift = |metric: &str| -> f64 {
        host.incidents
            .iter()
            .filter(|i| i.metric == metric && t >= i.start && t < i.end)
            .map(|i| i.magnitude)
            .sum()
    };
    let r = rhythm(t);
    let cpu = (host.base.cpu
        + host.growth_per_day.cpu * days
        + 12.0 * r
        + 2.0 * state.noise[0]
        + shift("cpu"))
    .clamp(0.5, 100.0);
    let memory = (host.base.memory
        + host.growth_per_day.memory * days
        + 3.0 * r
        + 0.8 * state.noise[1]
        + shift("memory"))
    .clamp(1.0, 99.5);
    let disk =
        (host.base.disk + host.growth_per_day.disk * days + 0.1 * state.noise[2]).clamp(1.0, 99.9);
    let load_factor = cpu / 100.0;
    let in_bps = (2.0e6 * (1.0 + r) * (0.5 + load_factor)).max(1000.0);
    let out_bps = in_bps * 0.6;
    state.net_in += (in_bps * interval) as u64;
    state.net_out += (out_bps * interval) as u64;
    let read_bps = 4.0e5 * (1.0 + load_factor);
    let write_bps = 8.0e5 * (1.0 + load_factor);
    state.disk_read += (read_bps * interval) as u64;
    state.disk_write += (write_bps * interval) as u64;
    let memory_total: u64 = 16 << 30;
    let disk_total: u64 = 500 << 30;
    let memory_used = (memory / 100.0 * memory_total as f64) as u64;
    let disk_used = (disk / 100.0 * disk_total as f64) as u64;
    Stats {
        cpu: CpuStats {
            percent: cpu,
            cores: 8,
            frequency: 2600,
            usage_mhz: cpu / 100.0 * 2600.0 * 8.0,
            ready_percent: (0.5 + load_factor * 2.0).min(100.0),
            load1: load_factor * 8.0,
            load5: load_factor * 7.5,
            load15: load_factor * 7.0,
        },
        memory: MemoryStats {
            total: memory_total,
            available: memory_total - memory_used,
            used: memory_used,
            free: (memory_total - memory_used) / 2,
            percent: memory,
            cached: (memory_total - memory_used) / 3,
            swap_total: 4 << 30,
            swap_used: 0,
        },
        disk: DiskStats {
            total: disk_total,
            free: disk_total - disk_used,
            used: disk_used,
            percent: disk,
            read_bytes: state.disk_read,
            write_bytes: state.disk_write,
            read_bps,
            write_bps,
            read_iops: read_bps / 16_384.0,
            write_iops: write_bps / 16_384.0,
            read_latency_ms: 0.3 + load_factor * 2.0,
            write_latency_ms: 0.6 + load_factor * 3.0,
            filesystems: vec![FilesystemUsage {
                device: "/dev/vda1".into(),
                mountpoint: "/".into(),
                total: disk_total,
                free: disk_total - disk_used,
                percent: disk,
            }],
        },
        network: NetworkStats {
            bytes_sent: state.net_out,
            bytes_recv: state.net_in,
            packets_sent: state.net_out / 900,
            packets_recv: state.net_in / 1200,
            in_bps,
            out_bps,
        },
        processes: ProcessStats {
            total: 180 + (cpu as u32),
            running: 1 + (load_factor * 8.0) as u32,
            sleeping: 179,
            zombie: 0,
        },
        connections: ConnectionStats {
            active: 20 + (cpu as u32),
            listening: 12,
            established: 15 + (cpu as u32),
        },
        timestamp: t,
        containers: Vec::new(),
        gpus: Vec::new(),
    }
}

fn progress(len: u64, what: &str, visible: bool) -> ProgressBar {
    let bar = if visible {
        ProgressBar::new(len)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:>12} [{bar:40}] {percent:>3}% {human_pos}/{human_len} {per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

/// Writes the simulated history and rolls it up. Returns the ground truth and samples written.
pub async fn run(
    pool: &PgPool,
    plan: &Plan,
    show_progress: bool,
) -> anyhow::Result<(GroundTruth, u64)> {
    let truth = plan_hosts(plan);
    let written = write(pool, plan, &truth, show_progress).await?;
    roll_up_all(pool, show_progress).await?;
    Ok((truth, written))
}

/// Writes the samples of a planned fleet through the ingest path; returns how many were new.
pub async fn write(
    pool: &PgPool,
    plan: &Plan,
    truth: &GroundTruth,
    show_progress: bool,
) -> anyhow::Result<u64> {
    let mut fleet = Fleet::new(truth.clone(), plan.seed)?;
    let interval = Duration::seconds(i64::try_from(plan.interval_secs.max(1)).unwrap_or(60));
    fleet
        .write(pool, truth.start, truth.end, interval, show_progress)
        .await
}

/// Containers following the host's CPU (every fourth host) and a GPU busy with it (the sixth).
fn add_extras(index: usize, sample: &mut Stats) {
    let busy = sample.cpu.percent / 100.0;
    let cores = f64::from(sample.cpu.cores.max(1));
    if index.is_multiple_of(4) {
        let mib = 1_048_576u64;
        for (k, (name, share, memory)) in
            [("api", 0.6, 900), ("nginx", 0.25, 120), ("redis", 0.1, 450)]
                .into_iter()
                .enumerate()
        {
            sample.containers.push(app::models::ContainerStats {
                id: format!("{:064x}", (index as u128) << 8 | k as u128),
                name: name.into(),
                cpu_percent: (busy * share * cores * 100.0 * 100.0).round() / 100.0,
                memory_bytes: Some((memory as f64 * (0.8 + 0.4 * busy)) as u64 * mib),
                memory_limit_bytes: Some(2048 * mib),
                read_bps: Some((busy * share * 2.0e6).round()),
                write_bps: Some((busy * share * 5.0e6).round()),
            });
        }
    }
    if index == 5 {
        let utilization = (busy * 100.0 * 1.1).min(100.0);
        sample.gpus.push(app::models::GpuStats {
            index: 0,
            name: "NVIDIA L4 (simulated)".into(),
            utilization_percent: (utilization * 10.0).round() / 10.0,
            memory_used_bytes: ((6.0 + 14.0 * utilization / 100.0) * 1_073_741_824.0) as u64,
            memory_total_bytes: 24 * 1_073_741_824,
            temperature_celsius: (38.0 + 0.4 * utilization).round(),
            power_watts: (20.0 + 0.5 * utilization).round(),
        });
    }
}

/// A simulated fleet that can be sampled over time: the ground truth plus each host's running
/// state (noise and counters), so consecutive ranges — and live samples after them — continue
/// one another.
pub struct Fleet {
    pub truth: GroundTruth,
    states: Vec<HostState>,
    /// Give every fourth host three containers and the sixth a GPU (the demo shows those charts).
    pub extras: bool,
}

impl Fleet {
    pub fn new(truth: GroundTruth, seed: u64) -> anyhow::Result<Self> {
        let normal = Normal::new(0.0, 1.0)?;
        let states = (0..truth.hosts.len())
            .map(|h| HostState {
                rng: StdRng::seed_from_u64(
                    seed ^ (h as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                ),
                normal,
                noise: [0.0; 3],
                net_in: 0,
                net_out: 0,
                disk_read: 0,
                disk_write: 0,
            })
            .collect();
        Ok(Fleet {
            truth,
            states,
            extras: false,
        })
    }

    /// One sample of every host at `t` (none for hosts in an outage), as agents would send them.
    pub fn samples_at(&mut self, t: DateTime<Utc>, interval: Duration) -> Vec<NewSample> {
        let start = self.truth.start;
        self.truth
            .hosts
            .iter()
            .zip(self.states.iter_mut())
            .filter(|(host, _)| !host.outages.iter().any(|(from, to)| t >= *from && t < *to))
            .enumerate()
            .map(|(index, (host, state))| {
                let mut sample = sample_at(host, state, t, start, interval.num_seconds() as f64);
                if self.extras {
                    add_extras(index, &mut sample);
                }
                NewSample {
                    vm_id: host.vm_id.clone(),
                    name: Some(host.name.clone()),
                    group_id: Some(host.group_id.clone()),
                    cluster_id: Some(host.cluster_id.clone()),
                    sample,
                    processes: None,
                    facts: None,
                    present: Default::default(),
                }
            })
            .collect()
    }

    /// Writes samples every `interval` from `from` up to `to` through the ingest path; returns
    /// how many were new. Samples sit in the middle of the interval's aligned slots (an hourly
    /// one at half past): a sample is the simulated load at its instant, so a coarse one stands
    /// for its bucket's mean only from the middle — at the slot's start, hourly history would run
    /// half an hour behind the minute history after it, which the detector saw as a fleet-wide
    /// trend change where the demo's sampling became finer.
    pub async fn write(
        &mut self,
        pool: &PgPool,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        interval: Duration,
        show_progress: bool,
    ) -> anyhow::Result<u64> {
        let first_slot = from.duration_trunc(interval).unwrap_or(from);
        // Whole slots before `to`, each sampled at its middle (so before `to` too).
        let steps = ((to - first_slot).num_seconds() / interval.num_seconds().max(1)).max(0) as u64;
        let first = first_slot + interval / 2;
        let hosts = self.truth.hosts.len();
        let bar = progress(steps * hosts as u64, "samples", show_progress);
        // Time-major order: every host advances together, as a live fleet would report.
        let per_batch = (ingest::ROWS_PER_TRANSACTION / hosts.max(1)).max(1) as u64;
        // Two batches in flight, each on its own task: while PostgreSQL stores one, the next is
        // generated and sent, so both cores work. Batches cover disjoint instants, so they never
        // write the same rows.
        let mut in_flight = tokio::task::JoinSet::new();
        let mut written = 0;
        let mut step = 0;
        while step < steps {
            let last = (step + per_batch).min(steps);
            let mut batch = Vec::with_capacity(((last - step) as usize) * hosts);
            for s in step..last {
                batch.extend(self.samples_at(first + interval * (s as i32), interval));
            }
            let pool = pool.clone();
            let sent = (last - step) * hosts as u64;
            in_flight.spawn(async move { (ingest::store(&pool, &batch).await, sent) });
            if in_flight.len() >= 2 {
                if let Some(done) = in_flight.join_next().await {
                    let (stored, sent) = done?;
                    written += stored?;
                    bar.inc(sent);
                }
            }
            step = last;
        }
        while let Some(done) = in_flight.join_next().await {
            let (stored, sent) = done?;
            written += stored?;
            bar.inc(sent);
        }
        bar.finish();
        Ok(written)
    }
}

/// Drains the rollup queues (hourly, then daily) and refreshes planner statistics.
pub async fn roll_up_all(pool: &PgPool, show_progress: bool) -> anyhow::Result<()> {
    let queued: i64 = sqlx::query_scalar("SELECT (SELECT count(*) FROM rollup_queue_hourly) + (SELECT count(*) FROM rollup_queue_daily)").fetch_one(pool).await?;
    let bar = progress(queued.max(0) as u64, "rollups", show_progress);
    loop {
        for tier in [rollups::Tier::Hourly, rollups::Tier::Daily] {
            loop {
                let done = rollups::process_queue(pool, tier, 200).await?;
                if done == 0 {
                    break;
                }
                bar.inc(done as u64);
            }
        }
        // A server's rollup worker may hold some entries (SKIP LOCKED passes them by) and queue
        // days after the daily pass: done only when nothing complete is left in either queue.
        let left: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM rollup_queue_hourly WHERE bucket + interval '1 hour' <= now())
                  + (SELECT count(*) FROM rollup_queue_daily WHERE bucket + interval '1 day' <= now())",
        )
        .fetch_one(pool)
        .await?;
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    bar.finish();
    // Fresh statistics after a bulk load, so the first queries get good plans.
    sqlx::query("ANALYZE samples, rollup_hourly, rollup_daily, hosts")
        .execute(pool)
        .await?;
    Ok(())
}

pub fn write_truth(path: &Path, truth: &GroundTruth) -> anyhow::Result<()> {
    let json = serde_json::to_string_pretty(truth)?;
    std::fs::write(path, json)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan {
            hosts: 25,
            days: 60,
            interval_secs: 600,
            seed: 7,
            until: DateTime::from_timestamp(1_790_000_000, 0).expect("valid"),
        }
    }

    #[test]
    fn the_rhythm_has_no_step_anywhere_in_a_week_and_weekends_are_quieter() {
        // A Monday midnight.
        let monday = DateTime::from_timestamp(1_796_601_600, 0).expect("valid");
        assert_eq!(monday.weekday(), chrono::Weekday::Mon);
        assert_eq!(monday.hour(), 0);
        let minutes = 7 * 24 * 60 + 1;
        let values: Vec<f64> = (0..minutes)
            .map(|m| rhythm(monday + Duration::minutes(m)))
            .collect();
        let largest_step = values
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0, f64::max);
        // The daily sine moves at most 2π/1440 ≈ 0.0044 a minute; the old switch at midnight
        // moved 0.32 at once.
        assert!(largest_step < 0.01, "largest step {largest_step}");
        let day_mean =
            |day: usize| values[day * 1440..(day + 1) * 1440].iter().sum::<f64>() / 1440.0;
        assert!(
            day_mean(2).abs() < 0.01,
            "a Wednesday averages 0: {}",
            day_mean(2)
        );
        assert!(
            (day_mean(5) + 0.2).abs() < 0.05,
            "a Saturday is damped: {}",
            day_mean(5)
        );
        let swing = |day: usize| {
            let slice = &values[day * 1440..(day + 1) * 1440];
            slice.iter().copied().fold(f64::MIN, f64::max)
                - slice.iter().copied().fold(f64::MAX, f64::min)
        };
        assert!(
            swing(6) < 0.5 * swing(3),
            "Sunday swings less: {} vs {}",
            swing(6),
            swing(3)
        );
        assert_eq!(weekend_weight(monday + Duration::hours(12)), 0.0);
        assert_eq!(weekend_weight(monday + Duration::hours(6 * 24)), 1.0);
    }

    #[test]
    fn plans_are_deterministic_and_spread_over_groups_and_clusters() {
        let (a, b) = (plan_hosts(&plan()), plan_hosts(&plan()));
        assert_eq!(
            serde_json::to_string(&a).ok(),
            serde_json::to_string(&b).ok()
        );
        let groups: std::collections::BTreeSet<_> =
            a.hosts.iter().map(|h| h.group_id.clone()).collect();
        assert_eq!(groups.len(), 2);
        assert!(
            a.hosts.iter().any(|h| h.growth_per_day.cpu >= 0.2),
            "some hosts grow fast"
        );
        assert!(
            a.hosts.iter().map(|h| h.incidents.len()).sum::<usize>() > 25,
            "about six incidents per host over 60 days"
        );
    }

    #[test]
    fn samples_follow_the_trend_and_stay_in_range() {
        let truth = plan_hosts(&plan());
        let host = &truth.hosts[0];
        let normal = Normal::new(0.0, 1.0).expect("valid");
        let mut state = HostState {
            rng: StdRng::seed_from_u64(1),
            normal,
            noise: [0.0; 3],
            net_in: 0,
            net_out: 0,
            disk_read: 0,
            disk_write: 0,
        };
        let mut previous_counter = 0;
        for d in 0..60 {
            let s = sample_at(
                host,
                &mut state,
                truth.start + Duration::days(d),
                truth.start,
                600.0,
            );
            assert!(
                (0.0..=100.0).contains(&s.cpu.percent) && (0.0..=100.0).contains(&s.memory.percent)
            );
            assert!(
                s.network.bytes_recv > previous_counter,
                "counters only grow"
            );
            previous_counter = s.network.bytes_recv;
            let expected_disk =
                (host.base.disk + host.growth_per_day.disk * d as f64).clamp(1.0, 99.9);
            assert!(
                (s.disk.percent - expected_disk).abs() < 1.0,
                "disk follows its trend: {} vs {expected_disk}",
                s.disk.percent
            );
        }
    }
}
