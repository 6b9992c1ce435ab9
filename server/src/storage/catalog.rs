//! The history metric catalogue (`app::catalog`, shared with the pages) and how a raw sample row
//! gives each metric's value.

// The list lives in `app` so the pages format values by the same units.
pub use app::catalog::*;

/// Values of every catalogue metric for one raw sample row, in catalogue order; NaN where the
/// sample does not carry the value (rollups skip it).
pub fn values_of(row: &super::samples::SampleRow) -> [f64; 19] {
    let mib = 1_048_576.0;
    let f = |v: Option<f32>| v.map_or(f64::NAN, f64::from);
    let i = |v: Option<i32>| v.map_or(f64::NAN, f64::from);
    let big = |v: Option<i64>| v.map_or(f64::NAN, |v| v as f64);
    [
        f(row.cpu_percent),
        f(row.cpu_usage_mhz),
        f(row.cpu_ready_percent),
        f(row.load1),
        f(row.mem_percent),
        big(row.mem_used) / mib,
        big(row.mem_available) / mib,
        f(row.disk_percent),
        f(row.disk_read_latency_ms),
        f(row.disk_write_latency_ms),
        f(row.disk_read_iops),
        f(row.disk_write_iops),
        f(row.net_in_bps),
        f(row.net_out_bps),
        f(row.disk_read_bps),
        f(row.disk_write_bps),
        big(row.swap_used) / mib,
        i(row.proc_total),
        i(row.conn_active),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_in_catalogue_order() {
        for (i, metric) in METRICS.iter().enumerate() {
            assert_eq!(
                metric.id as usize,
                i + 1,
                "values_of relies on catalogue order"
            );
            assert!(by_id(metric.id).is_some());
        }
        assert_eq!(
            METRICS.len(),
            values_of(&crate::storage::samples::SampleRow::from_stats(
                1,
                &Default::default()
            ))
            .len()
        );
        assert_eq!(of_group(Group::Network).count(), 2);
        assert_eq!(by_name("disk.writeBps").map(|m| m.id), Some(16));
        assert_eq!(by_name("disk.nothing").map(|m| m.id), None);
        assert_eq!(
            by_id(CPU_PERCENT).map(Metric::name).as_deref(),
            Some("cpu.usagePercent")
        );
        assert_eq!(Group::parse("disk"), Some(Group::Disk));
        assert_eq!(Group::parse("gpu"), None);
    }

    #[test]
    fn every_unit_name_reads_back_as_its_unit() {
        for metric in METRICS {
            assert_eq!(Unit::parse(metric.unit.name()), Some(metric.unit));
        }
        assert_eq!(Unit::parse(" MiB "), Some(Unit::Mebibytes));
        assert_eq!(Unit::parse("req/s"), Some(Unit::PerSecond));
        assert_eq!(Unit::parse("°C"), None);
    }
}
