//! Performance reports (summary, detailed, custom) over a recent period as JSON, CSV or PDF:
//! figures per resource, a time series, the period's alerts and recommendations drawn from them.
//! Generated in the background from jobs persisted in PostgreSQL, like exports.
pub mod pdf;

use crate::{
    alerts::store as alert_store,
    storage::{
        catalog::{self, Group},
        period,
    },
};
use anyhow::Context;
use app::models::{Alert, ReportCreated, ReportError, ReportStatus};
use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{FromRow, PgPool};
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

pub const KEEP_DAYS: i64 = 7;
const LEASE_SECS: i64 = 60;
const MAX_ATTEMPTS: i32 = 3;
/// Points of the report's time series.
pub const SERIES_POINTS: i64 = 60;
/// Used for `estimated_ready_time` until reports have been timed on this installation.
const DEFAULT_SECONDS_PER_REPORT: f64 = 2.0;

/// A resource a report covers: the `metrics` group that asks for it, its name and label in the
/// report, and the catalogue metric (unit, how a sample gives it) it is figured from.
pub struct Resource {
    pub group: Group,
    pub name: &'static str,
    pub label: &'static str,
    pub metric: i16,
}

pub const RESOURCES: [Resource; 5] = [
    Resource {
        group: Group::Cpu,
        name: "cpu",
        label: "CPU usage",
        metric: catalog::CPU_PERCENT,
    },
    Resource {
        group: Group::Memory,
        name: "memory",
        label: "Memory usage",
        metric: catalog::MEMORY_PERCENT,
    },
    Resource {
        group: Group::Disk,
        name: "disk",
        label: "Disk usage",
        metric: catalog::DISK_PERCENT,
    },
    Resource {
        group: Group::Network,
        name: "network_in",
        label: "Network in",
        metric: catalog::NET_IN_BPS,
    },
    Resource {
        group: Group::Network,
        name: "network_out",
        label: "Network out",
        metric: catalog::NET_OUT_BPS,
    },
];

