//! Text cells of the CSV files people open in a spreadsheet (exports, reports, the capacity
//! plan). Host names, file systems, units, rule names and their alert titles are typed by
//! agents, scripts and users; a spreadsheet would run a cell that starts like a formula.

/// `value` as a spreadsheet shows it, never as a formula (OWASP's advice for CSV injection): a
/// cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, which
/// spreadsheets hide. Numbers are written as numbers and do not pass here.
pub fn text(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::text;

    #[test]
    fn free_text_never_becomes_a_spreadsheet_formula() {
        assert_eq!(text("web-01"), "web-01");
        assert_eq!(text("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(text("+1"), "'+1");
        assert_eq!(text("-cmd"), "'-cmd");
        assert_eq!(text("@sum"), "'@sum");
        assert_eq!(text("\tx"), "'\tx");
        assert_eq!(text("req/s"), "req/s");
        assert_eq!(text(""), "");
    }
}
