//! Live events: every event serialized once and fanned out to all WebSocket clients, and relayed
//! through PostgreSQL `NOTIFY` so clients of every server instance see every instance's events.
mod relay;
mod ws;

pub use relay::relay;

pub use ws::performance_socket;

use app::models::LiveEvent;
use axum::extract::ws::Utf8Bytes;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};
use tokio::sync::broadcast;

/// Events a client may fall behind by before it is resynchronised.
const CHANNEL_CAPACITY: usize = 256;

/// Events waiting to be relayed to other instances; beyond this they are dropped (and logged).
const RELAY_CAPACITY: usize = 1024;

#[derive(Clone)]
pub struct Hub {
    sender: broadcast::Sender<Utf8Bytes>,
    /// The newest `metric_update` per host: sent on connect and to a client that lagged.
    latest: Arc<Mutex<HashMap<String, Utf8Bytes>>>,
    /// Local events on their way to the other instances (see `relay`).
    outbox: tokio::sync::mpsc::Sender<Utf8Bytes>,
    outbox_rx: Arc<Mutex<Option<tokio::sync::mpsc::Receiver<Utf8Bytes>>>>,
}

impl Default for Hub {
    fn default() -> Self {
        let (outbox, outbox_rx) = tokio::sync::mpsc::channel(RELAY_CAPACITY);
        Hub {
            sender: broadcast::channel(CHANNEL_CAPACITY).0,
            latest: Arc::default(),
            outbox,
            outbox_rx: Arc::new(Mutex::new(Some(outbox_rx))),
        }
    }
}

impl Hub {
    /// Sends an event of this instance to its clients and, through the relay, to the others'.
    pub fn publish(&self, event: &LiveEvent) {
        let text: Utf8Bytes = match serde_json::to_string(event) {
            Ok(text) => text.into(),
            Err(error) => {
                tracing::error!(%error, "Cannot serialize a live event.");
                return;
            }
        };
        self.deliver(event, text.clone());
        if let Err(tokio::sync::mpsc::error::TrySendError::Full(_)) = self.outbox.try_send(text) {
            tracing::warn!(
                "Live event relay is behind; an event was not relayed to other instances."
            );
        }
    }

    /// An event another instance published: to this instance's clients only.
    fn publish_relayed(&self, text: &str) {
        match serde_json::from_str::<LiveEvent>(text) {
            Ok(event) => self.deliver(&event, text.to_owned().into()),
            Err(error) => {
                tracing::warn!(%error, "Ignoring a relayed live event that does not parse.")
            }
        }
    }

    fn deliver(&self, event: &LiveEvent, text: Utf8Bytes) {
        if let LiveEvent::MetricUpdate { host, .. } = event {
            self.latest
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(host.clone(), text.clone());
        }
        // No receivers is normal (nobody watching); nothing to do then.
        let _ = self.sender.send(text);
    }

    /// The queue of events to relay; the relay task takes it once.
    fn take_outbox(&self) -> Option<tokio::sync::mpsc::Receiver<Utf8Bytes>> {
        self.outbox_rx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Utf8Bytes> {
        self.sender.subscribe()
    }

    /// The newest metric update of every host.
    pub fn snapshot(&self) -> Vec<Utf8Bytes> {
        self.latest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::models::Stats;

    #[tokio::test]
    async fn subscribers_get_each_event_once_and_the_snapshot_keeps_the_newest_per_host() {
        let hub = Hub::default();
        let mut receiver = hub.subscribe();
        for host in ["a", "b", "a"] {
            hub.publish(&LiveEvent::MetricUpdate {
                host: host.into(),
                metric: Stats::default(),
                absent: Vec::new(),
            });
        }
        for _ in 0..3 {
            let text = receiver.recv().await.expect("event");
            assert!(
                text.as_str().starts_with(r#"{"type":"metric_update""#),
                "{text}"
            );
        }
        assert_eq!(hub.snapshot().len(), 2);
    }
}
