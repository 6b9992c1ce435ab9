//! The state of a troubleshooting view as the URL holds it, so a link reproduces the view:
//! the time range (a preset that follows now, or fixed instants), the hosts or group compared,
//! the metric, and an event to highlight. Plain functions, shared by the server (links that work
//! without JavaScript) and the browser island (controls, keyboard, zoom).

/// Range presets, shortest first: (URL value, label, seconds).
pub const PRESETS: [(&str, &str, i64); 9] = [
    ("15m", "15 m", 15 * 60),
    ("1h", "1 h", 3_600),
    ("6h", "6 h", 6 * 3_600),
    ("24h", "24 h", 24 * 3_600),
    ("7d", "7 d", 7 * 86_400),
    ("30d", "30 d", 30 * 86_400),
    ("90d", "90 d", 90 * 86_400),
    ("1y", "1 y", 365 * 86_400),
    ("2y", "2 y", 730 * 86_400),
];

/// The default range of a host view: the last 24 hours.
pub const DEFAULT_PRESET: &str = "24h";
/// History reaches two years back (the daily tier).
pub const MAX_SPAN_MS: i64 = 731 * 86_400_000;
/// The narrowest range a zoom may reach.
pub const MIN_SPAN_MS: i64 = 60_000;

/// A time range: a preset ending now (charts tail live) or fixed instants (epoch ms).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Range {
    Preset(&'static str),
    Fixed { from: i64, to: i64 },
}

impl Range {
    /// From the URL's `range`, `from` and `to` (epoch milliseconds); anything unreadable falls
    /// back to the default preset.
    pub fn from_query(range: Option<&str>, from: Option<&str>, to: Option<&str>) -> Range {
        if let (Some(from), Some(to)) = (from.and_then(instant), to.and_then(instant)) {
            if to > from {
                return Range::Fixed { from, to };
            }
        }
        let name = range.unwrap_or(DEFAULT_PRESET);
        PRESETS
            .iter()
            .find(|p| p.0 == name)
            .map(|p| Range::Preset(p.0))
            .unwrap_or(Range::Preset(DEFAULT_PRESET))
    }

    /// Bounds in epoch milliseconds at `now`.
    pub fn bounds(&self, now: i64) -> (i64, i64) {
        match self {
            Range::Fixed { from, to } => (*from, *to),
            Range::Preset(name) => {
                let secs = PRESETS
                    .iter()
                    .find(|p| p.0 == *name)
                    .map(|p| p.2)
                    .unwrap_or(86_400);
                (now - secs * 1000, now)
            }
        }
    }

    /// Whether the range ends now (charts then follow the live stream).
    pub fn is_live(&self) -> bool {
        matches!(self, Range::Preset(_))
    }

    /// The query parameters that state it: `range=24h` or `from=…&to=…`.
    pub fn query(&self) -> String {
        match self {
            Range::Preset(name) => format!("range={name}"),
            Range::Fixed { from, to } => format!("from={from}&to={to}"),
        }
    }

    /// The same span moved by half of it (`direction` −1 back, +1 forward), as Zabbix and
    /// Grafana's `t ←` / `t →`; never into the future.
    pub fn shifted(&self, direction: i64, now: i64) -> Range {
        let (from, to) = self.bounds(now);
        let step = (to - from) / 2 * direction.signum();
        let (mut from, mut to) = (from + step, to + step);
        if to > now {
            from -= to - now;
            to = now;
        }
        Range::Fixed { from, to }
    }

    /// Twice as wide around its centre (`t z`), at most two years, ending no later than now.
    pub fn zoomed_out(&self, now: i64) -> Range {
        let (from, to) = self.bounds(now);
        let span = ((to - from) * 2).min(MAX_SPAN_MS);
        let centre = from + (to - from) / 2;
        let (mut from, mut to) = (centre - span / 2, centre + span / 2);
        if to > now {
            from -= to - now;
            to = now;
        }
        Range::Fixed { from, to }
    }

