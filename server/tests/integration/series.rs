//! `GET /api/v1/history/series`: the chart read path.
use crate::common::{ingest, post, sample, spawn_app, wait_for_rollups, TestApp};
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::{json, Value};

async fn series(app: &TestApp, query: &str) -> (u16, Value) {
    app.get_json(&format!("/api/v1/history/series?{query}"))
        .await
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// `/history/query` points of one host as (epoch ms, cpu usage).
async fn query_points(
    app: &TestApp,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    aggregation: &str,
) -> Vec<(i64, f64)> {
    let (status, body) = post(app, "/api/v1/history/query", &json!({
        "vmIds": ["chart-1"], "startTime": start, "endTime": end, "metrics": ["cpu"], "aggregation": aggregation, "pageSize": 1000,
    }))
    .await;
    assert_eq!(status, 200, "{body}");
    body["data"]["data"]
        .as_array()
        .expect("points")
        .iter()
        .map(|p| {
            let t: DateTime<Utc> = p["timestamp"]
                .as_str()
                .and_then(|t| t.parse().ok())
                .expect("timestamp");
            (ms(t), p["cpu"]["usagePercent"].as_f64().expect("cpu"))
        })
        .collect()
}

fn pairs(body: &Value, column: &str) -> Vec<(i64, f64)> {
    let t = body["data"]["t"].as_array().expect("t");
    let v = body["data"]["series"][column]
        .as_array()
        .unwrap_or_else(|| panic!("{column} in {body}"));
    assert_eq!(t.len(), v.len(), "one value per instant");
    t.iter()
        .zip(v)
        .filter_map(|(t, v)| Some((t.as_i64()?, v.as_f64()?)))
        .collect()
}

#[tokio::test]
async fn series_choose_the_tier_from_range_and_points_and_equal_the_query_api() {
    let app = spawn_app().await;
    // Millisecond instants: the series endpoint takes epoch milliseconds.
    let now = DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).expect("now");
    let mut items = Vec::new();
    // The last two hours at one sample a minute; hourly samples 10 and 40 days back.
    for i in 0..120 {
        let ts = now - Duration::minutes(120 - i);
        items.push(json!({"vmId": "chart-1", "sample": sample(ts, (i % 37) as f64 + 0.25, 50.0)}));
    }
    let old = |days: i64| {
        (now - Duration::days(days))
            .duration_trunc(Duration::hours(1))
            .expect("hour")
    };
    for h in 0..48 {
        items.push(json!({"vmId": "chart-1", "sample": sample(old(10) + Duration::hours(h), (h % 11) as f64 * 3.0, 50.0)}));
        items.push(json!({"vmId": "chart-1", "sample": sample(old(40) + Duration::hours(h), (h % 7) as f64 * 5.0, 50.0)}));
    }
    assert_eq!(ingest(&app, items).await["stored"], 216);
    wait_for_rollups(&app).await;

    // The last hour in 800 points: raw samples, the same as /query raw.
    let (start, end) = (now - Duration::hours(1), now);
    let (status, body) = series(
        &app,
        &format!(
            "vmId=chart-1&metrics=cpu.usagePercent&start={}&end={}&points=800",
            ms(start),
            ms(end)
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["resolution"], "raw");
    assert!(
        body["data"]["series"]["cpu.usagePercent.min"].is_null(),
        "raw points have no band"
    );
    assert_eq!(
        pairs(&body, "cpu.usagePercent.avg"),
        query_points(&app, start, end, "raw").await
    );

    // Two hours in 30 points: 5-minute buckets (25), the same averages as /query at 5m.
    let start = now - Duration::hours(2);
    let (_, body) = series(
        &app,
        &format!(
            "vmId=chart-1&metrics=cpu&start={}&end={}&points=30",
            ms(start),
            ms(end)
        ),
    )
    .await;
    assert_eq!(body["data"]["resolution"], "5m", "{body}");
    assert_eq!(body["data"]["stepSeconds"], 300);
    assert!(
        body["data"]["t"].as_array().map_or(0, Vec::len) <= 30,
        "never more points than asked"
    );
    assert_eq!(
        pairs(&body, "cpu.usagePercent.avg"),
        query_points(&app, start, end, "5m").await
    );
    let (mins, maxs) = (
        pairs(&body, "cpu.usagePercent.min"),
        pairs(&body, "cpu.usagePercent.max"),
    );
    assert!(
        mins.iter().zip(&maxs).all(|(a, b)| a.1 <= b.1),
        "a min–max band"
    );

    // Starting just past the raw window (7 days): hourly rollups, equal to /query at 1h.
    let start = now - Duration::days(7) - Duration::minutes(1);
    let end = now - Duration::days(6);
    let (_, body) = series(
        &app,
        &format!(
            "vmId=chart-1&metrics=cpu&start={}&end={}&points=800",
            ms(start),
            ms(end)
        ),
    )
    .await;
    assert_eq!(body["data"]["resolution"], "1h", "{body}");
    let start10 = old(10) - Duration::hours(1);
    let (_, body) = series(
        &app,
        &format!(
            "vmId=chart-1&metrics=cpu&start={}&end={}&points=800",
            ms(start10),
            ms(start10 + Duration::days(2))
        ),
    )
    .await;
    assert_eq!(body["data"]["resolution"], "1h");
    assert_eq!(
        pairs(&body, "cpu.usagePercent.avg"),
        query_points(&app, start10, start10 + Duration::days(2), "1h").await
    );
    assert_eq!(pairs(&body, "cpu.usagePercent.avg").len(), 48);

    // Starting just past the hourly window (30 days): daily rollups, equal to /query at 1d.
    let start40 = old(40) - Duration::days(1);
    let (_, body) = series(
        &app,
        &format!(
            "vmId=chart-1&metrics=cpu&start={}&end={}&points=800",
            ms(start40),
            ms(start40 + Duration::days(4))
        ),
    )
    .await;
    assert_eq!(body["data"]["resolution"], "1d", "{body}");
    assert_eq!(
        pairs(&body, "cpu.usagePercent.avg"),
        query_points(&app, start40, start40 + Duration::days(4), "1d").await
    );
    // 29 days in 100 points: hourly would be 697 buckets, so daily.
    let (_, body) = series(
        &app,
        &format!(
            "vmId=chart-1&metrics=cpu&start={}&end={}&points=100",
            ms(now - Duration::days(29)),
            ms(now)
        ),
    )
    .await;
    assert_eq!(body["data"]["resolution"], "1d");
    app.stop().await;
}

#[tokio::test]
async fn series_validation_errors_use_the_history_envelope() {
    let app = spawn_app().await;
    let now = Utc::now();
    assert_eq!(
        ingest(
            &app,
            vec![
                json!({"vmId": "chart-2", "sample": sample(now - Duration::minutes(1), 5.0, 5.0)})
            ]
        )
        .await["stored"],
        1
    );
    let range = format!("start={}&end={}", ms(now - Duration::hours(1)), ms(now));
    for (query, status, code, words) in [
        (
            format!("vmId=chart-2&metrics=cpu.usagePercnt&{range}"),
            400,
            "400",
            "did you mean `cpu.usagePercent`",
        ),
        (
            format!(
                "vmId=chart-2&start={}&end={}",
                ms(now),
                ms(now - Duration::hours(1))
            ),
            400,
            "400-TIME",
            "after",
        ),
        (
            format!(
                "vmId=chart-2&start={}&end={}",
                ms(now - Duration::days(800)),
                ms(now)
            ),
            400,
            "400-TIME",
            "2 years",
        ),
        (
            format!("vmId=chart-2&{range}&points=3"),
            400,
            "400",
            "points",
        ),
        (range.clone(), 400, "400", "vmId"),
        (format!("vmId=nobody&{range}"), 404, "404", "nobody"),
        (
            format!("vmId=chart-2&{range}&colour=red"),
            400,
            "400",
            "colour",
        ),
    ] {
        let (got, body) = series(&app, &query).await;
        assert_eq!(got, status, "{query}: {body}");
        assert_eq!(body["error"], code, "{query}: {body}");
        assert!(
            body["detail"].as_str().unwrap_or_default().contains(words),
            "{query}: {body}"
        );
    }
    app.stop().await;
}

/// Containers and GPUs an agent reports: stored with the raw sample, shown by `/stats`, charted
/// one line per member; a malformed list rejects the item with its reason.
#[tokio::test]
async fn containers_and_gpus_are_stored_shown_and_charted_per_member() {
    let app = spawn_app().await;
    let now = DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).expect("now");
    let items: Vec<Value> = (0..10)
        .map(|i| {
            let mut s = sample(now - Duration::minutes(10 - i), 30.0, 40.0);
            s["containers"] = json!([
                {"id": "a".repeat(64), "name": "api", "cpu_percent": 50.0 + i as f64, "memory_bytes": 104_857_600u64 * (i as u64 + 1),
                 "memory_limit_bytes": 1_073_741_824u64, "read_bps": 0.0, "write_bps": 1000.0},
                {"id": "b".repeat(64), "name": "nginx", "cpu_percent": 5.0, "memory_bytes": 52_428_800u64, "read_bps": 0.0, "write_bps": 0.0},
            ]);
            s["gpus"] = json!([{"index": 0, "name": "L4", "utilization_percent": 80.0, "memory_used_bytes": 1_073_741_824u64,
                                "memory_total_bytes": 25_769_803_776u64, "temperature_celsius": 61.0, "power_watts": 55.5}]);
            json!({"vmId": "gpu-1", "sample": s})
        })
        .collect();
    assert_eq!(ingest(&app, items).await["stored"], 10);

    let (status, stats) = app.get_json("/api/v1/performance/stats?host=gpu-1").await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["data"]["containers"][0]["name"], "api");
    assert_eq!(
        stats["data"]["containers"][0]["cpu_percent"], 59.0,
        "the newest sample"
    );
    assert_eq!(stats["data"]["gpus"][0]["power_watts"], 55.5);

    let (start, end) = (now - Duration::hours(1), now);
    let (status, body) = series(
        &app,
        &format!(
            "vmId=gpu-1&metrics=containers,gpus&start={}&end={}&points=800",
            ms(start),
            ms(end)
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let api = pairs(&body, "container:api.cpuPercent.avg");
    assert_eq!(api.len(), 10);
    assert_eq!(api[0].1, 50.0);
    assert_eq!(
        pairs(&body, "container:api.memoryMB.avg")[1].1,
        200.0,
        "MiB"
    );
    assert_eq!(
        pairs(&body, "container:nginx.cpuPercent.avg").len(),
        10,
        "one line per container"
    );
    assert_eq!(pairs(&body, "gpu:0.temperatureC.avg")[0].1, 61.0);
    // Buckets: the average and the maximum of each member.
    let (_, body) = series(
        &app,
        &format!(
            "vmId=gpu-1&metrics=containers&start={}&end={}&points=20",
            ms(start),
            ms(end)
        ),
    )
    .await;
    assert_eq!(body["data"]["resolution"], "5m", "{body}");
    assert!(
        body["data"]["series"]["container:api.cpuPercent.max"].is_array(),
        "{body}"
    );
    // A host without them has no such series, and old ranges say why.
    let (_, body) = series(
        &app,
        &format!(
            "vmId=gpu-1&metrics=gpus&start={}&end={}&points=100",
            ms(now - Duration::days(20)),
            ms(end)
        ),
    )
    .await;
    assert!(
        body["data"]["notes"][0]
            .as_str()
            .is_some_and(|n| n.contains("gpus")),
        "{body}"
    );

    let mut bad = sample(now, 30.0, 40.0);
    bad["containers"] = json!([{"id": "x", "name": "", "cpu_percent": -1.0, "memory_bytes": 0, "read_bps": 0.0, "write_bps": 0.0}]);
    let mut typo = sample(now - Duration::seconds(1), 30.0, 40.0);
    typo["gpus"] = json!([{"index": 0, "name": "L4", "utilisation_percent": 5.0}]);
    let result = ingest(
        &app,
        vec![
            json!({"vmId": "gpu-1", "sample": sample(now - Duration::seconds(2), 1.0, 1.0)}),
            json!({"vmId": "gpu-1", "sample": bad}),
            json!({"vmId": "gpu-1", "sample": typo}),
        ],
    )
    .await;
    assert_eq!(result["accepted"], 1, "{result}");
    let reasons = result["rejected"].to_string();
    assert!(
        reasons.contains("sample.containers") && reasons.contains("sample.gpus"),
        "{reasons}"
    );
    app.stop().await;
}

#[tokio::test]
async fn minute_buckets_over_days_come_from_the_rollups_five_minute_averages() {
    let app = spawn_app().await;
    let now = DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).expect("now");
    let first = now.duration_trunc(Duration::hours(1)).expect("hour") - Duration::hours(50);
    // One sample a minute for 50 hours and up to now; CPU follows the minute of the hour.
    let value = |t: DateTime<Utc>| ((t.timestamp() / 60) % 60) as f64 + 0.5;
    let mut items = Vec::new();
    let mut t = first;
    while t <= now {
        items.push(json!({"vmId": "chart-1", "sample": sample(t, value(t), 40.0)}));
        t += Duration::minutes(1);
    }
    for chunk in items.chunks(2000) {
        ingest(&app, chunk.to_vec()).await;
    }
    wait_for_rollups(&app).await;

    let start = now - Duration::hours(48);
    let (status, body) = series(
        &app,
        &format!(
            "vmId=chart-1&metrics=cpu.usagePercent&start={}&end={}&points=800",
            ms(start),
            ms(now)
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["resolution"], "5m", "{body}");
    assert!(
        body["data"]["notes"]
            .to_string()
            .contains("five-minute averages"),
        "{}",
        body["data"]["notes"]
    );
    let avg = pairs(&body, "cpu.usagePercent.avg");
    let min = pairs(&body, "cpu.usagePercent.min");
    let max = pairs(&body, "cpu.usagePercent.max");
    // Every 5-minute bucket of the range, the one filling now included (read from raw).
    let expected_buckets =
        (ms(now) - ms(start.duration_trunc(Duration::minutes(5)).expect("5m"))) / 300_000 + 1;
    assert_eq!(avg.len() as i64, expected_buckets, "{avg:?}");
    for (t, v) in &avg {
        // The five samples of the bucket: minutes m..m+4 of the hour, each m + 0.5.
        let bucket = DateTime::from_timestamp_millis(*t).expect("t");
        let minute = (bucket.timestamp() / 60) % 60;
        let in_range: Vec<f64> = (0..5)
            .map(|k| bucket + Duration::minutes(k))
            .filter(|s| *s >= start && *s <= now)
            .map(value)
            .collect();
        let mean = in_range.iter().sum::<f64>() / in_range.len() as f64;
        // Buckets cut by the range's ends average what the range holds only when read from raw.
        if in_range.len() == 5 {
            assert!(
                (v - (minute as f64 + 2.5)).abs() < 0.01,
                "bucket {bucket}: {v}"
            );
        } else {
            assert!(
                (v - mean).abs() < 0.01 || (v - (minute as f64 + 2.5)).abs() < 0.01,
                "bucket {bucket}: {v}"
            );
        }
    }
    // Settled hours' bands are their hour's: 0.5 to 59.5.
    let settled = ms(now.duration_trunc(Duration::hours(1)).expect("hour") - Duration::hours(2));
    let hour_band: Vec<(f64, f64)> = min
        .iter()
        .zip(&max)
        .filter(|((t, _), _)| *t < settled)
        .map(|((_, lo), (_, hi))| (*lo, *hi))
        .collect();
    assert!(!hour_band.is_empty());
    assert!(
        hour_band
            .iter()
            .all(|(lo, hi)| (*lo - 0.5).abs() < 0.01 && (*hi - 59.5).abs() < 0.01),
        "{hour_band:?}"
    );
    app.stop().await;
}
