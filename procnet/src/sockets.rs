//! The socket tables: /proc/net/{tcp,tcp6,udp,udp6,udplite,udplite6,raw,raw6,icmp,icmp6}.
//!
//! Formats: net/ipv4/tcp_ipv4.c (get_tcp4_sock, get_openreq4,
//! get_timewait4_sock), net/ipv6/tcp_ipv6.c (get_tcp6_sock, get_openreq6,
//! get_timewait6_sock), net/ipv4/udp.c (udp4_format_sock), net/ipv4/raw.c
//! (raw_sock_seq_show), net/ipv4/ping.c (ping_v4_format_sock), and
//! net/ipv6/datagram.c (__ip6_dgram_sock_seq_show) for udp6, raw6 and icmp6.

use crate::fmt::{pad_line, v4_hex, v6_words};
use netstack::inet::{tcp_state, SocketInfo, SocketKind, TcpDetail};
use netstack::Snapshot;
use std::fmt::Write;
use std::net::{IpAddr, SocketAddr};

/// `%pK` as an unprivileged reader (or any reader with kptr_restrict set) sees it.
const POINTER: &str = "0000000000000000";

const TCP4_HEADER: &str =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
const TCP6_HEADER: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
const UDP4_HEADER: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops";
const DGRAM4_HEADER: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops";
const DGRAM6_HEADER: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops";

/// tcp4 lines are padded to TMPSZ - 1; udp4 and icmp lines to 127.
const TCP4_WIDTH: usize = 149;
const DGRAM4_WIDTH: usize = 127;

fn rows(snap: &Snapshot, kind: SocketKind, v6: bool) -> impl Iterator<Item = &SocketInfo> {
    snap.sockets
        .iter()
        .filter(move |s| s.kind == kind && s.is_ipv6() == v6)
}

/// Whether the kernel would have this socket in the table the file walks:
/// TCP's listening and established hashes hold everything but CLOSE; UDP and
/// ping sockets are hashed once bound to a port; raw sockets from creation.
pub(crate) fn listed(s: &SocketInfo) -> bool {
    match s.kind {
        SocketKind::Tcp => s.state != tcp_state::CLOSE,
        SocketKind::Udp | SocketKind::Ping => s.local.port() != 0,
        SocketKind::Raw => true,
    }
}

fn addr4(out: &mut String, a: &SocketAddr) {
    match a.ip() {
        IpAddr::V4(ip) => v4_hex(out, ip),
        IpAddr::V6(ip) => v4_hex(
            out,
            ip.to_ipv4_mapped()
                .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
        ),
    }
}

fn addr6(out: &mut String, a: &SocketAddr) {
    match a.ip() {
        IpAddr::V6(ip) => v6_words(out, ip),
        IpAddr::V4(ip) => v6_words(out, ip.to_ipv6_mapped()),
    }
}

fn endpoints(out: &mut String, s: &SocketInfo, v6: bool, lport: u16, rport: u16) {
    let addr = if v6 { addr6 } else { addr4 };
    addr(out, &s.local);
    let _ = write!(out, ":{lport:04X} ");
    addr(out, &s.remote);
    let _ = write!(out, ":{rport:04X}");
}

fn tcp(snap: &Snapshot, v6: bool, out: &mut String) {
    let start = out.len();
    if v6 {
        out.push_str(TCP6_HEADER);
        out.push('\n');
    } else {
        out.push_str(TCP4_HEADER);
        pad_line(out, start, TCP4_WIDTH);
    }
    // Listeners first (the kernel walks its listening hash before the
    // established one); `sl` counts the rows.
    let mut list: Vec<&SocketInfo> = rows(snap, SocketKind::Tcp, v6)
        .filter(|s| listed(s))
        .collect();
    list.sort_by_key(|s| s.state != tcp_state::LISTEN);
    let none = TcpDetail::default();
    for (sl, s) in list.into_iter().enumerate() {
        let start = out.len();
        let d = s.tcp.as_ref().unwrap_or(&none);
        let _ = write!(out, "{sl:4}: ");
        endpoints(out, s, v6, s.local.port(), s.remote.port());
        match s.state {
            tcp_state::TIME_WAIT => {
                // get_timewait4_sock: the timer is TIME_WAIT's (3); no owner.
                let _ = write!(
                    out,
                    " {:02X} {:08X}:{:08X} {:02X}:{:08X} {:08X} {:5} {:8} {} {} {POINTER}",
                    s.state, 0, 0, 3, d.timer_ticks, 0, 0, 0, 0, s.refcount as i32
                );
            }
            tcp_state::SYN_RECV => {
                // get_openreq4: a request socket has no inode; the SYN-ACK
                // retransmit timer (1) runs.
                let _ = write!(
                    out,
                    " {:02X} {:08X}:{:08X} {:02X}:{:08X} {:08X} {:5} {:8} {} {} {POINTER}",
                    s.state, 0, 0, 1, d.timer_ticks, d.retransmits, s.uid, 0, 0, 0
                );
            }
            state => {
                let listen = state == tcp_state::LISTEN;
                // write_seq - snd_una: nothing in flight on a listener.
                let tx = if listen { 0 } else { s.tx_queue };
                // A listener prints its fastopen queue limit (0: none) here.
                let last: i32 = if listen {
                    0
                } else {
                    d.ssthresh.map_or(-1, |v| v as i32)
                };
                let _ = write!(
                    out,
                    " {:02X} {:08X}:{:08X} {:02X}:{:08X} {:08X} {:5} {:8} {} {} {POINTER} {} {} {} {} {}",
                    state,
                    tx,
                    s.rx_queue,
                    d.timer,
                    d.timer_ticks,
                    d.retransmits,
                    s.uid,
                    d.probes as i32,
                    s.inode,
                    s.refcount as i32,
                    d.rto_ticks,
                    d.ato_ticks,
                    d.quick_pingpong,
                    d.snd_cwnd,
                    last
                );
            }
        }
        if v6 {
            out.push('\n');
        } else {
            pad_line(out, start, TCP4_WIDTH);
        }
    }
    let name = if v6 { "tcp6" } else { "tcp" };
    crate::fmt::foreign_rows(snap, name, (!v6).then_some(TCP4_WIDTH), out);
}

