//! The rolling live chart, drawn with plotters into an SVG string (same code on server and browser).
use crate::models::{Stats, LIVE_WINDOW_SECS};
use plotters::prelude::*;

pub const CHART_WIDTH: u32 = 720;
pub const CHART_HEIGHT: u32 = 260;

type Series = (&'static str, RGBColor, fn(&Stats) -> f64);
const SERIES: [Series; 3] = [
    ("CPU %", RGBColor(37, 99, 235), |s| s.cpu.percent),
    ("Memory %", RGBColor(22, 163, 74), |s| s.memory.percent),
    ("Disk %", RGBColor(217, 119, 6), |s| s.disk.percent),
];

/// Percent-of-capacity lines for the samples inside the live window, x in minutes before the newest.
pub fn render_usage_chart(samples: &[Stats]) -> String {
    let mut svg = String::new();
    let drawn = {
        let root =
            SVGBackend::with_string(&mut svg, (CHART_WIDTH, CHART_HEIGHT)).into_drawing_area();
        draw(&root, samples).and_then(|_| root.present())
    };
    match drawn {
        Ok(()) => svg,
        // Drawing into a String only fails on a plotters bug; an empty chart beats a broken page.
        Err(_) => String::new(),
    }
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    samples: &[Stats],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let window_min = LIVE_WINDOW_SECS as f64 / 60.0;
    let mut chart = ChartBuilder::on(root)
        .margin(10)
        .x_label_area_size(28)
        .y_label_area_size(36)
        .build_cartesian_2d(-window_min..0.0, 0.0..100.0)?;
    chart
        .configure_mesh()
        .x_labels(8)
        .y_labels(6)
        .x_desc("minutes ago")
        .x_label_formatter(&|x| format!("{:.0}", 0.0 - x))
        .y_label_formatter(&|y| format!("{y:.0}%"))
        .light_line_style(RGBColor(240, 240, 240))
        .draw()?;
    let Some(newest) = samples.last().map(|s| s.timestamp) else {
        return Ok(());
    };
    for (label, color, value) in SERIES {
        let points = samples.iter().filter_map(|s| {
            let age_min = (s.timestamp - newest).num_milliseconds() as f64 / 60_000.0;
            (age_min >= -window_min).then(|| (age_min, value(s).clamp(0.0, 100.0)))
        });
        labelled_line(&mut chart, points, label, color)?;
    }
    draw_legend(&mut chart)
}

type PercentChart<'a, DB> = ChartContext<
    'a,
    DB,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// A solid 2-px series line with its legend entry.
fn labelled_line<'a, DB: DrawingBackend + 'a>(
    chart: &mut PercentChart<'a, DB>,
    points: impl IntoIterator<Item = (f64, f64)>,
    label: &str,
    color: RGBColor,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    chart
        .draw_series(LineSeries::new(points, color.stroke_width(2)))?
        .label(label)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
    Ok(())
}

/// The legend box, top left, as both charts show it.
fn draw_legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut PercentChart<'a, DB>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(RGBColor(200, 200, 200))
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, Utc};

    #[test]
    fn chart_has_one_polyline_per_series_and_skips_old_points() {
        let now = Utc::now();
        let mut samples: Vec<Stats> = (0..5)
            .map(|i| {
                let mut s = Stats {
                    timestamp: now - Duration::seconds(10 * (4 - i)),
                    ..Default::default()
                };
                s.cpu.percent = 10.0 * i as f64;
                s
            })
            .collect();
        samples.insert(
            0,
            Stats {
                timestamp: now - Duration::hours(2),
                ..Default::default()
            },
        );
        let svg = render_usage_chart(&samples);
        assert!(svg.starts_with("<svg"));
        for (label, color, _) in SERIES {
            let stroke = format!("stroke=\"#{:02X}{:02X}{:02X}\"", color.0, color.1, color.2);
            let lines: Vec<&str> = svg
                .lines()
                .filter(|l| l.contains("<polyline") && l.contains(&stroke))
                .collect();
            assert_eq!(lines.len(), 2, "{label}: one line and one legend mark");
            let points = lines
                .iter()
                .map(|l| {
                    l.split("points=\"")
                        .nth(1)
                        .and_then(|p| p.split('"').next())
                        .unwrap_or_default()
                        .split_whitespace()
                        .count()
                })
                .max();
            assert_eq!(
                points,
                Some(5),
                "{label}: the two-hour-old sample is outside the window"
            );
            assert!(svg.contains(label));
        }
    }

    #[test]
    fn empty_chart_still_renders_axes() {
        let svg = render_usage_chart(&[]);
        assert!(svg.contains("minutes ago"));
        assert!(!svg.contains("CPU %"));
    }
}

