//! The metric catalogue: every rolled-up metric, its id in the rollup tables, its place in the
//! history API's JSON (`cpu.usagePercent`), its unit and how it is read from a raw sample row.
//! One list for sampling, storage, queries, analysis and the UI: the server re-exports it as
//! `storage::catalog`, the pages format values by its units.

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
