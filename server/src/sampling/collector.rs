//! Reads one sample of the local machine from sysinfo and `/proc`, keeping the previous
//! counters so rates can be derived from deltas.
use super::{
    procfs::{self, CpuTimes, DiskCounters, TcpCounts},
    rates::{self, average_latency_ms, counter_delta, keyed_delta, rate_per_second},
};
use crate::storage::hosts::HostFacts;
use app::models::{
    ConnectionStats, CpuInfo, CpuStats, DiskInfo, DiskStats, FilesystemUsage, MemoryInfo,
    MemoryStats, NetworkInterfaceInfo, NetworkStats, ProcessStats, Stats, SystemInfo,
};
use chrono::{DateTime, Utc};
use std::{collections::HashMap, path::Path, time::Instant};
use sysinfo::{
    Disks, InterfaceOperationalState, Networks, ProcessRefreshKind, ProcessStatus,
    ProcessesToUpdate, System,
};

/// File systems that hold no user data and would distort disk usage.
const PSEUDO_FILESYSTEMS: &[&str] = &[
    "tmpfs",
    "devtmpfs",
    "ramfs",
    "squashfs",
    "proc",
    "sysfs",
    "cgroup",
    "cgroup2",
    "autofs",
    "nsfs",
    "fuse.lxcfs",
    "efivarfs",
];

struct Counters {
    at: Instant,
    net_in: HashMap<String, u64>,
    net_out: HashMap<String, u64>,
    disks: HashMap<String, DiskCounters>,
    cpu: Option<CpuTimes>,
}

pub struct Collector {
    system: System,
    networks: Networks,
    disks: Disks,
    previous: Option<Counters>,
    /// `None` without a cgroup v2 hierarchy or NVIDIA driver (said once in the log).
    containers: Option<super::containers::Containers>,
    gpus: Option<super::gpus::Gpus>,
}

/// Now, truncated to milliseconds: JSON clients and PostgreSQL then agree on the exact instant.
pub fn now_millis() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

impl Collector {
    pub fn new() -> anyhow::Result<Self> {
        let mut collector = Collector {
            system: System::new()
                .map_err(|e| anyhow::anyhow!("cannot read system information: {e:?}"))?,
            networks: Networks::new_with_refreshed_list()
                .map_err(|e| anyhow::anyhow!("cannot list network interfaces: {e:?}"))?,
            disks: Disks::new_with_refreshed_list()
                .map_err(|e| anyhow::anyhow!("cannot list disks: {e:?}"))?,
            previous: None,
            containers: None,
            gpus: None,
        };
        let cgroups = super::containers::Containers::system_root();
        collector.containers =
            super::containers::Containers::new(&cgroups, Path::new("/var/run/docker.sock"));
        if collector.containers.is_none() {
            tracing::info!(root = %cgroups.display(), "No cgroup v2 hierarchy: container metrics are off.");
        }
        match super::gpus::Gpus::new() {
            Ok(gpus) => collector.gpus = Some(gpus),
            Err(reason) => tracing::info!(%reason, "GPU metrics are off."),
        }
        // CPU usage and every rate need a previous reading; take it now so the first real
        // sample already has meaningful values.
        collector.sample();
        Ok(collector)
    }

