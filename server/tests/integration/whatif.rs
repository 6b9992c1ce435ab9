//! What-if: a scenario's changes on a group's forecast, through the API and the page, with the
//! runway computed by hand.
use crate::common::{
    ingest, page, page_status, post, sample_with_disk, session, spawn_app, wait_for_rollups,
};
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::{json, Value};

/// Two hosts of `grp_wi` over 100 days (four samples a day): CPU 30 + 0.2 d and 10 %, so the
/// group's average grows 0.1 pp a day from 20 % (29.9 % on the last day, day 99); memory 30 %,
/// disk 20 %, flat. Returns the first day.
async fn seeded(app: &crate::common::TestApp) -> DateTime<Utc> {
    let first = (Utc::now() - Duration::days(100))
        .duration_trunc(Duration::days(1))
        .expect("aligned");
    let mut items = Vec::new();
    for d in 0..100 {
        for hour in [0, 6, 12, 18] {
            let ts = first + Duration::days(d) + Duration::hours(hour);
            let day = d as f64;
            items.push(json!({"vmId": "wi-01", "groupId": "grp_wi", "sample": sample_with_disk(ts, 30.0 + 0.2 * day, 30.0, 20.0)}));
            items.push(json!({"vmId": "wi-02", "groupId": "grp_wi", "sample": sample_with_disk(ts, 10.0, 30.0, 20.0)}));
        }
    }
    assert_eq!(ingest(app, items).await["stored"], 800);
    wait_for_rollups(app).await;
    first
}

fn resource<'a>(data: &'a Value, metric: &str) -> &'a Value {
    data["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .find(|r| r["metric"] == metric)
        .unwrap_or_else(|| panic!("{metric} in {data}"))
}

