//! The PDF form of a report: a title page, the per-resource table with a plotters chart, the
//! period's alerts and the recommendations (and, for detailed reports, the time series).
//!
//! Written with `crate::pdf` (Latin-1 text, charts as bitmaps with PDF text labels).
use super::{ReportData, SeriesPoint};
use crate::pdf::{bitmap, ChartText, Rgb8, Writer, LEFT};
use plotters::prelude::*;

const SERIES_COLORS: [Rgb8; 3] = [(37, 99, 235), (22, 163, 74), (234, 88, 12)];

fn fixed(value: Option<f64>, unit: &str) -> String {
    match value {
        None => "-".into(),
        Some(v) if unit == "B/s" => human_rate(v),
        Some(v) => format!("{v:.2}"),
    }
}

fn human_rate(bytes_per_second: f64) -> String {
    const UNITS: [&str; 4] = ["B/s", "KB/s", "MB/s", "GB/s"];
    let mut value = bytes_per_second;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// The chart's pixels (RGB): CPU, memory and disk percentages over the period on 0–100 %.
pub fn chart(series: &[SeriesPoint]) -> anyhow::Result<Vec<u8>> {
    bitmap(|area| {
        let last = series.len().saturating_sub(1).max(1) as f64;
        let mut chart = ChartBuilder::on(area).build_cartesian_2d(0f64..last, 0f64..100f64)?;
        for level in [0.0, 25.0, 50.0, 75.0, 100.0] {
            chart.draw_series(LineSeries::new(
                [(0.0, level), (last, level)],
                RGBColor(215, 215, 215),
            ))?;
        }
        let pick: [fn(&SeriesPoint) -> Option<f64>; 3] = [|p| p.cpu, |p| p.memory, |p| p.disk];
        for (read, (r, g, b)) in pick.iter().zip(SERIES_COLORS) {
            let points: Vec<(f64, f64)> = series
                .iter()
                .enumerate()
                .filter_map(|(i, p)| read(p).map(|v| (i as f64, v.clamp(0.0, 100.0))))
                .collect();
            chart.draw_series(LineSeries::new(points, RGBColor(r, g, b).stroke_width(3)))?;
        }
        Ok(())
    })
}

fn place_chart(w: &mut Writer, data: &ReportData) -> anyhow::Result<()> {
    let time = |at: chrono::DateTime<chrono::Utc>| at.format("%Y-%m-%d %H:%M UTC").to_string();
    let labels = ChartText {
        y: [0.0f32, 25.0, 50.0, 75.0, 100.0]
            .iter()
            .map(|level| (level / 100.0, format!("{level:.0} %")))
            .collect(),
        x: vec![(0.0, time(data.start)), (1.0, time(data.end))],
        legend: ["CPU", "Memory", "Disk"]
            .iter()
            .zip(SERIES_COLORS)
            .map(|(name, rgb)| (name.to_string(), rgb))
            .collect(),
    };
    w.chart(chart(&data.series)?, &labels);
    Ok(())
}

pub fn render(data: &ReportData) -> anyhow::Result<Vec<u8>> {
    let mut w = Writer::new(&data.title, 70.0)?;

    // Title page.
    w.line("Lookout performance report", 26.0, true);
    w.y -= 6.0;
    let kind = format!("{} report", data.kind);
    for (label, value) in [
        ("Host", format!("{} ({})", data.host_name, data.host)),
        ("Report", kind),
        ("Period", format!("last {}", data.period)),
        (
            "From",
            data.start.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        ),
        ("To", data.end.format("%Y-%m-%d %H:%M:%S UTC").to_string()),
        ("Samples", data.samples.to_string()),
        (
            "Generated",
            data.generated_at
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string(),
        ),
        ("Report id", data.report_id.clone()),
    ] {
        w.text(label, 12.0, LEFT, w.y, true);
        w.text(&value, 12.0, LEFT + 35.0, w.y, false);
        w.y -= 8.0;
    }

    // Resources: table and chart.
    w.page("resources");
    w.heading("Resources");
    let xs = [
        LEFT,
        LEFT + 42.0,
        LEFT + 70.0,
        LEFT + 98.0,
        LEFT + 126.0,
        LEFT + 150.0,
    ];
    w.row(
        &[
            "Resource", "Current", "Average", "Maximum", "Minimum", "P95",
        ]
        .map(String::from),
        &xs,
        true,
    );
    w.rule();
    for r in &data.resources {
        let unit = if r.unit == "%" { " (%)" } else { "" };
        w.row(
            &[
                format!("{}{unit}", r.label),
                fixed(r.current, &r.unit),
                fixed(r.average, &r.unit),
                fixed(r.maximum, &r.unit),
                fixed(r.minimum, &r.unit),
                fixed(r.p95, &r.unit),
            ],
            &xs,
            false,
        );
    }
    w.y -= 6.0;
    w.heading("Usage over the period");
    place_chart(&mut w, data)?;

    if let Some(alerts) = &data.alerts {
        w.heading(&format!("Alerts ({})", alerts.len()));
        if alerts.is_empty() {
            w.line("No alert was raised in the period.", 10.0, false);
        } else {
            let xs = [LEFT, LEFT + 38.0, LEFT + 58.0, LEFT + 130.0, LEFT + 152.0];
            w.row(
                &["Time (UTC)", "Level", "Alert", "Value", "Status"].map(String::from),
                &xs,
                true,
            );
            w.rule();
            for a in alerts {
                let title: String = a.title.chars().take(45).collect();
                w.row(
                    &[
                        a.created_at.format("%m-%d %H:%M:%S").to_string(),
                        a.level.clone(),
                        title,
                        format!("{:.2}", a.value),
                        a.status.clone(),
                    ],
                    &xs,
                    false,
                );
            }
        }
    }
    if let Some(recommendations) = &data.recommendations {
        w.heading("Recommendations");
        if recommendations.is_empty() {
            w.line(
                "No action needed: every resource stayed within its normal range.",
                10.0,
                false,
            );
        }
        for r in recommendations {
            w.line(
                &format!("{} ({})", r.kind.replace('_', " "), r.resource),
                10.0,
                true,
            );
            w.line(&r.reason, 10.0, false);
        }
    }
    if data.kind == "detailed" {
        w.page("series");
        w.heading("Time series (bucket averages)");
        let xs = [LEFT, LEFT + 50.0, LEFT + 80.0, LEFT + 110.0];
        w.row(
            &["Time (UTC)", "CPU %", "Memory %", "Disk %"].map(String::from),
            &xs,
            true,
        );
        w.rule();
        for p in &data.series {
            let cell = |v: Option<f64>| v.map(|v| format!("{v:.2}")).unwrap_or_else(|| "-".into());
            w.row(
                &[
                    p.timestamp.format("%Y-%m-%d %H:%M").to_string(),
                    cell(p.cpu),
                    cell(p.memory),
                    cell(p.disk),
                ],
                &xs,
                false,
            );
        }
    }
    w.finish()
}