    /// Takes one sample. Blocking (reads many small files): call it off the async runtime.
    pub fn sample(&mut self) -> Stats {
        let timestamp = now_millis();
        let now = Instant::now();
        let elapsed = self
            .previous
            .as_ref()
            .map(|p| now.duration_since(p.at).as_secs_f64())
            .unwrap_or(0.0);

        self.system.refresh_cpu_usage();
        self.system.refresh_cpu_frequency();
        self.system.refresh_memory();
        // CPU and memory per process feed an alert's `affected_processes`.
        // Command lines are read once per process (they rarely change): agents send them with the top processes.
        // Threads are not read: every reader counts and ranks processes, and listing each
        // process's tasks was most of the scan's cost.
        self.system.refresh_processes_specifics(
            ProcessesToUpdate::All,
            true,
            ProcessRefreshKind::nothing()
                .without_tasks()
                .with_cpu()
                .with_memory()
                .with_cmd(sysinfo::UpdateKind::OnlyIfNotSet),
        );
        self.networks.refresh(true);
        self.disks.refresh(true);

        let cpu_times = procfs::parse_cpu_times(&procfs::read("/proc/stat"));
        let disk_counters: HashMap<String, DiskCounters> =
            procfs::parse_diskstats(&procfs::read("/proc/diskstats"), |name| {
                procfs::is_physical_disk(
                    name,
                    Path::new("/sys/block").join(name).join("device").exists(),
                )
            })
            .into_iter()
            .collect();
        let (net_in, net_out) = self.network_counters();

        let previous = self.previous.take();
        let stats = Stats {
            cpu: self.cpu(cpu_times, previous.as_ref().and_then(|p| p.cpu)),
            memory: self.memory(),
            disk: self.disk(&disk_counters, previous.as_ref(), elapsed),
            network: self.network(&net_in, &net_out, previous.as_ref(), elapsed),
            processes: self.processes(),
            connections: connections(),
            timestamp,
            containers: self
                .containers
                .as_mut()
                .map(|c| c.sample())
                .unwrap_or_default(),
            gpus: self.gpus.as_ref().map(|g| g.sample()).unwrap_or_default(),
        };
        self.previous = Some(Counters {
            at: now,
            net_in,
            net_out,
            disks: disk_counters,
            cpu: cpu_times,
        });
        stats
    }

    fn cpu(&self, now: Option<CpuTimes>, before: Option<CpuTimes>) -> CpuStats {
        let cpus = self.system.cpus();
        let cores = cpus.len() as u32;
        let frequency = cpus.iter().map(|c| c.frequency()).max().unwrap_or(0);
        let percent = f64::from(self.system.global_cpu_usage()).clamp(0.0, 100.0);
        let ready_percent = match (now, before) {
            (Some(now), Some(before)) => match (
                counter_delta(before.steal, now.steal),
                counter_delta(before.total, now.total),
            ) {
                (Some(steal), Some(total)) if total > 0 => {
                    (steal as f64 / total as f64 * 100.0).clamp(0.0, 100.0)
                }
                _ => 0.0,
            },
            _ => 0.0,
        };
        let load = System::load_average().unwrap_or(sysinfo::LoadAvg {
            one: 0.0,
            five: 0.0,
            fifteen: 0.0,
        });
        CpuStats {
            percent,
            cores,
            frequency,
            // As vSphere reports it: the share of all cores' clock in use.
            usage_mhz: percent / 100.0 * frequency as f64 * f64::from(cores),
            ready_percent,
            load1: load.one,
            load5: load.five,
            load15: load.fifteen,
        }
    }

    fn memory(&self) -> MemoryStats {
        let total = self.system.total_memory();
        let available = self.system.available_memory();
        let used = total.saturating_sub(available);
        MemoryStats {
            total,
            available,
            used,
            free: self.system.free_memory(),
            percent: if total > 0 {
                used as f64 / total as f64 * 100.0
            } else {
                0.0
            },
            cached: procfs::meminfo_bytes(&procfs::read("/proc/meminfo"), "Cached").unwrap_or(0),
            swap_total: self.system.total_swap(),
            swap_used: self.system.used_swap(),
        }
    }

