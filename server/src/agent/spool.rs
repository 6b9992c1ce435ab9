//! The agent's durable spool: every sample is appended here before it is sent, and removed only
//! after the server took it.
//!
//! Layout: segment files `seg-<20-digit sequence>.log` of records `[u32 length][u32 CRC-32C]
//! [payload]` (little-endian), and `ack`, the position (segment, byte offset) up to which the
//! server has taken everything, written atomically (temporary file, fsync, rename, fsync of the
//! directory) before any segment it covers is removed.
//!
//! Guarantees:
//! - A record whose `append` returned is on disk (`fdatasync` per batch) and survives a crash
//!   or `SIGKILL`; delivery is at least once (a crash between sending and acknowledging repeats
//!   a batch; the server stores each (host, timestamp) once).
//! - Opening never fails on damaged contents: a torn tail (a crash mid-write) is truncated, a
//!   record whose checksum fails is skipped and counted, a segment with an unreadable length
//!   loses its remainder (counted), a missing segment is passed over. No crash loop.
//! - Over `max_bytes` or `max_age`, the oldest segments are dropped and their records counted.
use std::{
    collections::BTreeMap,
    fs::{self, File, OpenOptions},
    io::{self, Read, Seek, SeekFrom, Write},
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};

/// A segment is closed and a new one started past this size (smaller for small spools, so the
/// size cap, which drops whole segments, stays close).
pub const SEGMENT_BYTES: u64 = 4 << 20;
const MIN_SEGMENT_BYTES: u64 = 4 << 10;
/// A length above this is damage, not a record (samples are a few KiB).
const MAX_RECORD: u32 = 1 << 20;
const HEADER: u64 = 8;

/// Where the next unread record is: a segment and a byte offset in it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub segment: u64,
    pub offset: u64,
}

/// What opening found and what was dropped since, for logs and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Damage {
    /// Records skipped because their checksum failed.
    pub corrupt: u64,
    /// Bytes cut from a torn tail.
    pub truncated_bytes: u64,
    /// Segments that ended in an unreadable length (the rest of the segment was lost).
    pub lost_tails: u64,
    /// Records dropped because the spool was over its size or age cap.
    pub dropped: u64,
}

#[derive(Clone, Copy, Debug, Default)]
struct Segment {
    bytes: u64,
    records: u64,
}

pub struct Spool {
    dir: PathBuf,
    segment_bytes: u64,
    segments: BTreeMap<u64, Segment>,
    ack: Position,
    max_bytes: u64,
    max_age: Duration,
    pub damage: Damage,
}

/// CRC-32C (Castagnoli), bitwise over a 256-entry table built once per call site.
pub fn crc32c(data: &[u8]) -> u32 {
    const POLY: u32 = 0x82F6_3B78;
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut table = [0u32; 256];
        for (i, slot) in table.iter_mut().enumerate() {
            let mut crc = i as u32;
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ POLY
                } else {
                    crc >> 1
                };
            }
            *slot = crc;
        }
        table
    });
    !data.iter().fold(!0u32, |crc, &b| {
        table[((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8)
    })
}

fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("seg-{seq:020}.log"))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// One pass over a segment's records from `offset`: (records, the offset after the last good
/// record, whether it ended in damage that makes the rest unreadable, corrupt records skipped).
fn scan(
    path: &Path,
    from: u64,
    mut visit: impl FnMut(u64, &[u8]),
) -> io::Result<(u64, u64, bool, u64)> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(from))?;
    let mut reader = io::BufReader::new(file);
    let (mut offset, mut records, mut corrupt) = (from, 0u64, 0u64);
    let mut header = [0u8; HEADER as usize];
    loop {
        if offset == len {
            return Ok((records, offset, false, corrupt));
        }
        if len - offset < HEADER || reader.read_exact(&mut header).is_err() {
            return Ok((records, offset, true, corrupt));
        }
        let size = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let sum = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if size > MAX_RECORD || offset + HEADER + u64::from(size) > len {
            return Ok((records, offset, true, corrupt));
        }
        let mut payload = vec![0u8; size as usize];
        if reader.read_exact(&mut payload).is_err() {
            return Ok((records, offset, true, corrupt));
        }
        offset += HEADER + u64::from(size);
        if crc32c(&payload) == sum {
            records += 1;
            visit(offset, &payload);
        } else {
            corrupt += 1;
        }
    }
}