    /// A drag-zoom to `from`…`to`, widened to the narrowest range allowed.
    pub fn zoomed_in(from: i64, to: i64) -> Range {
        let (from, to) = if to < from { (to, from) } else { (from, to) };
        if to - from < MIN_SPAN_MS {
            let centre = from + (to - from) / 2;
            return Range::Fixed {
                from: centre - MIN_SPAN_MS / 2,
                to: centre + MIN_SPAN_MS / 2,
            };
        }
        Range::Fixed { from, to }
    }

    /// ±30 minutes around an instant: where a click on an alert or anomaly opens the host view.
    pub fn around(at: i64) -> Range {
        Range::Fixed {
            from: at - 30 * 60_000,
            to: at + 30 * 60_000,
        }
    }
}

/// Epoch milliseconds, or a `datetime-local` value (`2026-12-01T10:30`, read as UTC) as the
/// custom-range form sends it without JavaScript.
pub fn instant(text: &str) -> Option<i64> {
    if let Ok(ms) = text.parse::<i64>() {
        return Some(ms);
    }
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(text, f).ok())
        .map(|t| t.and_utc().timestamp_millis())
}

/// The `datetime-local` value (UTC) of an instant, for the custom-range inputs.
pub fn local_input(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M").to_string())
        .unwrap_or_default()
}

/// `key=value` pairs of a query string (`?a=1&b=2`), percent-decoded.
pub fn parse_query(search: &str) -> Vec<(String, String)> {
    search
        .trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// The first value of `key`.
pub fn param<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Percent-decoding of a query component (`+` is a space).
pub fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'+', _) => out.push(b' '),
            (b'%', Some(b)) => {
                out.push(b);
                i += 2;
            }
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encoding of a query component: everything but unreserved characters.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b':' | b',') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `query` with the range parameters replaced by `range`'s (other parameters kept, `event`
/// dropped: a new range is a new look).
pub fn with_range(search: &str, range: &Range) -> String {
    let kept: Vec<String> = parse_query(search)
        .into_iter()
        .filter(|(k, _)| !matches!(k.as_str(), "range" | "from" | "to" | "event"))
        .map(|(k, v)| format!("{}={}", encode(&k), encode(&v)))
        .collect();
    let mut parts = kept;
    parts.push(range.query());
    format!("?{}", parts.join("&"))
}

/// A host view link: `/hosts/<vmId>?…`.
pub fn host_link(vm_id: &str, range: &Range, event: Option<&str>) -> String {
    let event = event
        .map(|e| format!("&event={}", encode(e)))
        .unwrap_or_default();
    format!("/hosts/{}?{}{event}", encode(vm_id), range.query())
}

/// The investigate page for what else changed on a host around an event starting at `at` (epoch
/// ms): from 10 minutes before it to its `end`, or to 10 minutes after a point event. The chart
/// module's list of events builds the same link (`investigateLink` in `public/js/lookout.js`).
pub fn investigate_link(vm_id: &str, at: i64, end: Option<i64>) -> String {
    const AROUND: i64 = 10 * 60_000;
    let until = end.map_or(at + AROUND, |end| end.max(at + AROUND));
    format!(
        "/investigate?host={}&from={}&to={until}",
        encode(vm_id),
        at - AROUND
    )
}

/// "12:05" for a range within a day, "11-30 12:05" within a year, else the date.
pub fn short_time(ms: i64, span_ms: i64) -> String {
    let Some(t) = chrono::DateTime::from_timestamp_millis(ms) else {
        return String::new();
    };
    if span_ms <= 86_400_000 {
        t.format("%H:%M").to_string()
    } else if span_ms <= 365 * 86_400_000 {
        t.format("%m-%d %H:%M").to_string()
    } else {
        t.format("%Y-%m-%d").to_string()
    }
}