/// Daily fleet averages with dashed forecasts to the horizon and the capacity threshold; x in days
/// from the newest day (negative = history).
pub mod capacity {
    use super::{CHART_HEIGHT, CHART_WIDTH};
    use crate::models::{DailyUsage, TrendReport, WhatIf, WhatIfResource};
    use plotters::prelude::*;

    type Pick = fn(&crate::models::DailyUsage) -> Option<f64>;
    pub const SERIES: [(&str, &str, RGBColor, Pick); 3] = [
        ("cpu", "CPU %", RGBColor(37, 99, 235), |d| d.cpu),
        ("memory", "Memory %", RGBColor(22, 163, 74), |d| d.memory),
        ("disk", "Disk %", RGBColor(217, 119, 6), |d| d.disk),
    ];
    pub const THRESHOLD_COLOR: RGBColor = RGBColor(220, 38, 38);

    pub fn render(report: &TrendReport, horizon_days: i64, threshold: f64) -> String {
        svg(|root| {
            draw(
                root,
                &report.historical,
                horizon_days,
                threshold,
                Ahead::Forecast(report),
            )
        })
    }

    /// A what-if answer: the history, each forecast dashed and the scenario solid after today.
    pub fn render_what_if(what_if: &WhatIf) -> String {
        svg(|root| {
            draw(
                root,
                &what_if.historical,
                what_if.horizon,
                what_if.capacity_threshold,
                Ahead::Scenario(&what_if.resources),
            )
        })
    }

