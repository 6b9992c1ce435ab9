use crate::common::{settings, spawn_with};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use lookout::{config::DatabaseArgs, storage::managed::ManagedPostgres};
use std::{collections::BTreeSet, time::Duration};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};

/// Runs the server on its own managed PostgreSQL, stops that PostgreSQL mid-run, starts it again,
/// and checks that every sample published while it was down reached the database.
#[tokio::test]
async fn samples_taken_while_the_database_is_down_are_written_when_it_returns() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = spawn_with(settings(DatabaseArgs {
        database_url: None,
        data_dir: dir.path().to_path_buf(),
    }))
    .await;

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
    let mut published: BTreeSet<DateTime<Utc>> = BTreeSet::new();
    let collect = |published: &mut BTreeSet<DateTime<Utc>>, message: Message| {
        if let Message::Text(text) = message {
            if let Ok(app::models::LiveEvent::MetricUpdate { metric, .. }) =
                serde_json::from_str(&text)
            {
                published.insert(metric.timestamp);
            }
        }
    };

    let cookie = crate::common::session(&app).await;
    // Stop the cluster (as an operator or a crash would) and keep sampling for a few seconds.
    let cluster = ManagedPostgres::start(dir.path(), true)
        .await
        .expect("attach to the running cluster");
    cluster.stop().await.expect("stop PostgreSQL");
    // A signed-in person opening a page meanwhile is told the database is unavailable and
    // offered to try again — not sent to the sign-in form as if signed out.
    let (status, page) = crate::common::page_status(&app, &cookie, "/capacity").await;
    assert_eq!(status, 503, "{page}");
    assert!(page.contains(r#"data-failure="unavailable""#), "{page}");
    assert!(page.contains("Try again"));
    let outage_until = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < outage_until {
        if let Ok(Some(Ok(message))) =
            tokio::time::timeout(Duration::from_secs(2), socket.next()).await
        {
            collect(&mut published, message);
        }
    }
    let during_outage = published.len();
    assert!(
        during_outage >= 3,
        "sampling continues while the database is down ({during_outage})"
    );

    let restarted = ManagedPostgres::start(dir.path(), false)
        .await
        .expect("start PostgreSQL again");
    // A couple more samples after the restart, then every published one must be stored.
    for _ in 0..2 {
        if let Ok(Some(Ok(message))) =
            tokio::time::timeout(Duration::from_secs(3), socket.next()).await
        {
            collect(&mut published, message);
        }
    }
    let mut missing = published.clone();
    for _ in 0..60 {
        let stored: Vec<DateTime<Utc>> = sqlx::query_scalar("SELECT ts FROM samples")
            .fetch_all(&app.pool)
            .await
            .unwrap_or_default();
        for ts in stored {
            missing.remove(&ts);
        }
        if missing.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        missing.is_empty(),
        "{} of {} published samples never reached the database: {missing:?}",
        missing.len(),
        published.len()
    );
    app.stop().await;
    // The server's own handle stops the cluster at exit; make sure nothing is left running.
    restarted.stop().await.ok();
}
