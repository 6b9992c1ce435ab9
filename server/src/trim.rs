//! Start-up code out of the resident set, for the agent and the server. Argument parsing,
//! enrolment or migrations, TLS set-up and the collectors' probes run once, but their pages of the
//! (large: the agent and `serve` are one binary) executable stay mapped: with the kernel's
//! fault-around every touched page maps its 64 KiB neighbourhood, so ~9 MiB of code was resident
//! for an agent loop that needs a fraction of it. Dropping the mappings of the executable's code
//! and constants once running lets each process fault back only what it uses from then on. The
//! file stays in the page cache; nothing is re-read from disk unless the kernel evicted it anyway.

/// Drops the page mappings of this executable's read-only segments (code and constants);
/// answers the bytes released from the mappings (what was resident of them is what RSS loses).
pub fn release_startup_code() -> std::io::Result<usize> {
    let exe = std::fs::read_link("/proc/self/exe")?;
    let smaps = std::fs::read_to_string("/proc/self/smaps")?;
    let mut released = 0;
    for (start, end) in unmodified_segments(&smaps, &exe.to_string_lossy()) {
        let Some(address) = std::ptr::NonNull::new(start as *mut std::ffi::c_void) else {
            continue;
        };
        // SAFETY: the range is a private, non-writable mapping of the executable file without a
        // single anonymous (copied-on-write) page, so every resident page is identical to the
        // file and MADV_DONTNEED only unmaps it; the next access faults the same bytes back
        // from the page cache. The relocated part (RELRO: anonymous pages) is never passed, nor
        // any writable or anonymous mapping.
        unsafe {
            nix::sys::mman::madvise(
                address,
                end - start,
                nix::sys::mman::MmapAdvise::MADV_DONTNEED,
            )
        }
        .map_err(std::io::Error::from)?;
        released += end - start;
    }
    Ok(released)
}

/// (start, end) of the mappings of `exe` in a `/proc/<pid>/smaps` text that are private, not
/// writable and hold no anonymous page: bytes exactly as in the file.
fn unmodified_segments(smaps: &str, exe: &str) -> Vec<(usize, usize)> {
    let mut segments = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let Some(first) = fields.next() else { continue };
        if let Some((start, end)) = first.split_once('-').filter(|_| !first.ends_with(':')) {
            // A mapping's header: `start-end perms offset dev inode path`.
            let perms = fields.next().unwrap_or("");
            let path = fields.nth(3).unwrap_or("");
            let read_only = perms.len() == 4 && !perms.contains('w') && perms.ends_with('p');
            current = match (
                usize::from_str_radix(start, 16),
                usize::from_str_radix(end, 16),
            ) {
                (Ok(start), Ok(end)) if read_only && path == exe && end > start => {
                    Some((start, end))
                }
                _ => None,
            };
        } else if first == "Anonymous:" {
            let anonymous_kib = fields.next().and_then(|n| n.parse::<u64>().ok());
            if let (Some(segment), Some(0)) = (current.take(), anonymous_kib) {
                segments.push(segment);
            }
        }
    }
    segments
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unmodified_read_only_mappings_of_the_executable_are_chosen() {
        let smaps = "\
5581d2a00000-5581d3327000 r--p 00000000 fe:00 1234 /usr/bin/lookout
Rss:                2904 kB
Anonymous:             0 kB
5581d3327000-5581d46e7000 r-xp 00927000 fe:00 1234 /usr/bin/lookout
Rss:                9028 kB
Anonymous:             0 kB
5581d46e9000-5581d48a8000 r--p 01ce7000 fe:00 1234 /usr/bin/lookout
Rss:                1776 kB
Anonymous:          1776 kB
5581d48a8000-5581d48ac000 rw-p 01ea6000 fe:00 1234 /usr/bin/lookout
Anonymous:            16 kB
7f1c2a000000-7f1c2a1c0000 r-xp 00028000 fe:00 99 /usr/lib/x86_64-linux-gnu/libc.so.6
Anonymous:             0 kB
7f1c2b000000-7f1c2b021000 rw-p 00000000 00:00 0 
Anonymous:           132 kB
7ffd0c000000-7ffd0c021000 rw-p 00000000 00:00 0 [stack]
Anonymous:           132 kB
";
        // Not the relocated (anonymous) part, not the writable data, not libc.
        assert_eq!(
            unmodified_segments(smaps, "/usr/bin/lookout"),
            [
                (0x5581d2a00000, 0x5581d3327000),
                (0x5581d3327000, 0x5581d46e7000)
            ]
        );
        assert!(unmodified_segments(smaps, "/usr/bin/other").is_empty());
    }

    #[test]
    fn releasing_the_code_keeps_the_process_running() {
        // The test binary has code; after the call it still runs (this line), and again.
        assert!(release_startup_code().expect("madvise") > 0);
        assert!(release_startup_code().expect("again") > 0);
    }
}
