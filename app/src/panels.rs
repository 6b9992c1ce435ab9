//! The charts of the host view: which series each draws, its unit, and which alert rules and
//! anomaly series belong on it. One list, read by the server (static charts, the `data-*`
//! attributes) and by the browser's chart module (through those attributes).

pub struct PanelSpec {
    pub id: &'static str,
    pub title: &'static str,
    /// Catalogue names, first drawn with its min–max band and p95 where the tier has them.
    pub metrics: &'static [&'static str],
    /// Labels of `metrics`, in order.
    pub labels: &'static [&'static str],
    /// `percent`, `bytes/s`, `1/s`, `ms`, `MiB`, `load` or `count`: axis formatting.
    pub unit: &'static str,
    /// One line per file system (from raw samples) instead of `metrics`.
    pub filesystems: bool,
    /// Alert rule metrics whose thresholds are drawn on this chart.
    pub alert_metrics: &'static [&'static str],
}

pub const HOST_PANELS: [PanelSpec; 11] = [
    PanelSpec {
        id: "cpu",
        title: "CPU",
        metrics: &["cpu.usagePercent", "cpu.ready"],
        labels: &["usage", "steal (ready)"],
        unit: "percent",
        filesystems: false,
        alert_metrics: &["cpu_percent", "cpu_ready_percent"],
    },
    PanelSpec {
        id: "load",
        title: "Load (1 min)",
        metrics: &["cpu.load1min"],
        labels: &["load 1"],
        unit: "load",
        filesystems: false,
        alert_metrics: &["load1"],
    },
    PanelSpec {
        id: "memory",
        title: "Memory",
        metrics: &["memory.usagePercent"],
        labels: &["used"],
        unit: "percent",
        filesystems: false,
        alert_metrics: &["memory_percent"],
    },
    PanelSpec {
        id: "swap",
        title: "Swap used",
        metrics: &["memory.swapUsedMB"],
        labels: &["swap"],
        unit: "MiB",
        filesystems: false,
        alert_metrics: &[],
    },
    PanelSpec {
        id: "filesystems",
        title: "File systems (each, never averaged)",
        metrics: &[],
        labels: &[],
        unit: "percent",
        filesystems: true,
        alert_metrics: &["disk_usage_percent"],
    },
    PanelSpec {
        id: "iops",
        title: "Disk IOPS",
        metrics: &["disk.readIOPS", "disk.writeIOPS"],
        labels: &["read", "write"],
        unit: "1/s",
        filesystems: false,
        alert_metrics: &["disk_read_iops", "disk_write_iops"],
    },
    PanelSpec {
        id: "throughput",
        title: "Disk throughput",
        metrics: &["disk.readBps", "disk.writeBps"],
        labels: &["read", "write"],
        unit: "bytes/s",
        filesystems: false,
        alert_metrics: &["disk_read_bps", "disk_write_bps"],
    },
    PanelSpec {
        id: "latency",
        title: "Disk latency",
        metrics: &["disk.readLatency", "disk.writeLatency"],
        labels: &["read", "write"],
        unit: "ms",
        filesystems: false,
        alert_metrics: &["disk_read_latency_ms", "disk_write_latency_ms"],
    },
    PanelSpec {
        id: "network",
        title: "Network",
        metrics: &["network.inBps", "network.outBps"],
        labels: &["in", "out"],
        unit: "bytes/s",
        filesystems: false,
        alert_metrics: &["network_in_bps", "network_out_bps"],
    },
    PanelSpec {
        id: "processes",
        title: "Processes",
        metrics: &["system.processes"],
        labels: &["processes"],
        unit: "count",
        filesystems: false,
        alert_metrics: &["processes_total"],
    },
    PanelSpec {
        id: "connections",
        title: "Connections",
        metrics: &["system.connections"],
        labels: &["active"],
        unit: "count",
        filesystems: false,
        alert_metrics: &["connections_active", "connections_established"],
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
        _ => format!("{value:.0}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_panel_names_known_units_and_labels_its_series() {
        for panel in &HOST_PANELS {
            assert_eq!(panel.metrics.len(), panel.labels.len(), "{}", panel.id);
            assert!(
                ["percent", "bytes/s", "1/s", "ms", "MiB", "load", "count"].contains(&panel.unit),
                "{}",
                panel.id
            );
            assert!(
                panel.filesystems || !panel.metrics.is_empty(),
                "{}",
                panel.id
            );
        }
        assert_eq!(format_value(1536.0, "bytes/s"), "1.5 KiB/s");
        assert_eq!(format_value(42.26, "percent"), "42.3 %");
    }
}