/// The hash slot `sl` of a datagram socket. The kernel's slot mixes in a
/// per-namespace random value; sandnet's is the unmixed function of the
/// same key: the port in a 65536-slot UDP table, the protocol in the
/// 256-slot raw table, the ident in the 64-slot ping table.
fn slot(s: &SocketInfo) -> u32 {
    match s.kind {
        SocketKind::Udp => u32::from(s.local.port()),
        SocketKind::Raw => u32::from(s.protocol),
        SocketKind::Ping => u32::from(s.local.port()) & 63,
        SocketKind::Tcp => 0,
    }
}

fn dgram(snap: &Snapshot, kind: SocketKind, v6: bool, name: &str, out: &mut String) {
    // Padding: udp4 and ping4 pad to 127 (seq_setwidth/seq_pad); raw4 and
    // every IPv6 datagram file do not.
    let width = (!v6 && kind != SocketKind::Raw).then_some(DGRAM4_WIDTH);
    let header = match (kind, v6) {
        (_, true) => DGRAM6_HEADER,
        (SocketKind::Udp, false) => UDP4_HEADER,
        _ => DGRAM4_HEADER,
    };
    let start = out.len();
    out.push_str(header);
    match width {
        Some(w) => pad_line(out, start, w),
        None => out.push('\n'),
    }
    let mut list: Vec<&SocketInfo> = rows(snap, kind, v6).filter(|s| listed(s)).collect();
    list.sort_by_key(|s| slot(s));
    for s in list {
        let start = out.len();
        // Raw sockets print their protocol as the local "port" and 0 remote.
        let (lport, rport) = match kind {
            SocketKind::Raw => (u16::from(s.protocol), 0),
            _ => (s.local.port(), s.remote.port()),
        };
        // raw4 is "%4d: ", the others "%5d: ".
        if kind == SocketKind::Raw && !v6 {
            let _ = write!(out, "{:4}: ", slot(s));
        } else {
            let _ = write!(out, "{:5}: ", slot(s));
        }
        endpoints(out, s, v6, lport, rport);
        let _ = write!(
            out,
            " {:02X} {:08X}:{:08X} {:02X}:{:08X} {:08X} {:5} {:8} {} {} {POINTER} {}",
            s.state,
            s.tx_queue,
            s.rx_queue,
            0,
            0,
            0,
            s.uid,
            0,
            s.inode,
            s.refcount as i32,
            s.drops as u32
        );
        match width {
            Some(w) => pad_line(out, start, w),
            None => out.push('\n'),
        }
    }
    crate::fmt::foreign_rows(snap, name, width, out);
}

/// /proc/net/tcp: IPv4 TCP sockets, listeners first, lines padded to 149.
pub fn render_tcp(snap: &Snapshot, out: &mut String) {
    tcp(snap, false, out)
}

/// /proc/net/tcp6: IPv6 TCP sockets, addresses as four host-order words.
pub fn render_tcp6(snap: &Snapshot, out: &mut String) {
    tcp(snap, true, out)
}

/// /proc/net/udp: bound IPv4 UDP sockets by hash slot, lines padded to 127.
pub fn render_udp(snap: &Snapshot, out: &mut String) {
    dgram(snap, SocketKind::Udp, false, "udp", out)
}

/// /proc/net/udp6.
pub fn render_udp6(snap: &Snapshot, out: &mut String) {
    dgram(snap, SocketKind::Udp, true, "udp6", out)
}

/// /proc/net/udplite: sandnet has no UDP-Lite; the header and registered rows.
pub fn render_udplite(snap: &Snapshot, out: &mut String) {
    let start = out.len();
    out.push_str(UDP4_HEADER);
    pad_line(out, start, DGRAM4_WIDTH);
    crate::fmt::foreign_rows(snap, "udplite", Some(DGRAM4_WIDTH), out);
}

