//! The metric catalogue: every rolled-up metric, its id in the rollup tables, its place in the
//! history API's JSON (`cpu.usagePercent`), its unit and how it is read from a raw sample row;
//! and the same sample's metrics by the seed's per-sample names (`cpu_percent`), which the
//! performance API's `/history` returns and alert rules watch ([`SAMPLE_METRICS`]).
//! One list for sampling, storage, queries, analysis, rules and the UI: the server re-exports it
//! as `storage::catalog`, the pages format values by its units.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    Cpu,
    Memory,
    Disk,
    Network,
    /// Processes and connections: charted and rolled up, but not one of the seed's `metrics`
    /// groups (`/history/query` and friends do not accept or return it).
    System,
}

impl Group {
    /// The seed's groups: what `metrics` accepts and defaults to.
    pub const ALL: [Group; 4] = [Group::Cpu, Group::Memory, Group::Disk, Group::Network];

    pub fn name(self) -> &'static str {
        match self {
            Group::Cpu => "cpu",
            Group::Memory => "memory",
            Group::Disk => "disk",
            Group::Network => "network",
            Group::System => "system",
        }
    }

    pub fn parse(name: &str) -> Option<Group> {
        Group::ALL.into_iter().find(|g| g.name() == name)
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Metric {
    /// Stable id stored in the rollup tables: never reuse or renumber.
    pub id: i16,
    pub group: Group,
    /// Field name inside its group in the history API.
    pub field: &'static str,
    /// SQL expression over a `samples` row giving the value.
    pub raw_sql: &'static str,
    pub unit: Unit,
}

/// Ids of the metrics other modules name.
pub const CPU_PERCENT: i16 = 1;
pub const CPU_MHZ: i16 = 2;
pub const MEMORY_PERCENT: i16 = 5;
pub const MEMORY_USED_MB: i16 = 6;
pub const MEMORY_FREE_MB: i16 = 7;
pub const DISK_PERCENT: i16 = 8;
pub const NET_IN_BPS: i16 = 13;
pub const NET_OUT_BPS: i16 = 14;

pub const METRICS: &[Metric] = &[
    Metric {
        id: 1,
        group: Group::Cpu,
        field: "usagePercent",
        raw_sql: "cpu_percent",
        unit: Unit::Percent,
    },
    Metric {
        id: 2,
        group: Group::Cpu,
        field: "usageMHz",
        raw_sql: "cpu_usage_mhz",
        unit: Unit::Mhz,
    },
    Metric {
        id: 3,
        group: Group::Cpu,
        field: "ready",
        raw_sql: "cpu_ready_percent",
        unit: Unit::Percent,
    },
    Metric {
        id: 4,
        group: Group::Cpu,
        field: "load1min",
        raw_sql: "load1",
        unit: Unit::Load,
    },
    Metric {
        id: 5,
        group: Group::Memory,
        field: "usagePercent",
        raw_sql: "mem_percent",
        unit: Unit::Percent,
    },
    Metric {
        id: 6,
        group: Group::Memory,
        field: "usedMB",
        raw_sql: "(mem_used / 1048576.0)",
        unit: Unit::Mebibytes,
    },
    Metric {
        id: 7,
        group: Group::Memory,
        field: "freeMB",
        raw_sql: "(mem_available / 1048576.0)",
        unit: Unit::Mebibytes,
    },
    Metric {
        id: 8,
        group: Group::Disk,
        field: "usagePercent",
        raw_sql: "disk_percent",
        unit: Unit::Percent,
    },
    Metric {
        id: 9,
        group: Group::Disk,
        field: "readLatency",
        raw_sql: "disk_read_latency_ms",
        unit: Unit::Milliseconds,
    },
    Metric {
        id: 10,
        group: Group::Disk,
        field: "writeLatency",
        raw_sql: "disk_write_latency_ms",
        unit: Unit::Milliseconds,
    },
    Metric {
        id: 11,
        group: Group::Disk,
        field: "readIOPS",
        raw_sql: "disk_read_iops",
        unit: Unit::PerSecond,
    },
    Metric {
        id: 12,
        group: Group::Disk,
        field: "writeIOPS",
        raw_sql: "disk_write_iops",
        unit: Unit::PerSecond,
    },
    Metric {
        id: 13,
        group: Group::Network,
        field: "inBps",
        raw_sql: "net_in_bps",
        unit: Unit::BytesPerSecond,
    },
    Metric {
        id: 14,
        group: Group::Network,
        field: "outBps",
        raw_sql: "net_out_bps",
        unit: Unit::BytesPerSecond,
    },
    Metric {
        id: 15,
        group: Group::Disk,
        field: "readBps",
        raw_sql: "disk_read_bps",
        unit: Unit::BytesPerSecond,
    },
    Metric {
        id: 16,
        group: Group::Disk,
        field: "writeBps",
        raw_sql: "disk_write_bps",
        unit: Unit::BytesPerSecond,
    },
    Metric {
        id: 17,
        group: Group::Memory,
        field: "swapUsedMB",
        raw_sql: "(swap_used / 1048576.0)",
        unit: Unit::Mebibytes,
    },
    Metric {
        id: 18,
        group: Group::System,
        field: "processes",
        raw_sql: "proc_total",
        unit: Unit::Count,
    },
    Metric {
        id: 19,
        group: Group::System,
        field: "connections",
        raw_sql: "conn_active",
        unit: Unit::Count,
    },
];

/// What a metric's values measure, for axes and labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Percent,
    Mhz,
    Load,
    Mebibytes,
    Milliseconds,
    PerSecond,
    BytesPerSecond,
    Count,
    /// Sizes and cumulative byte counters of a sample (the rollups keep sizes in MiB).
    Bytes,
}

