use crate::common::spawn_app;
use app::models::LiveEvent;
use futures_util::StreamExt;
use std::time::Duration;
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};

#[tokio::test]
async fn a_websocket_client_with_a_token_receives_metric_updates() {
    let app = spawn_app().await;
    let mut request = format!("ws://127.0.0.1:{}/ws/performance", app.port).into_client_request().expect("request");
    request.headers_mut().insert("authorization", format!("Bearer {}", app.token).parse().expect("header"));
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("handshake");

    let mut timestamps = Vec::new();
    while timestamps.len() < 2 {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("an update within 10 s")
            .expect("stream open")
            .expect("valid frame");
        if let Message::Text(text) = message {
            // Alerts (the default CPU rule on a busy CI machine) may interleave; only updates count.
            if let LiveEvent::MetricUpdate { host, metric } = serde_json::from_str::<LiveEvent>(&text).expect("a live event") {
                assert!(!host.is_empty());
                assert!(metric.cpu.cores >= 1);
                timestamps.push(metric.timestamp);
            }
        }
    }
    assert!(timestamps[1] > timestamps[0], "updates arrive in order: {timestamps:?}");
    app.stop().await;
}
