//! SQL for rules, alerts and webhook deliveries.
use super::rules::{Operator, RuleSpec};
use app::models::{Alert, AlertMetadata, AlertRule, AlertSummary, AlertsByLevel};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{FromRow, PgPool, Postgres, Transaction};

const RULE_COLUMNS: &str = "r.id, r.name, r.metric, r.operator, r.threshold, r.level, r.description, r.enabled, r.actions,
    r.webhook_url, r.webhook_secret, r.cooldown_secs, r.for_secs, r.recovery_secs, r.host_id, h.vm_id AS host, r.group_id,
    r.trigger_count, r.last_triggered, r.created_at, r.updated_at";

#[derive(Clone, Debug, FromRow)]
pub struct RuleRow {
    pub id: i64,
    pub name: String,
    pub metric: String,
    pub operator: String,
    pub threshold: f64,
    pub level: String,
    pub description: String,
    pub enabled: bool,
    pub actions: Vec<String>,
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<String>,
    pub cooldown_secs: i32,
    pub for_secs: i32,
    pub recovery_secs: i32,
    pub host_id: Option<i32>,
    pub host: Option<String>,
    pub group_id: Option<String>,
    pub trigger_count: i64,
    pub last_triggered: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl RuleRow {
    pub fn operator(&self) -> Operator {
        // The column's CHECK allows only the long spellings, which always parse.
        Operator::parse(&self.operator).unwrap_or(Operator::GreaterThan)
    }

    pub fn to_model(&self) -> AlertRule {
        AlertRule {
            id: format!("rule_{}", self.id),
            name: self.name.clone(),
            metric: self.metric.clone(),
            operator: self.operator.clone(),
            threshold: self.threshold,
            level: self.level.clone(),
            description: self.description.clone(),
            enabled: self.enabled,
            actions: self.actions.clone(),
            webhook_url: self.webhook_url.clone(),
            cooldown: i64::from(self.cooldown_secs),
            for_secs: i64::from(self.for_secs),
            recovery: i64::from(self.recovery_secs),
            host: self.host.clone(),
            group_id: self.group_id.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
            trigger_count: self.trigger_count,
            last_triggered: self.last_triggered,
        }
    }

    pub fn to_spec(&self) -> RuleSpec {
        RuleSpec {
            name: self.name.clone(),
            metric: self.metric.clone(),
            operator: self.operator(),
            threshold: self.threshold,
            level: self.level.clone(),
            description: self.description.clone(),
            enabled: self.enabled,
            actions: self.actions.clone(),
            webhook_url: self.webhook_url.clone(),
            webhook_secret: self.webhook_secret.clone(),
            cooldown_secs: i64::from(self.cooldown_secs),
            for_secs: i64::from(self.for_secs),
            recovery_secs: i64::from(self.recovery_secs),
            host: self.host.clone(),
            group_id: self.group_id.clone(),
        }
    }
}

/// `rule_12` or `12` → 12.
pub fn parse_id(text: &str, prefix: &str) -> Option<i64> {
    text.strip_prefix(prefix)
        .unwrap_or(text)
        .parse()
        .ok()
        .filter(|id: &i64| *id > 0)
}

pub async fn rules(pool: &PgPool) -> Result<Vec<RuleRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {RULE_COLUMNS} FROM alert_rules r LEFT JOIN hosts h ON h.id = r.host_id ORDER BY r.id")))
        .fetch_all(pool)
        .await
}

