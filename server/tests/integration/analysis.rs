use crate::common::{
    fresh_database, ingest, ingest_cpu_burst, judged, judged_tiers, post, post_metrics,
    sample_with_disk, settings, spawn_app, spawn_with, wait_for_rollups, wave_with_burst, TestApp,
    Wave,
};
use chrono::{DateTime, Duration, DurationRound, Utc};
use lookout::{
    config::DatabaseArgs,
    storage::rollups::{self, Tier},
};
use serde_json::{json, Value};

/// The anomaly events on a VM's timeline from `since` to now, once there are any (the
/// continuous detector's rounds come every 2 s; empty after 30 s).
async fn anomalies_on_timeline(app: &TestApp, vm: &str, since: DateTime<Utc>) -> Vec<Value> {
    let url = format!(
        "/api/v1/history/timeline/{vm}?types=anomaly&startTime={}&endTime={}",
        since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    for _ in 0..60 {
        let (status, body) = app.get_json(&url).await;
        assert_eq!(status, 200, "{body}");
        let found = body["data"]["events"].as_array().expect("events");
        if !found.is_empty() {
            return found.clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    Vec::new()
}

fn midnight_days_ago(days: i64) -> DateTime<Utc> {
    (Utc::now() - Duration::days(days))
        .duration_trunc(Duration::days(1))
        .expect("aligned")
}

/// Four samples a day (00, 06, 12, 18 UTC) for `days` days from `first`: (day number, time).
fn four_a_day(first: DateTime<Utc>, days: i64) -> impl Iterator<Item = (i64, DateTime<Utc>)> {
    (0..days).flat_map(move |d| {
        [0, 6, 12, 18].map(move |hour| (d, first + Duration::days(d) + Duration::hours(hour)))
    })
}

#[tokio::test]
async fn trends_give_growth_forecast_and_capacity_dates_computed_by_hand() {
    let app = spawn_app().await;
    let first = midnight_days_ago(100);
    let mut items = Vec::new();
    for (d, ts) in four_a_day(first, 100) {
        let day = d as f64;
        // cap-01 grows 0.2 pp/day of CPU, cap-02 idles at 10 %: the group grows 0.1 pp/day from 20 %.
        items.push(json!({"vmId": "cap-01", "groupId": "grp_cap", "sample": sample_with_disk(ts, 30.0 + 0.2 * day, 50.0, 40.0 + 0.1 * day)}));
        items.push(json!({"vmId": "cap-02", "groupId": "grp_cap", "sample": sample_with_disk(ts, 10.0, 50.0, 40.0)}));
    }
    // A host of another group, which the group's plan leaves out.
    items.push(json!({"vmId": "other-01", "groupId": "grp_other", "sample": sample_with_disk(Utc::now() - Duration::minutes(5), 90.0, 90.0, 90.0)}));
    assert_eq!(ingest(&app, items).await["stored"], 801);
    wait_for_rollups(&app).await;
    let (status, body) = post(&app, "/api/v1/history/trends", &json!({
        "groupId": "grp_cap", "startTime": first, "endTime": Utc::now(), "metrics": ["cpu", "memory", "disk"],
        "forecast": {"enabled": true, "horizon": 30, "method": "linear"}, "capacityThreshold": 60,
    })).await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    let historical = data["historical"].as_array().expect("daily history");
    assert_eq!(historical.len(), 100);
    assert_eq!(
        (
            historical[0]["cpu"].as_f64(),
            historical[99]["cpu"].as_f64()
        ),
        (Some(20.0), Some(29.9))
    );
    assert_eq!(
        data["growthRates"]["cpu"],
        json!({"daily": 0.1, "weekly": 0.7, "monthly": 3.0})
    );
    assert_eq!(data["growthRates"]["memory"]["daily"], 0.0);
    // Day 99 is the last; 30 days on: 20 + 0.1 × 129 = 32.9. 60 % is reached at day 400, 301 days on.
    let last_day = first + Duration::days(99);
    assert_eq!(data["forecast"]["cpu"]["predictedValue"], 32.9);
    assert_eq!(
        data["forecast"]["cpu"]["capacityExceedDate"],
        json!(last_day + Duration::days(301))
    );
    assert!(
        data["forecast"]["cpu"]["confidence"]
            .as_f64()
            .expect("confidence")
            > 0.95,
        "{body}"
    );
    assert!(
        data["forecast"]["memory"]
            .get("capacityExceedDate")
            .is_none(),
        "flat memory never crosses"
    );
    assert!(data.get("warning").is_none(), "100 days is enough: {body}");
    // cap-01 alone: 30 + 0.2 d reaches 60 % at day 150, 51 days on: a medium alert and a scale-up.
    let alerts = data["capacityAlerts"].as_array().expect("alerts");
    let host_cpu = alerts
        .iter()
        .find(|a| a["vmId"] == "cap-01" && a["metric"] == "cpu")
        .expect("cap-01 cpu alert");
    assert_eq!(host_cpu["severity"], "medium");
    assert_eq!(
        host_cpu["predictedExceedDate"],
        json!(last_day + Duration::days(51))
    );
    assert_eq!(host_cpu["currentUsage"], 49.8);
    let group_cpu = alerts
        .iter()
        .find(|a| a.get("vmId").is_none() && a["metric"] == "cpu")
        .expect("group cpu alert");
    assert_eq!(group_cpu["severity"], "low");
    let recommendations = data["recommendations"].as_array().expect("recommendations");
    assert!(
        recommendations
            .iter()
            .any(|r| r["type"] == "scale_up" && r["vmId"] == "cap-01" && r["metric"] == "cpu"),
        "{body}"
    );
    assert!(
        alerts.iter().all(|a| a["vmId"] != "cap-02"),
        "the idle host has no alert"
    );

    // The capacity page plans the same group when asked by its view form (a GET link): the
    // choices kept selected, cap-01's crossing of 60 % dated as the API dates it.
    let cookie = crate::common::session(&app).await;
    let page = crate::common::page(
        &app,
        &cookie,
        "/capacity?group=grp_cap&history=180&horizon=90&threshold=60",
    )
    .await;
    assert!(
        page.contains("group grp_cap · 2 hosts · last 180 days"),
        "the scope"
    );
    for selected in [
        "<option value=\"grp_cap\" selected",
        "<option value=\"60\" selected",
        "<option value=\"90\" selected",
    ] {
        assert!(page.contains(selected), "{selected}");
    }
    assert!(
        page.contains("grp_other (1 hosts)"),
        "every group to choose from"
    );
    let crossing = (last_day + Duration::days(51))
        .format("%Y-%m-%d")
        .to_string();
    assert!(
        page.contains(&crossing),
        "cap-01 reaches 60 % on {crossing}"
    );
    assert!(
        !page.contains(">other-01<"),
        "another group's host is not planned"
    );
    let fleet = crate::common::page(&app, &cookie, "/capacity").await;
    // (The server's own host is in the fleet too.)
    assert!(
        fleet.contains("<option value=\"\" selected") && !fleet.contains("group grp_cap ·"),
        "the whole fleet by default"
    );
    // The fleet's view opens with every group's runway at its threshold: grp_cap's average CPU
    // reaches 60 % in 301 days, cap-01 in 51; the group's row opens its plan with the same view.
    let fleet = crate::common::page(
        &app,
        &cookie,
        "/capacity?history=180&horizon=90&threshold=60",
    )
    .await;
    let row = fleet
        .split(r#"data-testid="runway-row" data-group="grp_cap""#)
        .nth(1)
        .and_then(|rest| rest.split("</tr>").next())
        .expect("grp_cap's runway");
    assert!(row.contains(">301 days<"), "{row}");
    assert!(row.contains("cap-01 · cpu · 51 days"), "{row}");
    assert!(
        row.contains(
            r#"href="/capacity?group=grp_cap&amp;history=180&amp;horizon=90&amp;threshold=60""#
        ),
        "{row}"
    );
    assert!(
        !page.contains(r#"data-testid="runway""#),
        "a group's own view has no runway table"
    );
    // The fleet page's tiles link each group to its plan and its comparison.
    let fleet_page = crate::common::page(&app, &cookie, "/").await;
    assert!(
        fleet_page.contains("href=\"/capacity?group=grp_cap\""),
        "a link to the group's plan"
    );
    assert!(fleet_page.contains("href=\"/compare?group=grp_cap\""));
    // The same plan as a spreadsheet: the group's forecasts (29.9 + 0.1 × 90 = 38.9 at the
    // 90-day horizon), then cap-01's crossing.
    let csv = app
        .client
        .get(format!(
            "{}/capacity.csv?group=grp_cap&history=180&horizon=90&threshold=60",
            app.address
        ))
        .header(reqwest::header::COOKIE, format!("lookout_session={cookie}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(csv.status().as_u16(), 200);
    assert_eq!(
        csv.headers()[reqwest::header::CONTENT_TYPE],
        "text/csv; charset=utf-8"
    );
    let csv = csv.text().await.expect("CSV");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "kind,scope,host,metric,unit,now,growth_per_month,at_horizon,limit,reaches_on,days_to_reach,severity,recommended,cost_change_per_month,currency"
    );
    let group_cpu_day = (last_day + Duration::days(301)).format("%Y-%m-%d");
    assert!(
        lines.contains(
            &format!("forecast,group grp_cap,,cpu,%,29.90,3.00,38.90,60,{group_cpu_day},301,,,,")
                .as_str()
        ),
        "{csv}"
    );
    assert!(
        lines.contains(
            &format!("host crossing,group grp_cap,cap-01,cpu,%,49.80,,,60,{crossing},51,medium,,,")
                .as_str()
        ),
        "{csv}"
    );
    // Right-sizing rows: every host's vCPUs and memory (4 and 8 GiB in its samples) with the
    // verdict and the size that fits.
    for metric in ["cpu,vCPU,4,", "memory,GiB,8.0,"] {
        let prefix = format!("right-size,group grp_cap,cap-01,{metric}");
        assert!(
            lines.iter().any(|l| l.starts_with(&prefix)),
            "{prefix}: {csv}"
        );
    }
    let signed_out = app
        .client
        .get(format!("{}/capacity.csv", app.address))
        .send()
        .await
        .expect("sent");
    assert_eq!(signed_out.status().as_u16(), 303, "to the sign-in page");
    let refused = app
        .client
        .get(format!("{}/capacity.csv?horizon=7", app.address))
        .header(reqwest::header::COOKIE, format!("lookout_session={cookie}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(refused.status().as_u16(), 400);
    // The host view's outlook: cap-01 alone over the default plan (180 days, 90-day forecast,
    // 80 %): +0.2 pp a day is +6.00 pp a month, 30 + 0.2 d reaches 80 % at day 250, 151 days on.
    let host = crate::common::page(&app, &cookie, "/hosts/cap-01?range=24h").await;
    let outlook = host
        .split("data-testid=\"host-outlook\"")
        .nth(1)
        .expect("the host view has an outlook");
    assert!(outlook.contains("+6.00 pp/month"), "cap-01's CPU growth");
    let reaches = (last_day + Duration::days(151))
        .format("%Y-%m-%d")
        .to_string();
    assert!(
        outlook.contains(&reaches),
        "cap-01's CPU reaches 80 % on {reaches}"
    );
    assert!(
        outlook.contains("/capacity?group=grp_cap"),
        "a link to its group's plan"
    );
    for (query, status, problem) in [
        (
            "?threshold=65",
            400,
            "`threshold` must be one of 60, 70, 80, 90, got `65`",
        ),
        ("?group=nope", 404, "no hosts with groupId `nope`"),
    ] {
        let (answered, refused) =
            crate::common::page_status(&app, &cookie, &format!("/capacity{query}")).await;
        assert_eq!(answered, status, "{query}: a bad link");
        assert!(refused.contains(problem), "{query}");
        // The way on is the page without the link's choices, not signing in again.
        assert!(refused.contains(r#"data-failure="bad-link""#), "{query}");
        assert!(
            refused.contains(r#"<a href="/capacity">Open the capacity report without the link"#),
            "{query}: {refused}"
        );
        assert!(!refused.contains("Sign in again"), "{query}");
    }
    // A host that is not there (removed, or a typo in the address) sends to the fleet; a range
    // that cannot be answered to the same host's default view.
    let (status, refused) = crate::common::page_status(&app, &cookie, "/hosts/nope-01").await;
    assert_eq!(status, 404);
    assert!(refused.contains("nope-01"), "{refused}");
    assert!(refused.contains(r#"<a href="/">Go to the fleet</a>"#));
    let (status, refused) = crate::common::page_status(
        &app,
        &cookie,
        "/hosts/cap-01?from=2020-01-01T00:00&to=2020-01-02T00:00",
    )
    .await;
    assert_eq!(status, 400);
    assert!(refused.contains("history is kept for 2 years"), "{refused}");
    assert!(refused.contains(r#"<a href="/hosts/cap-01">Open this host without the link"#));
    app.stop().await;
}

#[tokio::test]
async fn a_lasting_memory_step_is_reported_with_where_the_level_goes_without_further_steps() {
    let app = spawn_app().await;
    let first = midnight_days_ago(100);
    let mut items = Vec::new();
    for (d, ts) in four_a_day(first, 100) {
        // Memory grows 0.05 pp/day from 40 % and steps up 15 pp on day 70 (a deploy); CPU is flat.
        let memory = 40.0 + 0.05 * d as f64 + if d >= 70 { 15.0 } else { 0.0 };
        items.push(json!({"vmId": "step-01", "sample": sample_with_disk(ts, 25.0, memory, 30.0)}));
    }
    ingest(&app, items).await;
    wait_for_rollups(&app).await;
    let (status, body) = post(&app, "/api/v1/history/trends", &json!({
        "vmIds": ["step-01"], "startTime": first, "endTime": Utc::now(), "metrics": ["cpu", "memory"],
        "forecast": {"enabled": true, "horizon": 30, "method": "linear"}, "capacityThreshold": 80,
    })).await;
    assert_eq!(status, 200, "{body}");
    let memory = &body["data"]["forecast"]["memory"];
    assert_eq!(
        memory["levelShifts"],
        json!([{"date": first + Duration::days(70), "change": 15.0}]),
        "{body}"
    );
    // The forecast starts from today's level and grows at the rate between the steps. Day 99:
    // 40 + 4.95 + 15 = 59.95; in 30 days 61.45; 80 % after (80 − 59.95) / 0.05 = 401 days.
    let last_day = first + Duration::days(99);
    assert_eq!(memory["predictedValue"], 61.45, "{body}");
    assert_eq!(
        memory["capacityExceedDate"],
        json!(last_day + Duration::days(401))
    );
    assert_eq!(body["data"]["growthRates"]["memory"]["daily"], 0.05);
    // If steps recur at the past pace (15 pp per 100 days): 0.05 + 0.15 = 0.2 pp/day, 65.95 in
    // 30 days, 80 % after 100.25 days.
    assert_eq!(
        memory["ifShiftsRecur"],
        json!({"growthDaily": 0.2, "predictedValue": 65.95, "capacityExceedDate": last_day + Duration::days(100)})
    );
    assert!(
        body["data"]["forecast"]["cpu"].get("levelShifts").is_none(),
        "flat CPU has no steps: {body}"
    );
    assert!(
        body["data"]["recommendations"]
            .as_array()
            .expect("list")
            .is_empty(),
        "80 % is 100+ days away either way: {body}"
    );
    // At 75 %: the main forecast crosses in 301 days, recurring steps in 75 days — a scale-up
    // that names the steps.
    let (_, body) = post(&app, "/api/v1/history/trends", &json!({
        "vmIds": ["step-01"], "startTime": first, "endTime": Utc::now(), "metrics": ["memory"],
        "forecast": {"enabled": true, "horizon": 30, "method": "linear"}, "capacityThreshold": 75,
    })).await;
    assert_eq!(
        body["data"]["forecast"]["memory"]["capacityExceedDate"],
        json!(last_day + Duration::days(301)),
        "{body}"
    );
    let recommendations = body["data"]["recommendations"].as_array().expect("list");
    assert_eq!(recommendations.len(), 1, "{body}");
    assert_eq!(recommendations[0]["type"], "scale_up");
    let text = recommendations[0]["description"]
        .as_str()
        .expect("description");
    assert!(
        text.contains("stepped up 1 time(s)")
            && text.contains(&format!(
                "{}",
                (last_day + Duration::days(75)).format("%Y-%m-%d")
            )),
        "{text}"
    );
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
    assert!(
        data["warning"]
            .as_str()
            .expect("warning")
            .contains("20 days"),
        "{body}"
    );
    let confidence = data["forecast"]["cpu"]["confidence"]
        .as_f64()
        .expect("confidence");
    assert!(confidence <= 20.0 / 90.0 + 1e-3, "{confidence}");
    let scale_down = data["recommendations"]
        .as_array()
        .expect("list")
        .iter()
        .find(|r| r["type"] == "scale_down")
        .expect("scale_down");
    assert!(
        scale_down["description"]
            .as_str()
            .expect("text")
            .contains("p95"),
        "{scale_down}"
    );

    // Three days: no growth or forecast is invented.
    let (_, body) = post(&app, "/api/v1/history/trends", &json!({
        "vmIds": ["idle-01"], "startTime": first + Duration::days(17), "endTime": Utc::now(), "forecast": {"enabled": true},
    })).await;
    assert_eq!(body["data"]["growthRates"], json!({}), "{body}");
    assert_eq!(body["data"]["forecast"], json!({}));
    assert!(body["data"]["warning"]
        .as_str()
        .expect("warning")
        .contains("at least 7"));

    for (request, code) in [
        (
            json!({"vmIds": ["idle-01"], "startTime": first, "endTime": Utc::now(), "metrics": ["network"]}),
            "400",
        ),
        (
            json!({"vmIds": ["idle-01"], "startTime": first, "endTime": Utc::now(), "capacityThreshold": 150}),
            "400",
        ),
        (
            json!({"vmIds": ["idle-01"], "startTime": first, "endTime": Utc::now(), "forecast": {"enabled": true, "method": "spline"}}),
            "400",
        ),
        (
            json!({"vmIds": ["idle-01"], "startTime": Utc::now(), "endTime": first}),
            "400-TIME",
        ),
        (
            json!({"vmIds": ["nope"], "startTime": first, "endTime": Utc::now()}),
            "404",
        ),
    ] {
        let (_, body) = post(&app, "/api/v1/history/trends", &request).await;
        assert_eq!(body["error"], code, "{request} → {body}");
    }
    app.stop().await;
}

/// Half-hourly samples of a host over `days` days ending at `until`: CPU follows a daily wave
/// with small deterministic jitter; `spike` sets CPU to 95 % and inbound traffic ×20 at that hour.
fn wave(
    vm: &str,
    group: &str,
    until: DateTime<Utc>,
    days: i64,
    spike: Option<DateTime<Utc>>,
) -> Vec<Value> {
    let first = until - Duration::days(days);
    (0..days * 48)
        .map(|i| {
            let ts = first + Duration::minutes(30 * i);
            let hour_of_day = (ts.timestamp() % 86_400) as f64 / 3600.0;
            let jitter = ((i * 7919) % 13) as f64 / 13.0 - 0.5;
            let in_spike = spike.is_some_and(|s| ts >= s && ts < s + Duration::hours(1));
            let cpu = if in_spike {
                95.0
            } else {
                40.0 + 15.0 * (hour_of_day / 24.0 * std::f64::consts::TAU).sin() + jitter
            };
            let mut sample = sample_with_disk(ts, cpu, 50.0 + jitter * 0.2, 60.0);
            sample["network"]["in_bps"] = json!(if in_spike {
                20_000.0
            } else {
                1000.0 + 10.0 * jitter
            });
            json!({"vmId": vm, "groupId": group, "sample": sample})
        })
        .collect()
}

#[tokio::test]
async fn a_backfilled_hour_is_judged_before_the_daily_rollup_catches_up() {
    // No rollup worker: the test decides which tier has run.
    let mut config = settings(DatabaseArgs {
        database_url: Some(fresh_database().await),
        data_dir: "unused".into(),
    });
    config.rollup_interval = std::time::Duration::from_secs(3600);
    let app = spawn_with(config).await;
    let until = Utc::now()
        .duration_trunc(Duration::hours(1))
        .expect("aligned")
        - Duration::hours(1);
    // Four days back: a settled day, read from the daily rows' hourly averages.
    let spike = until - Duration::days(4) + Duration::hours(3);
    let (late, on_time): (Vec<Value>, Vec<Value>) =
        wave("late-01", "grp_late", until, 15, Some(spike))
            .into_iter()
            .partition(|item| {
                let ts: DateTime<Utc> =
                    serde_json::from_value(item["sample"]["timestamp"].clone()).expect("timestamp");
                ts >= spike && ts < spike + Duration::hours(1)
            });
    assert_eq!(late.len(), 2);
    ingest(&app, on_time).await;
    // A second host: forty days, its late spike hour 35 days back (older than the five-minute
    // buckets: judged hourly only), left queued for its hourly rollup.
    let old_spike = until - Duration::days(35) + Duration::hours(3);
    let (old_late, old_on_time): (Vec<Value>, Vec<Value>) =
        wave("late-02", "grp_late", until, 40, Some(old_spike))
            .into_iter()
            .partition(|item| {
                let ts: DateTime<Utc> =
                    serde_json::from_value(item["sample"]["timestamp"].clone()).expect("timestamp");
                ts >= old_spike && ts < old_spike + Duration::hours(1)
            });
    ingest(&app, old_on_time).await;
    rollups::run_once(&app.pool).await.expect("both tiers");
    // The spike hour arrives late; only the hourly tier catches up, its day stays queued.
    ingest(&app, late).await;
    while rollups::process_queue(&app.pool, Tier::Hourly, 1000)
        .await
        .expect("hourly tier")
        > 0
    {}
    let queued: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM rollup_queue_daily WHERE bucket = $1)")
            .bind(spike.duration_trunc(Duration::days(1)).expect("day"))
            .fetch_one(&app.pool)
            .await
            .expect("queue");
    assert!(queued, "the spike's day waits for its daily rollup");
    let request = json!({"vmIds": ["late-01"], "startTime": until - Duration::days(6), "endTime": until, "metrics": ["cpu"]});
    let the_spike = |body: &Value| -> Value {
        let spikes: Vec<&Value> = body["data"]["anomalies"]
            .as_array()
            .expect("list")
            .iter()
            .filter(|a| a["type"] == "spike")
            .collect();
        assert_eq!(spikes.len(), 1, "{body}");
        json!({"timestamp": spikes[0]["timestamp"], "value": spikes[0]["value"]})
    };
    let (status, body) = post(&app, "/api/v1/history/anomalies", &request).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(the_spike(&body), json!({"timestamp": spike, "value": 95.0}));

    // An hour still queued for its hourly rollup is judged from its raw samples, as every other
    // reader answers it (its day's stored averages do not have it yet).
    ingest(&app, old_late).await;
    let request = json!({"vmIds": ["late-02"], "startTime": until - Duration::days(38),
                         "endTime": until - Duration::days(32), "metrics": ["cpu"]});
    let (status, body) = post(&app, "/api/v1/history/anomalies", &request).await;
    assert_eq!(status, 200, "{body}");
    // Judged hourly only (older than the five-minute buckets).
    assert!(
        judged_tiers(&body["data"]).iter().all(|t| t.1 == "hourly"),
        "{body}"
    );
    assert_eq!(
        the_spike(&body),
        json!({"timestamp": old_spike, "value": 95.0})
    );
    app.stop().await;
}

#[tokio::test]
async fn anomalies_are_typed_explained_stable_and_follow_their_lifecycle() {
    let app = spawn_app().await;
    let until = Utc::now()
        .duration_trunc(Duration::hours(1))
        .expect("aligned")
        - Duration::hours(1);
    let spike = until - Duration::days(2) + Duration::hours(3);
    let mut items = wave("anom-01", "grp_an", until, 15, Some(spike));
    items.extend(wave("anom-02", "grp_an", until, 15, Some(spike)));
    ingest(&app, items).await;
    wait_for_rollups(&app).await;

    let request = json!({"groupId": "grp_an", "startTime": until - Duration::days(4), "endTime": until,
                         "metrics": ["cpu", "network"], "sensitivity": "medium"});
    let (status, body) = post(&app, "/api/v1/history/anomalies", &request).await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    let anomalies = data["anomalies"].as_array().expect("list");
    assert_eq!(data["total"].as_u64(), Some(anomalies.len() as u64));
    let severities: u64 = ["critical", "high", "medium", "low"]
        .iter()
        .map(|s| data["bySeverity"][s].as_u64().expect("count"))
        .sum();
    assert_eq!(severities, anomalies.len() as u64);
    let cpu: Vec<&Value> = anomalies
        .iter()
        .filter(|a| a["vmId"] == "anom-01" && a["metric"] == "cpu")
        .collect();
    assert_eq!(cpu.len(), 1, "one CPU event on anom-01: {body}");
    let event = cpu[0];
    assert_eq!(event["type"], "spike");
    assert_eq!(event["timestamp"], json!(spike));
    assert_eq!(event["duration"], 3600);
    assert_eq!(event["value"], 95.0);
    assert!(
        event["baseline"].as_f64().expect("baseline") < 60.0,
        "{event}"
    );
    assert!(
        event["deviation"].as_f64().expect("deviation") > 50.0,
        "{event}"
    );
    assert_eq!(event["relatedVMs"], json!(["anom-02"]));
    assert_eq!(event["status"], "active");
    assert!(
        event["possibleCauses"][0]
            .as_str()
            .expect("cause")
            .contains("traffic surge"),
        "network spiked with it: {event}"
    );
    assert!(!event["suggestedActions"]
        .as_array()
        .expect("actions")
        .is_empty());
    assert!(anomalies
        .iter()
        .any(|a| a["vmId"] == "anom-01" && a["series"] == "network.inBps" && a["type"] == "spike"));

    // Found again over a wider range: the same stored event.
    let wider = json!({"vmIds": ["anom-01"], "startTime": until - Duration::days(6), "endTime": until, "metrics": ["cpu"]});
    let (_, again) = post(&app, "/api/v1/history/anomalies", &wider).await;
    let same = again["data"]["anomalies"]
        .as_array()
        .expect("list")
        .iter()
        .find(|a| a["type"] == "spike")
        .cloned()
        .expect("spike");
    assert_eq!(same["id"], event["id"]);
    let drops_only = json!({"vmIds": ["anom-01"], "startTime": until - Duration::days(4), "endTime": until, "metrics": ["cpu"], "anomalyTypes": ["drop"]});
    let (_, drops) = post(&app, "/api/v1/history/anomalies", &drops_only).await;
    assert!(
        drops["data"]["anomalies"]
            .as_array()
            .expect("list")
            .iter()
            .all(|a| a["type"] == "drop"),
        "{drops}"
    );

    // Lifecycle: acknowledge (twice keeps the first), resolve, unknown ids, missing scope.
    let id = event["id"].as_str().expect("id");
    let (status, acked) = post(
        &app,
        &format!("/api/v1/history/anomalies/{id}/acknowledge"),
        &json!({}),
    )
    .await;
    assert_eq!(status, 200, "{acked}");
    assert_eq!(
        (
            acked["data"]["status"].as_str(),
            acked["data"]["acknowledgedBy"].as_str()
        ),
        (Some("acknowledged"), Some("bootstrap"))
    );
    let first_ack = acked["data"]["acknowledgedAt"].clone();
    let (_, again) = post(
        &app,
        &format!("/api/v1/history/anomalies/{id}/acknowledge"),
        &json!({}),
    )
    .await;
    assert_eq!(again["data"]["acknowledgedAt"], first_ack);
    let (status, resolved) = post(
        &app,
        &format!("/api/v1/history/anomalies/{id}/resolve"),
        &json!({"resolution": "load test"}),
    )
    .await;
    assert_eq!(status, 200, "{resolved}");
    assert_eq!(resolved["data"]["status"], "resolved");
    assert!(resolved["data"]["resolvedAt"].is_string());
    let (_, listed) = post(&app, "/api/v1/history/anomalies", &request).await;
    let listed = listed["data"]["anomalies"]
        .as_array()
        .expect("list")
        .iter()
        .find(|a| a["id"] == event["id"])
        .cloned()
        .expect("still listed");
    assert_eq!(
        listed["status"], "resolved",
        "re-detection keeps the lifecycle"
    );
    for path in [
        "/api/v1/history/anomalies/anomaly_999999/acknowledge",
        "/api/v1/history/anomalies/not-an-id/resolve",
    ] {
        let (status, body) = post(&app, path, &json!({})).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (404, Some("404")),
            "{path}: {body}"
        );
    }
    let reader = crate::common::reader_token(&app).await;
    let response = app
        .client
        .post(format!(
            "{}/api/v1/history/anomalies/{id}/resolve",
            app.address
        ))
        .bearer_auth(&reader)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 403);

    for (request, code) in [
        (
            json!({"vmIds": ["anom-01"], "startTime": until - Duration::days(1), "endTime": until, "sensitivity": "extreme"}),
            "400",
        ),
        (
            json!({"vmIds": ["anom-01"], "startTime": until - Duration::days(1), "endTime": until, "anomalyTypes": ["weird"]}),
            "400",
        ),
        (
            json!({"vmIds": ["anom-01"], "startTime": until - Duration::days(800), "endTime": until}),
            "400-TIME",
        ),
        (
            json!({"vmIds": ["nope"], "startTime": until - Duration::days(1), "endTime": until}),
            "404",
        ),
    ] {
        let (_, body) = post(&app, "/api/v1/history/anomalies", &request).await;
        assert_eq!(body["error"], code, "{request} → {body}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_month_old_disk_throughput_incident_is_found_and_the_answer_says_what_was_judged() {
    let app = spawn_app().await;
    let until = Utc::now()
        .duration_trunc(Duration::hours(1))
        .expect("aligned")
        - Duration::hours(1);
    // 90 days of a steady host; 60 days ago, three hours of heavy writes (50 MB/s over ~1 MB/s),
    // from 23:00 UTC, across midnight: the scale and the week's record re-read at midnight hold
    // the burst's first hour, and its continuation must still be reported (it once was not: 1
    // hour, or 2 when started at 22:00).
    let incident = (until - Duration::days(60))
        .duration_trunc(Duration::days(1))
        .expect("aligned")
        + Duration::hours(23);
    let mut items = wave("old-01", "grp_old", until, 90, None);
    for item in &mut items {
        let ts: DateTime<Utc> =
            serde_json::from_value(item["sample"]["timestamp"].clone()).expect("time");
        let jitter = (ts.timestamp() / 1800 % 7) as f64 * 10_000.0;
        let writing = ts >= incident && ts < incident + Duration::hours(3);
        item["sample"]["disk"]["write_bps"] = json!(if writing {
            50_000_000.0
        } else {
            1_000_000.0 + jitter
        });
    }
    for chunk in items.chunks(2000) {
        ingest(&app, chunk.to_vec()).await;
    }
    wait_for_rollups(&app).await;

    let request = json!({"vmIds": ["old-01"], "startTime": until - Duration::days(75), "endTime": until - Duration::days(45),
                         "metrics": ["disk"], "sensitivity": "medium"});
    let (status, body) = post(&app, "/api/v1/history/anomalies", &request).await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    let writes: Vec<&Value> = data["anomalies"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|a| a["series"] == "disk.writeBps")
        .collect();
    assert_eq!(writes.len(), 1, "{data}");
    assert_eq!(writes[0]["type"], "spike");
    assert_eq!(writes[0]["timestamp"], json!(incident));
    assert_eq!(writes[0]["duration"], 3 * 3600);
    assert_eq!(writes[0]["confidence"], "normal");
    // Nothing else on the steady series (the floor keeps jitter out).
    assert_eq!(data["total"], 1, "{data}");

    // Every disk series of the catalogue was judged hourly over the asked month, none skipped.
    let judged = judged(data);
    let names: Vec<&str> = judged.iter().map(|j| j.series.as_str()).collect();
    for series in [
        "disk.usagePercent",
        "disk.readLatency",
        "disk.writeLatency",
        "disk.readIOPS",
        "disk.writeIOPS",
        "disk.readBps",
        "disk.writeBps",
    ] {
        assert!(names.contains(&series), "{series} not in {names:?}");
    }
    let write_bps = judged
        .iter()
        .find(|j| j.series == "disk.writeBps")
        .expect("writeBps judged");
    assert_eq!(write_bps.tier, "hourly");
    assert_eq!(write_bps.hosts, 1);
    assert_eq!(write_bps.points, 30 * 24 + 1, "{write_bps:?}");
    assert_eq!(data["skipped"], json!([]), "{data}");

    // Asked for every group, the redundant views are listed as skipped with their reason.
    let request = json!({"vmIds": ["old-01"], "startTime": until - Duration::days(75), "endTime": until - Duration::days(45)});
    let (_, body) = post(&app, "/api/v1/history/anomalies", &request).await;
    let skipped: Vec<&str> = body["data"]["skipped"]
        .as_array()
        .expect("skipped")
        .iter()
        .map(|s| s["series"].as_str().expect("name"))
        .collect();
    assert_eq!(
        skipped,
        ["cpu.usageMHz", "memory.usedMB", "memory.freeMB"],
        "{}",
        body["data"]
    );
    assert!(body["data"]["skipped"][0]["reason"]
        .as_str()
        .expect("reason")
        .contains("cpu.usagePercent"));
    app.stop().await;
}

#[tokio::test]
async fn a_burst_shorter_than_an_hour_is_found_at_five_minutes_in_and_past_the_raw_window() {
    let began = Utc::now();
    let day_of = |t: DateTime<Utc>| t.duration_trunc(Duration::days(1)).expect("day");
    let app = spawn_app().await;
    let until = Utc::now()
        .duration_trunc(Duration::hours(1))
        .expect("aligned")
        - Duration::hours(1);
    // Five-minute samples following a daily wave, with 20 minutes at 95 % inside one hour: on
    // `recent`, two days ago after ten days of samples; on `older`, twenty days ago (past the raw
    // window, inside the hourly rollups' five-minute averages) after six days of samples.
    let recent_burst = until - Duration::days(2) + Duration::hours(7) + Duration::minutes(15);
    let older_burst = until - Duration::days(20) + Duration::hours(7) + Duration::minutes(15);
    let cases = [
        ("burst-recent", until - Duration::days(10), recent_burst),
        ("burst-older", until - Duration::days(26), older_burst),
    ];
    for (vm, first, burst) in cases {
        ingest_cpu_burst(&app, vm, (first, until), burst).await;
    }
    wait_for_rollups(&app).await;
    // The recent range ends with the samples; the older one, four days around its burst, a
    // second before an hour (the range is judged to the end of its last hour).
    let ranges = [
        (
            "burst-recent",
            until - Duration::days(3),
            until,
            recent_burst,
        ),
        (
            "burst-older",
            until - Duration::days(22),
            until - Duration::days(18) - Duration::seconds(1),
            older_burst,
        ),
    ];
    // Ended days are read from their whole-day rows; the same answer must come from the
    // judgements the first requests kept, and from the hourly rows the whole-day rows are copied
    // from, which readers fall back to for any day without one.
    for source in ["whole-day rows", "kept judgements", "hourly rows"] {
        if source == "kept judgements" {
            // The ended days of both ranges, at both tiers, are kept complete (the continuous
            // detector keeps today's of an active host too, not complete).
            let kept: Vec<(String, i16, bool)> = sqlx::query_as(
                "SELECT h.vm_id, j.tier, j.complete FROM anomaly_judgements j JOIN hosts h ON h.id = j.host_id ORDER BY 1, 2, j.day",
            )
            .fetch_all(&app.pool)
            .await
            .expect("kept");
            for (vm, tier, days) in [
                ("burst-recent", 1, 3),
                ("burst-recent", 0, 3),
                ("burst-older", 1, 3),
                ("burst-older", 0, 3),
            ] {
                let complete = kept
                    .iter()
                    .filter(|k| k.0 == vm && k.1 == tier && k.2)
                    .count();
                assert!(complete >= days, "{vm} tier {tier}: {kept:?}");
            }
        }
        if source == "hourly rows" {
            for (vm, first, _) in cases {
                let days: i64 = sqlx::query_scalar(
                    "SELECT count(DISTINCT f.bucket) FROM rollup_fine_daily f JOIN hosts h ON h.id = f.host_id WHERE h.vm_id = $1",
                )
                .bind(vm)
                .fetch_one(&app.pool)
                .await
                .expect("count");
                // Every day of samples that had ended when its daily rollup ran: all of them
                // but today's (and yesterday's, if the test began before midnight).
                let ended_by = |t: DateTime<Utc>| (day_of(t) - day_of(first)).num_days();
                assert!(
                    (ended_by(began)..=ended_by(Utc::now())).contains(&days),
                    "{vm}: {days} days"
                );
            }
            for table in ["rollup_fine_daily", "anomaly_judgements"] {
                sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
                    .execute(&app.pool)
                    .await
                    .expect("delete");
            }
        }
        for (vm, start, end, burst) in ranges {
            let request =
                json!({"vmIds": [vm], "startTime": start, "endTime": end, "metrics": ["cpu"]});
            let (status, body) = post(&app, "/api/v1/history/anomalies", &request).await;
            assert_eq!(status, 200, "{body}");
            let data = &body["data"];
            let cpu: Vec<&Value> = data["anomalies"]
                .as_array()
                .expect("list")
                .iter()
                .filter(|a| a["series"] == "cpu.usagePercent")
                .collect();
            assert_eq!(cpu.len(), 1, "{vm}: {data}");
            assert_eq!(cpu[0]["type"], "spike");
            assert_eq!(cpu[0]["timestamp"], json!(burst), "{vm}: {}", cpu[0]);
            assert_eq!(cpu[0]["duration"], 20 * 60, "{vm}");
            let tiers = judged_tiers(data);
            let has = |series: &str, tier: &str| tiers.contains(&(series.into(), tier.into()));
            assert!(has("cpu.usagePercent", "hourly"), "{vm}: {tiers:?}");
            assert!(has("cpu.usagePercent", "5m"), "{vm}: {tiers:?}");
            let fine = judged(data)
                .into_iter()
                .find(|j| j.series == "cpu.usagePercent" && j.tier == "5m")
                .expect("5m");
            // Every five-minute bucket of the range: 3 and 4 days of them.
            let days = (end - start + Duration::seconds(1)).num_days();
            assert_eq!(
                fine.points,
                days as usize * 288,
                "{vm} from {source}: {fine:?}"
            );
        }
    }
    app.stop().await;
}

/// A queue depth of `host` every five minutes from `first` to before `until`, with a daily wave
/// and two tag sets; from `burst`, 20 minutes at ten times its level.
fn queue_depth(
    host: &str,
    first: DateTime<Utc>,
    until: DateTime<Utc>,
    burst: DateTime<Utc>,
) -> Vec<Value> {
    let wave = Wave {
        level: 100.0,
        swing: 20.0,
        jitter: 4.0,
    };
    wave_with_burst(first, until, &wave, burst, 1_000.0)
        .into_iter()
        .map(|(i, ts, value)| {
            json!({"name": "queue_depth", "value": value, "unit": "count", "host": host,
                   "tags": {"queue": if i % 2 == 0 { "a" } else { "b" }}, "timestamp": ts})
        })
        .collect()
}

#[tokio::test]
async fn a_custom_metric_is_judged_by_name_on_its_own_hours_and_five_minute_buckets() {
    let app = spawn_app().await;
    let now = Utc::now();
    let hour = now.duration_trunc(Duration::hours(1)).expect("aligned");
    // A host, and six days of a queue depth reported every five minutes with a daily wave; two
    // days ago, 20 minutes at ten times its level.
    ingest(
        &app,
        vec![json!({"vmId": "cm-01", "sample": {"timestamp": now - Duration::minutes(1), "cpu": {"percent": 5.0}}})],
    )
    .await;
    let first = hour - Duration::days(6) + Duration::hours(1);
    let burst = hour - Duration::days(2) + Duration::minutes(25);
    let points = queue_depth("cm-01", first, now - Duration::minutes(5), burst);
    post_metrics(&app, &points).await;

    // Only the custom metrics are judged when no `metrics` are asked; an unknown name is skipped.
    let request = json!({"vmIds": ["cm-01"], "startTime": hour - Duration::days(3), "endTime": now,
                         "customMetrics": ["queue_depth", "no_such_metric", "queue_depth"]});
    let (status, body) = post(&app, "/api/v1/history/anomalies", &request).await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    let anomalies = data["anomalies"].as_array().expect("list");
    assert_eq!(anomalies.len(), 1, "{data}");
    assert_eq!(anomalies[0]["metric"], "custom");
    assert_eq!(anomalies[0]["series"], "queue_depth");
    assert_eq!(anomalies[0]["type"], "spike");
    assert_eq!(anomalies[0]["timestamp"], json!(burst), "{}", anomalies[0]);
    assert_eq!(anomalies[0]["duration"], 20 * 60);
    assert_eq!(
        judged_tiers(data),
        [
            ("queue_depth".to_string(), "5m".to_string()),
            ("queue_depth".to_string(), "hourly".to_string())
        ],
        "{data}"
    );
    assert_eq!(
        data["skipped"],
        json!([{"series": "no_such_metric", "reason": "no custom metric of this name is stored"}]),
        "{data}"
    );

    // With `metrics`, both; too many names or an empty one are refused in the history envelope.
    let request = json!({"vmIds": ["cm-01"], "startTime": hour - Duration::days(3), "endTime": now,
                         "metrics": ["cpu"], "customMetrics": ["queue_depth"]});
    let (status, body) = post(&app, "/api/v1/history/anomalies", &request).await;
    assert_eq!(status, 200, "{body}");
    let series: Vec<&str> = body["data"]["judged"]
        .as_array()
        .expect("judged")
        .iter()
        .map(|j| j["series"].as_str().expect("s"))
        .collect();
    assert_eq!(series, ["queue_depth", "queue_depth"], "{body}");
    // The host's one CPU sample is too few: asked for, CPU is accounted for as skipped.
    assert!(
        body["data"]["skipped"]
            .as_array()
            .expect("skipped")
            .iter()
            .any(|s| s["series"] == "cpu.usagePercent" && s["vmId"] == "cm-01"),
        "{body}"
    );
    let names: Vec<String> = (0..21).map(|i| format!("m{i}")).collect();
    for bad in [json!(names), json!([""])] {
        let (status, body) = post(
            &app,
            "/api/v1/history/anomalies",
            &json!({"vmIds": ["cm-01"], "startTime": hour - Duration::days(1), "endTime": now, "customMetrics": bad}),
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("400")),
            "{body}"
        );
        assert!(
            body["detail"]
                .as_str()
                .expect("detail")
                .contains("customMetrics"),
            "{body}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_custom_metric_backfilled_months_ago_is_judged_hourly_over_the_whole_range() {
    let app = spawn_app().await;
    let now = Utc::now();
    let hour = now.duration_trunc(Duration::hours(1)).expect("aligned");
    ingest(
        &app,
        vec![json!({"vmId": "temp-01", "sample": {"timestamp": now - Duration::minutes(1), "cpu": {"percent": 5.0}}})],
    )
    .await;
    // A room temperature sent every 15 minutes from 90 to 10 days ago (the sensor then went):
    // 22 °C with a daily swing of 1.5 and jitter; 60 days ago three hours at 30 °C (a cooling
    // failure), and 40 days ago three hours 1 °C warmer — many sigmas of this jitter, but below
    // the 2 °C that matters.
    let first = hour - Duration::days(90);
    let until = hour - Duration::days(10);
    let failure = hour - Duration::days(60) + Duration::hours(3);
    let blip = hour - Duration::days(40) + Duration::hours(15);
    let points: Vec<Value> = (0..)
        .map(|i| first + Duration::minutes(15 * i))
        .take_while(|ts| *ts < until)
        .enumerate()
        .map(|(i, ts)| {
            let day_fraction = (ts.timestamp() % 86_400) as f64 / 86_400.0;
            let jitter = ((i * 7919) % 13) as f64 / 13.0 - 0.5;
            let mut value = 22.0 + 1.5 * (day_fraction * std::f64::consts::TAU).sin() + 0.2 * jitter;
            if ts >= failure && ts < failure + Duration::hours(3) {
                value = 30.0;
            }
            if ts >= blip && ts < blip + Duration::hours(3) {
                value += 1.0;
            }
            json!({"name": "room_temperature", "value": value, "unit": "°C", "host": "temp-01", "timestamp": ts})
        })
        .collect();
    post_metrics(&app, &points).await;

    let request = json!({"vmIds": ["temp-01"], "startTime": hour - Duration::days(89), "endTime": now,
                         "customMetrics": ["room_temperature"], "anomalyTypes": ["spike", "drop"]});
    let (status, body) = post(&app, "/api/v1/history/anomalies", &request).await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    let anomalies = data["anomalies"].as_array().expect("list");
    assert_eq!(anomalies.len(), 1, "{data}");
    assert_eq!(anomalies[0]["series"], "room_temperature");
    assert_eq!(anomalies[0]["type"], "spike");
    assert_eq!(
        anomalies[0]["timestamp"],
        json!(failure),
        "{}",
        anomalies[0]
    );
    assert_eq!(anomalies[0]["duration"], 3 * 3600, "{}", anomalies[0]);
    // Hours over the whole range; the raw copies of the backfill (older than the raw window,
    // not yet removed by retention) give no five-minute buckets.
    assert_eq!(
        judged_tiers(data),
        [("room_temperature".to_string(), "hourly".to_string())],
        "{data}"
    );
    let hourly = &judged(data)[0];
    assert_eq!(hourly.from, hour - Duration::days(89), "{hourly:?}");
    assert_eq!(hourly.points, 79 * 24, "{hourly:?}");
    assert!(
        data["skipped"]
            .as_array()
            .expect("skipped")
            .iter()
            .any(|s| s["series"] == "room_temperature"
                && s["reason"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("fewer than"))),
        "{data}"
    );

    // Backfill reaches two years back, not further.
    let (status, body) = post(
        &app,
        "/api/v1/performance/metrics",
        &json!({"name": "room_temperature", "value": 21.0, "unit": "°C", "host": "temp-01",
                "timestamp": now - Duration::days(732)}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.to_string().contains("older than the 731 days"),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_new_host_is_judged_from_its_first_day_with_lowered_confidence() {
    let app = spawn_app().await;
    let until = Utc::now()
        .duration_trunc(Duration::hours(1))
        .expect("aligned")
        - Duration::hours(1);
    // A host that appeared 30 hours ago (hourly averages: judged from its 18th hour on), with a
    // CPU spike 4 hours ago.
    let spike = until - Duration::hours(4);
    let items = wave("new-01", "grp_new", until, 2, Some(spike))
        .into_iter()
        .filter(|item| {
            let ts: DateTime<Utc> =
                serde_json::from_value(item["sample"]["timestamp"].clone()).expect("time");
            ts >= until - Duration::hours(30)
        })
        .collect();
    ingest(&app, items).await;
    wait_for_rollups(&app).await;
    let request = json!({"vmIds": ["new-01"], "startTime": until - Duration::hours(30), "endTime": until, "metrics": ["cpu"]});
    let (status, body) = post(&app, "/api/v1/history/anomalies", &request).await;
    assert_eq!(status, 200, "{body}");
    let anomalies = body["data"]["anomalies"].as_array().expect("list");
    let cpu: Vec<&Value> = anomalies
        .iter()
        .filter(|a| a["series"] == "cpu.usagePercent")
        .collect();
    assert_eq!(cpu.len(), 1, "{body}");
    assert_eq!(cpu[0]["timestamp"], json!(spike));
    assert_eq!(cpu[0]["confidence"], "low");
    app.stop().await;
}

#[tokio::test]
async fn the_continuous_detector_pushes_new_anomalies_over_the_websocket() {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};
    let app = spawn_app().await;
    let mut request = format!("ws://127.0.0.1:{}/ws/performance", app.port)
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", app.token).parse().expect("header"),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("handshake");
    // Five days up to now, with a spike in the last complete hour; a custom metric of the host
    // over three days, with a burst in that hour too.
    let now = Utc::now();
    let spike = now.duration_trunc(Duration::hours(1)).expect("aligned") - Duration::hours(1);
    ingest(&app, wave("live-01", "grp_live", now, 5, Some(spike))).await;
    let burst = spike + Duration::minutes(20);
    let points = queue_depth("live-01", now - Duration::days(3), now, burst);
    post_metrics(&app, &points).await;
    let (mut cpu_seen, mut custom_seen) = (false, false);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .expect("both anomalies within 60 s")
            .expect("open")
            .expect("frame");
        let Message::Text(text) = message else {
            continue;
        };
        if let app::models::LiveEvent::AnomalyDetected { anomaly } =
            serde_json::from_str(&text).expect("a live event")
        {
            if anomaly.vm_id == "live-01" && anomaly.kind == "spike" && anomaly.metric == "cpu" {
                assert_eq!(anomaly.timestamp, spike);
                cpu_seen = true;
            }
            if anomaly.vm_id == "live-01" && anomaly.metric == "custom" {
                assert_eq!(
                    (anomaly.series.as_str(), anomaly.kind.as_str()),
                    ("queue_depth", "spike")
                );
                assert_eq!(anomaly.timestamp, burst);
                custom_seen = true;
            }
            if cpu_seen && custom_seen {
                break;
            }
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn the_timeline_merges_anomalies_power_changes_and_notes_newest_first() {
    let app = spawn_app().await;
    let until = Utc::now()
        .duration_trunc(Duration::hours(1))
        .expect("aligned");
    let spike = until - Duration::days(2) + Duration::hours(5);
    let gap_start = until - Duration::days(1);
    let items: Vec<Value> = wave("tl-01", "grp_tl", until, 15, Some(spike))
        .into_iter()
        .filter(|item| {
            let ts: DateTime<Utc> =
                serde_json::from_value(item["sample"]["timestamp"].clone()).expect("timestamp");
            !(ts >= gap_start && ts < gap_start + Duration::hours(3))
        })
        .collect();
    ingest(&app, items).await;
    wait_for_rollups(&app).await;
    let (status, found) = post(&app, "/api/v1/history/anomalies", &json!({
        "vmIds": ["tl-01"], "startTime": until - Duration::days(4), "endTime": until, "metrics": ["cpu"], "anomalyTypes": ["spike"],
    })).await;
    assert_eq!(status, 200, "{found}");
    let anomaly_id = found["data"]["anomalies"][0]["id"].clone();
    assert!(anomaly_id.is_string(), "{found}");

    let note_at = until - Duration::hours(30);
    let (status, note) = post(&app, "/api/v1/history/timeline/tl-01", &json!({
        "type": "maintenance", "title": "Kernel update", "description": "planned reboot", "timestamp": note_at, "severity": "low",
    })).await;
    assert_eq!(status, 200, "{note}");
    assert_eq!(
        (
            note["data"]["type"].as_str(),
            note["data"]["createdBy"].as_str()
        ),
        (Some("maintenance"), Some("bootstrap"))
    );

    let url = |query: &str| {
        format!(
            "/api/v1/history/timeline/tl-01?startTime={}&endTime={}{query}",
            (until - Duration::days(4)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
    };
    let (status, body) = app.get_json(&url("")).await;
    assert_eq!(status, 200, "{body}");
    let events = body["data"]["events"].as_array().expect("events");
    assert_eq!(body["data"]["total"].as_u64(), Some(events.len() as u64));
    let times: Vec<DateTime<Utc>> = events
        .iter()
        .map(|e| serde_json::from_value(e["timestamp"].clone()).expect("time"))
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );
    let anomaly = events
        .iter()
        .find(|e| e["id"] == anomaly_id)
        .expect("the anomaly is on the timeline");
    assert_eq!(
        (
            anomaly["type"].as_str(),
            anomaly["metricData"]["metric"].as_str()
        ),
        (Some("anomaly"), Some("cpu"))
    );
    assert_eq!(anomaly["metricData"]["series"], "cpu.usagePercent");
    // Values as the charts show them: "cpu.usagePercent at 95.0 % against a usual 52.3 % …".
    let description = anomaly["description"].as_str().expect("description");
    assert!(
        description.starts_with("cpu.usagePercent at ") && description.matches(" %").count() >= 3,
        "{description}"
    );
    assert_eq!(anomaly["acknowledged"], false);
    let power: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "power_change")
        .collect();
    assert_eq!(power.len(), 2, "one gap: off then on: {body}");
    let off = power
        .iter()
        .find(|e| e["stateChange"]["to"] == "poweredOff")
        .expect("off");
    let on = power
        .iter()
        .find(|e| e["stateChange"]["to"] == "poweredOn")
        .expect("on");
    assert_eq!(off["timestamp"], json!(gap_start - Duration::minutes(30)));
    assert_eq!(on["timestamp"], json!(gap_start + Duration::hours(3)));
    assert!(events
        .iter()
        .any(|e| e["type"] == "maintenance" && e["title"] == "Kernel update"));

    let (_, only_power) = app.get_json(&url("&types=power_change")).await;
    assert_eq!(only_power["data"]["total"], 2);
    let (_, second) = app.get_json(&url("&pageSize=1&page=2")).await;
    assert_eq!(second["data"]["events"].as_array().map(Vec::len), Some(1));
    assert_eq!(second["data"]["events"][0], events[1]);
    assert_eq!(second["data"]["total"], body["data"]["total"]);

    let (status, bad) = app.get_json(&url("&types=bogus")).await;
    assert_eq!((status, bad["error"].as_str()), (400, Some("400")));
    let (status, missing) = app.get_json("/api/v1/history/timeline/nope").await;
    assert_eq!((status, missing["error"].as_str()), (404, Some("404")));
    for body in [
        json!({"type": "power_change", "title": "x"}),
        json!({"type": "manual", "title": "  "}),
        json!({"type": "manual"}),
    ] {
        let (status, answer) = post(&app, "/api/v1/history/timeline/tl-01", &body).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (400, Some("400")),
            "{body} → {answer}"
        );
    }
    let reader = crate::common::reader_token(&app).await;
    let response = app
        .client
        .post(format!("{}/api/v1/history/timeline/tl-01", app.address))
        .bearer_auth(&reader)
        .json(&json!({"type": "manual", "title": "note"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 403);
    app.stop().await;
}

#[tokio::test]
async fn kept_judgements_answer_again_and_a_backfill_into_a_kept_day_is_judged_afresh() {
    let app = spawn_app().await;
    let hour = Duration::hours(1);
    let until = Utc::now().duration_trunc(hour).expect("aligned") - hour;
    for chunk in wave("kept-01", "kept", until, 14, None).chunks(2000) {
        ingest(&app, chunk.to_vec()).await;
    }
    wait_for_rollups(&app).await;
    let request = json!({"vmIds": ["kept-01"], "startTime": until - Duration::days(6), "endTime": until,
                         "metrics": ["cpu"]});
    let cpu_events = |data: &Value| -> Vec<Value> {
        data["anomalies"]
            .as_array()
            .expect("list")
            .iter()
            .filter(|a| a["series"] == "cpu.usagePercent")
            .cloned()
            .collect()
    };
    let (status, first) = post(&app, "/api/v1/history/anomalies", &request).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(cpu_events(&first["data"]), Vec::<Value>::new(), "{first}");
    let kept_days = || async {
        sqlx::query_as::<_, (DateTime<Utc>, DateTime<Utc>, bool)>(
            "SELECT j.day, j.judged_at, j.complete FROM anomaly_judgements j JOIN hosts h ON h.id = j.host_id
             WHERE h.vm_id = 'kept-01' AND j.tier = 1 ORDER BY j.day",
        )
        .fetch_all(&app.pool)
        .await
        .expect("kept")
    };
    let kept = kept_days().await;
    let ended: Vec<(DateTime<Utc>, DateTime<Utc>, bool)> =
        kept.iter().copied().filter(|k| k.2).collect();
    assert!(ended.len() >= 6, "{kept:?}");

    // Asked again, the ended days come from what was kept (not judged again) and the answer is
    // the same.
    let (_, again) = post(&app, "/api/v1/history/anomalies", &request).await;
    assert_eq!(again["data"]["judged"], first["data"]["judged"]);
    assert_eq!(cpu_events(&again["data"]), Vec::<Value>::new());
    let still: Vec<(DateTime<Utc>, DateTime<Utc>, bool)> =
        kept_days().await.into_iter().filter(|k| k.2).collect();
    assert_eq!(still, ended);

    // A backfill into an hour three days ago that was rolled up and judged: CPU at 95 % every
    // five minutes of it. The kept days from that one on are forgotten, the earlier ones stay.
    let spike = (until - Duration::days(3))
        .duration_trunc(Duration::days(1))
        .expect("day")
        + Duration::hours(10);
    let items: Vec<Value> = (0..12)
        .map(|k| {
            let ts = spike + Duration::minutes(5 * k + 1);
            json!({"vmId": "kept-01", "groupId": "kept", "sample": sample_with_disk(ts, 95.0, 50.0, 60.0)})
        })
        .collect();
    ingest(&app, items).await;
    let left = kept_days().await;
    assert!(
        left.iter().all(|k| k.0 + Duration::days(1) <= spike),
        "{left:?}"
    );
    let earlier: Vec<(DateTime<Utc>, DateTime<Utc>, bool)> = ended
        .iter()
        .copied()
        .filter(|k| k.0 + Duration::days(1) <= spike)
        .collect();
    assert!(!earlier.is_empty());
    assert!(earlier.iter().all(|k| left.contains(k)), "{left:?}");
    wait_for_rollups(&app).await;
    let (_, third) = post(&app, "/api/v1/history/anomalies", &request).await;
    let events = cpu_events(&third["data"]);
    assert_eq!(events.len(), 1, "{third}");
    assert_eq!(events[0]["type"], "spike");
    assert_eq!(events[0]["timestamp"], json!(spike));
    app.stop().await;
}

#[tokio::test]
async fn judgements_made_while_their_host_was_backfilled_are_not_kept() {
    use lookout::storage::judgements::{backfill_generations, write, Judgement};
    let app = spawn_app().await;
    let now = Utc::now();
    let old = midnight_days_ago(3) + Duration::hours(10);
    let item = |ts: DateTime<Utc>| json!({"vmId": "racing-01", "sample": sample_with_disk(ts, 20.0, 40.0, 50.0)});
    ingest(&app, vec![item(now - Duration::seconds(5)), item(old)]).await;
    let host_id: i32 = sqlx::query_scalar("SELECT id FROM hosts WHERE vm_id = 'racing-01'")
        .fetch_one(&app.pool)
        .await
        .expect("host");
    let judgement = |days_ago: i64| Judgement {
        host_id,
        tier: 1,
        day: midnight_days_ago(days_ago),
        judged_at: Utc::now(),
        complete: true,
        series: Vec::new(),
        events: Vec::new(),
    };
    let kept = |days_ago: i64| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM anomaly_judgements WHERE host_id = $1 AND day = $2",
            )
            .bind(host_id)
            .bind(midnight_days_ago(days_ago))
            .fetch_one(&pool)
            .await
            .expect("count")
        }
    };
    let ids = [host_id];
    let counted = || backfill_generations(&app.pool, &ids);

    // Nothing written between reading the count and writing: kept.
    let read = counted().await.expect("count");
    write(&app.pool, &[judgement(8)], &read)
        .await
        .expect("write");
    assert_eq!(kept(8).await, 1);

    // Live samples written meanwhile do not count.
    let read = counted().await.expect("count");
    ingest(&app, vec![item(Utc::now() - Duration::seconds(1))]).await;
    write(&app.pool, &[judgement(7)], &read)
        .await
        .expect("write");
    assert_eq!(kept(7).await, 1);

    // A backfill committed meanwhile: its trigger ran before the judgement existed, so the
    // judgement is not kept.
    let read = counted().await.expect("count");
    ingest(&app, vec![item(old + Duration::minutes(5))]).await;
    write(&app.pool, &[judgement(6)], &read)
        .await
        .expect("write");
    assert_eq!(kept(6).await, 0);

    // A backfill in flight: its statement (and trigger) done, not yet committed. The write waits
    // for it and then does not keep the judgement.
    let read = counted().await.expect("count");
    let mut backfill = app.pool.begin().await.expect("begin");
    sqlx::query(
        "INSERT INTO samples SELECT * FROM jsonb_populate_record(NULL::samples,
             (SELECT to_jsonb(s) || jsonb_build_object('ts', s.ts + interval '10 minutes')
              FROM samples s WHERE host_id = $1 AND ts = $2))",
    )
    .bind(host_id)
    .bind(old)
    .execute(&mut *backfill)
    .await
    .expect("backfill");
    let writer = {
        let pool = app.pool.clone();
        let judgement = judgement(5);
        tokio::spawn(async move { write(&pool, &[judgement], &read).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!writer.is_finished(), "the write waits for the backfill");
    backfill.commit().await.expect("commit");
    writer.await.expect("joined").expect("write");
    assert_eq!(kept(5).await, 0);
    app.stop().await;
}

#[tokio::test]
async fn days_no_live_round_saw_are_judged_and_their_anomalies_shown() {
    let mut settings = settings(DatabaseArgs {
        database_url: Some(fresh_database().await),
        data_dir: "unused".into(),
    });
    settings.detect_history_days = 30;
    let app = spawn_with(settings).await;
    let until = Utc::now()
        .duration_trunc(Duration::hours(1))
        .expect("aligned")
        - Duration::days(1);
    // Twelve days that ended yesterday, sent at once as an agent's spool or an import would: the
    // live rounds (the last three hours) never see the 20 minutes at 95 % four days ago.
    let burst = until - Duration::days(4) + Duration::hours(7) + Duration::minutes(15);
    ingest_cpu_burst(
        &app,
        "unseen-01",
        (until - Duration::days(12), until),
        burst,
    )
    .await;
    wait_for_rollups(&app).await;
    // Without any request, the burst reaches the VM's timeline within a few rounds (2 s each).
    let found = anomalies_on_timeline(&app, "unseen-01", until - Duration::days(13)).await;
    let times: Vec<DateTime<Utc>> = found
        .iter()
        .map(|e| serde_json::from_value(e["timestamp"].clone()).expect("time"))
        .collect();
    assert_eq!(times, vec![burst], "{found:?}");
    assert_eq!(found[0]["metricData"]["series"], "cpu.usagePercent");

    // Every ended day of the 30 is kept complete hourly, and every one from the first midnight of
    // the five-minute buckets' window (29 days), so a request over them judges nothing afresh,
    // and answers the same burst.
    let complete: Vec<(i16, i64)> = sqlx::query_as(
        "SELECT tier, count(*) FROM anomaly_judgements j JOIN hosts h ON h.id = j.host_id
         WHERE h.vm_id = 'unseen-01' AND j.complete AND j.day < $1 GROUP BY tier ORDER BY tier",
    )
    .bind(Utc::now().duration_trunc(Duration::days(1)).expect("day"))
    .fetch_all(&app.pool)
    .await
    .expect("kept");
    assert_eq!(complete, vec![(0, 29), (1, 30)]);
    let (status, answer) = post(
        &app,
        "/api/v1/history/anomalies",
        &json!({"vmIds": ["unseen-01"], "startTime": until - Duration::days(6), "endTime": until, "metrics": ["cpu"]}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let ids: Vec<&Value> = answer["data"]["anomalies"]
        .as_array()
        .expect("list")
        .iter()
        .map(|a| &a["id"])
        .collect();
    assert_eq!(ids, vec![&found[0]["id"]], "{answer}");
    app.stop().await;
}

#[tokio::test]
async fn a_custom_metric_sent_late_is_judged_by_the_catch_up_without_a_request() {
    let mut settings = settings(DatabaseArgs {
        database_url: Some(fresh_database().await),
        data_dir: "unused".into(),
    });
    settings.detect_history_days = 30;
    let app = spawn_with(settings).await;
    let now = Utc::now();
    ingest(
        &app,
        vec![json!({"vmId": "late-01", "sample": {"timestamp": now - Duration::minutes(1), "cpu": {"percent": 5.0}}})],
    )
    .await;
    // Twelve days of an application's request rate that ended yesterday, imported at once: every
    // point is older than the live rounds' three hours, so only the catch-up can judge it. Four
    // days ago, two hours at five times the usual rate.
    let until = now.duration_trunc(Duration::hours(1)).expect("aligned") - Duration::days(1);
    let surge = until - Duration::days(4) + Duration::hours(9);
    let points: Vec<Value> = (0..)
        .map(|i| until - Duration::days(12) + Duration::minutes(10 * i))
        .take_while(|ts| *ts < until)
        .enumerate()
        .map(|(i, ts)| {
            let day_fraction = (ts.timestamp() % 86_400) as f64 / 86_400.0;
            let jitter = ((i * 7919) % 11) as f64 / 11.0 - 0.5;
            let mut value = 100.0 + 30.0 * (day_fraction * std::f64::consts::TAU).sin() + 4.0 * jitter;
            if ts >= surge && ts < surge + Duration::hours(2) {
                value *= 5.0;
            }
            json!({"name": "orders.rate", "value": value, "unit": "req/s", "host": "late-01", "timestamp": ts})
        })
        .collect();
    post_metrics(&app, &points).await;
    let waiting: i64 = sqlx::query_scalar("SELECT count(*) FROM custom_metric_unjudged")
        .fetch_one(&app.pool)
        .await
        .expect("queue");
    assert!(waiting >= 12, "{waiting} days queued");

    let found = anomalies_on_timeline(&app, "late-01", until - Duration::days(13)).await;
    let series: Vec<(&Value, DateTime<Utc>)> = found
        .iter()
        .map(|e| {
            (
                &e["metricData"]["series"],
                serde_json::from_value(e["timestamp"].clone()).expect("time"),
            )
        })
        .collect();
    assert_eq!(series, vec![(&json!("orders.rate"), surge)], "{found:?}");
    // Whole, and its end not a drop: four days ago is in the raw window's first days, where the
    // five-minute buckets have no seasonal baseline yet; the hours judge it (they were a
    // 35-minute spike and a "drop" at its end, against a short baseline that had followed it).
    assert_eq!(
        found[0]["endTime"],
        json!(surge + Duration::hours(2)),
        "{found:?}"
    );
    // Judged days leave the queue.
    let mut waiting: i64 = -1;
    for _ in 0..20 {
        waiting = sqlx::query_scalar("SELECT count(*) FROM custom_metric_unjudged")
            .fetch_one(&app.pool)
            .await
            .expect("queue");
        if waiting == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(waiting, 0);
    app.stop().await;
}

/// A host that reported before the five-minute buckets kept (30 days) has their first week as
/// its five-minute baseline: a range inside that week is judged at hours and says why, and a
/// 20-minute burst after it is found in five-minute buckets.
#[tokio::test]
async fn the_first_week_of_five_minute_buckets_is_the_baseline_of_a_host_reporting_before_them() {
    let app = spawn_app().await;
    let now = Utc::now();
    let fine_start = (now - Duration::days(30))
        .duration_trunc(Duration::days(1))
        .expect("day")
        + Duration::days(1);
    let early = fine_start + Duration::days(3) + Duration::hours(10);
    let later = fine_start + Duration::days(14) + Duration::hours(10);
    let wave = Wave {
        level: 40.0,
        swing: 15.0,
        jitter: 2.0,
    };
    let items: Vec<Value> = wave_with_burst(now - Duration::days(40), now, &wave, early, 95.0)
        .into_iter()
        .map(|(_, ts, cpu)| {
            let cpu = if ts >= later && ts < later + Duration::minutes(20) {
                95.0
            } else {
                cpu
            };
            json!({"vmId": "warm-01", "sample": {"timestamp": ts, "cpu": {"percent": cpu}}})
        })
        .collect();
    for chunk in items.chunks(2000) {
        ingest(&app, chunk.to_vec()).await;
    }
    wait_for_rollups(&app).await;

    let inside = json!({"vmIds": ["warm-01"], "startTime": fine_start,
                        "endTime": fine_start + Duration::days(6), "metrics": ["cpu"]});
    let (status, body) = post(&app, "/api/v1/history/anomalies", &inside).await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    assert!(
        judged_tiers(data)
            .iter()
            .all(|(series, tier)| series != "cpu.usagePercent" || tier == "hourly"),
        "{data}"
    );
    let warming = data["skipped"].as_array().is_some_and(|skipped| {
        skipped.iter().any(|s| {
            s["series"] == "cpu.usagePercent"
                && s["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("baseline of a series reporting before them"))
        })
    });
    assert!(warming, "{data}");
    let five_minute_events = data["anomalies"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|a| a["duration"].as_i64().is_some_and(|d| d % 3600 != 0))
        .count();
    assert_eq!(five_minute_events, 0, "{data}");

    let after = json!({"vmIds": ["warm-01"], "startTime": fine_start + Duration::days(8),
                       "endTime": now, "metrics": ["cpu"]});
    let (status, body) = post(&app, "/api/v1/history/anomalies", &after).await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    assert!(
        judged_tiers(data).contains(&("cpu.usagePercent".into(), "5m".into())),
        "{data}"
    );
    let burst = data["anomalies"]
        .as_array()
        .expect("list")
        .iter()
        .find(|a| a["series"] == "cpu.usagePercent" && a["timestamp"] == json!(later))
        .cloned();
    assert!(
        burst
            .as_ref()
            .is_some_and(|b| b["type"] == "spike" && b["duration"] == 1200),
        "{data}"
    );
    app.stop().await;
}

#[tokio::test]
async fn right_sizing_fits_each_host_to_its_last_thirty_days() {
    let app = spawn_app().await;
    let first = midnight_days_ago(12);
    let gib: i64 = 1 << 30;
    let facts = json!({"hostname": "big", "platform": "linux", "platformVersion": "12", "architecture": "x86_64",
                       "cpuModel": "x", "cpuCores": 8, "memoryTotal": 16 * gib, "agentVersion": "test"});
    let mut items = Vec::new();
    // (host, CPU %, memory %): rs-big is told 8 vCPUs and 16 GiB by its agent; the others
    // send samples only (4 vCPUs, 8 GiB in each sample).
    for (vm, cpu, memory) in [
        ("rs-big", 21.0, 29.0),
        ("rs-hot", 92.0, 50.0),
        ("rs-idle", 2.0, 40.0),
        ("rs-off", 50.0, 50.0),
        ("rs-fits", 60.0, 75.0),
    ] {
        for (_, ts) in four_a_day(first, 12) {
            let mut item = json!({"vmId": vm, "sample": sample_with_disk(ts, cpu, memory, 30.0)});
            if vm == "rs-big" {
                item["facts"] = facts.clone();
            }
            items.push(item);
        }
    }
    ingest(&app, items).await;
    wait_for_rollups(&app).await;
    // rs-off went silent ten days ago.
    sqlx::query("UPDATE hosts SET last_seen = now() - interval '10 days' WHERE vm_id = 'rs-off'")
        .execute(&app.pool)
        .await
        .expect("silence rs-off");

    let (status, answer) = post(&app, "/api/v1/history/rightsizing", &json!({})).await;
    assert_eq!(status, 200, "{answer}");
    let data = &answer["data"];
    assert_eq!(data["windowDays"], 30);
    let host = |vm: &str| {
        data["hosts"]
            .as_array()
            .and_then(|hosts| hosts.iter().find(|h| h["vmId"] == vm))
            .cloned()
            .unwrap_or_else(|| panic!("{vm}: {answer}"))
    };
    let sized = |vm: &str| {
        let h = host(vm);
        (
            h["verdict"].as_str().unwrap_or_default().to_owned(),
            h["recommendedCores"].as_i64(),
            h["recommendedMemoryBytes"].as_i64(),
        )
    };
    // 8 × 21 / 70 = 2.4 → 3 vCPUs; 16 GiB × 29 / 80 = 5.8 → 6 GiB.
    assert_eq!(
        sized("rs-big"),
        ("oversized".into(), Some(3), Some(6 * gib))
    );
    assert_eq!(host("rs-big")["days"], 12);
    // 4 × 92 / 70 = 5.3 → 6 vCPUs; memory at 50 % is not short and stays.
    assert_eq!(
        sized("rs-hot"),
        ("undersized".into(), Some(6), Some(8 * gib))
    );
    // 4 × 2 / 70 → 1 vCPU; 8 GiB × 40 / 80 = 4 GiB.
    assert_eq!(sized("rs-idle"), ("idle".into(), Some(1), Some(4 * gib)));
    assert_eq!(sized("rs-off"), ("powered off".into(), Some(0), Some(0)));
    // 4 × 60 / 70 = 3.4 → 4; 8 × 75 / 80 = 7.5 GiB, half a GiB less: under a quarter.
    assert_eq!(sized("rs-fits"), ("fits".into(), Some(4), Some(8 * gib)));
    // Listed by what needs a change first (the server's own host, sampled since it started, has
    // too little history).
    let order: Vec<&str> = data["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .filter(|h| h["vmId"].as_str().is_some_and(|vm| vm.starts_with("rs-")))
        .filter_map(|h| h["verdict"].as_str())
        .collect();
    assert_eq!(
        order,
        ["powered off", "undersized", "idle", "oversized", "fits"]
    );
    // Given back: rs-big 8 → 3 vCPUs (5), rs-idle 4 → 1 (3), rs-off all 4: 12; memory 10 + 4 + 8
    // = 22 GiB. Added: rs-hot's 2 vCPUs.
    assert_eq!(
        (
            &data["freedCores"],
            &data["freedMemoryBytes"],
            &data["addedCores"],
            &data["addedMemoryBytes"]
        ),
        (&json!(12), &json!(22 * gib), &json!(2), &json!(0))
    );
    // One group, an unknown field, an unknown host.
    sqlx::query("UPDATE hosts SET group_id = 'grp_rs' WHERE vm_id IN ('rs-big', 'rs-hot')")
        .execute(&app.pool)
        .await
        .expect("group");
    let (_, group) = post(
        &app,
        "/api/v1/history/rightsizing",
        &json!({"groupId": "grp_rs"}),
    )
    .await;
    assert_eq!(group["data"]["hosts"].as_array().map(Vec::len), Some(2));
    let (status, refused) = post(
        &app,
        "/api/v1/history/rightsizing",
        &json!({"vmIds": ["rs-big"], "window": 7}),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    let (status, _) = post(
        &app,
        "/api/v1/history/rightsizing",
        &json!({"vmIds": ["nope"]}),
    )
    .await;
    assert_eq!(status, 404);

    // The capacity page's table: the hosts needing a change, with sizes now → fitting.
    let cookie = crate::common::session(&app).await;
    let page = crate::common::page(&app, &cookie, "/capacity").await;
    let row = page
        .split(r#"data-testid="sizing-row" data-vm="rs-big""#)
        .nth(1)
        .and_then(|rest| rest.split("</tr>").next())
        .expect("rs-big's row");
    assert!(row.contains("8 → 3"), "{row}");
    assert!(row.contains("16.0 GiB → 6.0 GiB"), "{row}");
    assert!(
        !page.contains(r#"data-vm="rs-fits" data-verdict"#),
        "a fitting host is counted, not listed"
    );
    assert!(
        page.contains("gives back 12 vCPUs and 22.0 GiB"),
        "the totals"
    );
    assert!(page.contains("1 host fits"));
    assert!(page.contains("No prices are set") || page.contains("data-testid=\"prices-form\""));

    // Prices: refused when wrong, then the changes in money — rs-big gives back 5 vCPUs and
    // 10 GiB: 5 × 10 + 10 × 2 = 70 a month; in all 12 × 10 + 22 × 2 = 164 saved, 2 × 10 = 20 added.
    let put = |body: Value| {
        app.client
            .put(format!("{}/api/v1/history/rightsizing/prices", app.address))
            .bearer_auth(&app.token)
            .json(&body)
            .send()
    };
    for bad in [
        json!({"currency": "", "vcpuMonth": 10, "gibMonth": 2}),
        json!({"currency": "EUR", "vcpuMonth": -1, "gibMonth": 2}),
        json!({"currency": "EUR", "vcpuMonth": 10, "gibMonth": 2, "cpuMonth": 1}),
        json!({"currency": "EUR", "vcpuMonth": "10", "gibMonth": 2}),
    ] {
        let response = put(bad.clone()).await.expect("sent");
        assert_eq!(response.status(), 400, "{bad}");
    }
    let (_, none) = app.get_json("/api/v1/history/rightsizing/prices").await;
    assert!(none["data"].is_null(), "{none}");
    let response = put(json!({"currency": "EUR", "vcpuMonth": 10, "gibMonth": 2}))
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let (_, set) = app.get_json("/api/v1/history/rightsizing/prices").await;
    assert_eq!(
        (
            &set["data"]["currency"],
            &set["data"]["vcpuMonth"],
            &set["data"]["updatedBy"]
        ),
        (&json!("EUR"), &json!(10.0), &json!("bootstrap")),
        "{set}"
    );
    let (_, priced) = post(&app, "/api/v1/history/rightsizing", &json!({})).await;
    let data = &priced["data"];
    assert_eq!(
        (&data["monthlySavings"], &data["monthlyAdded"]),
        (&json!(164.0), &json!(20.0)),
        "{data}"
    );
    let big = data["hosts"]
        .as_array()
        .and_then(|hosts| hosts.iter().find(|h| h["vmId"] == "rs-big"))
        .expect("rs-big");
    assert_eq!(big["monthlyChange"], -70.0);
    let page = crate::common::page(&app, &cookie, "/capacity").await;
    assert!(
        page.contains("saves EUR 164.00 a month and adds EUR 20.00"),
        "the totals in money"
    );
    let row = page
        .split(r#"data-testid="sizing-row" data-vm="rs-big""#)
        .nth(1)
        .and_then(|rest| rest.split("</tr>").next())
        .expect("rs-big's row");
    assert!(row.contains("saves EUR 70.00"), "{row}");
    // The plan's CSV: rs-big's 5 vCPUs (−50.00) and 10 GiB (−20.00) given back, in EUR.
    let csv = app
        .client
        .get(format!("{}/capacity.csv", app.address))
        .header(reqwest::header::COOKIE, format!("lookout_session={cookie}"))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("CSV");
    for (metric, end) in [
        ("cpu", ",oversized,3,-50.00,EUR"),
        ("memory", ",oversized,6.0,-20.00,EUR"),
    ] {
        assert!(
            csv.lines().any(
                |l| l.starts_with(&format!("right-size,fleet,rs-big,{metric},"))
                    && l.ends_with(end)
            ),
            "{metric}: {csv}"
        );
    }
    // The page's form: a typo comes back with the reason; clearing removes the prices.
    let (status, location) = crate::common::post_form(
        &app,
        &cookie,
        "/capacity/prices",
        &[
            ("currency", "EUR"),
            ("vcpu", "ten"),
            ("gib", "2"),
            ("history", "365"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    assert!(
        location.contains("error=The price of a vCPU must be a number, got `ten`")
            && location.contains("form=prices")
            && location.contains("history=365")
            && location.ends_with("#right-sizing"),
        "{location}"
    );
    let shown = crate::common::page(&app, &cookie, &location.replace("#right-sizing", "")).await;
    assert!(
        shown.contains("data-testid=\"prices-error\""),
        "the reason by the form"
    );
    let (_, location) = crate::common::post_form(
        &app,
        &cookie,
        "/capacity/prices",
        &[
            ("currency", "EUR"),
            ("vcpu", "10"),
            ("gib", "2"),
            ("clear", "1"),
        ],
    )
    .await;
    assert!(location.contains("notice=Prices cleared"), "{location}");
    let (_, none) = app.get_json("/api/v1/history/rightsizing/prices").await;
    assert!(none["data"].is_null(), "{none}");
    app.stop().await;
}
