//! The capacity plan as a PDF (`capacity::report`): the capacity page's figures for a view on
//! A4 pages, for the people who plan from a printed or mailed report.
use super::report::{days_between, Overview};
use crate::pdf::{bitmap, ChartText, Rgb8, Writer, LEFT};
use app::{
    models::{DailyUsage, HostSizing, Runway, TrendReport},
    panels::{custom_unit_display, format_value, money_text, plan_text, reaches_text, scope_text},
    view_state::CapacityQuery,
};
use chrono::{DateTime, Duration, Utc};
use plotters::prelude::*;

/// The resources as the page draws them: name, label, colour, the day's value.
type Pick = fn(&DailyUsage) -> Option<f64>;
const RESOURCES: [(&str, &str, Rgb8, Pick); 3] = [
    ("cpu", "CPU", (37, 99, 235), |d| d.cpu),
    ("memory", "Memory", (22, 163, 74), |d| d.memory),
    ("disk", "Disk", (217, 119, 6), |d| d.disk),
];
const THRESHOLD_COLOR: Rgb8 = (220, 38, 38);
/// Rows of the long tables; the rest is counted in a line under them.
const ALERT_ROWS: usize = 40;
const SIZING_ROWS: usize = 30;
const APP_METRIC_ROWS: usize = 20;

/// What the document says and when.
pub struct Document<'a> {
    /// The document's heading: "Capacity plan", "Monthly capacity report, December 2026".
    pub title: &'a str,
    pub view: &'a CapacityQuery,
    /// The instant the plan is made as of (its history ends there).
    pub as_of: DateTime<Utc>,
    pub generated_at: DateTime<Utc>,
    pub overview: &'a Overview,
    /// The previous month's report (its month's title and runway), for "since" the line.
    pub previous: Option<(&'a str, &'a Runway)>,
}

/// How the runway moved since an earlier report: "Since the November 2026 report: CPU not
/// within 2 years -> 161 days, memory 70 -> 64 days (-6), disk 316 -> 300 days (-16)."
fn since_text(month: &str, before: &Runway, now: &Runway) -> String {
    let days = |d: Option<f64>| match d {
        Some(d) if d <= 0.0 => "now".to_string(),
        Some(d) => format!("{d:.0} days"),
        None => "not within 2 years".to_string(),
    };
    let moved = [
        ("CPU", before.cpu_days, now.cpu_days),
        ("memory", before.memory_days, now.memory_days),
        ("disk", before.disk_days, now.disk_days),
    ]
    .iter()
    .map(|(label, was, is)| {
        let change = match (was, is) {
            (Some(was), Some(is)) if (is - was).abs() >= 0.5 => format!(" ({:+.0})", is - was),
            _ => String::new(),
        };
        if was == is {
            format!("{label} {} (no change)", days(*is))
        } else {
            format!("{label} {} -> {}{change}", days(*was), days(*is))
        }
    })
    .collect::<Vec<_>>()
    .join(", ");
    format!("Since the {month} report: {moved}.")
}

fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The sentence that says what runs out first, or that nothing does within the horizon.
fn headline(trends: &TrendReport, scope: &str, view: &CapacityQuery) -> String {
    let newest = trends.historical.last().map(|d| d.date);
    let first = RESOURCES
        .iter()
        .filter_map(|(metric, label, _, _)| {
            let when = trends
                .forecast
                .as_ref()?
                .get(*metric)?
                .capacity_exceed_date?;
            Some((label, when))
        })
        .min_by_key(|(_, when)| *when);
    match first {
        Some((label, when)) => format!(
            "{label} runs out first: the average of {scope} reaches {} % {}.",
            view.threshold,
            reaches_text(days_between(newest, when), Some(when))
        ),
        None if trends.forecast.is_none() || trends.historical.is_empty() => {
            format!("No forecast for {scope}: there is no daily history to draw one from.")
        }
        None => format!(
            "No resource of {scope} reaches {} % within two years on its trend.",
            view.threshold
        ),
    }
}

