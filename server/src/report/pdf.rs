//! The PDF form of a report: a title page, the per-resource table with a plotters chart, the
//! period's alerts and the recommendations (and, for detailed reports, the time series).
//!
//! Text uses the PDF base fonts (nothing to embed or download), so it is limited to Latin-1;
//! other characters print as `?`. The chart is drawn by plotters into a bitmap without text; its
//! axis labels are PDF text placed beside it.
use super::{ReportData, SeriesPoint};
use plotters::prelude::*;
use plotters::style::Color as _;
use printpdf::{
    BuiltinFont, Color, ColorBits, ColorSpace, Image, ImageTransform, ImageXObject,
    IndirectFontRef, Line, Mm, PdfDocument, PdfDocumentReference, PdfLayerReference, Point, Px,
    Rgb,
};

const PAGE_W: f32 = 210.0;
const PAGE_H: f32 = 297.0;
const LEFT: f32 = 20.0;
const CHART_W_PX: u32 = 1200;
const CHART_H_PX: u32 = 520;
const CHART_W_MM: f32 = 170.0;
/// Plot margin inside the bitmap, pixels.
const CHART_MARGIN_PX: u32 = 12;
const SERIES_COLORS: [(u8, u8, u8); 3] = [(37, 99, 235), (22, 163, 74), (234, 88, 12)];

fn latin(text: &str) -> String {
    text.chars()
        .map(|c| {
            if (c as u32) < 0x100 && !c.is_control() {
                c
            } else {
                '?'
            }
        })
        .collect()
}

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

struct Writer<'a> {
    doc: &'a PdfDocumentReference,
    layer: PdfLayerReference,
    regular: IndirectFontRef,
    bold: IndirectFontRef,
    y: f32,
}

impl Writer<'_> {
    fn text(&self, text: &str, size: f32, x: f32, y: f32, bold: bool) {
        self.layer.use_text(
            latin(text),
            size,
            Mm(x),
            Mm(y),
            if bold { &self.bold } else { &self.regular },
        );
    }

    /// A line of text at the cursor, which then moves down.
    fn line(&mut self, text: &str, size: f32, bold: bool) {
        self.ensure(size * 0.5);
        self.text(text, size, LEFT, self.y, bold);
        self.y -= size * 0.5 + 1.5;
    }

    /// A table row of cells at the given x positions.
    fn row(&mut self, cells: &[String], xs: &[f32], bold: bool) {
        self.ensure(6.0);
        for (cell, x) in cells.iter().zip(xs) {
            self.text(cell, 9.0, *x, self.y, bold);
        }
        self.y -= 5.5;
    }

    fn rule(&mut self) {
        let y = self.y + 3.5;
        self.layer.set_outline_thickness(0.4);
        self.layer.add_line(Line {
            points: vec![
                (Point::new(Mm(LEFT), Mm(y)), false),
                (Point::new(Mm(PAGE_W - LEFT), Mm(y)), false),
            ],
            is_closed: false,
        });
    }

    /// Starts a new page when fewer than `needed` mm remain.
    fn ensure(&mut self, needed: f32) {
        if self.y - needed < 20.0 {
            self.page("continued");
        }
    }

    fn page(&mut self, name: &str) {
        let (page, layer) = self.doc.add_page(Mm(PAGE_W), Mm(PAGE_H), name);
        self.layer = self.doc.get_page(page).get_layer(layer);
        self.y = PAGE_H - 25.0;
    }

    fn heading(&mut self, text: &str) {
        self.y -= 4.0;
        self.line(text, 15.0, true);
        self.y -= 2.0;
    }
}