    /// What is drawn right of today: the trends' forecasts, or a scenario beside them.
    enum Ahead<'a> {
        Forecast(&'a TrendReport),
        Scenario(&'a [WhatIfResource]),
    }

    fn svg(
        draw: impl FnOnce(
            &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
        ) -> Result<(), DrawingAreaErrorKind<std::io::Error>>,
    ) -> String {
        let mut svg = String::new();
        let drawn = {
            let root =
                SVGBackend::with_string(&mut svg, (CHART_WIDTH, CHART_HEIGHT)).into_drawing_area();
            draw(&root).and_then(|_| root.present())
        };
        if drawn.is_ok() {
            svg
        } else {
            String::new()
        }
    }

    fn draw<DB: DrawingBackend>(
        root: &DrawingArea<DB, plotters::coord::Shift>,
        historical: &[DailyUsage],
        horizon_days: i64,
        threshold: f64,
        ahead: Ahead<'_>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        let newest = historical.last().map(|d| d.date);
        let oldest = historical.first().map(|d| d.date);
        let span = match (oldest, newest) {
            (Some(a), Some(b)) => (b - a).num_days().max(1) as f64,
            _ => 30.0,
        };
        let mut chart = ChartBuilder::on(root)
            .margin(10)
            .x_label_area_size(28)
            .y_label_area_size(36)
            .build_cartesian_2d(-span..horizon_days.max(1) as f64, 0.0..100.0)?;
        let x_desc = match ahead {
            Ahead::Forecast(_) => "days from today (forecast dashed)",
            Ahead::Scenario(_) => "days from today (forecast dashed, scenario solid)",
        };
        chart
            .configure_mesh()
            .x_labels(10)
            .y_labels(6)
            .x_desc(x_desc)
            .x_label_formatter(&|x| format!("{x:+.0}"))
            .y_label_formatter(&|y| format!("{y:.0}%"))
            .light_line_style(RGBColor(240, 240, 240))
            .draw()?;
        chart.draw_series(DashedLineSeries::new(
            vec![(-span, threshold), (horizon_days as f64, threshold)],
            6,
            4,
            THRESHOLD_COLOR.stroke_width(1),
        ))?;
        let Some(newest) = newest else { return Ok(()) };
        for (metric, label, color, pick) in SERIES {
            let points: Vec<(f64, f64)> = historical
                .iter()
                .filter_map(|d| {
                    pick(d).map(|v| ((d.date - newest).num_days() as f64, v.clamp(0.0, 100.0)))
                })
                .collect();
            if points.is_empty() {
                continue;
            }
            match ahead {
                Ahead::Forecast(report) => {
                    if let (Some(last), Some(forecast)) = (
                        points.last(),
                        report.forecast.as_ref().and_then(|f| f.get(metric)),
                    ) {
                        chart.draw_series(DashedLineSeries::new(
                            vec![*last, (horizon_days as f64, forecast.predicted_value)],
                            5,
                            4,
                            color.stroke_width(2),
                        ))?;
                    }
                }
                Ahead::Scenario(resources) => {
                    if let Some(resource) = resources.iter().find(|r| r.metric == metric) {
                        let at = |p: &crate::models::WhatIfPoint, v: f64| {
                            ((p.date - newest).num_days() as f64, v)
                        };
                        chart.draw_series(DashedLineSeries::new(
                            resource.projection.iter().map(|p| at(p, p.forecast)),
                            5,
                            4,
                            color.stroke_width(1),
                        ))?;
                        chart.draw_series(LineSeries::new(
                            resource.projection.iter().map(|p| at(p, p.scenario)),
                            color.stroke_width(3),
                        ))?;
                    }
                }
            }
            super::labelled_line(&mut chart, points, label, color)?;
        }
        super::draw_legend(&mut chart)
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::models::{DailyUsage, MetricForecast};
        use chrono::{Duration, Utc};

        #[test]
        fn history_lines_forecast_dashes_and_the_threshold_are_drawn() {
            let today = Utc::now();
            let historical = (0..10)
                .map(|d| DailyUsage {
                    date: today - Duration::days(9 - d),
                    cpu: Some(40.0 + d as f64),
                    memory: None,
                    disk: Some(50.0),
                })
                .collect();
            let mut report = TrendReport {
                historical,
                ..Default::default()
            };
            report.forecast = Some(
                [(
                    "cpu".into(),
                    MetricForecast {
                        predicted_value: 79.0,
                        confidence: 0.9,
                        capacity_exceed_date: None,
                        method: "linear".into(),
                        ..Default::default()
                    },
                )]
                .into(),
            );
            let svg = render(&report, 30, 80.0);
            let stroke = |c: RGBColor| format!("stroke=\"#{:02X}{:02X}{:02X}\"", c.0, c.1, c.2);
            let cpu_lines = svg
                .lines()
                .filter(|l| l.contains(&stroke(SERIES[0].2)))
                .count();
            assert!(
                cpu_lines >= 3,
                "history, forecast dashes and legend: {cpu_lines}"
            );
            assert!(svg.contains(&stroke(THRESHOLD_COLOR)), "threshold line");
            assert!(svg.contains("CPU %") && svg.contains("Disk %") && !svg.contains("Memory %"));
            let empty = render(&TrendReport::default(), 30, 80.0);
            assert!(empty.contains("days from today") && empty.contains(&stroke(THRESHOLD_COLOR)));
        }
    }
}

/// Time-series charts drawn on the server: the first paint of the host and compare views, and
/// what a browser without JavaScript sees. x is epoch milliseconds over the range asked for.
pub mod series {
    use plotters::prelude::*;

    pub const WIDTH: u32 = 720;
    pub const HEIGHT: u32 = 200;
    /// Line colours in series order (the browser's charts use the same).
    pub const COLORS: [RGBColor; 8] = [
        RGBColor(37, 99, 235),
        RGBColor(217, 119, 6),
        RGBColor(22, 163, 74),
        RGBColor(147, 51, 234),
        RGBColor(220, 38, 38),
        RGBColor(8, 145, 178),
        RGBColor(101, 163, 13),
        RGBColor(219, 39, 119),
    ];

