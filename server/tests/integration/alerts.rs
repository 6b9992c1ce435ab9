//! Alert rules, the engine (for, cooldown, recovery), webhooks against a real local receiver,
//! manual resolve, restart survival and the timeline's metric_alert events.
use crate::common::{
    delete, ingest, post, post_form, put, sample, settings, spawn_app, spawn_with, TestApp,
};
use app::models::LiveEvent;
use axum::{extract::State, http::HeaderMap, routing::post as axum_post, Router};
use chrono::{DateTime, Duration, Utc};
use futures_util::StreamExt;
use lookout::config::DatabaseArgs;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};

#[tokio::test]
async fn rules_are_created_listed_updated_and_deleted_with_field_level_errors() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/api/v1/performance/alerts/rules").await;
    assert_eq!(status, 200, "{body}");
    let names: Vec<&str> = body["data"]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["high_cpu_usage", "high_memory_usage", "disk_almost_full"],
        "default rules of a new install"
    );
    let first = &body["data"]["rules"][0];
    for field in [
        "id",
        "name",
        "metric",
        "operator",
        "threshold",
        "level",
        "enabled",
        "created_at",
        "trigger_count",
        "last_triggered",
    ] {
        assert!(first.get(field).is_some(), "rule field {field} in {first}");
    }

    // The seed's body with the short operator spelling.
    let seed_rule = json!({"name": "high_memory", "metric": "memory_percent", "operator": ">", "threshold": 80.0, "level": "warning",
        "description": "内存使用率过高", "enabled": true, "actions": ["log"], "cooldown": 300});
    let (status, created) = post(&app, "/api/v1/performance/alerts/rules", &seed_rule).await;
    assert_eq!(status, 200, "{created}");
    let id = created["data"]["rule_id"]
        .as_str()
        .expect("rule_id")
        .to_owned();
    assert!(id.starts_with("rule_"));
    assert_eq!(created["data"]["rule"]["operator"], "greater_than");
    assert_eq!(created["status"], "success");

    let (status, duplicate) = post(&app, "/api/v1/performance/alerts/rules", &seed_rule).await;
    assert_eq!(
        (status, duplicate["error"]["code"].as_str()),
        (400, Some("RULE_CREATION_FAILED")),
        "{duplicate}"
    );
    assert!(duplicate["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("name"));

    for (field, value) in [
        ("threshold", json!("eighty")),
        ("operator", json!("above")),
        ("cooldown", json!(-1)),
        ("level", json!("panic")),
    ] {
        let mut body = seed_rule.clone();
        body["name"] = json!(format!("bad_{field}"));
        body[field] = value;
        let (status, error) = post(&app, "/api/v1/performance/alerts/rules", &body).await;
        assert_eq!(
            (status, error["error"]["code"].as_str()),
            (400, Some("RULE_CREATION_FAILED")),
            "{field}: {error}"
        );
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains(field),
            "{field}: {error}"
        );
    }
    let (_, unknown_host) = post(
        &app,
        "/api/v1/performance/alerts/rules",
        &json!({"name": "h", "metric": "cpu_percent", "host": "no-such-vm"}),
    )
    .await;
    assert_eq!(
        unknown_host["error"]["code"], "RULE_CREATION_FAILED",
        "{unknown_host}"
    );

    let (status, updated) = put(
        &app,
        &format!("/api/v1/performance/alerts/rules/{id}"),
        &json!({"threshold": 95, "for": 120}),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["data"]["rule"]["threshold"], 95.0);
    assert_eq!(updated["data"]["rule"]["for"], 120);
    assert_eq!(
        updated["data"]["rule"]["cooldown"], 300,
        "fields not mentioned are kept"
    );
    let (status, bad_update) = put(
        &app,
        &format!("/api/v1/performance/alerts/rules/{id}"),
        &json!({"threshold": null}),
    )
    .await;
    assert_eq!(status, 400, "{bad_update}");

    for (status, body) in [
        put(
            &app,
            "/api/v1/performance/alerts/rules/rule_999999",
            &json!({"threshold": 1}),
        )
        .await,
        delete(&app, "/api/v1/performance/alerts/rules/rule_999999").await,
        app.get_json("/api/v1/performance/alerts/rules/nonsense")
            .await,
    ] {
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("RULE_NOT_FOUND")),
            "{body}"
        );
    }
    let (status, _) = delete(&app, &format!("/api/v1/performance/alerts/rules/{id}")).await;
    assert_eq!(status, 200);
    let (status, gone) = app
        .get_json(&format!("/api/v1/performance/alerts/rules/{id}"))
        .await;
    assert_eq!(
        (status, gone["error"]["code"].as_str()),
        (404, Some("RULE_NOT_FOUND"))
    );

    let (status, bad_filter) = app
        .get_json("/api/v1/performance/alerts?level=urgent")
        .await;
    assert_eq!(
        (status, bad_filter["error"]["code"].as_str()),
        (400, Some("VALIDATION_ERROR"))
    );
    app.stop().await;
}

