//! `lookout agent` against a real server: enrolment, per-host tokens, revocation, an outage with
//! the agent killed in the middle, a damaged spool, a tiny spool, a skewed clock.
use crate::common::{fresh_database, post, sample, settings, spawn_app, spawn_with, TestApp};
use chrono::{DateTime, Utc};
use lookout::{
    auth::{credentials, Scope},
    config::DatabaseArgs,
};
use serde_json::json;
use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

async fn enrolment_token(app: &TestApp, uses: i32) -> String {
    let spec = credentials::NewToken {
        name: "enrolment",
        scopes: &[Scope::AgentsEnrol],
        uses: Some(uses),
        ..Default::default()
    };
    credentials::create(&app.pool, &spec)
        .await
        .expect("enrolment token")
}

/// Starts `lookout agent` sampling every second; its log goes to `<state>/agent.log`.
fn agent(
    port: u16,
    state: &Path,
    vm: &str,
    enrol: Option<&str>,
    extra_env: &[(&str, &str)],
) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(state.join("agent.log"))
        .expect("log");
    let mut command = Command::new(env!("CARGO_BIN_EXE_lookout"));
    command
        .args([
            "agent",
            "--server",
            &format!("http://127.0.0.1:{port}"),
            "--interval",
            "1",
            "--vm-id",
            vm,
            "--state-dir",
        ])
        .arg(state)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log);
    if let Some(token) = enrol {
        command.args(["--enrol-token", token]);
    }
    for (k, v) in extra_env {
        command.env(k, v);
    }
    command.spawn().expect("agent starts")
}

fn kill(child: &mut Child) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
    let _ = child.wait();
}

fn stop(child: &mut Child) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = child.wait();
}

async fn instants(pool: &sqlx::PgPool, vm: &str) -> Vec<DateTime<Utc>> {
    sqlx::query_scalar("SELECT s.ts FROM samples s JOIN hosts h ON h.id = s.host_id WHERE h.vm_id = $1 ORDER BY s.ts")
        .bind(vm)
        .fetch_all(pool)
        .await
        .expect("samples")
}