/// What to report on, fixed when the report is requested.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReportSpec {
    pub kind: String,
    pub period: String,
    pub format: String,
    pub metrics: Vec<String>,
    pub include_alerts: bool,
    pub include_recommendations: bool,
    pub host_id: i32,
    pub vm_id: String,
    pub host_name: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ResourceStats {
    pub name: String,
    pub label: String,
    pub unit: String,
    pub current: Option<f64>,
    pub average: Option<f64>,
    pub maximum: Option<f64>,
    pub minimum: Option<f64>,
    pub p95: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SeriesPoint {
    pub timestamp: DateTime<Utc>,
    pub cpu: Option<f64>,
    pub memory: Option<f64>,
    pub disk: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Recommendation {
    /// scale_up, scale_down or optimize.
    #[serde(rename = "type")]
    pub kind: String,
    pub resource: String,
    pub reason: String,
}

/// Everything a report shows, in every format.
#[derive(Clone, Debug, Serialize)]
pub struct ReportData {
    pub report_id: String,
    pub title: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub period: String,
    pub host: String,
    pub host_name: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub generated_at: DateTime<Utc>,
    pub samples: i64,
    pub resources: Vec<ResourceStats>,
    pub series: Vec<SeriesPoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerts: Option<Vec<Alert>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recommendations: Option<Vec<Recommendation>>,
}

impl ReportData {
    pub fn resource(&self, name: &str) -> Option<&ResourceStats> {
        self.resources.iter().find(|r| r.name == name)
    }
}

pub fn period_of(text: &str) -> Option<Duration> {
    Some(match text {
        "1h" => Duration::hours(1),
        "6h" => Duration::hours(6),
        "24h" => Duration::hours(24),
        "7d" => Duration::days(7),
        _ => return None,
    })
}

/// Recommendations from the figures (thresholds documented in the README).
pub fn recommend(resources: &[ResourceStats], alert_count: usize) -> Vec<Recommendation> {
    let mut out = Vec::new();
    let get = |name: &str| resources.iter().find(|r| r.name == name);
    let mut push = |kind: &str, resource: &str, reason: String| {
        out.push(Recommendation {
            kind: kind.into(),
            resource: resource.into(),
            reason,
        })
    };
    if let Some(cpu) = get("cpu") {
        match (cpu.p95, cpu.maximum) {
            (Some(p95), _) if p95 >= 85.0 => push("scale_up", "cpu", format!("CPU p95 was {p95:.1} % over the period: add vCPUs or move load off this host.")),
            (Some(p95), Some(max)) if p95 < 20.0 && max < 50.0 => {
                push("scale_down", "cpu", format!("CPU p95 was only {p95:.1} % (peak {max:.1} %): this host could run with fewer vCPUs."))
            }
            _ => {}
        }
    }
    if let Some(memory) = get("memory") {
        match memory.p95 {
            Some(p95) if p95 >= 90.0 => push(
                "scale_up",
                "memory",
                format!("Memory p95 was {p95:.1} %: add memory or find what grows."),
            ),
            Some(p95) if p95 < 30.0 => push(
                "scale_down",
                "memory",
                format!("Memory p95 was only {p95:.1} %: memory could be reduced."),
            ),
            _ => {}
        }
    }
    if let Some(current) = get("disk").and_then(|d| d.current) {
        if current >= 85.0 {
            push(
                "scale_up",
                "disk",
                format!(
                    "Disk usage is {current:.1} %: grow the volume or clean up before it fills."
                ),
            );
        }
    }
    if alert_count >= 10 {
        push("optimize", "alerts", format!("{alert_count} alerts in the period: fix the recurring cause or review the rule thresholds."));
    }
    out
}

/// Reads the figures of a report from the database.
pub async fn gather(pool: &PgPool, id: &str, spec: &ReportSpec) -> anyhow::Result<ReportData> {
    let asked: Vec<(&Resource, &catalog::Metric)> = RESOURCES
        .iter()
        .filter(|r| spec.metrics.iter().any(|m| m == r.group.name()))
        .map(|r| catalog::by_id(r.metric).map(|metric| (r, metric)))
        .collect::<Option<_>>()
        .context("a report resource outside the metric catalogue")?;
    let metrics: Vec<&catalog::Metric> = asked.iter().map(|(_, metric)| *metric).collect();
    let width = (spec.end - spec.start) / SERIES_POINTS as i32;
    let figures =
        period::report_figures(pool, spec.host_id, (spec.start, spec.end), &metrics, width).await?;
    if figures.samples == 0 {
        anyhow::bail!(
            "no samples of host `{}` between {} and {}",
            spec.vm_id,
            spec.start.to_rfc3339(),
            spec.end.to_rfc3339()
        );
    }
    let resources: Vec<ResourceStats> = asked
        .iter()
        .zip(&figures.metrics)
        .map(|((resource, metric), figures)| ResourceStats {
            name: resource.name.into(),
            label: resource.label.into(),
            unit: metric.unit.symbol().into(),
            current: figures.newest,
            average: figures.spread.average,
            maximum: figures.spread.maximum,
            minimum: figures.spread.minimum,
            p95: figures.p95,
        })
        .collect();
    let series = figures
        .series
        .iter()
        .map(|&(timestamp, [cpu, memory, disk])| SeriesPoint {
            timestamp,
            cpu,
            memory,
            disk,
        })
        .collect();
    let alerts: Vec<Alert> = alert_store::of_host(pool, spec.host_id, spec.start, spec.end)
        .await?
        .iter()
        .map(alert_store::AlertRow::to_model)
        .collect();
    let recommendations = recommend(&resources, alerts.len());
    Ok(ReportData {
        report_id: id.to_owned(),
        title: format!("Lookout performance report: {}", spec.host_name),
        kind: spec.kind.clone(),
        period: spec.period.clone(),
        host: spec.vm_id.clone(),
        host_name: spec.host_name.clone(),
        start: spec.start,
        end: spec.end,
        generated_at: Utc::now(),
        samples: figures.samples,
        resources,
        series,
        alerts: spec.include_alerts.then_some(alerts),
        recommendations: spec.include_recommendations.then_some(recommendations),
    })
}

fn number(value: Option<f64>) -> String {
    value.map(|v| format!("{:.2}", v)).unwrap_or_default()
}

/// The report as CSV: one section per block, each with its own header row; free text (file
/// systems, units, alert titles, reasons) never as a formula.
pub fn csv(data: &ReportData) -> anyhow::Result<Vec<u8>> {
    use crate::spreadsheet::text;
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    writer.write_record([
        "section", "resource", "unit", "current", "average", "maximum", "minimum", "p95",
    ])?;
    for r in &data.resources {
        writer.write_record([
            "resource",
            &text(&r.name),
            &text(&r.unit),
            &number(r.current),
            &number(r.average),
            &number(r.maximum),
            &number(r.minimum),
            &number(r.p95),
        ])?;
    }
    if data.kind == "detailed" {
        writer.write_record(["section", "timestamp", "cpu", "memory", "disk"])?;
        for p in &data.series {
            writer.write_record([
                "series",
                &p.timestamp.to_rfc3339(),
                &number(p.cpu),
                &number(p.memory),
                &number(p.disk),
            ])?;
        }
    }
    if let Some(alerts) = &data.alerts {
        writer.write_record([
            "section",
            "created_at",
            "level",
            "type",
            "title",
            "value",
            "threshold",
            "status",
        ])?;
        for a in alerts {
            writer.write_record([
                "alert",
                &a.created_at.to_rfc3339(),
                &a.level,
                &a.kind,
                &text(&a.title),
                &number(Some(a.value)),
                &number(Some(a.threshold)),
                &a.status,
            ])?;
        }
    }
    if let Some(recommendations) = &data.recommendations {
        writer.write_record(["section", "type", "resource", "reason"])?;
        for r in recommendations {
            writer.write_record([
                "recommendation",
                &r.kind,
                &text(&r.resource),
                &text(&r.reason),
            ])?;
        }
    }
    writer
        .into_inner()
        .map_err(|e| anyhow::anyhow!("cannot finish the CSV: {e}"))
}

#[derive(Debug, FromRow)]
pub struct ReportRow {
    pub id: String,
    pub status: String,
    pub spec: Value,
    pub format: String,
    pub filename: String,
    pub file_path: Option<String>,
    pub file_size: Option<i64>,
    pub error_message: Option<String>,
    pub attempts: i32,
    pub lease_until: Option<DateTime<Utc>>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub estimated_ready_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl ReportRow {
    pub fn to_status(&self) -> ReportStatus {
        ReportStatus {
            report_id: self.id.clone(),
            status: self.status.clone(),
            format: self.format.clone(),
            filename: self.filename.clone(),
            download_url: self.download_url(),
            estimated_ready_time: self.estimated_ready_at,
            created_at: self.created_at,
            started_at: self.started_at,
            completed_at: self.completed_at,
            expires_at: self.expires_at,
            file_size: self.file_size,
            error: (self.status == "failed").then(|| ReportError {
                code: "REPORT_GENERATION_FAILED".into(),
                message: self.error_message.clone(),
            }),
        }
    }

    /// What `POST /reports` answers.
    pub fn to_created(&self) -> ReportCreated {
        ReportCreated {
            report_id: self.id.clone(),
            download_url: self.download_url(),
            estimated_ready_time: self.estimated_ready_at,
            status: self.status.clone(),
        }
    }

    fn download_url(&self) -> String {
        format!("/api/v1/performance/reports/{}/download", self.id)
    }

    pub fn content_type(&self) -> &'static str {
        match self.format.as_str() {
            "pdf" => "application/pdf",
            "csv" => "text/csv; charset=utf-8",
            _ => "application/json",
        }
    }
}

pub async fn report(pool: &PgPool, id: &str) -> Result<Option<ReportRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM reports WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// The newest reports `created_by` asked for that have not expired, newest first.
pub async fn recent(
    pool: &PgPool,
    created_by: &str,
    limit: i64,
) -> Result<Vec<ReportRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT * FROM reports WHERE created_by = $1 AND coalesce(expires_at, 'infinity') > now()
         ORDER BY created_at DESC LIMIT $2",
    )
    .bind(created_by)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// When a new report will be ready: the reports queued before it plus itself, at the average
/// time of the last 20 reports here (2 s until there is a history).
async fn estimate_ready(pool: &PgPool) -> Result<DateTime<Utc>, sqlx::Error> {
    let (queued, seconds): (i64, Option<f64>) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM reports WHERE status IN ('pending', 'processing')),
                (SELECT avg(extract(epoch FROM completed_at - started_at))::float8 FROM
                    (SELECT completed_at, started_at FROM reports WHERE status = 'completed' ORDER BY completed_at DESC LIMIT 20) recent)",
    )
    .fetch_one(pool)
    .await?;
    let each = seconds.unwrap_or(DEFAULT_SECONDS_PER_REPORT).max(0.1);
    Ok(Utc::now() + Duration::milliseconds(((queued + 1) as f64 * each * 1000.0) as i64))
}

