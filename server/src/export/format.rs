//! How exported values look: file formats, columns, date and number formats, file names.
use crate::storage::catalog::Group;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    Csv,
    Excel,
    Json,
}

impl FileFormat {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "csv" => FileFormat::Csv,
            "excel" | "xlsx" => FileFormat::Excel,
            "json" => FileFormat::Json,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            FileFormat::Csv => "csv",
            FileFormat::Excel => "excel",
            FileFormat::Json => "json",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            FileFormat::Csv => "csv",
            FileFormat::Excel => "xlsx",
            FileFormat::Json => "json",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            FileFormat::Csv => "text/csv; charset=utf-8",
            FileFormat::Excel => {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
            FileFormat::Json => "application/json",
        }
    }
}

/// Every value column of an export over `groups`: `group.field` as in the history API's points,
/// plus the bytes a network interval moved.
pub fn columns(groups: &[Group]) -> Vec<String> {
    let mut columns: Vec<String> = crate::history::selected_metrics(groups)
        .iter()
        .map(|m| m.name())
        .collect();
    if groups.contains(&Group::Network) {
        columns.extend(["network.inBytes".to_owned(), "network.outBytes".to_owned()]);
    }
    columns
}

/// A date format in the seed's tokens (`YYYY-MM-DD HH:mm:ss`), translated for chrono and Excel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateFormat {
    pub chrono: String,
    pub excel: String,
}

impl DateFormat {
    /// Supported tokens: YYYY, YY, MM, DD, HH, mm, ss, SSS, Z (UTC offset); other letters are
    /// refused so a typo never silently prints a literal.
    pub fn parse(pattern: &str) -> Result<Self, String> {
        if pattern.trim().is_empty() || pattern.len() > 64 {
            return Err("`options.dateFormat` must be 1 to 64 characters".into());
        }
        const TOKENS: [(&str, &str, &str); 9] = [
            ("YYYY", "%Y", "yyyy"),
            ("SSS", "%3f", "000"),
            ("YY", "%y", "yy"),
            ("MM", "%m", "mm"),
            ("DD", "%d", "dd"),
            ("HH", "%H", "hh"),
            ("mm", "%M", "mm"),
            ("ss", "%S", "ss"),
            ("Z", "%:z", ""),
        ];
        let (mut chrono, mut excel) = (String::new(), String::new());
        let mut rest = pattern;
        'outer: while let Some(c) = rest.chars().next() {
            for (token, to_chrono, to_excel) in TOKENS {
                if rest.starts_with(token) {
                    chrono.push_str(to_chrono);
                    excel.push_str(to_excel);
                    rest = &rest[token.len()..];
                    continue 'outer;
                }
            }
            if c.is_ascii_alphabetic() {
                return Err(format!("`options.dateFormat` has an unsupported token at `{rest}`; use YYYY, YY, MM, DD, HH, mm, ss, SSS, Z"));
            }
            match c {
                '%' => chrono.push_str("%%"),
                _ => chrono.push(c),
            }
            match c {
                '"' | '\\' => {}
                _ => excel.push(c),
            }
            rest = &rest[c.len_utf8()..];
        }
        Ok(DateFormat {
            chrono,
            excel: excel.trim().to_owned(),
        })
    }
}

/// A number format like `0.00` or `#,##0.0`: decimals and whether thousands are grouped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberFormat {
    pub pattern: String,
    pub decimals: usize,
    pub grouping: bool,
}

impl NumberFormat {
    pub fn parse(pattern: &str) -> Result<Self, String> {
        let valid = !pattern.is_empty()
            && pattern.len() <= 20
            && pattern.chars().all(|c| matches!(c, '0' | '#' | ',' | '.'))
            && pattern.matches('.').count() <= 1
            && pattern.contains('0');
        if !valid {
            return Err(format!(
                "`options.numberFormat` `{pattern}` must look like 0, 0.00 or #,##0.00"
            ));
        }
        let decimals = pattern.split_once('.').map_or(0, |(_, d)| {
            d.chars().filter(|c| *c == '0' || *c == '#').count()
        });
        let grouping = pattern
            .split_once('.')
            .map_or(pattern, |(i, _)| i)
            .contains(',');
        Ok(NumberFormat {
            pattern: pattern.to_owned(),
            decimals,
            grouping,
        })
    }

    pub fn round(&self, value: f64) -> f64 {
        let scale = 10f64.powi(self.decimals as i32);
        (value * scale).round() / scale
    }

