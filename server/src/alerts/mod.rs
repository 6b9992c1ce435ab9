//! Alerting: rules evaluated on every incoming sample and custom metric point, one active alert per
//! rule and host, `log` and `webhook` actions, and `alert_triggered` / `alert_resolved` live events.
//!
//! One engine task owns the evaluation state, so values are judged in arrival order without locks.
//! Alerts, rule counters and queued webhooks are written in one transaction; the unique index on
//! active alerts keeps "one active alert per rule and host" true across several server instances.
pub mod evaluate;
pub mod manage;
pub mod rules;
pub mod store;
pub mod webhook;

use crate::{live::Hub, storage::samples::Present};
use app::models::{Alert, LiveEvent, Stats, WebhookPayload, WebhookRule};
use chrono::{DateTime, Duration, Utc};
use evaluate::{Decision, Series, Timing};
use futures_util::future::BoxFuture;
use serde_json::json;
use sqlx::PgPool;
use std::{collections::HashMap, sync::Arc};
use store::RuleRow;
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

/// Values older than this are history being backfilled, not something happening now.
pub const MAX_VALUE_AGE_SECS: i64 = 15 * 60;
const MAX_FUTURE_SECS: i64 = 5 * 60;
/// Batches waiting for the engine before senders wait (back-pressure on ingest).
const INBOX: usize = 1024;
/// How often rules and host groups are re-read even without a change notice (changes made
/// through other instances; this instance's own changes apply at once).
const RELOAD_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// The values of one host (or of no host, for custom metrics sent without one) at one instant.
#[derive(Clone, Debug)]
pub struct Observation {
    pub host_id: Option<i32>,
    pub ts: DateTime<Utc>,
    pub values: Vec<(String, f64)>,
}

impl Observation {
    /// Every built-in metric a sample carries the fields of (a partial sample's absent fields
    /// are not zeros: a rule on them is neither breached nor recovered by it).
    pub fn from_sample(host_id: i32, stats: &Stats, present: Present) -> Self {
        let values = app::catalog::watchable()
            .filter(|m| m.fields.iter().all(|field| present.has(field)))
            .map(|m| (m.name.to_owned(), (m.read)(stats)))
            .collect();
        Observation {
            host_id: Some(host_id),
            ts: stats.timestamp,
            values,
        }
    }

    fn is_current(&self, now: DateTime<Utc>) -> bool {
        let age = (now - self.ts).num_seconds();
        (-MAX_FUTURE_SECS..=MAX_VALUE_AGE_SECS).contains(&age)
    }
}

enum Command {
    Observe(Vec<Observation>),
    RulesChanged,
    /// A person resolved an alert: the engine's state must forget it.
    Resolved {
        rule_id: i64,
        host_id: Option<i32>,
    },
}

/// The handle producers and handlers use; cheap to clone.
#[derive(Clone)]
pub struct AlertEngine {
    commands: mpsc::Sender<Command>,
    /// Woken when a webhook delivery is queued.
    pub deliveries: Arc<Notify>,
}

pub struct Inbox(mpsc::Receiver<Command>);

impl AlertEngine {
    pub fn channel() -> (AlertEngine, Inbox) {
        let (commands, inbox) = mpsc::channel(INBOX);
        (
            AlertEngine {
                commands,
                deliveries: Arc::new(Notify::new()),
            },
            Inbox(inbox),
        )
    }

    /// Hands values to the engine; only current ones are kept (backfills never alert).
    pub async fn observe(&self, mut batch: Vec<Observation>) {
        let now = Utc::now();
        batch.retain(|o| o.is_current(now));
        if !batch.is_empty() {
            self.send(Command::Observe(batch)).await;
        }
    }

    pub async fn rules_changed(&self) {
        self.send(Command::RulesChanged).await;
    }

    pub async fn resolved(&self, rule_id: i64, host_id: Option<i32>) {
        self.send(Command::Resolved { rule_id, host_id }).await;
    }

    async fn send(&self, command: Command) {
        // Fails only while shutting down, when nothing more is evaluated anyway.
        let _ = self.commands.send(command).await;
    }
}

type SeriesKey = (i64, i32);

fn key(rule_id: i64, host_id: Option<i32>) -> SeriesKey {
    (rule_id, host_id.unwrap_or(0))
}

fn timing(rule: &RuleRow) -> Timing {
    Timing {
        hold: Duration::seconds(i64::from(rule.for_secs)),
        recovery: Duration::seconds(i64::from(rule.recovery_secs)),
        cooldown: Duration::seconds(i64::from(rule.cooldown_secs)),
    }
}