/// How the current range is described above the charts.
pub fn describe(range: &Range, now: i64) -> String {
    match range {
        Range::Preset(name) => {
            let label = PRESETS
                .iter()
                .find(|p| p.0 == *name)
                .map(|p| p.1)
                .unwrap_or(name);
            format!("last {label} · live")
        }
        Range::Fixed { from, to } => {
            let span = to - from;
            let _ = now;
            let fmt = |ms: i64| {
                chrono::DateTime::from_timestamp_millis(ms)
                    .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                    .unwrap_or_default()
            };
            format!("{} – {} ({})", fmt(*from), fmt(*to), duration(span))
        }
    }
}

/// "2 h 30 min", "3 d 4 h", "45 s".
pub fn duration(ms: i64) -> String {
    let secs = ms / 1000;
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7_200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        s => format!("{} d {} h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// The capacity page's choices: days of history, days of forecast, threshold percent.
pub const CAPACITY_HISTORY_DAYS: [i64; 4] = [90, 180, 365, 730];
pub const CAPACITY_HORIZON_DAYS: [i64; 4] = [30, 90, 180, 365];
pub const CAPACITY_THRESHOLDS: [i64; 4] = [60, 70, 80, 90];

/// The capacity page's view as its URL holds it: `group` (a host group, absent: the whole
/// fleet), `history` and `horizon` in days, `threshold` in percent — each one of the page's
/// choices, the defaults 180, 90 and 80 when absent.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CapacityQuery {
    pub group: Option<String>,
    pub history_days: i64,
    pub horizon_days: i64,
    pub threshold: i64,
}

impl Default for CapacityQuery {
    fn default() -> Self {
        CapacityQuery {
            group: None,
            history_days: 180,
            horizon_days: 90,
            threshold: 80,
        }
    }
}

impl CapacityQuery {
    /// The view a query string asks for, or what is wrong with it (a value that is not one of
    /// the choices, from a hand-edited link).
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<Self, String> {
        let defaults = CapacityQuery::default();
        let choice = |key: &str, choices: &[i64], default: i64| -> Result<i64, String> {
            match param(pairs, key).filter(|v| !v.is_empty()) {
                None => Ok(default),
                Some(text) => text
                    .parse::<i64>()
                    .ok()
                    .filter(|v| choices.contains(v))
                    .ok_or_else(|| {
                        let listed: Vec<String> = choices.iter().map(i64::to_string).collect();
                        format!("`{key}` must be one of {}, got `{text}`", listed.join(", "))
                    }),
            }
        };
        Ok(CapacityQuery {
            group: param(pairs, "group")
                .filter(|g| !g.is_empty())
                .map(str::to_owned),
            history_days: choice("history", &CAPACITY_HISTORY_DAYS, defaults.history_days)?,
            horizon_days: choice("horizon", &CAPACITY_HORIZON_DAYS, defaults.horizon_days)?,
            threshold: choice("threshold", &CAPACITY_THRESHOLDS, defaults.threshold)?,
        })
    }

    /// The view as a query string (`group=…&history=…&horizon=…&threshold=…`, the group empty
    /// for the whole fleet): what `from_pairs` reads back, for the page's links and its CSV.
    pub fn to_query(&self) -> String {
        format!(
            "group={}&history={}&horizon={}&threshold={}",
            encode(self.group.as_deref().unwrap_or_default()),
            self.history_days,
            self.horizon_days,
            self.threshold
        )
    }
}

/// The what-if page's scenario as its URL holds it, on top of a capacity view: `hosts` added
/// (negative: taken away) from `hostsFrom`, `load` percent more load from `loadFrom`, `growth`
/// percent more a month (dates `YYYY-MM-DD`; empty or absent: no change, at once). Only the
/// syntax is checked here; the bounds are the scenario's (`capacity::whatif` on the server).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WhatIfQuery {
    pub view: CapacityQuery,
    pub add_hosts: i64,
    pub hosts_from: Option<chrono::NaiveDate>,
    pub load_percent: f64,
    pub load_from: Option<chrono::NaiveDate>,
    pub growth_percent: f64,
}