pub async fn rule(pool: &PgPool, id: i64) -> Result<Option<RuleRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {RULE_COLUMNS} FROM alert_rules r LEFT JOIN hosts h ON h.id = r.host_id WHERE r.id = $1")))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Inserts (`id` None) or replaces a rule; returns its id. A duplicate name is a unique violation.
pub async fn save_rule(
    pool: &PgPool,
    id: Option<i64>,
    spec: &RuleSpec,
    host_id: Option<i32>,
) -> Result<Option<i64>, sqlx::Error> {
    let values = "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15";
    let sql = match id {
        None => format!(
            "INSERT INTO alert_rules (name, metric, operator, threshold, level, description, enabled, actions, webhook_url,
             webhook_secret, cooldown_secs, for_secs, recovery_secs, host_id, group_id) VALUES ({values}) RETURNING id"
        ),
        Some(_) => "UPDATE alert_rules SET (name, metric, operator, threshold, level, description, enabled, actions, webhook_url,
             webhook_secret, cooldown_secs, for_secs, recovery_secs, host_id, group_id, updated_at) =
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, now()) WHERE id = $16 RETURNING id"
            .to_owned(),
    };
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(&spec.name)
        .bind(&spec.metric)
        .bind(spec.operator.as_str())
        .bind(spec.threshold)
        .bind(&spec.level)
        .bind(&spec.description)
        .bind(spec.enabled)
        .bind(&spec.actions)
        .bind(&spec.webhook_url)
        .bind(&spec.webhook_secret)
        .bind(i32::try_from(spec.cooldown_secs).unwrap_or(i32::MAX))
        .bind(i32::try_from(spec.for_secs).unwrap_or(i32::MAX))
        .bind(i32::try_from(spec.recovery_secs).unwrap_or(i32::MAX))
        .bind(host_id)
        .bind(&spec.group_id)
        .bind(id)
        .fetch_optional(pool)
        .await
}

pub async fn delete_rule(pool: &PgPool, id: i64) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM alert_rules WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?
        .rows_affected()
        == 1)
}

pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.code().as_deref() == Some("23505"))
}

const ALERT_COLUMNS: &str = "a.id, a.rule_id, a.host_id, h.vm_id, a.metric, a.kind, a.level, a.title, a.message, a.value,
    a.threshold, a.status, a.metadata, a.created_at, a.updated_at, a.resolved_at, a.resolution, a.resolved_by, a.notified_at, a.triggered_at";

#[derive(Clone, Debug, FromRow)]
pub struct AlertRow {
    pub id: i64,
    pub rule_id: Option<i64>,
    pub host_id: Option<i32>,
    pub vm_id: Option<String>,
    pub metric: String,
    pub kind: String,
    pub level: String,
    pub title: String,
    pub message: String,
    pub value: f64,
    pub threshold: f64,
    pub status: String,
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution: Option<String>,
    pub resolved_by: Option<String>,
    pub notified_at: DateTime<Utc>,
    pub triggered_at: DateTime<Utc>,
}

impl AlertRow {
    pub fn to_model(&self) -> Alert {
        Alert {
            id: format!("alert_{}", self.id),
            kind: self.kind.clone(),
            level: self.level.clone(),
            title: self.title.clone(),
            message: self.message.clone(),
            value: self.value,
            threshold: self.threshold,
            status: self.status.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
            resolved_at: self.resolved_at,
            metadata: serde_json::from_value::<AlertMetadata>(self.metadata.clone())
                .unwrap_or_default(),
            rule_id: self.rule_id.map(|id| format!("rule_{id}")),
            metric: self.metric.clone(),
            host: self.vm_id.clone(),
            resolution: self.resolution.clone(),
            resolved_by: self.resolved_by.clone(),
        }
    }
}

/// Wraps a statement that returns `alerts` rows (as `a`) so the host's `vmId` comes along.
fn with_host(statement: &str) -> String {
    format!("WITH a AS ({statement}) SELECT {ALERT_COLUMNS} FROM a LEFT JOIN hosts h ON h.id = a.host_id")
}

pub struct NewAlert<'a> {
    pub rule: &'a RuleRow,
    pub host_id: Option<i32>,
    pub value: f64,
    pub at: DateTime<Utc>,
    pub title: String,
    pub message: String,
    pub metadata: Value,
}

