//! The history metric catalogue: every rolled-up metric, its id in the rollup tables, its place in
//! the history API's JSON (`cpu.usagePercent`) and how it is read from a raw sample row.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    Cpu,
    Memory,
    Disk,
    Network,
}

impl Group {
    pub const ALL: [Group; 4] = [Group::Cpu, Group::Memory, Group::Disk, Group::Network];

    pub fn name(self) -> &'static str {
        match self {
            Group::Cpu => "cpu",
            Group::Memory => "memory",
            Group::Disk => "disk",
            Group::Network => "network",
        }
    }

    pub fn parse(name: &str) -> Option<Group> {
        Group::ALL.into_iter().find(|g| g.name() == name)
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Metric {
    /// Stable id stored in the rollup tables: never reuse or renumber.
    pub id: i16,
    pub group: Group,
    /// Field name inside its group in the history API.
    pub field: &'static str,
    /// SQL expression over a `samples` row giving the value.
    pub raw_sql: &'static str,
}

pub const METRICS: &[Metric] = &[
    Metric { id: 1, group: Group::Cpu, field: "usagePercent", raw_sql: "cpu_percent" },
    Metric { id: 2, group: Group::Cpu, field: "usageMHz", raw_sql: "cpu_usage_mhz" },
    Metric { id: 3, group: Group::Cpu, field: "ready", raw_sql: "cpu_ready_percent" },
    Metric { id: 4, group: Group::Cpu, field: "load1min", raw_sql: "load1" },
    Metric { id: 5, group: Group::Memory, field: "usagePercent", raw_sql: "mem_percent" },
    Metric { id: 6, group: Group::Memory, field: "usedMB", raw_sql: "(mem_used / 1048576.0)" },
    Metric { id: 7, group: Group::Memory, field: "freeMB", raw_sql: "(mem_available / 1048576.0)" },
    Metric { id: 8, group: Group::Disk, field: "usagePercent", raw_sql: "disk_percent" },
    Metric { id: 9, group: Group::Disk, field: "readLatency", raw_sql: "disk_read_latency_ms" },
    Metric { id: 10, group: Group::Disk, field: "writeLatency", raw_sql: "disk_write_latency_ms" },
    Metric { id: 11, group: Group::Disk, field: "readIOPS", raw_sql: "disk_read_iops" },
    Metric { id: 12, group: Group::Disk, field: "writeIOPS", raw_sql: "disk_write_iops" },
    Metric { id: 13, group: Group::Network, field: "inBps", raw_sql: "net_in_bps" },
    Metric { id: 14, group: Group::Network, field: "outBps", raw_sql: "net_out_bps" },
];

pub fn by_id(id: i16) -> Option<&'static Metric> {
    METRICS.iter().find(|m| m.id == id)
}

pub fn of_group(group: Group) -> impl Iterator<Item = &'static Metric> {
    METRICS.iter().filter(move |m| m.group == group)
}

/// Values of every catalogue metric for one raw sample row, in catalogue order.
pub fn values_of(row: &super::samples::SampleRow) -> [f64; 14] {
    let mib = 1_048_576.0;
    [
        f64::from(row.cpu_percent),
        f64::from(row.cpu_usage_mhz),
        f64::from(row.cpu_ready_percent),
        f64::from(row.load1),
        f64::from(row.mem_percent),
        row.mem_used as f64 / mib,
        row.mem_available as f64 / mib,
        f64::from(row.disk_percent),
        f64::from(row.disk_read_latency_ms),
        f64::from(row.disk_write_latency_ms),
        f64::from(row.disk_read_iops),
        f64::from(row.disk_write_iops),
        f64::from(row.net_in_bps),
        f64::from(row.net_out_bps),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_in_catalogue_order() {
        for (i, metric) in METRICS.iter().enumerate() {
            assert_eq!(metric.id as usize, i + 1, "values_of relies on catalogue order");
            assert!(by_id(metric.id).is_some());
        }
        assert_eq!(METRICS.len(), values_of(&crate::storage::samples::SampleRow::from_stats(1, &Default::default())).len());
        assert_eq!(of_group(Group::Network).count(), 2);
        assert_eq!(Group::parse("disk"), Some(Group::Disk));
        assert_eq!(Group::parse("gpu"), None);
    }
}