/// A report as asked for, checked by the handler: the period ends when it is queued.
pub struct Request {
    pub kind: String,
    pub period: String,
    pub length: Duration,
    pub format: String,
    /// Names of [`Group`]s.
    pub metrics: Vec<String>,
    pub include_alerts: bool,
    pub include_recommendations: bool,
}

/// A report as a caller asks for it, before it is checked: absent fields take their defaults
/// (a summary of the last 24 hours as JSON, every resource, with alerts and recommendations).
#[derive(Debug, Default)]
pub struct Asked<'a> {
    pub kind: Option<&'a str>,
    pub period: Option<&'a str>,
    pub format: Option<&'a str>,
    pub metrics: Option<&'a [String]>,
    pub include_alerts: Option<bool>,
    pub include_recommendations: Option<bool>,
}

impl Asked<'_> {
    /// The checked request, or what is wrong with it (naming the field). The host is resolved
    /// by the caller after this, so a request wrong in both says what is wrong with its fields.
    pub fn check(&self) -> Result<Request, String> {
        let kind = self.kind.unwrap_or("summary");
        if !["summary", "detailed", "custom"].contains(&kind) {
            return Err(format!(
                "`type` must be summary, detailed or custom, got `{kind}`"
            ));
        }
        let period = self.period.unwrap_or("24h");
        let length = period_of(period)
            .ok_or_else(|| format!("`period` must be 1h, 6h, 24h or 7d, got `{period}`"))?;
        let format = self.format.unwrap_or("json");
        if !["json", "csv", "pdf"].contains(&format) {
            return Err(format!("`format` must be json, csv or pdf, got `{format}`"));
        }
        let metrics: Vec<String> = match self.metrics {
            None if kind == "custom" => {
                return Err("a custom report needs `metrics` (cpu, memory, disk, network)".into())
            }
            None => Group::ALL.map(|g| g.name().to_owned()).to_vec(),
            Some(list) => {
                if let Some(bad) = list.iter().find(|m| Group::parse(m).is_none()) {
                    return Err(format!(
                        "unknown metric `{bad}` in `metrics`; use cpu, memory, disk, network"
                    ));
                }
                if list.is_empty() {
                    return Err("`metrics` is empty".into());
                }
                list.to_vec()
            }
        };
        Ok(Request {
            kind: kind.into(),
            period: period.into(),
            length,
            format: format.into(),
            metrics,
            include_alerts: self.include_alerts.unwrap_or(true),
            include_recommendations: self.include_recommendations.unwrap_or(true),
        })
    }
}

