//! Creating and reading export tasks: the checks, the count before any work and the queueing,
//! the same for the REST API and the exports page.
use super::{
    format::{columns, sanitize_filename, DateFormat, FileFormat, NumberFormat},
    ExportSpec, JobRow, NewJob, KEEP_DAYS, MAX_RECORDS,
};
use crate::storage::hosts::HostRef;
use crate::{
    history::{self, Aggregation, Func, Query, QueryError},
    storage::catalog::Group,
};
use chrono::{DateTime, Utc};
use rand::{distributions::Alphanumeric, Rng};
use sqlx::PgPool;
use tokio::sync::Notify;

/// An export to queue, with its hosts resolved and its range checked.
pub struct Order {
    pub hosts: Vec<HostRef>,
    pub groups: Vec<Group>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub aggregation: Aggregation,
    pub func: Func,
    pub format: FileFormat,
    /// Columns such as `cpu.usagePercent`; `None` = every column of the groups.
    pub fields: Option<Vec<String>>,
    pub filename: Option<String>,
    pub include_headers: bool,
    pub timezone: String,
    pub date_format: String,
    pub number_format: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error(transparent)]
    Query(#[from] QueryError),
    /// Unknown or expired (the seed's `404-EXPORT`).
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
}

impl From<sqlx::Error> for TaskError {
    fn from(error: sqlx::Error) -> Self {
        TaskError::Query(QueryError::Database(error))
    }
}

/// Checks an order, counts its records (refused beyond `MAX_RECORDS`) and queues it.
pub async fn queue(
    pool: &PgPool,
    wake: &Notify,
    created_by: &str,
    order: Order,
    now: DateTime<Utc>,
) -> Result<JobRow, TaskError> {
    history::check_tier(order.aggregation, order.start, order.end, now)?;
    let available = columns(&order.groups);
    let selected = match order.fields.as_deref().filter(|f| !f.is_empty()) {
        None => available.clone(),
        Some(fields) => {
            let mut selected = Vec::new();
            for field in fields {
                if !available.contains(field) {
                    return Err(QueryError::BadRequest(format!(
                        "unknown field `{field}`; available: {}",
                        available.join(", ")
                    ))
                    .into());
                }
                if !selected.contains(field) {
                    selected.push(field.clone());
                }
            }
            selected
        }
    };
    order.timezone.parse::<chrono_tz::Tz>().map_err(|_| {
        QueryError::BadRequest(format!(
            "`options.timezone` `{}` is not an IANA time zone (e.g. Asia/Shanghai)",
            order.timezone
        ))
    })?;
    let date = DateFormat::parse(&order.date_format).map_err(QueryError::BadRequest)?;
    let number = NumberFormat::parse(&order.number_format).map_err(QueryError::BadRequest)?;

    // Counted before any work: one point's page also returns the total.
    let probe = Query {
        hosts: order.hosts.clone(),
        groups: order.groups.clone(),
        start: order.start,
        end: order.end,
        aggregation: order.aggregation,
        func: order.func,
        page: 1,
        page_size: 1,
    };
    let (_, total) = history::points(pool, &probe).await?;
    if total > MAX_RECORDS {
        return Err(QueryError::LimitExceeded(format!(
            "the export would have {total} records; at most {MAX_RECORDS} are allowed (narrow the range, the hosts or use a coarser aggregation)"
        ))
        .into());
    }
    let id = format!(
        "export_{}_{}",
        now.format("%Y%m%d"),
        rand::thread_rng()
            .sample_iter(&Alphanumeric)
            .take(10)
            .map(char::from)
            .collect::<String>()
            .to_lowercase()
    );
    let fallback = format!(
        "vm_history_{}_{}",
        order.start.format("%Y%m%d"),
        order.end.format("%Y%m%d")
    );
    let filename = sanitize_filename(order.filename.as_deref(), order.format, &fallback);
    let spec = ExportSpec {
        hosts: order.hosts,
        groups: order.groups.iter().map(|g| g.name().to_owned()).collect(),
        start: order.start,
        end: order.end,
        aggregation: order.aggregation.name().to_owned(),
        func: order.func.name().to_owned(),
        format: order.format,
        columns: selected,
        include_headers: order.include_headers,
        timezone: order.timezone,
        date,
        number,
    };
    let job = super::create(
        pool,
        &NewJob {
            id: &id,
            spec: &spec,
            filename: &filename,
            total,
            created_by,
        },
    )
    .await?;
    wake.notify_one();
    Ok(job)
}

/// The job if it exists, has not expired and the caller (`name`, admin or not) may see it.
pub async fn visible(
    pool: &PgPool,
    name: &str,
    admin: bool,
    id: &str,
) -> Result<JobRow, TaskError> {
    let not_found = || {
        TaskError::NotFound(format!(
            "no export task `{id}` (unknown, or expired after {KEEP_DAYS} days)"
        ))
    };
    let job = super::job(pool, id).await?.ok_or_else(not_found)?;
    if job.is_expired(Utc::now()) {
        return Err(not_found());
    }
    if job.created_by != name && !admin {
        return Err(TaskError::Forbidden(
            "only the creator of an export or an admin may read it".into(),
        ));
    }
    Ok(job)
}