impl Spool {
    /// Opens (or creates) the spool in `dir`, repairing what a crash or damage left.
    pub fn open(dir: &Path, max_bytes: u64, max_age: Duration) -> io::Result<Spool> {
        fs::create_dir_all(dir)?;
        let mut segments = BTreeMap::new();
        for entry in fs::read_dir(dir)? {
            let name = entry?.file_name();
            let Some(seq) = name
                .to_str()
                .and_then(|n| n.strip_prefix("seg-"))
                .and_then(|n| n.strip_suffix(".log"))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            segments.insert(seq, Segment::default());
        }
        let ack = fs::read_to_string(dir.join("ack"))
            .ok()
            .and_then(|text| {
                let mut parts = text.split_whitespace().map(|p| p.parse::<u64>().ok());
                Some(Position {
                    segment: parts.next()??,
                    offset: parts.next()??,
                })
            })
            .unwrap_or_default();
        let segment_bytes = (max_bytes / 8).clamp(MIN_SEGMENT_BYTES, SEGMENT_BYTES);
        let mut spool = Spool {
            dir: dir.to_path_buf(),
            segment_bytes,
            segments,
            ack,
            max_bytes,
            max_age,
            damage: Damage::default(),
        };
        let last = spool.segments.keys().next_back().copied();
        let seqs: Vec<u64> = spool.segments.keys().copied().collect();
        for seq in seqs {
            let path = segment_path(dir, seq);
            let (records, good, broken, corrupt) = scan(&path, 0, |_, _| {})?;
            spool.damage.corrupt += corrupt;
            if broken {
                let len = fs::metadata(&path)?.len();
                if Some(seq) == last {
                    // A torn tail: the crash happened mid-append. Cut it, so appends continue cleanly.
                    OpenOptions::new().write(true).open(&path)?.set_len(good)?;
                    spool.damage.truncated_bytes += len - good;
                } else {
                    spool.damage.lost_tails += 1;
                }
            }
            spool.segments.insert(
                seq,
                Segment {
                    bytes: good,
                    records,
                },
            );
        }
        // Everything before the oldest segment left was taken (or lost): start there.
        if let Some(&first) = spool.segments.keys().next() {
            if spool.ack.segment < first {
                spool.ack = Position {
                    segment: first,
                    offset: 0,
                };
            }
        }
        Ok(spool)
    }

    pub fn position(&self) -> Position {
        self.ack
    }

    /// Bytes on disk.
    pub fn bytes(&self) -> u64 {
        self.segments.values().map(|s| s.bytes).sum()
    }

    /// Records not yet acknowledged.
    pub fn backlog(&self) -> u64 {
        // The acknowledged segment's records before the ack position were taken already: count
        // only those after it (a scan of one segment, in the page cache).
        self.segments
            .range(self.ack.segment..)
            .map(|(seq, s)| {
                if *seq == self.ack.segment && self.ack.offset > 0 {
                    let mut left = 0;
                    scan(&segment_path(&self.dir, *seq), self.ack.offset, |_, _| {
                        left += 1
                    })
                    .map(|_| left)
                    .unwrap_or(s.records)
                } else {
                    s.records
                }
            })
            .sum()
    }