    /// One line: its label and (instant, value) points; `None` values break the line.
    pub struct Line<'a> {
        pub label: &'a str,
        pub points: Vec<(i64, Option<f64>)>,
    }

    /// A chart of `lines` over `from`…`to`, the first line with its min–max `band` when given;
    /// `unit` formats the y axis (see `panels::format_value`).
    pub fn render(
        lines: &[Line<'_>],
        band: Option<&[(i64, f64, f64)]>,
        from: i64,
        to: i64,
        unit: &str,
    ) -> String {
        let mut svg = String::new();
        let drawn = {
            let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
            draw(&root, lines, band, from, to, unit).and_then(|_| root.present())
        };
        if drawn.is_ok() {
            svg
        } else {
            String::new()
        }
    }

    fn draw<DB: DrawingBackend>(
        root: &DrawingArea<DB, plotters::coord::Shift>,
        lines: &[Line<'_>],
        band: Option<&[(i64, f64, f64)]>,
        from: i64,
        to: i64,
        unit: &str,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        let values = lines
            .iter()
            .flat_map(|l| l.points.iter().filter_map(|p| p.1))
            .chain(band.into_iter().flatten().map(|b| b.2));
        let top = values.fold(0.0_f64, f64::max);
        let top = match unit {
            "percent" => 100.0,
            _ if top <= 0.0 => 1.0,
            _ => top * 1.1,
        };
        let span = (to - from).max(1);
        let mut chart = ChartBuilder::on(root)
            .margin(8)
            .x_label_area_size(22)
            .y_label_area_size(64)
            .build_cartesian_2d(from as f64..to as f64, 0.0..top)?;
        chart
            .configure_mesh()
            .x_labels(6)
            .y_labels(4)
            .x_label_formatter(&|x| crate::view_state::short_time(*x as i64, span))
            .y_label_formatter(&|y| crate::panels::format_value(*y, unit))
            .light_line_style(RGBColor(240, 240, 240))
            .draw()?;
        if let Some(band) = band {
            let color = COLORS[0].mix(0.15);
            chart.draw_series(band.iter().map(|(t, low, high)| {
                let w = (span as f64 / 600.0).max(1.0);
                Rectangle::new([(*t as f64, *low), (*t as f64 + w, *high)], color.filled())
            }))?;
        }
        for (i, line) in lines.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            // Each run of consecutive values is one polyline: gaps stay gaps.
            let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
            for (t, v) in &line.points {
                match v {
                    Some(v) => runs
                        .last_mut()
                        .map(|r| r.push((*t as f64, *v)))
                        .unwrap_or_default(),
                    None => runs.push(Vec::new()),
                }
            }
            let mut labelled = false;
            for run in runs.into_iter().filter(|r| !r.is_empty()) {
                let series = chart.draw_series(LineSeries::new(run, color.stroke_width(2)))?;
                if !labelled {
                    series.label(line.label).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                    });
                    labelled = true;
                }
            }
        }
        if !lines.is_empty() {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.8))
                .border_style(RGBColor(200, 200, 200))
                .draw()?;
        }
        Ok(())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn lines_break_at_gaps_and_the_band_is_drawn() {
            let points = vec![
                (0, Some(10.0)),
                (1000, Some(20.0)),
                (2000, None),
                (3000, Some(30.0)),
                (4000, Some(35.0)),
            ];
            let svg = render(
                &[Line {
                    label: "usage",
                    points,
                }],
                Some(&[(0, 5.0, 15.0), (1000, 15.0, 25.0)]),
                0,
                4000,
                "percent",
            );
            let stroke = format!(
                "stroke=\"#{:02X}{:02X}{:02X}\"",
                COLORS[0].0, COLORS[0].1, COLORS[0].2
            );
            let polylines = svg
                .lines()
                .filter(|l| l.contains("<polyline") && l.contains(&stroke))
                .count();
            assert_eq!(polylines, 3, "two runs and the legend mark");
            assert!(svg.contains("usage"));
            assert!(svg.contains("<rect"), "the band");
            assert!(
                render(&[], None, 0, 1, "count").starts_with("<svg"),
                "an empty chart still has axes"
            );
        }
    }
}

