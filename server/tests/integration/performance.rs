use crate::common::{assert_same_shape, fresh_database, seed, settings, spawn_app, spawn_with};
use lookout::config::DatabaseArgs;
use serde_json::Value;
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_fresh_server_has_a_local_sample_within_seconds_not_an_interval() {
    let mut settings = settings(DatabaseArgs {
        database_url: Some(fresh_database().await),
        data_dir: "unused".into(),
    });
    // The default interval: before, `/stats` answered 503 for its first 10 s.
    settings.sample_interval = Duration::from_secs(10);
    let app = spawn_with(settings).await;
    let started = Instant::now();
    let mut status = 0;
    while started.elapsed() < Duration::from_secs(5) {
        status = app.get("/api/v1/performance/stats").await.status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        status, 200,
        "no local sample 5 s after start at a 10 s interval"
    );
    app.stop().await;
}

#[tokio::test]
async fn stats_matches_the_seed_shape_and_reports_this_machine() {
    let app = spawn_app().await;
    app.wait_for_first_sample().await;
    let (status, body) = app.get_json("/api/v1/performance/stats").await;
    assert_eq!(status, 200);
    assert_same_shape(&seed("stats"), &body, "");
    let data = &body["data"];
    assert!(data["cpu"]["cores"].as_u64().expect("cores") >= 1);
    let percent = data["cpu"]["percent"].as_f64().expect("cpu percent");
    assert!((0.0..=100.0).contains(&percent), "{percent}");
    assert!(data["memory"]["total"].as_u64().expect("memory total") > 0);
    assert!(data["processes"]["total"].as_u64().expect("process count") >= 1);
    assert!(data["network"]["in_bps"].as_f64().expect("in_bps") >= 0.0);
    assert!(data["timestamp"].as_str().is_some());
    app.stop().await;
}

#[tokio::test]
async fn system_matches_the_seed_shape_with_server_version() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/api/v1/performance/system").await;
    assert_eq!(status, 200);
    let mut expected = seed("system");
    // The spec renames the seed's `python_version`: this server is not Python.
    let data = expected["data"].as_object_mut().expect("object");
    let version = data
        .remove("python_version")
        .expect("seed has python_version");
    data.insert("server_version".into(), version);
    assert_same_shape(&expected, &body, "");
    assert_eq!(body["data"]["server_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        body["data"]["load_average"].as_array().map(Vec::len),
        Some(3)
    );
    app.stop().await;
}

#[tokio::test]
async fn history_matches_the_seed_shape_and_buckets_samples() {
    let app = spawn_app().await;
    app.wait_for_first_sample().await;
    // Wait until at least two samples are stored.
    for _ in 0..50 {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM samples")
            .fetch_one(&app.pool)
            .await
            .expect("count");
        if count >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let (status, body) = app
        .get_json("/api/v1/performance/history?minutes=5&interval=60")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_same_shape(&seed("history"), &body, "");
    let points = body["data"]["metrics"].as_array().expect("points");
    assert!(!points.is_empty());
    // Byte counters are whole numbers, as in the seed.
    assert!(points[0]["network_bytes_recv"].is_u64(), "{}", points[0]);

    // The summary is computed from the raw samples: check it against the database.
    let (avg, max, min): (f64, f64, f64) = sqlx::query_as(
        "SELECT avg(cpu_percent)::float8, max(cpu_percent)::float8, min(cpu_percent)::float8 FROM samples WHERE ts >= now() - interval '5 minutes'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("summary");
    let summary = &body["data"]["summary"];
    assert!((summary["max_cpu"].as_f64().expect("max") - max).abs() < 0.01);
    assert!((summary["min_cpu"].as_f64().expect("min") - min).abs() < 0.01);
    // A sample may land between the two reads; avg is compared loosely.
    assert!((summary["avg_cpu"].as_f64().expect("avg") - avg).abs() < 5.0);

    let (_, chosen) = app
        .get_json("/api/v1/performance/history?minutes=5&interval=10&metrics=cpu_percent,load1")
        .await;
    let first = chosen["data"]["metrics"][0].as_object().expect("point");
    let mut keys: Vec<_> = first.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["cpu_percent", "load1", "timestamp"]);
    assert_eq!(
        chosen["data"]["summary"].as_object().map(|s| s.len()),
        Some(3)
    );

    // Every metric an alert rule can watch is also a history metric (one catalogue), computed
    // from the stored columns, and a counter is not watchable.
    let (status, body) = app
        .get_json("/api/v1/performance/history?minutes=5&interval=60&metrics=swap_percent,load15,processes_zombie")
        .await;
    assert_eq!(status, 200, "{body}");
    let first = body["data"]["metrics"][0].as_object().expect("point");
    let swap = first["swap_percent"].as_f64().expect("swap share");
    assert!((0.0..=100.0).contains(&swap), "{body}");
    assert!(first["load15"].as_f64().is_some_and(|v| v >= 0.0), "{body}");
    assert!(first["processes_zombie"].as_f64().is_some(), "{body}");
    let (_, rules) = app.get_json("/api/v1/performance/alerts/rules").await;
    let watchable: Vec<&str> = rules["data"]["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(watchable.contains(&"swap_percent") && watchable.contains(&"load15"));
    assert!(!watchable.contains(&"network_bytes_recv"), "{watchable:?}");
    app.stop().await;
}

#[tokio::test]
async fn bad_requests_get_errors_in_the_envelope_of_the_api_asked() {
    let app = spawn_app().await;
    for query in [
        "minutes=0",
        "minutes=-5",
        "minutes=20000",
        "minutes=abc",
        "interval=0",
        "minutes=10080&interval=1",
        "metrics=cpu_percent,bogus",
        "interval=1e999",
    ] {
        let (status, body) = app
            .get_json(&format!("/api/v1/performance/history?{query}"))
            .await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["status"], "error");
        assert_eq!(body["error"]["code"], "VALIDATION_ERROR", "{query}");
        assert!(!body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .is_empty());
    }
    let (status, body) = app
        .get_json("/api/v1/performance/stats?host=no-such-host")
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "HOST_NOT_FOUND");
    let (status, body): (u16, Value) = app.get_json("/api/v1/performance/nothing-here").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "NOT_FOUND");

    // A route asked with a method it does not take: 405 with `Allow`, in its API's envelope.
    let response = app
        .client
        .delete(format!("{}/api/v1/performance/stats", app.address))
        .bearer_auth(&app.token)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 405);
    let allow = response.headers()["allow"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(allow.contains("GET"), "{allow}");
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "METHOD_NOT_ALLOWED", "{body}");
    let response = app
        .client
        .get(format!("{}/api/v1/history/query", app.address))
        .bearer_auth(&app.token)
        .header("accept-language", "zh")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(
        (&body["code"], &body["error"], &body["message"]),
        (
            &Value::from(405),
            &Value::from("405"),
            &Value::from("请求方法不允许")
        ),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test]
