//! Containers from the cgroup v2 hierarchy: every cgroup named after a container id (Docker,
//! Podman, containerd, CRI-O, with the systemd or the cgroupfs driver), its CPU over the
//! interval (`cpu.stat`), memory (`memory.current`, `memory.max`) and I/O rates (`io.stat`).
//! Names come from the Docker socket when it is readable, else the id's first 12 digits.
//!
//! The tree is walked again only every `RESCAN` (containers come and go far less often than
//! the sampler ticks); between walks only the known containers' files are read.
use super::rates::rate_per_second;
use app::models::ContainerStats;
use std::{
    collections::HashMap,
    io::{Read, Write},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

/// How often the hierarchy is walked for new and gone containers.
const RESCAN: Duration = Duration::from_secs(10);
/// Directory levels below the root searched for containers (`/kubepods.slice/…/…/cri-…scope`).
const MAX_DEPTH: usize = 6;
/// Containers reported per sample at most (by CPU, then memory): a sample stays small.
pub const MAX_CONTAINERS: usize = 50;
/// Beyond these a rate is a counter we misread, not a measurement (1 024 cores, 1 TB/s).
const MAX_CPU_USEC_PER_SEC: f64 = 1024.0 * 1e6;
const MAX_BYTES_PER_SEC: f64 = 1e12;

/// A container id in a cgroup directory name: 64 hex digits, bare (`docker/<id>`, cgroupfs
/// driver) or wrapped by the systemd driver (`docker-<id>.scope`, `libpod-<id>.scope`,
/// `cri-containerd-<id>.scope`, `crio-<id>.scope`).
pub fn container_id(name: &str) -> Option<&str> {
    let inner = name
        .strip_suffix(".scope")
        .map(|n| n.rsplit_once('-').map_or(n, |(_, id)| id))
        .unwrap_or(name);
    (inner.len() == 64 && inner.bytes().all(|b| b.is_ascii_hexdigit())).then_some(inner)
}

/// `usage_usec` of a `cpu.stat`.
pub fn parse_cpu_usage_usec(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix("usage_usec ")?.trim().parse().ok())
}

/// Bytes read and written over every device of an `io.stat`
/// (`8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0`).
pub fn parse_io_bytes(text: &str) -> (u64, u64) {
    let mut total = (0u64, 0u64);
    for field in text.split_whitespace() {
        if let Some(v) = field
            .strip_prefix("rbytes=")
            .and_then(|v| v.parse::<u64>().ok())
        {
            total.0 = total.0.saturating_add(v);
        } else if let Some(v) = field
            .strip_prefix("wbytes=")
            .and_then(|v| v.parse::<u64>().ok())
        {
            total.1 = total.1.saturating_add(v);
        }
    }
    total
}

/// `memory.max`: a number of bytes, or `max` for no limit.
pub fn parse_memory_max(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// Container ids and names from a Docker Engine `GET /containers/json` answer.
pub fn parse_docker_names(body: &str) -> HashMap<String, String> {
    #[derive(serde::Deserialize)]
    struct Listed {
        #[serde(rename = "Id")]
        id: String,
        #[serde(rename = "Names", default)]
        names: Vec<String>,
    }
    serde_json::from_str::<Vec<Listed>>(body)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|c| {
            let name = c.names.first()?.trim_start_matches('/').to_owned();
            Some((c.id, name))
        })
        .collect()
}

struct Previous {
    at: Instant,
    cpu_usec: u64,
    read_bytes: u64,
    write_bytes: u64,
}

pub struct Containers {
    root: PathBuf,
    docker_socket: PathBuf,
    /// Container id → its cgroup directory.
    known: HashMap<String, PathBuf>,
    previous: HashMap<String, Previous>,
    names: HashMap<String, String>,
    scanned: Option<Instant>,
    /// Whether the Docker socket answered last time (asked again on every rescan).
    docker_names: bool,
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

impl Containers {
    /// `None` (logged once by the caller) when `root` is not a cgroup v2 hierarchy.
    pub fn new(root: &Path, docker_socket: &Path) -> Option<Self> {
        root.join("cgroup.controllers")
            .exists()
            .then(|| Containers {
                root: root.to_path_buf(),
                docker_socket: docker_socket.to_path_buf(),
                known: HashMap::new(),
                previous: HashMap::new(),
                names: HashMap::new(),
                scanned: None,
                docker_names: false,
            })
    }