#[tokio::test]
async fn a_scenario_moves_the_runway_by_hand_checked_days_through_the_api_and_the_page() {
    let app = spawn_app().await;
    let first = seeded(&app).await;
    let last_day = first + Duration::days(99);
    let ask = |changes: Value| {
        json!({"groupId": "grp_wi", "startTime": first, "endTime": Utc::now(), "horizon": 30,
               "capacityThreshold": 60, "changes": changes})
    };

    // No change: the forecast itself — 60 % in (60 − 29.9) / 0.1 = 301 days, as /trends says;
    // 32.9 % in 30 days; 2 × 32.9 / 60 → 2 hosts needed; 2 × (60 / 32.9 − 1) = 1.6 → room for 1.
    let (status, body) = post(&app, "/api/v1/history/what-if", &ask(json!({}))).await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    assert_eq!(
        (data["hosts"].as_i64(), data["hostsAfter"].as_i64()),
        (Some(2), Some(2))
    );
    assert_eq!(data["newestDay"], json!(last_day));
    let cpu = resource(data, "cpu");
    assert_eq!(cpu["now"], 29.9);
    assert_eq!(cpu["growthMonthly"], 3.0);
    assert_eq!(cpu["forecast"], cpu["scenario"]);
    assert_eq!(cpu["forecast"]["daysToThreshold"], 301.0);
    assert_eq!(
        cpu["forecast"]["capacityExceedDate"],
        json!(last_day + Duration::days(301))
    );
    assert_eq!(cpu["forecast"]["predictedValue"], 32.9);
    assert_eq!(
        (cpu["hostsNeeded"].as_i64(), cpu["roomForHosts"].as_i64()),
        (Some(2), Some(1))
    );
    let projection = cpu["projection"].as_array().expect("daily projection");
    assert_eq!(projection.len(), 31, "day 0 to the horizon");
    assert_eq!(projection[0]["date"], json!(last_day));
    assert!(
        resource(data, "memory")["forecast"]["daysToThreshold"].is_null(),
        "flat memory never gets there"
    );

    // Half as much load again at once: (29.9 + 0.1 t) × 1.5 = 60 → t = 101 days; 49.35 % in 30
    // days; 2 × 49.35 / 60 = 1.6 → still 2 hosts; 2 × (60 / 49.35 − 1) = 0.43 → no room.
    let (status, body) = post(
        &app,
        "/api/v1/history/what-if",
        &ask(json!({"addLoadPercent": 50})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let cpu = resource(&body["data"], "cpu");
    assert_eq!(cpu["forecast"]["daysToThreshold"], 301.0);
    assert_eq!(cpu["scenario"]["daysToThreshold"], 101.0);
    assert_eq!(
        cpu["scenario"]["capacityExceedDate"],
        json!(last_day + Duration::days(101))
    );
    assert_eq!(cpu["scenario"]["predictedValue"], 49.35);
    assert_eq!(
        (cpu["hostsNeeded"].as_i64(), cpu["roomForHosts"].as_i64()),
        (Some(2), Some(0))
    );
    // The group's average hides wi-01 (49.8 % growing 0.2 a day): 60 % in 51 days on its own
    // forecast, at once with half as much load again (74.7 %).
    let first_host = &body["data"]["firstHost"];
    assert_eq!(
        (first_host["vmId"].as_str(), first_host["metric"].as_str()),
        (Some("wi-01"), Some("cpu")),
        "{body}"
    );
    assert_eq!(first_host["forecast"]["daysToThreshold"], 51.0);
    assert_eq!(first_host["scenario"]["daysToThreshold"], 0.0);
    // Memory at 30 % × 1.5 = 45 %: still below 60.
    assert!(resource(&body["data"], "memory")["scenario"]["daysToThreshold"].is_null());

    // And a third host 30 days on: from then the load is spread over 3 (× 2/3), which gives back
    // the runway the load took — 301 days again — and the hosts are counted.
    let hosts_from = (last_day + Duration::days(30))
        .format("%Y-%m-%d")
        .to_string();
    let (status, body) = post(
        &app,
        "/api/v1/history/what-if",
        &ask(json!({"addLoadPercent": 50, "addHosts": 1, "hostsFrom": hosts_from})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["hostsAfter"], 3);
    let cpu = resource(&body["data"], "cpu");
    assert_eq!(cpu["scenario"]["daysToThreshold"], 301.0);
    let day_29 = &cpu["projection"][29]["scenario"];
    let day_30 = &cpu["projection"][30]["scenario"];
    assert_eq!(
        (day_29.as_f64(), day_30.as_f64()),
        (Some(49.2), Some(32.9)),
        "the host arrives on day 30"
    );

    // What is refused, in the API's envelope: every host taken away, a load beyond the bounds,
    // an unknown field, a horizon of nothing, a day that is not one, an unknown group.
    for (changes, says) in [
        (json!({"addHosts": -2}), "at least one must stay"),
        (json!({"addLoadPercent": 1e300}), "`addLoadPercent` must be"),
        (
            json!({"growthMonthlyPercent": -80}),
            "`growthMonthlyPercent` must be",
        ),
        (json!({"addVms": 3}), "unknown field"),
        (
            json!({"loadFrom": "2020-01-01"}),
            "`loadFrom` must be from yesterday",
        ),
    ] {
        let (status, body) = post(&app, "/api/v1/history/what-if", &ask(changes.clone())).await;
        assert_eq!(status, 400, "{changes}: {body}");
        assert!(
            body["detail"].as_str().unwrap_or_default().contains(says),
            "{changes}: {body}"
        );
    }
    let (status, body) = post(
        &app,
        "/api/v1/history/what-if",
        &json!({"groupId": "grp_wi", "horizon": 0}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = post(
        &app,
        "/api/v1/history/what-if",
        &ask(json!({"loadFrom": "next week"})),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("400-TIME")),
        "{body}"
    );
    let (status, body) = post(
        &app,
        "/api/v1/history/what-if",
        &json!({"groupId": "grp_none"}),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    // Without a range: the last 180 days, as the capacity page plans.
    let (status, body) = post(
        &app,
        "/api/v1/history/what-if",
        &json!({"groupId": "grp_wi", "capacityThreshold": 60}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        resource(&body["data"], "cpu")["forecast"]["daysToThreshold"],
        301.0
    );

    // The page: the same scenario from its GET form, both crossings dated, the chart drawn.
    let cookie = session(&app).await;
    let html = page(
        &app,
        &cookie,
        "/capacity/what-if?group=grp_wi&history=180&horizon=30&threshold=60&load=50",
    )
    .await;
    assert!(
        html.contains("What if · group grp_wi · 2 hosts · last 180 days"),
        "the scope"
    );
    assert!(
        html.contains("Scenario: 50 % more load at once."),
        "the scenario in words"
    );
    let forecast_day = (last_day + Duration::days(301))
        .format("%Y-%m-%d")
        .to_string();
    let scenario_day = (last_day + Duration::days(101))
        .format("%Y-%m-%d")
        .to_string();
    assert!(
        html.contains(&format!("{scenario_day} (in 101 days)")),
        "the scenario's crossing"
    );
    assert!(
        html.contains(&format!("{forecast_day} (in 301 days)")),
        "the forecast's crossing"
    );
    assert!(
        html.contains("With the changes cpu reaches 60 % first"),
        "the headline"
    );
    assert!(
        html.contains("(cpu) — with the changes now (trend); without them"),
        "the first host"
    );
    assert!(
        html.contains(r#"data-testid="what-if-chart" class="chart"><svg"#),
        "the chart: {}",
        html.split("what-if-chart")
            .nth(1)
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect::<String>()
    );
    assert!(
        html.contains(r#"name="load" step="any" value="50""#),
        "the form keeps the scenario"
    );
    // A scenario out of bounds is said above the forecast alone; a link that is not a scenario
    // is refused with what is wrong.
    let html = page(&app, &cookie, "/capacity/what-if?group=grp_wi&hosts=-5").await;
    assert!(
        html.contains(r#"data-testid="what-if-problem""#)
            && html.contains("at least one must stay"),
        "the problem"
    );
    assert!(
        html.contains(&format!("{forecast_day} (in 301 days)"))
            || html.contains("not within 2 years"),
        "the forecast alone"
    );
    let (status, html) = page_status(&app, &cookie, "/capacity/what-if?load=lots").await;
    assert_eq!(status, 400);
    assert!(html.contains("`load` must be a number"), "{html}");
    // The capacity page leads here: its view form and each group's runway row.
    let capacity = page(
        &app,
        &cookie,
        "/capacity?history=180&horizon=30&threshold=60",
    )
    .await;
    assert!(
        capacity.contains(
            r#"href="/capacity/what-if?group=&amp;history=180&amp;horizon=30&amp;threshold=60""#
        ),
        "the form's link"
    );
    assert!(capacity.contains(r#"href="/capacity/what-if?group=grp_wi&amp;history=180&amp;horizon=30&amp;threshold=60""#), "the runway row's link");
}

#[tokio::test]
async fn a_committed_plan_moves_the_groups_runway_and_every_what_if_of_it_until_removed() {
    let app = spawn_app().await;
    let first = seeded(&app).await;
    let plans_path = "/api/v1/history/what-if/plans";

    // Committed through the API: half as much load again at once, for grp_wi.
    let (status, body) = post(
        &app,
        plans_path,
        &json!({"groupId": "grp_wi", "title": "Launch", "changes": {"addLoadPercent": 50}}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let plan = &body["data"];
    assert_eq!(
        (plan["groupId"].as_str(), plan["title"].as_str()),
        (Some("grp_wi"), Some("Launch"))
    );
    assert_eq!(plan["changes"]["addLoadPercent"], 50.0);
    let launch_id = plan["id"].as_i64().expect("an id");
    let (_, listed) = app.get_json(plans_path).await;
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(1), "{listed}");
    let (_, other) = app
        .get_json(&format!("{plans_path}?groupId=grp_other"))
        .await;
    assert_eq!(other["data"], json!([]));

    // Every what-if of the group includes it (the 101 days of half as much load again, not the
    // forecast's 301), unless left out; hosts named one by one have no plans.
    let ask = |extra: Value| {
        let mut body = json!({"startTime": first, "endTime": Utc::now(), "horizon": 30, "capacityThreshold": 60});
        for (k, v) in extra.as_object().expect("object") {
            body[k] = v.clone();
        }
        body
    };
    for (request, days, plans) in [
        (ask(json!({"groupId": "grp_wi"})), 101.0, 1),
        (
            ask(json!({"groupId": "grp_wi", "includePlans": false})),
            301.0,
            0,
        ),
        (ask(json!({"vmIds": ["wi-01", "wi-02"]})), 301.0, 0),
    ] {
        let (status, body) = post(&app, "/api/v1/history/what-if", &request).await;
        assert_eq!(status, 200, "{body}");
        let cpu = resource(&body["data"], "cpu");
        assert_eq!(cpu["forecast"]["daysToThreshold"], 301.0, "{request}");
        assert_eq!(cpu["scenario"]["daysToThreshold"], days, "{request}");
        assert_eq!(
            body["data"]["plans"].as_array().map(Vec::len),
            Some(plans),
            "{request}"
        );
    }

    // The fleet's runway at 80 %: grp_wi's CPU (29.9 + 0.1 t) × 1.5 reaches it in 234 days (501
    // without the plan), wi-01's (49.8 + 0.2 t) × 1.5 in 17 (151 without).
    let cookie = session(&app).await;
    let capacity = page(&app, &cookie, "/capacity").await;
    let row = capacity
        .split(r#"data-testid="runway-row" data-group="grp_wi""#)
        .nth(1)
        .and_then(|rest| rest.split("</tr>").next())
        .expect("grp_wi's runway");
    assert!(row.contains(">234 days<"), "{row}");
    assert!(row.contains("wi-01 · cpu · 17 days"), "{row}");
    assert!(
        row.contains(r#"data-testid="runway-plans""#) && row.contains(" · 1 plan"),
        "{row}"
    );

    // What is refused: no title, no change, an unknown group, every host taken away, an id that
    // is none; a read-only token.
    for (request, status_wanted, says) in [
        (
            json!({"groupId": "grp_wi", "title": " ", "changes": {"addHosts": 1}}),
            400,
            "a title of 1 to 200",
        ),
        (
            json!({"groupId": "grp_wi", "title": "Nothing", "changes": {}}),
            400,
            "needs a change",
        ),
        (
            json!({"groupId": "grp_none", "title": "X", "changes": {"addHosts": 1}}),
            404,
            "",
        ),
        (
            json!({"groupId": "grp_wi", "title": "X", "changes": {"addHosts": -2}}),
            400,
            "at least one must stay",
        ),
        (
            json!({"groupId": "grp_wi", "title": "X", "changes": {"addHosts": 1}, "note": "x"}),
            400,
            "unknown field",
        ),
    ] {
        let (status, body) = post(&app, plans_path, &request).await;
        assert_eq!(status, status_wanted, "{request}: {body}");
        assert!(
            body["detail"].as_str().unwrap_or_default().contains(says),
            "{request}: {body}"
        );
    }
    for id in ["abc", "999999"] {
        let (status, body) = crate::common::delete(&app, &format!("{plans_path}/{id}")).await;
        assert_eq!(status, 404, "{id}: {body}");
    }
    let reader = crate::common::reader_token(&app).await;
    let refused = reqwest::Client::new()
        .post(format!("{}{plans_path}", app.address))
        .bearer_auth(&reader)
        .json(&json!({"groupId": "grp_wi", "title": "X", "changes": {"addHosts": 1}}))
        .send()
        .await
        .expect("sent");
    assert_eq!(refused.status().as_u16(), 403);

    // The page's forms: a host more in 10 days committed from a what-if (back to the view with
    // the plan listed), one without a title refused, then both plans removed.
    let in_ten_days = (Utc::now() + Duration::days(10))
        .format("%Y-%m-%d")
        .to_string();
    let scenario = [
        ("group", "grp_wi"),
        ("history", "180"),
        ("horizon", "30"),
        ("threshold", "60"),
        ("hosts", "1"),
        ("hostsFrom", in_ten_days.as_str()),
    ];
    let mut titled = scenario.to_vec();
    titled.push(("title", "Second node"));
    let (status, location) =
        crate::common::post_form(&app, &cookie, "/capacity/plans", &titled).await;
    assert_eq!(status, 303);
    assert!(
        location.contains(r#"notice=Committed "Second node": the runway includes it now."#),
        "{location}"
    );
    assert!(
        location.starts_with("/capacity/what-if?group=grp_wi&history=180&horizon=30&threshold=60&"),
        "{location}"
    );
    let html = page(
        &app,
        &cookie,
        "/capacity/what-if?group=grp_wi&history=180&horizon=30&threshold=60",
    )
    .await;
    assert_eq!(
        html.matches(r#"data-testid="plan-row""#).count(),
        2,
        "both plans listed"
    );
    assert!(
        html.contains(&format!("1 host more from {in_ten_days}")),
        "the plan in words"
    );
    assert!(
        html.contains("The forecast with the 2 plans committed below."),
        "the summary"
    );
    let group_plan = page(&app, &cookie, "/capacity?group=grp_wi").await;
    assert!(
        group_plan.contains("Planned changes for group grp_wi: Launch, Second node — "),
        "the group's plan names its plans"
    );
    let (_, location) = crate::common::post_form(&app, &cookie, "/capacity/plans", &scenario).await;
    assert!(
        location.contains("error=a plan needs a title"),
        "{location}"
    );
    let (_, listed) = app.get_json(&format!("{plans_path}?groupId=grp_wi")).await;
    let second_id = listed["data"][1]["id"].as_i64().expect("the second plan");
    let (status, location) = crate::common::post_form(
        &app,
        &cookie,
        &format!("/capacity/plans/{second_id}/delete"),
        &[("group", "grp_wi")],
    )
    .await;
    assert_eq!(status, 303);
    assert!(
        location.contains("notice=The plan is removed."),
        "{location}"
    );
    let (status, _) = crate::common::delete(&app, &format!("{plans_path}/{launch_id}")).await;
    assert_eq!(status, 200);
    let (_, listed) = app.get_json(plans_path).await;
    assert_eq!(listed["data"], json!([]));
    let capacity = page(&app, &cookie, "/capacity").await;
    assert!(
        !capacity.contains(r#"data-testid="runway-plans""#),
        "no plan, no marker"
    );
}

#[tokio::test]
async fn a_fleet_without_daily_history_gets_a_warning_not_invented_runways() {
    // A fresh server: its own host's first samples, no complete day yet.
    let app = spawn_app().await;
    let (status, body) = post(
        &app,
        "/api/v1/history/what-if",
        &json!({"changes": {"addLoadPercent": 20}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["resources"], json!([]), "{body}");
    assert!(body["data"].get("firstHost").is_none(), "{body}");
    assert!(
        body["data"]["warning"]
            .as_str()
            .is_some_and(|w| w.contains("no daily history")),
        "{body}"
    );
    let cookie = session(&app).await;
    let html = page(&app, &cookie, "/capacity/what-if?load=20").await;
    assert!(
        html.contains("No forecast: at least 7 complete days of history are needed."),
        "the page says why there is nothing to draw"
    );
    assert!(html.contains(r#"data-testid="what-if-warning""#));
}
