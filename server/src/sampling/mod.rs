//! Sampling of the local host: a collector on a timer, a bounded in-memory buffer that rides out
//! database outages, and a batch writer to PostgreSQL.
pub mod collector;
pub mod containers;
pub mod gpus;
pub mod procfs;
pub mod rates;
mod sockdiag;

use crate::{
    alerts::{AlertEngine, LocalProcesses, Observation},
    live::Hub,
    storage::{
        hosts,
        samples::{self, Present, SampleRow},
    },
};
use anyhow::Context;
use app::models::{LiveEvent, Stats, SystemInfo};
use collector::Collector;
use sqlx::PgPool;
use std::{
    collections::VecDeque,
    path::PathBuf,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};
use tokio::sync::{watch, Notify};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

/// Rows per INSERT: large enough to amortise round trips, small enough to keep statements quick.
const WRITE_CHUNK: usize = 500;
/// Writes are at least this far apart, so a 1 s sampler costs one transaction per 5 s, not 5.
/// Live clients get every sample at once regardless; at most this much is lost on a crash.
const MIN_WRITE_SPACING: Duration = Duration::from_secs(5);

/// The machine Lookout runs on, as handlers see it.
#[derive(Clone)]
pub struct LocalHost {
    pub vm_id: Arc<str>,
    pub name: Arc<str>,
    pub host_id: i32,
    latest: watch::Receiver<Option<Stats>>,
    collector: Arc<Mutex<Collector>>,
}

fn lock(collector: &Mutex<Collector>) -> MutexGuard<'_, Collector> {
    // A panic inside a sample leaves the collector usable; its counters are merely one sample old.
    collector
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl LocalHost {
    /// The newest sample, if one was taken since start.
    pub fn latest(&self) -> Option<Stats> {
        self.latest.borrow().clone()
    }

    /// The processes using the most CPU at the last sample (empty if that cannot be read).
    pub async fn top_processes(&self, count: usize) -> Vec<String> {
        let collector = self.collector.clone();
        tokio::task::spawn_blocking(move || lock(&collector).top_processes(count))
            .await
            .unwrap_or_default()
    }

    pub async fn system_info(&self) -> anyhow::Result<SystemInfo> {
        let collector = self.collector.clone();
        tokio::task::spawn_blocking(move || lock(&collector).system_info())
            .await
            .context("system information task failed")
    }
}

impl LocalProcesses for LocalHost {
    fn host_id(&self) -> i32 {
        self.host_id
    }

    fn top_processes(&self, count: usize) -> futures_util::future::BoxFuture<'_, Vec<String>> {
        Box::pin(LocalHost::top_processes(self, count))
    }
}

/// Samples waiting to be written, oldest first, bounded to the configured window.
struct SampleBuffer {
    rows: Mutex<VecDeque<SampleRow>>,
    capacity: usize,
    /// Samples evicted since the last successful write (logged when the database is back).
    dropped: Mutex<u64>,
    ready: Notify,
}

