//! Custom metrics: single and batch ingest with per-item reasons, reading back with tag filters,
//! rollups, and alert rules on a custom metric.
use crate::common::{post, spawn_app};
use chrono::{Duration, Utc};
use serde_json::{json, Value};

#[tokio::test]
async fn custom_metrics_are_stored_validated_item_by_item_and_read_back() {
    let app = spawn_app().await;
    let seed = json!({"name": "custom_api_calls", "value": 150, "unit": "count", "category": "business",
        "tags": {"service": "api", "endpoint": "/api/v1/config"}});
    let (status, body) = post(&app, "/api/v1/performance/metrics", &seed).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["data"]["metric_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("metric_")),
        "{body}"
    );
    assert!(body["data"]["created_at"].is_string());

    let (status, bad) = post(
        &app,
        "/api/v1/performance/metrics",
        &json!({"name": "x", "value": "NaN"}),
    )
    .await;
    assert_eq!(
        (status, bad["error"]["code"].as_str()),
        (400, Some("INVALID_METRIC_VALUE")),
        "{bad}"
    );
    let (status, bad) = post(&app, "/api/v1/performance/metrics", &json!({"value": 1})).await;
    assert_eq!(
        (status, bad["error"]["code"].as_str()),
        (400, Some("INVALID_METRIC_VALUE")),
        "{bad}"
    );
    assert!(bad["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("name"));

    let long_name = "n".repeat(200);
    let mut items = vec![
        json!({"name": "api_response_time", "value": 150, "unit": "ms", "category": "performance", "tags": {"service": "api"}}),
        json!({"name": "api_requests_count", "value": 25, "unit": "count", "category": "business"}),
        json!({"name": "bad_value", "value": "Infinity"}),
        json!({"value": 3}),
        json!({"name": "bad_tags", "value": 1, "tags": {"service": 5}}),
        json!({"name": long_name, "value": 1}),
        json!({"name": "cpu_percent", "value": 1}),
        json!({"name": "future", "value": 1, "timestamp": (Utc::now() + Duration::hours(2)).to_rfc3339()}),
        json!({"name": "on_a_host", "value": 1, "host": "no-such-vm"}),
        json!({"name": "api_response_time", "value": 250, "unit": "ms", "category": "performance", "tags": {"service": "web"}}),
    ];
    let (status, batch) = post(
        &app,
        "/api/v1/performance/metrics/batch",
        &json!({ "metrics": items.clone() }),
    )
    .await;
    assert_eq!(status, 200, "{batch}");
    assert_eq!(batch["data"]["accepted"], 3, "{batch}");
    assert_eq!(batch["data"]["rejected"], 7, "{batch}");
    assert_eq!(
        batch["data"]["metric_ids"].as_array().map(Vec::len),
        Some(3)
    );
    let reasons: Vec<(u64, String)> = batch["data"]["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["index"].as_u64().expect("index"),
                e["reason"].as_str().expect("reason").to_owned(),
            )
        })
        .collect();
    let expect = [
        (2, "finite"),
        (3, "name"),
        (4, "tags"),
        (5, "too long"),
        (6, "built-in"),
        (7, "future"),
        (8, "host"),
    ];
    assert_eq!(reasons.len(), expect.len(), "{reasons:?}");
    for ((index, reason), (want_index, word)) in reasons.iter().zip(expect) {
        assert_eq!(*index, want_index);
        assert!(reason.contains(word), "item {index}: {reason}");
    }

    items.extend((0..1000).map(|i| json!({"name": "many", "value": i})));
    let (status, too_many) = post(
        &app,
        "/api/v1/performance/metrics/batch",
        &json!({ "metrics": items }),
    )
    .await;
    assert_eq!(status, 200, "{too_many}");
    assert_eq!(
        too_many["data"]["rejected"],
        7 + 10,
        "items past the 1000th are refused as too many: {}",
        too_many["data"]["errors"]
    );

    let (status, read) = app
        .get_json("/api/v1/performance/metrics/api_response_time?minutes=60")
        .await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["data"]["unit"], "ms");
    assert_eq!(
        read["data"]["points"].as_array().map(Vec::len),
        Some(4),
        "two from each batch: {read}"
    );
    assert_eq!(read["data"]["summary"]["max"], 250.0);
    // The answer is the shared typed model: raw points, each with its id and (no) host.
    let typed: app::models::CustomMetricReadout =
        serde_json::from_value(read["data"].clone()).expect("typed readout");
    assert_eq!(
        (typed.resolution, typed.truncated),
        (app::models::CustomMetricResolution::Raw, false)
    );
    assert!(typed.points.iter().all(|p| matches!(
        p,
        app::models::CustomMetricReading::Point(point)
            if point.metric_id.starts_with("metric_") && point.host.is_none() && point.unit == "ms"
    )));
    // A filter nothing matches: no points, a count of 0 and no average or extremes.
    let (_, none) = app
        .get_json("/api/v1/performance/metrics/api_response_time?tags=service:nothing")
        .await;
    assert_eq!(
        none["data"]["summary"],
        json!({"count": 0, "avg": null, "min": null, "max": null}),
        "{none}"
    );
    let (_, filtered) = app
        .get_json("/api/v1/performance/metrics/api_response_time?tags=service:web")
        .await;
    assert_eq!(
        filtered["data"]["points"].as_array().map(Vec::len),
        Some(2),
        "{filtered}"
    );
    assert!(filtered["data"]["points"]
        .as_array()
        .expect("points")
        .iter()
        .all(|p| p["value"] == 250.0));

    // The hourly rollup holds what the points hold.
    let (_, month) = app
        .get_json("/api/v1/performance/metrics/api_response_time?minutes=43200")
        .await;
    assert_eq!(month["data"]["resolution"], "hour");
    assert_eq!(month["data"]["summary"]["count"], 4, "{month}");
    assert_eq!(month["data"]["summary"]["avg"], 200.0);
    let typed: app::models::CustomMetricReadout =
        serde_json::from_value(month["data"].clone()).expect("typed readout");
    assert!(
        typed
            .points
            .iter()
            .all(|p| matches!(p, app::models::CustomMetricReading::Bucket(b) if b.count > 0)),
        "{month}"
    );

    let (status, missing) = app.get_json("/api/v1/performance/metrics/never_sent").await;
    assert_eq!(
        (status, missing["error"]["code"].as_str()),
        (404, Some("METRIC_NOT_FOUND")),
        "{missing}"
    );
    let (status, _) = app
        .get_json("/api/v1/performance/metrics/api_response_time?tags=nocolon")
        .await;
    assert_eq!(status, 400);
    app.stop().await;
}