async fn health_checks_need_no_credentials() {
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz"] {
        let response = app
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 200, "{path}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["status"], "success");
    }
    app.stop().await;
}

/// The value of the series `line_start` (name and labels) in a `/metrics` text, if present.
fn metric_value(text: &str, line_start: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(line_start)?.strip_prefix(' '))
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn lookout_counts_its_own_work_for_prometheus() {
    let app = crate::common::spawn_app().await;
    let anonymous = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .expect("sent");
    assert_eq!(anonymous.status(), 401, "a vm:read token is needed");

    let scrape = || async {
        let response = app.get("/metrics").await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "text/plain; version=0.0.4; charset=utf-8"
        );
        response.text().await.expect("text")
    };
    let before = scrape().await;
    let stored_before =
        metric_value(&before, "lookout_samples_stored_total").expect("samples counter");
    let start = chrono::Utc::now() - chrono::Duration::minutes(5);
    let items = (0..3)
        .map(|i| {
            serde_json::json!({"vmId": "counted-01", "sample": crate::common::sample(start + chrono::Duration::seconds(10 * i), 20.0, 30.0)})
        })
        .collect();
    crate::common::ingest(&app, items).await;
    // The rollup worker checks its rollups once before its first step: wait for that step.
    let mut after = scrape().await;
    for _ in 0..100 {
        if after.contains(r#"lookout_job_steps_total{queue="rollup",outcome="idle"}"#) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        after = scrape().await;
    }
    // Counters are per process, and other tests in this binary add to them too.
    let stored_after = metric_value(&after, "lookout_samples_stored_total").expect("counter");
    assert!(
        stored_after >= stored_before + 3,
        "{stored_before} → {stored_after}"
    );
    assert!(
        metric_value(
            &after,
            r#"lookout_job_steps_total{queue="rollup",outcome="idle"}"#
        )
        .is_some_and(|steps| steps >= 1),
        "{after}"
    );
    // Every line is a comment or `name{labels} value`, and every name is described.
    for line in after.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').expect("a value");
        assert!(value.parse::<u64>().is_ok(), "{line}");
        let name = series.split('{').next().unwrap_or_default();
        assert!(
            name.starts_with("lookout_")
                && name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "{line}"
        );
        assert!(
            after.contains(&format!("# TYPE {name} counter\n")),
            "{line}"
        );
        if let Some(labels) = series.strip_prefix(name) {
            assert!(
                labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')),
                "{line}"
            );
        }
    }
    app.stop().await;
}