/// The chart's pixels (RGB): CPU, memory and disk percentages over the period on 0–100 %.
pub fn chart(series: &[SeriesPoint]) -> anyhow::Result<Vec<u8>> {
    let mut pixels = vec![255u8; (CHART_W_PX * CHART_H_PX * 3) as usize];
    {
        let root =
            BitMapBackend::with_buffer(&mut pixels, (CHART_W_PX, CHART_H_PX)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| anyhow::anyhow!("chart: {e:?}"))?;
        let last = series.len().saturating_sub(1).max(1) as f64;
        let mut chart = ChartBuilder::on(&root)
            .margin(CHART_MARGIN_PX)
            .build_cartesian_2d(0f64..last, 0f64..100f64)
            .map_err(|e| anyhow::anyhow!("chart: {e:?}"))?;
        for level in [0.0, 25.0, 50.0, 75.0, 100.0] {
            chart
                .draw_series(LineSeries::new(
                    [(0.0, level), (last, level)],
                    RGBColor(215, 215, 215),
                ))
                .map_err(|e| anyhow::anyhow!("chart: {e:?}"))?;
        }
        let pick: [fn(&SeriesPoint) -> Option<f64>; 3] = [|p| p.cpu, |p| p.memory, |p| p.disk];
        for (read, (r, g, b)) in pick.iter().zip(SERIES_COLORS) {
            let points: Vec<(f64, f64)> = series
                .iter()
                .enumerate()
                .filter_map(|(i, p)| read(p).map(|v| (i as f64, v.clamp(0.0, 100.0))))
                .collect();
            chart
                .draw_series(LineSeries::new(points, RGBColor(r, g, b).stroke_width(3)))
                .map_err(|e| anyhow::anyhow!("chart: {e:?}"))?;
        }
        root.present()
            .map_err(|e| anyhow::anyhow!("chart: {e:?}"))?;
    }
    Ok(pixels)
}

fn place_chart(w: &mut Writer<'_>, data: &ReportData) -> anyhow::Result<()> {
    let height_mm = CHART_W_MM * CHART_H_PX as f32 / CHART_W_PX as f32;
    w.ensure(height_mm + 20.0);
    let bottom = w.y - height_mm;
    let dpi = CHART_W_PX as f32 / (CHART_W_MM / 25.4);
    let image = Image::from(ImageXObject {
        width: Px(CHART_W_PX as usize),
        height: Px(CHART_H_PX as usize),
        color_space: ColorSpace::Rgb,
        bits_per_component: ColorBits::Bit8,
        interpolate: true,
        image_data: chart(&data.series)?,
        image_filter: None,
        smask: None,
        clipping_bbox: None,
    });
    let x0 = LEFT + 8.0;
    image.add_to_layer(
        w.layer.clone(),
        ImageTransform {
            translate_x: Some(Mm(x0)),
            translate_y: Some(Mm(bottom)),
            dpi: Some(dpi),
            ..Default::default()
        },
    );
    // Axis labels where plotters put the grid lines: the plot spans the bitmap minus its margin.
    let margin_mm = CHART_MARGIN_PX as f32 * CHART_W_MM / CHART_W_PX as f32;
    let plot_h = height_mm - 2.0 * margin_mm;
    for level in [0.0f32, 25.0, 50.0, 75.0, 100.0] {
        w.text(
            &format!("{level:.0} %"),
            7.0,
            LEFT - 4.0,
            bottom + margin_mm + plot_h * level / 100.0 - 1.0,
            false,
        );
    }
    let below = bottom - 5.0;
    w.text(
        &data.start.format("%Y-%m-%d %H:%M UTC").to_string(),
        7.0,
        x0,
        below,
        false,
    );
    w.text(
        &data.end.format("%Y-%m-%d %H:%M UTC").to_string(),
        7.0,
        x0 + CHART_W_MM - 30.0,
        below,
        false,
    );
    for (i, (name, (r, g, b))) in ["CPU", "Memory", "Disk"]
        .iter()
        .zip(SERIES_COLORS)
        .enumerate()
    {
        w.layer.set_fill_color(Color::Rgb(Rgb::new(
            f32::from(r) / 255.0,
            f32::from(g) / 255.0,
            f32::from(b) / 255.0,
            None,
        )));
        w.text(
            &format!("- {name}"),
            9.0,
            x0 + 60.0 + i as f32 * 25.0,
            below,
            true,
        );
    }
    w.layer
        .set_fill_color(Color::Rgb(Rgb::new(0.0, 0.0, 0.0, None)));
    w.y = below - 10.0;
    Ok(())
}

pub fn render(data: &ReportData) -> anyhow::Result<Vec<u8>> {
    let (doc, first_page, first_layer) =
        PdfDocument::new(latin(&data.title), Mm(PAGE_W), Mm(PAGE_H), "title");
    let regular = doc.add_builtin_font(BuiltinFont::Helvetica)?;
    let bold = doc.add_builtin_font(BuiltinFont::HelveticaBold)?;
    let layer = doc.get_page(first_page).get_layer(first_layer);
    let mut w = Writer {
        doc: &doc,
        layer,
        regular,
        bold,
        y: PAGE_H - 70.0,
    };

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
    drop(w);
    Ok(doc.save_to_bytes()?)
}