impl Unit {
    pub fn name(self) -> &'static str {
        match self {
            Unit::Percent => "percent",
            Unit::Mhz => "MHz",
            Unit::Load => "load",
            Unit::Mebibytes => "MiB",
            Unit::Milliseconds => "ms",
            Unit::PerSecond => "1/s",
            Unit::BytesPerSecond => "B/s",
            Unit::Count => "count",
            Unit::Bytes => "bytes",
        }
    }

    /// The unit the charts format values in (`panels::format_value`): `""` where a plain number
    /// is right.
    pub fn display(self) -> &'static str {
        match self {
            Unit::Percent => "percent",
            Unit::Mhz => "",
            Unit::Load => "load",
            Unit::Mebibytes => "MiB",
            Unit::Milliseconds => "ms",
            Unit::PerSecond => "1/s",
            Unit::BytesPerSecond => "bytes/s",
            Unit::Count => "count",
            Unit::Bytes => "bytes",
        }
    }

    /// The short symbol reports and tables print after a value.
    pub fn symbol(self) -> &'static str {
        match self {
            Unit::Percent => "%",
            other => other.name(),
        }
    }

    /// The catalogue unit a free-text unit (a custom metric's) names, if any: its own name or a
    /// common spelling of it.
    pub fn parse(text: &str) -> Option<Unit> {
        match text.trim().to_ascii_lowercase().as_str() {
            "%" | "percent" | "pct" => Some(Unit::Percent),
            "mhz" => Some(Unit::Mhz),
            "load" => Some(Unit::Load),
            "ms" | "millisecond" | "milliseconds" => Some(Unit::Milliseconds),
            "b/s" | "bytes/s" | "bps" | "byte/s" => Some(Unit::BytesPerSecond),
            "/s" | "1/s" | "per second" | "ops/s" | "req/s" | "requests/s" | "iops" => {
                Some(Unit::PerSecond)
            }
            "mib" | "mb" => Some(Unit::Mebibytes),
            "count" | "requests" | "errors" | "items" | "connections" => Some(Unit::Count),
            _ => None,
        }
    }
}

impl Metric {
    /// `cpu.usagePercent`: the name charts, exports and the series endpoint use.
    pub fn name(&self) -> String {
        format!("{}.{}", self.group.name(), self.field)
    }
}

