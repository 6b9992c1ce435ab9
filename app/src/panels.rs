//! The charts of the host view: which series each draws, its unit, and which alert rules and
//! anomaly series belong on it. One list, read by the server (static charts, the `data-*`
//! attributes) and by the browser's chart module (through those attributes).

/// A list's series on a chart: `fs:/var.avg`, `container:web.cpuPercent.avg`, `gpu:0.powerW.avg`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PanelList {
    /// Its name in the series endpoint's `metrics`.
    pub list: &'static str,
    pub prefix: &'static str,
    /// The member's field drawn (empty for file systems: their usage percent).
    pub field: &'static str,
}

impl PanelList {
    /// The member and the series' base name of one of this list's `.avg` keys.
    pub fn member<'a>(&self, key: &'a str) -> Option<(&'a str, &'a str)> {
        let base = key.strip_suffix(".avg")?;
        let rest = base.strip_prefix(self.prefix)?.strip_prefix(':')?;
        let member = if self.field.is_empty() {
            rest
        } else {
            rest.strip_suffix(self.field)?.strip_suffix('.')?
        };
        Some((member, base))
    }

    /// Containers and GPUs are drawn only for hosts that have them; file systems always.
    pub fn always(&self) -> bool {
        self.list == "filesystems"
    }
}

pub struct PanelSpec {
    pub id: &'static str,
    pub title: &'static str,
    /// Catalogue names, first drawn with its min–max band and p95 where the tier has them.
    pub metrics: &'static [&'static str],
    /// Labels of `metrics`, in order.
    pub labels: &'static [&'static str],
    /// `percent`, `bytes/s`, `1/s`, `ms`, `MiB`, `load` or `count`: axis formatting.
    pub unit: &'static str,
    /// One line per member of a list a raw sample carries (file systems, containers, GPUs)
    /// instead of `metrics`.
    pub list: Option<PanelList>,
    /// Alert rule metrics whose thresholds are drawn on this chart.
    pub alert_metrics: &'static [&'static str],
}