/// Queues `request` on `host_id` for `created_by`: its id and file name, the period ending now,
/// and when it should be ready. `None`: the host is gone.
pub async fn queue(
    pool: &PgPool,
    host_id: i32,
    request: Request,
    created_by: &str,
) -> Result<Option<ReportRow>, sqlx::Error> {
    let Some(host) = crate::storage::hosts::by_id(pool, host_id).await? else {
        return Ok(None);
    };
    let now = Utc::now();
    let id = format!(
        "report_{}_{}",
        now.format("%Y%m%d"),
        rand::thread_rng()
            .sample_iter(&rand::distributions::Alphanumeric)
            .take(10)
            .map(char::from)
            .collect::<String>()
            .to_lowercase()
    );
    let filename = format!(
        "lookout-report-{}-{}-{}.{}",
        request.kind,
        request.period,
        now.format("%Y%m%d-%H%M%S"),
        request.format
    );
    let spec = ReportSpec {
        kind: request.kind,
        period: request.period,
        format: request.format,
        metrics: request.metrics,
        include_alerts: request.include_alerts,
        include_recommendations: request.include_recommendations,
        host_id: host.id,
        vm_id: host.vm_id,
        host_name: host.name,
        start: now - request.length,
        end: now,
    };
    let ready = estimate_ready(pool).await?;
    create(pool, &id, &spec, &filename, created_by, ready)
        .await
        .map(Some)
}

