//! What Lookout's PDFs (a host's report, the capacity plan) are written with: A4 pages of text
//! lines, table rows and plotters charts.
//!
//! Text uses the PDF base fonts (nothing to embed or download), so it is limited to Latin-1;
//! other characters print as `?`. Charts are drawn by plotters into a bitmap without text (the
//! server's plotters has no fonts); their axis labels and legend are PDF text placed beside them.
use plotters::prelude::*;
use printpdf::{
    BuiltinFont, Color, ColorBits, ColorSpace, Image, ImageTransform, ImageXObject,
    IndirectFontRef, Line, Mm, PdfDocument, PdfDocumentReference, PdfLayerReference, Point, Px,
    Rgb,
};

pub const PAGE_W: f32 = 210.0;
pub const PAGE_H: f32 = 297.0;
pub const LEFT: f32 = 20.0;
const CHART_W_PX: u32 = 1200;
const CHART_H_PX: u32 = 520;
const CHART_W_MM: f32 = 170.0;
/// Plot margin inside the bitmap, pixels.
const CHART_MARGIN_PX: u32 = 12;

/// `text` in Latin-1: the typography Lookout writes (dashes, arrows, quotes, ellipses, ≤ ≥) as
/// its ASCII look-alike, anything else outside Latin-1 (and every control character) as `?`.
pub fn latin(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '–' | '—' | '−' => out.push('-'),
            '→' => out.push_str("->"),
            '←' => out.push_str("<-"),
            '≤' => out.push_str("<="),
            '≥' => out.push_str(">="),
            '…' => out.push_str("..."),
            '‘' | '’' => out.push('\''),
            '“' | '”' => out.push('"'),
            c if (c as u32) < 0x100 && !c.is_control() => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}