/// The chart's pixels: each resource's daily average, its forecast dashed to the horizon, the
/// threshold dashed red; x in days from the newest day.
fn chart(trends: &TrendReport, view: &CapacityQuery) -> anyhow::Result<(Vec<u8>, f64)> {
    let newest = trends.historical.last().map(|d| d.date);
    let span = match (trends.historical.first(), newest) {
        (Some(first), Some(newest)) => (newest - first.date).num_days().max(1) as f64,
        _ => view.history_days as f64,
    };
    let horizon = view.horizon_days.max(1) as f64;
    let pixels = bitmap(|area| {
        let mut chart = ChartBuilder::on(area).build_cartesian_2d(-span..horizon, 0f64..100f64)?;
        for level in [0.0, 25.0, 50.0, 75.0, 100.0] {
            chart.draw_series(LineSeries::new(
                [(-span, level), (horizon, level)],
                RGBColor(215, 215, 215),
            ))?;
        }
        chart.draw_series(LineSeries::new(
            [(0.0, 0.0), (0.0, 100.0)],
            RGBColor(160, 160, 160),
        ))?;
        let (r, g, b) = THRESHOLD_COLOR;
        let threshold = view.threshold as f64;
        chart.draw_series(DashedLineSeries::new(
            [(-span, threshold), (horizon, threshold)],
            12,
            8,
            RGBColor(r, g, b).stroke_width(2),
        ))?;
        let Some(newest) = newest else { return Ok(()) };
        for (metric, _, (r, g, b), pick) in RESOURCES {
            let color = RGBColor(r, g, b);
            let points: Vec<(f64, f64)> = trends
                .historical
                .iter()
                .filter_map(|d| {
                    pick(d).map(|v| ((d.date - newest).num_days() as f64, v.clamp(0.0, 100.0)))
                })
                .collect();
            if let (Some(last), Some(forecast)) = (
                points.last(),
                trends.forecast.as_ref().and_then(|f| f.get(metric)),
            ) {
                chart.draw_series(DashedLineSeries::new(
                    [*last, (horizon, forecast.predicted_value.clamp(0.0, 100.0))],
                    12,
                    8,
                    color.stroke_width(3),
                ))?;
            }
            chart.draw_series(LineSeries::new(points, color.stroke_width(3)))?;
        }
        Ok(())
    })?;
    Ok((pixels, span))
}

fn place_chart(w: &mut Writer, trends: &TrendReport, view: &CapacityQuery) -> anyhow::Result<()> {
    let (pixels, span) = chart(trends, view)?;
    let newest = trends.historical.last().map(|d| d.date);
    let whole = span + view.horizon_days.max(1) as f64;
    let today = (span / whole) as f32;
    let day = |at: DateTime<Utc>| at.format("%Y-%m-%d").to_string();
    let x = match newest {
        Some(newest) => vec![
            (0.0, day(newest - Duration::days(span as i64))),
            (today, format!("{} (newest day)", day(newest))),
            (1.0, day(newest + Duration::days(view.horizon_days))),
        ],
        None => Vec::new(),
    };
    let mut legend: Vec<(String, Rgb8)> = RESOURCES
        .iter()
        .map(|(_, label, color, _)| (label.to_string(), *color))
        .collect();
    legend.push((format!("{} % threshold", view.threshold), THRESHOLD_COLOR));
    let labels = ChartText {
        y: [0.0f32, 25.0, 50.0, 75.0, 100.0]
            .iter()
            .map(|level| (level / 100.0, format!("{level:.0} %")))
            .collect(),
        x,
        legend,
    };
    w.chart(pixels, &labels);
    Ok(())
}

fn forecast_table(w: &mut Writer, trends: &TrendReport, view: &CapacityQuery) {
    let newest = trends.historical.last();
    let xs = [
        LEFT,
        LEFT + 24.0,
        LEFT + 44.0,
        LEFT + 74.0,
        LEFT + 96.0,
        LEFT + 150.0,
    ];
    w.row(
        &[
            "Resource".to_string(),
            "Now".into(),
            "Growth a month".into(),
            format!("In {} days", view.horizon_days),
            format!("Reaches {} %", view.threshold),
            "Confidence".into(),
        ],
        &xs,
        true,
    );
    w.rule();
    for (metric, label, _, pick) in RESOURCES {
        let Some(forecast) = trends.forecast.as_ref().and_then(|f| f.get(metric)) else {
            continue;
        };
        let now = newest.and_then(pick);
        let growth = trends.growth_rates.get(metric).map(|g| g.monthly);
        let reaches = forecast.capacity_exceed_date.map_or_else(
            || "not within 2 years".to_string(),
            |when| reaches_text(days_between(newest.map(|d| d.date), when), Some(when)),
        );
        w.row(
            &[
                label.to_string(),
                now.map_or_else(|| "-".into(), |v| format!("{v:.1} %")),
                growth.map_or_else(|| "-".into(), |g| format!("{g:+.2} points")),
                format!("{:.1} %", forecast.predicted_value),
                reaches,
                format!("{:.2}", forecast.confidence),
            ],
            &xs,
            false,
        );
    }
}

