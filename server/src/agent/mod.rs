//! `lookout agent`: samples this machine with the same collector `serve` uses and sends the
//! samples to a Lookout server over HTTPS, through a durable spool.
//!
//! Every sample is appended to the spool (`spool.rs`) before anything is sent; the sender reads
//! the oldest unacknowledged samples, posts them to `POST /api/v1/ingest/samples` in batches, and
//! acknowledges them once the server answered — so a server or network outage, or the agent being
//! restarted or killed, loses nothing: the backlog is replayed oldest first, paced, when the
//! server is back. The server stores each (host, timestamp) once, so a batch sent twice (a crash
//! between sending and acknowledging) is harmless.
//!
//! The first start exchanges an enrolment token for a per-host token (`POST /api/v1/agents/enrol`),
//! kept in `<state-dir>/token` (mode 0600). The host's identity is `/etc/machine-id` plus a UUID
//! kept in `<state-dir>/id`, not a hardware fingerprint: new hardware or firmware does not make a
//! new host, a reinstall does (an admin re-assigns it).
pub mod spool;

use crate::{config::AgentArgs, sampling::collector::Collector};
use anyhow::Context;
use app::models::{IngestOutcome, IngestRejection, ProcessInfo, Stats};
use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use spool::Spool;
use std::{
    collections::VecDeque,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio_util::sync::CancellationToken;

/// What the agent reads from an ingest answer: the refusals of a partly taken batch (under
/// `data`) or of a wholly refused one (at the top), or a refused batch's `detail`.
#[derive(Debug, Default, Deserialize)]
struct IngestAnswer {
    data: Option<IngestOutcome>,
    rejected: Option<Vec<IngestRejection>>,
    detail: Option<String>,
}

/// Samples per request: a day of one host at 10 s is 18 requests.
const BATCH: usize = 500;
/// While replaying a backlog, at most one batch per this long: a fleet coming back after an
/// outage does not flatten the server (which also answers 429/503 with `Retry-After`).
const REPLAY_PACE: Duration = Duration::from_millis(500);
/// Samples kept in memory while the spool cannot be written (the disk is full).
const RING: usize = 8_640;
/// Processes sent with each sample: the top this many by CPU and by memory.
const TOP_PROCESSES: usize = 5;

/// One item of `POST /api/v1/ingest/samples`, as the spool keeps it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Item<'a> {
    vm_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster_id: Option<&'a str>,
    sample: &'a Stats,
    processes: &'a [ProcessInfo],
    facts: &'a AgentFacts,
}

/// What the agent says about its host with every sample: the server records changes (a reboot,
/// a new kernel) as `system_change` events.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentFacts {
    pub hostname: String,
    pub platform: String,
    pub platform_version: String,
    pub architecture: String,
    pub cpu_model: String,
    pub cpu_cores: i32,
    pub memory_total: i64,
    pub boot_time: Option<DateTime<Utc>>,
    pub agent_version: String,
}

/// Where the agent keeps its state when `--state-dir` is not given.
pub fn default_state_dir() -> PathBuf {
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from("/var/lib/lookout-agent");
    }
    std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("lookout-agent")
}

/// `[A-Za-z0-9._:-]`, as the server accepts vmIds.
pub fn sanitize_vm_id(name: &str) -> String {
    let id: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(128)
        .collect();
    if id.is_empty() {
        "host".into()
    } else {
        id
    }
}

/// SHA-256 of the machine id and the agent's own UUID (created on first start).
fn machine_key(state: &Path) -> anyhow::Result<String> {
    let id_path = state.join("id");
    let uuid = match std::fs::read_to_string(&id_path) {
        Ok(text) if !text.trim().is_empty() => text.trim().to_owned(),
        _ => {
            let fresh = crate::auth::secret::random_secret(32);
            write_private(&id_path, &fresh)?;
            fresh
        }
    };
    let machine = std::fs::read_to_string("/etc/machine-id").unwrap_or_default();
    Ok(hex::encode(Sha256::digest(
        format!("{}:{uuid}", machine.trim()).as_bytes(),
    )))
}

