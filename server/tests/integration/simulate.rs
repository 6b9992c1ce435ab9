use crate::common::{post, spawn_app};
use chrono::{Duration, Utc};
use serde_json::{json, Value};

#[tokio::test]
async fn the_simulator_writes_a_fleet_through_the_ingest_path_and_rolls_it_up() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let truth = dir.path().join("truth.json");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_lookout"))
        .args([
            "simulate",
            "--hosts",
            "4",
            "--days",
            "3",
            "--interval",
            "600",
            "--seed",
            "9",
            "--truth",
        ])
        .arg(&truth)
        .env(
            "DATABASE_URL",
            app.database_url.as_deref().expect("external database"),
        )
        .output()
        .expect("lookout runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("1728 samples"), "{stdout}");
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(&truth).expect("truth file")).expect("JSON");
    assert_eq!(truth["hosts"].as_array().map(Vec::len), Some(4));
    assert!(truth["hosts"][0]["growthPerDay"]["cpu"].is_number());

    let (status, hosts) = app.get_json("/api/v1/hosts?groupId=grp_01").await;
    assert_eq!(status, 200);
    assert_eq!(hosts["data"]["pagination"]["total"], 4);
    let pending: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM rollup_queue_hourly WHERE bucket < now() - interval '1 hour'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("queue");
    assert_eq!(pending, 0, "the simulator rolls up what it wrote");
    let response = app
        .client
        .post(format!("{}/api/v1/history/query", app.address))
        .bearer_auth(&app.token)
        .json(&json!({"groupId": "grp_01", "startTime": Utc::now() - Duration::days(3), "endTime": Utc::now(), "aggregation": "1d", "metrics": ["cpu"]}))
        .send()
        .await
        .expect("sent");
    let body: Value = response.json().await.expect("json");
    let points = body["data"]["data"].as_array().expect("points");
    assert!(points.len() >= 12, "4 hosts × 3–4 days: {}", points.len());
    assert!(points
        .iter()
        .all(|p| (0.0..=100.0).contains(&p["cpu"]["usagePercent"].as_f64().unwrap_or(-1.0))));
    app.stop().await;
}

