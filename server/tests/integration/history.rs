use crate::common::{ingest, post, sample, spawn_app, wait_for_rollups, TestApp};
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::{json, Value};

/// Two hosts, 3 complete hours two days ago at 1-minute spacing with known values.
async fn seed_fleet(app: &TestApp) -> (DateTime<Utc>, Vec<(String, DateTime<Utc>, f64)>) {
    let start = (Utc::now() - Duration::days(2))
        .duration_trunc(Duration::hours(1))
        .expect("aligned");
    let mut items = Vec::new();
    let mut truth = Vec::new();
    for (h, vm) in ["vm_001", "vm_002"].iter().enumerate() {
        for i in 0..180 {
            let ts = start + Duration::minutes(i);
            // Distinct, uneven values so avg, max, min and percentiles all differ.
            let cpu = ((i * 37 + h as i64 * 11) % 97) as f64 + 0.5;
            items.push(json!({"vmId": vm, "name": format!("web-{h}"), "groupId": "grp_001", "clusterId": "cl_1", "sample": sample(ts, cpu, 50.0 + h as f64)}));
            truth.push((vm.to_string(), ts, cpu));
        }
    }
    let result = ingest(app, items).await;
    assert_eq!(result["stored"], 360, "{result}");
    (start, truth)
}

fn percentile_disc(mut values: Vec<f64>, q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    values[(q * (values.len() - 1) as f64).floor() as usize]
}

