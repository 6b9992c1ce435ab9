//! The monthly capacity reports: at the start of each month (00:00 UTC) the capacity plan of the
//! whole fleet and of each host group, in the capacity page's default view as of that instant,
//! is written as a PDF (`capacity::report`) and kept for [`KEEP_MONTHS`].
//!
//! Guarantees: at most one report per month and scope (the table's unique key; a second server
//! that makes the same report loses the insert). A scope without daily history in the view's
//! days before the month gets none (nothing to plan from); a server that was down at the
//! month's start makes the month's reports when it starts, as of the month's start all the same,
//! so they read the same whenever they were made. Months before the server ran are not made.
//! Each keeps its runway (days to the threshold per resource), and the next month's report says
//! how it moved.
use crate::{
    jobs::{Queue, Step},
    storage::capacity_reports::{self, NewReport},
};
use app::view_state::CapacityQuery;
use chrono::{DateTime, Datelike, Months, NaiveDate, TimeZone, Utc};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Months a report is kept.
pub const KEEP_MONTHS: u32 = 24;

/// The first day of `now`'s month.
pub fn month_of(now: DateTime<Utc>) -> NaiveDate {
    now.date_naive().with_day(1).unwrap_or(now.date_naive())
}

/// The month's first instant (00:00 UTC).
pub fn start_of(month: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&month.and_time(chrono::NaiveTime::MIN))
}

/// The month's title: "December 2026".
pub fn month_title(month: NaiveDate) -> String {
    month.format("%B %Y").to_string()
}

/// Makes the reports of `now`'s month that are due and missing, one scope after another: how
/// many were stored.
#[tracing::instrument(skip(pool), err)]
pub async fn make_due(pool: &sqlx::PgPool, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let month = month_of(now);
    let as_of = start_of(month);
    let view = CapacityQuery::default();
    let since = as_of - chrono::Duration::days(view.history_days);
    let with_history = capacity_reports::scopes_with_history(pool, since, as_of).await?;
    let done = capacity_reports::scopes_of(pool, month).await?;
    let mut stored = 0;
    for group in with_history.into_iter().filter(|s| !done.contains(s)) {
        let view = CapacityQuery {
            group: group.clone(),
            ..CapacityQuery::default()
        };
        let title = format!("Monthly capacity report, {}", month_title(month));
        // Last month's report of the scope, if any: this one says how the runway moved.
        let last_month = month.checked_sub_months(Months::new(1));
        let previous = match last_month {
            Some(last) => capacity_reports::runway_of(pool, last, group.as_deref())
                .await?
                .map(|runway| (month_title(last), runway)),
            None => None,
        };
        let made = super::report::pdf(pool, &view, as_of, &title, previous).await?;
        let pdf = made.pdf;
        let report = NewReport {
            month,
            group: group.as_deref(),
            as_of,
            hosts: made.hosts,
            view: &view,
            pdf: &pdf,
            runway: made.runway,
        };
        if capacity_reports::insert(pool, &report).await? {
            stored += 1;
            tracing::info!(
                month = %month,
                scope = group.as_deref().unwrap_or("fleet"),
                bytes = pdf.len(),
                "Monthly capacity report made."
            );
        }
    }
    Ok(stored)
}

/// The monthly reports for [`crate::jobs::run`]: makes what is due, then idles until the next
/// month starts (looking again every poll, for groups that gain history); removes reports older
/// than [`KEEP_MONTHS`] once a day.
pub struct MonthlyReports {
    pub pool: sqlx::PgPool,
}

impl Queue for MonthlyReports {
    const NAME: &'static str = "capacity-report";
    const UPKEEP_EVERY: Option<Duration> = Some(Duration::from_secs(24 * 3600));

    async fn step(&self, _shutdown: &CancellationToken) -> anyhow::Result<Step> {
        let now = Utc::now();
        if make_due(&self.pool, now).await? > 0 {
            return Ok(Step::Worked);
        }
        let next = month_of(now)
            .checked_add_months(Months::new(1))
            .map(start_of)
            .and_then(|next| (next - now).to_std().ok());
        Ok(Step::Idle(next))
    }

    async fn upkeep(&self) -> anyhow::Result<()> {
        let oldest_kept = month_of(Utc::now())
            .checked_sub_months(Months::new(KEEP_MONTHS - 1))
            .unwrap_or(NaiveDate::MIN);
        let removed = capacity_reports::remove_before(&self.pool, oldest_kept).await?;
        if removed > 0 {
            tracing::info!(removed, "Old monthly capacity reports removed.");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_start_at_midnight_utc_on_their_first_day() {
        let at = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .expect("valid")
                .with_timezone(&Utc)
        };
        let month = month_of(at("2026-12-31T23:59:59Z"));
        assert_eq!(month, NaiveDate::from_ymd_opt(2026, 12, 1).expect("valid"));
        assert_eq!(start_of(month), at("2026-12-01T00:00:00Z"));
        assert_eq!(month_of(at("2027-01-01T00:00:00Z")).month(), 1);
        assert_eq!(month_title(month), "December 2026");
    }
}
