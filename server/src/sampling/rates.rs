//! Turning cumulative counters into per-second rates without negative or absurd values.
use std::collections::HashMap;
use std::hash::Hash;

/// The increase of a cumulative counter between two readings.
///
/// A counter that went down either wrapped (32-bit counters of some drivers and older
/// kernels) or was reset (device re-plugged, driver reloaded, reboot). A wrap is only assumed
/// when the previous reading fits in 32 bits; anything else is a reset and yields `None`,
/// because the true increase is unknowable.
pub fn counter_delta(previous: u64, current: u64) -> Option<u64> {
    if current >= previous {
        return Some(current - previous);
    }
    if previous <= u64::from(u32::MAX) {
        return Some(u64::from(u32::MAX) - previous + current + 1);
    }
    None
}

/// Sums the deltas of keyed counters (one per device or interface) over the keys present in
/// both readings, so that a device that appeared or vanished between them adds nothing.
/// Returns `None` when no key could contribute (first reading, or every counter reset).
pub fn keyed_delta<K: Eq + Hash>(
    previous: &HashMap<K, u64>,
    current: &HashMap<K, u64>,
) -> Option<u64> {
    let mut total: Option<u64> = None;
    for (key, now) in current {
        let Some(before) = previous.get(key) else {
            continue;
        };
        if let Some(delta) = counter_delta(*before, *now) {
            total = Some(total.unwrap_or(0).saturating_add(delta));
        }
    }
    total
}

/// A per-second rate, or 0 when there is no usable delta, no elapsed time, or the rate is
/// beyond `ceiling` (a physically impossible value left by a reset we could not detect).
pub fn rate_per_second(delta: Option<u64>, elapsed_secs: f64, ceiling: f64) -> f64 {
    let Some(delta) = delta else { return 0.0 };
    if elapsed_secs.is_nan() || elapsed_secs <= 0.0 {
        return 0.0;
    }
    let rate = delta as f64 / elapsed_secs;
    if rate.is_finite() && rate <= ceiling {
        rate
    } else {
        0.0
    }
}

/// Average milliseconds per completed I/O over an interval (`time_ms` / `ios`), 0 when idle.
pub fn average_latency_ms(time_ms: Option<u64>, ios: Option<u64>) -> f64 {
    match (time_ms, ios) {
        (Some(time), Some(count)) if count > 0 => time as f64 / count as f64,
        _ => 0.0,
    }
}

/// Ceilings well above any real machine (400 Gbit/s links, 100 GB/s and 10 M IOPS storage).
pub const MAX_NETWORK_BYTES_PER_SEC: f64 = 50e9;
pub const MAX_DISK_BYTES_PER_SEC: f64 = 100e9;
pub const MAX_IOPS: f64 = 10e6;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increasing_counters_give_their_difference() {
        assert_eq!(counter_delta(100, 250), Some(150));
        assert_eq!(counter_delta(7, 7), Some(0));
    }

    #[test]
    fn a_32_bit_counter_that_wraps_counts_across_the_wrap() {
        // 10 before the top, then 5 after zero: 16 increments in all.
        assert_eq!(counter_delta(u64::from(u32::MAX) - 10, 5), Some(16));
    }

    #[test]
    fn a_64_bit_counter_that_goes_down_is_a_reset() {
        assert_eq!(counter_delta(10_000_000_000, 1_000), None);
    }

    #[test]
    fn keyed_deltas_ignore_devices_that_appear_or_vanish() {
        let before = HashMap::from([("eth0", 1_000_u64), ("usb0", 5_000)]);
        let after = HashMap::from([("eth0", 1_500_u64), ("wlan0", 9_000_000)]);
        assert_eq!(keyed_delta(&before, &after), Some(500));
        assert_eq!(keyed_delta(&HashMap::<&str, u64>::new(), &after), None);
    }

    #[test]
    fn keyed_deltas_skip_a_reset_device_but_keep_the_others() {
        let before = HashMap::from([("sda", 10_000_000_000_u64), ("sdb", 100)]);
        let after = HashMap::from([("sda", 50_u64), ("sdb", 400)]);
        assert_eq!(keyed_delta(&before, &after), Some(300));
    }

    #[test]
    fn rates_are_zero_without_a_delta_or_time_and_beyond_the_ceiling() {
        assert_eq!(rate_per_second(Some(1000), 2.0, 1e9), 500.0);
        assert_eq!(rate_per_second(None, 2.0, 1e9), 0.0);
        assert_eq!(rate_per_second(Some(1000), 0.0, 1e9), 0.0);
        assert_eq!(rate_per_second(Some(1000), f64::NAN, 1e9), 0.0);
        assert_eq!(
            rate_per_second(Some(u64::MAX), 1.0, MAX_NETWORK_BYTES_PER_SEC),
            0.0
        );
    }

    #[test]
    fn latency_is_time_per_io() {
        assert_eq!(average_latency_ms(Some(90), Some(30)), 3.0);
        assert_eq!(average_latency_ms(Some(90), Some(0)), 0.0);
        assert_eq!(average_latency_ms(None, Some(3)), 0.0);
    }
}
