//! TCP socket counts without formatting the kernel's socket tables.
//!
//! Why not `/proc/net/tcp`: producing that text walks the whole connection hash table (262 144
//! buckets on an ordinary 24 GB machine) for every 4 KiB read, which was over half of the server's
//! CPU at a 1-second interval; a sock_diag netlink dump of every state walks it once, and was
//! still a third. So: listening sockets from a netlink dump of that state only (the kernel then
//! walks only its small listening table), sockets in use from `/proc/net/sockstat{,6}` and
//! established connections from `/proc/net/snmp`'s `CurrEstab` — counters the kernel keeps, read
//! in O(1). The collector falls back to the `/proc` tables when any of them is unavailable.
use super::procfs::{self, TcpCounts, TCP_LISTEN};
use nix::sys::socket::{
    recv, sendto, socket, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType,
};
use std::os::fd::AsRawFd;

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 0x01;
const NLM_F_DUMP: u16 = 0x300;
const IPPROTO_TCP: u8 = 6;
const HEADER: usize = 16;

/// Only listening sockets, as sock_diag's bit mask of `1 << state`.
const STATES: u32 = 1 << TCP_LISTEN;

/// One `SOCK_DIAG_BY_FAMILY` dump request: `nlmsghdr` + `inet_diag_req_v2` (socket id zeroed).
fn request(family: u8, sequence: u32) -> [u8; 72] {
    let mut message = [0u8; 72];
    message[0..4].copy_from_slice(&72u32.to_ne_bytes());
    message[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    message[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    message[8..12].copy_from_slice(&sequence.to_ne_bytes());
    message[HEADER] = family;
    message[HEADER + 1] = IPPROTO_TCP;
    message[HEADER + 4..HEADER + 8].copy_from_slice(&STATES.to_ne_bytes());
    message
}

/// What one received datagram of a dump said.
#[derive(Debug, PartialEq, Eq)]
enum Part {
    More,
    Done,
    Failed(i32),
}

/// Counts the sockets in one datagram of netlink messages (each an `inet_diag_msg`, whose second
/// byte is the state), until the dump's `NLMSG_DONE` or an error.
fn parse(datagram: &[u8], counts: &mut TcpCounts) -> Part {
    let mut at = 0;
    while at + HEADER <= datagram.len() {
        let field = |range: std::ops::Range<usize>| &datagram[at + range.start..at + range.end];
        let length = u32::from_ne_bytes(field(0..4).try_into().unwrap_or([0; 4])) as usize;
        let kind = u16::from_ne_bytes(field(4..6).try_into().unwrap_or([0; 2]));
        if length < HEADER || at + length > datagram.len() {
            return Part::Failed(0);
        }
        match kind {
            NLMSG_DONE => return Part::Done,
            NLMSG_ERROR => {
                let code = datagram
                    .get(at + HEADER..at + HEADER + 4)
                    .and_then(|b| b.try_into().ok())
                    .map_or(0, i32::from_ne_bytes);
                return Part::Failed(code);
            }
            SOCK_DIAG_BY_FAMILY => {
                if let Some(state) = datagram.get(at + HEADER + 1) {
                    counts.count(*state);
                }
            }
            _ => {}
        }
        // Messages are aligned to 4 bytes.
        at += (length + 3) & !3;
    }
    Part::More
}

/// TCP sockets of IPv4 and IPv6: listening, in use but not listening, established (and
/// CLOSE_WAIT, as the kernel's `CurrEstab` counts them).
pub fn tcp_counts() -> std::io::Result<TcpCounts> {
    let unavailable =
        |what: &str| std::io::Error::new(std::io::ErrorKind::NotFound, what.to_owned());
    let text = procfs::read;
    let listening = listening_sockets()?.listening;
    let in_use = procfs::sockstat_inuse(&text("/proc/net/sockstat"), "TCP:")
        .ok_or_else(|| unavailable("no TCP line in /proc/net/sockstat"))?
        + procfs::sockstat_inuse(&text("/proc/net/sockstat6"), "TCP6:").unwrap_or(0);
    let established = procfs::snmp_current_established(&text("/proc/net/snmp"))
        .ok_or_else(|| unavailable("no CurrEstab in /proc/net/snmp"))?;
    Ok(TcpCounts {
        active: in_use.saturating_sub(listening),
        listening,
        established,
    })
}

/// Listening TCP sockets of IPv4 and IPv6, counted from a sock_diag dump.
fn listening_sockets() -> std::io::Result<TcpCounts> {
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkSockDiag,
    )?;
    let kernel = NetlinkAddr::new(0, 0);
    let mut counts = TcpCounts::default();
    let mut buffer = vec![0u8; 32 * 1024];
    for (sequence, family) in [
        (1, libc_af(AddressFamily::Inet)),
        (2, libc_af(AddressFamily::Inet6)),
    ] {
        sendto(
            fd.as_raw_fd(),
            &request(family, sequence),
            &kernel,
            MsgFlags::empty(),
        )?;
        loop {
            let received = recv(fd.as_raw_fd(), &mut buffer, MsgFlags::empty())?;
            match parse(&buffer[..received], &mut counts) {
                Part::More if received > 0 => {}
                Part::More | Part::Done => break,
                Part::Failed(code) => {
                    return Err(std::io::Error::from_raw_os_error(code.saturating_neg()))
                }
            }
        }
    }
    Ok(counts)
}

fn libc_af(family: AddressFamily) -> u8 {
    family as i32 as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A netlink message of `kind` with `payload`, padded to 4 bytes.
    fn message(kind: u16, payload: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&((HEADER + payload.len()) as u32).to_ne_bytes());
        bytes.extend_from_slice(&kind.to_ne_bytes());
        bytes.extend_from_slice(&[0; 10]);
        bytes.extend_from_slice(payload);
        while bytes.len() % 4 != 0 {
            bytes.push(0);
        }
        bytes
    }

    fn socket_in(state: u8) -> Vec<u8> {
        // inet_diag_msg: family, state, timer, retrans, then the socket id and the rest.
        let mut payload = vec![0u8; 72];
        payload[0] = 2;
        payload[1] = state;
        message(SOCK_DIAG_BY_FAMILY, &payload)
    }

    #[test]
    fn a_dump_is_counted_by_state_until_done() {
        let mut datagram = Vec::new();
        for state in [0x0A, 0x01, 0x01, 0x08, 0x06] {
            datagram.extend(socket_in(state));
        }
        let mut counts = TcpCounts::default();
        assert_eq!(parse(&datagram, &mut counts), Part::More);
        assert_eq!(
            counts,
            TcpCounts {
                active: 3,
                listening: 1,
                established: 2
            }
        );
        let done = message(NLMSG_DONE, &[0; 4]);
        assert_eq!(parse(&done, &mut counts), Part::Done);
        let refused = message(NLMSG_ERROR, &(-13i32).to_ne_bytes());
        assert_eq!(parse(&refused, &mut counts), Part::Failed(-13));
        // A length pointing past the datagram is an error, not a panic.
        let mut torn = socket_in(0x01);
        torn.truncate(30);
        assert_eq!(parse(&torn, &mut counts), Part::Failed(0));
    }

    #[test]
    fn the_request_asks_for_listening_tcp_sockets() {
        let bytes = request(10, 7);
        assert_eq!(
            u32::from_ne_bytes(bytes[0..4].try_into().expect("4 bytes")),
            72
        );
        assert_eq!((bytes[16], bytes[17]), (10, IPPROTO_TCP));
        let states = u32::from_ne_bytes(bytes[20..24].try_into().expect("4 bytes"));
        assert_eq!(states, 1 << 0x0A, "listening sockets only");
    }

    #[test]
    fn this_machine_answers_like_its_proc_tables() {
        // A listener and a connection of this test's own, so there is something to count; the
        // same sockets either way (others may open or close in between: allow a little).
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
        let _client =
            std::net::TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
        let _server = listener.accept().expect("accept");
        let counted = tcp_counts().expect("sock_diag and the kernel's counters answer on Linux");
        assert!(
            counted.listening >= 1 && counted.established >= 2,
            "{counted:?}"
        );
        let text = procfs::read;
        let tables = procfs::parse_tcp_table(&text("/proc/net/tcp"))
            .plus(procfs::parse_tcp_table(&text("/proc/net/tcp6")));
        assert!(
            counted.listening.abs_diff(tables.listening) <= 2,
            "{counted:?} {tables:?}"
        );
        assert!(
            counted.active.abs_diff(tables.active) <= 5,
            "{counted:?} {tables:?}"
        );
        assert!(
            counted.established.abs_diff(tables.established) <= 5,
            "{counted:?} {tables:?}"
        );
    }
}
