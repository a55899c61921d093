//! /proc/net/sockstat and sockstat6 (net/ipv4/proc.c: sockstat_seq_show;
//! net/ipv6/proc.c: sockstat6_seq_show).

use crate::sockets::listed;
use netstack::inet::{tcp_state, SocketInfo, SocketKind};
use netstack::Snapshot;
use std::fmt::Write;

/// Sockets the kernel counts as `inuse` for a protocol: the hashed ones
/// (listening, connected or bound), not TIME_WAIT or request sockets.
pub(crate) fn inuse(snap: &Snapshot, kind: SocketKind, v6: bool) -> usize {
    snap.sockets
        .iter()
        .filter(|s| s.kind == kind && s.is_ipv6() == v6 && listed(s) && full(s))
        .count()
}

/// Whether the row is a full socket (TIME_WAIT and SYN_RECV rows are the
/// kernel's minisockets, not sockets).
fn full(s: &SocketInfo) -> bool {
    !(s.kind == SocketKind::Tcp && matches!(s.state, tcp_state::TIME_WAIT | tcp_state::SYN_RECV))
}

/// TCP memory in pages, as `proto_memory_allocated` counts it: each socket's
/// queued bytes, rounded up to whole pages. (A listener's queue sizes count
/// connections, not bytes.)
pub(crate) fn tcp_mem_pages(snap: &Snapshot) -> u64 {
    snap.sockets
        .iter()
        .filter(|s| s.kind == SocketKind::Tcp && s.state != tcp_state::LISTEN)
        .map(|s| (u64::from(s.tx_queue) + u64::from(s.rx_queue)).div_ceil(4096))
        .sum()
}

/// UDP memory in pages, likewise.
pub(crate) fn udp_mem_pages(snap: &Snapshot) -> u64 {
    snap.sockets
        .iter()
        .filter(|s| s.kind == SocketKind::Udp)
        .map(|s| (u64::from(s.tx_queue) + u64::from(s.rx_queue)).div_ceil(4096))
        .sum()
}

/// Counts per protocol. `sockets: used` counts every socket of the namespace:
/// the stack's full sockets and the rows the runtime registered for its
/// unix, netlink and packet sockets. sandnet keeps no orphan count (0) and
/// reassembles no fragments (FRAG 0).
pub fn render_sockstat(snap: &Snapshot, out: &mut String) {
    let used = snap.sockets.iter().filter(|s| full(s)).count()
        + snap
            .foreign
            .iter()
            .filter(|f| matches!(f.file.as_str(), "unix" | "netlink" | "packet"))
            .count();
    let tw = snap
        .sockets
        .iter()
        .filter(|s| s.kind == SocketKind::Tcp && s.state == tcp_state::TIME_WAIT)
        .count();
    let alloc = snap
        .sockets
        .iter()
        .filter(|s| s.kind == SocketKind::Tcp && full(s))
        .count();
    let _ = writeln!(out, "sockets: used {used}");
    let _ = writeln!(
        out,
        "TCP: inuse {} orphan 0 tw {tw} alloc {alloc} mem {}",
        inuse(snap, SocketKind::Tcp, false),
        tcp_mem_pages(snap)
    );
    let _ = writeln!(
        out,
        "UDP: inuse {} mem {}",
        inuse(snap, SocketKind::Udp, false),
        udp_mem_pages(snap)
    );
    out.push_str("UDPLITE: inuse 0\n");
    let _ = writeln!(out, "RAW: inuse {}", inuse(snap, SocketKind::Raw, false));
    out.push_str("FRAG: inuse 0 memory 0\n");
}

/// The IPv6 counts.
pub fn render_sockstat6(snap: &Snapshot, out: &mut String) {
    let _ = writeln!(out, "TCP6: inuse {}", inuse(snap, SocketKind::Tcp, true));
    let _ = writeln!(out, "UDP6: inuse {}", inuse(snap, SocketKind::Udp, true));
    out.push_str("UDPLITE6: inuse 0\n");
    let _ = writeln!(out, "RAW6: inuse {}", inuse(snap, SocketKind::Raw, true));
    out.push_str("FRAG6: inuse 0 memory 0\n");
}

#[cfg(test)]
mod tests {
    use crate::testdata::*;

    #[test]
    fn counts_follow_the_socket_table() {
        let snap = sample_with_sockets();
        assert_eq!(
            crate::render("sockstat", &snap).unwrap(),
            "sockets: used 7\nTCP: inuse 2 orphan 0 tw 0 alloc 3 mem 1\nUDP: inuse 1 mem 1\n\
             UDPLITE: inuse 0\nRAW: inuse 1\nFRAG: inuse 0 memory 0\n"
        );
        assert_eq!(
            crate::render("sockstat6", &snap).unwrap(),
            "TCP6: inuse 1\nUDP6: inuse 1\nUDPLITE6: inuse 0\nRAW6: inuse 0\nFRAG6: inuse 0 memory 0\n"
        );
        let empty = crate::render("sockstat", &sample()).unwrap();
        assert!(empty.starts_with("sockets: used 0\nTCP: inuse 0 orphan 0 tw 0 alloc 0 mem 0\n"));
    }
}
