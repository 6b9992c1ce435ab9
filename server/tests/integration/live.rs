use crate::common::spawn_app;
use app::models::LiveEvent;
use futures_util::StreamExt;
use std::time::Duration;
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};

#[tokio::test]
async fn a_websocket_client_with_a_token_receives_metric_updates() {
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

    let mut timestamps = Vec::new();
    while timestamps.len() < 2 {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("an update within 10 s")
            .expect("stream open")
            .expect("valid frame");
        if let Message::Text(text) = message {
            // Alerts (the default CPU rule on a busy CI machine) may interleave; only updates count.
            if let LiveEvent::MetricUpdate { host, metric, .. } =
                serde_json::from_str::<LiveEvent>(&text).expect("a live event")
            {
                assert!(!host.is_empty());
                assert!(metric.cpu.cores >= 1);
                timestamps.push(metric.timestamp);
            }
        }
    }
    assert!(
        timestamps[1] > timestamps[0],
        "updates arrive in order: {timestamps:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn clients_of_one_instance_see_events_raised_on_another() {
    use crate::common::{ingest, post, sample, settings, spawn_with};
    use serde_json::json;
    let first = spawn_app().await;
    let second = spawn_with(settings(lookout::config::DatabaseArgs {
        database_url: first.database_url.clone(),
        data_dir: "unused".into(),
    }))
    .await;
    let mut request = format!("ws://127.0.0.1:{}/ws/performance", second.port)
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", second.token).parse().expect("header"),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("handshake");

    // An alert raised by the first instance (it receives the samples and judges them).
    let now = chrono::Utc::now();
    ingest(&first, vec![json!({"vmId": "relay-vm", "sample": sample(now - chrono::Duration::seconds(20), 10.0, 10.0)})]).await;
    let (status, created) = post(
        &first,
        "/api/v1/performance/alerts/rules",
        &json!({"name": "relay", "metric": "memory_percent", "threshold": 50, "host": "relay-vm"}),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    // Give the relay's LISTEN a moment on a slow machine, then raise it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    ingest(&first, vec![json!({"vmId": "relay-vm", "sample": sample(now - chrono::Duration::seconds(10), 10.0, 95.0)})]).await;

    let alert = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            let Some(Ok(Message::Text(text))) = socket.next().await else {
                panic!("socket closed")
            };
            if let Ok(LiveEvent::AlertTriggered { alert }) =
                serde_json::from_str::<LiveEvent>(&text)
            {
                if alert.host.as_deref() == Some("relay-vm") {
                    return alert;
                }
            }
        }
    })
    .await
    .expect("the second instance's client gets the first instance's alert");
    assert_eq!(alert.metric, "memory_percent");
    second.stop().await;
    first.stop().await;
}
