//! Files whose shape is fixed by the kernel build rather than by tables:
//! protocols, psched and ptype; and unix, packet and netlink, whose sockets
//! live outside the stack (the runtime registers their rows).

use crate::sockstat::{inuse, tcp_mem_pages, udp_mem_pages};
use netstack::inet::SocketKind;
use netstack::Snapshot;
use std::fmt::Write;

/// /proc/net/unix (net/unix/af_unix.c: unix_seq_show): header, then the
/// runtime's rows (see [`crate::foreign::unix`]).
pub fn render_unix(snap: &Snapshot, out: &mut String) {
    out.push_str("Num       RefCount Protocol Flags    Type St Inode Path\n");
    crate::fmt::foreign_rows(snap, "unix", None, out);
}

/// /proc/net/packet (net/packet/af_packet.c: packet_seq_show).
pub fn render_packet(snap: &Snapshot, out: &mut String) {
    out.push_str("sk               RefCnt Type Proto  Iface R Rmem   User   Inode\n");
    crate::fmt::foreign_rows(snap, "packet", None, out);
}

/// /proc/net/netlink (net/netlink/af_netlink.c: netlink_seq_show).
pub fn render_netlink(snap: &Snapshot, out: &mut String) {
    out.push_str(
        "sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode\n",
    );
    crate::fmt::foreign_rows(snap, "netlink", None, out);
}

/// Which shared memory pool a protocol charges (proto->memory_allocated).
#[derive(Clone, Copy)]
enum Mem {
    Tcp,
    Udp,
    None,
}

/// Where a protocol's socket count comes from.
#[derive(Clone, Copy)]
enum Count {
    Stack(SocketKind, bool),
    Foreign(&'static str, Option<&'static str>),
    Zero,
}

struct Proto {
    name: &'static str,
    size: u32,
    count: Count,
    mem: Mem,
    max_header: u32,
    slab: bool,
    /// cl co di ac io in de sh ss gs se re bi br ha uh gp em: which of
    /// struct proto's methods are implemented.
    methods: &'static str,
}