/// The investigate page's small charts: one series over its baseline and window, the window
/// shaded, so a row shows at a glance what "changed" means (a step, a spike, a drop).
pub mod change {
    pub const WIDTH: f64 = 240.0;
    pub const HEIGHT: f64 = 44.0;

    /// An SVG of `points` (epoch ms, value; `None` breaks the line) with `window_start`…`end`
    /// shaded; y spans the values' own range, so a small move on a large level still shows.
    pub fn spark(points: &[(i64, Option<f64>)], window_start: i64, end: i64) -> String {
        let values: Vec<f64> = points
            .iter()
            .filter_map(|p| p.1)
            .filter(|v| v.is_finite())
            .collect();
        let (Some(first), Some(last)) = (points.first(), points.last()) else {
            return String::new();
        };
        if values.is_empty() {
            return String::new();
        }
        let (low, high) = values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
                (l.min(*v), h.max(*v))
            });
        let span_y = if high > low { high - low } else { 1.0 };
        let (from, to) = (first.0, last.0.max(end).max(first.0 + 1));
        let x = |t: i64| (t - from) as f64 / (to - from) as f64 * WIDTH;
        let y = |v: f64| HEIGHT - 3.0 - (v - low) / span_y * (HEIGHT - 6.0);
        let mut runs: Vec<(bool, Vec<String>)> = Vec::new();
        let mut previous: Option<String> = None;
        for (t, value) in points {
            let Some(v) = value.filter(|v| v.is_finite()) else {
                previous = None;
                runs.push((false, Vec::new()));
                continue;
            };
            let in_window = *t >= window_start;
            let point = format!("{:.1},{:.1}", x(*t), y(v));
            // A new run where the window starts, joined to the last baseline point.
            if runs.last().is_none_or(|r| r.0 != in_window) {
                let mut run = Vec::new();
                if let Some(p) = previous.take() {
                    run.push(p);
                }
                runs.push((in_window, run));
            }
            if let Some(run) = runs.last_mut() {
                run.1.push(point.clone());
            }
            previous = Some(point);
        }
        let shade_x = x(window_start).clamp(0.0, WIDTH);
        let lines: String = runs
            .into_iter()
            .filter(|r| !r.1.is_empty())
            .map(|(window, run)| {
                format!(
                    "<polyline class=\"{}\" points=\"{}\"/>",
                    if window { "during" } else { "before" },
                    run.join(" ")
                )
            })
            .collect();
        format!(
            "<svg viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" class=\"change-spark\" aria-hidden=\"true\"><rect class=\"window\" x=\"{shade_x:.1}\" y=\"0\" width=\"{:.1}\" height=\"{HEIGHT}\"/>{lines}</svg>",
            (WIDTH - shade_x).max(0.0)
        )
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn the_window_is_shaded_and_drawn_apart_from_the_baseline() {
            let points = [
                (0, Some(10.0)),
                (1000, Some(10.0)),
                (2000, None),
                (3000, Some(12.0)),
                (4000, Some(50.0)),
                (5000, Some(60.0)),
            ];
            let svg = spark(&points, 4000, 5000);
            assert_eq!(
                svg.matches("class=\"before\"").count(),
                2,
                "a gap splits the baseline: {svg}"
            );
            assert_eq!(svg.matches("class=\"during\"").count(), 1);
            // The window starts at 4/5 of the width; its line joins the last baseline point.
            assert!(svg.contains("<rect class=\"window\" x=\"192.0\""), "{svg}");
            assert!(svg.contains("class=\"during\" points=\"144.0,"), "{svg}");
            // The lowest value sits at the bottom, the highest at the top.
            assert!(
                svg.contains("0.0,41.0") && svg.contains("240.0,3.0"),
                "{svg}"
            );
            assert_eq!(spark(&[], 0, 1), "");
            assert_eq!(spark(&[(0, None)], 0, 1), "");
        }
    }
}
