use crate::common::{ingest, post, sample_with_disk, spawn_app, wait_for_rollups};
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::{json, Value};

fn midnight_days_ago(days: i64) -> DateTime<Utc> {
    (Utc::now() - Duration::days(days)).duration_trunc(Duration::days(1)).expect("aligned")
}

#[tokio::test]
async fn trends_give_growth_forecast_and_capacity_dates_computed_by_hand() {
    let app = spawn_app().await;
    let first = midnight_days_ago(100);
    let mut items = Vec::new();
    for d in 0..100i64 {
        for hour in [0, 6, 12, 18] {
            let ts = first + Duration::days(d) + Duration::hours(hour);
            let day = d as f64;
            // cap-01 grows 0.2 pp/day of CPU, cap-02 idles at 10 %: the group grows 0.1 pp/day from 20 %.
            items.push(json!({"vmId": "cap-01", "groupId": "grp_cap", "sample": sample_with_disk(ts, 30.0 + 0.2 * day, 50.0, 40.0 + 0.1 * day)}));
            items.push(json!({"vmId": "cap-02", "groupId": "grp_cap", "sample": sample_with_disk(ts, 10.0, 50.0, 40.0)}));
        }
    }
    assert_eq!(ingest(&app, items).await["stored"], 800);
    wait_for_rollups(&app).await;
    let (status, body) = post(&app, "/api/v1/history/trends", &json!({
        "groupId": "grp_cap", "startTime": first, "endTime": Utc::now(), "metrics": ["cpu", "memory", "disk"],
        "forecast": {"enabled": true, "horizon": 30, "method": "linear"}, "capacityThreshold": 60,
    })).await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    let historical = data["historical"].as_array().expect("daily history");
    assert_eq!(historical.len(), 100);
    assert_eq!((historical[0]["cpu"].as_f64(), historical[99]["cpu"].as_f64()), (Some(20.0), Some(29.9)));
    assert_eq!(data["growthRates"]["cpu"], json!({"daily": 0.1, "weekly": 0.7, "monthly": 3.0}));
    assert_eq!(data["growthRates"]["memory"]["daily"], 0.0);
    // Day 99 is the last; 30 days on: 20 + 0.1 × 129 = 32.9. 60 % is reached at day 400, 301 days on.
    let last_day = first + Duration::days(99);
    assert_eq!(data["forecast"]["cpu"]["predictedValue"], 32.9);
    assert_eq!(data["forecast"]["cpu"]["capacityExceedDate"], json!(last_day + Duration::days(301)));
    assert!(data["forecast"]["cpu"]["confidence"].as_f64().expect("confidence") > 0.95, "{body}");
    assert!(data["forecast"]["memory"].get("capacityExceedDate").is_none(), "flat memory never crosses");
    assert!(data.get("warning").is_none(), "100 days is enough: {body}");
    // cap-01 alone: 30 + 0.2 d reaches 60 % at day 150, 51 days on: a medium alert and a scale-up.
    let alerts = data["capacityAlerts"].as_array().expect("alerts");
    let host_cpu = alerts.iter().find(|a| a["vmId"] == "cap-01" && a["metric"] == "cpu").expect("cap-01 cpu alert");
    assert_eq!(host_cpu["severity"], "medium");
    assert_eq!(host_cpu["predictedExceedDate"], json!(last_day + Duration::days(51)));
    assert_eq!(host_cpu["currentUsage"], 49.8);
    let group_cpu = alerts.iter().find(|a| a.get("vmId").is_none() && a["metric"] == "cpu").expect("group cpu alert");
    assert_eq!(group_cpu["severity"], "low");
    let recommendations = data["recommendations"].as_array().expect("recommendations");
    assert!(recommendations.iter().any(|r| r["type"] == "scale_up" && r["vmId"] == "cap-01" && r["metric"] == "cpu"), "{body}");
    assert!(alerts.iter().all(|a| a["vmId"] != "cap-02"), "the idle host has no alert");
    app.stop().await;
}

#[tokio::test]
async fn short_history_still_answers_with_a_warning_lower_confidence_and_a_scale_down() {
    let app = spawn_app().await;
    let first = midnight_days_ago(20);
    let items: Vec<Value> = (0..20i64)
        .flat_map(|d| (0..4).map(move |q| (d, q)))
        .map(|(d, q)| json!({"vmId": "idle-01", "sample": sample_with_disk(first + Duration::days(d) + Duration::hours(6 * q), 5.0 + (q as f64), 30.0, 50.0)}))
        .collect();
    assert_eq!(ingest(&app, items).await["stored"], 80);
    wait_for_rollups(&app).await;
    let (status, body) = post(&app, "/api/v1/history/trends", &json!({
        "vmIds": ["idle-01"], "startTime": first, "endTime": Utc::now(), "metrics": ["cpu"], "forecast": {"enabled": true},
    })).await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    assert!(data["warning"].as_str().expect("warning").contains("20 days"), "{body}");
    let confidence = data["forecast"]["cpu"]["confidence"].as_f64().expect("confidence");
    assert!(confidence <= 20.0 / 90.0 + 1e-3, "{confidence}");
    let scale_down = data["recommendations"].as_array().expect("list").iter().find(|r| r["type"] == "scale_down").expect("scale_down");
    assert!(scale_down["description"].as_str().expect("text").contains("p95"), "{scale_down}");

    // Three days: no growth or forecast is invented.
    let (_, body) = post(&app, "/api/v1/history/trends", &json!({
        "vmIds": ["idle-01"], "startTime": first + Duration::days(17), "endTime": Utc::now(), "forecast": {"enabled": true},
    })).await;
    assert_eq!(body["data"]["growthRates"], json!({}), "{body}");
    assert_eq!(body["data"]["forecast"], json!({}));
    assert!(body["data"]["warning"].as_str().expect("warning").contains("at least 7"));

    for (request, code) in [
        (json!({"vmIds": ["idle-01"], "startTime": first, "endTime": Utc::now(), "metrics": ["network"]}), "400"),
        (json!({"vmIds": ["idle-01"], "startTime": first, "endTime": Utc::now(), "capacityThreshold": 150}), "400"),
        (json!({"vmIds": ["idle-01"], "startTime": first, "endTime": Utc::now(), "forecast": {"enabled": true, "method": "spline"}}), "400"),
        (json!({"vmIds": ["idle-01"], "startTime": Utc::now(), "endTime": first}), "400-TIME"),
        (json!({"vmIds": ["nope"], "startTime": first, "endTime": Utc::now()}), "404"),
    ] {
        let (_, body) = post(&app, "/api/v1/history/trends", &request).await;
        assert_eq!(body["error"], code, "{request} → {body}");
    }
    app.stop().await;
}