async fn create(
    pool: &PgPool,
    id: &str,
    spec: &ReportSpec,
    filename: &str,
    created_by: &str,
    ready: DateTime<Utc>,
) -> Result<ReportRow, sqlx::Error> {
    let spec_json = serde_json::to_value(spec).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query_as(
        "INSERT INTO reports (id, spec, format, filename, created_by, estimated_ready_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
    )
    .bind(id)
    .bind(spec_json)
    .bind(&spec.format)
    .bind(filename)
    .bind(created_by)
    .bind(ready)
    .fetch_one(pool)
    .await
}

/// Report jobs for [`crate::jobs::run`]: generates queued reports one at a time (their lease
/// renewed while they are generated), and removes expired ones before each.
pub struct Reports {
    pub pool: PgPool,
    pub dir: PathBuf,
}

impl crate::jobs::Queue for Reports {
    const NAME: &'static str = "report";
    const UPKEEP_EVERY: Option<std::time::Duration> = Some(std::time::Duration::ZERO);

    async fn step(&self, _: &CancellationToken) -> anyhow::Result<crate::jobs::Step> {
        let claimed = claim(&self.pool).await.context("cannot read report jobs")?;
        Ok(match claimed {
            Some(row) => {
                produce(&self.pool, &self.dir, &row).await;
                crate::jobs::Step::Worked
            }
            None => crate::jobs::Step::Idle(None),
        })
    }

    async fn upkeep(&self) -> anyhow::Result<()> {
        remove_expired(&self.pool)
            .await
            .context("cannot remove expired reports")?;
        Ok(())
    }
}

/// Generates a claimed report and records the outcome; a report that cannot be recorded is
/// redone when its lease ends.
#[tracing::instrument(skip_all, fields(report = %row.id, attempt = row.attempts))]
async fn produce(pool: &PgPool, dir: &std::path::Path, row: &ReportRow) {
    let outcome = if row.attempts > MAX_ATTEMPTS {
        Err(anyhow::anyhow!("gave up after {MAX_ATTEMPTS} attempts"))
    } else {
        crate::jobs::keep_leased(
            generate(pool, dir, row),
            std::time::Duration::from_secs(LEASE_SECS as u64 / 3),
            || renew_lease(pool, &row.id),
        )
        .await
    };
    let recorded = match outcome {
        Ok((path, size)) => sqlx::query(
            "UPDATE reports SET status = 'completed', file_path = $2, file_size = $3, completed_at = now(),
             expires_at = now() + make_interval(days => $4), lease_until = NULL WHERE id = $1",
        )
        .bind(&row.id)
        .bind(path)
        .bind(size)
        .bind(KEEP_DAYS as i32)
        .execute(pool)
        .await,
        Err(error) => {
            tracing::warn!(error = format!("{error:#}"), "Report generation failed.");
            sqlx::query("UPDATE reports SET status = 'failed', error_message = $2, completed_at = now(), lease_until = NULL WHERE id = $1")
                .bind(&row.id)
                .bind(format!("{error:#}"))
                .execute(pool)
                .await
        }
    };
    if let Err(error) = recorded {
        tracing::warn!(%error, "Cannot record a report's outcome; it is redone when its lease ends.");
    }
}

/// Extends the lease of a report being generated, so no other worker takes it over.
async fn renew_lease(pool: &PgPool, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE reports SET lease_until = now() + interval '{LEASE_SECS} seconds' WHERE id = $1 AND status = 'processing'"
    )))
    .bind(id)
    .execute(pool)
    .await
    .map(drop)
}

async fn claim(pool: &PgPool) -> Result<Option<ReportRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE reports SET status = 'processing', started_at = now(), attempts = attempts + 1, lease_until = now() + interval '{LEASE_SECS} seconds'
         WHERE id = (SELECT id FROM reports WHERE status = 'pending' OR (status = 'processing' AND lease_until < now())
                     ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING *"
    )))
    .fetch_optional(pool)
    .await
}