/// Opens an alert and counts the trigger on its rule. `None` when another writer (another server
/// instance) already holds the active alert of this rule and host.
pub async fn open_alert(
    tx: &mut Transaction<'_, Postgres>,
    new: &NewAlert<'_>,
) -> Result<Option<AlertRow>, sqlx::Error> {
    let inserted: Option<AlertRow> = sqlx::query_as(sqlx::AssertSqlSafe(with_host(
        "INSERT INTO alerts (rule_id, host_id, metric, kind, level, title, message, value, threshold, metadata, triggered_at, notified_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
         ON CONFLICT (rule_id, coalesce(host_id, 0)) WHERE status = 'active' DO NOTHING RETURNING *",
    )))
    .bind(new.rule.id)
    .bind(new.host_id)
    .bind(&new.rule.metric)
    .bind(super::rules::kind_of(&new.rule.metric))
    .bind(&new.rule.level)
    .bind(&new.title)
    .bind(&new.message)
    .bind(new.value)
    .bind(new.rule.threshold)
    .bind(&new.metadata)
    .bind(new.at)
    .fetch_optional(&mut **tx)
    .await?;
    if inserted.is_some() {
        sqlx::query("UPDATE alert_rules SET trigger_count = trigger_count + 1, last_triggered = $2 WHERE id = $1")
            .bind(new.rule.id)
            .bind(new.at)
            .execute(&mut **tx)
            .await?;
    }
    Ok(inserted)
}

/// The active alert of a rule on a host (after another instance won the race to open it).
pub async fn active_alert(
    pool: &PgPool,
    rule_id: i64,
    host_id: Option<i32>,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM alerts WHERE rule_id = $1 AND coalesce(host_id, 0) = coalesce($2, 0) AND status = 'active'")
        .bind(rule_id)
        .bind(host_id)
        .fetch_optional(pool)
        .await
}

/// Re-opens a resolved alert inside its rule's cooldown.
pub async fn reopen_alert(
    pool: &PgPool,
    id: i64,
    value: f64,
) -> Result<Option<AlertRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(with_host(
        "UPDATE alerts SET status = 'active', resolved_at = NULL, resolution = NULL, resolved_by = NULL, value = $2, updated_at = now()
         WHERE id = $1 AND status = 'resolved' RETURNING *",
    )))
    .bind(id)
    .bind(value)
    .fetch_optional(pool)
    .await
}

/// Resolves an active alert; `None` if it is unknown or already resolved.
pub async fn resolve_alert(
    executor: impl sqlx::PgExecutor<'_>,
    id: i64,
    at: DateTime<Utc>,
    resolution: &str,
    resolved_by: &str,
) -> Result<Option<AlertRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(with_host(
        "UPDATE alerts SET status = 'resolved', resolved_at = $2, resolution = $3, resolved_by = $4, updated_at = now()
         WHERE id = $1 AND status = 'active' RETURNING *",
    )))
    .bind(id)
    .bind(at)
    .bind(resolution)
    .bind(resolved_by)
    .fetch_optional(executor)
    .await
}

pub async fn alert(pool: &PgPool, id: i64) -> Result<Option<AlertRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(with_host(
        "SELECT * FROM alerts WHERE id = $1",
    )))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Per (rule, host) the newest alert: restores the engine's state after a restart.
pub async fn latest_per_series(pool: &PgPool) -> Result<Vec<AlertRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(with_host(
        "SELECT DISTINCT ON (rule_id, coalesce(host_id, 0)) * FROM alerts WHERE rule_id IS NOT NULL
         ORDER BY rule_id, coalesce(host_id, 0), id DESC",
    )))
    .fetch_all(pool)
    .await
}

pub struct AlertFilter<'a> {
    pub level: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub host_id: Option<i32>,
    pub include_resolved: bool,
    pub limit: i64,
    /// The most severe first (by `app::catalog::ALERT_LEVELS`), then the newest — and the
    /// `limit` taken in that order, so a long list cannot leave out an old critical alert.
    /// Otherwise the newest first.
    pub most_severe_first: bool,
}

