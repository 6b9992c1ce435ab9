//! Parsers for the Linux `/proc` files sysinfo does not cover: diskstats, CPU steal, cached memory, TCP states.
//!
//! Each parser takes the file's text so it can be unit-tested on captured contents.

/// A `/proc` (or `/sys`) file's text; empty where it does not exist or cannot be read, which every
/// parser here answers with "nothing found".
pub fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Cumulative I/O counters of one block device, from one `/proc/diskstats` line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskCounters {
    pub reads: u64,
    pub read_sectors: u64,
    pub read_ms: u64,
    pub writes: u64,
    pub write_sectors: u64,
    pub write_ms: u64,
}

/// `/proc/diskstats` counts in 512-byte sectors whatever the device's real sector size.
pub const SECTOR_BYTES: u64 = 512;

/// Parses `/proc/diskstats`, keeping the devices `keep` accepts (whole physical disks, so that
/// partitions and device-mapper volumes are not counted twice).
pub fn parse_diskstats(text: &str, keep: impl Fn(&str) -> bool) -> Vec<(String, DiskCounters)> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // major minor name + at least the 11 classic counters.
            if fields.len() < 14 || !keep(fields[2]) {
                return None;
            }
            let n = |i: usize| fields[i].parse::<u64>().ok();
            Some((
                fields[2].to_string(),
                DiskCounters {
                    reads: n(3)?,
                    read_sectors: n(5)?,
                    read_ms: n(6)?,
                    writes: n(7)?,
                    write_sectors: n(9)?,
                    write_ms: n(10)?,
                },
            ))
        })
        .collect()
}

/// Whether a `/proc/diskstats` name is a whole disk worth counting, given whether
/// `/sys/block/<name>/device` exists (true for real and virtual disks, false for
/// partitions, loop, ram, zram, dm and md devices).
pub fn is_physical_disk(name: &str, has_device_link: bool) -> bool {
    has_device_link
        && !name.starts_with("loop")
        && !name.starts_with("ram")
        && !name.starts_with("zram")
}

/// Aggregate CPU time counters from the first line of `/proc/stat`, in clock ticks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTimes {
    pub total: u64,
    pub steal: u64,
}

/// Parses the `cpu` line of `/proc/stat`. Guest time is already included in user time, so
/// only the first eight fields make up the total.
pub fn parse_cpu_times(text: &str) -> Option<CpuTimes> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|v| v.parse().ok())
        .collect::<Option<_>>()?;
    if values.len() < 4 {
        return None;
    }
    Some(CpuTimes {
        total: values.iter().sum(),
        steal: values.get(7).copied().unwrap_or(0),
    })
}

/// Reads one `Key:   123 kB` entry of `/proc/meminfo`, in bytes.
pub fn meminfo_bytes(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(key)?.strip_prefix(':')?;
        let kib: u64 = rest.split_whitespace().next()?.parse().ok()?;
        Some(kib * 1024)
    })
}

/// TCP socket counts by state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpCounts {
    /// Every socket with a peer or on its way to one: all states but LISTEN, TIME_WAIT and CLOSE.
    pub active: u32,
    pub listening: u32,
    pub established: u32,
}

impl TcpCounts {
    pub fn plus(self, other: TcpCounts) -> TcpCounts {
        TcpCounts {
            active: self.active + other.active,
            listening: self.listening + other.listening,
            established: self.established + other.established,
        }
    }
}

/// The kernel's TCP states (`include/net/tcp_states.h`) this module tells apart.
pub const TCP_ESTABLISHED: u8 = 0x01;
pub const TCP_TIME_WAIT: u8 = 0x06;
pub const TCP_CLOSE: u8 = 0x07;
pub const TCP_LISTEN: u8 = 0x0A;

impl TcpCounts {
    /// Counts one socket in `state`.
    pub fn count(&mut self, state: u8) {
        match state {
            TCP_LISTEN => self.listening += 1,
            TCP_TIME_WAIT | TCP_CLOSE => {}
            other => {
                self.active += 1;
                if other == TCP_ESTABLISHED {
                    self.established += 1;
                }
            }
        }
    }
}

/// `inuse` of the `TCP:` (or `TCP6:`) line of `/proc/net/sockstat` (`sockstat6`): sockets in the
/// kernel's listening and connection tables, TIME_WAIT excluded.
pub fn sockstat_inuse(text: &str, protocol: &str) -> Option<u32> {
    let line = text
        .lines()
        .find(|l| l.split_whitespace().next() == Some(protocol))?;
    let mut words = line.split_whitespace();
    words.find(|w| *w == "inuse")?;
    words.next()?.parse().ok()
}

/// `CurrEstab` of `/proc/net/snmp` (IPv4 and IPv6): connections in ESTABLISHED or CLOSE_WAIT.
pub fn snmp_current_established(text: &str) -> Option<u32> {
    let mut tcp = text.lines().filter(|l| l.starts_with("Tcp:"));
    let (names, values) = (tcp.next()?, tcp.next()?);
    let index = names.split_whitespace().position(|n| n == "CurrEstab")?;
    values.split_whitespace().nth(index)?.parse().ok()
}