async fn generate(
    pool: &PgPool,
    dir: &std::path::Path,
    row: &ReportRow,
) -> anyhow::Result<(String, i64)> {
    let spec: ReportSpec =
        serde_json::from_value(row.spec.clone()).context("stored report spec")?;
    let data = gather(pool, &row.id, &spec).await?;
    let format = spec.format.clone();
    let bytes = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<u8>> {
        match format.as_str() {
            "pdf" => pdf::render(&data),
            "csv" => csv(&data),
            _ => Ok(serde_json::to_vec_pretty(&data)?),
        }
    })
    .await
    .context("report renderer")??;
    tokio::fs::create_dir_all(dir)
        .await
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join(&row.filename);
    tokio::fs::write(&path, &bytes)
        .await
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok((path.to_string_lossy().into_owned(), bytes.len() as i64))
}

async fn remove_expired(pool: &PgPool) -> Result<usize, sqlx::Error> {
    let paths: Vec<Option<String>> =
        sqlx::query_scalar("DELETE FROM reports WHERE expires_at <= now() RETURNING file_path")
            .fetch_all(pool)
            .await?;
    for path in paths.iter().flatten() {
        let _ = tokio::fs::remove_file(path).await;
    }
    Ok(paths.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(name: &str, current: f64, p95: f64, max: f64) -> ResourceStats {
        ResourceStats {
            name: name.into(),
            label: name.into(),
            unit: "%".into(),
            current: Some(current),
            average: Some(p95 - 5.0),
            maximum: Some(max),
            minimum: Some(0.0),
            p95: Some(p95),
        }
    }

    #[test]
    fn the_csv_never_writes_free_text_as_a_formula() {
        let now = Utc::now();
        let alert = Alert {
            id: "alert_1".into(),
            kind: "cpu".into(),
            level: "warning".into(),
            // A rule's name is typed by a user and becomes its alerts' title.
            title: "=HYPERLINK(\"http://x\")".into(),
            message: String::new(),
            value: 91.0,
            threshold: -5.0,
            status: "active".into(),
            created_at: now,
            updated_at: now,
            resolved_at: None,
            metadata: Default::default(),
            rule_id: None,
            metric: "cpu.usagePercent".into(),
            host: None,
            resolution: None,
            resolved_by: None,
        };
        let data = ReportData {
            report_id: "report_1".into(),
            title: String::new(),
            kind: "summary".into(),
            period: "1h".into(),
            host: "web-01".into(),
            host_name: "web-01".into(),
            start: now,
            end: now,
            generated_at: now,
            samples: 1,
            resources: vec![stats("@mount", 50.0, 60.0, 70.0)],
            series: Vec::new(),
            alerts: Some(vec![alert]),
            recommendations: None,
        };
        let text = String::from_utf8(csv(&data).expect("CSV")).expect("UTF-8");
        assert!(text.contains("resource,'@mount,%,50.00"), "{text}");
        assert!(
            text.contains(r#","'=HYPERLINK(""http://x"")",91.00,-5.00,"#),
            "{text}"
        );
    }

    #[test]
    fn recommendations_follow_the_documented_thresholds() {
        let busy = [
            stats("cpu", 90.0, 92.0, 99.0),
            stats("memory", 50.0, 60.0, 70.0),
            stats("disk", 88.0, 88.0, 88.0),
        ];
        let kinds: Vec<(String, String)> = recommend(&busy, 12)
            .into_iter()
            .map(|r| (r.kind, r.resource))
            .collect();
        assert_eq!(
            kinds,
            [
                ("scale_up", "cpu"),
                ("scale_up", "disk"),
                ("optimize", "alerts")
            ]
            .map(|(k, r)| (k.to_owned(), r.to_owned()))
            .to_vec()
        );
        let idle = [
            stats("cpu", 5.0, 12.0, 30.0),
            stats("memory", 20.0, 25.0, 28.0),
        ];
        let idle = recommend(&idle, 0);
        assert_eq!(
            idle.iter().map(|r| r.kind.as_str()).collect::<Vec<_>>(),
            ["scale_down", "scale_down"]
        );
        assert!(idle[0].reason.contains("12.0 %"), "{}", idle[0].reason);
        let normal = [
            stats("cpu", 50.0, 60.0, 80.0),
            stats("memory", 50.0, 60.0, 70.0),
        ];
        assert!(recommend(&normal, 3).is_empty());
    }
}