pub const HOST_PANELS: [PanelSpec; 17] = [
    PanelSpec {
        id: "cpu",
        title: "CPU",
        metrics: &["cpu.usagePercent", "cpu.ready"],
        labels: &["usage", "steal (ready)"],
        unit: "percent",
        list: None,
        alert_metrics: &["cpu_percent", "cpu_ready_percent"],
    },
    PanelSpec {
        id: "load",
        title: "Load (1 min)",
        metrics: &["cpu.load1min"],
        labels: &["load 1"],
        unit: "load",
        list: None,
        alert_metrics: &["load1"],
    },
    PanelSpec {
        id: "memory",
        title: "Memory",
        metrics: &["memory.usagePercent"],
        labels: &["used"],
        unit: "percent",
        list: None,
        alert_metrics: &["memory_percent"],
    },
    PanelSpec {
        id: "swap",
        title: "Swap used",
        metrics: &["memory.swapUsedMB"],
        labels: &["swap"],
        unit: "MiB",
        list: None,
        alert_metrics: &[],
    },
    PanelSpec {
        id: "filesystems",
        title: "File systems (each, never averaged)",
        metrics: &[],
        labels: &[],
        unit: "percent",
        list: Some(PanelList {
            list: "filesystems",
            prefix: "fs",
            field: "",
        }),
        alert_metrics: &["disk_usage_percent"],
    },
    PanelSpec {
        id: "iops",
        title: "Disk IOPS",
        metrics: &["disk.readIOPS", "disk.writeIOPS"],
        labels: &["read", "write"],
        unit: "1/s",
        list: None,
        alert_metrics: &["disk_read_iops", "disk_write_iops"],
    },
    PanelSpec {
        id: "throughput",
        title: "Disk throughput",
        metrics: &["disk.readBps", "disk.writeBps"],
        labels: &["read", "write"],
        unit: "bytes/s",
        list: None,
        alert_metrics: &["disk_read_bps", "disk_write_bps"],
    },
    PanelSpec {
        id: "latency",
        title: "Disk latency",
        metrics: &["disk.readLatency", "disk.writeLatency"],
        labels: &["read", "write"],
        unit: "ms",
        list: None,
        alert_metrics: &["disk_read_latency_ms", "disk_write_latency_ms"],
    },
    PanelSpec {
        id: "network",
        title: "Network",
        metrics: &["network.inBps", "network.outBps"],
        labels: &["in", "out"],
        unit: "bytes/s",
        list: None,
        alert_metrics: &["network_in_bps", "network_out_bps"],
    },
    PanelSpec {
        id: "processes",
        title: "Processes",
        metrics: &["system.processes"],
        labels: &["processes"],
        unit: "count",
        list: None,
        alert_metrics: &["processes_total"],
    },
    PanelSpec {
        id: "connections",
        title: "Connections",
        metrics: &["system.connections"],
        labels: &["active"],
        unit: "count",
        list: None,
        alert_metrics: &["connections_active", "connections_established"],
    },
    PanelSpec {
        id: "containers-cpu",
        title: "Containers: CPU (100 % = one core)",
        metrics: &[],
        labels: &[],
        unit: "core%",
        list: Some(PanelList {
            list: "containers",
            prefix: "container",
            field: "cpuPercent",
        }),
        alert_metrics: &[],
    },
    PanelSpec {
        id: "containers-memory",
        title: "Containers: memory",
        metrics: &[],
        labels: &[],
        unit: "MiB",
        list: Some(PanelList {
            list: "containers",
            prefix: "container",
            field: "memoryMB",
        }),
        alert_metrics: &[],
    },
    PanelSpec {
        id: "gpu-utilization",
        title: "GPUs: utilisation",
        metrics: &[],
        labels: &[],
        unit: "percent",
        list: Some(PanelList {
            list: "gpus",
            prefix: "gpu",
            field: "utilizationPercent",
        }),
        alert_metrics: &[],
    },
    PanelSpec {
        id: "gpu-memory",
        title: "GPUs: memory used",
        metrics: &[],
        labels: &[],
        unit: "MiB",
        list: Some(PanelList {
            list: "gpus",
            prefix: "gpu",
            field: "memoryUsedMB",
        }),
        alert_metrics: &[],
    },
    PanelSpec {
        id: "gpu-temperature",
        title: "GPUs: temperature",
        metrics: &[],
        labels: &[],
        unit: "°C",
        list: Some(PanelList {
            list: "gpus",
            prefix: "gpu",
            field: "temperatureC",
        }),
        alert_metrics: &[],
    },
    PanelSpec {
        id: "gpu-power",
        title: "GPUs: power",
        metrics: &[],
        labels: &[],
        unit: "W",
        list: Some(PanelList {
            list: "gpus",
            prefix: "gpu",
            field: "powerW",
        }),
        alert_metrics: &[],
    },
];

/// What the compare view can overlay: (catalogue name, label, unit).
pub const COMPARE_METRICS: [(&str, &str, &str); 10] = [
    ("cpu.usagePercent", "CPU usage", "percent"),
    ("memory.usagePercent", "Memory usage", "percent"),
    (
        "disk.usagePercent",
        "Disk usage (all file systems)",
        "percent",
    ),
    ("cpu.load1min", "Load (1 min)", "load"),
    ("disk.readIOPS", "Disk read IOPS", "1/s"),
    ("disk.writeIOPS", "Disk write IOPS", "1/s"),
    ("disk.writeLatency", "Disk write latency", "ms"),
    ("network.inBps", "Network in", "bytes/s"),
    ("network.outBps", "Network out", "bytes/s"),
    ("system.connections", "Connections", "count"),
];

/// "1.5 GiB/s", "12.3 %", "850 ms": a value in a panel's unit, short.
pub fn format_value(value: f64, unit: &str) -> String {
    match unit {
        "percent" => format!("{value:.1} %"),
        "bytes/s" => format!("{}/s", crate::components::format_bytes(value)),
        "MiB" => crate::components::format_bytes(value * 1_048_576.0),
        "ms" => format!("{value:.1} ms"),
        "1/s" => format!("{value:.0}/s"),
        "load" => format!("{value:.2}"),
        "core%" => format!("{value:.0} %"),
        "°C" => format!("{value:.0} °C"),
        "W" => format!("{value:.0} W"),
        "number" => three_significant(value),
        _ => format!("{value:.0}"),
    }
}