/// A metric by its `group.field` name.
pub fn by_name(name: &str) -> Option<&'static Metric> {
    let (group, field) = name.split_once('.')?;
    METRICS
        .iter()
        .find(|m| m.group.name() == group && m.field == field)
}

pub fn by_id(id: i16) -> Option<&'static Metric> {
    METRICS.iter().find(|m| m.id == id)
}

pub fn of_group(group: Group) -> impl Iterator<Item = &'static Metric> {
    METRICS.iter().filter(move |m| m.group == group)
}

/// How a per-sample metric moves: a gauge is a level at the sample's time; a counter only grows
/// (bytes since boot), so a bucket keeps its last value and no threshold on it means anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Counter,
}

/// A metric of one sample by the seed's name (`cpu_percent`): what the performance API's
/// `/history` returns and alert rules watch.
#[derive(Clone, Copy, Debug)]
pub struct SampleMetric {
    pub name: &'static str,
    /// Its group; alerts on it are of this type (`cpu`, `memory`, …).
    pub group: Group,
    pub kind: Kind,
    pub unit: Unit,
    /// The sample fields it is computed from (paths in the `/performance/stats` shape): a partial
    /// sample without one of them says nothing about it.
    pub fields: &'static [&'static str],
    /// SQL expression over a `samples` row giving it.
    pub sql: &'static str,
    /// The same from a sample in memory.
    pub read: fn(&crate::models::Stats) -> f64,
}

impl SampleMetric {
    /// SQL reducing a bucket of rows to one value: gauges average, counters keep their last.
    pub fn bucket_sql(&self) -> String {
        match self.kind {
            Kind::Gauge => format!("avg({})", self.sql),
            Kind::Counter => format!("max({})", self.sql),
        }
    }
}

fn percent_of(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

const fn gauge(
    name: &'static str,
    group: Group,
    unit: Unit,
    fields: &'static [&'static str],
    sql: &'static str,
    read: fn(&crate::models::Stats) -> f64,
) -> SampleMetric {
    SampleMetric {
        name,
        group,
        kind: Kind::Gauge,
        unit,
        fields,
        sql,
        read,
    }
}

