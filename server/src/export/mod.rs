//! Asynchronous exports of history to CSV, XLSX or JSON: jobs persisted in PostgreSQL, claimed
//! with a lease (`FOR UPDATE SKIP LOCKED`), written page by page from the database to a file,
//! with progress, and deleted with their file 7 days after completion.
pub mod format;
pub mod tasks;
pub mod writer;

use crate::storage::hosts::HostRef;
use crate::{
    history::{self, Aggregation, Func, Point, Query},
    storage::catalog::Group,
};
use anyhow::Context;
use app::models::{
    ExportTask, ExportTaskError, ExportTaskProgress, ExportTaskQuery, ExportTaskResult,
};
use chrono::{DateTime, Utc};
use format::{DateFormat, FileFormat, NumberFormat};
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{FromRow, PgPool};
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;
use writer::{Layout, RowWriter};

/// The seed's limit on records per export.
pub const MAX_RECORDS: i64 = 100_000;
pub const KEEP_DAYS: i64 = 7;
/// Points read from the database per page (and progress updates per job).
const PAGE: i64 = 5_000;
/// A job whose server stops renewing this lease is taken over by another worker (or a restart).
const LEASE_SECS: i64 = 60;
const MAX_ATTEMPTS: i32 = 3;

/// Everything a worker needs to produce the file, fixed when the job is created.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExportSpec {
    pub hosts: Vec<HostRef>,
    pub groups: Vec<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub aggregation: String,
    pub func: String,
    pub format: FileFormat,
    pub columns: Vec<String>,
    pub include_headers: bool,
    pub timezone: String,
    pub date: DateFormat,
    pub number: NumberFormat,
}

impl ExportSpec {
    /// The history query it runs, at page `page`.
    pub fn query(&self, page: i64, page_size: i64) -> anyhow::Result<Query> {
        Ok(Query {
            hosts: self.hosts.clone(),
            groups: self.groups.iter().filter_map(|g| Group::parse(g)).collect(),
            start: self.start,
            end: self.end,
            aggregation: Aggregation::parse(&self.aggregation).context("stored aggregation")?,
            func: Func::parse(&self.func).context("stored aggregation function")?,
            page,
            page_size,
        })
    }

    fn layout(&self) -> anyhow::Result<Layout> {
        Ok(Layout {
            columns: self.columns.clone(),
            include_headers: self.include_headers,
            timezone: self
                .timezone
                .parse()
                .map_err(|e| anyhow::anyhow!("stored time zone: {e}"))?,
            date: self.date.clone(),
            number: self.number.clone(),
        })
    }
}

#[derive(Debug, FromRow)]
pub struct JobRow {
    pub id: String,
    pub status: String,
    pub spec: Value,
    pub format: String,
    pub filename: String,
    pub vm_count: i32,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub aggregation: String,
    pub total: i64,
    pub processed: i64,
    pub file_path: Option<String>,
    pub file_size: Option<i64>,
    pub record_count: Option<i64>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub attempts: i32,
    pub lease_until: Option<DateTime<Utc>>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl JobRow {
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// What the exports page shows.
    pub fn to_progress(&self) -> app::models::ExportProgress {
        app::models::ExportProgress {
            id: self.id.clone(),
            status: self.status.clone(),
            filename: self.filename.clone(),
            processed: self.processed,
            total: self.total,
            percentage: self.percentage(),
            file_url: (self.status == "completed").then(|| self.download_url()),
            error: self.error_message.clone(),
        }
    }

    fn download_url(&self) -> String {
        format!("/api/v1/history/export/{}/download", self.id)
    }

    fn percentage(&self) -> i64 {
        if self.status == "completed" {
            100
        } else if self.total > 0 {
            (self.processed * 100 / self.total).min(99)
        } else {
            0
        }
    }

    /// The seed's `ExportTask`.
    pub fn to_task(&self) -> ExportTask {
        ExportTask {
            id: self.id.clone(),
            status: self.status.clone(),
            query: ExportTaskQuery {
                vm_count: self.vm_count,
                start_time: self.start_time,
                end_time: self.end_time,
                aggregation: self.aggregation.clone(),
            },
            format: self.format.clone(),
            filename: self.filename.clone(),
            progress: ExportTaskProgress {
                total: self.total,
                processed: self.processed,
                percentage: self.percentage(),
            },
            created_at: self.created_at,
            created_by: self.created_by.clone(),
            started_at: self.started_at,
            completed_at: self.completed_at,
            result: (self.status == "completed").then(|| ExportTaskResult {
                file_url: self.download_url(),
                file_size: self.file_size,
                record_count: self.record_count,
                expires_at: self.expires_at,
            }),
            error: (self.status == "failed").then(|| ExportTaskError {
                code: self.error_code.clone(),
                message: self.error_message.clone(),
            }),
        }
    }
}

pub async fn job(pool: &PgPool, id: &str) -> Result<Option<JobRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM export_jobs WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// A user's newest exports that have not expired, newest first.
pub async fn recent(
    pool: &PgPool,
    created_by: &str,
    limit: i64,
) -> Result<Vec<JobRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT * FROM export_jobs WHERE created_by = $1 AND (expires_at IS NULL OR expires_at > now())
         ORDER BY created_at DESC LIMIT $2",
    )
    .bind(created_by)
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub struct NewJob<'a> {
    pub id: &'a str,
    pub spec: &'a ExportSpec,
    pub filename: &'a str,
    pub total: i64,
    pub created_by: &'a str,
}