/// A plain number to three significant digits (at most six decimals): 0.0123, 1.23, 123, 12345.
fn three_significant(value: f64) -> String {
    let digits = if value == 0.0 || !value.is_finite() {
        0
    } else {
        (2 - value.abs().log10().floor() as i32).clamp(0, 6) as usize
    };
    format!("{value:.digits$}")
}

/// How a custom metric's values are shown, by its free-text unit: a catalogue unit it names
/// (`%`, `ms`, `bytes/s`, …), else a plain number to three significant digits.
pub fn custom_unit_display(unit: &str) -> &'static str {
    match crate::catalog::Unit::parse(unit) {
        Some(crate::catalog::Unit::Count) | None => "number",
        Some(known) => known.display(),
    }
}

/// The display unit of a series by its catalogue name (`network.inBps` → `bytes/s`); `""` for a
/// custom metric or anything unknown.
pub fn series_unit(series: &str) -> &'static str {
    crate::catalog::by_name(series).map_or("", |m| m.unit.display())
}

/// The display unit of any series a host has: a custom metric's (`custom:<name>`) by the unit
/// it was sent with, a file system's (`fs:<mount>`) percent, a catalogue series' its own.
pub fn any_series_unit(series: &str, unit: &str) -> &'static str {
    if series.starts_with("custom:") {
        custom_unit_display(unit)
    } else if series.starts_with("fs:") {
        "percent"
    } else {
        match series_unit(series) {
            "" => "number",
            known => known,
        }
    }
}

/// A value of a judged series as the charts show it ("4.2 MiB/s", "37.5 %"); a plain number
/// with three significant digits where the unit is unknown.
pub fn format_series_value(series: &str, value: f64) -> String {
    match series_unit(series) {
        "" => three_significant(value),
        unit => format_value(value, unit),
    }
}

pub fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// "from 2027-01-15" or "at once".
fn from_text(day: Option<chrono::NaiveDate>) -> String {
    day.map_or_else(|| "at once".into(), |d| format!("from {d}"))
}

/// Changes in words: "2 hosts more from 2027-01-15, 30 % more load at once".
pub fn changes_text(
    hosts: i64,
    hosts_from: Option<chrono::NaiveDate>,
    load: f64,
    load_from: Option<chrono::NaiveDate>,
    growth: f64,
) -> String {
    let mut parts = Vec::new();
    if hosts != 0 {
        let count = plural(hosts.abs(), "host", "hosts");
        let more = if hosts > 0 { "more" } else { "fewer" };
        parts.push(format!("{count} {more} {}", from_text(hosts_from)));
    }
    if load != 0.0 {
        let more = if load > 0.0 { "more" } else { "less" };
        parts.push(format!(
            "{} % {more} load {}",
            load.abs(),
            from_text(load_from)
        ));
    }
    if growth != 0.0 {
        parts.push(format!("{growth:+} % growth a month"));
    }
    parts.join(", ")
}

/// A committed plan's changes, in words.
pub fn plan_text(c: &crate::models::WhatIfChanges) -> String {
    changes_text(
        c.add_hosts,
        c.hosts_from.map(|d| d.date_naive()),
        c.add_load_percent,
        c.load_from.map(|d| d.date_naive()),
        c.growth_monthly_percent,
    )
}

/// When a trend line reaches a limit: "now (trend)" (there already), "2027-04-05 (in 120 days)",
/// or "not within 2 years" (no crossing found).
pub fn reaches_text(days: Option<f64>, when: Option<chrono::DateTime<chrono::Utc>>) -> String {
    match (days, when) {
        (Some(d), _) if d <= 0.0 => "now (trend)".into(),
        (Some(d), Some(when)) => format!("{} (in {d:.0} days)", when.format("%Y-%m-%d")),
        _ => "not within 2 years".into(),
    }
}

/// An amount of money: "EUR 69.20".
pub fn money_text(amount: f64, currency: &str) -> String {
    format!("{currency} {amount:.2}")
}

/// A change of cost a month: "saves EUR 69.20", "costs EUR 12.50", "–" for none.
pub fn change_text(amount: f64, currency: &str) -> String {
    if amount < 0.0 {
        format!("saves {}", money_text(-amount, currency))
    } else if amount > 0.0 {
        format!("costs {}", money_text(amount, currency))
    } else {
        "–".into()
    }
}