/// `text` cut into lines of at most `width` characters at spaces (a longer word stands alone).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// A PDF's bytes as an HTTP download named `name` (the pages' and the API's).
pub fn download(bytes: Vec<u8>, name: &str) -> axum::response::Response {
    use axum::{http::header, response::IntoResponse};
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// An RGB colour, 0–255 per channel.
pub type Rgb8 = (u8, u8, u8);

/// What is printed around a chart's bitmap: labels at fractions (0–1) of the plot's height and
/// width, and the legend's names in their lines' colours.
pub struct ChartText {
    pub y: Vec<(f32, String)>,
    pub x: Vec<(f32, String)>,
    pub legend: Vec<(String, Rgb8)>,
}

/// What drawing on a chart's bitmap can fail with.
pub type BitmapError = DrawingAreaErrorKind<<BitMapBackend<'static> as DrawingBackend>::ErrorType>;

/// A chart's pixels (RGB, `CHART_W_PX` × `CHART_H_PX`) drawn by `draw` on a white bitmap whose
/// plot area is inset by the margin the labels of [`Writer::chart`] assume.
pub fn bitmap(
    draw: impl FnOnce(
        &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    ) -> Result<(), BitmapError>,
) -> anyhow::Result<Vec<u8>> {
    let mut pixels = vec![255u8; (CHART_W_PX * CHART_H_PX * 3) as usize];
    {
        let root =
            BitMapBackend::with_buffer(&mut pixels, (CHART_W_PX, CHART_H_PX)).into_drawing_area();
        let plot = root.margin(
            CHART_MARGIN_PX,
            CHART_MARGIN_PX,
            CHART_MARGIN_PX,
            CHART_MARGIN_PX,
        );
        draw(&plot)
            .and_then(|_| root.present())
            .map_err(|e| anyhow::anyhow!("chart: {e:?}"))?;
    }
    Ok(pixels)
}

/// A document being written: the cursor `y` (mm from the page's bottom) moves down as lines are
/// added, and a new page starts when one does not fit.
pub struct Writer {
    doc: PdfDocumentReference,
    pub layer: PdfLayerReference,
    regular: IndirectFontRef,
    bold: IndirectFontRef,
    pub y: f32,
}

impl Writer {
    /// A document titled `title` (its metadata), the cursor `top` mm below the first page's top.
    pub fn new(title: &str, top: f32) -> anyhow::Result<Writer> {
        let (doc, first_page, first_layer) =
            PdfDocument::new(latin(title), Mm(PAGE_W), Mm(PAGE_H), "first");
        let regular = doc.add_builtin_font(BuiltinFont::Helvetica)?;
        let bold = doc.add_builtin_font(BuiltinFont::HelveticaBold)?;
        let layer = doc.get_page(first_page).get_layer(first_layer);
        Ok(Writer {
            doc,
            layer,
            regular,
            bold,
            y: PAGE_H - top,
        })
    }

    /// The document's bytes.
    pub fn finish(self) -> anyhow::Result<Vec<u8>> {
        Ok(self.doc.save_to_bytes()?)
    }

    pub fn text(&self, text: &str, size: f32, x: f32, y: f32, bold: bool) {
        self.layer.use_text(
            latin(text),
            size,
            Mm(x),
            Mm(y),
            if bold { &self.bold } else { &self.regular },
        );
    }

    /// A line of text at the cursor, which then moves down.
    pub fn line(&mut self, text: &str, size: f32, bold: bool) {
        self.ensure(size * 0.5);
        self.text(text, size, LEFT, self.y, bold);
        self.y -= size * 0.5 + 1.5;
    }

    /// A paragraph: `text` wrapped to the page's width, one [`Writer::line`] per line.
    pub fn paragraph(&mut self, text: &str, size: f32, bold: bool) {
        // Helvetica's characters average about half the font size wide (1 pt = 0.3528 mm).
        let width = ((PAGE_W - 2.0 * LEFT) / (size * 0.3528 * 0.5)) as usize;
        for line in wrap(text, width.max(10)) {
            self.line(&line, size, bold);
        }
    }

    /// A table row of cells at the given x positions.
    pub fn row(&mut self, cells: &[String], xs: &[f32], bold: bool) {
        self.ensure(6.0);
        for (cell, x) in cells.iter().zip(xs) {
            self.text(cell, 9.0, *x, self.y, bold);
        }
        self.y -= 5.5;
    }

    /// A rule under the row just written (a table's header).
    pub fn rule(&mut self) {
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

    /// The fill colour of the text that follows.
    pub fn color(&self, (r, g, b): Rgb8) {
        let channel = |c: u8| f32::from(c) / 255.0;
        self.layer.set_fill_color(Color::Rgb(Rgb::new(
            channel(r),
            channel(g),
            channel(b),
            None,
        )));
    }

    /// Starts a new page when fewer than `needed` mm remain.
    pub fn ensure(&mut self, needed: f32) {
        if self.y - needed < 20.0 {
            self.page("continued");
        }
    }

    pub fn page(&mut self, name: &str) {
        let (page, layer) = self.doc.add_page(Mm(PAGE_W), Mm(PAGE_H), name);
        self.layer = self.doc.get_page(page).get_layer(layer);
        self.y = PAGE_H - 25.0;
    }

    pub fn heading(&mut self, text: &str) {
        self.y -= 4.0;
        self.line(text, 15.0, true);
        self.y -= 2.0;
    }

    /// A chart (pixels from [`bitmap`]) at the cursor, the full text width, with its labels: `y`
    /// left of the plot, `x` under it, the legend under those.
    pub fn chart(&mut self, pixels: Vec<u8>, labels: &ChartText) {
        let height_mm = CHART_W_MM * CHART_H_PX as f32 / CHART_W_PX as f32;
        self.ensure(height_mm + 20.0);
        let bottom = self.y - height_mm;
        let dpi = CHART_W_PX as f32 / (CHART_W_MM / 25.4);
        let image = Image::from(ImageXObject {
            width: Px(CHART_W_PX as usize),
            height: Px(CHART_H_PX as usize),
            color_space: ColorSpace::Rgb,
            bits_per_component: ColorBits::Bit8,
            interpolate: true,
            image_data: pixels,
            image_filter: None,
            smask: None,
            clipping_bbox: None,
        });
        let x0 = LEFT + 8.0;
        image.add_to_layer(
            self.layer.clone(),
            ImageTransform {
                translate_x: Some(Mm(x0)),
                translate_y: Some(Mm(bottom)),
                dpi: Some(dpi),
                ..Default::default()
            },
        );
        // The plot spans the bitmap minus its margin.
        let margin_mm = CHART_MARGIN_PX as f32 * CHART_W_MM / CHART_W_PX as f32;
        let plot_h = height_mm - 2.0 * margin_mm;
        let plot_w = CHART_W_MM - 2.0 * margin_mm;
        for (at, label) in &labels.y {
            self.text(
                label,
                7.0,
                LEFT - 4.0,
                bottom + margin_mm + plot_h * at - 1.0,
                false,
            );
        }
        let below = bottom - 4.0;
        for (at, label) in &labels.x {
            // Centred on its place (about 1.3 mm a character at 7 pt), kept inside the chart.
            let half = label.chars().count() as f32 * 0.65;
            let x = (x0 + margin_mm + plot_w * at - half).clamp(x0, x0 + CHART_W_MM - 2.0 * half);
            self.text(label, 7.0, x, below, false);
        }
        let legend_y = below - 5.5;
        let mut x = x0;
        for (name, rgb) in &labels.legend {
            self.color(*rgb);
            self.text(&format!("- {name}"), 9.0, x, legend_y, true);
            x += 8.0 + name.chars().count() as f32 * 2.0;
        }
        self.color((0, 0, 0));
        self.y = legend_y - 9.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_cuts_at_spaces_and_keeps_long_words_whole() {
        assert_eq!(
            wrap("the quick brown fox jumps", 10),
            ["the quick", "brown fox", "jumps"]
        );
        assert_eq!(
            wrap("a averyverylongword b", 5),
            ["a", "averyverylongword", "b"]
        );
        assert!(wrap("   ", 5).is_empty());
    }

    #[test]
    fn latin_replaces_what_the_base_fonts_cannot_print() {
        assert_eq!(latin("80 % → 90 % é\n"), "80 % -> 90 % é?");
        assert_eq!(latin("“1–2” ≥ 3… ✓"), "\"1-2\" >= 3... ?");
    }
}