pub async fn create(pool: &PgPool, new: &NewJob<'_>) -> Result<JobRow, sqlx::Error> {
    let spec = serde_json::to_value(new.spec).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query_as(
        "INSERT INTO export_jobs (id, spec, format, filename, vm_count, start_time, end_time, aggregation, total, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *",
    )
    .bind(new.id)
    .bind(spec)
    .bind(new.spec.format.name())
    .bind(new.filename)
    .bind(new.spec.hosts.len() as i32)
    .bind(new.spec.start)
    .bind(new.spec.end)
    .bind(&new.spec.aggregation)
    .bind(new.total)
    .bind(new.created_by)
    .fetch_one(pool)
    .await
}

/// Export jobs for [`crate::jobs::run`]: writes queued files one at a time, and removes expired
/// ones before each.
pub struct Exports {
    pub pool: PgPool,
    pub dir: PathBuf,
}

impl crate::jobs::Queue for Exports {
    const NAME: &'static str = "export";
    const UPKEEP_EVERY: Option<std::time::Duration> = Some(std::time::Duration::ZERO);

    async fn step(&self, shutdown: &CancellationToken) -> anyhow::Result<crate::jobs::Step> {
        let claimed = claim(&self.pool).await.context("cannot read export jobs")?;
        Ok(match claimed {
            Some(job) => {
                run(&self.pool, &self.dir, job, shutdown).await;
                crate::jobs::Step::Worked
            }
            None => crate::jobs::Step::Idle(None),
        })
    }

    async fn upkeep(&self) -> anyhow::Result<()> {
        remove_expired(&self.pool)
            .await
            .context("cannot remove expired exports")?;
        Ok(())
    }
}

async fn claim(pool: &PgPool) -> Result<Option<JobRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE export_jobs SET status = 'processing', started_at = coalesce(started_at, now()), processed = 0,
                attempts = attempts + 1, lease_until = now() + interval '{LEASE_SECS} seconds'
         WHERE id = (SELECT id FROM export_jobs WHERE status = 'pending' OR (status = 'processing' AND lease_until < now())
                     ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING *"
    )))
    .fetch_optional(pool)
    .await
}

enum Ended {
    Done {
        records: i64,
    },
    /// The server is stopping: the job goes back to the queue.
    Interrupted,
}

