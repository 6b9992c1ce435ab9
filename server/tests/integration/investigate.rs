//! Investigate: what changed in a window against the baseline before it, through the API and
//! the page, on hosts whose samples are sent like an agent's (partial samples, a minute apart).
use crate::common::{ingest, page, page_status, post, post_metrics, session, spawn_app};
use chrono::{DateTime, Duration, DurationRound, Utc};
use lookout::investigate;
use serde_json::{json, Value};

/// Three hours of one-minute samples of `web` and `db` ending a minute ago; on `web` a
/// 20-minute incident from `incident` (CPU 20 → 85 %, inbound traffic 1 → 6 MB/s, its API's
/// latency 50 → 200 ms), memory on both wobbling by a tenth of a point (below any floor).
async fn two_hosts(app: &crate::common::TestApp, incident: DateTime<Utc>, end: DateTime<Utc>) {
    let mut items = Vec::new();
    let mut latency = Vec::new();
    for minute in 0..180 {
        let ts = end - Duration::minutes(180 - minute);
        let wobble = (minute % 3) as f64 * 0.05;
        let during = ts >= incident && ts < incident + Duration::minutes(20);
        for vm in ["inv-web", "inv-db"] {
            let hot = during && vm == "inv-web";
            let (cpu, inbound) = if hot {
                (85.0 + wobble * 10.0, 6.0e6)
            } else {
                (20.0 + wobble * 10.0, 1.0e6 + wobble * 1e5)
            };
            items.push(json!({"vmId": vm, "sample": {"timestamp": ts,
                "cpu": {"percent": cpu}, "memory": {"percent": 40.0 + wobble}, "network": {"in_bps": inbound}}}));
        }
        latency.push(json!({"name": "api.latency", "value": if during { 200.0 } else { 50.0 + wobble * 10.0 },
            "unit": "ms", "host": "inv-web", "timestamp": ts}));
    }
    ingest(app, items).await;
    post_metrics(app, &latency).await;
}

