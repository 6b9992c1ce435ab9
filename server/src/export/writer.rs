//! Writes export rows to a file as they arrive: CSV, JSON (an array of objects) or an XLSX
//! workbook in constant-memory mode (rows go to disk as they are written), so no format holds the
//! whole export in memory.
use super::format::{DateFormat, FileFormat, NumberFormat};
use anyhow::Context;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rust_xlsxwriter::{Format, Workbook};
use serde_json::{Map, Value};
use std::{
    fs::File,
    io::{BufWriter, Write},
    path::{Path, PathBuf},
};

/// What every row looks like.
#[derive(Clone, Debug)]
pub struct Layout {
    pub columns: Vec<String>,
    pub include_headers: bool,
    pub timezone: Tz,
    pub date: DateFormat,
    pub number: NumberFormat,
}

pub enum RowWriter {
    Csv(csv::Writer<BufWriter<File>>),
    Json {
        out: BufWriter<File>,
        first: bool,
    },
    Excel {
        workbook: Box<Workbook>,
        path: PathBuf,
        row: u32,
        date: Format,
        number: Format,
    },
}

const TIME_HEADER: &str = "timestamp";
const VM_HEADER: &str = "vmId";

impl RowWriter {
    pub fn create(path: &Path, format: FileFormat, layout: &Layout) -> anyhow::Result<Self> {
        let headers = || {
            std::iter::once(TIME_HEADER.to_owned())
                .chain(std::iter::once(VM_HEADER.to_owned()))
                .chain(layout.columns.iter().cloned())
        };
        match format {
            FileFormat::Csv => {
                let file = File::create(path)
                    .with_context(|| format!("cannot create {}", path.display()))?;
                let mut writer = csv::Writer::from_writer(BufWriter::new(file));
                if layout.include_headers {
                    writer.write_record(headers())?;
                }
                Ok(RowWriter::Csv(writer))
            }
            FileFormat::Json => {
                let file = File::create(path)
                    .with_context(|| format!("cannot create {}", path.display()))?;
                let mut out = BufWriter::new(file);
                out.write_all(b"[")?;
                Ok(RowWriter::Json { out, first: true })
            }
            FileFormat::Excel => {
                let mut workbook = Box::new(Workbook::new());
                // Constant-memory rows are buffered in temporary files next to the export.
                if let Some(dir) = path.parent() {
                    workbook.set_tempdir(dir)?;
                }
                let bold = Format::new().set_bold();
                let date = Format::new().set_num_format(&layout.date.excel);
                let number = Format::new().set_num_format(&layout.number.pattern);
                let sheet = workbook.add_worksheet_with_constant_memory();
                sheet.set_name("history")?;
                sheet.set_column_width(0, 21)?;
                sheet.set_column_width(1, 16)?;
                for col in 0..layout.columns.len() {
                    sheet.set_column_width(col as u16 + 2, 18)?;
                }
                let mut row = 0;
                if layout.include_headers {
                    for (col, header) in headers().enumerate() {
                        sheet.write_string_with_format(0, col as u16, header, &bold)?;
                    }
                    sheet.set_freeze_panes(1, 0)?;
                    row = 1;
                }
                Ok(RowWriter::Excel {
                    workbook,
                    path: path.to_owned(),
                    row,
                    date,
                    number,
                })
            }
        }
    }

    pub fn write(
        &mut self,
        layout: &Layout,
        ts: DateTime<Utc>,
        vm_id: &str,
        values: &[Option<f64>],
    ) -> anyhow::Result<()> {
        let local = ts.with_timezone(&layout.timezone);
        match self {
            RowWriter::Csv(writer) => {
                let mut record = Vec::with_capacity(values.len() + 2);
                record.push(local.format(&layout.date.chrono).to_string());
                record.push(crate::spreadsheet::text(vm_id));
                record.extend(
                    values
                        .iter()
                        .map(|v| v.map(|v| layout.number.text(v)).unwrap_or_default()),
                );
                writer.write_record(&record)?;
            }
            RowWriter::Json { out, first } => {
                let mut object = Map::new();
                object.insert(
                    TIME_HEADER.into(),
                    Value::String(local.format(&layout.date.chrono).to_string()),
                );
                object.insert(VM_HEADER.into(), Value::String(vm_id.to_owned()));
                for (column, value) in layout.columns.iter().zip(values) {
                    object.insert(
                        column.clone(),
                        value.map_or(Value::Null, |v| serde_json::json!(layout.number.round(v))),
                    );
                }
                if !*first {
                    out.write_all(b",")?;
                }
                *first = false;
                out.write_all(b"\n")?;
                serde_json::to_writer(&mut *out, &object)?;
            }
            RowWriter::Excel {
                workbook,
                row,
                date,
                number,
                ..
            } => {
                let sheet = workbook.worksheet_from_index(0)?;
                // Excel has no time zones: the cell holds the wall-clock time of the chosen zone.
                sheet.write_datetime_with_format(*row, 0, local.naive_local(), date)?;
                sheet.write_string(*row, 1, vm_id)?;
                for (col, value) in values.iter().enumerate() {
                    if let Some(value) = value {
                        sheet.write_number_with_format(*row, col as u16 + 2, *value, number)?;
                    }
                }
                *row += 1;
            }
        }
        Ok(())
    }

    /// Flushes and closes the file (for XLSX: assembles the workbook; blocking, a second or so).
    pub fn finish(self) -> anyhow::Result<()> {
        match self {
            RowWriter::Csv(mut writer) => {
                writer.flush()?;
                writer
                    .into_inner()
                    .map_err(|e| anyhow::anyhow!("cannot flush the CSV file: {e}"))?
                    .flush()?;
            }
            RowWriter::Json { mut out, .. } => {
                out.write_all(b"\n]\n")?;
                out.flush()?;
            }
            RowWriter::Excel {
                mut workbook, path, ..
            } => workbook.save(&path)?,
        }
        Ok(())
    }
}