impl SampleBuffer {
    fn rows(&self) -> MutexGuard<'_, VecDeque<SampleRow>> {
        self.rows.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, row: SampleRow) {
        let mut rows = self.rows();
        if rows.len() >= self.capacity {
            rows.pop_front();
            let mut dropped = self.dropped.lock().unwrap_or_else(|p| p.into_inner());
            if *dropped == 0 {
                tracing::warn!(
                    capacity = self.capacity,
                    "Sample buffer full; dropping the oldest samples until the database is back."
                );
            }
            *dropped += 1;
            crate::counters::add(crate::counters::SAMPLES_DROPPED, &[], 1);
        }
        rows.push_back(row);
        drop(rows);
        self.ready.notify_one();
    }

    fn front_chunk(&self) -> Vec<SampleRow> {
        self.rows().iter().take(WRITE_CHUNK).cloned().collect()
    }

    /// Removes rows written up to `last`; rows evicted meanwhile are simply already gone.
    fn remove_written(&self, last: chrono::DateTime<chrono::Utc>) {
        let mut rows = self.rows();
        while rows.front().is_some_and(|r| r.ts <= last) {
            rows.pop_front();
        }
    }

    fn len(&self) -> usize {
        self.rows().len()
    }

    fn take_dropped(&self) -> u64 {
        std::mem::take(&mut *self.dropped.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// How the local host's samples are taken and written.
pub struct WriterSettings {
    pub interval: Duration,
    pub buffer_capacity: usize,
    /// Where samples the last flush could not store are written for the next start.
    pub spill_dir: PathBuf,
    /// How long the last flush at shutdown may try before spilling what is left.
    pub final_flush: Duration,
    pub unflushed: Unflushed,
}

/// Samples the last flush at shutdown could not store: how many, and the file holding them.
#[derive(Clone, Debug)]
pub struct Spilled {
    pub count: usize,
    /// The file holding them; `None` when it could not be written either (they are lost).
    pub path: Option<PathBuf>,
}

/// Set by the writer when it spills at shutdown; read by the shutdown to choose the exit code.
#[derive(Clone, Default)]
pub struct Unflushed(Arc<Mutex<Option<Spilled>>>);

impl Unflushed {
    pub fn get(&self) -> Option<Spilled> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
    fn set(&self, spilled: Spilled) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(spilled);
    }
}

/// How long after the priming reading the first sample is taken: long enough for CPU times to
/// move (sysinfo wants 200 ms at least), short enough that a fresh server has a sample at once.
const FIRST_SAMPLE_AFTER: Duration = Duration::from_secs(1);

/// Registers the local host, then samples it every `interval` until `shutdown`, publishing each
/// sample live and writing it to PostgreSQL in batches.
pub async fn start(
    pool: PgPool,
    hub: Hub,
    alerts: AlertEngine,
    writer: WriterSettings,
    shutdown: CancellationToken,
    tasks: &TaskTracker,
) -> anyhow::Result<LocalHost> {
    let (interval, buffer_capacity) = (writer.interval, writer.buffer_capacity);
    let collector = tokio::task::spawn_blocking(Collector::new)
        .await
        .context("collector start-up task failed")??;
    let facts = collector.host_facts();
    let (host_id, previous_boot) = hosts::upsert(&pool, &facts)
        .await
        .context("cannot register the local host")?;
    if previous_boot.is_some() && facts.boot_time.is_some() && previous_boot != facts.boot_time {
        tracing::info!(host = %facts.vm_id, boot_time = ?facts.boot_time, "The local host rebooted since the last run.");
        hub.publish(&LiveEvent::SystemChange {
            host: facts.vm_id.clone(),
            change: "boot".into(),
            timestamp: collector::now_millis(),
        });
        if let Some(boot) = facts.boot_time {
            let reboot = crate::storage::timeline::NewEvent {
                host_id,
                ts: boot,
                kind: "power_change",
                title: "VM rebooted",
                description: Some("the boot time changed since Lookout last ran"),
                severity: None,
                state: Some(("poweredOff", "poweredOn")),
                created_by: None,
                ends_at: None,
            };
            if let Err(error) = crate::storage::timeline::add(&pool, &facts.vm_id, &reboot).await {
                tracing::warn!(%error, "Cannot record the reboot on the timeline.");
            }
        }
    }
    let today = chrono::Utc::now().date_naive();
    let days: Vec<_> = (0..3)
        .filter_map(|d| today.checked_add_days(chrono::Days::new(d)))
        .collect();
    samples::ensure_partitions(&pool, &days)
        .await
        .context("cannot create sample partitions")?;

    let (latest_tx, latest_rx) = watch::channel(None);
    let local = LocalHost {
        vm_id: facts.vm_id.clone().into(),
        name: facts.name.clone().into(),
        host_id,
        latest: latest_rx,
        collector: Arc::new(Mutex::new(collector)),
    };
    let buffer = Arc::new(SampleBuffer {
        rows: Mutex::new(VecDeque::with_capacity(buffer_capacity.min(4096))),
        capacity: buffer_capacity,
        dropped: Mutex::new(0),
        ready: Notify::new(),
    });

    tasks.spawn(sample_loop(
        local.clone(),
        hub,
        alerts,
        interval,
        latest_tx,
        buffer.clone(),
        shutdown.clone(),
    ));
    let spill = Spill {
        path: writer
            .spill_dir
            .join(format!("samples-{}.jsonl", facts.vm_id)),
        unflushed: writer.unflushed,
    };
    tasks.spawn(write_loop(
        pool,
        host_id,
        buffer,
        spill,
        writer.final_flush,
        shutdown,
    ));
    tracing::info!(host = %facts.vm_id, interval_secs = interval.as_secs(), buffer_capacity, "Sampling the local host.");
    Ok(local)
}

async fn sample_loop(
    local: LocalHost,
    hub: Hub,
    alerts: AlertEngine,
    interval: Duration,
    latest: watch::Sender<Option<Stats>>,
    buffer: Arc<SampleBuffer>,
    shutdown: CancellationToken,
) {
    // The collector took a priming reading at start. The first sample comes a second after it
    // (its rates over that second), not a whole interval later: until then the live page and
    // `/stats` have nothing to show (a 503 per request for the first 10 s, measured). Later
    // samples are an interval apart, with full-interval rates.
    let first = interval.min(FIRST_SAMPLE_AFTER);
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + first, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.cancelled() => break,
        }
        let collector = local.collector.clone();
        let stats = match tokio::task::spawn_blocking(move || lock(&collector).sample()).await {
            Ok(stats) => stats,
            Err(error) => {
                tracing::error!(%error, "Sampling the local host failed; skipping this sample.");
                continue;
            }
        };
        buffer.push(SampleRow::from_stats(local.host_id, &stats));
        hub.publish(&LiveEvent::MetricUpdate {
            host: local.vm_id.to_string(),
            metric: stats.clone(),
            absent: Vec::new(),
        });
        alerts
            .observe(vec![Observation::from_sample(
                local.host_id,
                &stats,
                Present::ALL,
            )])
            .await;
        latest.send_replace(Some(stats));
    }
}

