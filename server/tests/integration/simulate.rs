use crate::common::spawn_app;
use chrono::{Duration, Utc};
use serde_json::{json, Value};

#[tokio::test]
async fn the_simulator_writes_a_fleet_through_the_ingest_path_and_rolls_it_up() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let truth = dir.path().join("truth.json");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_lookout"))
        .args(["simulate", "--hosts", "4", "--days", "3", "--interval", "600", "--seed", "9", "--truth"])
        .arg(&truth)
        .env("DATABASE_URL", app.database_url.as_deref().expect("external database"))
        .output()
        .expect("lookout runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("1728 samples"), "{stdout}");
    let truth: Value = serde_json::from_str(&std::fs::read_to_string(&truth).expect("truth file")).expect("JSON");
    assert_eq!(truth["hosts"].as_array().map(Vec::len), Some(4));
    assert!(truth["hosts"][0]["growthPerDay"]["cpu"].is_number());

    let (status, hosts) = app.get_json("/api/v1/hosts?groupId=grp_01").await;
    assert_eq!(status, 200);
    assert_eq!(hosts["data"]["pagination"]["total"], 4);
    let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM rollup_queue_hourly WHERE bucket < now() - interval '1 hour'")
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
    assert!(points.iter().all(|p| (0.0..=100.0).contains(&p["cpu"]["usagePercent"].as_f64().unwrap_or(-1.0))));
    app.stop().await;
}