/// Matching alerts (newest first, or the most severe first), and (status, level, count) over
/// all statuses.
pub async fn list_alerts(
    pool: &PgPool,
    filter: &AlertFilter<'_>,
) -> Result<(Vec<AlertRow>, AlertSummary), sqlx::Error> {
    let matching = "($1::text IS NULL OR level = $1) AND ($2::text IS NULL OR kind = $2) AND ($3::int4 IS NULL OR host_id = $3)";
    // Unknown levels (none are stored: rules check them) would rank last.
    let severity = if filter.most_severe_first {
        "array_position($6::text[], level), "
    } else {
        ""
    };
    let rows: Vec<AlertRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{} ORDER BY {}a.created_at DESC, a.id DESC",
        with_host(&format!("SELECT * FROM alerts WHERE {matching} AND ($4 OR status = 'active') ORDER BY {severity}created_at DESC, id DESC LIMIT $5")),
        severity.replace("level", "a.level")
    )))
    .bind(filter.level)
    .bind(filter.kind)
    .bind(filter.host_id)
    .bind(filter.include_resolved)
    .bind(filter.limit)
    .bind(app::catalog::ALERT_LEVELS.as_slice())
    .fetch_all(pool)
    .await?;
    let counts: Vec<(String, String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT status, level, count(*) FROM alerts WHERE {matching} GROUP BY status, level"
    )))
    .bind(filter.level)
    .bind(filter.kind)
    .bind(filter.host_id)
    .fetch_all(pool)
    .await?;
    Ok((rows, summarise(&counts)))
}

/// The newest resolved alerts of a level and a host (each when given), by when they were resolved.
pub async fn recently_resolved(
    pool: &PgPool,
    level: Option<&str>,
    host_id: Option<i32>,
    limit: i64,
) -> Result<Vec<AlertRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{} ORDER BY a.resolved_at DESC, a.id DESC",
        with_host("SELECT * FROM alerts WHERE status = 'resolved' AND ($1::text IS NULL OR level = $1) AND ($2::int4 IS NULL OR host_id = $2)
                   ORDER BY resolved_at DESC, id DESC LIMIT $3")
    )))
    .bind(level)
    .bind(host_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// The summary of alerts counted by (status, level).
fn summarise(counts: &[(String, String, i64)]) -> AlertSummary {
    let count = |status: Option<&str>, level: Option<&str>| -> i64 {
        counts
            .iter()
            .filter(|(s, l, _)| status.is_none_or(|x| x == s) && level.is_none_or(|x| x == l))
            .map(|c| c.2)
            .sum()
    };
    AlertSummary {
        total: count(None, None),
        active: count(Some("active"), None),
        resolved: count(Some("resolved"), None),
        by_level: AlertsByLevel {
            critical: count(None, Some("critical")),
            warning: count(None, Some("warning")),
            info: count(None, Some("info")),
        },
    }
}

/// Alerts of one host that overlap a time range (for its timeline).
pub async fn of_host(
    pool: &PgPool,
    host_id: i32,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<AlertRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(with_host(
        "SELECT * FROM alerts WHERE host_id = $1 AND triggered_at <= $3 AND coalesce(resolved_at, 'infinity') >= $2",
    )))
    .bind(host_id)
    .bind(start)
    .bind(end)
    .fetch_all(pool)
    .await
}

/// Alert counts by level among alerts raised since `since` (for the summary), optionally of one host.
pub async fn counts_since(
    pool: &PgPool,
    host_id: Option<i32>,
    since: DateTime<Utc>,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT level, count(*) FROM alerts WHERE created_at >= $1 AND ($2::int4 IS NULL OR host_id = $2) GROUP BY level")
        .bind(since)
        .bind(host_id)
        .fetch_all(pool)
        .await
}

/// Active alerts over the fleet by level (every page's top bar).
pub async fn active_by_level(pool: &PgPool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT level, count(*) FROM alerts WHERE status = 'active' GROUP BY level")
        .fetch_all(pool)
        .await
}

/// Queues a webhook delivery in the same transaction as the change it reports.
pub async fn queue_delivery(
    executor: impl sqlx::PgExecutor<'_>,
    alert_id: i64,
    event: &str,
    rule: &RuleRow,
    payload: &app::models::WebhookPayload,
) -> Result<(), sqlx::Error> {
    let (Some(url), Some(secret)) = (&rule.webhook_url, &rule.webhook_secret) else {
        return Ok(());
    };
    if !rule.actions.iter().any(|a| a == "webhook") {
        return Ok(());
    }
    sqlx::query("INSERT INTO webhook_deliveries (alert_id, event, url, secret, payload) VALUES ($1, $2, $3, $4, $5)")
        .bind(alert_id)
        .bind(event)
        .bind(url)
        .bind(secret)
        .bind(sqlx::types::Json(payload))
        .execute(executor)
        .await?;
    Ok(())
}