/// The file samples go to when the database does not take them before exit.
struct Spill {
    path: PathBuf,
    unflushed: Unflushed,
}

impl Spill {
    /// Appends the rows as JSON lines (one `SampleRow` each).
    fn write(&self, rows: &[SampleRow]) -> std::io::Result<()> {
        use std::io::Write;
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = std::io::BufWriter::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?,
        );
        for row in rows {
            serde_json::to_writer(&mut file, row)?;
            file.write_all(b"\n")?;
        }
        file.into_inner().map_err(|e| e.into_error())?.sync_all()
    }

    /// The rows a previous run spilled, for this host (the host id may differ in this database).
    /// Lines that do not parse (a torn last line) are skipped and counted.
    fn read(&self, host_id: i32) -> std::io::Result<(Vec<SampleRow>, usize)> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok((Vec::new(), 0))
            }
            Err(error) => return Err(error),
        };
        let mut skipped = 0;
        let rows = text
            .lines()
            .filter_map(|line| match serde_json::from_str::<SampleRow>(line) {
                Ok(row) => Some(SampleRow { host_id, ..row }),
                Err(_) => {
                    skipped += 1;
                    None
                }
            })
            .collect();
        Ok((rows, skipped))
    }
}

/// Writes what a previous run spilled, then removes the file (kept if the database refuses).
async fn replay_spilled(pool: &PgPool, host_id: i32, spill: &Spill) {
    let (rows, skipped) = match spill.read(host_id) {
        Ok(found) => found,
        Err(error) => {
            tracing::warn!(%error, path = %spill.path.display(), "Cannot read the samples spilled at the last exit.");
            return;
        }
    };
    if rows.is_empty() && skipped == 0 {
        return;
    }
    for chunk in rows.chunks(WRITE_CHUNK) {
        if let Err(error) = samples::insert_batch(pool, chunk).await {
            tracing::warn!(%error, path = %spill.path.display(), "Cannot write the samples spilled at the last exit; keeping the file for the next start.");
            return;
        }
    }
    if let Err(error) = std::fs::remove_file(&spill.path) {
        tracing::warn!(%error, path = %spill.path.display(), "Cannot remove the replayed spill file.");
    }
    tracing::info!(samples = rows.len(), skipped, path = %spill.path.display(), "Wrote the samples spilled at the last exit.");
}