/// Every per-sample metric, in the order the API lists them.
pub const SAMPLE_METRICS: &[SampleMetric] = &[
    gauge(
        "cpu_percent",
        Group::Cpu,
        Unit::Percent,
        &["cpu.percent"],
        "cpu_percent",
        |s| s.cpu.percent,
    ),
    gauge(
        "cpu_ready_percent",
        Group::Cpu,
        Unit::Percent,
        &["cpu.ready_percent"],
        "cpu_ready_percent",
        |s| s.cpu.ready_percent,
    ),
    gauge(
        "load1",
        Group::Cpu,
        Unit::Load,
        &["cpu.load1"],
        "load1",
        |s| s.cpu.load1,
    ),
    gauge(
        "load5",
        Group::Cpu,
        Unit::Load,
        &["cpu.load5"],
        "load5",
        |s| s.cpu.load5,
    ),
    gauge(
        "load15",
        Group::Cpu,
        Unit::Load,
        &["cpu.load15"],
        "load15",
        |s| s.cpu.load15,
    ),
    gauge(
        "memory_percent",
        Group::Memory,
        Unit::Percent,
        &["memory.percent"],
        "mem_percent",
        |s| s.memory.percent,
    ),
    gauge(
        "memory_available_bytes",
        Group::Memory,
        Unit::Bytes,
        &["memory.available"],
        "mem_available",
        |s| s.memory.available as f64,
    ),
    gauge(
        "swap_used",
        Group::Memory,
        Unit::Bytes,
        &["memory.swap_used"],
        "swap_used",
        |s| s.memory.swap_used as f64,
    ),
    gauge(
        "swap_percent",
        Group::Memory,
        Unit::Percent,
        &["memory.swap_used", "memory.swap_total"],
        "coalesce(100.0 * swap_used / nullif(swap_total, 0), 0)",
        |s| percent_of(s.memory.swap_used, s.memory.swap_total),
    ),
    gauge(
        "disk_usage_percent",
        Group::Disk,
        Unit::Percent,
        &["disk.percent"],
        "disk_percent",
        |s| s.disk.percent,
    ),
    gauge(
        "disk_free_bytes",
        Group::Disk,
        Unit::Bytes,
        &["disk.free"],
        "disk_free",
        |s| s.disk.free as f64,
    ),
    gauge(
        "disk_read_latency_ms",
        Group::Disk,
        Unit::Milliseconds,
        &["disk.read_latency_ms"],
        "disk_read_latency_ms",
        |s| s.disk.read_latency_ms,
    ),
    gauge(
        "disk_write_latency_ms",
        Group::Disk,
        Unit::Milliseconds,
        &["disk.write_latency_ms"],
        "disk_write_latency_ms",
        |s| s.disk.write_latency_ms,
    ),
    gauge(
        "disk_read_iops",
        Group::Disk,
        Unit::PerSecond,
        &["disk.read_iops"],
        "disk_read_iops",
        |s| s.disk.read_iops,
    ),
    gauge(
        "disk_write_iops",
        Group::Disk,
        Unit::PerSecond,
        &["disk.write_iops"],
        "disk_write_iops",
        |s| s.disk.write_iops,
    ),
    gauge(
        "disk_read_bps",
        Group::Disk,
        Unit::BytesPerSecond,
        &["disk.read_bps"],
        "disk_read_bps",
        |s| s.disk.read_bps,
    ),
    gauge(
        "disk_write_bps",
        Group::Disk,
        Unit::BytesPerSecond,
        &["disk.write_bps"],
        "disk_write_bps",
        |s| s.disk.write_bps,
    ),
    gauge(
        "network_in_bps",
        Group::Network,
        Unit::BytesPerSecond,
        &["network.in_bps"],
        "net_in_bps",
        |s| s.network.in_bps,
    ),
    gauge(
        "network_out_bps",
        Group::Network,
        Unit::BytesPerSecond,
        &["network.out_bps"],
        "net_out_bps",
        |s| s.network.out_bps,
    ),
    SampleMetric {
        name: "network_bytes_sent",
        group: Group::Network,
        kind: Kind::Counter,
        unit: Unit::Bytes,
        fields: &["network.bytes_sent"],
        sql: "net_bytes_sent",
        read: |s| s.network.bytes_sent as f64,
    },
    SampleMetric {
        name: "network_bytes_recv",
        group: Group::Network,
        kind: Kind::Counter,
        unit: Unit::Bytes,
        fields: &["network.bytes_recv"],
        sql: "net_bytes_recv",
        read: |s| s.network.bytes_recv as f64,
    },
    gauge(
        "processes_total",
        Group::System,
        Unit::Count,
        &["processes.total"],
        "proc_total",
        |s| f64::from(s.processes.total),
    ),
    gauge(
        "processes_zombie",
        Group::System,
        Unit::Count,
        &["processes.zombie"],
        "proc_zombie",
        |s| f64::from(s.processes.zombie),
    ),
    gauge(
        "connections_active",
        Group::System,
        Unit::Count,
        &["connections.active"],
        "conn_active",
        |s| f64::from(s.connections.active),
    ),
    gauge(
        "connections_established",
        Group::System,
        Unit::Count,
        &["connections.established"],
        "conn_established",
        |s| f64::from(s.connections.established),
    ),
];

/// An alert's levels, the most severe first (rules, alerts, the alerts page's order and filter).
pub const ALERT_LEVELS: [&str; 3] = ["critical", "warning", "info"];

/// A rule's comparison of a value with its threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    GreaterThan,
    LessThan,
    GreaterOrEqual,
    LessOrEqual,
    Equal,
    NotEqual,
}

impl Operator {
    /// Every operator, in the order the rule form offers them.
    pub const ALL: [Operator; 6] = [
        Operator::GreaterThan,
        Operator::GreaterOrEqual,
        Operator::LessThan,
        Operator::LessOrEqual,
        Operator::Equal,
        Operator::NotEqual,
    ];