    pub fn text(&self, value: f64) -> String {
        // Rounded half away from zero first, as spreadsheets do (plain `{:.N}` rounds half to even).
        let plain = format!("{:.*}", self.decimals, self.round(value));
        if !self.grouping {
            return plain;
        }
        let (sign, digits) = plain
            .strip_prefix('-')
            .map_or(("", plain.as_str()), |d| ("-", d));
        let (whole, fraction) = digits
            .split_once('.')
            .map_or((digits, None), |(w, f)| (w, Some(f)));
        let mut grouped = String::new();
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        match fraction {
            Some(f) => format!("{sign}{grouped}.{f}"),
            None => format!("{sign}{grouped}"),
        }
    }
}

/// A safe file name: letters, digits, `-`, `_` and `.` kept, anything else `_`, no leading dot,
/// at most 100 characters, with the format's extension.
pub fn sanitize_filename(requested: Option<&str>, format: FileFormat, fallback: &str) -> String {
    let extension = format.extension();
    let base = requested
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .unwrap_or(fallback);
    let base = base.strip_suffix(&format!(".{extension}")).unwrap_or(base);
    let mut clean: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    clean = clean.trim_start_matches('.').chars().take(100).collect();
    if clean.is_empty() {
        clean = fallback.to_owned();
    }
    format!("{clean}.{extension}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn the_seed_date_format_in_shanghai_time() {
        let format = DateFormat::parse("YYYY-MM-DD HH:mm:ss").expect("valid");
        assert_eq!(format.chrono, "%Y-%m-%d %H:%M:%S");
        assert_eq!(format.excel, "yyyy-mm-dd hh:mm:ss");
        let tz: chrono_tz::Tz = "Asia/Shanghai".parse().expect("zone");
        let ts = Utc
            .with_ymd_and_hms(2026, 2, 1, 23, 30, 0)
            .single()
            .expect("time");
        assert_eq!(
            ts.with_timezone(&tz).format(&format.chrono).to_string(),
            "2026-02-02 07:30:00"
        );
        assert_eq!(
            DateFormat::parse("DD/MM/YY HH:mm:ss.SSS Z")
                .expect("valid")
                .chrono,
            "%d/%m/%y %H:%M:%S.%3f %:z"
        );
        assert!(
            DateFormat::parse("YYYY-MM-DD hh:mm").is_err(),
            "12-hour hh is not supported"
        );
        assert!(DateFormat::parse("").is_err());
    }

    #[test]
    fn number_formats_round_and_group() {
        let two = NumberFormat::parse("0.00").expect("valid");
        assert_eq!((two.decimals, two.grouping), (2, false));
        assert_eq!(two.text(12.3456), "12.35");
        let grouped = NumberFormat::parse("#,##0.0").expect("valid");
        assert_eq!(grouped.text(1234567.89), "1,234,567.9");
        assert_eq!(grouped.text(-1234.0), "-1,234.0");
        assert_eq!(NumberFormat::parse("0").expect("valid").text(2.5), "3"); // ties away from zero
        assert!(NumberFormat::parse("0.00%").is_err());
        assert!(NumberFormat::parse("abc").is_err());
        assert_eq!(two.round(1.005_1), 1.01);
    }

    #[test]
    fn filenames_are_sanitized_and_get_their_extension() {
        assert_eq!(
            sanitize_filename(Some("vm_monitoring_data_feb2026"), FileFormat::Excel, "x"),
            "vm_monitoring_data_feb2026.xlsx"
        );
        assert_eq!(
            sanitize_filename(Some("../../etc/passwd"), FileFormat::Csv, "x"),
            "_.._etc_passwd.csv"
        );
        assert_eq!(
            sanitize_filename(Some("report.json"), FileFormat::Json, "x"),
            "report.json"
        );
        assert_eq!(
            sanitize_filename(Some("a\"b\r\nc;d"), FileFormat::Csv, "x"),
            "a_b__c_d.csv"
        );
        assert_eq!(
            sanitize_filename(None, FileFormat::Csv, "export_1"),
            "export_1.csv"
        );
        assert_eq!(
            sanitize_filename(Some(&"x".repeat(300)), FileFormat::Csv, "e").len(),
            104
        );
    }

    #[test]
    fn columns_follow_the_groups() {
        let cols = columns(&[Group::Cpu, Group::Network]);
        assert!(cols.contains(&"cpu.usagePercent".to_owned()));
        assert!(cols.contains(&"network.inBytes".to_owned()));
        assert!(!cols.iter().any(|c| c.starts_with("memory.")));
    }
}