/// Counts sockets in a `/proc/net/tcp` or `/proc/net/tcp6` table (state is the 4th column, hex).
pub fn parse_tcp_table(text: &str) -> TcpCounts {
    let mut counts = TcpCounts::default();
    for line in text.lines().skip(1) {
        if let Some(state) = line
            .split_whitespace()
            .nth(3)
            .and_then(|s| u8::from_str_radix(s, 16).ok())
        {
            counts.count(state);
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    const DISKSTATS: &str = "\
   8       0 sda 1000 10 8000 400 2000 20 16000 900 0 1200 1300 0 0 0 0
   8       1 sda1 900 10 7000 350 1900 20 15000 850 0 1100 1200 0 0 0 0
   7       0 loop0 50 0 400 5 0 0 0 0 0 5 5 0 0 0 0
 253       0 dm-0 800 0 6000 300 1800 0 14000 800 0 1000 1100 0 0 0 0
 259       0 nvme0n1 10 0 80 4 20 0 160 9 0 12 13
";

    #[test]
    fn diskstats_keeps_only_accepted_devices_and_reads_the_right_columns() {
        let disks = parse_diskstats(DISKSTATS, |name| matches!(name, "sda" | "nvme0n1"));
        assert_eq!(disks.len(), 2);
        assert_eq!(
            disks[0],
            (
                "sda".to_string(),
                DiskCounters {
                    reads: 1000,
                    read_sectors: 8000,
                    read_ms: 400,
                    writes: 2000,
                    write_sectors: 16000,
                    write_ms: 900
                }
            )
        );
        assert_eq!(disks[1].1.write_ms, 9);
    }

    #[test]
    fn physical_disks_need_a_device_link_and_are_not_loop_or_ram() {
        assert!(is_physical_disk("sda", true));
        assert!(is_physical_disk("vda", true));
        assert!(!is_physical_disk("sda1", false));
        assert!(!is_physical_disk("dm-0", false));
        assert!(!is_physical_disk("loop0", true));
        assert!(!is_physical_disk("zram0", true));
    }

    #[test]
    fn cpu_times_sum_the_first_eight_fields_and_take_steal() {
        let text = "cpu  100 5 50 800 10 1 2 32 7 0\ncpu0 50 2 25 400 5 0 1 16 3 0\n";
        assert_eq!(
            parse_cpu_times(text),
            Some(CpuTimes {
                total: 1000,
                steal: 32
            })
        );
        // Old kernels without a steal column still parse.
        assert_eq!(
            parse_cpu_times("cpu 1 2 3 4\n"),
            Some(CpuTimes {
                total: 10,
                steal: 0
            })
        );
        assert_eq!(parse_cpu_times("intr 1 2\n"), None);
    }

    #[test]
    fn meminfo_entries_are_converted_to_bytes() {
        let text =
            "MemTotal:       16000000 kB\nCached:          2048 kB\nSwapCached:        4 kB\n";
        assert_eq!(meminfo_bytes(text, "Cached"), Some(2048 * 1024));
        assert_eq!(meminfo_bytes(text, "SwapCached"), Some(4096));
        assert_eq!(meminfo_bytes(text, "Buffers"), None);
    }

    #[test]
    fn sockstat_and_snmp_counters_are_read_by_name() {
        let sockstat =
            "sockets: used 9\nTCP: inuse 7 orphan 0 tw 2 alloc 9 mem 57\nUDP: inuse 3 mem 0\n";
        assert_eq!(sockstat_inuse(sockstat, "TCP:"), Some(7));
        assert_eq!(sockstat_inuse("TCP6: inuse 4\n", "TCP6:"), Some(4));
        assert_eq!(sockstat_inuse(sockstat, "TCP6:"), None);
        let snmp = "Ip: Forwarding DefaultTTL\nIp: 1 64\nTcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs\nTcp: 1 200 120000 -1 4753 2804 1851 133 5 217028\n";
        assert_eq!(snmp_current_established(snmp), Some(5));
        assert_eq!(snmp_current_established("Tcp: CurrEstab\n"), None);
    }

    #[test]
    fn tcp_states_are_counted() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1
   1: 0100007F:0BB8 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 2 1
   2: 0100007F:D2F0 0100007F:0BB8 01 00000000:00000000 00:00000000 00000000     0        0 3 1
   3: 0100007F:D2F2 0100007F:0BB8 06 00000000:00000000 00:00000000 00000000     0        0 0 1
   4: 0100007F:D2F4 0100007F:0BB8 08 00000000:00000000 00:00000000 00000000     0        0 4 1
";
        assert_eq!(
            parse_tcp_table(text),
            TcpCounts {
                active: 3,
                listening: 1,
                established: 2
            }
        );
        assert_eq!(parse_tcp_table(""), TcpCounts::default());
    }
}