impl WhatIfQuery {
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<Self, String> {
        let given = |key: &str| param(pairs, key).map(str::trim).filter(|v| !v.is_empty());
        let number = |key: &str| -> Result<f64, String> {
            given(key).map_or(Ok(0.0), |text| {
                text.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| format!("`{key}` must be a number, got `{text}`"))
            })
        };
        let date = |key: &str| -> Result<Option<chrono::NaiveDate>, String> {
            given(key)
                .map(|text| {
                    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                        .map_err(|_| format!("`{key}` must be a date (YYYY-MM-DD), got `{text}`"))
                })
                .transpose()
        };
        let add_hosts = given("hosts").map_or(Ok(0), |text| {
            text.parse::<i64>()
                .map_err(|_| format!("`hosts` must be a whole number, got `{text}`"))
        })?;
        Ok(WhatIfQuery {
            view: CapacityQuery::from_pairs(pairs)?,
            add_hosts,
            hosts_from: date("hostsFrom")?,
            load_percent: number("load")?,
            load_from: date("loadFrom")?,
            growth_percent: number("growth")?,
        })
    }

    /// The page's address for this scenario (what `from_pairs` reads back).
    pub fn to_query(&self) -> String {
        let day = |d: Option<chrono::NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
        format!(
            "{}&hosts={}&hostsFrom={}&load={}&loadFrom={}&growth={}",
            self.view.to_query(),
            self.add_hosts,
            day(self.hosts_from),
            self.load_percent,
            day(self.load_from),
            self.growth_percent
        )
    }

    /// No change asked for: the page shows the forecast alone.
    pub fn is_empty(&self) -> bool {
        self.add_hosts == 0 && self.load_percent == 0.0 && self.growth_percent == 0.0
    }
}

/// The colour scheme a browser asked for (`POST /theme`, kept in the `lookout_theme` cookie, no
/// account needed): the operating system's (`Auto`, no cookie), or always light or dark. The
/// server renders it on `<html data-theme>`, so the first paint is right.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Theme {
    #[default]
    Auto,
    Light,
    Dark,
}

impl Theme {
    pub const COOKIE: &'static str = "lookout_theme";

    /// The theme of a cookie's (or a form's) value; anything else is `Auto`.
    pub fn parse(value: &str) -> Theme {
        match value {
            "light" => Theme::Light,
            "dark" => Theme::Dark,
            _ => Theme::Auto,
        }
    }