    fn filesystems(&self) -> Vec<FilesystemUsage> {
        let mut seen = std::collections::HashSet::new();
        self.disks
            .iter()
            .filter(|d| {
                !PSEUDO_FILESYSTEMS.contains(&d.file_system().to_string_lossy().as_ref())
                    && d.total_space() > 0
            })
            // Bind mounts show one device several times; count it once.
            .filter(|d| seen.insert(d.name().to_os_string()))
            .map(|d| {
                let total = d.total_space();
                let free = d.available_space().min(total);
                FilesystemUsage {
                    device: d.name().to_string_lossy().into_owned(),
                    mountpoint: d.mount_point().to_string_lossy().into_owned(),
                    total,
                    free,
                    percent: (total - free) as f64 / total as f64 * 100.0,
                }
            })
            .collect()
    }

    fn disk(
        &self,
        counters: &HashMap<String, DiskCounters>,
        previous: Option<&Counters>,
        elapsed: f64,
    ) -> DiskStats {
        let filesystems = self.filesystems();
        let total: u64 = filesystems.iter().map(|f| f.total).sum();
        let free: u64 = filesystems.iter().map(|f| f.free).sum();
        let used = total.saturating_sub(free);
        let field = |f: fn(&DiskCounters) -> u64| -> HashMap<&str, u64> {
            counters.iter().map(|(k, v)| (k.as_str(), f(v))).collect()
        };
        let delta = |f: fn(&DiskCounters) -> u64| -> Option<u64> {
            let before: HashMap<&str, u64> = previous?
                .disks
                .iter()
                .map(|(k, v)| (k.as_str(), f(v)))
                .collect();
            keyed_delta(&before, &field(f))
        };
        let reads = delta(|c| c.reads);
        let writes = delta(|c| c.writes);
        let sector_rate = |d: Option<u64>| {
            rate_per_second(
                d.map(|s| s.saturating_mul(procfs::SECTOR_BYTES)),
                elapsed,
                rates::MAX_DISK_BYTES_PER_SEC,
            )
        };
        DiskStats {
            total,
            free,
            used,
            percent: if total > 0 {
                used as f64 / total as f64 * 100.0
            } else {
                0.0
            },
            read_bytes: counters
                .values()
                .map(|c| c.read_sectors.saturating_mul(procfs::SECTOR_BYTES))
                .sum(),
            write_bytes: counters
                .values()
                .map(|c| c.write_sectors.saturating_mul(procfs::SECTOR_BYTES))
                .sum(),
            read_bps: sector_rate(delta(|c| c.read_sectors)),
            write_bps: sector_rate(delta(|c| c.write_sectors)),
            read_iops: rate_per_second(reads, elapsed, rates::MAX_IOPS),
            write_iops: rate_per_second(writes, elapsed, rates::MAX_IOPS),
            read_latency_ms: average_latency_ms(delta(|c| c.read_ms), reads),
            write_latency_ms: average_latency_ms(delta(|c| c.write_ms), writes),
            filesystems,
        }
    }

    fn network_counters(&self) -> (HashMap<String, u64>, HashMap<String, u64>) {
        let mut received = HashMap::new();
        let mut sent = HashMap::new();
        for (name, data) in self.networks.iter() {
            let name = name.to_string_lossy();
            // Loopback traffic never leaves the machine; counting it would double local traffic.
            if name == "lo" {
                continue;
            }
            received.insert(name.to_string(), data.total_received());
            sent.insert(name.to_string(), data.total_transmitted());
        }
        (received, sent)
    }

    fn network(
        &self,
        received: &HashMap<String, u64>,
        sent: &HashMap<String, u64>,
        previous: Option<&Counters>,
        elapsed: f64,
    ) -> NetworkStats {
        let interfaces = || {
            self.networks
                .iter()
                .filter(|(name, _)| name.to_string_lossy() != "lo")
        };
        NetworkStats {
            bytes_sent: sent.values().sum(),
            bytes_recv: received.values().sum(),
            packets_sent: interfaces()
                .map(|(_, d)| d.total_packets_transmitted())
                .sum(),
            packets_recv: interfaces().map(|(_, d)| d.total_packets_received()).sum(),
            in_bps: rate_per_second(
                previous.and_then(|p| keyed_delta(&p.net_in, received)),
                elapsed,
                rates::MAX_NETWORK_BYTES_PER_SEC,
            ),
            out_bps: rate_per_second(
                previous.and_then(|p| keyed_delta(&p.net_out, sent)),
                elapsed,
                rates::MAX_NETWORK_BYTES_PER_SEC,
            ),
        }
    }

