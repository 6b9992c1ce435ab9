//! The capacity plan as a spreadsheet: one row per forecast of the selection, per host that
//! crosses the threshold, per host's application metric, and per host's vCPUs and memory with
//! the size that fits them — the capacity page's tables, for people who plan in a spreadsheet.
use super::Plan;
use crate::spreadsheet::text;
use app::view_state::CapacityQuery;
use chrono::{DateTime, Utc};

const HEADER: [&str; 15] = [
    "kind",
    "scope",
    "host",
    "metric",
    "unit",
    "now",
    "growth_per_month",
    "at_horizon",
    "limit",
    "reaches_on",
    "days_to_reach",
    "severity",
    "recommended",
    "cost_change_per_month",
    "currency",
];

fn number(value: f64, places: usize) -> String {
    format!("{value:.places$}")
}

fn day(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

/// The plan of `view` over `scope` ("fleet", "group grp_01") as CSV bytes.
pub fn plan(plan: &Plan, scope: &str, view: &CapacityQuery) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(HEADER)?;
    let threshold = number(view.threshold as f64, 0);
    let newest = plan.trends.historical.last();
    for (metric, _) in super::METRICS {
        let Some(forecast) = plan.trends.forecast.as_ref().and_then(|f| f.get(metric)) else {
            continue;
        };
        let now = newest.and_then(|d| match metric {
            "cpu" => d.cpu,
            "memory" => d.memory,
            _ => d.disk,
        });
        let growth = plan.trends.growth_rates.get(metric).map(|g| g.monthly);
        let days = match (forecast.capacity_exceed_date, newest) {
            (Some(at), Some(last)) => Some(((at - last.date).num_hours() as f64 / 24.0).max(0.0)),
            _ => None,
        };
        out.write_record([
            "forecast",
            &text(scope),
            "",
            metric,
            "%",
            &now.map(|v| number(v, 2)).unwrap_or_default(),
            &growth.map(|g| number(g, 2)).unwrap_or_default(),
            &number(forecast.predicted_value, 2),
            &threshold,
            &forecast.capacity_exceed_date.map(day).unwrap_or_default(),
            &days.map(|d| number(d, 0)).unwrap_or_default(),
            "",
            "",
            "",
            "",
        ])?;
    }
    for alert in &plan.trends.capacity_alerts {
        let Some(vm_id) = &alert.vm_id else {
            continue; // the selection's own crossing is its forecast row
        };
        let host = text(alert.vm_name.as_deref().unwrap_or(vm_id));
        let days = newest.map(|last| {
            ((alert.predicted_exceed_date - last.date).num_hours() as f64 / 24.0).max(0.0)
        });
        out.write_record([
            "host crossing",
            &text(scope),
            &host,
            &alert.metric,
            "%",
            &number(alert.current_usage, 2),
            "",
            "",
            &number(alert.threshold, 0),
            &day(alert.predicted_exceed_date),
            &days.map(|d| number(d, 0)).unwrap_or_default(),
            &alert.severity,
            "",
            "",
            "",
        ])?;
    }
    for t in &plan.app_metrics {
        out.write_record([
            "application metric",
            &text(scope),
            &text(&t.vm_name),
            &t.name,
            &text(&t.unit),
            &number(t.level_now, 3),
            &number(t.monthly_change, 3),
            &number(t.predicted, 3),
            &t.capacity.map(|c| c.to_string()).unwrap_or_default(),
            &t.capacity_date.map(day).unwrap_or_default(),
            &t.days_to_capacity.map(|d| number(d, 0)).unwrap_or_default(),
            "",
            "",
            "",
            "",
        ])?;
    }
    // Right-sizing: every host's vCPUs and memory now and the size that fits it; `severity`
    // holds the verdict, and with prices set `cost_change_per_month` what the change comes to
    // (negative: a saving) in `currency`.
    let prices = plan.right_sizing.prices.as_ref();
    let currency = prices.map_or("", |p| p.currency.as_str());
    for h in &plan.right_sizing.hosts {
        let host = text(&h.vm_name);
        let gib = |bytes: i64| number(bytes as f64 / f64::from(1u32 << 30), 1);
        // With prices set: what each resource's change comes to a month.
        let change = |now: Option<i64>, fit: Option<i64>| match (now, fit) {
            (Some(now), Some(fit)) => fit - now,
            _ => 0,
        };
        let cost = |cores: i64, bytes: i64| {
            prices.map(|p| super::rightsize::monthly_cost(cores, bytes, p))
        };
        let cpu_cost = cost(change(h.cores, h.recommended_cores), 0);
        let memory_cost = cost(0, change(h.memory_bytes, h.recommended_memory_bytes));
        for (metric, unit, now, fit, cost) in [
            (
                "cpu",
                "vCPU",
                h.cores.map(|c| c.to_string()),
                h.recommended_cores.map(|c| c.to_string()),
                cpu_cost,
            ),
            (
                "memory",
                "GiB",
                h.memory_bytes.map(gib),
                h.recommended_memory_bytes.map(gib),
                memory_cost,
            ),
        ] {
            out.write_record([
                "right-size",
                &text(scope),
                &host,
                metric,
                unit,
                &now.unwrap_or_default(),
                "",
                "",
                "",
                "",
                "",
                &h.verdict,
                &fit.unwrap_or_default(),
                &cost.map(|c| number(c, 2)).unwrap_or_default(),
                currency,
            ])?;
        }
    }
    out.into_inner().map_err(|e| e.into_error().into())
}
