//! The live page: cards for every resource and a rolling 15-minute chart, kept current over the WebSocket.
use super::{format_bytes, snapshot::load_dashboard};
use crate::{
    chart::render_usage_chart,
    models::{DashboardSnapshot, Stats, LIVE_WINDOW_SECS},
};
use leptos::prelude::*;

#[component]
pub fn LivePage() -> impl IntoView {
    let snapshot = Resource::new(|| (), |_| load_dashboard());
    view! {
        <Suspense fallback=|| view! { <main class="centered"><p class="muted">"Loading…"</p></main> }>
            {move || Suspend::new(async move {
                match snapshot.await {
                    Ok(snapshot) => view! { <LiveView snapshot/> }.into_any(),
                    Err(error) => view! {
                        <main class="centered">
                            <p class="error">"Could not load this host: " {error.to_string()}</p>
                            <a href="/login">"Sign in again"</a>
                        </main>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Connection state of the live stream, shown in the top bar.
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
enum StreamState {
    Connecting,
    Live,
    Reconnecting,
}

#[component]
fn LiveView(snapshot: DashboardSnapshot) -> impl IntoView {
    let DashboardSnapshot { host, host_name, username, sample_interval_secs, recent } = snapshot;
    let samples = RwSignal::new(recent);
    let stream = RwSignal::new(StreamState::Connecting);
    let updates = RwSignal::new(0_u64);
    let latest = Memo::new(move |_| samples.with(|s| s.last().cloned()));

    connect_live_stream(host.clone(), samples, stream, updates);

    let stat = move |f: fn(&Stats) -> String| move || latest.with(|s| s.as_ref().map(f).unwrap_or_else(|| "–".into()));
    let chart = move || samples.with(|s| render_usage_chart(s));
    let stream_label = move || match stream.get() {
        StreamState::Connecting => "connecting…",
        StreamState::Live => "live",
        StreamState::Reconnecting => "reconnecting…",
    };
    let updated_at = stat(|s| s.timestamp.format("%H:%M:%S UTC").to_string());

    view! {
        <header class="topbar">
            <strong class="brand">"Lookout"</strong>
            <nav class="nav"><a href="/" aria-current="page">"Live"</a><a href="/capacity" data-testid="nav-capacity">"Capacity"</a><a href="/exports" data-testid="nav-exports">"Exports"</a></nav>
            <span class="host" data-testid="host-name">{host_name}</span>
            <span class="stream" data-testid="stream-state" data-state=stream_label>{stream_label}</span>
            <span class="muted">"every " {sample_interval_secs} " s · updated " <span data-testid="updated-at">{updated_at}</span></span>
            <span class="spacer"></span>
            <span class="muted">{username}</span>
            <form method="post" action="/auth/logout" class="logout">
                <button type="submit" class="link" data-testid="logout">"Log out"</button>
            </form>
        </header>
        <main class="live" data-updates=move || updates.get().to_string()>
            <section class="cards">
                <Card title="CPU" testid="card-cpu" value=stat(|s| format!("{:.1} %", s.cpu.percent))
                    detail=stat(|s| format!("{} cores · {:.0} MHz used · load {:.2} {:.2} {:.2} · ready {:.1} %",
                        s.cpu.cores, s.cpu.usage_mhz, s.cpu.load1, s.cpu.load5, s.cpu.load15, s.cpu.ready_percent))/>
                <Card title="Memory" testid="card-memory" value=stat(|s| format!("{:.1} %", s.memory.percent))
                    detail=stat(|s| format!("{} of {} used · {} cached · swap {} of {}",
                        format_bytes(s.memory.used as f64), format_bytes(s.memory.total as f64),
                        format_bytes(s.memory.cached as f64), format_bytes(s.memory.swap_used as f64),
                        format_bytes(s.memory.swap_total as f64)))/>
                <Card title="Disk" testid="card-disk" value=stat(|s| format!("{:.1} %", s.disk.percent))
                    detail=stat(|s| format!("{} free · read {}/s {:.0} IOPS {:.1} ms · write {}/s {:.0} IOPS {:.1} ms",
                        format_bytes(s.disk.free as f64), format_bytes(s.disk.read_bps), s.disk.read_iops,
                        s.disk.read_latency_ms, format_bytes(s.disk.write_bps), s.disk.write_iops, s.disk.write_latency_ms))/>
                <Card title="Network" testid="card-network" value=stat(|s| format!("↓ {}/s ↑ {}/s", format_bytes(s.network.in_bps), format_bytes(s.network.out_bps)))
                    detail=stat(|s| format!("{} received · {} sent · {} / {} packets",
                        format_bytes(s.network.bytes_recv as f64), format_bytes(s.network.bytes_sent as f64),
                        s.network.packets_recv, s.network.packets_sent))/>
                <Card title="Processes" testid="card-processes" value=stat(|s| s.processes.total.to_string())
                    detail=stat(|s| format!("{} running · {} sleeping · {} zombie", s.processes.running, s.processes.sleeping, s.processes.zombie))/>
                <Card title="Connections" testid="card-connections" value=stat(|s| s.connections.active.to_string())
                    detail=stat(|s| format!("{} established · {} listening", s.connections.established, s.connections.listening))/>
            </section>
            <section class="panel">
                <h2>"Last 15 minutes"</h2>
                <div class="chart" data-testid="live-chart" inner_html=chart></div>
            </section>
        </main>
    }
}

#[component]
fn Card(
    title: &'static str,
    testid: &'static str,
    value: impl Fn() -> String + Send + Sync + 'static,
    detail: impl Fn() -> String + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <article class="card" data-testid=testid>
            <h2>{title}</h2>
            <p class="value" data-testid=format!("{testid}-value")>{value}</p>
            <p class="detail">{detail}</p>
        </article>
    }
}

#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
/// Appends a sample and drops what fell out of the live window.
fn push_sample(samples: &mut Vec<Stats>, sample: Stats) {
    if samples.last().is_some_and(|last| last.timestamp >= sample.timestamp) {
        return;
    }
    let oldest = sample.timestamp - chrono::Duration::seconds(LIVE_WINDOW_SECS);
    samples.push(sample);
    samples.retain(|s| s.timestamp >= oldest);
}

#[cfg(not(feature = "hydrate"))]
fn connect_live_stream(_: String, _: RwSignal<Vec<Stats>>, _: RwSignal<StreamState>, _: RwSignal<u64>) {}

/// Opens `/ws/performance` (the session cookie authenticates it) and reconnects with back-off.
#[cfg(feature = "hydrate")]
fn connect_live_stream(host: String, samples: RwSignal<Vec<Stats>>, stream: RwSignal<StreamState>, updates: RwSignal<u64>) {
    use crate::models::LiveEvent;
    use std::time::Duration;
    use wasm_bindgen::{closure::Closure, JsCast};
    use web_sys::{MessageEvent, WebSocket};

    fn open(host: String, samples: RwSignal<Vec<Stats>>, stream: RwSignal<StreamState>, updates: RwSignal<u64>, attempt: u32) {
        let Some(window) = web_sys::window() else { return };
        let location = window.location();
        let scheme = if location.protocol().ok().as_deref() == Some("https:") { "wss" } else { "ws" };
        let Ok(authority) = location.host() else { return };
        let Ok(socket) = WebSocket::new(&format!("{scheme}://{authority}/ws/performance")) else { return };

        let on_open = Closure::<dyn FnMut()>::new(move || stream.set(StreamState::Live));
        let wanted = host.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let Some(text) = event.data().as_string() else { return };
            if let Ok(LiveEvent::MetricUpdate { host, metric }) = serde_json::from_str::<LiveEvent>(&text) {
                if host == wanted {
                    samples.update(|s| push_sample(s, metric));
                    updates.update(|n| *n += 1);
                }
            }
        });
        let on_close = Closure::<dyn FnMut()>::new(move || {
            stream.set(StreamState::Reconnecting);
            let host = host.clone();
            let next = attempt.saturating_add(1);
            // 1 s, 2 s, 4 s … capped at 30 s so a restarted server is picked up quickly.
            let delay = Duration::from_secs(1_u64 << next.min(5)).min(Duration::from_secs(30));
            set_timeout(move || open(host, samples, stream, updates, next), delay);
        });
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        // The callbacks live as long as the socket; one small leak per reconnect is accepted.
        on_open.forget();
        on_message.forget();
        on_close.forget();
    }

    Effect::new(move |_| open(host.clone(), samples, stream, updates, 0));
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, Utc};

    fn at(secs_ago: i64) -> Stats {
        Stats { timestamp: Utc::now() - Duration::seconds(secs_ago), ..Default::default() }
    }

    #[test]
    fn push_drops_samples_outside_the_window_and_ignores_stale_ones() {
        let mut samples = vec![at(LIVE_WINDOW_SECS + 30), at(60)];
        push_sample(&mut samples, at(0));
        assert_eq!(samples.len(), 2);
        let stale = at(120);
        push_sample(&mut samples, stale);
        assert_eq!(samples.len(), 2, "an older sample than the newest is ignored");
    }
}
