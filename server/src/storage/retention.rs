//! Retention: whole partitions past their tier's age are dropped (never row-by-row deletes).
//!
//! Raw samples are kept 7 days, hourly rollups (and the days' five-minute averages copied from
//! them) 30 days, daily rollups 2 years. A partition is only dropped once nothing in it is still
//! waiting to be rolled up into the next tier.
use chrono::{Duration, NaiveDate, Utc};
use sqlx::PgPool;

pub const RAW_DAYS: i64 = 7;
pub const HOURLY_DAYS: i64 = 30;
pub const DAILY_DAYS: i64 = 731;

/// The first day a partition holds, from its name (`samples_20260101`, `rollup_daily_202601`).
pub fn partition_start(parent: &str, name: &str) -> Option<NaiveDate> {
    let suffix = name.strip_prefix(parent)?.strip_prefix('_')?;
    match suffix.len() {
        8 => NaiveDate::parse_from_str(suffix, "%Y%m%d").ok(),
        6 => NaiveDate::parse_from_str(&format!("{suffix}01"), "%Y%m%d").ok(),
        _ => None,
    }
}

/// The day after the last one a partition holds.
fn partition_end(parent: &str, start: NaiveDate) -> Option<NaiveDate> {
    if parent == "rollup_daily" {
        start.checked_add_months(chrono::Months::new(1))
    } else {
        start.succ_opt()
    }
}

/// Drops expired partitions of every tier; returns the names dropped.
pub async fn enforce(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    let today = Utc::now().date_naive();
    let mut dropped = Vec::new();
    for (parent, keep_days, pending_queue) in [
        ("samples", RAW_DAYS, Some("rollup_queue_hourly")),
        ("rollup_hourly", HOURLY_DAYS, Some("rollup_queue_daily")),
        ("rollup_daily", DAILY_DAYS, None),
        // A copy of the hourly tier's five-minute averages: nothing rolls up from it.
        (super::rollups::FINE_DAYS_TABLE, HOURLY_DAYS, None),
    ] {
        let cutoff = today - Duration::days(keep_days);
        let partitions: Vec<String> = sqlx::query_scalar(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass",
        )
        .bind(parent)
        .fetch_all(pool)
        .await?;
        for name in partitions {
            let Some(start) = partition_start(parent, &name) else {
                continue;
            };
            let Some(end) = partition_end(parent, start) else {
                continue;
            };
            if end > cutoff {
                continue;
            }
            // Lock first, then check: a writer that committed rows (and their queue entries) before
            // the lock is seen by the check; one that comes after waits, finds the partition gone,
            // recreates it and retries, so its rows are rolled up before the next retention run.
            let mut tx = pool.begin().await?;
            // The name was parsed above: only the parent's name, '_' and digits.
            // Parent before partition, the order writers take them in (dropping a partition also
            // locks its parent): the other order can deadlock with a writer routing into it.
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "LOCK TABLE {parent}, {name} IN ACCESS EXCLUSIVE MODE"
            )))
            .execute(&mut *tx)
            .await?;
            if let Some(queue) = pending_queue {
                let sql = format!(
                    "SELECT EXISTS (SELECT 1 FROM {queue} WHERE bucket >= $1::date::timestamptz AND bucket < $2::date::timestamptz)"
                );
                let pending: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .bind(start)
                    .bind(end)
                    .fetch_one(&mut *tx)
                    .await?;
                if pending {
                    continue; // roll it up first; the next run drops it (the lock is released on rollback)
                }
            }
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE {name}")))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            tracing::info!(partition = %name, "Dropped an expired partition.");
            dropped.push(name);
        }
    }
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_names_give_their_first_day() {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
        assert_eq!(
            partition_start("samples", "samples_20260131"),
            day(2026, 1, 31)
        );
        assert_eq!(
            partition_start("rollup_daily", "rollup_daily_202602"),
            day(2026, 2, 1)
        );
        assert_eq!(partition_start("samples", "samples_staging"), None);
        assert_eq!(partition_start("samples", "rollup_hourly_20260101"), None);
        assert_eq!(
            partition_end(
                "rollup_daily",
                NaiveDate::from_ymd_opt(2026, 2, 1).expect("date")
            ),
            day(2026, 3, 1)
        );
        assert_eq!(
            partition_end(
                "samples",
                NaiveDate::from_ymd_opt(2026, 2, 28).expect("date")
            ),
            day(2026, 3, 1)
        );
    }
}