#[tokio::test]
async fn webhooks_to_private_addresses_are_refused_by_default() {
    let mut config = settings(DatabaseArgs {
        database_url: Some(crate::common::fresh_database().await),
        data_dir: "unused".into(),
    });
    config.webhooks.allow_private = false;
    let app = spawn_with(config).await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.5/hook",
        "http://[::1]/hook",
        "http://localhost:8080/",
    ] {
        let body = json!({"name": format!("hook {url}"), "metric": "cpu_percent", "threshold": 1, "actions": ["webhook"], "webhook_url": url});
        let (status, error) = post(&app, "/api/v1/performance/alerts/rules", &body).await;
        assert_eq!(
            (status, error["error"]["code"].as_str()),
            (400, Some("RULE_CREATION_FAILED")),
            "{url}: {error}"
        );
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("webhook_url"),
            "{error}"
        );
    }
    app.stop().await;
}

/// A webhook receiver that fails its first request with 500 and records every request.
#[derive(Clone, Default)]
struct Receiver {
    requests: Arc<Mutex<Vec<(HeaderMap, String)>>>,
}

async fn receive(
    State(receiver): State<Receiver>,
    headers: HeaderMap,
    body: String,
) -> axum::http::StatusCode {
    let mut requests = receiver.requests.lock().expect("lock");
    requests.push((headers, body));
    if requests.len() == 1 {
        axum::http::StatusCode::INTERNAL_SERVER_ERROR
    } else {
        axum::http::StatusCode::OK
    }
}

async fn start_receiver() -> (String, Receiver) {
    let receiver = Receiver::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("address"));
    let router = Router::new()
        .route("/hook", axum_post(receive))
        .with_state(receiver.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, receiver)
}

/// One sample of `vm` every 10 s from `start`, CPU from `cpu(i)`, sent in batches of ten.
async fn stream(
    app: &TestApp,
    vm: &str,
    start: DateTime<Utc>,
    cpu: impl Fn(i64) -> f64,
    range: std::ops::Range<i64>,
) {
    let items: Vec<Value> = range
        .map(|i| {
            json!({"vmId": vm, "sample": sample(start + Duration::seconds(i * 10), cpu(i), 40.0)})
        })
        .collect();
    for chunk in items.chunks(10) {
        ingest(app, chunk.to_vec()).await;
    }
}