#[tracing::instrument(skip_all, fields(export = %job.id, attempt = job.attempts))]
async fn run(pool: &PgPool, dir: &std::path::Path, job: JobRow, shutdown: &CancellationToken) {
    let part = dir.join(format!("{}.part", job.id));
    let outcome = if job.attempts > MAX_ATTEMPTS {
        Err(anyhow::anyhow!("gave up after {MAX_ATTEMPTS} attempts"))
    } else {
        write(pool, &part, &job, shutdown).await
    };
    let result = match outcome {
        Ok(Ended::Done { records }) => finish(pool, dir, &part, &job, records).await,
        Ok(Ended::Interrupted) => {
            let _ = tokio::fs::remove_file(&part).await;
            tracing::info!(
                export = job.id,
                "Export interrupted by shutdown; it resumes on the next start."
            );
            sqlx::query("UPDATE export_jobs SET status = 'pending', lease_until = NULL, processed = 0 WHERE id = $1")
                .bind(&job.id)
                .execute(pool)
                .await
                .map(|_| ())
                .map_err(anyhow::Error::from)
        }
        Err(error) => {
            let _ = tokio::fs::remove_file(&part).await;
            tracing::error!(
                export = job.id,
                error = format!("{error:#}"),
                "Export failed."
            );
            sqlx::query("UPDATE export_jobs SET status = 'failed', error_code = 'EXPORT_FAILED', error_message = $2, completed_at = now(), lease_until = NULL WHERE id = $1")
                .bind(&job.id)
                .bind(format!("{error:#}"))
                .execute(pool)
                .await
                .map(|_| ())
                .map_err(anyhow::Error::from)
        }
    };
    if let Err(error) = result {
        // The lease runs out and the job is redone: never lost.
        tracing::warn!(
            export = job.id,
            error = format!("{error:#}"),
            "Cannot record an export's outcome."
        );
    }
}

async fn write(
    pool: &PgPool,
    part: &std::path::Path,
    job: &JobRow,
    shutdown: &CancellationToken,
) -> anyhow::Result<Ended> {
    let spec: ExportSpec =
        serde_json::from_value(job.spec.clone()).context("stored export spec")?;
    let layout = spec.layout()?;
    if let Some(dir) = part.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut writer = RowWriter::create(part, spec.format, &layout)?;
    let mut records = 0i64;
    let mut values = Vec::with_capacity(layout.columns.len());
    let mut write_point = |point: &Point, writer: &mut RowWriter| -> anyhow::Result<()> {
        values.clear();
        values.extend(layout.columns.iter().map(|c| point.value(c)));
        writer.write(&layout, point.timestamp, &point.vm_id, &values)
    };
    let query = spec.query(1, PAGE)?;
    if let Some((sql, scale)) = history::sample_statement(&query) {
        // Raw and minute buckets: one statement, rows streamed from the server as they come.
        let metrics = history::selected_metrics(&query.groups);
        let ids = history::host_ids(&query);
        let statement = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&ids)
            .bind(query.start)
            .bind(query.end);
        let statement = match query.aggregation.width() {
            Some(width) => statement.bind(width),
            None => statement,
        };
        let mut rows = statement.fetch(pool);
        while let Some(row) = rows.try_next().await? {
            if records >= MAX_RECORDS {
                break;
            }
            let point = history::sample_point(&row, &metrics, &query, scale)
                .map_err(|e| anyhow::anyhow!("reading history: {e}"))?;
            write_point(&point, &mut writer)?;
            records += 1;
            if records % PAGE == 0 {
                if shutdown.is_cancelled() {
                    return Ok(Ended::Interrupted);
                }
                progress(pool, &job.id, records).await?;
            }
        }
    } else {
        // Rollup tiers: page by page (each page is one primary-key range scan per host).
        let mut page = 1;
        loop {
            if shutdown.is_cancelled() {
                return Ok(Ended::Interrupted);
            }
            let (points, _) = history::points(pool, &spec.query(page, PAGE)?)
                .await
                .map_err(|e| anyhow::anyhow!("reading history: {e}"))?;
            for point in points
                .iter()
                .take(usize::try_from(MAX_RECORDS - records).unwrap_or(0))
            {
                write_point(point, &mut writer)?;
                records += 1;
            }
            progress(pool, &job.id, records).await?;
            if (points.len() as i64) < PAGE || records >= MAX_RECORDS {
                break;
            }
            page += 1;
        }
    }
    tokio::task::spawn_blocking(move || writer.finish())
        .await
        .context("export writer task")??;
    Ok(Ended::Done { records })
}

/// Progress doubles as the lease renewal.
async fn progress(pool: &PgPool, id: &str, records: i64) -> Result<(), sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE export_jobs SET processed = $2, total = greatest(total, $2), lease_until = now() + interval '{LEASE_SECS} seconds' WHERE id = $1"
    )))
    .bind(id)
    .bind(records)
    .execute(pool)
    .await?;
    Ok(())
}