/// /proc/net/udplite6: the header and registered rows.
pub fn render_udplite6(snap: &Snapshot, out: &mut String) {
    out.push_str(DGRAM6_HEADER);
    out.push('\n');
    crate::fmt::foreign_rows(snap, "udplite6", None, out);
}

/// /proc/net/raw: IPv4 SOCK_RAW sockets.
pub fn render_raw(snap: &Snapshot, out: &mut String) {
    dgram(snap, SocketKind::Raw, false, "raw", out)
}

/// /proc/net/raw6.
pub fn render_raw6(snap: &Snapshot, out: &mut String) {
    dgram(snap, SocketKind::Raw, true, "raw6", out)
}

/// /proc/net/icmp: IPv4 ping sockets (the "port" is the echo identifier).
pub fn render_icmp(snap: &Snapshot, out: &mut String) {
    dgram(snap, SocketKind::Ping, false, "icmp", out)
}

/// /proc/net/icmp6: IPv6 ping sockets.
pub fn render_icmp6(snap: &Snapshot, out: &mut String) {
    dgram(snap, SocketKind::Ping, true, "icmp6", out)
}

#[cfg(test)]
mod tests {
    use crate::testdata::*;

    #[test]
    fn tcp4_rows_padded_to_149_listener_first() {
        let text = crate::render("tcp", &sample_with_sockets()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines.iter().all(|l| l.len() == 149), "{text}");
        assert_eq!(
            lines[1].trim_end(),
            "   0: 00000000:1F90 00000000:0000 0A 00000000:00000005 00:00000000 00000000     0        0 1001 1 0000000000000000 100 0 0 10 0"
        );
        assert_eq!(
            lines[2].trim_end(),
            "   1: 0200000A:C350 0100000A:0016 01 00000010:00000020 01:00000014 00000002  1000        0 1002 2 0000000000000000 20 4 1 10 -1"
        );
    }

    #[test]
    fn tcp6_udp6_words_in_host_order_unpadded() {
        let snap = sample_with_sockets();
        let tcp6 = crate::render("tcp6", &snap).unwrap();
        assert_eq!(
            tcp6.lines().nth(1).unwrap(),
            "   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1003 1 0000000000000000 100 0 0 10 0"
        );
        let udp6 = crate::render("udp6", &snap).unwrap();
        assert_eq!(
            udp6.lines().nth(1).unwrap(),
            " 5353: 010000FD000000000000000002000000:14E9 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1005 2 0000000000000000 0"
        );
    }

    #[test]
    fn udp_icmp_raw_formats() {
        let snap = sample_with_sockets();
        let udp = crate::render("udp", &snap).unwrap();
        assert!(udp.lines().all(|l| l.len() == 127));
        assert_eq!(
            udp.lines().nth(1).unwrap().trim_end(),
            " 5353: 0200000A:14E9 00000000:0000 07 00000000:00000300 00:00000000 00000000     0        0 1004 2 0000000000000000 4294967295"
        );
        let icmp = crate::render("icmp", &snap).unwrap();
        assert_eq!(
            icmp.lines().nth(1).unwrap().trim_end(),
            "   42: 00000000:002A 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 1006 2 0000000000000000 0"
        );
        let raw = crate::render("raw", &snap).unwrap();
        assert_eq!(
            raw.lines().nth(1).unwrap(),
            "   1: 00000000:0001 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1007 2 0000000000000000 0"
        );
    }

    #[test]
    fn unlisted_sockets_are_left_out_and_empty_tables_are_the_header() {
        let snap = sample();
        for f in [
            "tcp", "tcp6", "udp", "udp6", "raw", "raw6", "icmp", "icmp6", "udplite", "udplite6",
        ] {
            let text = crate::render(f, &snap).unwrap();
            assert_eq!(text.lines().count(), 1, "{f}");
        }
        let mut snap = sample_with_sockets();
        for s in &mut snap.sockets {
            s.state = netstack::inet::tcp_state::CLOSE;
            s.local.set_port(0);
        }
        assert_eq!(crate::render("tcp", &snap).unwrap().lines().count(), 1);
        assert_eq!(crate::render("udp", &snap).unwrap().lines().count(), 1);
        assert_eq!(
            crate::render("raw", &snap).unwrap().lines().count(),
            2,
            "raw is listed unbound"
        );
    }

    #[test]
    fn time_wait_and_syn_recv_use_their_own_formats() {
        let mut snap = sample_with_sockets();
        snap.sockets[1].state = netstack::inet::tcp_state::TIME_WAIT;
        let text = crate::render("tcp", &snap).unwrap();
        assert_eq!(
            text.lines().nth(2).unwrap().trim_end(),
            "   1: 0200000A:C350 0100000A:0016 06 00000000:00000000 03:00000014 00000000     0        0 0 2 0000000000000000"
        );
        snap.sockets[1].state = netstack::inet::tcp_state::SYN_RECV;
        let text = crate::render("tcp", &snap).unwrap();
        assert_eq!(
            text.lines().nth(2).unwrap().trim_end(),
            "   1: 0200000A:C350 0100000A:0016 03 00000000:00000000 01:00000014 00000002  1000        0 0 0 0000000000000000"
        );
    }
}