#[tokio::test]
async fn a_rule_on_a_custom_metric_fires_from_pushed_points() {
    let app = spawn_app().await;
    let rule = json!({"name": "slow api", "metric": "api_latency_ms", "operator": ">=", "threshold": 500, "level": "critical"});
    let (status, created) = post(&app, "/api/v1/performance/alerts/rules", &rule).await;
    assert_eq!(status, 200, "{created}");
    let now = Utc::now();
    let points: Vec<_> = (0..5).map(|i| json!({"name": "api_latency_ms", "value": 100 + i * 200, "timestamp": (now - Duration::seconds(50 - i * 10)).to_rfc3339()})).collect();
    let (status, _) = post(
        &app,
        "/api/v1/performance/metrics/batch",
        &json!({ "metrics": points }),
    )
    .await;
    assert_eq!(status, 200);
    for _ in 0..50 {
        let (_, body) = app.get_json("/api/v1/performance/alerts?type=custom").await;
        if let Some(alert) = body["data"]["alerts"].as_array().and_then(|a| a.first()) {
            assert_eq!(alert["metric"], "api_latency_ms");
            assert_eq!(
                alert["value"], 500.0,
                "the first value at or above the threshold"
            );
            assert_eq!(alert["level"], "critical");
            assert_eq!(body["data"]["alerts"].as_array().map(Vec::len), Some(1));
            app.stop().await;
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no alert for the custom metric");
}

#[tokio::test]
async fn the_summary_has_the_seed_shape_with_directions_totals_and_alert_counts() {
    use crate::common::{assert_same_shape, ingest, sample, seed};
    let app = spawn_app().await;
    let vm = "summary-vm";
    let start = Utc::now() - Duration::minutes(59);
    // CPU climbs 20 → 90.8 % (the default CPU rule fires near the end), memory alternates around
    // 50 %, 1 000 bytes sent and 2 000 received per minute.
    let items: Vec<_> = (0..60)
        .map(|i| {
            let mut s = sample(
                start + Duration::minutes(i),
                20.0 + i as f64 * 1.2,
                if i % 2 == 0 { 49.0 } else { 51.0 },
            );
            s["network"]["bytes_sent"] = json!(10_000 + i * 1000);
            s["network"]["bytes_recv"] = json!(50_000 + i * 2000);
            json!({"vmId": vm, "sample": s})
        })
        .collect();
    ingest(&app, items).await;
    let mut body = json!(null);
    for _ in 0..50 {
        let (status, answer) = app
            .get_json(&format!("/api/v1/performance/summary?period=1h&host={vm}"))
            .await;
        assert_eq!(status, 200, "{answer}");
        body = answer;
        if body["data"]["alerts"]["total"] == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_same_shape(&seed("summary"), &body, "summary");
    let data = &body["data"];
    assert_eq!(data["cpu"]["trend"], "increasing", "{data}");
    let typed: app::models::PerformanceSummary =
        serde_json::from_value(data.clone()).expect("typed summary");
    assert_eq!(
        typed.cpu.as_ref().map(|c| c.trend.as_str()),
        Some("increasing")
    );
    assert!(typed.network.is_some());
    assert_eq!(Some(typed.alerts.total), data["alerts"]["total"].as_i64());
    assert_eq!(data["memory"]["trend"], "stable", "{data}");
    assert_eq!(data["disk"]["trend"], "stable");
    assert_eq!(data["cpu"]["current"], 90.8);
    assert_eq!(data["cpu"]["maximum"], 90.8);
    assert_eq!(data["cpu"]["minimum"], 20.0);
    assert_eq!(data["memory"]["average"], 50.0);
    assert_eq!(data["network"]["total_upload"], 59 * 1000);
    assert_eq!(data["network"]["total_download"], 59 * 2000);
    assert_eq!(
        data["alerts"]["total"], 1,
        "the default CPU rule fired once: {data}"
    );
    assert_eq!(data["alerts"]["warning"], 1);

    let (_, only_cpu) = app
        .get_json(&format!(
            "/api/v1/performance/summary?period=24h&host={vm}&metrics=cpu"
        ))
        .await;
    assert!(
        only_cpu["data"].get("memory").is_none() && only_cpu["data"].get("cpu").is_some(),
        "{only_cpu}"
    );
    let (status, bad) = app.get_json("/api/v1/performance/summary?period=2h").await;
    assert_eq!(
        (status, bad["error"]["code"].as_str()),
        (400, Some("VALIDATION_ERROR"))
    );
    app.stop().await;
}

#[tokio::test]
async fn a_hosts_custom_metrics_are_read_for_its_page_merged_over_tag_sets_in_the_ranges_tier() {
    use app::models::CustomMetricResolution;
    use lookout::history::custom::of_host;
    let app = spawn_app().await;
    let now = Utc::now();
    for vm in ["page-01", "page-02"] {
        crate::common::ingest(
            &app,
            vec![json!({"vmId": vm, "sample": crate::common::sample(now, 10.0, 40.0)})],
        )
        .await;
    }
    let ago = |minutes: i64| (now - Duration::minutes(minutes)).to_rfc3339();
    crate::common::post_metrics(
        &app,
        &[
            // One metric in two tag sets at one instant, a second metric, another host's point
            // and a point ten days back.
            json!({"name": "queue.depth", "value": 10, "unit": "count", "host": "page-01", "tags": {"queue": "a"}, "timestamp": ago(30)}),
            json!({"name": "queue.depth", "value": 30, "unit": "count", "host": "page-01", "tags": {"queue": "b"}, "timestamp": ago(30)}),
            json!({"name": "api.latency", "value": 120.5, "unit": "ms", "host": "page-01", "timestamp": ago(20)}),
            json!({"name": "queue.depth", "value": 999, "unit": "count", "host": "page-02", "timestamp": ago(30)}),
            json!({"name": "queue.depth", "value": 50, "unit": "count", "host": "page-01", "timestamp": ago(10 * 1440)}),
        ],
    )
    .await;
    let host_id: i32 = sqlx::query_scalar("SELECT id FROM hosts WHERE vm_id = 'page-01'")
        .fetch_one(&app.pool)
        .await
        .expect("host");

    let hour = of_host(
        &app.pool,
        host_id,
        None,
        (now - Duration::hours(1), now),
        240,
        now,
    )
    .await
    .expect("read");
    assert_eq!(hour.resolution, CustomMetricResolution::Raw);
    assert_eq!(hour.more, 0);
    // (name, unit, [(mean, min, max)]) per metric.
    type Shape<'a> = (&'a str, &'a str, Vec<(f64, f64, f64)>);
    let shape: Vec<Shape<'_>> = hour
        .metrics
        .iter()
        .map(|m| {
            let buckets = m.buckets.iter().map(|b| (b.1, b.2, b.3)).collect();
            (m.name.as_str(), m.unit.as_str(), buckets)
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("api.latency", "ms", vec![(120.5, 120.5, 120.5)]),
            ("queue.depth", "count", vec![(20.0, 10.0, 30.0)]),
        ],
        "the other host's 999 and the old point are not in it"
    );

    // Over two weeks: the hourly rollups, with the point ten days back.
    let fortnight = of_host(
        &app.pool,
        host_id,
        None,
        (now - Duration::days(14), now),
        240,
        now,
    )
    .await
    .expect("read");
    assert_eq!(fortnight.resolution, CustomMetricResolution::Hour);
    let depth = fortnight
        .metrics
        .iter()
        .find(|m| m.name == "queue.depth")
        .expect("queue.depth");
    let means: Vec<f64> = depth.buckets.iter().map(|b| b.1).collect();
    assert_eq!(means, [50.0, 20.0]);

    // What the compare page offers: metrics any host sent in the last week, with their units.
    let offered =
        lookout::storage::custom_metrics::sent_by_hosts(&app.pool, now - Duration::days(7))
            .await
            .expect("read");
    assert_eq!(
        offered,
        [
            ("api.latency".to_owned(), "ms".to_owned()),
            ("queue.depth".to_owned(), "count".to_owned())
        ]
    );

    // The host view's interactive charts read the same through the series endpoint.
    let range = format!(
        // A width that does not divide the range into whole seconds (a chart's pixels).
        "start={}&end={}&points=573",
        (now - Duration::hours(1)).timestamp_millis(),
        now.timestamp_millis()
    );
    let (status, chart) = app
        .get_json(&format!(
            "/api/v1/history/series?vmId=page-01&metrics=custom:queue.depth,custom:api.latency,custom:gone&{range}"
        ))
        .await;
    assert_eq!(status, 200, "{chart}");
    let data = &chart["data"];
    assert_eq!(
        (&data["resolution"], &data["stepSeconds"]),
        (&json!("10s"), &json!(10)),
        "an hour in at most 573 buckets: 6.28 s, so 10 s"
    );
    assert_eq!(data["t"].as_array().map(Vec::len), Some(2), "{data}");
    assert_eq!(
        data["series"]["custom:queue.depth.avg"],
        json!([20.0, null])
    );
    assert_eq!(
        data["series"]["custom:queue.depth.max"],
        json!([30.0, null])
    );
    assert_eq!(
        data["series"]["custom:api.latency.avg"],
        json!([null, 120.5])
    );
    assert_eq!(
        data["notes"],
        json!(["no point of `gone` from this host in this range"])
    );
    for bad in ["custom:queue.depth,cpu", "custom:1bad"] {
        let (status, refused) = app
            .get_json(&format!(
                "/api/v1/history/series?vmId=page-01&metrics={bad}&{range}"
            ))
            .await;
        assert_eq!(
            (status, refused["error"].as_str()),
            (400, Some("400")),
            "{bad}: {refused}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn the_capacity_page_plans_each_hosts_custom_metrics_in_their_own_unit() {
    let app = spawn_app().await;
    let now = Utc::now();
    let today = now - Duration::seconds(now.timestamp().rem_euclid(86_400));
    crate::common::ingest(
        &app,
        vec![json!({"vmId": "app-vm", "sample": crate::common::sample(now - Duration::minutes(1), 20.0, 30.0)})],
    )
    .await;
    // 30 complete days of hourly points: 100 req/s on the first day, 2 more each day after; one
    // noisy hour a day the daily mean absorbs. A metric that stopped 20 days ago, one of 5
    // days, and today's points (a partial day) are not planned.
    let mut points = Vec::new();
    for day in 0..30 {
        for hour in 0..24 {
            let ts = today - Duration::days(30 - day) + Duration::hours(hour);
            let value = 100.0 + 2.0 * day as f64 + if hour == 12 { 23.0 } else { -1.0 };
            points.push(json!({"name": "api.requests", "value": value, "unit": "req/s", "host": "app-vm", "timestamp": ts}));
        }
    }
    for hour in 0..6 {
        points.push(json!({"name": "api.requests", "value": 5000.0, "unit": "req/s", "host": "app-vm", "timestamp": today + Duration::hours(hour).min(now - today)}));
    }
    for day in 20..40 {
        points.push(json!({"name": "old.queue", "value": 7.0, "unit": "count", "host": "app-vm", "timestamp": today - Duration::days(day)}));
    }
    for day in 1..6 {
        points.push(json!({"name": "new.cache_hits", "value": 7.0, "host": "app-vm", "timestamp": today - Duration::days(day)}));
    }
    crate::common::post_metrics(&app, &points).await;

    let hosts = lookout::storage::hosts::all(&app.pool)
        .await
        .expect("hosts");
    let trends = lookout::capacity::app_metrics::trends(
        &app.pool,
        &hosts,
        (now - Duration::days(180), now),
        90.0,
        None,
    )
    .await
    .expect("trends");
    assert_eq!(trends.len(), 1, "{trends:?}");
    let t = &trends[0];
    assert_eq!(
        (t.name.as_str(), t.unit.as_str(), t.vm_id.as_str(), t.days),
        ("api.requests", "req/s", "app-vm", 30)
    );
    // Daily means 100 + 2d (23 hours at −1 and one at +23 average to 0): 158 on the last day,
    // +60 a month (38 % of 158), 338 ninety days on.
    assert!((t.level_now - 158.0).abs() < 1e-6, "{t:?}");
    assert!((t.monthly_change - 60.0).abs() < 1e-6, "{t:?}");
    assert!((t.monthly_relative.expect("level") - 60.0 / 158.0).abs() < 1e-9);
    assert!((t.predicted - 338.0).abs() < 1e-6, "{t:?}");

    let cookie = crate::common::session(&app).await;
    let page = crate::common::page(&app, &cookie, "/capacity").await;
    assert!(
        page.contains("data-testid=\"app-metric\" data-name=\"api.requests\" data-vm=\"app-vm\""),
        "the row is on the page"
    );
    assert!(page.contains("+38.0 %"), "its monthly growth");
    assert!(!page.contains("old.queue") && !page.contains("new.cache_hits"));

    // A capacity through the API: refused values, unknown metrics, a reader; then 250 req/s,
    // which the line (158 + 2 a day) reaches (250 − 158) / 2 = 46 days after the last day.
    let path = "/api/v1/performance/metrics/api.requests/capacity";
    let (status, unset) = app.get_json(path).await;
    assert_eq!(status, 200, "{unset}");
    assert_eq!(
        (&unset["data"]["capacity"], &unset["data"]["unit"]),
        (&Value::Null, &json!("req/s"))
    );
    for body in [
        json!({"capacity": 0}),
        json!({"capacity": -5}),
        json!({"capacity": "NaN"}),
        json!({"capacity": 1e16}),
        json!({"capacity": 300, "unit": "req/s"}),
        json!({}),
    ] {
        let (status, refused) = crate::common::put(&app, path, &body).await;
        assert_eq!(
            (status, refused["error"]["code"].as_str()),
            (400, Some("VALIDATION_ERROR")),
            "{body}: {refused}"
        );
    }
    for unknown in ["no.such.metric", "cpu_percent", "bad%20name"] {
        let (status, missing) = crate::common::put(
            &app,
            &format!("/api/v1/performance/metrics/{unknown}/capacity"),
            &json!({"capacity": 5}),
        )
        .await;
        assert_eq!(
            (status, missing["error"]["code"].as_str()),
            (404, Some("METRIC_NOT_FOUND")),
            "{unknown}: {missing}"
        );
    }
    let reader = crate::common::reader_token(&app).await;
    let status = app
        .client
        .put(format!("{}{path}", app.address))
        .bearer_auth(&reader)
        .json(&json!({"capacity": 250}))
        .send()
        .await
        .expect("sent")
        .status();
    assert_eq!(status.as_u16(), 403);
    let (status, set) = crate::common::put(&app, path, &json!({"capacity": 250})).await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(set["data"]["capacity"], 250.0);
    assert!(set["data"]["updated_by"]
        .as_str()
        .is_some_and(|by| !by.is_empty()));
    let (_, read) = app.get_json(path).await;
    assert_eq!(read["data"]["capacity"], 250.0);
    let trends = lookout::capacity::app_metrics::trends(
        &app.pool,
        &hosts,
        (now - Duration::days(180), now),
        90.0,
        None,
    )
    .await
    .expect("trends");
    let t = &trends[0];
    assert_eq!((t.capacity, t.days_to_capacity), (Some(250.0), Some(46.0)));
    // The same through `/history/trends` with `customMetrics`: the host's trend in camelCase
    // beside the catalogue's, and why the others have none.
    let (status, answer) = post(
        &app,
        "/api/v1/history/trends",
        &json!({"startTime": (now - Duration::days(180)).to_rfc3339(), "endTime": now.to_rfc3339(),
                "forecast": {"enabled": true, "horizon": 90},
                "customMetrics": ["api.requests", "old.queue", "no.such.metric"]}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let planned = answer["data"]["customMetrics"]
        .as_array()
        .expect("customMetrics");
    assert_eq!(planned.len(), 1, "{answer}");
    assert_eq!(
        (
            &planned[0]["name"],
            &planned[0]["vmId"],
            &planned[0]["unit"]
        ),
        (&json!("api.requests"), &json!("app-vm"), &json!("req/s"))
    );
    assert!((planned[0]["levelNow"].as_f64().expect("level") - 158.0).abs() < 1e-6);
    assert!((planned[0]["predicted"].as_f64().expect("predicted") - 338.0).abs() < 1e-6);
    assert_eq!(
        (&planned[0]["capacity"], &planned[0]["daysToCapacity"]),
        (&json!(250.0), &json!(46.0))
    );
    let skipped = answer["data"]["customMetricsSkipped"]
        .as_array()
        .expect("skipped");
    let reason = |name: &str| {
        skipped
            .iter()
            .find(|s| s["name"] == name)
            .and_then(|s| s["reason"].as_str())
            .unwrap_or_else(|| panic!("{name} skipped: {answer}"))
            .to_owned()
    };
    assert!(reason("old.queue").contains("at most 2 days before its end"));
    assert!(reason("no.such.metric").contains("has been stored"));
    assert!(
        answer["data"]["historical"].is_array(),
        "the catalogue's trends too"
    );
    let too_many: Vec<String> = (0..21).map(|i| format!("m{i}")).collect();
    let (status, refused) = post(
        &app,
        "/api/v1/history/trends",
        &json!({"customMetrics": too_many}),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    let last_day = today - Duration::days(1);
    assert_eq!(
        t.capacity_date.map(|d| d.date_naive()),
        Some((last_day + Duration::days(46)).date_naive())
    );
    let page = crate::common::page(&app, &cookie, "/capacity").await;
    let when = (last_day + Duration::days(46))
        .format("%Y-%m-%d")
        .to_string();
    assert!(
        page.contains(&format!("{when} (in 46 days)")),
        "the crossing on the page"
    );
    assert!(page.contains("63 % used"), "158 of 250");

    // The page's form: a word refused with the reason, 150 (passed already: "now"), then
    // cleared by an empty value; another origin is refused.
    let (status, location) = crate::common::post_form(
        &app,
        &cookie,
        "/capacity/metrics",
        &[("name", "api.requests"), ("capacity", "lots")],
    )
    .await;
    assert_eq!(status, 303);
    assert!(
        location.contains("error=`capacity` must be a number, got `lots`"),
        "{location}"
    );
    let (_, location) = crate::common::post_form(
        &app,
        &cookie,
        "/capacity/metrics",
        &[("name", "api.requests"), ("capacity", "150")],
    )
    .await;
    assert!(
        location.contains("notice=api.requests: capacity 150 req/s for every host."),
        "{location}"
    );
    let page = crate::common::page(&app, &cookie, "/capacity").await;
    assert!(page.contains(">now<"), "the line is past 150 already");
    let (_, location) = crate::common::post_form(
        &app,
        &cookie,
        "/capacity/metrics",
        &[
            ("name", "api.requests"),
            ("capacity", ""),
            ("history", "365"),
            ("group", ""),
        ],
    )
    .await;
    assert!(
        location.contains(
            "notice=api.requests: the capacity for every host is cleared.&history=365#app-metrics"
        ),
        "back to the view it was sent from: {location}"
    );
    let (_, read) = app.get_json(path).await;
    assert_eq!(read["data"]["capacity"], Value::Null);
    let status = app
        .client
        .post(format!("{}/capacity/metrics", app.address))
        .header(reqwest::header::COOKIE, format!("lookout_session={cookie}"))
        .header(reqwest::header::ORIGIN, "https://elsewhere.example")
        .form(&[("name", "api.requests"), ("capacity", "999")])
        .send()
        .await
        .expect("sent")
        .status();
    assert_eq!(status.as_u16(), 403);
    let (status, cleared) = crate::common::delete(&app, path).await;
    assert_eq!((status, &cleared["data"]["capacity"]), (200, &Value::Null));
    app.stop().await;
}

#[tokio::test]
async fn a_hosts_own_capacity_replaces_the_metrics_for_that_host() {
    let app = spawn_app().await;
    let now = Utc::now();
    let today = now - Duration::seconds(now.timestamp().rem_euclid(86_400));
    // Two hosts serving the same 100 + 2 a day requests for 30 complete days.
    let mut points = Vec::new();
    for host in ["app-vm", "big-vm"] {
        crate::common::ingest(
            &app,
            vec![json!({"vmId": host, "sample": crate::common::sample(now - Duration::minutes(1), 20.0, 30.0)})],
        )
        .await;
        for day in 0..30 {
            let ts = today - Duration::days(30 - day) + Duration::hours(12);
            let value = 100.0 + 2.0 * day as f64;
            points.push(json!({"name": "api.requests", "value": value, "unit": "req/s", "host": host, "timestamp": ts}));
        }
    }
    crate::common::post_metrics(&app, &points).await;
    let metric = "/api/v1/performance/metrics/api.requests/capacity";
    let big = format!("{metric}/hosts/big-vm");
    let (status, _) = crate::common::put(&app, metric, &json!({"capacity": 250})).await;
    assert_eq!(status, 200);
    // Refusals: a value that is not a capacity, a host or metric never seen, a reader.
    let (status, refused) = crate::common::put(&app, &big, &json!({"capacity": -1})).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (400, Some("VALIDATION_ERROR"))
    );
    let (status, refused) = crate::common::put(
        &app,
        &format!("{metric}/hosts/nope-vm"),
        &json!({"capacity": 500}),
    )
    .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (404, Some("HOST_NOT_FOUND")),
        "{refused}"
    );
    let (status, refused) = crate::common::put(
        &app,
        "/api/v1/performance/metrics/no.such/capacity/hosts/big-vm",
        &json!({"capacity": 500}),
    )
    .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (404, Some("METRIC_NOT_FOUND"))
    );
    let reader = crate::common::reader_token(&app).await;
    let status = app
        .client
        .put(format!("{}{big}", app.address))
        .bearer_auth(&reader)
        .json(&json!({"capacity": 500}))
        .send()
        .await
        .expect("sent")
        .status();
    assert_eq!(status.as_u16(), 403);

    let (status, set) = crate::common::put(&app, &big, &json!({"capacity": 500})).await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(set["data"]["capacity"], 250.0, "the metric's stays");
    assert_eq!(
        (
            &set["data"]["hosts"][0]["host"],
            &set["data"]["hosts"][0]["capacity"]
        ),
        (&json!("big-vm"), &json!(500.0))
    );
    let (_, read) = app.get_json(metric).await;
    assert_eq!(
        read["data"]["hosts"].as_array().map(Vec::len),
        Some(1),
        "{read}"
    );

    // Planned: app-vm against 250 ((250 − 158) / 2 = 46 days), big-vm against its own 500
    // ((500 − 158) / 2 = 171 days).
    let (status, answer) = post(
        &app,
        "/api/v1/history/trends",
        &json!({"startTime": (now - Duration::days(90)).to_rfc3339(), "endTime": now.to_rfc3339(),
                "customMetrics": ["api.requests"]}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let planned = |vm: &str| {
        answer["data"]["customMetrics"]
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["vmId"] == vm))
            .cloned()
            .unwrap_or_else(|| panic!("{vm} planned: {answer}"))
    };
    let (small, large) = (planned("app-vm"), planned("big-vm"));
    assert_eq!(
        (
            &small["capacity"],
            &small["capacityScope"],
            &small["daysToCapacity"]
        ),
        (&json!(250.0), &json!("metric"), &json!(46.0))
    );
    assert_eq!(
        (
            &large["capacity"],
            &large["capacityScope"],
            &large["daysToCapacity"]
        ),
        (&json!(500.0), &json!("host"), &json!(171.0))
    );

    // The page marks the host's own and its form sets and clears one host's.
    let cookie = crate::common::session(&app).await;
    let page = crate::common::page(&app, &cookie, "/capacity").await;
    let row = page
        .split(r#"data-name="api.requests" data-vm="big-vm""#)
        .nth(1)
        .and_then(|rest| rest.split("</tr>").next())
        .expect("big-vm's row");
    assert!(row.contains("500/s") && row.contains("this host"), "{row}");
    assert!(
        page.contains("api.requests (capacity 250/s)"),
        "the form names the metric's"
    );
    for (capacity, host, answer) in [
        (
            "400",
            "big-vm",
            "notice=api.requests: capacity 400 req/s on big-vm.",
        ),
        ("400", "nope-vm", "error=no host with vmId `nope-vm`"),
        (
            "",
            "big-vm",
            "notice=api.requests on big-vm: the metric's capacity applies again.",
        ),
    ] {
        let (_, location) = crate::common::post_form(
            &app,
            &cookie,
            "/capacity/metrics",
            &[
                ("name", "api.requests"),
                ("capacity", capacity),
                ("host", host),
            ],
        )
        .await;
        assert!(location.contains(answer), "{location}");
    }
    let (_, read) = app.get_json(metric).await;
    assert_eq!(
        (&read["data"]["capacity"], &read["data"]["hosts"]),
        (&json!(250.0), &json!([]))
    );
    // Through the API too: set, then deleted.
    let (status, _) = crate::common::put(&app, &big, &json!({"capacity": 500})).await;
    assert_eq!(status, 200);
    let (status, cleared) = crate::common::delete(&app, &big).await;
    assert_eq!((status, &cleared["data"]["hosts"]), (200, &json!([])));
    app.stop().await;
}