fn changes(body: &Value) -> Vec<(String, String, String)> {
    body["data"]["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["vmId"].as_str().unwrap_or_default().to_owned(),
                c["series"].as_str().unwrap_or_default().to_owned(),
                c["direction"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_window_ranks_what_changed_on_each_host_against_the_stretch_before_it() {
    let app = spawn_app().await;
    let end = Utc::now()
        .duration_trunc(Duration::minutes(1))
        .expect("aligned")
        - Duration::minutes(1);
    let incident = end - Duration::minutes(60);
    two_hosts(&app, incident, end).await;
    let window = json!({"vmIds": ["inv-web", "inv-db"], "startTime": incident, "endTime": incident + Duration::minutes(20)});
    let (status, body) = post(&app, "/api/v1/history/investigate", &window).await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    // The baseline is the 80 minutes before the window.
    let baseline: DateTime<Utc> =
        serde_json::from_value(data["baselineStartTime"].clone()).expect("instant");
    assert_eq!(baseline, incident - Duration::minutes(80));
    let found = changes(&body);
    for series in ["cpu.usagePercent", "network.inBps", "custom:api.latency"] {
        assert!(
            found.contains(&("inv-web".into(), series.into(), "up".into())),
            "{series} of inv-web: {found:?}"
        );
    }
    // Memory moved a tenth of a point (below its 3-point floor) and inv-db not at all.
    assert!(
        found
            .iter()
            .all(|c| c.0 == "inv-web" && !c.1.starts_with("memory")),
        "{found:?}"
    );
    assert_eq!(
        data["filesystemsCompared"], true,
        "two hosts over 100 minutes"
    );
    let cpu = &data["changes"].as_array().expect("changes")[0];
    assert_eq!(
        cpu["score"], 1.0,
        "the window does not overlap its baseline: {cpu}"
    );
    assert_eq!(
        cpu["resolution"], "raw",
        "100 minutes of one-minute samples: {cpu}"
    );
    assert!(
        cpu["window"]["points"].as_u64().expect("points") >= 19,
        "{cpu}"
    );
    let hosts = data["hosts"].as_array().expect("hosts");
    assert_eq!(hosts[0]["vmId"], "inv-web");
    assert_eq!(hosts[1]["vmId"], "inv-db");
    assert_eq!(hosts[1]["changed"], 0);
    assert!(
        hosts[1]["compared"].as_u64().expect("compared") >= 3,
        "{}",
        hosts[1]
    );

    // Three days of one host read fifteen: past the file systems' budget of 10 host-days.
    let (status, body) = post(
        &app,
        "/api/v1/history/investigate",
        &json!({"vmIds": ["inv-web"], "startTime": end - Duration::days(3), "endTime": end}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["filesystemsCompared"], false, "{body}");
    // The same window shifted into the quiet hour before: nothing changed.
    let quiet = json!({"vmIds": ["inv-web"], "startTime": incident - Duration::minutes(30), "endTime": incident - Duration::minutes(10)});
    let (status, body) = post(&app, "/api/v1/history/investigate", &quiet).await;
    assert_eq!(status, 200, "{body}");
    assert!(changes(&body).is_empty(), "{body}");

    // A limit lists the most different and counts the rest; every host when none is named.
    let (status, body) = post(
        &app,
        "/api/v1/history/investigate",
        &json!({"startTime": incident, "endTime": incident + Duration::minutes(20), "limit": 1}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(changes(&body).len(), 1);
    assert!(body["data"]["more"].as_u64().expect("more") >= 2, "{body}");

    // Refusals in the history API's envelope.
    let refused = [
        (
            json!({"startTime": incident, "endTime": incident - Duration::minutes(5)}),
            400,
            "400-TIME",
        ),
        (
            json!({"startTime": incident, "endTime": incident + Duration::seconds(30)}),
            400,
            "400-TIME",
        ),
        (
            json!({"startTime": end - Duration::days(800), "endTime": end}),
            400,
            "400-TIME",
        ),
        (
            json!({"startTime": incident, "endTime": end, "limit": 0}),
            400,
            "400",
        ),
        (
            json!({"startTime": incident, "endTime": end, "window": 5}),
            400,
            "400",
        ),
        (
            json!({"startTime": incident, "endTime": end, "limit": "all"}),
            400,
            "400",
        ),
        (
            json!({"vmIds": ["nobody"], "startTime": incident, "endTime": end}),
            404,
            "404",
        ),
    ];
    for (request, status, code) in refused {
        let (got, body) = post(&app, "/api/v1/history/investigate", &request).await;
        assert_eq!(got, status, "{request}: {body}");
        assert_eq!(body["error"], code, "{request}: {body}");
    }

    // The page: the same ranking with a chart a row, links to the host's charts over both.
    let cookie = session(&app).await;
    let (from, to) = (
        incident.timestamp_millis(),
        (incident + Duration::minutes(20)).timestamp_millis(),
    );
    let html = page(
        &app,
        &cookie,
        &format!("/investigate?group=&host=inv-web&from={from}&to={to}"),
    )
    .await;
    assert!(html.contains(r#"data-testid="change-row" data-vm="inv-web" data-series="cpu.usagePercent" data-direction="up""#), "{html}");
    assert!(html.contains(r#"data-series="custom:api.latency""#));
    assert!(html.contains("class=\"change-spark\""));
    let charts = format!(
        "/hosts/inv-web?from={}&amp;to={to}",
        (incident - Duration::minutes(80)).timestamp_millis()
    );
    assert!(
        html.contains(&charts),
        "a link to the charts of baseline and window"
    );
    // The host view links here with its range.
    let host = page(
        &app,
        &cookie,
        &format!("/hosts/inv-web?from={from}&to={to}"),
    )
    .await;
    assert!(
        host.contains(&format!(
            "/investigate?host=inv-web&amp;from={from}&amp;to={to}"
        )),
        "{host}"
    );
    // A host that is not there, and a window that cannot be investigated.
    let (status, html) = page_status(&app, &cookie, "/investigate?host=nobody").await;
    assert_eq!(status, 404, "{html}");
    let old = (end - Duration::days(900)).timestamp_millis();
    let (status, html) = page_status(
        &app,
        &cookie,
        &format!("/investigate?from={old}&to={}", old + 3_600_000),
    )
    .await;
    assert_eq!(status, 400, "{html}");
    assert!(
        html.contains("Open the investigation without the link"),
        "{html}"
    );
    // A daily job: `inv-job` runs CPU at 60 % for the incident's 20 minutes today, yesterday
    // and a week ago. Against the stretch before, that is a change; against the same time a day
    // or a week earlier, it is not — while `inv-web`, with no data yesterday, says so.
    let mut job = Vec::new();
    for days_ago in [0, 1, 7] {
        for minute in 0..180 {
            let ts = end - Duration::days(days_ago) - Duration::minutes(180 - minute);
            let running = ts >= incident - Duration::days(days_ago)
                && ts < incident - Duration::days(days_ago) + Duration::minutes(20);
            let cpu = if running { 60.0 } else { 20.0 } + (minute % 3) as f64 * 0.5;
            job.push(
                json!({"vmId": "inv-job", "sample": {"timestamp": ts, "cpu": {"percent": cpu}}}),
            );
        }
    }
    ingest(&app, job).await;
    crate::common::wait_for_rollups(&app).await;
    let window_of = |baseline: &str| {
        json!({"vmIds": ["inv-job", "inv-web"], "startTime": incident,
        "endTime": incident + Duration::minutes(20), "baseline": baseline})
    };
    let (status, body) = post(&app, "/api/v1/history/investigate", &window_of("before")).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        changes(&body).contains(&("inv-job".into(), "cpu.usagePercent".into(), "up".into())),
        "{body}"
    );
    for baseline in ["day", "week"] {
        let (status, body) = post(&app, "/api/v1/history/investigate", &window_of(baseline)).await;
        assert_eq!(status, 200, "{body}");
        let data = &body["data"];
        assert_eq!(data["baseline"], baseline);
        let offset = if baseline == "day" {
            Duration::days(1)
        } else {
            Duration::days(7)
        };
        let earlier: DateTime<Utc> =
            serde_json::from_value(data["baselineStartTime"].clone()).expect("instant");
        assert_eq!(earlier, incident - offset);
        assert!(
            changes(&body).iter().all(|c| c.0 != "inv-job"),
            "{baseline}: {body}"
        );
        let hosts = data["hosts"].as_array().expect("hosts");
        let job = hosts
            .iter()
            .find(|h| h["vmId"] == "inv-job")
            .expect("inv-job");
        assert!(
            job["compared"].as_u64().expect("compared") >= 1,
            "{baseline}: {job}"
        );
        let web = hosts
            .iter()
            .find(|h| h["vmId"] == "inv-web")
            .expect("inv-web");
        assert_eq!(web["compared"], 0, "{web}");
        assert_eq!(
            web["note"], "no data in the baseline to compare with",
            "{web}"
        );
    }
    // A week ago is past the raw window: both sides are read at its five-minute averages.
    let (_, body) = post(&app, "/api/v1/history/investigate", &json!({"vmIds": ["inv-job"],
        "startTime": incident - Duration::minutes(30), "endTime": incident + Duration::minutes(20), "baseline": "week"})).await;
    let listed = &body["data"]["changes"];
    assert!(
        listed
            .as_array()
            .expect("changes")
            .iter()
            .all(|c| c["resolution"] == "5m"),
        "{body}"
    );
    // The job a week ago against the stretch before it then: past the raw window, so at the
    // five-minute averages the hourly rollups keep (not a single hourly point).
    let a_week_ago = incident - Duration::days(7);
    let (_, body) = post(
        &app,
        "/api/v1/history/investigate",
        &json!({"vmIds": ["inv-job"],
        "startTime": a_week_ago, "endTime": a_week_ago + Duration::minutes(20)}),
    )
    .await;
    let cpu = &body["data"]["changes"][0];
    assert_eq!(
        (cpu["series"].as_str(), cpu["resolution"].as_str()),
        (Some("cpu.usagePercent"), Some("5m")),
        "{body}"
    );
    let (status, body) = post(
        &app,
        "/api/v1/history/investigate",
        &json!({"startTime": incident - Duration::days(2),
        "endTime": incident, "baseline": "day"}),
    )
    .await;
    assert_eq!(
        (status, body["error"].clone()),
        (400, json!("400-TIME")),
        "{body}"
    );
    let (status, body) = post(
        &app,
        "/api/v1/history/investigate",
        &json!({"startTime": incident,
        "endTime": end, "baseline": "month"}),
    )
    .await;
    assert_eq!(
        (status, body["error"].clone()),
        (400, json!("400")),
        "{body}"
    );
    let html = page(
        &app,
        &cookie,
        &format!("/investigate?host=inv-job&baseline=day&from={from}&to={to}"),
    )
    .await;
    assert!(
        html.contains("against the same time a day earlier"),
        "{html}"
    );
    assert!(html.contains(r#"<option value="day" selected"#), "{html}");

    // A fleet larger than one investigation covers: the API refuses, the page asks for a group.
    let many: Vec<Value> = (0..investigate::MAX_HOSTS)
        .map(|i| json!({"vmId": format!("many-{i:03}"), "sample": {"timestamp": end, "cpu": {"percent": 5.0}}}))
        .collect();
    ingest(&app, many).await;
    let (status, body) = post(
        &app,
        "/api/v1/history/investigate",
        &json!({"startTime": incident, "endTime": incident + Duration::minutes(20)}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "400-LIMIT", "{body}");
    let html = page(&app, &cookie, "/investigate").await;
    assert!(
        html.contains(r#"data-testid="investigate-notice""#)
            && html.contains("choose a group or a host"),
        "{html}"
    );
    app.stop().await;
}
