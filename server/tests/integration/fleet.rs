use crate::common::{ingest, ingest_cpu_burst, post, post_metrics, sample_with_disk, spawn_app};
use chrono::{Duration, Utc};
use serde_json::json;

/// The fleet page's list: each host's power state and newest usage, its CPU sparkline of the
/// last hours in five-minute means, and its open anomalies with the newest of them.
#[tokio::test]
async fn the_fleet_overview_has_each_hosts_power_usage_sparkline_and_open_anomalies() {
    let app = spawn_app().await;
    let now = Utc::now();
    // A host judged over four days with a CPU burst yesterday (an open anomaly), reporting up to
    // a minute ago with a full sample last.
    ingest_cpu_burst(
        &app,
        "fleet-on",
        (now - Duration::days(4), now - Duration::minutes(30)),
        now - Duration::days(1),
    )
    .await;
    let recent: Vec<_> = (2..30)
        .rev()
        .map(|m| json!({"vmId": "fleet-on", "sample": sample_with_disk(now - Duration::minutes(m), 30.0, 40.0, 50.0)}))
        .chain([json!({"vmId": "fleet-on", "sample": sample_with_disk(now - Duration::minutes(1), 77.0, 44.0, 55.0)})])
        .collect();
    ingest(&app, recent).await;
    // A host last heard of two hours ago.
    ingest(
        &app,
        vec![json!({"vmId": "fleet-off", "sample": sample_with_disk(now - Duration::hours(2), 12.0, 20.0, 30.0)})],
    )
    .await;
    // Its application's request rate by route, two tag sets: the newest of each is 100 and 10
    // (an older 400 of the first does not count), and an hour-old metric no longer shows.
    let point = |name: &str, route: &str, minutes: i64, value: f64| {
        json!({"name": name, "value": value, "unit": "req/s", "host": "fleet-on",
               "tags": {"route": route}, "timestamp": now - Duration::minutes(minutes)})
    };
    post_metrics(
        &app,
        &[
            point("api.requests", "/a", 5, 400.0),
            point("api.requests", "/a", 3, 100.0),
            point("api.requests", "/b", 2, 10.0),
            point("api.stale", "/a", 60, 1.0),
        ],
    )
    .await;
    let (status, body) = post(
        &app,
        "/api/v1/history/anomalies",
        &json!({"vmIds": ["fleet-on"], "startTime": now - Duration::days(2), "endTime": now, "metrics": ["cpu"]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // As of the instant the samples were placed from: a clock read after the anomaly request
    // (slow on a loaded machine) may have crossed a five-minute boundary and moved every slot.
    let fleet = lookout::fleet::overview(&app.pool, now)
        .await
        .expect("overview");
    let host = |vm: &str| {
        fleet
            .iter()
            .find(|h| h.vm_id == vm)
            .cloned()
            .unwrap_or_else(|| panic!("{vm} listed: {fleet:?}"))
    };
    let on = host("fleet-on");
    assert_eq!(on.power_state, "poweredOn");
    assert_eq!(
        (on.cpu, on.memory, on.disk),
        (Some(77.0), Some(44.0), Some(55.0))
    );
    assert_eq!(
        on.spark.len(),
        (lookout::fleet::SPARK_HOURS * 12 + 1) as usize
    );
    // Three hours of five-minute means: the wave about 40 %, then the samples at 30 % and 77 %.
    let filled = on.spark.iter().flatten().count();
    assert!(filled >= 30, "{:?}", on.spark);
    let newest = on.spark.iter().rev().flatten().next().copied();
    assert!(
        newest.is_some_and(|v| (30.0..=77.0).contains(&v)),
        "{:?}",
        on.spark
    );
    assert!(on.open_anomalies >= 1, "{on:?}");
    assert_eq!(on.active_alerts, 0);
    assert!(
        on.newest_event
            .as_ref()
            .is_some_and(|(id, _)| id.starts_with("anomaly_")),
        "{on:?}"
    );

    // The mean of each tag set's newest point, as the host's chart merges them.
    let app_metrics: Vec<(String, f64, String)> = on
        .app_metrics
        .iter()
        .map(|m| (m.name.clone(), m.value, m.unit.clone()))
        .collect();
    assert_eq!(app_metrics, [("api.requests".into(), 55.0, "req/s".into())]);

    let off = host("fleet-off");
    assert_eq!(off.power_state, "poweredOff");
    assert_eq!(off.cpu, Some(12.0), "its newest sample of the week");
    // Its one sample of the last three hours, in the slot two hours back.
    let slots: Vec<(usize, f64)> = off
        .spark
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (i, v)))
        .collect();
    assert!(
        matches!(slots.as_slice(), [(12 | 13, v)] if *v == 12.0),
        "{:?}",
        off.spark
    );
    assert_eq!((off.open_anomalies, off.newest_event.clone()), (0, None));
    assert!(off.app_metrics.is_empty());
    // Sorted by vmId, like the page.
    let names: Vec<&str> = fleet.iter().map(|h| h.vm_id.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
    app.stop().await;
}