/// Linux 6.18's registered protocols (x86_64), in proto_list order (newest
/// first): name, object size, header room, slab and methods are properties
/// of that kernel build; the counts and memory are the stack's.
const PROTOCOLS: &[Proto] = &[
    Proto {
        name: "AF_VSOCK",
        size: 1240,
        count: Count::Zero,
        mem: Mem::None,
        max_header: 0,
        slab: true,
        methods: "ynnnnnnnnnnnnnnnnn",
    },
    Proto {
        name: "PACKET",
        size: 1600,
        count: Count::Foreign("packet", None),
        mem: Mem::None,
        max_header: 0,
        slab: false,
        methods: "nnnnnnnnnnnnnnnnnn",
    },
    Proto {
        name: "MPTCPv6",
        size: 2064,
        count: Count::Zero,
        mem: Mem::Tcp,
        max_header: 0,
        slab: true,
        methods: "yyynyyyyyyyynnyyyn",
    },
    Proto {
        name: "PINGv6",
        size: 1344,
        count: Count::Stack(SocketKind::Ping, true),
        mem: Mem::None,
        max_header: 0,
        slab: true,
        methods: "yyynnynnyyyyyynyyn",
    },
    Proto {
        name: "RAWv6",
        size: 1344,
        count: Count::Stack(SocketKind::Raw, true),
        mem: Mem::None,
        max_header: 0,
        slab: true,
        methods: "yyynyyynyyyyyyyynn",
    },
    Proto {
        name: "UDPLITEv6",
        size: 1472,
        count: Count::Zero,
        mem: Mem::Udp,
        max_header: 0,
        slab: true,
        methods: "yyynyyynyyyynnyyyn",
    },
    Proto {
        name: "UDPv6",
        size: 1472,
        count: Count::Stack(SocketKind::Udp, true),
        mem: Mem::Udp,
        max_header: 0,
        slab: true,
        methods: "yyynyyynyyyynnyyyn",
    },
    Proto {
        name: "TCPv6",
        size: 2432,
        count: Count::Stack(SocketKind::Tcp, true),
        mem: Mem::Tcp,
        max_header: 192,
        slab: true,
        methods: "yyyyyyyyyyyynyyyyy",
    },
    Proto {
        name: "XDP",
        size: 1088,
        count: Count::Zero,
        mem: Mem::None,
        max_header: 0,
        slab: false,
        methods: "nnnnnnnnnnnnnnnnnn",
    },
    Proto {
        name: "UNIX-STREAM",
        size: 1152,
        count: Count::Foreign("unix", Some("0001")),
        mem: Mem::None,
        max_header: 0,
        slab: true,
        methods: "ynnnnnnnnnnnnnnnnn",
    },
    Proto {
        name: "UNIX",
        size: 1152,
        count: Count::Foreign("unix", None),
        mem: Mem::None,
        max_header: 0,
        slab: true,
        methods: "ynnnnnnnnnnnnnnnnn",
    },
    Proto {
        name: "UDP-Lite",
        size: 1344,
        count: Count::Zero,
        mem: Mem::Udp,
        max_header: 0,
        slab: true,
        methods: "yyynyyynyyyynnyyyn",
    },
    Proto {
        name: "MPTCP",
        size: 1936,
        count: Count::Zero,
        mem: Mem::Tcp,
        max_header: 0,
        slab: true,
        methods: "yyynyyyyyyyynnyyyn",
    },
    Proto {
        name: "PING",
        size: 1016,
        count: Count::Stack(SocketKind::Ping, false),
        mem: Mem::None,
        max_header: 0,
        slab: true,
        methods: "yyynnynnyyyyyynyyn",
    },
    Proto {
        name: "RAW",
        size: 1152,
        count: Count::Stack(SocketKind::Raw, false),
        mem: Mem::None,
        max_header: 0,
        slab: true,
        methods: "yyynyyynyyyyyyyynn",
    },
    Proto {
        name: "UDP",
        size: 1344,
        count: Count::Stack(SocketKind::Udp, false),
        mem: Mem::Udp,
        max_header: 0,
        slab: true,
        methods: "yyynyyynyyyynnyyyn",
    },
    Proto {
        name: "TCP",
        size: 2304,
        count: Count::Stack(SocketKind::Tcp, false),
        mem: Mem::Tcp,
        max_header: 192,
        slab: true,
        methods: "yyyyyyyyyyyynyyyyy",
    },
    Proto {
        name: "NETLINK",
        size: 1096,
        count: Count::Foreign("netlink", None),
        mem: Mem::None,
        max_header: 0,
        slab: false,
        methods: "nnnnnnnnnnnnnnnnnn",
    },
];

/// The type column (5th field) of a unix row: "0001" is SOCK_STREAM.
fn unix_type(line: &str) -> Option<&str> {
    line.split_whitespace().nth(4)
}

/// /proc/net/protocols (net/core/sock.c: proto_seq_show, proto_seq_printf).
pub fn render_protocols(snap: &Snapshot, out: &mut String) {
    out.push_str("protocol  size sockets  memory press maxhdr  slab module     cl co di ac io in de sh ss gs se re bi br ha uh gp em\n");
    for p in PROTOCOLS {
        let sockets = match p.count {
            Count::Stack(kind, v6) => inuse(snap, kind, v6),
            Count::Foreign(file, stream) => snap
                .foreign
                .iter()
                .filter(|f| f.file == file)
                .filter(|f| match stream {
                    Some(t) => unix_type(&f.line) == Some(t),
                    None if file == "unix" => unix_type(&f.line) != Some("0001"),
                    None => true,
                })
                .count(),
            Count::Zero => 0,
        };
        let (memory, press) = match p.mem {
            Mem::Tcp => (tcp_mem_pages(snap) as i64, "no"),
            Mem::Udp => (udp_mem_pages(snap) as i64, "NI"),
            Mem::None => (-1, "NI"),
        };
        let _ = write!(
            out,
            "{:<9} {:4} {:6}  {:6}   {:<3} {:6}   {:<3}  {:<10}",
            p.name,
            p.size,
            sockets,
            memory,
            press,
            p.max_header,
            if p.slab { "yes" } else { "no" },
            "kernel"
        );
        for c in p.methods.chars() {
            let _ = write!(out, " {c:>2}");
        }
        out.push('\n');
    }
}