/// What to do about an alert of this type, shown with the alert.
pub fn suggestion(kind: &str) -> &'static str {
    match kind {
        "cpu" => "Check the processes using the most CPU (listed here for this server's own host); if the load is expected, add vCPUs or spread it.",
        "memory" => "Check the largest processes for leaks or oversized caches; add memory or lower their limits if the usage is expected.",
        "disk" => "Free space (old logs, temporary files, snapshots) or grow the volume; check for a runaway writer.",
        "network" => "Check which service the traffic belongs to and whether it is expected (backup, replication, attack).",
        "system" => "Check for runaway process or connection counts (fork loops, connection leaks).",
        _ => "Check the service that reports this metric.",
    }
}

/// What fires over the fleet now: the number of active alerts and the most severe level
/// among them (every page's top bar).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Firing {
    pub count: u64,
    pub most_severe: Option<String>,
}

impl Firing {
    /// From active-alert counts per level.
    pub fn of_levels(by_level: Vec<(String, i64)>) -> Self {
        Self {
            count: by_level
                .iter()
                .map(|(_, n)| u64::try_from(*n).unwrap_or(0))
                .sum(),
            most_severe: by_level
                .into_iter()
                .filter(|(_, n)| *n > 0)
                .map(|(level, _)| level)
                .min_by_key(|level| app::catalog::level_rank(level)),
        }
    }
}

/// The fleet's active alerts now, counted by level in SQL.
pub async fn firing(pool: &PgPool) -> Result<Firing, sqlx::Error> {
    Ok(Firing::of_levels(store::active_by_level(pool).await?))
}

/// The machine the server runs on, as the engine needs it: its host id, and its busiest
/// processes now, from the collector (other hosts' come from their stored samples). A trait,
/// so that alerts does not depend on sampling, which feeds it.
pub trait LocalProcesses: Send + Sync + 'static {
    fn host_id(&self) -> i32;
    /// The `count` processes using the most CPU at the last sample.
    fn top_processes(&self, count: usize) -> BoxFuture<'_, Vec<String>>;
}

struct Engine {
    pool: PgPool,
    hub: Hub,
    local: Arc<dyn LocalProcesses>,
    deliveries: Arc<Notify>,
    rules: Vec<RuleRow>,
    series: HashMap<SeriesKey, Series>,
    hosts: HashMap<i32, KnownHost>,
}

/// What the engine needs of a host: its group (for group rules) and how to name it.
struct KnownHost {
    vm_id: String,
    name: String,
    group: Option<String>,
}

impl KnownHost {
    /// "web-01 (sim-000)": the name the pages head the host with, and the vmId the API takes.
    fn label(&self) -> String {
        if self.name.is_empty() || self.name == self.vm_id {
            self.vm_id.clone()
        } else {
            format!("{} ({})", self.name, self.vm_id)
        }
    }
}

/// Runs the engine until `shutdown`.
pub async fn run(
    inbox: Inbox,
    engine: AlertEngine,
    pool: PgPool,
    hub: Hub,
    local: Arc<dyn LocalProcesses>,
    shutdown: CancellationToken,
) {
    let Inbox(mut inbox) = inbox;
    let mut state = Engine {
        pool,
        hub,
        local,
        deliveries: engine.deliveries.clone(),
        rules: Vec::new(),
        series: HashMap::new(),
        hosts: HashMap::new(),
    };
    let mut restored = false;
    let mut reload = tokio::time::interval(RELOAD_EVERY);
    loop {
        tokio::select! {
            command = inbox.recv() => {
                let Some(command) = command else { return };
                if !restored {
                    restored = state.restore().await;
                }
                match command {
                    Command::Observe(batch) => state.observe(batch).await,
                    Command::RulesChanged => state.reload().await,
                    Command::Resolved { rule_id, host_id } => {
                        if let Some(series) = state.series.get_mut(&key(rule_id, host_id)) {
                            series.closed();
                        }
                    }
                }
            }
            _ = reload.tick() => {
                if restored { state.reload().await } else { restored = state.restore().await }
            }
            _ = shutdown.cancelled() => return,
        }
    }
}

impl Engine {
    /// Rules, host groups and, per rule and host, the newest alert (active or within cooldown).
    async fn restore(&mut self) -> bool {
        self.reload().await;
        match store::latest_per_series(&self.pool).await {
            Ok(rows) => {
                for row in rows {
                    let Some(rule_id) = row.rule_id else { continue };
                    let active = (row.status == "active").then_some(row.id);
                    self.series.insert(
                        key(rule_id, row.host_id),
                        Series::restored(active, Some((row.id, row.notified_at))),
                    );
                }
                true
            }
            Err(error) => {
                tracing::warn!(%error, "Cannot restore alert state yet; retrying.");
                false
            }
        }
    }

