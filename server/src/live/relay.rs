//! Relays live events between server instances through PostgreSQL `LISTEN`/`NOTIFY`, so that
//! every WebSocket client sees every instance's events whichever instance it is connected to.
//!
//! Guarantee: best effort, like the WebSocket itself. Events published while the database is
//! unreachable reach only this instance's clients; the relay reconnects on its own.
use super::Hub;
use sqlx::{postgres::PgListener, PgPool};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const CHANNEL: &str = "lookout_live";
/// PostgreSQL's NOTIFY payload limit is 8000 bytes; larger events stay local.
const MAX_PAYLOAD: usize = 7_900;

/// This process, so it can ignore its own notifications.
fn instance_id() -> String {
    use rand::{distributions::Alphanumeric, Rng};
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(12)
        .map(char::from)
        .collect()
}

/// `origin '\n' event` → (origin, event).
fn split(payload: &str) -> Option<(&str, &str)> {
    payload.split_once('\n')
}

pub async fn relay(pool: PgPool, hub: Hub, shutdown: CancellationToken) {
    let Some(outbox) = hub.take_outbox() else {
        return;
    };
    let me = instance_id();
    // Sending and listening run side by side, so a slow or reconnecting listener never holds up
    // (or cancels) the other.
    tokio::join!(
        send(&pool, outbox, &me, &shutdown),
        listen(&pool, &hub, &me, &shutdown)
    );
}

async fn send(
    pool: &PgPool,
    mut outbox: tokio::sync::mpsc::Receiver<axum::extract::ws::Utf8Bytes>,
    me: &str,
    shutdown: &CancellationToken,
) {
    loop {
        let event = tokio::select! {
            _ = shutdown.cancelled() => return,
            event = outbox.recv() => match event { Some(event) => event, None => return },
        };
        let payload = format!("{me}\n{}", event.as_str());
        if payload.len() > MAX_PAYLOAD {
            tracing::debug!(
                bytes = payload.len(),
                "Live event too large to relay; local clients only."
            );
            continue;
        }
        if let Err(error) = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload)
            .execute(pool)
            .await
        {
            tracing::debug!(%error, "Cannot relay a live event.");
        }
    }
}

async fn listen(pool: &PgPool, hub: &Hub, me: &str, shutdown: &CancellationToken) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let connected = async {
            let mut listener = PgListener::connect_with(pool).await?;
            listener.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        let mut listener = match connected.await {
            Ok(listener) => {
                backoff = Duration::from_secs(1);
                listener
            }
            Err(error) => {
                tracing::warn!(%error, retry_in_secs = backoff.as_secs(), "Cannot listen for other instances' live events; retrying.");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        loop {
            let received = tokio::select! {
                _ = shutdown.cancelled() => return,
                received = listener.try_recv() => received,
            };
            match received {
                Ok(Some(notification)) => {
                    if let Some((origin, event)) = split(notification.payload()) {
                        if origin != me {
                            hub.publish_relayed(event);
                        }
                    }
                }
                // The connection was lost (notifications sent meanwhile are gone); the next
                // `try_recv` reconnects and listens again.
                Ok(None) => tracing::warn!("Live event relay lost its connection; reconnecting."),
                Err(error) => {
                    tracing::warn!(%error, "Live event relay failed; reconnecting.");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_carry_their_origin_before_the_first_newline() {
        assert_eq!(
            split("abc\n{\"type\":\"x\"}"),
            Some(("abc", "{\"type\":\"x\"}"))
        );
        assert_eq!(split("no origin"), None);
        assert_eq!(instance_id().len(), 12);
    }
}