fn runway_days(days: Option<f64>) -> String {
    match days {
        Some(d) if d <= 0.0 => "now".into(),
        Some(d) => format!("{d:.0} days"),
        None => "-".into(),
    }
}

fn runway_table(w: &mut Writer, overview: &Overview, view: &CapacityQuery) {
    w.heading("Runway of each group");
    w.paragraph(
        &format!(
            "Days from the newest complete day until each group's average reaches {} %, and \
             until its first host does, with the plans committed for the group; - : not within \
             two years.",
            view.threshold
        ),
        9.0,
        false,
    );
    w.y -= 2.0;
    let xs = [
        LEFT,
        LEFT + 36.0,
        LEFT + 50.0,
        LEFT + 70.0,
        LEFT + 90.0,
        LEFT + 110.0,
    ];
    w.row(
        &[
            "Group",
            "Hosts",
            "CPU",
            "Memory",
            "Disk",
            "First host to reach it",
        ]
        .map(String::from),
        &xs,
        true,
    );
    w.rule();
    for group in &overview.runway {
        let first = group.first_host.as_ref().map_or_else(
            || "-".to_string(),
            |h| {
                format!(
                    "{} ({}, {})",
                    h.vm_name,
                    h.metric,
                    runway_days(Some(h.days))
                )
            },
        );
        let plans = if group.plans > 0 { " *" } else { "" };
        w.row(
            &[
                format!("{}{plans}", group.group),
                group.hosts.to_string(),
                runway_days(group.cpu_days),
                runway_days(group.memory_days),
                runway_days(group.disk_days),
                first,
            ],
            &xs,
            false,
        );
    }
    if overview.runway.iter().any(|g| g.plans > 0) {
        w.line("* with the group's committed plans.", 8.0, false);
    }
}

fn alerts_table(w: &mut Writer, trends: &TrendReport, view: &CapacityQuery, scope: &str) {
    let alerts = &trends.capacity_alerts;
    w.heading("Capacity alerts");
    if alerts.is_empty() {
        w.line(
            &format!(
                "Neither {scope}'s average nor any of its hosts reaches {} % within a year on \
                 its trend.",
                view.threshold
            ),
            10.0,
            false,
        );
        return;
    }
    let newest = trends.historical.last().map(|d| d.date);
    let xs = [LEFT, LEFT + 60.0, LEFT + 80.0, LEFT + 98.0, LEFT + 150.0];
    w.row(
        &["Scope", "Resource", "Now", "Reaches", "Severity"].map(String::from),
        &xs,
        true,
    );
    w.rule();
    for alert in alerts.iter().take(ALERT_ROWS) {
        // A host's own crossing, or the selection's average.
        let who = match (&alert.vm_name, &alert.vm_id) {
            (Some(name), _) | (None, Some(name)) => name.chars().take(30).collect(),
            (None, None) => format!("{scope} (average)"),
        };
        let when = alert.predicted_exceed_date;
        w.row(
            &[
                who,
                alert.metric.clone(),
                format!("{:.1} %", alert.current_usage),
                reaches_text(days_between(newest, when), Some(when)),
                alert.severity.clone(),
            ],
            &xs,
            false,
        );
    }
    if alerts.len() > ALERT_ROWS {
        w.line(
            &format!("{} more, reaching it later.", alerts.len() - ALERT_ROWS),
            9.0,
            false,
        );
    }
}

fn gib(bytes: Option<i64>) -> String {
    bytes.map_or_else(
        || "-".into(),
        |b| format!("{:.1} GiB", b as f64 / f64::from(1u32 << 30)),
    )
}

