//! `GET /ws/performance`: the live stream for one client, with keep-alive and slow-client handling.
use super::Hub;
use crate::auth::{RequireScope, VmRead};
use axum::{
    extract::{
        ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade},
        State,
    },
    response::Response,
};
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

const PING_EVERY: Duration = Duration::from_secs(20);
/// A client that cannot take one message in this time is dropped so it never holds up others.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);

pub async fn performance_socket(
    RequireScope(principal, ..): RequireScope<VmRead>,
    State(hub): State<Hub>,
    State(shutdown): State<CancellationToken>,
    upgrade: WebSocketUpgrade,
) -> Response {
    // Clients only send control frames; a large message is misuse.
    upgrade
        .max_message_size(64 * 1024)
        .on_upgrade(move |socket| async move {
            tracing::debug!(who = %principal.name, "Live stream opened.");
            serve(socket, hub, shutdown).await;
            tracing::debug!(who = %principal.name, "Live stream closed.");
        })
}

async fn send(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    message: Message,
) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, sink.send(message)).await,
        Ok(Ok(()))
    )
}

async fn serve(socket: WebSocket, hub: Hub, shutdown: CancellationToken) {
    let (mut sink, mut incoming) = socket.split();
    let mut events = hub.subscribe();
    for text in hub.snapshot() {
        if !send(&mut sink, Message::Text(text)).await {
            return;
        }
    }
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
    let mut awaiting_pong = false;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => {
                let frame = CloseFrame { code: axum::extract::ws::close_code::AWAY, reason: "server shutting down".into() };
                let _ = send(&mut sink, Message::Close(Some(frame))).await;
                return;
            }
            event = events.recv() => match event {
                Ok(text) => if !send(&mut sink, Message::Text(text)).await { return },
                // Fell behind: skip the backlog and send the current state instead.
                Err(RecvError::Lagged(skipped)) => {
                    tracing::debug!(skipped, "Live client lagged; resynchronising.");
                    for text in hub.snapshot() {
                        if !send(&mut sink, Message::Text(text)).await { return }
                    }
                }
                Err(RecvError::Closed) => return,
            },
            message = incoming.next() => match message {
                Some(Ok(Message::Pong(_))) => awaiting_pong = false,
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            _ = ping.tick() => {
                if awaiting_pong {
                    return; // no answer for a whole period: the peer is gone
                }
                awaiting_pong = true;
                if !send(&mut sink, Message::Ping(Default::default())).await { return }
            }
        }
    }
}