    /// The `lookout_theme` cookie's value in a `Cookie` header.
    pub fn of_cookie_header(header: &str) -> Theme {
        header
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == Self::COOKIE)
            .map_or(Theme::Auto, |(_, value)| Theme::parse(value))
    }

    /// `<html data-theme>`: none for `Auto` (the stylesheet follows the OS).
    pub fn attribute(self) -> Option<&'static str> {
        match self {
            Theme::Auto => None,
            Theme::Light => Some("light"),
            Theme::Dark => Some("dark"),
        }
    }

    pub fn name(self) -> &'static str {
        self.attribute().unwrap_or("auto")
    }

    /// What the top bar's button switches to: auto → dark → light → auto.
    pub fn next(self) -> Theme {
        match self {
            Theme::Auto => Theme::Dark,
            Theme::Dark => Theme::Light,
            Theme::Light => Theme::Auto,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_investigated_from_before_it_to_its_end() {
        assert_eq!(
            investigate_link("web 1", 3_600_000, None),
            "/investigate?host=web%201&from=3000000&to=4200000"
        );
        assert_eq!(
            investigate_link("a", 3_600_000, Some(9_000_000)),
            "/investigate?host=a&from=3000000&to=9000000"
        );
        assert_eq!(
            investigate_link("a", 3_600_000, Some(3_700_000)),
            "/investigate?host=a&from=3000000&to=4200000",
            "a short span still gets ten minutes after its start"
        );
    }

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn a_what_if_scenario_reads_back_and_refuses_what_is_not_a_number_or_date() {
        let scenario = WhatIfQuery {
            view: CapacityQuery {
                group: Some("grp 1".into()),
                ..CapacityQuery::default()
            },
            add_hosts: -2,
            hosts_from: chrono::NaiveDate::from_ymd_opt(2027, 1, 15),
            load_percent: 30.5,
            load_from: None,
            growth_percent: 2.0,
        };
        let query = scenario.to_query();
        assert_eq!(
            WhatIfQuery::from_pairs(&parse_query(&query)),
            Ok(scenario.clone()),
            "{query}"
        );
        assert!(!scenario.is_empty());
        let empty = WhatIfQuery::from_pairs(&parse_query("group=&hosts=&load=")).expect("empty");
        assert_eq!(empty, WhatIfQuery::default());
        assert!(empty.is_empty());
        for (bad, says) in [
            ("hosts=1.5", "`hosts` must be a whole number"),
            ("load=lots", "`load` must be a number"),
            ("growth=inf", "`growth` must be a number"),
            ("loadFrom=15.01.2027", "`loadFrom` must be a date"),
            ("threshold=75", "`threshold` must be one of"),
        ] {
            let error = WhatIfQuery::from_pairs(&parse_query(bad)).expect_err(bad);
            assert!(error.starts_with(says), "{bad}: {error}");
        }
    }

    #[test]
    fn a_capacity_views_query_string_reads_back_as_the_same_view() {
        let group = CapacityQuery {
            group: Some("web & db".into()),
            history_days: 365,
            horizon_days: 30,
            threshold: 60,
        };
        for view in [CapacityQuery::default(), group] {
            let query = view.to_query();
            assert_eq!(
                CapacityQuery::from_pairs(&parse_query(&query)),
                Ok(view),
                "{query}"
            );
        }
        assert_eq!(
            CapacityQuery::default().to_query(),
            "group=&history=180&horizon=90&threshold=80"
        );
    }

    #[test]
    fn the_capacity_view_comes_from_its_choices_and_refuses_others() {
        let pairs = |q: &str| parse_query(q);
        assert_eq!(
            CapacityQuery::from_pairs(&pairs("")),
            Ok(CapacityQuery::default())
        );
        assert_eq!(
            CapacityQuery::from_pairs(&pairs("group=web&history=365&horizon=180&threshold=70")),
            Ok(CapacityQuery {
                group: Some("web".into()),
                history_days: 365,
                horizon_days: 180,
                threshold: 70,
            })
        );
        // An empty group (the select's "all hosts") is the whole fleet.
        assert_eq!(
            CapacityQuery::from_pairs(&pairs("group=&threshold=90"))
                .map(|q| (q.group, q.threshold)),
            Ok((None, 90))
        );
        assert_eq!(
            CapacityQuery::from_pairs(&pairs("horizon=1000")),
            Err("`horizon` must be one of 30, 90, 180, 365, got `1000`".to_string())
        );
        assert!(CapacityQuery::from_pairs(&pairs("history=abc")).is_err());
    }

    #[test]
    fn ranges_come_from_the_url_and_go_back_into_it() {
        assert_eq!(
            Range::from_query(Some("6h"), None, None),
            Range::Preset("6h")
        );
        assert_eq!(
            Range::from_query(Some("nonsense"), None, None),
            Range::Preset("24h")
        );
        assert_eq!(
            Range::from_query(None, Some("1000"), Some("5000")),
            Range::Fixed {
                from: 1000,
                to: 5000
            }
        );
        assert_eq!(
            Range::from_query(Some("1h"), Some("5000"), Some("1000")),
            Range::Preset("1h"),
            "reversed instants are ignored"
        );
        assert_eq!(
            Range::from_query(None, Some("2026-12-01T10:00"), Some("2026-12-01T11:30")),
            Range::Fixed {
                from: 1_796_119_200_000,
                to: 1_796_124_600_000
            },
            "the custom-range form's values, as UTC"
        );
        assert_eq!(local_input(1_796_119_200_000), "2026-12-01T10:00");
        assert_eq!(Range::Preset("1h").bounds(NOW), (NOW - 3_600_000, NOW));
        assert_eq!(
            with_range(
                "?hosts=a,b&range=1h&event=x",
                &Range::Fixed { from: 1, to: 2 }
            ),
            "?hosts=a,b&from=1&to=2"
        );
        assert_eq!(
            host_link("sim 1", &Range::around(NOW), Some("alert_3")),
            format!(
                "/hosts/sim%201?from={}&to={}&event=alert_3",
                NOW - 1_800_000,
                NOW + 1_800_000
            )
        );
        assert_eq!(
            parse_query("?q=web%2001&group=grp_01+x"),
            vec![
                ("q".into(), "web 01".into()),
                ("group".into(), "grp_01 x".into())
            ]
        );
    }

    #[test]
    fn stepping_and_zooming_keep_the_span_and_never_go_past_now() {
        let day = Range::Preset("24h");
        assert_eq!(
            day.shifted(-1, NOW),
            Range::Fixed {
                from: NOW - 36 * 3_600_000,
                to: NOW - 12 * 3_600_000
            }
        );
        assert_eq!(
            day.shifted(1, NOW),
            Range::Fixed {
                from: NOW - 24 * 3_600_000,
                to: NOW
            },
            "forward stops at now"
        );
        assert_eq!(
            Range::Fixed {
                from: NOW - 4_000,
                to: NOW - 2_000
            }
            .zoomed_out(NOW),
            Range::Fixed {
                from: NOW - 5_000,
                to: NOW - 1_000
            },
            "around its centre"
        );
        assert_eq!(
            Range::Fixed {
                from: NOW - 2_000,
                to: NOW
            }
            .zoomed_out(NOW),
            Range::Fixed {
                from: NOW - 4_000,
                to: NOW
            },
            "not past now"
        );
        let wide = Range::Preset("2y").zoomed_out(NOW);
        assert_eq!(
            wide.bounds(NOW).1 - wide.bounds(NOW).0,
            MAX_SPAN_MS,
            "at most two years"
        );
        assert_eq!(
            Range::zoomed_in(5_000, 4_000),
            Range::Fixed {
                from: 4_500 - 30_000,
                to: 4_500 + 30_000
            },
            "at least a minute, either drag direction"
        );
        assert!(!Range::zoomed_in(0, 600_000).is_live());
    }

    #[test]
    fn times_and_durations_read_well() {
        assert_eq!(duration(45_000), "45 s");
        assert_eq!(duration(90 * 60_000), "90 min");
        assert_eq!(duration(26 * 3_600_000), "26 h 0 min");
        assert_eq!(duration(3 * 86_400_000 + 4 * 3_600_000), "3 d 4 h");
        assert_eq!(describe(&Range::Preset("7d"), NOW), "last 7 d · live");
        assert_eq!(encode("a b/é"), "a%20b%2F%C3%A9");
        assert_eq!(decode("a%20b%2F%C3%A9"), "a b/é");
        assert_eq!(decode("100%"), "100%");
    }

    #[test]
    fn the_theme_comes_from_its_cookie_and_cycles() {
        assert_eq!(
            Theme::of_cookie_header("lookout_session=abc; lookout_theme=dark"),
            Theme::Dark
        );
        assert_eq!(Theme::of_cookie_header("lookout_theme=light"), Theme::Light);
        assert_eq!(
            Theme::of_cookie_header("lookout_theme=pink; x=1"),
            Theme::Auto
        );
        assert_eq!(Theme::of_cookie_header(""), Theme::Auto);
        assert_eq!(Theme::Auto.next().next().next(), Theme::Auto);
        assert_eq!(
            (Theme::Auto.attribute(), Theme::Dark.name()),
            (None, "dark")
        );
    }
}