fn sizing_table(w: &mut Writer, overview: &Overview) {
    let sizing = &overview.plan.right_sizing;
    w.heading("Right-sizing");
    w.paragraph(
        &format!(
            "Each host's vCPUs and memory against its CPU at the 95th percentile and memory at the \
             99th over the last {} complete days. The oversized, idle and powered-off hosts' \
             sizes give back {} vCPUs and {}; the undersized ones' take {} vCPUs and {}.",
            sizing.window_days,
            sizing.freed_cores,
            gib(Some(sizing.freed_memory_bytes)),
            sizing.added_cores,
            gib(Some(sizing.added_memory_bytes)),
        ),
        9.0,
        false,
    );
    if let (Some(prices), Some(saved), Some(added)) =
        (&sizing.prices, sizing.monthly_savings, sizing.monthly_added)
    {
        w.paragraph(
            &format!(
                "At the prices set ({} a vCPU, {} a GiB a month), that saves {} a month and adds {}.",
                money_text(prices.vcpu_month, &prices.currency),
                money_text(prices.gib_month, &prices.currency),
                money_text(saved, &prices.currency),
                money_text(added, &prices.currency),
            ),
            9.0,
            true,
        );
    }
    w.y -= 2.0;
    let change: Vec<&HostSizing> = sizing
        .hosts
        .iter()
        .filter(|h| h.verdict != "fits" && h.verdict != "too little history")
        .collect();
    if change.is_empty() {
        w.line("Every host with enough history fits its size.", 10.0, false);
        return;
    }
    let xs = [LEFT, LEFT + 44.0, LEFT + 70.0, LEFT + 96.0, LEFT + 142.0];
    w.row(
        &["Host", "Verdict", "vCPUs", "Memory", "CPU p95 / mem p99"].map(String::from),
        &xs,
        true,
    );
    w.rule();
    let cores = |c: Option<i64>| c.map_or_else(|| "-".into(), |c| c.to_string());
    let percent = |p: Option<f64>| p.map_or_else(|| "-".into(), |p| format!("{p:.0} %"));
    for host in change.iter().take(SIZING_ROWS) {
        w.row(
            &[
                host.vm_name.chars().take(24).collect(),
                host.verdict.clone(),
                format!("{} -> {}", cores(host.cores), cores(host.recommended_cores)),
                format!(
                    "{} -> {}",
                    gib(host.memory_bytes),
                    gib(host.recommended_memory_bytes)
                ),
                format!("{} / {}", percent(host.cpu_p95), percent(host.memory_p99)),
            ],
            &xs,
            false,
        );
    }
    if change.len() > SIZING_ROWS {
        w.line(
            &format!("{} more hosts to resize.", change.len() - SIZING_ROWS),
            9.0,
            false,
        );
    }
}

fn app_metrics_table(w: &mut Writer, overview: &Overview) {
    let with_capacity: Vec<_> = overview
        .plan
        .app_metrics
        .iter()
        .filter(|t| t.capacity.is_some())
        .collect();
    if with_capacity.is_empty() {
        return;
    }
    w.heading("Application metrics against their capacity");
    let xs = [LEFT, LEFT + 40.0, LEFT + 80.0, LEFT + 104.0, LEFT + 128.0];
    w.row(
        &["Host", "Metric", "Now", "Capacity", "Reaches it"].map(String::from),
        &xs,
        true,
    );
    w.rule();
    for t in with_capacity.iter().take(APP_METRIC_ROWS) {
        let unit = custom_unit_display(&t.unit);
        w.row(
            &[
                t.vm_name.chars().take(22).collect(),
                t.name.chars().take(22).collect(),
                format_value(t.level_now, unit),
                t.capacity
                    .map_or_else(|| "-".into(), |c| format_value(c, unit)),
                reaches_text(t.days_to_capacity, t.capacity_date),
            ],
            &xs,
            false,
        );
    }
    if with_capacity.len() > APP_METRIC_ROWS {
        w.line(
            &format!(
                "{} more, reaching their capacity later.",
                with_capacity.len() - APP_METRIC_ROWS
            ),
            9.0,
            false,
        );
    }
}