/// A capacity view's scope in words: "the whole fleet", "group web" (the what-if page, the
/// capacity PDF).
pub fn scope_text(group: Option<&str>) -> String {
    group.map_or_else(|| "the whole fleet".to_string(), |g| format!("group {g}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_panels_alert_metric_is_one_a_rule_can_watch() {
        for panel in HOST_PANELS {
            for name in panel.alert_metrics {
                assert!(
                    crate::catalog::watchable().any(|m| m.name == *name),
                    "{}: {name}",
                    panel.id
                );
            }
        }
    }

    #[test]
    fn a_custom_metric_is_shown_in_the_catalogue_unit_it_names_else_as_a_plain_number() {
        assert_eq!(custom_unit_display("ms"), "ms");
        assert_eq!(custom_unit_display("%"), "percent");
        assert_eq!(custom_unit_display("req/s"), "1/s");
        assert_eq!(custom_unit_display("count"), "number");
        assert_eq!(custom_unit_display("°F"), "number");
        assert_eq!(format_value(0.01234, "number"), "0.0123");
        assert_eq!(format_value(41.26, "number"), "41.3");
        assert_eq!(format_value(12345.6, "number"), "12346");
    }

    #[test]
    fn a_series_value_is_shown_in_its_unit() {
        assert_eq!(
            format_series_value("network.inBps", 4_443_793.0),
            "4.2 MiB/s"
        );
        assert_eq!(format_series_value("cpu.usagePercent", 37.46), "37.5 %");
        assert_eq!(format_series_value("cpu.ready", 2.0), "2.0 %");
        assert_eq!(format_series_value("disk.readLatency", 12.34), "12.3 ms");
        assert_eq!(format_series_value("disk.writeIOPS", 250.4), "250/s");
        assert_eq!(format_series_value("cpu.load1min", 1.234), "1.23");
        assert_eq!(format_series_value("queue_depth", 1234.6), "1235");
        assert_eq!(format_series_value("queue_depth", 0.012345), "0.0123");
        assert_eq!(format_series_value("queue_depth", 0.0), "0");
    }

    #[test]
    fn every_catalogue_metric_is_shown_in_a_unit_the_charts_format() {
        for metric in crate::catalog::METRICS {
            let unit = metric.unit.display();
            assert!(
                unit.is_empty()
                    || ["percent", "bytes/s", "1/s", "ms", "MiB", "load", "count"].contains(&unit),
                "{}",
                metric.name()
            );
            assert_eq!(series_unit(&metric.name()), unit);
        }
        assert_eq!(series_unit("memory.swapUsedMB"), "MiB");
        assert_eq!(series_unit("cpu.usageMHz"), "");
    }

    #[test]
    fn every_panel_names_known_units_and_labels_its_series() {
        for panel in &HOST_PANELS {
            assert_eq!(panel.metrics.len(), panel.labels.len(), "{}", panel.id);
            assert!(
                ["percent", "bytes/s", "1/s", "ms", "MiB", "load", "count", "core%", "°C", "W"]
                    .contains(&panel.unit),
                "{}",
                panel.id
            );
            assert!(
                panel.list.is_some() || !panel.metrics.is_empty(),
                "{}",
                panel.id
            );
        }
        assert_eq!(format_value(1536.0, "bytes/s"), "1.5 KiB/s");
        assert_eq!(format_value(42.26, "percent"), "42.3 %");
        let containers = HOST_PANELS
            .iter()
            .find(|p| p.id == "containers-cpu")
            .and_then(|p| p.list)
            .expect("panel");
        assert_eq!(
            containers.member("container:my.app.cpuPercent.avg"),
            Some(("my.app", "container:my.app.cpuPercent"))
        );
        assert_eq!(
            containers.member("container:web.memoryMB.avg"),
            None,
            "another field"
        );
        assert_eq!(
            containers.member("container:web.cpuPercent.max"),
            None,
            "not the average"
        );
        let fs = HOST_PANELS
            .iter()
            .find(|p| p.id == "filesystems")
            .and_then(|p| p.list)
            .expect("panel");
        assert_eq!(
            fs.member("fs:/var/lib.avg"),
            Some(("/var/lib", "fs:/var/lib"))
        );
    }
}
