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

#[tokio::test]
async fn the_theme_switch_keeps_the_browsers_choice_in_a_cookie_and_every_page_renders_it() {
    use crate::common::{page_status, session};
    let app = spawn_app().await;
    let cookie = session(&app).await;
    // No choice: the system's colours (no attribute); the switch offers dark next.
    let (status, html) = page_status(&app, &cookie, "/capacity?history=365").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("<html lang=\"en\">"),
        "no data-theme without a choice"
    );
    assert!(html.contains("data-testid=\"theme-switch\" data-theme=\"auto\""));
    assert!(html.contains("name=\"back\" value=\"/capacity?history=365\""));

    let choose = |theme: &'static str, back: &'static str| {
        app.client
            .post(format!("{}/theme", app.address))
            .header(reqwest::header::COOKIE, format!("lookout_session={cookie}"))
            .header(reqwest::header::ORIGIN, &app.address)
            .form(&[("theme", theme), ("back", back)])
            .send()
    };
    let response = choose("dark", "/capacity?history=365").await.expect("sent");
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/capacity?history=365");
    let set = response.headers()["set-cookie"].to_str().expect("ascii");
    assert!(
        set.starts_with("lookout_theme=dark;") && set.contains("Max-Age=31536000"),
        "{set}"
    );

    let themed = app
        .client
        .get(format!("{}/alerts", app.address))
        .header(
            reqwest::header::COOKIE,
            format!("lookout_session={cookie}; lookout_theme=dark"),
        )
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("html");
    assert!(themed.contains("<html lang=\"en\" data-theme=\"dark\">"));
    assert!(themed.contains("data-theme=\"dark\"") && themed.contains(">Theme: dark<"));

    // Auto clears the cookie; a `back` off this server goes to the fleet instead.
    let response = choose("auto", "//evil.example/").await.expect("sent");
    assert_eq!(response.headers()["location"], "/");
    let set = response.headers()["set-cookie"].to_str().expect("ascii");
    assert!(
        set.starts_with("lookout_theme=;") && set.contains("Max-Age=0"),
        "{set}"
    );
}