async fn finish(
    pool: &PgPool,
    dir: &std::path::Path,
    part: &std::path::Path,
    job: &JobRow,
    records: i64,
) -> anyhow::Result<()> {
    let format = FileFormat::parse(&job.format).context("stored format")?;
    let path = dir.join(format!("{}.{}", job.id, format.extension()));
    tokio::fs::rename(part, &path)
        .await
        .with_context(|| format!("cannot move the export to {}", path.display()))?;
    let size = tokio::fs::metadata(&path).await?.len();
    sqlx::query(
        "UPDATE export_jobs SET status = 'completed', processed = $2, total = $2, record_count = $2, file_path = $3, file_size = $4,
                completed_at = now(), expires_at = now() + make_interval(days => $5), lease_until = NULL
         WHERE id = $1",
    )
    .bind(&job.id)
    .bind(records)
    .bind(path.to_string_lossy().into_owned())
    .bind(size as i64)
    .bind(KEEP_DAYS as i32)
    .execute(pool)
    .await?;
    tracing::info!(export = job.id, records, bytes = size, "Export completed.");
    Ok(())
}

/// Deletes expired jobs and their files.
pub async fn remove_expired(pool: &PgPool) -> Result<usize, sqlx::Error> {
    let paths: Vec<Option<String>> =
        sqlx::query_scalar("DELETE FROM export_jobs WHERE expires_at <= now() RETURNING file_path")
            .fetch_all(pool)
            .await?;
    for path in paths.iter().flatten() {
        if let Err(error) = tokio::fs::remove_file(path).await {
            if error.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(%error, path, "Cannot remove an expired export file.");
            }
        }
    }
    if !paths.is_empty() {
        tracing::info!(count = paths.len(), "Expired exports removed.");
    }
    Ok(paths.len())
}

#[cfg(test)]
mod task_tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("time")
    }

    fn row(status: &str) -> JobRow {
        JobRow {
            id: "export_20260203_001".into(),
            status: status.into(),
            spec: Value::Null,
            format: "excel".into(),
            filename: "vm_monitoring_data_feb2026.xlsx".into(),
            vm_count: 2,
            start_time: at("2026-02-01T00:00:00Z"),
            end_time: at("2026-02-03T23:59:59Z"),
            aggregation: "1h".into(),
            total: 144,
            processed: 144,
            file_path: None,
            file_size: Some(24576),
            record_count: Some(144),
            error_code: Some("EXPORT_FAILED".into()),
            error_message: Some("disk full".into()),
            attempts: 1,
            lease_until: None,
            created_by: "admin".into(),
            created_at: at("2026-02-03T13:00:00Z"),
            started_at: Some(at("2026-02-03T13:00:05Z")),
            completed_at: Some(at("2026-02-03T13:00:30Z")),
            expires_at: Some(at("2026-02-10T13:00:00Z")),
        }
    }

    #[test]
    fn a_completed_task_is_the_seeds_example_and_a_failed_one_says_why() {
        let completed = serde_json::to_value(row("completed").to_task()).expect("json");
        assert_eq!(
            completed,
            serde_json::json!({
                "id": "export_20260203_001",
                "status": "completed",
                "query": {"vmCount": 2, "startTime": "2026-02-01T00:00:00Z", "endTime": "2026-02-03T23:59:59Z", "aggregation": "1h"},
                "format": "excel",
                "filename": "vm_monitoring_data_feb2026.xlsx",
                "progress": {"total": 144, "processed": 144, "percentage": 100},
                "result": {
                    "fileUrl": "/api/v1/history/export/export_20260203_001/download",
                    "fileSize": 24576,
                    "recordCount": 144,
                    "expiresAt": "2026-02-10T13:00:00Z"
                },
                "createdAt": "2026-02-03T13:00:00Z",
                "createdBy": "admin",
                "startedAt": "2026-02-03T13:00:05Z",
                "completedAt": "2026-02-03T13:00:30Z"
            })
        );
        let mut pending = row("pending");
        (pending.processed, pending.started_at, pending.completed_at) = (0, None, None);
        let pending = serde_json::to_value(pending.to_task()).expect("json");
        assert_eq!(pending["progress"]["percentage"], 0);
        for absent in ["startedAt", "completedAt", "result", "error"] {
            assert!(pending.get(absent).is_none(), "{absent}: {pending}");
        }
        let failed = serde_json::to_value(row("failed").to_task()).expect("json");
        assert_eq!(
            failed["error"],
            serde_json::json!({"code": "EXPORT_FAILED", "message": "disk full"})
        );
        assert!(failed.get("result").is_none());
    }
}