/// /proc/net/psched (net/sched/sch_api.c: psched_show): ns per µs, ns per
/// packet-scheduler tick (1 << PSCHED_SHIFT), the 1 MHz clock, and the clock
/// resolution as a rate (1 ns: high-resolution timers).
pub fn render_psched(_snap: &Snapshot, out: &mut String) {
    const NSEC_PER_USEC: u32 = 1_000;
    const PSCHED_SHIFT: u32 = 6;
    const NSEC_PER_SEC: u32 = 1_000_000_000;
    const HRTIMER_RESOLUTION_NS: u32 = 1;
    let _ = writeln!(
        out,
        "{:08x} {:08x} {:08x} {:08x}",
        NSEC_PER_USEC,
        1u32 << PSCHED_SHIFT,
        1_000_000,
        NSEC_PER_SEC / HRTIMER_RESOLUTION_NS
    );
}

/// /proc/net/ptype (net/core/net-procfs.c: ptype_seq_show): the packet types
/// the stack receives, in the kernel's hash order (type & 15): IPv4, then
/// IPv6. sandnet has no ARP or LLC handler.
pub fn render_ptype(snap: &Snapshot, out: &mut String) {
    out.push_str("Type Device      Function\n");
    let mut handlers = [(0x0800u16, "ip_rcv"), (0x86dd, "ipv6_rcv")];
    handlers.sort_by_key(|(t, _)| t & 15);
    for (t, f) in handlers {
        let _ = writeln!(out, "{t:04x} {:<8} {f}", "");
    }
    crate::fmt::foreign_rows(snap, "ptype", None, out);
}

#[cfg(test)]
mod tests {
    use crate::testdata::*;

    #[test]
    fn protocols_counts_are_the_stacks() {
        let mut snap = sample_with_sockets();
        snap.foreign.push(crate::foreign::unix(
            2,
            false,
            1,
            1,
            99,
            Some("/run/x.sock"),
        ));
        snap.foreign
            .push(crate::foreign::unix(2, false, 2, 1, 98, None));
        let text = crate::render("protocols", &snap).unwrap();
        let find = |n: &str| {
            text.lines()
                .find(|l| l.split(' ').next() == Some(n))
                .unwrap()
                .to_string()
        };
        assert_eq!(find("TCP"), "TCP       2304      2       1   no     192   yes  kernel      y  y  y  y  y  y  y  y  y  y  y  y  n  y  y  y  y  y");
        assert!(
            find("UDPv6").starts_with("UDPv6     1472      1       1   NI       0   yes  kernel ")
        );
        assert!(find("UNIX-STREAM").starts_with("UNIX-STREAM 1152      1      -1   NI"));
        assert!(find("UNIX").starts_with("UNIX      1152      1      -1   NI"));
        assert_eq!(text.lines().count(), 19);
    }

    #[test]
    fn psched_and_ptype() {
        let snap = sample();
        assert_eq!(
            crate::render("psched", &snap).unwrap(),
            "000003e8 00000040 000f4240 3b9aca00\n"
        );
        assert_eq!(
            crate::render("ptype", &snap).unwrap(),
            "Type Device      Function\n0800          ip_rcv\n86dd          ipv6_rcv\n"
        );
    }

    #[test]
    fn foreign_rows_follow_the_headers() {
        let mut snap = sample();
        snap.foreign.push(crate::foreign::netlink(0, 1234, 0, 7));
        snap.foreign
            .push(crate::foreign::packet(3, 3, 0x0003, 2, true, 0, 8));
        let nl = crate::render("netlink", &snap).unwrap();
        assert_eq!(nl.lines().nth(1).unwrap(), "0000000000000000 0   1234       00000000 0        0        0     2        0        7       ");
        let pk = crate::render("packet", &snap).unwrap();
        assert_eq!(
            pk.lines().nth(1).unwrap(),
            "0000000000000000 3      3    0003   2     1 0      0      8     "
        );
        assert_eq!(crate::render("unix", &snap).unwrap().lines().count(), 1);
    }
}