/// The document's bytes.
pub fn render(doc: &Document<'_>) -> anyhow::Result<Vec<u8>> {
    let view = doc.view;
    let overview = doc.overview;
    let trends = &overview.plan.trends;
    let scope = scope_text(view.group.as_deref());
    let mut w = Writer::new(&format!("Lookout - {} - {scope}", doc.title), 25.0)?;

    w.line(&format!("Lookout - {}", doc.title), 18.0, true);
    w.line(&scope, 14.0, false);
    w.y -= 4.0;
    for (label, value) in [
        ("Hosts", overview.plan.hosts.len().to_string()),
        (
            "History",
            format!("{} days up to {}", view.history_days, time(doc.as_of)),
        ),
        (
            "Forecast",
            format!("{} days ahead, straight-line trend", view.horizon_days),
        ),
        ("Threshold", format!("{} %", view.threshold)),
        ("Generated", time(doc.generated_at)),
    ] {
        w.text(label, 10.0, LEFT, w.y, true);
        w.text(&value, 10.0, LEFT + 28.0, w.y, false);
        w.y -= 5.5;
    }
    w.y -= 3.0;
    w.paragraph(&headline(trends, &scope, view), 12.0, true);
    if let Some((month, before)) = doc.previous {
        let now = super::report::runway_of(trends);
        w.paragraph(&since_text(month, before, &now), 10.0, false);
    }
    if let Some(warning) = &trends.warning {
        w.paragraph(warning, 10.0, false);
    }

    w.heading("Average use and forecast");
    place_chart(&mut w, trends, view)?;
    forecast_table(&mut w, trends, view);
    w.line(
        "Growth in percentage points a month; a crossing on or before the newest day reads \
         \"now (trend)\": the line is there already.",
        8.0,
        false,
    );

    if !overview.plans.is_empty() {
        w.heading("Committed plans");
        w.paragraph(
            "Changes planned for this scope. The what-if and the runway include them; the \
             forecasts above do not.",
            9.0,
            false,
        );
        for plan in &overview.plans {
            w.paragraph(
                &format!("{}: {}", plan.title, plan_text(&plan.changes)),
                10.0,
                false,
            );
        }
    }
    if view.group.is_none() && !overview.runway.is_empty() {
        runway_table(&mut w, overview, view);
    }
    alerts_table(&mut w, trends, view, &scope);
    if !trends.recommendations.is_empty() {
        w.heading("Recommendations");
        for r in &trends.recommendations {
            let stop = if r.description.ends_with('.') {
                ""
            } else {
                "."
            };
            let savings = r
                .potential_savings
                .as_ref()
                .map(|s| format!(" Potential savings: {s}"))
                .unwrap_or_default();
            w.paragraph(
                &format!(
                    "{} ({}): {}{stop}{savings}",
                    r.kind.replace('_', " "),
                    r.metric,
                    r.description
                ),
                10.0,
                false,
            );
        }
    }
    sizing_table(&mut w, overview);
    app_metrics_table(&mut w, overview);
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::models::MetricForecast;

    fn report(days: i64, cpu_crossing: Option<DateTime<Utc>>) -> TrendReport {
        let newest = DateTime::parse_from_rfc3339("2026-12-06T00:00:00Z")
            .expect("valid")
            .with_timezone(&Utc);
        TrendReport {
            historical: (0..days)
                .map(|d| DailyUsage {
                    date: newest - Duration::days(days - 1 - d),
                    cpu: Some(50.0),
                    memory: Some(40.0),
                    disk: None,
                })
                .collect(),
            forecast: Some(
                [(
                    "cpu".to_string(),
                    MetricForecast {
                        predicted_value: 85.0,
                        capacity_exceed_date: cpu_crossing,
                        ..Default::default()
                    },
                )]
                .into(),
            ),
            ..Default::default()
        }
    }

    #[test]
    fn the_headline_names_the_first_crossing_in_days_from_the_newest_day() {
        let view = CapacityQuery::default();
        let at = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .expect("valid")
                .with_timezone(&Utc)
        };
        assert_eq!(
            headline(
                &report(30, Some(at("2027-01-05T00:00:00Z"))),
                "group web",
                &view
            ),
            "CPU runs out first: the average of group web reaches 80 % 2027-01-05 (in 30 days)."
        );
        assert_eq!(
            headline(
                &report(30, Some(at("2026-12-06T00:00:00Z"))),
                "the whole fleet",
                &view
            ),
            "CPU runs out first: the average of the whole fleet reaches 80 % now (trend)."
        );
        assert_eq!(
            headline(&report(30, None), "the whole fleet", &view),
            "No resource of the whole fleet reaches 80 % within two years on its trend."
        );
        assert!(headline(&TrendReport::default(), "group web", &view).starts_with("No forecast"));
    }

    #[test]
    fn since_says_how_each_resource_moved() {
        let before = Runway {
            cpu_days: None,
            memory_days: Some(70.0),
            disk_days: Some(300.0),
        };
        let now = Runway {
            cpu_days: Some(161.0),
            memory_days: Some(64.0),
            disk_days: Some(300.0),
        };
        assert_eq!(
            since_text("November 2026", &before, &now),
            "Since the November 2026 report: CPU not within 2 years -> 161 days, memory 70 days -> \
             64 days (-6), disk 300 days (no change)."
        );
    }

    #[test]
    fn the_chart_draws_history_forecast_and_threshold() {
        let view = CapacityQuery::default();
        let (pixels, span) = chart(&report(30, None), &view).expect("drawn");
        assert_eq!(span, 29.0);
        let blue = pixels.chunks(3).filter(|p| p == &[37u8, 99, 235]).count();
        let red = pixels.chunks(3).filter(|p| p == &[220u8, 38, 38]).count();
        assert!(blue > 500, "CPU's line and forecast: {blue} pixels");
        assert!(red > 500, "the threshold: {red} pixels");
        let (empty, _) = chart(&TrendReport::default(), &view).expect("drawn");
        assert!(!empty.chunks(3).any(|p| p == [37u8, 99, 235]));
    }
}