async fn wait_for_samples(
    pool: &sqlx::PgPool,
    vm: &str,
    n: usize,
    secs: u64,
) -> Vec<DateTime<Utc>> {
    for _ in 0..secs * 5 {
        let found = instants(pool, vm).await;
        if found.len() >= n {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{vm}: fewer than {n} samples within {secs} s");
}

#[tokio::test]
async fn an_agent_enrols_streams_and_its_token_writes_only_its_own_host() {
    let app = spawn_app().await;
    let state = tempfile::tempdir().expect("state");
    let enrol = enrolment_token(&app, 1).await;
    let mut child = agent(app.port, state.path(), "agent-one", Some(&enrol), &[]);
    let seen = wait_for_samples(&app.pool, "agent-one", 3, 20).await;
    assert!(seen.windows(2).all(|w| w[1] > w[0]));
    stop(&mut child);

    // The host token is kept private; the enrolment token is used up.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(state.path().join("token"))
        .expect("token file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let host_token = std::fs::read_to_string(state.path().join("token")).expect("token");
    let reuse = app
        .client
        .post(format!("{}/api/v1/agents/enrol", app.address))
        .bearer_auth(&enrol)
        .json(&json!({"vmId": "agent-two", "machineKey": "x".repeat(64)}))
        .send()
        .await
        .expect("sent");
    assert_eq!(
        reuse.status(),
        401,
        "an exhausted enrolment token no longer authenticates"
    );

    // Facts and top processes arrived with the samples.
    let (platform, enrolled): (Option<String>, bool) = sqlx::query_as(
        "SELECT platform, machine_key IS NOT NULL FROM hosts WHERE vm_id = 'agent-one'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("host");
    assert!(platform.is_some() && enrolled);
    let processes: i64 = sqlx::query_scalar("SELECT count(*) FROM samples s JOIN hosts h ON h.id = s.host_id WHERE h.vm_id = 'agent-one' AND jsonb_array_length(s.top_processes) > 0")
        .fetch_one(&app.pool).await.expect("processes");
    assert!(processes >= 1);

    // The host token writes its own host only.
    let send = |vm: &'static str| {
        let body = json!({"samples": [{"vmId": vm, "sample": sample(Utc::now(), 5.0, 5.0)}]});
        app.client
            .post(format!("{}/api/v1/ingest/samples", app.address))
            .bearer_auth(host_token.trim())
            .json(&body)
            .send()
    };
    assert_eq!(send("agent-one").await.expect("sent").status(), 200);
    let other = send("someone-else").await.expect("sent");
    assert_eq!(other.status(), 403);
    let body: serde_json::Value = other.json().await.expect("json");
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("agent-one"),
        "{body}"
    );

    // Its custom metrics too: a point naming no host is its host's; one naming another host is
    // refused, in a batch as alone, and nothing of that request is stored.
    let push = |path: &'static str, body: serde_json::Value| {
        app.client
            .post(format!("{}/api/v1/performance/metrics{path}", app.address))
            .bearer_auth(host_token.trim())
            .json(&body)
            .send()
    };
    let own = push("", json!({"name": "queue_depth", "value": 3.0}))
        .await
        .expect("sent");
    assert_eq!(own.status(), 200);
    let foreign = push(
        "",
        json!({"name": "queue_depth", "value": 4.0, "host": "someone-else"}),
    )
    .await
    .expect("sent");
    assert_eq!(foreign.status(), 403);
    let mixed = json!({"metrics": [
        {"name": "queue_depth", "value": 5.0, "host": "agent-one"},
        {"name": "queue_depth", "value": 6.0, "host": "someone-else"},
    ]});
    let batch = push("/batch", mixed).await.expect("sent");
    assert_eq!(batch.status(), 403);
    let body: serde_json::Value = batch.json().await.expect("json");
    assert!(body.to_string().contains("item 1"), "{body}");
    let stored: Vec<(Option<String>, f64)> = sqlx::query_as(
        "SELECT h.vm_id, c.value FROM custom_metrics c LEFT JOIN hosts h ON h.id = c.host_id
         WHERE c.name = 'queue_depth' ORDER BY c.value",
    )
    .fetch_all(&app.pool)
    .await
    .expect("custom points");
    assert_eq!(stored, vec![(Some("agent-one".to_string()), 3.0)]);

    // Revoked (through the API) → 401.
    let (_, tokens) = app.get_json("/api/v1/tokens").await;
    let id = tokens["data"]["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .find(|t| t["vmId"] == "agent-one")
        .and_then(|t| t["id"].as_i64())
        .expect("host token listed");
    let revoked = app
        .client
        .delete(format!("{}/api/v1/tokens/{id}", app.address))
        .bearer_auth(&app.token)
        .send()
        .await
        .expect("sent");
    assert_eq!(revoked.status(), 200);
    assert_eq!(send("agent-one").await.expect("sent").status(), 401);

    // Another machine cannot take over the vmId until an admin re-assigns it.
    let enrol2 = enrolment_token(&app, 2).await;
    let other_machine = json!({"vmId": "agent-one", "machineKey": "y".repeat(64)});
    let refused = app
        .client
        .post(format!("{}/api/v1/agents/enrol", app.address))
        .bearer_auth(&enrol2)
        .json(&other_machine)
        .send()
        .await
        .expect("sent");
    assert_eq!(refused.status(), 409);
    let (status, _) = post(&app, "/api/v1/hosts/agent-one/reassign", &json!({})).await;
    assert_eq!(status, 200);
    let taken = app
        .client
        .post(format!("{}/api/v1/agents/enrol", app.address))
        .bearer_auth(&enrol2)
        .json(&other_machine)
        .send()
        .await
        .expect("sent");
    assert_eq!(taken.status(), 200);
    app.stop().await;
}

/// An admin makes an enrolment token through the API; it enrols once, as the answers' typed
/// models say, and is revoked once.
#[tokio::test]
async fn an_admin_makes_an_enrolment_token_that_enrols_once_and_revokes_it() {
    use app::models::{AgentEnrolled, TokenCreated, TokenRevoked};
    let app = spawn_app().await;
    let (status, body) = post(
        &app,
        "/api/v1/tokens",
        &json!({"name": "rack 4", "scopes": ["agents:enrol"], "expiresIn": "24h"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let created: TokenCreated = serde_json::from_value(body["data"].clone()).expect("typed");
    assert_eq!((created.name.as_str(), created.uses), ("rack 4", Some(1)));
    let expires = created.expires_at.expect("an expiry") - Utc::now();
    assert!((23..=24).contains(&expires.num_hours()), "{expires}");
    let (status, bad) = post(
        &app,
        "/api/v1/tokens",
        &json!({"name": "x", "scopes": ["agents:enrol"], "expiresIn": "soon"}),
    )
    .await;
    assert_eq!(status, 400, "{bad}");

    let enrol = |vm: &'static str| {
        app.client
            .post(format!("{}/api/v1/agents/enrol", app.address))
            .bearer_auth(&created.token)
            .json(&json!({"vmId": vm, "machineKey": "k".repeat(64)}))
            .send()
    };
    let first = enrol("rack-4-01").await.expect("sent");
    assert_eq!(first.status(), 200);
    let body: serde_json::Value = first.json().await.expect("json");
    let enrolled: AgentEnrolled = serde_json::from_value(body["data"].clone()).expect("typed");
    assert_eq!(enrolled.vm_id, "rack-4-01");
    assert!(!enrolled.token.is_empty() && enrolled.token != created.token);
    assert_eq!(enrol("rack-4-02").await.expect("sent").status(), 401);

    let (_, tokens) = app.get_json("/api/v1/tokens").await;
    let id = tokens["data"]["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .find(|t| t["name"] == "rack 4")
        .and_then(|t| t["id"].as_i64())
        .expect("listed");
    let revoke = || {
        app.client
            .delete(format!("{}/api/v1/tokens/{id}", app.address))
            .bearer_auth(&app.token)
            .send()
    };
    let revoked = revoke().await.expect("sent");
    assert_eq!(revoked.status(), 200);
    let body: serde_json::Value = revoked.json().await.expect("json");
    let revoked: TokenRevoked = serde_json::from_value(body["data"].clone()).expect("typed");
    assert_eq!((i64::from(revoked.id), revoked.revoked), (id, true));
    assert_eq!(revoke().await.expect("sent").status(), 404);
    app.stop().await;
}

/// The server stops for several intervals; the agent is killed (SIGKILL) in the middle and
/// restarted; when the server is back every sample arrives, once, with no gap.
#[tokio::test]
async fn nothing_is_lost_through_a_server_outage_with_the_agent_killed_in_the_middle() {
    let url = fresh_database().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut config = settings(DatabaseArgs {
        database_url: Some(url),
        data_dir: "unused".into(),
    });
    config.listen = format!("127.0.0.1:{port}").parse().expect("address");
    let app = spawn_with(config.clone()).await;
    let state = tempfile::tempdir().expect("state");
    let enrol = enrolment_token(&app, 1).await;
    let mut child = agent(port, state.path(), "outage-1", Some(&enrol), &[]);
    wait_for_samples(&app.pool, "outage-1", 3, 20).await;
    let down_at = Utc::now();
    app.stop().await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    kill(&mut child);
    let mut child = agent(port, state.path(), "outage-1", None, &[]);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let up_at = Utc::now();
    let app = spawn_with(config).await;
    let pool = app.pool.clone();
    // Wait until samples from after the restart arrive, then stop the agent and let the last batch land.
    let mut arrived = false;
    for _ in 0..100 {
        if instants(&pool, "outage-1")
            .await
            .last()
            .is_some_and(|t| *t > up_at + chrono::Duration::seconds(3))
        {
            arrived = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(arrived, "the agent reaches the server again");
    stop(&mut child);
    let stored = instants(&pool, "outage-1").await;
    let during: Vec<_> = stored
        .iter()
        .filter(|t| **t > down_at && **t < up_at)
        .collect();
    assert!(
        during.len() >= 6,
        "samples taken while the server was down were replayed: {}",
        during.len()
    );
    let widest = stored
        .windows(2)
        .map(|w| (w[1] - w[0]).num_milliseconds())
        .max()
        .unwrap_or(0);
    assert!(
        widest <= 3_000,
        "no gap beyond the agent's own restart: {widest} ms"
    );
    let distinct: i64 = sqlx::query_scalar("SELECT count(DISTINCT ts) FROM samples s JOIN hosts h ON h.id = s.host_id WHERE h.vm_id = 'outage-1'")
        .fetch_one(&app.pool).await.expect("count");
    assert_eq!(distinct as usize, stored.len(), "none twice");
    let log = std::fs::read_to_string(state.path().join("agent.log")).unwrap_or_default();
    assert!(log.contains("Cannot reach the server"), "{log}");
    app.stop().await;
}

#[tokio::test]
async fn a_damaged_spool_is_repaired_and_counted_and_the_agent_keeps_going() {
    let app = spawn_app().await;
    let state = tempfile::tempdir().expect("state");
    let enrol = enrolment_token(&app, 1).await;
    // Enrol with the server up, then stop it so samples pile up in the spool.
    let mut child = agent(app.port, state.path(), "damaged-1", Some(&enrol), &[]);
    wait_for_samples(&app.pool, "damaged-1", 2, 20).await;
    stop(&mut child);
    let spool = state.path().join("spool");
    let segment = std::fs::read_dir(&spool)
        .expect("spool")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "log"))
        .expect("a segment");
    let mut bytes = std::fs::read(&segment).expect("segment");
    // Flip bytes in the middle of the first record and leave a torn tail.
    if bytes.len() > 40 {
        bytes[30] ^= 0xFF;
    }
    bytes.extend_from_slice(&[0x55, 0x01, 0x00]);
    std::fs::write(&segment, &bytes).expect("damage");
    let before = instants(&app.pool, "damaged-1").await.len();
    let mut child = agent(app.port, state.path(), "damaged-1", None, &[]);
    wait_for_samples(&app.pool, "damaged-1", before + 3, 20).await;
    stop(&mut child);
    let log = std::fs::read_to_string(state.path().join("agent.log")).unwrap_or_default();
    assert!(log.contains("The spool was damaged"), "{log}");
    assert!(log.contains("truncated_bytes=3"), "{log}");
    app.stop().await;
}

#[tokio::test]
async fn a_tiny_spool_drops_the_oldest_and_counts_them_without_crashing() {
    let app = spawn_app().await;
    let state = tempfile::tempdir().expect("state");
    let enrol = enrolment_token(&app, 1).await;
    let mut child = agent(app.port, state.path(), "tiny-1", Some(&enrol), &[]);
    wait_for_samples(&app.pool, "tiny-1", 1, 20).await;
    stop(&mut child);
    // Point the agent at a server that is not there, with a spool of a few samples: it keeps
    // sampling, drops the oldest past the cap, and never dies.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_lookout"));
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(state.path().join("tiny.log"))
        .expect("log");
    let mut child = command
        .args([
            "agent",
            "--server",
            &format!("http://127.0.0.1:{dead}"),
            "--interval",
            "1",
            "--vm-id",
            "tiny-1",
            "--spool-max-bytes",
            "12000",
            "--state-dir",
        ])
        .arg(state.path())
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("agent");
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert!(child.try_wait().expect("status").is_none(), "still running");
    stop(&mut child);
    let spool: u64 = std::fs::read_dir(state.path().join("spool"))
        .expect("spool")
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    assert!(
        spool <= 12_000 + 8192,
        "the spool stays near its cap: {spool} B"
    );
    let log = std::fs::read_to_string(state.path().join("tiny.log")).unwrap_or_default();
    assert!(log.contains("dropping the oldest"), "{log}");

    // A full file system (a 64 KiB tmpfs, as root): the agent keeps its samples in memory, says so once, and lives on.
    if nix::unistd::geteuid().is_root() {
        let full = tempfile::tempdir().expect("mount point");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
            .arg(full.path())
            .status()
            .expect("mount");
        assert!(mounted.success());
        for file in ["token", "id"] {
            std::fs::copy(state.path().join(file), full.path().join(file)).expect("copy state");
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(state.path().join("full.log"))
            .expect("log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_lookout"))
            .args([
                "agent",
                "--server",
                &format!("http://127.0.0.1:{dead}"),
                "--interval",
                "1",
                "--vm-id",
                "tiny-1",
                "--state-dir",
            ])
            .arg(full.path())
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("agent");
        let mut filled = false;
        for _ in 0..60 {
            let log = std::fs::read_to_string(state.path().join("full.log")).unwrap_or_default();
            if log.contains("keeping samples in memory") {
                filled = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        assert!(
            child.try_wait().expect("status").is_none(),
            "still running on a full disk"
        );
        stop(&mut child);
        let _ = Command::new("umount").arg(full.path()).status();
        assert!(
            filled,
            "{}",
            std::fs::read_to_string(state.path().join("full.log")).unwrap_or_default()
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_skewed_clock_is_recorded_and_flagged() {
    let app = spawn_app().await;
    let state = tempfile::tempdir().expect("state");
    let enrol = enrolment_token(&app, 1).await;
    // Six and a half minutes behind: samples are accepted (they are in the past), the skew flagged.
    let mut child = agent(
        app.port,
        state.path(),
        "skewed-1",
        Some(&enrol),
        &[("LOOKOUT_AGENT_CLOCK_OFFSET_MS", "-390000")],
    );
    wait_for_samples(&app.pool, "skewed-1", 2, 20).await;
    stop(&mut child);
    let (_, hosts) = app.get_json("/api/v1/hosts?pageSize=100").await;
    let host = hosts["data"]["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .find(|h| h["vmId"] == "skewed-1")
        .cloned()
        .expect("listed");
    let skew = host["clockSkewMs"].as_i64().expect("skew recorded");
    assert!((385_000..=400_000).contains(&skew), "{host}");
    assert_eq!(host["clockSkewFlagged"], true);
    assert_eq!(host["enrolled"], true);

    // Six and a half minutes ahead: the samples are refused, and the agent logs why.
    let ahead = tempfile::tempdir().expect("state");
    let enrol = enrolment_token(&app, 1).await;
    let mut child = agent(
        app.port,
        ahead.path(),
        "skewed-2",
        Some(&enrol),
        &[("LOOKOUT_AGENT_CLOCK_OFFSET_MS", "390000")],
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop(&mut child);
    let log = std::fs::read_to_string(ahead.path().join("agent.log")).unwrap_or_default();
    assert!(log.contains("in the future"), "{log}");
    assert!(instants(&app.pool, "skewed-2").await.is_empty());
    app.stop().await;
}