    /// Names of the processes using the most CPU (then memory) at the last sample, without repeats.
    pub fn top_processes(&self, count: usize) -> Vec<String> {
        let mut processes: Vec<_> = self
            .system
            .processes()
            .values()
            .filter(|p| p.thread_kind().is_none())
            .collect();
        processes.sort_by(|a, b| {
            b.cpu_usage()
                .total_cmp(&a.cpu_usage())
                .then_with(|| b.memory().cmp(&a.memory()))
        });
        let mut names: Vec<String> = Vec::new();
        for process in processes {
            let name = process.name().to_string_lossy().into_owned();
            if !names.contains(&name) {
                names.push(name);
            }
            if names.len() == count {
                break;
            }
        }
        names
    }

    /// The union of the top `count` processes by CPU and by memory at the last sample, with
    /// their command lines (cut to 128 characters), busiest first.
    pub fn process_details(&mut self, count: usize) -> Vec<app::models::ProcessInfo> {
        let mut processes: Vec<_> = self
            .system
            .processes()
            .values()
            .filter(|p| p.thread_kind().is_none())
            .collect();
        processes.sort_by(|a, b| b.cpu_usage().total_cmp(&a.cpu_usage()));
        let mut chosen: Vec<&sysinfo::Process> = processes.iter().take(count).copied().collect();
        processes.sort_by_key(|p| std::cmp::Reverse(p.memory()));
        for process in processes.into_iter().take(count) {
            if !chosen.iter().any(|c| c.pid() == process.pid()) {
                chosen.push(process);
            }
        }
        chosen
            .into_iter()
            .map(|p| {
                let command: String = p
                    .cmd()
                    .iter()
                    .map(|a| a.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(" ")
                    .chars()
                    .take(128)
                    .collect();
                app::models::ProcessInfo {
                    pid: p.pid().as_u32(),
                    name: p.name().to_string_lossy().chars().take(64).collect(),
                    command,
                    cpu_percent: f64::from(p.cpu_usage()),
                    rss_bytes: p.memory(),
                }
            })
            .collect()
    }

    fn processes(&self) -> ProcessStats {
        let mut stats = ProcessStats::default();
        // Linux lists threads as tasks; a process count should not include them.
        for process in self
            .system
            .processes()
            .values()
            .filter(|p| p.thread_kind().is_none())
        {
            stats.total += 1;
            match process.status() {
                ProcessStatus::Run => stats.running += 1,
                ProcessStatus::Sleep
                | ProcessStatus::Idle
                | ProcessStatus::UninterruptibleDiskSleep => stats.sleeping += 1,
                ProcessStatus::Zombie => stats.zombie += 1,
                _ => {}
            }
        }
        stats
    }

    /// Facts registered for the host at start.
    pub fn host_facts(&self) -> HostFacts {
        let hostname = System::host_name().unwrap_or_else(|_| "localhost".into());
        HostFacts {
            vm_id: hostname.clone(),
            name: hostname.clone(),
            hostname,
            platform: System::name().unwrap_or_else(|_| std::env::consts::OS.into()),
            platform_version: System::kernel_version().unwrap_or_default(),
            architecture: System::cpu_arch(),
            cpu_model: self
                .system
                .cpus()
                .first()
                .map(|c| c.brand().to_string())
                .unwrap_or_default(),
            cpu_cores: i32::try_from(self.system.cpus().len()).unwrap_or(i32::MAX),
            memory_total: i64::try_from(self.system.total_memory()).unwrap_or(i64::MAX),
            boot_time: System::boot_time()
                .ok()
                .and_then(|s| DateTime::from_timestamp(i64::try_from(s).ok()?, 0)),
        }
    }

    /// The static description served by `GET /system`.
    pub fn system_info(&self) -> SystemInfo {
        let cpus = self.system.cpus();
        let cache_kib = procfs::read("/proc/cpuinfo")
            .lines()
            .find_map(|l| {
                l.strip_prefix("cache size")?
                    .split(':')
                    .nth(1)?
                    .split_whitespace()
                    .next()?
                    .parse::<u64>()
                    .ok()
            })
            .unwrap_or(0);
        let load = System::load_average().unwrap_or(sysinfo::LoadAvg {
            one: 0.0,
            five: 0.0,
            fifteen: 0.0,
        });
        let mut interfaces: Vec<NetworkInterfaceInfo> = self
            .networks
            .iter()
            .map(|(name, data)| NetworkInterfaceInfo {
                interface: name.to_string_lossy().into_owned(),
                ip_address: data
                    .ip_networks()
                    .iter()
                    .min_by_key(|n| n.addr.is_ipv6())
                    .map(|n| n.addr.to_string())
                    .unwrap_or_default(),
                mac_address: data.mac_address().to_string(),
                is_up: data.operational_state() == InterfaceOperationalState::Up
                    || (name.to_string_lossy() == "lo" && !data.ip_networks().is_empty()),
            })
            .collect();
        interfaces.sort_by(|a, b| a.interface.cmp(&b.interface));
        SystemInfo {
            hostname: System::host_name().unwrap_or_default(),
            platform: System::name().unwrap_or_else(|_| std::env::consts::OS.into()),
            platform_version: System::kernel_version().unwrap_or_default(),
            architecture: System::cpu_arch(),
            server_version: env!("CARGO_PKG_VERSION").to_string(),
            cpu_info: CpuInfo {
                model: cpus
                    .first()
                    .map(|c| c.brand().to_string())
                    .unwrap_or_default(),
                cores: System::physical_core_count()
                    .map(|n| n as u32)
                    .unwrap_or(cpus.len() as u32),
                threads: cpus.len() as u32,
                frequency: cpus.iter().map(|c| c.frequency()).max().unwrap_or(0),
                cache_size: cache_kib,
            },
            memory_info: MemoryInfo {
                total: self.system.total_memory(),
                available: self.system.available_memory(),
                swap_total: self.system.total_swap(),
                swap_available: self.system.free_swap(),
            },
            disk_info: self
                .disks
                .iter()
                .filter(|d| {
                    !PSEUDO_FILESYSTEMS.contains(&d.file_system().to_string_lossy().as_ref())
                })
                .map(|d| DiskInfo {
                    device: d.name().to_string_lossy().into_owned(),
                    mountpoint: d.mount_point().to_string_lossy().into_owned(),
                    total: d.total_space(),
                    free: d.available_space(),
                    filesystem: d.file_system().to_string_lossy().into_owned(),
                })
                .collect(),
            network_info: interfaces,
            uptime: System::uptime().unwrap_or(0),
            load_average: [load.one, load.five, load.fifteen],
        }
    }
}

/// The kernel's counters first (`sockdiag`); the `/proc` tables where they are unavailable (logged once).
fn connections() -> ConnectionStats {
    static NETLINK_REFUSED: std::sync::Once = std::sync::Once::new();
    let counts: TcpCounts = super::sockdiag::tcp_counts().unwrap_or_else(|error| {
        NETLINK_REFUSED.call_once(|| {
            tracing::info!(%error, "TCP socket counters unavailable; counting sockets from /proc/net/tcp instead.");
        });
        procfs::parse_tcp_table(&procfs::read("/proc/net/tcp"))
            .plus(procfs::parse_tcp_table(&procfs::read("/proc/net/tcp6")))
    });
    ConnectionStats {
        active: counts.active,
        listening: counts.listening,
        established: counts.established,
    }
}
