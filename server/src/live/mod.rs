//! Live events: every event serialized once and fanned out to all WebSocket clients.
mod ws;

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

#[derive(Clone)]
pub struct Hub {
    sender: broadcast::Sender<Utf8Bytes>,
    /// The newest `metric_update` per host: sent on connect and to a client that lagged.
    latest: Arc<Mutex<HashMap<String, Utf8Bytes>>>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub { sender: broadcast::channel(CHANNEL_CAPACITY).0, latest: Arc::default() }
    }
}

impl Hub {
    pub fn publish(&self, event: &LiveEvent) {
        let text: Utf8Bytes = match serde_json::to_string(event) {
            Ok(text) => text.into(),
            Err(error) => {
                tracing::error!(%error, "Cannot serialize a live event.");
                return;
            }
        };
        if let LiveEvent::MetricUpdate { host, .. } = event {
            self.latest.lock().unwrap_or_else(|p| p.into_inner()).insert(host.clone(), text.clone());
        }
        // No receivers is normal (nobody watching); nothing to do then.
        let _ = self.sender.send(text);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Utf8Bytes> {
        self.sender.subscribe()
    }

    /// The newest metric update of every host.
    pub fn snapshot(&self) -> Vec<Utf8Bytes> {
        self.latest.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect()
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
            hub.publish(&LiveEvent::MetricUpdate { host: host.into(), metric: Stats::default() });
        }
        for _ in 0..3 {
            let text = receiver.recv().await.expect("event");
            assert!(text.as_str().starts_with(r#"{"type":"metric_update""#), "{text}");
        }
        assert_eq!(hub.snapshot().len(), 2);
    }
}