#[tokio::test]
async fn ingest_is_idempotent_and_reports_bad_items_without_rejecting_good_ones() {
    let app = spawn_app().await;
    let now = Utc::now();
    let good = json!({"vmId": "db-01", "sample": sample(now - Duration::minutes(5), 10.0, 20.0)});
    let items = vec![
        good.clone(),
        json!({"vmId": "db-01", "sample": sample(now + Duration::hours(2), 10.0, 20.0)}),
        json!({"vmId": "", "sample": sample(now, 10.0, 20.0)}),
        json!({"vmId": "db-01", "sample": sample(now - Duration::minutes(4), 250.0, 20.0)}),
        json!({"vmId": "db-01", "sample": {"cpu": "busy"}}),
        json!({"vmId": "db-01", "sample": sample(now - Duration::days(800), 10.0, 20.0)}),
        good.clone(),
    ];
    let result = ingest(&app, items).await;
    assert_eq!(result["accepted"], 1, "{result}");
    assert_eq!(result["stored"], 1);
    let rejected: Vec<u64> = result["rejected"]
        .as_array()
        .expect("list")
        .iter()
        .map(|r| r["index"].as_u64().expect("index"))
        .collect();
    assert_eq!(rejected, [1, 2, 3, 4, 5, 6]);
    assert!(result["rejected"][0]["reason"]
        .as_str()
        .expect("reason")
        .contains("future"));

    // The answer is the shared typed model: every problem of an item listed.
    let typed: app::models::IngestOutcome =
        serde_json::from_value(result.clone()).expect("typed ingest outcome");
    assert_eq!((typed.accepted, typed.stored, typed.duplicates), (1, 1, 0));
    assert!(typed
        .rejected
        .iter()
        .all(|r| !r.problems.is_empty() && r.reason == r.problems.join("; ")));

    let again = ingest(&app, vec![good]).await;
    assert_eq!(
        (again["stored"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(1))
    );
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM samples s JOIN hosts h ON h.id = s.host_id WHERE h.vm_id = 'db-01'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("count");
    assert_eq!(stored, 1, "a re-sent sample is stored once");

    // Malformed bodies and oversize batches are refused as a whole, in the history envelope.
    let response = app
        .client
        .post(format!("{}/api/v1/ingest/samples", app.address))
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        .body("{\"samples\": [")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"], "400");
    let huge = "x".repeat(17 * 1024 * 1024);
    let response = app
        .client
        .post(format!("{}/api/v1/ingest/samples", app.address))
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        .body(format!("{{\"pad\":\"{huge}\"}}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 413);
    app.stop().await;
}

#[tokio::test]
async fn hourly_and_daily_queries_match_values_computed_from_the_raw_samples() {
    let app = spawn_app().await;
    let (start, truth) = seed_fleet(&app).await;
    wait_for_rollups(&app).await;
    let end = start + Duration::hours(3) - Duration::seconds(1);
    for func in ["avg", "max", "min", "p95", "p99"] {
        let (status, body) = post(&app, "/api/v1/history/query", &json!({
            "vmIds": ["vm_002", "vm_001"], "startTime": start, "endTime": end, "metrics": ["cpu"],
            "aggregation": "1h", "aggregationFunc": func, "pageSize": 1000,
        })).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["code"], 200);
        let points = body["data"]["data"].as_array().expect("points");
        assert_eq!(points.len(), 6, "3 hours × 2 hosts");
        assert_eq!(
            body["data"]["meta"],
            json!({"startTime": start, "endTime": end, "aggregation": "1h", "aggregationFunc": func,
                   "totalPoints": 6, "vmCount": 2})
        );
        assert_eq!(body["data"]["pagination"]["total"], 6);
        assert_eq!(points[0]["vmId"], "vm_001", "ordered by vmId, then time");
        for p in points {
            let ts: DateTime<Utc> =
                serde_json::from_value(p["timestamp"].clone()).expect("timestamp");
            let values: Vec<f64> = truth
                .iter()
                .filter(|(vm, t, _)| {
                    vm == p["vmId"].as_str().unwrap_or_default()
                        && *t >= ts
                        && *t < ts + Duration::hours(1)
                })
                .map(|(_, _, v)| *v)
                .collect();
            let expected = match func {
                "avg" => values.iter().sum::<f64>() / values.len() as f64,
                "max" => values.iter().copied().fold(f64::MIN, f64::max),
                "min" => values.iter().copied().fold(f64::MAX, f64::min),
                "p95" => percentile_disc(values.clone(), 0.95),
                _ => percentile_disc(values.clone(), 0.99),
            };
            let got = p["cpu"]["usagePercent"].as_f64().expect("value");
            let tolerance = if func.starts_with('p') {
                expected * 0.01 + 0.01
            } else {
                0.01
            };
            assert!(
                (got - expected).abs() <= tolerance,
                "{func} at {ts} {}: {got} vs {expected}",
                p["vmId"]
            );
            assert!(p.get("memory").is_none(), "only the asked groups");
        }
    }
    // The daily tier merges the hourly sketches: p95 of the day against all samples of that day.
    let (status, body) = post(&app, "/api/v1/history/query", &json!({
        "groupId": "grp_001", "startTime": start, "endTime": end, "metrics": ["cpu", "memory"], "aggregation": "1d", "aggregationFunc": "p95",
    })).await;
    assert_eq!(status, 200, "{body}");
    for p in body["data"]["data"].as_array().expect("points") {
        let day: DateTime<Utc> = serde_json::from_value(p["timestamp"].clone()).expect("timestamp");
        let values: Vec<f64> = truth
            .iter()
            .filter(|(vm, t, _)| {
                vm == p["vmId"].as_str().unwrap_or_default()
                    && *t >= day
                    && *t < day + Duration::days(1)
            })
            .map(|(_, _, v)| *v)
            .collect();
        let expected = percentile_disc(values, 0.95);
        let got = p["cpu"]["usagePercent"].as_f64().expect("value");
        assert!(
            (got - expected).abs() <= expected * 0.01 + 0.01,
            "{got} vs {expected}"
        );
        assert!(p["memory"]["usagePercent"].as_f64().is_some());
    }
    // Each daily row keeps its hours' averages (what anomaly detection reads): hour by hour
    // against the raw samples, NULL where the hour had none.
    let shapes: Vec<(String, DateTime<Utc>, Vec<Option<f32>>)> = sqlx::query_as(
        "SELECT h.vm_id, d.bucket, d.hourly_avg FROM rollup_daily d JOIN hosts h ON h.id = d.host_id WHERE d.metric = 1 ORDER BY 1, 2",
    )
    .fetch_all(&app.pool)
    .await
    .expect("daily shapes");
    assert!(!shapes.is_empty());
    for (vm, day, averages) in shapes {
        assert_eq!(averages.len(), 24);
        for (hour, got) in averages.iter().enumerate() {
            let from = day + Duration::hours(hour as i64);
            let values: Vec<f64> = truth
                .iter()
                .filter(|(v, t, _)| *v == vm && *t >= from && *t < from + Duration::hours(1))
                .map(|(_, _, v)| *v)
                .collect();
            match got {
                None => assert!(
                    values.is_empty(),
                    "{vm} {from}: no average for {} samples",
                    values.len()
                ),
                Some(got) => {
                    let expected = values.iter().sum::<f64>() / values.len() as f64;
                    assert!(
                        (f64::from(*got) - expected).abs() < 1e-3,
                        "{vm} {from}: {got} vs {expected}"
                    );
                }
            }
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn raw_and_minute_queries_page_through_the_samples() {
    let app = spawn_app().await;
    let (start, truth) = seed_fleet(&app).await;
    let end = start + Duration::hours(3);
    let (status, body) = post(&app, "/api/v1/history/query", &json!({
        "vmIds": ["vm_001"], "startTime": start, "endTime": end, "metrics": ["cpu", "network"], "aggregation": "raw", "page": 2, "pageSize": 50,
    })).await;
    assert_eq!(status, 200, "{body}");
    let page = body["data"]["data"].as_array().expect("points");
    assert_eq!(page.len(), 50);
    assert_eq!(
        body["data"]["pagination"],
        json!({"page": 2, "pageSize": 50, "total": 180, "totalPages": 4})
    );
    let first: DateTime<Utc> = serde_json::from_value(page[0]["timestamp"].clone()).expect("ts");
    assert_eq!(first, start + Duration::minutes(50));
    assert_eq!(page[0]["network"]["inBytes"], 200);

    let (status, body) = post(&app, "/api/v1/history/query", &json!({
        "vmIds": ["vm_001"], "startTime": start, "endTime": end - Duration::seconds(1), "metrics": ["cpu"], "aggregation": "15m", "aggregationFunc": "max",
    })).await;
    assert_eq!(status, 200, "{body}");
    let points = body["data"]["data"].as_array().expect("points");
    assert_eq!(points.len(), 12);
    let expected = truth
        .iter()
        .filter(|(vm, t, _)| vm == "vm_001" && *t < start + Duration::minutes(15))
        .map(|(_, _, v)| *v)
        .fold(f64::MIN, f64::max);
    assert_eq!(points[0]["cpu"]["usagePercent"].as_f64(), Some(expected));
    app.stop().await;
}

#[tokio::test]
async fn validation_errors_use_the_seed_codes_and_languages() {
    let app = spawn_app().await;
    seed_fleet(&app).await;
    let now = Utc::now();
    let cases = [
        (
            json!({"vmIds": ["vm_001"], "startTime": now, "endTime": now - Duration::hours(1)}),
            400,
            "400-TIME",
        ),
        (
            json!({"vmIds": ["vm_001"], "startTime": "last tuesday", "endTime": now}),
            400,
            "400-TIME",
        ),
        (
            json!({"vmIds": ["vm_001"], "endTime": now}),
            400,
            "400-TIME",
        ),
        (
            json!({"vmIds": ["vm_001"], "startTime": now - Duration::days(800), "endTime": now}),
            400,
            "400-TIME",
        ),
        (
            json!({"vmIds": ["vm_001"], "startTime": now - Duration::days(8), "endTime": now, "aggregation": "raw"}),
            400,
            "400-TIME",
        ),
        (
            json!({"vmIds": ["vm_001"], "startTime": now - Duration::days(60), "endTime": now, "aggregation": "1h"}),
            400,
            "400-TIME",
        ),
        (
            json!({"vmIds": ["vm_001"], "groupId": "grp_001", "startTime": now - Duration::hours(1), "endTime": now}),
            400,
            "400",
        ),
        (
            json!({"vmIds": ["vm_001"], "startTime": now - Duration::hours(1), "endTime": now, "metrics": ["gpu"]}),
            400,
            "400",
        ),
        (
            json!({"vmIds": ["vm_001"], "startTime": now - Duration::hours(1), "endTime": now, "pageSize": 5000}),
            400,
            "400",
        ),
        (
            json!({"vmIds": ["vm_001"], "startTime": now - Duration::hours(1), "endTime": now, "aggregationFunc": "median"}),
            400,
            "400",
        ),
        (
            json!({"vmIds": ["vm_404"], "startTime": now - Duration::hours(1), "endTime": now}),
            404,
            "404",
        ),
        (
            json!({"groupId": "nope", "startTime": now - Duration::hours(1), "endTime": now}),
            404,
            "404",
        ),
    ];
    for (request, status, code) in cases {
        let (got, body) = post(&app, "/api/v1/history/query", &request).await;
        assert_eq!(
            (got, body["error"].as_str()),
            (status, Some(code)),
            "{request}: {body}"
        );
        assert_eq!(body["code"], status);
    }
    let request =
        json!({"vmIds": ["vm_001"], "startTime": now, "endTime": now - Duration::hours(1)});
    for (language, message) in [
        ("zh-CN,zh;q=0.9", "时间范围无效"),
        ("ja", "時間範囲が無効です"),
        ("en-US", "Invalid Time Range"),
    ] {
        let response = app
            .client
            .post(format!("{}/api/v1/history/query", app.address))
            .bearer_auth(&app.token)
            .header("accept-language", language)
            .json(&request)
            .send()
            .await
            .expect("sent");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["message"], message);
    }
    let anonymous = app
        .client
        .post(format!("{}/api/v1/history/query", app.address))
        .json(&request)
        .send()
        .await
        .expect("sent");
    assert_eq!(anonymous.status(), 401);
    let body: Value = anonymous.json().await.expect("json");
    assert_eq!(
        (body["code"].as_u64(), body["error"].as_str()),
        (Some(401), Some("401"))
    );
    app.stop().await;
}

#[tokio::test]
async fn hosts_are_listed_by_group_and_edited_by_admins() {
    let app = spawn_app().await;
    seed_fleet(&app).await;
    let (status, body) = app.get_json("/api/v1/hosts?groupId=grp_001").await;
    assert_eq!(status, 200, "{body}");
    let hosts = body["data"]["hosts"].as_array().expect("hosts");
    assert_eq!(hosts.len(), 2);
    assert_eq!(hosts[0]["vmId"], "vm_001");
    assert_eq!(hosts[0]["name"], "web-0");
    assert_eq!(hosts[0]["clusterId"], "cl_1");
    assert_eq!(
        hosts[0]["powerState"], "poweredOff",
        "its last sample is two days old"
    );
    let (_, all) = app.get_json("/api/v1/hosts").await;
    assert_eq!(
        all["data"]["pagination"]["total"], 3,
        "the local host is listed too"
    );

    let response = app
        .client
        .patch(format!("{}/api/v1/hosts/vm_001", app.address))
        .bearer_auth(&app.token)
        .json(&json!({"name": "db-primary", "groupId": "grp_db"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        (
            body["data"]["name"].as_str(),
            body["data"]["groupId"].as_str()
        ),
        (Some("db-primary"), Some("grp_db"))
    );
    assert_eq!(
        body["data"]["clusterId"], "cl_1",
        "fields not sent are kept"
    );

    let response = app
        .client
        .patch(format!("{}/api/v1/hosts/vm_001", app.address))
        .bearer_auth(&app.token)
        .json(&json!({"groupId": null}))
        .send()
        .await
        .expect("sent");
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body["data"]["groupId"],
        Value::Null,
        "null clears the group"
    );

    let response = app
        .client
        .patch(format!("{}/api/v1/hosts/vm_404", app.address))
        .bearer_auth(&app.token)
        .json(&json!({"name": "x"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 404);
    let reader = crate::common::reader_token(&app).await;
    let response = app
        .client
        .patch(format!("{}/api/v1/hosts/vm_002", app.address))
        .bearer_auth(&reader)
        .json(&json!({"name": "x"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 403);
    app.stop().await;
}

#[tokio::test]
async fn a_backfill_older_than_the_raw_window_lands_in_the_rollups_and_its_raw_partition_expires() {
    let app = spawn_app().await;
    // 06:00 of a day 10 days back: the two hours stay inside one day (from 22:00 on they would
    // cross midnight into the next day's row).
    let start = (Utc::now() - Duration::days(10))
        .duration_trunc(Duration::days(1))
        .expect("aligned")
        + Duration::hours(6);
    let items: Vec<Value> = (0..120)
        .map(|i| json!({"vmId": "old-01", "sample": sample(start + Duration::minutes(i), (i % 50) as f64, 40.0)}))
        .collect();
    assert_eq!(ingest(&app, items).await["stored"], 120);
    wait_for_rollups(&app).await;
    // Retention (here, or the worker's own first run, whichever comes first) drops the raw partition.
    lookout::storage::retention::enforce(&app.pool)
        .await
        .expect("retention");
    let partition = format!("samples_{}", start.format("%Y%m%d"));
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_class WHERE relname = $1")
        .bind(&partition)
        .fetch_one(&app.pool)
        .await
        .expect("catalog");
    assert_eq!(left, 0, "{partition} expired");
    let raw: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM samples s JOIN hosts h ON h.id = s.host_id WHERE h.vm_id = 'old-01'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("count");
    assert_eq!(raw, 0, "raw samples older than 7 days are gone");
    // The ended day's five-minute averages are kept in one row, from midnight: two hours of
    // minutes, 24 five-minute slots.
    let fine: Vec<Option<f32>> = sqlx::query_scalar(
        "SELECT f.fine FROM rollup_fine_daily f JOIN hosts h ON h.id = f.host_id
         WHERE h.vm_id = 'old-01' AND f.metric = $1",
    )
    .bind(lookout::storage::catalog::CPU_PERCENT)
    .fetch_one(&app.pool)
    .await
    .expect("one whole-day row");
    let first_slot =
        (start - start.duration_trunc(Duration::days(1)).expect("day")).num_minutes() as usize / 5;
    let filled: Vec<usize> = (0..fine.len()).filter(|&i| fine[i].is_some()).collect();
    assert_eq!(filled, (first_slot..first_slot + 24).collect::<Vec<_>>());
    // Minutes 0–4 of the first hour: CPU 0, 1, 2, 3, 4.
    assert_eq!(fine[first_slot], Some(2.0));

    let (status, body) = post(&app, "/api/v1/history/query", &json!({
        "vmIds": ["old-01"], "startTime": start, "endTime": start + Duration::hours(2) - Duration::seconds(1),
        "metrics": ["cpu"], "aggregation": "1h", "aggregationFunc": "max",
    })).await;
    assert_eq!(status, 200, "{body}");
    let points = body["data"]["data"].as_array().expect("points");
    assert_eq!(points.len(), 2);
    assert_eq!(points[0]["cpu"]["usagePercent"], 49.0);
    let (status, body) = post(&app, "/api/v1/history/query", &json!({
        "vmIds": ["old-01"], "startTime": start, "endTime": start + Duration::hours(1), "aggregation": "raw",
    })).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("400-TIME")),
        "raw is not kept that long"
    );
    app.stop().await;
}

#[tokio::test]
async fn aggregate_matches_statistics_computed_from_the_raw_samples() {
    let app = spawn_app().await;
    let (start, truth) = seed_fleet(&app).await;
    wait_for_rollups(&app).await;
    let end = start + Duration::hours(3) - Duration::seconds(1);
    let (status, body) = post(&app, "/api/v1/history/aggregate", &json!({
        "groupId": "grp_001", "startTime": start, "endTime": end, "metrics": ["cpu", "memory", "network"],
        "dimensions": ["avg", "max", "min", "p95", "p99", "std"], "groupBy": "hour",
    })).await;
    assert_eq!(status, 200, "{body}");
    let values: Vec<f64> = truth.iter().map(|(_, _, v)| *v).collect();
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    let cpu = &body["data"]["overall"]["cpu"];
    let close = |got: &Value, expected: f64, tolerance: f64| {
        let got = got.as_f64().expect("number");
        assert!((got - expected).abs() <= tolerance, "{got} vs {expected}");
    };
    close(&cpu["avg"], mean, 0.01);
    close(&cpu["std"], std, 0.01);
    close(
        &cpu["max"],
        values.iter().copied().fold(f64::MIN, f64::max),
        0.0,
    );
    close(
        &cpu["min"],
        values.iter().copied().fold(f64::MAX, f64::min),
        0.0,
    );
    let p95 = percentile_disc(values.clone(), 0.95);
    close(&cpu["p95"], p95, p95 * 0.01 + 0.01);
    close(&body["data"]["overall"]["memory"]["avg"], 50.5, 0.01);
    let network = &body["data"]["overall"]["network"];
    close(&network["avgInBps"], 1000.0, 0.0);
    // 2 hosts × 3 hours at an average of 1000 B/s.
    close(&network["totalInBytes"], 2.0 * 3.0 * 3600.0 * 1000.0, 0.5);

    let groups = body["data"]["timeGroups"].as_array().expect("time groups");
    assert_eq!(groups.len(), 3);
    let first_hour: Vec<f64> = truth
        .iter()
        .filter(|(_, t, _)| *t < start + Duration::hours(1))
        .map(|(_, _, v)| *v)
        .collect();
    close(
        &groups[0]["cpu"]["avg"],
        first_hour.iter().sum::<f64>() / first_hour.len() as f64,
        0.01,
    );
    let vms = body["data"]["vmGroups"].as_array().expect("vm groups");
    assert_eq!(vms.len(), 2);
    assert_eq!(
        (vms[1]["vmId"].as_str(), vms[1]["vmName"].as_str()),
        (Some("vm_002"), Some("web-1"))
    );

    let (status, body) = post(
        &app,
        "/api/v1/history/aggregate",
        &json!({
            "vmIds": ["vm_001"], "startTime": start, "endTime": end, "dimensions": ["mode"],
        }),
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("400")));
    let (status, body) = post(&app, "/api/v1/history/aggregate", &json!({
        "clusterId": "cl_1", "startTime": start - Duration::days(60), "endTime": end, "groupBy": "hour",
    })).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("400-TIME")));
    let (status, body) = post(&app, "/api/v1/history/aggregate", &json!({
        "clusterId": "cl_1", "startTime": start - Duration::days(60), "endTime": end, "groupBy": "week", "metrics": ["cpu"],
    })).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        !body["data"]["timeGroups"]
            .as_array()
            .expect("weeks")
            .is_empty(),
        "daily rollups answer beyond 30 days"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_late_backfill_into_a_day_whose_hours_expired_is_merged_not_replacing_it() {
    let app = spawn_app().await;
    let day = (Utc::now() - Duration::days(40))
        .duration_trunc(Duration::days(1))
        .expect("aligned");
    // Ten samples an hour; CPU = hour + 1, so every hour is told apart.
    let hours = |range: std::ops::Range<i64>| -> Vec<Value> {
        range
            .flat_map(|h| (0..10).map(move |k| (h, k)))
            .map(|(h, k)| json!({"vmId": "late-01", "sample": sample(day + Duration::hours(h) + Duration::minutes(6 * k), (h + 1) as f64, 40.0)}))
            .collect()
    };
    assert_eq!(ingest(&app, hours(0..12)).await["stored"], 120);
    wait_for_rollups(&app).await;
    // Retention (here, or the worker's own first run, whichever comes first) drops the hourly partition.
    lookout::storage::retention::enforce(&app.pool)
        .await
        .expect("retention");
    let partition = format!("rollup_hourly_{}", day.format("%Y%m%d"));
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_class WHERE relname = $1")
        .bind(&partition)
        .fetch_one(&app.pool)
        .await
        .expect("catalog");
    assert_eq!(left, 0, "{partition} expired");

    // Hours 12–17 arrive late, and hour 0 is sent again.
    let mut late = hours(12..18);
    late.extend(hours(0..1));
    assert_eq!(
        ingest(&app, late).await["stored"],
        70,
        "the raw rows expired, so all are new to the raw table"
    );
    wait_for_rollups(&app).await;
    let daily = || async {
        sqlx::query_as::<_, (i32, f64, f64)>(
            "SELECT d.count, d.sum, d.max FROM rollup_daily d JOIN hosts h ON h.id = d.host_id WHERE h.vm_id = 'late-01' AND d.metric = 1",
        )
        .fetch_one(&app.pool)
        .await
        .expect("daily row")
    };
    // Hours 0–17, ten samples each, once: count 180, sum 10 × (1 + … + 18) = 1710.
    assert_eq!(daily().await, (180, 1710.0, 18.0));
    let (status, body) = post(&app, "/api/v1/history/query", &json!({
        "vmIds": ["late-01"], "startTime": day, "endTime": day + Duration::days(1) - Duration::seconds(1),
        "metrics": ["cpu"], "aggregation": "1d", "aggregationFunc": "avg",
    })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["data"][0]["cpu"]["usagePercent"], 9.5);
    // Rolling the day up again changes nothing.
    sqlx::query("INSERT INTO rollup_queue_daily (host_id, bucket) SELECT id, $1 FROM hosts WHERE vm_id = 'late-01'")
        .bind(day)
        .execute(&app.pool)
        .await
        .expect("queue");
    wait_for_rollups(&app).await;
    assert_eq!(daily().await, (180, 1710.0, 18.0));
    app.stop().await;
}

/// The hour and day still filling: answers over a range ending now include every stored sample at
/// once, though the worker refreshes the current hour only once a minute.
#[tokio::test]
async fn answers_over_a_range_ending_now_include_samples_stored_a_moment_ago() {
    let app = spawn_app().await;
    let now = Utc::now();
    let values: Vec<(DateTime<Utc>, f64)> = (1..=20)
        .map(|k| (now - Duration::seconds(k * 10), 10.0 + k as f64))
        .collect();
    let items: Vec<Value> = values
        .iter()
        .map(|(ts, cpu)| json!({"vmId": "fresh-1", "sample": sample(*ts, *cpu, 40.0)}))
        .collect();
    assert_eq!(ingest(&app, items).await["stored"], 20);
    let mean = values.iter().map(|(_, v)| v).sum::<f64>() / values.len() as f64;

    let (status, body) = post(&app, "/api/v1/history/aggregate", &json!({
        "vmIds": ["fresh-1"], "startTime": now - Duration::minutes(15), "endTime": now + Duration::seconds(1), "metrics": ["cpu"],
    }))
    .await;
    assert_eq!(status, 200, "{body}");
    let avg = body["data"]["overall"]["cpu"]["avg"]
        .as_f64()
        .unwrap_or(f64::NAN);
    assert!(
        (avg - mean).abs() < 0.01,
        "the last 15 minutes hold every sample: {avg} vs {mean}: {body}"
    );
    assert_eq!(body["data"]["overall"]["cpu"]["max"], json!(30.0));

    // The daily tier (a range beyond the hourly window) includes today as well.
    let (status, body) = post(&app, "/api/v1/history/aggregate", &json!({
        "vmIds": ["fresh-1"], "startTime": now - Duration::days(40), "endTime": now + Duration::seconds(1), "metrics": ["cpu"], "groupBy": "day",
    }))
    .await;
    assert_eq!(status, 200, "{body}");
    let avg = body["data"]["overall"]["cpu"]["avg"]
        .as_f64()
        .unwrap_or(f64::NAN);
    assert!(
        (avg - mean).abs() < 0.01,
        "today's daily bucket is current: {avg} vs {mean}: {body}"
    );

    // `/query` at 1h lists the filling hour(s) with every sample in them.
    let (status, body) = post(&app, "/api/v1/history/query", &json!({
        "vmIds": ["fresh-1"], "startTime": now - Duration::hours(1), "endTime": now + Duration::seconds(1), "metrics": ["cpu"], "aggregation": "1h", "aggregationFunc": "max",
    }))
    .await;
    assert_eq!(status, 200, "{body}");
    let points = body["data"]["data"].as_array().expect("points");
    assert!(!points.is_empty(), "{body}");
    let max = points
        .iter()
        .filter_map(|p| p["cpu"]["usagePercent"].as_f64())
        .fold(f64::MIN, f64::max);
    assert_eq!(max, 30.0, "{body}");
    assert_eq!(
        body["data"]["pagination"]["total"].as_i64(),
        Some(points.len() as i64)
    );
    app.stop().await;
}

/// A typo in a request body is a 400 naming the field and the closest known one, never a 200
/// that silently ignores what was asked.
#[tokio::test]
async fn unknown_fields_in_request_bodies_are_refused_with_the_closest_known_name() {
    let app = spawn_app().await;
    let now = Utc::now();
    let range = |extra: Value| {
        let mut body = json!({"startTime": now - Duration::hours(2), "endTime": now});
        body.as_object_mut()
            .expect("object")
            .extend(extra.as_object().expect("object").clone());
        body
    };
    for (path, body, field, near) in [
        (
            "/api/v1/history/aggregate",
            range(json!({"groupby": "day"})),
            "groupby",
            "groupBy",
        ),
        (
            "/api/v1/history/query",
            range(json!({"vmIds": ["x"], "aggregationFunction": "max"})),
            "aggregationFunction",
            "aggregationFunc",
        ),
        (
            "/api/v1/history/anomalies",
            range(json!({"sensitivty": "high"})),
            "sensitivty",
            "sensitivity",
        ),
        (
            "/api/v1/history/trends",
            range(json!({"forecast": {"enabled": true, "horizn": 30}})),
            "horizn",
            "horizon",
        ),
        (
            "/api/v1/history/export",
            range(json!({"vmIds": ["x"], "fromat": "csv"})),
            "fromat",
            "format",
        ),
    ] {
        let (status, reply) = post(&app, path, &body).await;
        assert_eq!(status, 400, "{path}: {reply}");
        assert_eq!(reply["code"], 400, "{path}: {reply}");
        let detail = reply["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains(&format!("unknown field `{field}`"))
                && detail.contains(&format!("did you mean `{near}`")),
            "{path}: {reply}"
        );
    }
    // The performance API's bodies, in its own envelope.
    let (status, reply) = post(
        &app,
        "/api/v1/performance/reports",
        &json!({"type": "summary", "period": "1h", "formt": "json"}),
    )
    .await;
    assert_eq!(status, 400, "{reply}");
    assert_eq!(reply["error"]["code"], "VALIDATION_ERROR");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("did you mean `format`"),
        "{reply}"
    );
    let (status, reply) = post(
        &app,
        "/api/v1/performance/alerts/rules",
        &json!({"name": "r", "metric": "cpu_percent", "threshhold": 5}),
    )
    .await;
    assert_eq!(status, 400, "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("did you mean `threshold`"),
        "{reply}"
    );
    app.stop().await;
}

/// A sample with only some metrics (an agent that cannot read disk latency, a script that sends
/// CPU alone) is stored as it is: its absent fields are not zeros anywhere it is read.
#[tokio::test]
async fn partial_samples_keep_absent_fields_absent_on_every_read_path() {
    let app = spawn_app().await;
    let now = Utc::now();
    let items: Vec<Value> = (0..30)
        .map(|i| {
            let ts = now - Duration::minutes(30 - i);
            json!({"vmId": "part-01", "sample": {"timestamp": ts, "cpu": {"percent": 40.0 + i as f64}, "memory": {"percent": null}}})
        })
        .collect();
    let result = ingest(&app, items).await;
    assert_eq!(
        (result["accepted"].as_u64(), result["stored"].as_u64()),
        (Some(30), Some(30)),
        "{result}"
    );
    let stored: (Option<f64>, Option<f64>, Option<i64>) =
        sqlx::query_as("SELECT cpu_percent::float8, mem_percent::float8, disk_total FROM samples s JOIN hosts h ON h.id = s.host_id WHERE h.vm_id = 'part-01' ORDER BY ts LIMIT 1")
            .fetch_one(&app.pool)
            .await
            .expect("row");
    assert_eq!(
        stored,
        (Some(40.0), None, None),
        "only what was sent is stored"
    );

    // Raw and bucketed query answers: CPU has values, memory and disk have none (null, not 0).
    for aggregation in ["raw", "5m"] {
        let (status, body) = post(&app, "/api/v1/history/query", &json!({
            "vmIds": ["part-01"], "startTime": now - Duration::hours(1), "endTime": now, "metrics": ["cpu", "memory", "disk"],
            "aggregation": aggregation, "pageSize": 1000,
        })).await;
        assert_eq!(status, 200, "{body}");
        let points = body["data"]["data"].as_array().expect("points");
        assert!(!points.is_empty(), "{body}");
        for p in points {
            assert!(
                p["cpu"]["usagePercent"].as_f64().is_some_and(|v| v >= 40.0),
                "{p}"
            );
            assert!(
                p["memory"]["usagePercent"].is_null(),
                "memory was never sent: {p}"
            );
            assert!(
                p["disk"]["usagePercent"].is_null(),
                "disk was never sent: {p}"
            );
        }
    }
    let (status, body) = app
        .get_json(&format!(
            "/api/v1/history/series?vmId=part-01&metrics=cpu.usagePercent,memory.usagePercent&start={}&end={}&points=100",
            (now - Duration::hours(1)).timestamp_millis(),
            now.timestamp_millis()
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    let column = |name: &str| {
        body["data"]["series"][name]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    assert!(
        column("cpu.usagePercent.avg").iter().any(Value::is_f64),
        "{body}"
    );
    assert!(
        column("memory.usagePercent.avg").iter().all(Value::is_null),
        "{body}"
    );

    // Statistics are over the values that exist: the CPU average is that of the 30 values.
    let (status, body) = post(&app, "/api/v1/history/aggregate", &json!({
        "vmIds": ["part-01"], "startTime": now - Duration::hours(1), "endTime": now, "metrics": ["cpu", "memory"],
    })).await;
    assert_eq!(status, 200, "{body}");
    let text = body.to_string();
    assert!(text.contains("54.5"), "mean of 40..69 is 54.5: {body}");

    // The other readers of raw rows answer too, with nothing invented.
    for path in [
        "/api/v1/performance/stats?host=part-01",
        "/api/v1/performance/history?host=part-01&minutes=60",
        "/api/v1/performance/summary?period=1h&host=part-01",
        "/api/v1/history/timeline/part-01",
        "/api/v1/hosts",
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    let (status, body) = app
        .get_json("/api/v1/performance/summary?period=1h&host=part-01")
        .await;
    assert_eq!(status, 200);
    assert!(
        body["data"]["memory"]["average"].is_null() && body["data"]["memory"]["current"].is_null(),
        "no memory figures from absent values: {body}"
    );
    assert_eq!(body["data"]["cpu"]["current"], 69.0, "{body}");

    // Rolled up: an hour two days ago has CPU rows and no memory rows; its 1h point says so.
    let hour = (now - Duration::days(2))
        .duration_trunc(Duration::hours(1))
        .expect("hour");
    let old: Vec<Value> = (0..12)
        .map(|i| json!({"vmId": "part-01", "sample": {"timestamp": hour + Duration::minutes(5 * i), "cpu": {"percent": 10.0}}}))
        .collect();
    assert_eq!(ingest(&app, old).await["stored"], 12);
    wait_for_rollups(&app).await;
    let metrics: Vec<i16> = sqlx::query_scalar(
        "SELECT DISTINCT metric FROM rollup_hourly r JOIN hosts h ON h.id = r.host_id WHERE h.vm_id = 'part-01' ORDER BY 1",
    )
    .fetch_all(&app.pool)
    .await
    .expect("rollups");
    assert_eq!(
        metrics,
        [lookout::storage::catalog::CPU_PERCENT],
        "only CPU was sent"
    );
    let (status, body) = post(&app, "/api/v1/history/query", &json!({
        "vmIds": ["part-01"], "startTime": hour, "endTime": hour + Duration::minutes(59), "metrics": ["cpu", "memory"], "aggregation": "1h",
    })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["data"][0]["cpu"]["usagePercent"], 10.0,
        "{body}"
    );
    assert!(
        body["data"]["data"][0]["memory"]["usagePercent"].is_null(),
        "{body}"
    );

    // A batch with nothing usable is refused as a whole, listing why for each item.
    let (status, body) = post(
        &app,
        "/api/v1/ingest/samples",
        &json!({"samples": [
            {"vmId": "part-01", "sample": {"timestamp": now}},
            {"vmId": "part-01", "sample": {"timestamp": now, "cpu": {"percent": "high"}}},
        ]}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "400");
    let reasons: Vec<&str> = body["rejected"]
        .as_array()
        .expect("rejected")
        .iter()
        .filter_map(|r| r["reason"].as_str())
        .collect();
    assert_eq!(reasons.len(), 2, "{body}");
    let typed: Vec<app::models::IngestRejection> =
        serde_json::from_value(body["rejected"].clone()).expect("typed rejections");
    assert_eq!(typed.iter().map(|r| r.index).collect::<Vec<_>>(), [0, 1]);
    assert!(reasons[0].contains("metric"), "{body}");
    assert!(reasons[1].contains("cpu.percent"), "{body}");
    app.stop().await;
}