/// The alerts of one rule on one host, oldest first (the default CPU rule fires on these hosts too).
async fn alerts_of(app: &TestApp, vm: &str, rule_id: &str) -> Vec<Value> {
    let (status, body) = app
        .get_json(&format!(
            "/api/v1/performance/alerts?host={vm}&resolved=true&limit=100"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    let mut alerts: Vec<Value> = body["data"]["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .filter(|a| a["rule_id"] == rule_id)
        .cloned()
        .collect();
    alerts.reverse();
    alerts
}

/// Polls until `done` holds for the host's alerts (the engine works asynchronously).
async fn wait_for(
    app: &TestApp,
    vm: &str,
    rule_id: &str,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    for _ in 0..100 {
        let alerts = alerts_of(app, vm, rule_id).await;
        if done(&alerts) {
            return alerts;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{what}: {:#?}", alerts_of(app, vm, rule_id).await);
}

fn check_signature(secret: &str, headers: &HeaderMap, body: &str) {
    use hmac::{Hmac, Mac};
    let timestamp = headers["x-lookout-timestamp"].to_str().expect("timestamp");
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(
        headers["x-lookout-signature"].to_str().expect("signature"),
        expected
    );
}

#[tokio::test]
async fn a_threshold_crossing_raises_one_alert_honouring_for_cooldown_and_recovery_with_signed_retried_webhooks(
) {
    let app = spawn_app().await;
    let vm = "alert-vm";
    // Whole milliseconds, the precision samples are stored with.
    let start =
        DateTime::from_timestamp_millis((Utc::now() - Duration::minutes(11)).timestamp_millis())
            .expect("time");
    ingest(
        &app,
        vec![json!({"vmId": vm, "name": "billing db", "sample": sample(start - Duration::seconds(10), 10.0, 40.0)})],
    )
    .await;
    let (url, receiver) = start_receiver().await;
    let rule = json!({"name": "vm cpu", "metric": "cpu_percent", "operator": ">", "threshold": 80, "level": "warning",
        "for": 60, "recovery": 30, "cooldown": 300, "host": vm, "actions": ["log", "webhook"], "webhook_url": url});
    // Only this test's rule should judge the host, so the default CPU rule is switched off.
    let (status, _) = put(
        &app,
        "/api/v1/performance/alerts/rules/rule_1",
        &json!({"enabled": false}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, created) = post(&app, "/api/v1/performance/alerts/rules", &rule).await;
    assert_eq!(status, 200, "{created}");
    let rule_id = created["data"]["rule_id"].as_str().expect("id").to_owned();
    let secret = created["data"]["webhook_secret"]
        .as_str()
        .expect("a generated secret is shown once")
        .to_owned();

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

    // Seconds from `start`: a 40 s breach (shorter than `for`), a 100 s breach (fires at 160 s),
    // 50 s clear (resolves at 230 s after 30 s of recovery), a breach inside the cooldown (re-opens
    // the same alert without notifying, 310 s), clear (resolves at 380 s), and a breach after the
    // cooldown (a second alert at 460 s).
    let cpu = |i: i64| match i {
        5..=8 | 10..=19 | 25..=34 | 40.. => 90.0,
        _ => 50.0,
    };
    stream(&app, vm, start, cpu, 0..20).await;
    let alerts = wait_for(
        &app,
        vm,
        &rule_id,
        "one alert after the sustained breach",
        |a| a.len() == 1,
    )
    .await;
    assert_eq!(alerts[0]["status"], "active");
    assert_eq!(alerts[0]["value"], 90.0);
    assert_eq!(alerts[0]["threshold"], 80.0);
    assert_eq!(alerts[0]["type"], "cpu");
    // The host by the name its page is headed with, and the vmId the API takes.
    assert!(
        alerts[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("on billing db (alert-vm)")),
        "{}",
        alerts[0]["message"]
    );
    assert!(!alerts[0]["metadata"]["suggestion"]
        .as_str()
        .unwrap_or_default()
        .is_empty());

    let triggered = loop {
        let message = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
            .await
            .expect("a live event")
            .expect("open")
            .expect("frame");
        if let Message::Text(text) = message {
            if let Ok(LiveEvent::AlertTriggered { alert }) =
                serde_json::from_str::<LiveEvent>(&text)
            {
                if alert.host.as_deref() == Some(vm) {
                    break alert;
                }
            }
        }
    };
    assert_eq!(triggered.id, alerts[0]["id"].as_str().expect("id"));

    stream(&app, vm, start, cpu, 20..60).await;
    let alerts = wait_for(&app, vm, &rule_id, "two alerts, the first resolved", |a| {
        a.len() == 2 && a[0]["status"] == "resolved"
    })
    .await;
    assert_eq!(alerts[0]["resolved_by"], "system");
    assert_eq!(
        alerts[0]["resolved_at"]
            .as_str()
            .map(|t| t.parse::<DateTime<Utc>>().expect("time")),
        Some(start + Duration::seconds(380))
    );
    assert_eq!(alerts[1]["status"], "active");
    let (_, rules) = app.get_json("/api/v1/performance/alerts/rules").await;
    let stored = rules["data"]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| r["name"] == "vm cpu")
        .expect("rule")
        .clone();
    assert_eq!(
        stored["trigger_count"], 2,
        "the re-opening inside the cooldown is not a new trigger"
    );
    assert_eq!(
        stored["last_triggered"]
            .as_str()
            .map(|t| t.parse::<DateTime<Utc>>().expect("time")),
        Some(start + Duration::seconds(460))
    );

    // Deliveries: triggered, resolved (230 s), resolved (380 s), triggered: four, the first retried.
    let mut delivered = Vec::new();
    for _ in 0..100 {
        delivered = sqlx::query_as::<_, (String, i32, String)>(
            "SELECT event, attempts, status FROM webhook_deliveries ORDER BY id",
        )
        .fetch_all(&app.pool)
        .await
        .expect("deliveries");
        if delivered.len() == 4 && delivered.iter().all(|d| d.2 == "delivered") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let events: Vec<&str> = delivered.iter().map(|d| d.0.as_str()).collect();
    assert_eq!(
        events,
        [
            "alert_triggered",
            "alert_resolved",
            "alert_resolved",
            "alert_triggered"
        ],
        "{delivered:?}"
    );
    assert!(
        delivered.iter().all(|d| d.2 == "delivered"),
        "{delivered:?}"
    );
    assert_eq!(
        delivered.iter().map(|d| d.1).sum::<i32>(),
        5,
        "one retry after the receiver's 500: {delivered:?}"
    );
    let requests = receiver.requests.lock().expect("lock").clone();
    assert_eq!(requests.len(), 5);
    for (headers, body) in &requests {
        check_signature(&secret, headers, body);
        let payload: app::models::WebhookPayload =
            serde_json::from_str(body).expect("the documented payload");
        assert_eq!(payload.alert.host.as_deref(), Some(vm));
        assert_eq!(
            Some(payload.event.as_str()),
            headers["x-lookout-event"].to_str().ok()
        );
        assert_eq!(payload.sent_by, "lookout");
        assert_eq!(
            payload.alert.rule_id.as_deref(),
            Some(payload.rule.id.as_str())
        );
    }

    // A person resolves the second alert; resolving again is a conflict; unknown ids are 404.
    let second = alerts[1]["id"].as_str().expect("id").to_owned();
    let (status, resolved) = post(
        &app,
        &format!("/api/v1/performance/alerts/{second}/resolve"),
        &json!({"resolution": "Issue resolved by restarting service", "resolved_by": "admin"}),
    )
    .await;
    assert_eq!(status, 200, "{resolved}");
    assert_eq!(resolved["data"]["resolved"], true);
    assert!(resolved["data"]["resolved_at"].is_string());
    let (status, again) = post(
        &app,
        &format!("/api/v1/performance/alerts/{second}/resolve"),
        &json!({}),
    )
    .await;
    assert_eq!(
        (status, again["error"]["code"].as_str()),
        (409, Some("CONFLICT")),
        "{again}"
    );
    let (status, _) = post(
        &app,
        "/api/v1/performance/alerts/alert_999999/resolve",
        &json!({}),
    )
    .await;
    assert_eq!(status, 404);
    let alerts = alerts_of(&app, vm, &rule_id).await;
    assert_eq!(
        alerts[1]["resolution"],
        "Issue resolved by restarting service"
    );

    let (_, summary) = app
        .get_json(&format!("/api/v1/performance/alerts?host={vm}"))
        .await;
    assert_eq!(
        summary["data"]["alerts"].as_array().map(Vec::len),
        Some(0),
        "resolved alerts are left out by default"
    );
    assert_eq!(summary["data"]["summary"]["total"], 2);
    assert_eq!(summary["data"]["summary"]["resolved"], 2);
    assert_eq!(summary["data"]["summary"]["by_level"]["warning"], 2);

    let range = format!(
        "startTime={}&endTime={}",
        (start - Duration::hours(1)).to_rfc3339(),
        Utc::now().to_rfc3339()
    )
    .replace('+', "%2B");
    let (status, timeline) = app
        .get_json(&format!(
            "/api/v1/history/timeline/{vm}?{range}&types=metric_alert"
        ))
        .await;
    assert_eq!(status, 200, "{timeline}");
    assert_eq!(timeline["data"]["total"], 2, "{timeline}");
    assert_eq!(timeline["data"]["events"][0]["type"], "metric_alert");
    app.stop().await;
}

#[tokio::test]
async fn an_active_alert_survives_a_restart_and_is_not_raised_twice() {
    let app = spawn_app().await;
    let database_url = app.database_url.clone();
    let vm = "restart-vm";
    let start = Utc::now() - Duration::minutes(10);
    ingest(
        &app,
        vec![json!({"vmId": vm, "sample": sample(start - Duration::seconds(10), 10.0, 40.0)})],
    )
    .await;
    let rule = json!({"name": "restart cpu", "metric": "cpu_percent", "operator": "greater_than", "threshold": 80, "host": vm, "cooldown": 0});
    let (status, created) = post(&app, "/api/v1/performance/alerts/rules", &rule).await;
    assert_eq!(status, 200, "{created}");
    let rule_id = created["data"]["rule_id"].as_str().expect("id").to_owned();
    stream(&app, vm, start, |_| 95.0, 0..10).await;
    wait_for(&app, vm, &rule_id, "the first alert", |a| a.len() == 1).await;
    app.stop().await;

    let app = spawn_with(settings(DatabaseArgs {
        database_url,
        data_dir: "unused".into(),
    }))
    .await;
    stream(&app, vm, start, |_| 95.0, 10..20).await;
    stream(
        &app,
        vm,
        start,
        |i| if i < 25 { 95.0 } else { 20.0 },
        20..30,
    )
    .await;
    let alerts = wait_for(
        &app,
        vm,
        &rule_id,
        "the same alert resolved after the restart",
        |a| a.len() == 1 && a[0]["status"] == "resolved",
    )
    .await;
    assert_eq!(alerts.len(), 1);
    app.stop().await;
}

/// A browser's form post: the session cookie, the page's origin, no redirect followed.
async fn rule_named(app: &TestApp, name: &str) -> Option<Value> {
    let (status, body) = app.get_json("/api/v1/performance/alerts/rules").await;
    assert_eq!(status, 200, "{body}");
    body["data"]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| r["name"] == name)
        .cloned()
}

/// The alerts page's HTML for a query string, signed in with `cookie`.
async fn alerts_page(app: &TestApp, cookie: &str, query: &str) -> String {
    crate::common::page(app, cookie, &format!("/alerts{query}")).await
}

#[tokio::test]
async fn the_alerts_page_adds_edits_disables_and_deletes_rules_and_resolves_alerts() {
    let app = spawn_app().await;
    let cookie = crate::common::session(&app).await;
    // (Not "nothing is firing": the server samples its own host, whose CPU may be above the
    // default rule's 80 % while the tests run.)
    let html = alerts_page(&app, &cookie, "").await;
    assert!(html.contains("high_cpu_usage") && html.contains("data-testid=\"rule-form\""));

    // A refused rule comes back with the reason and what was typed (not the secret).
    let mut fields = vec![
        ("name", "db cpu"),
        ("metric", "cpu_percent"),
        ("operator", "greater_or_equal"),
        ("threshold", "eighty"),
        ("level", "critical"),
        ("for", "60"),
        ("action", "log"),
        ("enabled", "on"),
        ("webhook_secret", "do-not-echo-this-secret"),
    ];
    let (status, location) = post_form(&app, &cookie, "/alerts/rules", &fields).await;
    assert_eq!(status, 303, "{location}");
    assert!(
        location.contains("error=`threshold` must be a number, got `eighty`")
            && location.contains("name=db cpu")
            && location.contains("threshold=eighty")
            && !location.contains("do-not-echo"),
        "{location}"
    );
    fields[3] = ("threshold", "85.5");
    let (_, location) = post_form(&app, &cookie, "/alerts/rules", &fields).await;
    assert!(
        location.ends_with("notice=Rule db cpu added."),
        "{location}"
    );
    let rule = rule_named(&app, "db cpu").await.expect("the new rule");
    assert_eq!(
        (
            &rule["operator"],
            &rule["threshold"],
            &rule["level"],
            &rule["for"]
        ),
        (
            &json!("greater_or_equal"),
            &json!(85.5),
            &json!("critical"),
            &json!(60)
        )
    );
    let id = rule["id"].as_str().expect("id").to_string();

    // The same checks as the API: a duplicate name, a webhook without a secret the user saw.
    let (_, location) = post_form(&app, &cookie, "/alerts/rules", &fields).await;
    assert!(
        location.contains("a rule named `db cpu` already exists"),
        "{location}"
    );
    let mut hooked = fields.clone();
    hooked.retain(|(k, _)| *k != "webhook_secret");
    hooked.extend([
        ("name", "hooked"),
        ("action", "webhook"),
        ("webhook_url", "https://hooks.example.com/x"),
    ]);
    hooked.retain(|(k, v)| *k != "name" || *v == "hooked");
    let (_, location) = post_form(&app, &cookie, "/alerts/rules", &hooked).await;
    assert!(
        location.contains("a webhook needs a signing secret"),
        "{location}"
    );
    assert!(rule_named(&app, "hooked").await.is_none());

    // Edit, disable, enable.
    let mut edited = fields.clone();
    edited[3] = ("threshold", "90");
    edited.push(("id", &id));
    let (_, location) = post_form(&app, &cookie, "/alerts/rules", &edited).await;
    assert!(
        location.ends_with("notice=Rule db cpu saved."),
        "{location}"
    );
    let rule = rule_named(&app, "db cpu").await.expect("still there");
    assert_eq!(
        (&rule["threshold"], &rule["id"]),
        (&json!(90.0), &json!(id))
    );
    post_form(&app, &cookie, &format!("/alerts/rules/{id}/disable"), &[]).await;
    assert_eq!(
        rule_named(&app, "db cpu").await.expect("rule")["enabled"],
        false
    );
    post_form(&app, &cookie, &format!("/alerts/rules/{id}/enable"), &[]).await;
    assert_eq!(
        rule_named(&app, "db cpu").await.expect("rule")["enabled"],
        true
    );

    // An alert fires (the default CPU rule), shows on the page, and is resolved from it.
    let cpu_rule = rule_named(&app, "high_cpu_usage")
        .await
        .expect("default rule");
    let cpu_rule_id = cpu_rule["id"].as_str().expect("id");
    stream(
        &app,
        "vm-page",
        Utc::now() - Duration::seconds(20),
        |_| 97.0,
        0..2,
    )
    .await;
    let alerts = wait_for(&app, "vm-page", cpu_rule_id, "the CPU alert", |a| {
        a.iter().any(|a| a["status"] == "active")
    })
    .await;
    let alert_id = alerts[0]["id"].as_str().expect("alert id").to_string();
    let html = alerts_page(&app, &cookie, "").await;
    assert!(
        html.contains(&format!("/alerts/{alert_id}/resolve")),
        "the firing alert and its resolve form are on the page"
    );
    // Every page's top bar counts what fires (this alert, and the server's own host's if its
    // CPU is busy while the tests run), coloured by the most severe level.
    for page in ["/alerts", "/", "/exports"] {
        let html = crate::common::page(&app, &cookie, page).await;
        let badge = html
            .split("data-testid=\"nav-firing\"")
            .nth(1)
            .unwrap_or_else(|| panic!("{page}: no count of firing alerts in the top bar"));
        let count: u64 = badge
            .split('>')
            .nth(1)
            .and_then(|rest| rest.split('<').next())
            .and_then(|n| n.trim().parse().ok())
            .expect("a count");
        assert!(count >= 1, "{page}: {count}");
        assert!(
            html.contains("badge firing level-warning")
                || html.contains("badge firing level-critical"),
            "{page}"
        );
    }
    // The filters narrow the lists: a warning is not critical; the host's own, an unknown host's.
    for (query, listed) in [
        ("?level=critical", false),
        ("?level=warning&host=vm-page", true),
        ("?host=vm-page", true),
        ("?host=no-such-host", false),
    ] {
        let html = alerts_page(&app, &cookie, query).await;
        assert_eq!(
            html.contains(&format!("/alerts/{alert_id}/resolve")),
            listed,
            "{query}"
        );
    }
    let (_, location) = post_form(
        &app,
        &cookie,
        &format!("/alerts/{alert_id}/resolve"),
        &[("resolution", "restarted the batch job")],
    )
    .await;
    assert!(location.contains("notice=Resolved:"), "{location}");
    let resolved = alerts_of(&app, "vm-page", cpu_rule_id).await;
    assert_eq!(
        (
            &resolved[0]["status"],
            &resolved[0]["resolution"],
            &resolved[0]["resolved_by"]
        ),
        (
            &json!("resolved"),
            &json!("restarted the batch job"),
            &json!("admin")
        )
    );
    let (_, location) = post_form(&app, &cookie, &format!("/alerts/{alert_id}/resolve"), &[]).await;
    assert!(
        location.contains(&format!("error=alert `{alert_id}` is already resolved")),
        "{location}"
    );
    assert!(alerts_page(&app, &cookie, "")
        .await
        .contains("restarted the batch job"));

    // Delete; then what the page may not do: another origin, a caller without alerts:write.
    let (_, location) = post_form(&app, &cookie, &format!("/alerts/rules/{id}/delete"), &[]).await;
    assert!(
        location.contains("notice=Rule db cpu deleted"),
        "{location}"
    );
    assert!(rule_named(&app, "db cpu").await.is_none());
    let (_, location) = post_form(&app, &cookie, &format!("/alerts/rules/{id}/delete"), &[]).await;
    assert!(
        location.contains(&format!("error=no alert rule with id `{id}`")),
        "{location}"
    );
    let cross = reqwest::Client::new()
        .post(format!("{}/alerts/rules/{cpu_rule_id}/delete", app.address))
        .header(reqwest::header::COOKIE, format!("lookout_session={cookie}"))
        .header(reqwest::header::ORIGIN, "https://evil.example")
        .send()
        .await
        .expect("sent");
    assert_eq!(cross.status().as_u16(), 403);
    let reader = crate::common::reader_token(&app).await;
    let refused = reqwest::Client::new()
        .post(format!(
            "{}/alerts/rules/{cpu_rule_id}/disable",
            app.address
        ))
        .bearer_auth(&reader)
        .send()
        .await
        .expect("sent");
    assert_eq!(refused.status().as_u16(), 403);
    assert_eq!(
        rule_named(&app, "high_cpu_usage").await.expect("rule")["enabled"],
        true
    );
    app.stop().await;
}

#[tokio::test]
async fn the_alerts_page_lists_the_most_severe_first_however_many_newer_ones_there_are() {
    let app = spawn_app().await;
    // An old critical alert and two newer warnings, without rules (as after a rule's deletion),
    // of a custom metric: the server's own host may fire its CPU rule while tests run, and the
    // `kind` filter leaves those out.
    let now = Utc::now();
    for (level, age) in [("critical", 600), ("warning", 60), ("warning", 30)] {
        let at = now - Duration::minutes(age);
        sqlx::query(
            "INSERT INTO alerts (metric, kind, level, title, message, value, threshold, created_at, triggered_at, notified_at)
             VALUES ('queue.depth', 'custom', $1, 't', $2, 90, 80, $3, $3, $3)",
        )
        .bind(level)
        .bind(format!("{level} {age} minutes ago"))
        .bind(at)
        .execute(&app.pool)
        .await
        .expect("alert");
    }
    let listed = |most_severe_first| {
        let pool = app.pool.clone();
        async move {
            let (rows, summary) = lookout::alerts::store::list_alerts(
                &pool,
                &lookout::alerts::store::AlertFilter {
                    level: None,
                    kind: Some("custom"),
                    host_id: None,
                    include_resolved: false,
                    limit: 2,
                    most_severe_first,
                },
            )
            .await
            .expect("alerts");
            assert_eq!(summary.active, 3);
            rows.iter()
                .map(|r| r.to_model().message)
                .collect::<Vec<_>>()
        }
    };
    // Two of three: the critical one first even though it is the oldest, then the newest.
    assert_eq!(
        listed(true).await,
        ["critical 600 minutes ago", "warning 30 minutes ago"]
    );
    assert_eq!(
        listed(false).await,
        ["warning 30 minutes ago", "warning 60 minutes ago"]
    );
    app.stop().await;
}