    async fn reload(&mut self) {
        match store::rules(&self.pool).await {
            Ok(rules) => {
                self.rules = rules.into_iter().filter(|r| r.enabled).collect();
                let ids: Vec<i64> = self.rules.iter().map(|r| r.id).collect();
                self.series.retain(|(rule_id, _), _| ids.contains(rule_id));
            }
            Err(error) => {
                tracing::warn!(%error, "Cannot read alert rules; keeping the previous ones.")
            }
        }
        self.reload_hosts().await;
    }

    async fn reload_hosts(&mut self) {
        match sqlx::query_as::<_, (i32, String, String, Option<String>)>(
            "SELECT id, vm_id, name, group_id FROM hosts",
        )
        .fetch_all(&self.pool)
        .await
        {
            Ok(rows) => {
                self.hosts = rows
                    .into_iter()
                    .map(|(id, vm_id, name, group)| (id, KnownHost { vm_id, name, group }))
                    .collect()
            }
            Err(error) => tracing::warn!(%error, "Cannot read host groups for alert rules."),
        }
    }

    fn applies(rule: &RuleRow, host_id: Option<i32>, hosts: &HashMap<i32, KnownHost>) -> bool {
        match (rule.host_id, &rule.group_id) {
            (Some(only), _) => host_id == Some(only),
            (None, Some(group)) => {
                host_id
                    .and_then(|h| hosts.get(&h))
                    .and_then(|h| h.group.as_ref())
                    == Some(group)
            }
            (None, None) => true,
        }
    }

    async fn observe(&mut self, mut batch: Vec<Observation>) {
        if self.rules.is_empty() {
            return;
        }
        if batch
            .iter()
            .any(|o| o.host_id.is_some_and(|h| !self.hosts.contains_key(&h)))
        {
            self.reload_hosts().await;
        }
        batch.sort_by_key(|o| o.ts);
        for observation in batch {
            for index in 0..self.rules.len() {
                let rule = &self.rules[index];
                let Some(&(_, value)) = observation
                    .values
                    .iter()
                    .find(|(name, _)| *name == rule.metric)
                else {
                    continue;
                };
                if !value.is_finite() || !Self::applies(rule, observation.host_id, &self.hosts) {
                    continue;
                }
                let holds = rule.operator().holds(value, rule.threshold);
                let series = self
                    .series
                    .entry(key(rule.id, observation.host_id))
                    .or_default();
                let decision = series.observe(holds, observation.ts, timing(rule));
                if decision == Decision::Nothing {
                    continue;
                }
                let rule = rule.clone();
                if let Err(error) = self
                    .carry_out(decision, &rule, observation.host_id, value, observation.ts)
                    .await
                {
                    // The state did not move, so the next value tries again.
                    tracing::warn!(%error, rule = rule.name, "Cannot record an alert change; retrying with the next value.");
                }
            }
        }
    }

    fn host_name(&self, host_id: Option<i32>) -> String {
        host_id
            .and_then(|h| self.hosts.get(&h))
            .map_or_else(|| "(no host)".to_owned(), KnownHost::label)
    }