    /// Appends records and makes them durable (one `fdatasync` for the batch).
    pub fn append(&mut self, records: &[Vec<u8>]) -> io::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let seq = match self.segments.iter().next_back() {
            Some((&seq, segment)) if segment.bytes < self.segment_bytes => seq,
            Some((&seq, _)) => seq + 1,
            None => self.ack.segment.max(1),
        };
        let path = segment_path(&self.dir, seq);
        let created = !path.exists();
        let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
        let mut buffer =
            Vec::with_capacity(records.iter().map(|r| r.len() + HEADER as usize).sum());
        for record in records {
            let size = u32::try_from(record.len())
                .ok()
                .filter(|s| *s <= MAX_RECORD)
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "record too large"))?;
            buffer.extend_from_slice(&size.to_le_bytes());
            buffer.extend_from_slice(&crc32c(record).to_le_bytes());
            buffer.extend_from_slice(record);
        }
        let before = file.metadata()?.len();
        if let Err(error) = file.write_all(&buffer).and_then(|()| file.sync_data()) {
            // Leave no half batch behind (e.g. the disk filled up mid-write).
            let _ = file.set_len(before);
            return Err(error);
        }
        if created {
            sync_dir(&self.dir)?;
        }
        let segment = self.segments.entry(seq).or_default();
        segment.bytes = before + buffer.len() as u64;
        segment.records += records.len() as u64;
        self.enforce_caps()?;
        Ok(())
    }

    /// Up to `max` records after the acknowledged position, oldest first, each with the position
    /// after it (what to acknowledge once the server took it).
    pub fn read(&mut self, max: usize) -> io::Result<Vec<(Position, Vec<u8>)>> {
        let mut out = Vec::new();
        let seqs: Vec<u64> = self
            .segments
            .range(self.ack.segment..)
            .map(|(s, _)| *s)
            .collect();
        for seq in seqs {
            let from = if seq == self.ack.segment {
                self.ack.offset
            } else {
                0
            };
            let path = segment_path(&self.dir, seq);
            let scanned = scan(&path, from, |offset, payload| {
                if out.len() < max {
                    out.push((
                        Position {
                            segment: seq,
                            offset,
                        },
                        payload.to_vec(),
                    ));
                }
            });
            // Damage was counted when the spool was opened; reading again does not count it twice.
            match scanned {
                Ok(_) => {}
                // Removed behind our back: pass over it.
                Err(error) if error.kind() == io::ErrorKind::NotFound => {
                    self.segments.remove(&seq);
                }
                Err(error) => return Err(error),
            }
            if out.len() >= max {
                break;
            }
        }
        Ok(out)
    }

    /// Records that the server took everything up to `position`: the position is made durable
    /// first, then the segments wholly before it are removed.
    pub fn ack(&mut self, position: Position) -> io::Result<()> {
        if position <= self.ack {
            return Ok(());
        }
        let tmp = self.dir.join("ack.tmp");
        {
            let mut file = File::create(&tmp)?;
            writeln!(file, "{} {}", position.segment, position.offset)?;
            file.sync_all()?;
        }
        fs::rename(&tmp, self.dir.join("ack"))?;
        sync_dir(&self.dir)?;
        self.ack = position;
        let done: Vec<u64> = self
            .segments
            .range(..position.segment)
            .map(|(s, _)| *s)
            .collect();
        for seq in done {
            self.remove(seq)?;
        }
        // The acknowledged segment itself is done once it is full and read to its end.
        if let Some(segment) = self.segments.get(&position.segment).copied() {
            let newest = self.segments.keys().next_back().copied();
            if position.offset >= segment.bytes
                && segment.bytes >= self.segment_bytes
                && newest != Some(position.segment)
            {
                self.remove(position.segment)?;
            }
        }
        Ok(())
    }

    fn remove(&mut self, seq: u64) -> io::Result<()> {
        match fs::remove_file(segment_path(&self.dir, seq)) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
        self.segments.remove(&seq);
        Ok(())
    }

    /// Drops the oldest segments while the spool is over its size cap (never the newest, which
    /// is being written) or a segment's last write is older than the age cap.
    pub fn enforce_caps(&mut self) -> io::Result<()> {
        let now = SystemTime::now();
        loop {
            let (Some((&oldest, segment)), Some(&newest)) = (
                self.segments.iter().next(),
                self.segments.keys().next_back(),
            ) else {
                return Ok(());
            };
            let segment = *segment;
            let path = segment_path(&self.dir, oldest);
            let old = fs::metadata(&path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age > self.max_age);
            let over = self.bytes() > self.max_bytes && oldest != newest;
            if !(over || old) {
                return Ok(());
            }
            // Records of this segment not yet taken by the server are lost: count them.
            let unread = if oldest < self.ack.segment {
                0
            } else if oldest == self.ack.segment {
                let mut left = 0;
                scan(&path, self.ack.offset, |_, _| left += 1)
                    .map(|_| ())
                    .ok();
                left
            } else {
                segment.records
            };
            self.damage.dropped += unread;
            self.remove(oldest)?;
            if self.ack.segment <= oldest {
                let next = self.segments.keys().next().copied().unwrap_or(oldest + 1);
                self.ack = Position {
                    segment: next,
                    offset: 0,
                };
            }
            if oldest == newest {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(n: usize, from: usize) -> Vec<Vec<u8>> {
        (from..from + n)
            .map(|i| format!("{{\"sample\":{i}}}").into_bytes())
            .collect()
    }

    fn payloads(spool: &mut Spool) -> Vec<String> {
        spool
            .read(usize::MAX)
            .expect("read")
            .into_iter()
            .map(|(_, p)| String::from_utf8(p).expect("utf-8"))
            .collect()
    }

    #[test]
    fn crc32c_matches_the_standard_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
    }

    #[test]
    fn records_survive_reopening_and_acknowledged_ones_are_not_read_again() {
        let dir = tempfile::tempdir().expect("dir");
        let mut spool = Spool::open(dir.path(), 1 << 30, Duration::from_secs(3600)).expect("open");
        spool.append(&records(3, 0)).expect("append");
        let read = spool.read(2).expect("read");
        assert_eq!(read.len(), 2);
        spool.ack(read[1].0).expect("ack");
        // The backlog counts what the server has not taken, not the whole segment.
        assert_eq!(spool.backlog(), 1);
        spool.append(&records(2, 3)).expect("append");
        assert_eq!(spool.backlog(), 3);
        drop(spool);
        let mut again =
            Spool::open(dir.path(), 1 << 30, Duration::from_secs(3600)).expect("reopen");
        assert_eq!(
            payloads(&mut again),
            ["{\"sample\":2}", "{\"sample\":3}", "{\"sample\":4}"]
        );
        assert_eq!(again.damage, Damage::default());
    }

    #[test]
    fn a_torn_tail_is_cut_and_a_corrupt_record_skipped_and_counted() {
        let dir = tempfile::tempdir().expect("dir");
        let mut spool = Spool::open(dir.path(), 1 << 30, Duration::from_secs(3600)).expect("open");
        spool.append(&records(4, 0)).expect("append");
        drop(spool);
        let path = segment_path(dir.path(), 1);
        let mut bytes = fs::read(&path).expect("segment");
        // Flip a byte inside the second record's payload; then a crash mid-append (half a header).
        let second = (HEADER as usize + 12) + HEADER as usize + 3;
        bytes[second] ^= 0x40;
        bytes.extend_from_slice(&[9, 0, 0]);
        fs::write(&path, &bytes).expect("damage");
        let mut spool = Spool::open(dir.path(), 1 << 30, Duration::from_secs(3600))
            .expect("opens despite the damage");
        assert_eq!(spool.damage.truncated_bytes, 3);
        assert_eq!(
            payloads(&mut spool),
            ["{\"sample\":0}", "{\"sample\":2}", "{\"sample\":3}"]
        );
        assert_eq!(spool.damage.corrupt, 1);
        // Appending after the cut tail reads back cleanly.
        spool.append(&records(1, 9)).expect("append");
        assert_eq!(
            payloads(&mut spool).last().map(String::as_str),
            Some("{\"sample\":9}")
        );
    }

    #[test]
    fn a_missing_segment_is_passed_over() {
        let dir = tempfile::tempdir().expect("dir");
        let mut spool = Spool::open(dir.path(), 1 << 30, Duration::from_secs(3600)).expect("open");
        // Three segments: fill two past the segment size.
        let big = vec![vec![b'x'; 1 << 19]; 9];
        spool.append(&big).expect("first");
        spool.append(&big).expect("second");
        spool.append(&records(1, 0)).expect("third");
        assert_eq!(spool.segments.len(), 3);
        drop(spool);
        fs::remove_file(segment_path(dir.path(), 2)).expect("lose one");
        let mut spool = Spool::open(dir.path(), 1 << 30, Duration::from_secs(3600)).expect("open");
        let read = payloads(&mut spool);
        assert_eq!(read.len(), 10, "the first segment's 9 and the third's 1");
    }

    #[test]
    fn over_the_size_cap_the_oldest_are_dropped_and_counted() {
        let dir = tempfile::tempdir().expect("dir");
        let mut spool = Spool::open(dir.path(), 6 << 20, Duration::from_secs(3600)).expect("open");
        let big = vec![vec![b'x'; 1 << 19]; 9]; // 4.5 MiB per append: a new segment each time
        for _ in 0..3 {
            spool.append(&big).expect("append");
        }
        assert!(spool.bytes() <= (6 << 20) + (5 << 20), "{}", spool.bytes());
        assert_eq!(
            spool.damage.dropped, 18,
            "two segments of 9 records dropped"
        );
        assert_eq!(spool.read(usize::MAX).expect("read").len(), 9);
    }
}