/// Writes a file readable only by its owner (0600), atomically.
fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// The test hook `LOOKOUT_AGENT_CLOCK_OFFSET_MS` shifts the agent's clock (sample times and the
/// batch's send time), to check how the server handles skewed hosts.
fn clock_offset() -> chrono::Duration {
    chrono::Duration::milliseconds(
        std::env::var("LOOKOUT_AGENT_CLOCK_OFFSET_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    )
}

/// Samples waiting in memory because the spool could not take them (disk full).
#[derive(Default)]
struct Ring {
    items: VecDeque<Vec<u8>>,
    dropped: u64,
    failing: bool,
}

struct Shared {
    spool: Mutex<Spool>,
    ring: Mutex<Ring>,
    wake: tokio::sync::Notify,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub async fn run(args: AgentArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let state = args.state_dir.clone().unwrap_or_else(default_state_dir);
    std::fs::create_dir_all(&state)
        .with_context(|| format!("cannot create the state directory {}", state.display()))?;
    let mut collector = tokio::task::spawn_blocking(Collector::new)
        .await
        .context("collector start-up")??;
    let host = collector.host_facts();
    let vm_id = sanitize_vm_id(args.vm_id.as_deref().unwrap_or(&host.vm_id));
    let facts = AgentFacts {
        hostname: host.hostname.clone(),
        platform: host.platform.clone(),
        platform_version: host.platform_version.clone(),
        architecture: host.architecture.clone(),
        cpu_model: host.cpu_model.clone(),
        cpu_cores: host.cpu_cores,
        memory_total: host.memory_total,
        boot_time: host.boot_time,
        agent_version: env!("CARGO_PKG_VERSION").into(),
    };
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(args.insecure_skip_verify)
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("lookout-agent/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let server = args.server.trim_end_matches('/').to_owned();
    let token = token(&client, &server, &state, &vm_id, &args).await?;

    let spool = Spool::open(
        &state.join("spool"),
        args.spool_max_bytes,
        Duration::from_secs(args.spool_max_age_hours * 3600),
    )
    .with_context(|| format!("cannot open the spool in {}", state.join("spool").display()))?;
    let damage = spool.damage;
    if damage != spool::Damage::default() {
        tracing::warn!(
            corrupt = damage.corrupt,
            truncated_bytes = damage.truncated_bytes,
            lost_tails = damage.lost_tails,
            "The spool was damaged; the readable samples are kept."
        );
    }
    tracing::info!(vm = %vm_id, server = %server, backlog = spool.backlog(), interval_secs = args.interval, "Agent started.");
    let shared = Arc::new(Shared {
        spool: Mutex::new(spool),
        ring: Mutex::new(Ring::default()),
        wake: tokio::sync::Notify::new(),
    });

    let sender = tokio::spawn(send_loop(
        client,
        server,
        token,
        shared.clone(),
        shutdown.clone(),
    ));
    let mut ticker = tokio::time::interval(Duration::from_secs(args.interval));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    let offset = clock_offset();
    let mut samples = 0u64;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.cancelled() => break,
        }
        samples += 1;
        // By the second sample start-up is over (enrolled, first batch sent): its code need not
        // stay resident.
        if samples == 2 {
            match crate::trim::release_startup_code() {
                Ok(bytes) => tracing::debug!(bytes, "Start-up code released."),
                Err(error) => tracing::debug!(%error, "Cannot release the start-up code."),
            }
        }
        // A sample reads a few dozen small /proc files (milliseconds): on the agent's one
        // thread that briefly delays the sender, which has all the time it needs.
        let mut stats = collector.sample();
        let processes = collector.process_details(TOP_PROCESSES);
        stats.timestamp += offset;
        let item = Item {
            vm_id: &vm_id,
            name: args.name.as_deref(),
            group_id: args.group.as_deref(),
            cluster_id: args.cluster.as_deref(),
            sample: &stats,
            processes: &processes,
            facts: &facts,
        };
        let bytes = serde_json::to_vec(&item)?;
        store(&shared, bytes);
        shared.wake.notify_one();
    }
    sender.abort();
    let backlog = lock(&shared.spool).backlog();
    tracing::info!(
        backlog,
        "Agent stopped; the spool keeps what the server has not taken."
    );
    Ok(())
}

/// Appends a sample to the spool, or to the memory ring while the spool cannot be written.
fn store(shared: &Shared, bytes: Vec<u8>) {
    let mut ring = lock(&shared.ring);
    let mut spool = lock(&shared.spool);
    // First what waited in memory, oldest first, then the new sample.
    let mut pending: Vec<Vec<u8>> = ring.items.drain(..).collect();
    pending.push(bytes);
    let dropped_before = spool.damage.dropped;
    match spool.append(&pending) {
        Ok(()) => {
            if spool.damage.dropped > dropped_before && dropped_before == 0 {
                tracing::warn!(
                    dropped = spool.damage.dropped,
                    "The spool is over its size or age cap; dropping the oldest samples."
                );
            }
            if ring.failing {
                tracing::info!(
                    written = pending.len(),
                    dropped = ring.dropped,
                    "The spool takes samples again."
                );
                ring.failing = false;
                ring.dropped = 0;
            }
        }
        Err(error) => {
            if !ring.failing {
                tracing::warn!(%error, capacity = RING, "Cannot write the spool; keeping samples in memory until it can.");
                ring.failing = true;
            }
            for item in pending {
                if ring.items.len() >= RING {
                    ring.items.pop_front();
                    ring.dropped += 1;
                }
                ring.items.push_back(item);
            }
        }
    }
}

/// The per-host token: stored, or exchanged for the enrolment token on the first start.
async fn token(
    client: &reqwest::Client,
    server: &str,
    state: &Path,
    vm_id: &str,
    args: &AgentArgs,
) -> anyhow::Result<String> {
    let path = state.join("token");
    if let Ok(stored) = std::fs::read_to_string(&path) {
        if !stored.trim().is_empty() {
            return Ok(stored.trim().to_owned());
        }
    }
    let enrol = args.enrol_token.as_deref().context("no stored host token: give --enrol-token (from `lookout token create --enrol`) for the first start")?;
    let key = machine_key(state)?;
    let body = serde_json::json!({
        "vmId": vm_id, "name": args.name, "groupId": args.group, "clusterId": args.cluster, "machineKey": key,
    });
    let response = client
        .post(format!("{server}/api/v1/agents/enrol"))
        .bearer_auth(enrol)
        .json(&body)
        .send()
        .await
        .context("cannot reach the server to enrol")?;
    let status = response.status();
    let answer: serde_json::Value = response
        .json()
        .await
        .context("the server's enrolment answer is not JSON")?;
    if !status.is_success() {
        anyhow::bail!(
            "enrolment refused ({status}): {}",
            answer["detail"]
                .as_str()
                .or(answer["message"].as_str())
                .unwrap_or("no reason given")
        );
    }
    let token = answer["data"]["token"]
        .as_str()
        .context("the enrolment answer has no token")?
        .to_owned();
    write_private(&path, &token)?;
    tracing::info!(vm = vm_id, path = %path.display(), "Enrolled; the host token is stored.");
    Ok(token)
}

/// How to wait after a failed send: exponential, jittered, at most a minute.
fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_secs(1u64 << attempt.min(6)).min(Duration::from_secs(60));
    let jitter = rand::thread_rng().gen_range(0.5..1.5);
    base.mul_f64(jitter)
}

async fn send_loop(
    client: reqwest::Client,
    server: String,
    token: String,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) {
    let url = format!("{server}/api/v1/ingest/samples");
    let mut attempt = 0u32;
    loop {
        let batch = {
            let mut spool = lock(&shared.spool);
            spool.read(BATCH)
        };
        let batch = match batch {
            Ok(batch) => batch,
            Err(error) => {
                tracing::warn!(%error, "Cannot read the spool; retrying.");
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
        };
        if batch.is_empty() {
            tokio::select! {
                _ = shared.wake.notified() => continue,
                _ = shutdown.cancelled() => return,
            }
        }
        let Some(last) = batch.last().map(|(p, _)| *p) else {
            continue;
        };
        let sent_at = Utc::now() + clock_offset();
        let mut body =
            Vec::with_capacity(batch.iter().map(|(_, b)| b.len() + 1).sum::<usize>() + 64);
        body.extend_from_slice(
            format!(
                "{{\"sentAt\":\"{}\",\"samples\":[",
                sent_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            )
            .as_bytes(),
        );
        for (i, (_, payload)) in batch.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(payload);
        }
        body.extend_from_slice(b"]}");
        let posted = std::time::Instant::now();
        let outcome = client
            .post(&url)
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await;
        let wait = match outcome {
            Ok(response) => {
                let status = response.status();
                // One line per batch at debug level: the fleet benchmark's latency figures.
                tracing::debug!(
                    status = status.as_u16(),
                    items = batch.len(),
                    ms = posted.elapsed().as_secs_f64() * 1000.0,
                    "Batch answered."
                );
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok());
                let answer: IngestAnswer = response.json().await.unwrap_or_default();
                match status.as_u16() {
                    200..=299 | 400 => {
                        // Taken; items the server refused would be refused again: log them and move on.
                        // A partly taken batch lists refusals under `data`, a wholly refused one at the top.
                        let refused = answer.data.map(|d| d.rejected).or(answer.rejected);
                        for rejected in refused.iter().flatten() {
                            tracing::warn!(reason = %rejected.reason, "The server refused a sample.");
                        }
                        if status.as_u16() == 400 && refused.is_none() {
                            tracing::warn!(
                                detail = answer.detail.unwrap_or_default(),
                                "The server refused a batch."
                            );
                        }
                        if let Err(error) = lock(&shared.spool).ack(last) {
                            tracing::warn!(%error, "Cannot record what the server took; it will be sent again.");
                        }
                        attempt = 0;
                        Some(REPLAY_PACE)
                    }
                    429 | 503 => {
                        let base = Duration::from_secs(retry_after.unwrap_or(5).clamp(1, 300));
                        Some(base.mul_f64(rand::thread_rng().gen_range(1.0..1.5)))
                    }
                    401 | 403 => {
                        tracing::error!(%status, detail = answer.detail.as_deref().unwrap_or_default(), "The server refuses this host's token (revoked, or another host's vmId); retrying in a minute.");
                        Some(Duration::from_secs(60))
                    }
                    _ => {
                        attempt += 1;
                        tracing::warn!(%status, "The server did not take the batch; retrying.");
                        Some(backoff(attempt))
                    }
                }
            }
            Err(error) => {
                attempt += 1;
                if attempt == 1 {
                    tracing::warn!(%error, "Cannot reach the server; samples wait in the spool.");
                }
                Some(backoff(attempt))
            }
        };
        if let Some(wait) = wait {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_ids_keep_only_what_the_server_accepts() {
        assert_eq!(sanitize_vm_id("web 01.example.com"), "web-01.example.com");
        assert_eq!(sanitize_vm_id(""), "host");
        assert_eq!(sanitize_vm_id(&"x".repeat(300)).len(), 128);
    }

    #[test]
    fn backoff_grows_and_stays_within_a_minute_and_a_half() {
        assert!(backoff(0) <= Duration::from_millis(1500));
        assert!(backoff(10) <= Duration::from_secs(90));
        assert!(backoff(3) >= Duration::from_secs(4));
    }
}