    async fn carry_out(
        &mut self,
        decision: Decision,
        rule: &RuleRow,
        host_id: Option<i32>,
        value: f64,
        ts: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        let series_key = key(rule.id, host_id);
        match decision {
            Decision::Nothing => {}
            Decision::Fire => {
                let kind = rules::kind_of(&rule.metric);
                // The local host's from the collector; any other host's from its agent's sample
                // closest to the breach (stored with the raw tier).
                let processes = match host_id {
                    _ if !matches!(kind, "cpu" | "memory" | "system") => Vec::new(),
                    Some(id) if id == self.local.host_id() => self.local.top_processes(5).await,
                    Some(id) => crate::storage::samples::top_processes_near(&self.pool, id, ts)
                        .await?
                        .into_iter()
                        .take(5)
                        .map(|p| p.name)
                        .collect(),
                    None => Vec::new(),
                };
                let host = self.host_name(host_id);
                let operator = rule.operator();
                let new = store::NewAlert {
                    rule,
                    host_id,
                    value,
                    at: ts,
                    title: if rule.description.is_empty() {
                        format!("{} {} {}", rule.metric, operator.symbol(), rule.threshold)
                    } else {
                        rule.description.clone()
                    },
                    message: format!(
                        "{} is {} on {host}, {} the threshold of {} (rule {})",
                        rule.metric,
                        round(value),
                        describe(operator),
                        rule.threshold,
                        rule.name
                    ),
                    metadata: json!({ "affected_processes": processes, "suggestion": suggestion(kind) }),
                };
                let mut tx = self.pool.begin().await?;
                match store::open_alert(&mut tx, &new).await? {
                    Some(row) => {
                        let alert = row.to_model();
                        store::queue_delivery(
                            &mut *tx,
                            row.id,
                            "alert_triggered",
                            rule,
                            &payload("alert_triggered", &alert, rule),
                        )
                        .await?;
                        tx.commit().await?;
                        self.series
                            .entry(series_key)
                            .or_default()
                            .opened(row.id, Some(ts));
                        if rule.actions.iter().any(|a| a == "log") {
                            tracing::warn!(target: "lookout::alert", alert = alert.id, rule = rule.name, host, metric = rule.metric, value, threshold = rule.threshold, level = rule.level, "{}", alert.message);
                        }
                        self.hub.publish(&LiveEvent::AlertTriggered { alert });
                        self.deliveries.notify_one();
                    }
                    None => {
                        tx.rollback().await?;
                        if let Some(id) = store::active_alert(&self.pool, rule.id, host_id).await? {
                            self.series.entry(series_key).or_default().opened(id, None);
                        }
                    }
                }
            }
            Decision::Reopen(id) => {
                match store::reopen_alert(&self.pool, id, value).await {
                    Ok(Some(row)) => {
                        self.series
                            .entry(series_key)
                            .or_default()
                            .opened(row.id, None);
                        tracing::info!(target: "lookout::alert", alert = row.id, rule = rule.name, "Alert re-opened inside its cooldown; no new notification.");
                        self.hub.publish(&LiveEvent::AlertTriggered {
                            alert: row.to_model(),
                        });
                    }
                    // Another instance opened one meanwhile (unique violation) or the alert is gone.
                    Ok(None) | Err(sqlx::Error::Database(_)) => {
                        if let Some(active) =
                            store::active_alert(&self.pool, rule.id, host_id).await?
                        {
                            self.series
                                .entry(series_key)
                                .or_default()
                                .opened(active, None);
                        } else if let Some(series) = self.series.get_mut(&series_key) {
                            series.last_alert = None; // fire afresh on the next value
                        }
                    }
                    Err(error) => return Err(error),
                }
            }
            Decision::Resolve(id) => {
                let mut tx = self.pool.begin().await?;
                let resolved =
                    store::resolve_alert(&mut *tx, id, ts, "the condition cleared", "system")
                        .await?;
                if let Some(row) = &resolved {
                    store::queue_delivery(
                        &mut *tx,
                        row.id,
                        "alert_resolved",
                        rule,
                        &payload("alert_resolved", &row.to_model(), rule),
                    )
                    .await?;
                }
                tx.commit().await?;
                self.series.entry(series_key).or_default().closed();
                if let Some(row) = resolved {
                    tracing::info!(target: "lookout::alert", alert = row.id, rule = rule.name, "Alert resolved: the condition cleared.");
                    self.hub.publish(&LiveEvent::AlertResolved {
                        alert: row.to_model(),
                    });
                    self.deliveries.notify_one();
                }
            }
        }
        Ok(())
    }
}

fn describe(operator: rules::Operator) -> &'static str {
    use rules::Operator::*;
    match operator {
        GreaterThan => "above",
        LessThan => "below",
        GreaterOrEqual => "at or above",
        LessOrEqual => "at or below",
        Equal => "equal to",
        NotEqual => "different from",
    }
}

fn round(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// What a webhook receives.
pub fn payload(event: &str, alert: &Alert, rule: &RuleRow) -> WebhookPayload {
    WebhookPayload {
        event: event.to_owned(),
        alert: alert.clone(),
        rule: WebhookRule {
            id: format!("rule_{}", rule.id),
            name: rule.name.clone(),
        },
        sent_by: "lookout".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::Firing;

    #[test]
    fn firing_counts_every_level_and_names_the_most_severe() {
        let firing = Firing::of_levels(vec![
            ("info".into(), 2),
            ("critical".into(), 1),
            ("warning".into(), 4),
        ]);
        assert_eq!(firing.count, 7);
        assert_eq!(firing.most_severe.as_deref(), Some("critical"));
        assert_eq!(Firing::of_levels(Vec::new()), Firing::default());
        // A level counted at zero is not what fires.
        let only_warning = Firing::of_levels(vec![("critical".into(), 0), ("warning".into(), 1)]);
        assert_eq!(only_warning.most_severe.as_deref(), Some("warning"));
    }
}