/// `--demo`: within about a minute every page has something to show — months of history for
/// the capacity page, anomalies, alerts and timeline events for troubleshooting, groups and
/// clusters — and the hosts keep reporting live, also after a restart.
#[tokio::test]
async fn the_demo_fleet_fills_every_page_and_keeps_reporting() {
    let url = crate::common::fresh_database().await;
    let mut config = crate::common::settings(lookout::config::DatabaseArgs {
        database_url: Some(url.clone()),
        data_dir: "unused".into(),
    });
    config.demo = true;
    let app = crate::common::spawn_with(config.clone()).await;
    let mut ready = false;
    for _ in 0..600 {
        // The seeding keeps the server's pool busy: a poll that waited too long for a connection
        // (on a starved machine) is one more "not yet", not a failure.
        let done: i64 =
            sqlx::query_scalar("SELECT count(*) FROM lookout_maintenance WHERE name = $1")
                .bind(lookout::demo::READY)
                .fetch_one(&app.pool)
                .await
                .unwrap_or(0);
        if done > 0 {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert!(
        ready,
        "the demo fleet is rolled up and judged within 5 minutes (a debug build)"
    );
    let anomalies: i64 = sqlx::query_scalar("SELECT count(*) FROM anomalies")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert!(anomalies > 0, "anomalies to look at");

    let (_, hosts) = app.get_json("/api/v1/hosts?pageSize=100").await;
    let hosts = hosts["data"]["hosts"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let demo: Vec<&Value> = hosts
        .iter()
        .filter(|h| h["vmId"].as_str().is_some_and(|v| v.starts_with("sim-")))
        .collect();
    assert_eq!(demo.len(), 12, "{hosts:?}");
    let groups: std::collections::BTreeSet<&str> =
        demo.iter().filter_map(|h| h["groupId"].as_str()).collect();
    let clusters: std::collections::BTreeSet<&str> = demo
        .iter()
        .filter_map(|h| h["clusterId"].as_str())
        .collect();
    assert!(
        groups.len() >= 4 && clusters.len() >= 2,
        "{groups:?} {clusters:?}"
    );

    let (status, trends) = post(&app, "/api/v1/history/trends", &json!({
        "startTime": Utc::now() - Duration::days(150), "endTime": Utc::now(), "metrics": ["cpu", "memory", "disk"], "forecast": {"enabled": true},
    }))
    .await;
    assert_eq!(status, 200, "{trends}");
    assert!(
        trends["data"]["warning"].is_null(),
        "enough history for a forecast without a warning: {}",
        trends["data"]["warning"]
    );
    assert!(
        trends["data"]["historical"].as_array().map_or(0, Vec::len) >= 120,
        "≥ 120 daily points"
    );

    let (_, alerts) = app
        .get_json("/api/v1/performance/alerts?resolved=true&limit=100")
        .await;
    assert!(
        alerts["data"]["alerts"].as_array().is_some_and(|a| a
            .iter()
            .any(|x| x["host"] == "sim-000"
                || x["vmId"] == "sim-000"
                || x.to_string().contains("sim-000"))),
        "{alerts}"
    );

    let (_, timeline) = app
        .get_json("/api/v1/history/timeline/sim-002?pageSize=100")
        .await;
    let kinds: std::collections::BTreeSet<String> = timeline["data"]["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["type"].as_str().map(str::to_string))
        .collect();
    assert!(
        kinds.contains("power_change"),
        "the two-hour outage shows as power changes: {kinds:?}"
    );
    let (_, timeline) = app
        .get_json("/api/v1/history/timeline/sim-000?pageSize=100")
        .await;
    assert!(
        timeline.to_string().contains("Deployed release 2.14"),
        "{timeline}"
    );
    // Minute samples before the last day's 10-second ones are not gaps (a host that changes its
    // interval is not "off" between its samples).
    let powered: Vec<&Value> = timeline["data"]["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["type"] == "power_change")
        .collect();
    assert!(powered.is_empty(), "sim-000 was never off: {powered:?}");

    // The fleet page lists the application metrics the hosts with containers push (sim-000,
    // sim-004, sim-008), each with its newest value and unit, and none for the others.
    let fleet = lookout::fleet::overview(&app.pool, Utc::now())
        .await
        .expect("fleet");
    let app_metrics = |vm: &str| -> Vec<(String, String)> {
        fleet
            .iter()
            .find(|h| h.vm_id == vm)
            .map(|h| {
                h.app_metrics
                    .iter()
                    .map(|m| (m.name.clone(), m.unit.clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        app_metrics("sim-000"),
        [
            ("api.latency_p95".to_string(), "ms".to_string()),
            ("api.requests".to_string(), "req/s".to_string())
        ]
    );
    assert!(app_metrics("sim-001").is_empty());
    // The capacity page plans them: hourly over the half year, each application growing at its
    // own pace (2, 5 and 9 % a month of its level at seeding).
    let hosts = lookout::storage::hosts::all(&app.pool)
        .await
        .expect("hosts");
    let planned = lookout::capacity::app_metrics::trends(
        &app.pool,
        &hosts,
        (Utc::now() - Duration::days(180), Utc::now()),
        90.0,
        None,
    )
    .await
    .expect("trends");
    let requests = |vm: &str| {
        planned
            .iter()
            .find(|t| t.name == "api.requests" && t.vm_id == vm)
            .unwrap_or_else(|| panic!("api.requests of {vm} in {planned:?}"))
    };
    assert_eq!(planned.len(), 6, "two metrics of three hosts: {planned:?}");
    for (vm, growth) in [("sim-000", 0.02), ("sim-004", 0.05), ("sim-008", 0.09)] {
        let t = requests(vm);
        assert!(t.days >= 170, "{t:?}");
        let relative = t.monthly_relative.expect("a level");
        assert!(
            (relative - growth).abs() < 0.01,
            "{vm}: {relative} a month, not {growth}"
        );
    }
    // The demo's capacity of 135 req/s: sim-008 (110, +9.9 a month) reaches it in about 2.5
    // months, sim-004 (85, +4.25) in about a year, sim-000 (60, +1.2) not within two years; the
    // soonest comes first.
    let reach = |vm: &str| requests(vm).days_to_capacity;
    let soon = reach("sim-008").expect("sim-008 reaches its capacity");
    assert!((55.0..100.0).contains(&soon), "sim-008: {soon} days");
    let later = reach("sim-004").expect("sim-004 reaches its capacity");
    assert!((300.0..420.0).contains(&later), "sim-004: {later} days");
    assert_eq!(reach("sim-000"), None);
    assert_eq!(
        (planned[0].name.as_str(), planned[0].vm_id.as_str()),
        ("api.requests", "sim-008")
    );

    // Live: a sample of the last 30 s for every demo host, and again after a restart.
    let fresh: i64 = sqlx::query_scalar("SELECT count(DISTINCT host_id) FROM samples s JOIN hosts h ON h.id = s.host_id WHERE h.vm_id LIKE 'sim-%' AND ts > now() - interval '30 seconds'")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(fresh, 12);
    app.stop().await;
    let restarted = crate::common::spawn_with(config).await;
    let resumed_at = Utc::now();
    let mut resumed = false;
    for _ in 0..60 {
        let newest: Option<chrono::DateTime<Utc>> =
            sqlx::query_scalar("SELECT max(ts) FROM samples s JOIN hosts h ON h.id = s.host_id WHERE h.vm_id = 'sim-005'")
                .fetch_one(&restarted.pool)
                .await
                .unwrap_or(None); // a poll that found the pool busy: "not yet", as above
        if newest.is_some_and(|t| t >= resumed_at - Duration::seconds(1)) {
            resumed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert!(resumed, "the demo fleet reports again after a restart");
    let seeded: i64 =
        sqlx::query_scalar("SELECT count(*) FROM lookout_maintenance WHERE name = 'demo_fleet'")
            .fetch_one(&restarted.pool)
            .await
            .expect("marker");
    assert_eq!(seeded, 1, "seeded once");
    restarted.stop().await;
}