    /// The cgroup v2 root of this machine: `/sys/fs/cgroup` (unified), or the `unified`
    /// mount of a hybrid one (CPU only there: memory and I/O stay with cgroup v1).
    pub fn system_root() -> PathBuf {
        let unified = Path::new("/sys/fs/cgroup");
        if unified.join("cgroup.controllers").exists() {
            unified.to_path_buf()
        } else {
            unified.join("unified")
        }
    }

    fn rescan(&mut self) {
        let mut found = HashMap::new();
        let mut stack = vec![(self.root.clone(), 0usize)];
        while let Some((dir, depth)) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                    continue;
                }
                let name = entry.file_name();
                let name = name.to_string_lossy();
                match container_id(&name) {
                    // A container's own sub-cgroups (`init.scope`) belong to it: not searched.
                    Some(id) => {
                        found.insert(id.to_owned(), entry.path());
                    }
                    None if depth + 1 < MAX_DEPTH => stack.push((entry.path(), depth + 1)),
                    None => {}
                }
            }
        }
        self.previous.retain(|id, _| found.contains_key(id));
        let unnamed = found.keys().any(|id| !self.names.contains_key(id));
        self.known = found;
        if unnamed || self.docker_names {
            self.refresh_names();
        }
        self.scanned = Some(Instant::now());
    }

    /// Asks the Docker Engine for names (one short request over its socket, 1 s timeout);
    /// without access, containers keep their short ids.
    fn refresh_names(&mut self) {
        let answer = (|| -> std::io::Result<String> {
            let mut stream = std::os::unix::net::UnixStream::connect(&self.docker_socket)?;
            stream.set_read_timeout(Some(Duration::from_secs(1)))?;
            stream.set_write_timeout(Some(Duration::from_secs(1)))?;
            stream.write_all(b"GET /containers/json HTTP/1.0\r\nHost: docker\r\n\r\n")?;
            let mut text = String::new();
            stream.take(4 << 20).read_to_string(&mut text)?;
            Ok(text)
        })();
        self.docker_names = false;
        if let Ok(text) = answer {
            if let Some((_, body)) = text.split_once("\r\n\r\n") {
                let names = parse_docker_names(body);
                self.docker_names = !names.is_empty();
                self.names.extend(names);
            }
        }
    }

    /// One reading of every container; rates need a previous reading, so a container's first
    /// sample has 0 for them.
    pub fn sample(&mut self) -> Vec<ContainerStats> {
        if self.scanned.is_none_or(|t| t.elapsed() >= RESCAN) {
            self.rescan();
        }
        let now = Instant::now();
        let mut out = Vec::with_capacity(self.known.len());
        for (id, dir) in &self.known {
            let Some(cpu_usec) = read(&dir.join("cpu.stat"))
                .as_deref()
                .and_then(parse_cpu_usage_usec)
            else {
                continue; // gone since the last walk
            };
            let io = read(&dir.join("io.stat")).as_deref().map(parse_io_bytes);
            let (read_bytes, write_bytes) = io.unwrap_or((0, 0));
            let memory_bytes =
                read(&dir.join("memory.current")).and_then(|t| t.trim().parse().ok());
            let memory_limit_bytes = read(&dir.join("memory.max"))
                .as_deref()
                .and_then(parse_memory_max);
            let (cpu_percent, read_bps, write_bps) = match self.previous.get(id) {
                Some(p) => {
                    let secs = now.duration_since(p.at).as_secs_f64();
                    // Counters are 64-bit: one that went down was reset (a restarted container).
                    (
                        rate_per_second(
                            cpu_usec.checked_sub(p.cpu_usec),
                            secs,
                            MAX_CPU_USEC_PER_SEC,
                        ) / 1e4,
                        rate_per_second(
                            read_bytes.checked_sub(p.read_bytes),
                            secs,
                            MAX_BYTES_PER_SEC,
                        ),
                        rate_per_second(
                            write_bytes.checked_sub(p.write_bytes),
                            secs,
                            MAX_BYTES_PER_SEC,
                        ),
                    )
                }
                None => (0.0, 0.0, 0.0),
            };
            self.previous.insert(
                id.clone(),
                Previous {
                    at: now,
                    cpu_usec,
                    read_bytes,
                    write_bytes,
                },
            );
            out.push(ContainerStats {
                id: id.clone(),
                name: self
                    .names
                    .get(id)
                    .cloned()
                    .unwrap_or_else(|| id[..12].to_owned()),
                cpu_percent,
                memory_bytes,
                memory_limit_bytes,
                read_bps: io.map(|_| read_bps),
                write_bps: io.map(|_| write_bps),
            });
        }
        out.sort_by(|a, b| {
            b.cpu_percent
                .total_cmp(&a.cpu_percent)
                .then(b.memory_bytes.cmp(&a.memory_bytes))
        });
        out.truncate(MAX_CONTAINERS);
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4f1c0a7d2b9e3c5f6a8b0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a";

    #[test]
    fn container_ids_are_found_in_every_drivers_naming() {
        for name in [
            format!("docker-{ID}.scope"),
            format!("libpod-{ID}.scope"),
            format!("cri-containerd-{ID}.scope"),
            format!("crio-{ID}.scope"),
            ID.to_owned(),
        ] {
            assert_eq!(container_id(&name), Some(ID), "{name}");
        }
        for name in [
            "system.slice",
            "init.scope",
            "docker-1234.scope",
            "user-1000.slice",
            &ID[1..],
        ] {
            assert_eq!(container_id(name), None, "{name}");
        }
    }

    #[test]
    fn cgroup_files_parse_as_the_kernel_writes_them() {
        assert_eq!(
            parse_cpu_usage_usec("usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\n"),
            Some(123_456)
        );
        assert_eq!(parse_cpu_usage_usec("user_usec 1\n"), None);
        assert_eq!(
            parse_io_bytes("8:0 rbytes=1000 wbytes=2000 rios=1 wios=2 dbytes=0 dios=0\n259:0 rbytes=10 wbytes=20 rios=1 wios=1 dbytes=0 dios=0\n"),
            (1010, 2020)
        );
        assert_eq!(parse_io_bytes(""), (0, 0));
        assert_eq!(parse_memory_max("max\n"), None);
        assert_eq!(parse_memory_max("536870912\n"), Some(536_870_912));
        let names = parse_docker_names(&format!(
            r#"[{{"Id":"{ID}","Names":["/web-1"],"Image":"nginx"}}]"#
        ));
        assert_eq!(names.get(ID).map(String::as_str), Some("web-1"));
        assert!(parse_docker_names("not json").is_empty());
    }

    fn write(dir: &Path, file: &str, text: &str) {
        std::fs::write(dir.join(file), text).expect("write");
    }

    #[test]
    fn a_fake_hierarchy_gives_rates_between_two_readings_and_short_ids_without_docker() {
        let root = tempfile::tempdir().expect("dir");
        write(root.path(), "cgroup.controllers", "cpu io memory pids\n");
        let slice = root.path().join("system.slice");
        let container = slice.join(format!("docker-{ID}.scope"));
        std::fs::create_dir_all(container.join("init.scope")).expect("dirs");
        std::fs::create_dir_all(slice.join("ssh.service")).expect("dirs");
        write(&container, "cpu.stat", "usage_usec 1000000\n");
        write(&container, "io.stat", "8:0 rbytes=0 wbytes=0\n");
        write(&container, "memory.current", "104857600\n");
        write(&container, "memory.max", "max\n");
        assert!(
            Containers::new(&slice, Path::new("/nonexistent")).is_none(),
            "not a cgroup v2 root"
        );
        let mut containers =
            Containers::new(root.path(), Path::new("/nonexistent/docker.sock")).expect("v2 root");
        let first = containers.sample();
        assert_eq!(first.len(), 1);
        assert_eq!(
            (
                first[0].name.as_str(),
                first[0].cpu_percent,
                first[0].memory_bytes
            ),
            (&ID[..12], 0.0, Some(104_857_600))
        );
        assert_eq!(first[0].memory_limit_bytes, None);
        std::thread::sleep(Duration::from_millis(200));
        // 0.1 s of CPU and 1 MB written in ~0.2 s: ~50 % of a core, ~5 MB/s.
        write(&container, "cpu.stat", "usage_usec 1100000\n");
        write(&container, "io.stat", "8:0 rbytes=0 wbytes=1000000\n");
        write(&container, "memory.max", "536870912\n");
        let second = containers.sample();
        assert!((35.0..=51.0).contains(&second[0].cpu_percent), "{second:?}");
        assert!(
            second[0]
                .write_bps
                .is_some_and(|w| (3.0e6..=5.1e6).contains(&w)),
            "{second:?}"
        );
        // Without the memory and io controllers (a hybrid hierarchy) those values are absent.
        std::fs::remove_file(container.join("memory.current")).expect("remove");
        std::fs::remove_file(container.join("io.stat")).expect("remove");
        let third = containers.sample();
        assert_eq!((third[0].memory_bytes, third[0].write_bps), (None, None));
        assert_eq!(second[0].memory_limit_bytes, Some(536_870_912));
        // Gone: its files vanish; the next reading leaves it out.
        std::fs::remove_dir_all(&container).expect("remove");
        assert!(containers.sample().is_empty());
    }
}