    /// Both spellings of the spec: `greater_than` and `>`, and so on.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text.trim() {
            "greater_than" | ">" => Operator::GreaterThan,
            "less_than" | "<" => Operator::LessThan,
            "greater_or_equal" | ">=" => Operator::GreaterOrEqual,
            "less_or_equal" | "<=" => Operator::LessOrEqual,
            "equal" | "==" | "=" => Operator::Equal,
            "not_equal" | "!=" => Operator::NotEqual,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Operator::GreaterThan => "greater_than",
            Operator::LessThan => "less_than",
            Operator::GreaterOrEqual => "greater_or_equal",
            Operator::LessOrEqual => "less_or_equal",
            Operator::Equal => "equal",
            Operator::NotEqual => "not_equal",
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Operator::GreaterThan => ">",
            Operator::LessThan => "<",
            Operator::GreaterOrEqual => "≥",
            Operator::LessOrEqual => "≤",
            Operator::Equal => "=",
            Operator::NotEqual => "≠",
        }
    }

    /// Whether `value op threshold` holds. Equality allows for float noise relative to the threshold.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        let equal = (value - threshold).abs() <= 1e-9 * threshold.abs().max(1.0);
        match self {
            Operator::GreaterThan => value > threshold && !equal,
            Operator::LessThan => value < threshold && !equal,
            Operator::GreaterOrEqual => value > threshold || equal,
            Operator::LessOrEqual => value < threshold || equal,
            Operator::Equal => equal,
            Operator::NotEqual => !equal,
        }
    }
}

/// The place of a level in `ALERT_LEVELS` (0 the most severe); unknown levels last.
pub fn level_rank(level: &str) -> usize {
    ALERT_LEVELS
        .iter()
        .position(|l| *l == level)
        .unwrap_or(ALERT_LEVELS.len())
}

/// A per-sample metric by its seed name.
pub fn sample_metric(name: &str) -> Option<&'static SampleMetric> {
    SAMPLE_METRICS.iter().find(|m| m.name == name)
}

/// The per-sample metrics an alert rule can watch: the gauges (a threshold on a counter that
/// only grows would fire once and forever).
pub fn watchable() -> impl Iterator<Item = &'static SampleMetric> {
    SAMPLE_METRICS.iter().filter(|m| m.kind == Kind::Gauge)
}

#[cfg(test)]
mod sample_metric_tests {
    use super::*;

    #[test]
    fn alert_levels_rank_the_most_severe_first_and_unknown_ones_last() {
        let ranks: Vec<usize> = ["info", "critical", "bogus", "warning"]
            .iter()
            .map(|l| level_rank(l))
            .collect();
        assert_eq!(ranks, [2, 0, 3, 1]);
    }

    #[test]
    fn a_sample_metric_stored_as_a_rolled_up_one_has_its_unit() {
        for sample in SAMPLE_METRICS {
            assert!(
                SAMPLE_METRICS
                    .iter()
                    .filter(|m| m.name == sample.name)
                    .count()
                    == 1,
                "{} twice",
                sample.name
            );
            if let Some(rolled) = METRICS.iter().find(|m| m.raw_sql == sample.sql) {
                assert_eq!(rolled.unit, sample.unit, "{}", sample.name);
                assert_eq!(rolled.group, sample.group, "{}", sample.name);
            }
            assert!((sample.read)(&crate::models::Stats::default()).is_finite());
        }
        // Those the rollups keep under another expression (MiB) are the byte sizes.
        let rolled_as_mib = ["swap_used", "memory_available_bytes"];
        for name in rolled_as_mib {
            assert_eq!(sample_metric(name).map(|m| m.unit), Some(Unit::Bytes));
        }
        assert!(watchable().all(|m| m.kind == Kind::Gauge));
        assert!(!watchable().any(|m| m.name == "network_bytes_sent"));
    }

    #[test]
    fn buckets_average_gauges_and_keep_counters_last() {
        assert_eq!(
            sample_metric("cpu_percent").map(SampleMetric::bucket_sql),
            Some("avg(cpu_percent)".to_string())
        );
        assert_eq!(
            sample_metric("network_bytes_recv").map(SampleMetric::bucket_sql),
            Some("max(net_bytes_recv)".to_string())
        );
    }
}