async fn write_loop(
    pool: PgPool,
    host_id: i32,
    buffer: Arc<SampleBuffer>,
    spill: Spill,
    final_flush: Duration,
    shutdown: CancellationToken,
) {
    replay_spilled(&pool, host_id, &spill).await;
    let mut outage_since: Option<std::time::Instant> = None;
    let mut backoff = Duration::from_secs(1);
    loop {
        let stopping = tokio::select! {
            _ = buffer.ready.notified() => false,
            _ = shutdown.cancelled() => true,
        };
        if stopping {
            final_write(&pool, &buffer, &spill, final_flush).await;
            return;
        }
        loop {
            let chunk = buffer.front_chunk();
            let Some(last) = chunk.last().map(|r| r.ts) else {
                break;
            };
            match samples::insert_batch(&pool, &chunk).await {
                Ok(_) => {
                    buffer.remove_written(last);
                    backoff = Duration::from_secs(1);
                    if let Err(error) = hosts::touch(&pool, host_id, last).await {
                        tracing::debug!(%error, "Could not update the host's last-seen time.");
                    }
                    if let Some(since) = outage_since.take() {
                        tracing::info!(
                            outage_secs = since.elapsed().as_secs(),
                            pending = buffer.len(),
                            dropped = buffer.take_dropped(),
                            "Database reachable again; writing the buffered samples."
                        );
                    }
                }
                Err(error) => {
                    if outage_since.is_none() {
                        outage_since = Some(std::time::Instant::now());
                        tracing::warn!(%error, buffered = buffer.len(), "Cannot write samples; keeping them in memory until the database is back.");
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.cancelled() => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                    if shutdown.is_cancelled() {
                        break;
                    }
                }
            }
        }
        if shutdown.is_cancelled() {
            final_write(&pool, &buffer, &spill, final_flush).await;
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(MIN_WRITE_SPACING) => {}
            _ = shutdown.cancelled() => {}
        }
    }
}

/// The last flush at shutdown: writes what the buffer holds within `limit`; what the database
/// does not take by then is spilled to a file the next start replays, and logged with its count.
async fn final_write(pool: &PgPool, buffer: &SampleBuffer, spill: &Spill, limit: Duration) {
    let flushed = tokio::time::timeout(limit, async {
        loop {
            let chunk = buffer.front_chunk();
            let Some(last) = chunk.last().map(|r| r.ts) else {
                return Ok::<(), sqlx::Error>(());
            };
            samples::insert_batch(pool, &chunk).await?;
            buffer.remove_written(last);
        }
    })
    .await;
    let reason = match flushed {
        Ok(Ok(())) => return,
        Ok(Err(error)) => error.to_string(),
        Err(_) => format!("no answer within {} s", limit.as_secs()),
    };
    let rows: Vec<SampleRow> = buffer.rows().drain(..).collect();
    let dropped = buffer.take_dropped();
    match spill.write(&rows) {
        Ok(()) => {
            tracing::error!(
                samples = rows.len(),
                dropped,
                reason,
                path = %spill.path.display(),
                "The database did not take the last samples; spilled them to a file the next start writes."
            );
            spill.unflushed.set(Spilled {
                count: rows.len(),
                path: Some(spill.path.clone()),
            });
        }
        Err(error) => {
            tracing::error!(lost = rows.len(), dropped, reason, %error, path = %spill.path.display(), "Shutting down with samples neither the database nor the spill file took.");
            spill.unflushed.set(Spilled {
                count: rows.len(),
                path: None,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn row(secs: i64) -> SampleRow {
        let mut row = SampleRow::from_stats(1, &Stats::default());
        row.ts = Utc
            .timestamp_opt(1_700_000_000 + secs, 0)
            .single()
            .expect("valid instant");
        row
    }

    fn buffer(capacity: usize) -> SampleBuffer {
        SampleBuffer {
            rows: Mutex::new(VecDeque::new()),
            capacity,
            dropped: Mutex::new(0),
            ready: Notify::new(),
        }
    }

    #[test]
    fn a_full_buffer_evicts_the_oldest_and_counts_it() {
        let buffer = buffer(3);
        for s in 0..5 {
            buffer.push(row(s));
        }
        assert_eq!(buffer.len(), 3);
        assert_eq!(buffer.front_chunk()[0].ts, row(2).ts);
        assert_eq!(buffer.take_dropped(), 2);
        assert_eq!(buffer.take_dropped(), 0);
    }

    #[test]
    fn written_rows_are_removed_even_if_the_front_was_evicted_meanwhile() {
        let buffer = buffer(3);
        for s in 0..3 {
            buffer.push(row(s));
        }
        let chunk = buffer.front_chunk();
        // Two more samples arrive while the chunk is being written: rows 0 and 1 are evicted.
        buffer.push(row(3));
        buffer.push(row(4));
        buffer.remove_written(chunk[2].ts);
        let left: Vec<_> = buffer.front_chunk().iter().map(|r| r.ts).collect();
        assert_eq!(left, vec![row(3).ts, row(4).ts]);
    }
}
