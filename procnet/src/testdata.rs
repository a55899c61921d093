//! Hand-built snapshots for the renderers' unit tests.

use netstack::inet::{
    arphrd, ifa_flags, iff, rt_scope, rtprot, tcp_state, DevStats, Interface, InterfaceAddr, Route,
    RouteType, SocketInfo, SocketKind, TcpDetail, RT_TABLE_LOCAL, RT_TABLE_MAIN,
};
use netstack::Snapshot;
use std::net::{IpAddr, SocketAddr};

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn route(
    dst: &str,
    plen: u8,
    gw: Option<&str>,
    oif: u32,
    metric: u32,
    table: u32,
    kind: RouteType,
) -> Route {
    Route {
        dst: ip(dst),
        prefix_len: plen,
        gateway: gw.map(ip),
        oif,
        metric,
        table,
        kind,
        scope: rt_scope::UNIVERSE,
        protocol: rtprot::BOOT,
        prefsrc: None,
    }
}

/// lo and tun0 (10.0.0.2/24, fd00:1::2/64, fe80::abc/64), a default route
/// each way, an extra route with a metric, a host route, and the local table.
pub fn sample() -> Snapshot {
    let mut snap = Snapshot {
        interfaces: vec![
            Interface {
                index: 1,
                name: "lo".into(),
                flags: iff::UP | iff::LOOPBACK | iff::RUNNING,
                mtu: 65536,
                link_type: arphrd::LOOPBACK,
                hw_addr: Some(vec![0; 6]),
                tx_queue_len: 1000,
                vnet_hdr: false,
            },
            Interface {
                index: 2,
                name: "tun0".into(),
                flags: iff::UP | iff::POINTOPOINT | iff::RUNNING | iff::NOARP | iff::MULTICAST,
                mtu: 1500,
                link_type: arphrd::NONE,
                hw_addr: None,
                tx_queue_len: 500,
                vnet_hdr: false,
            },
        ],
        ..Snapshot::default()
    };
    let addr = |ifindex, a: &str, plen, flags, scope| InterfaceAddr {
        ifindex,
        addr: ip(a),
        prefix_len: plen,
        flags,
        scope,
        label: if ifindex == 1 {
            "lo".into()
        } else {
            "tun0".into()
        },
    };
    let p = ifa_flags::PERMANENT;
    let pn = p | ifa_flags::NODAD;
    snap.addrs = vec![
        addr(1, "127.0.0.1", 8, p, rt_scope::HOST),
        addr(1, "::1", 128, p, rt_scope::HOST),
        addr(2, "10.0.0.2", 24, p, rt_scope::UNIVERSE),
        addr(2, "fd00:1::2", 64, pn, rt_scope::UNIVERSE),
        addr(2, "fe80::abc", 64, pn, rt_scope::LINK),
    ];
    use RouteType::*;
    let (m, l) = (RT_TABLE_MAIN, RT_TABLE_LOCAL);
    snap.routes = vec![
        route("0.0.0.0", 0, Some("10.0.0.1"), 2, 0, m, Unicast),
        route("10.0.0.0", 8, Some("10.0.0.1"), 2, 100, m, Unicast),
        route("192.168.1.2", 32, Some("10.0.0.1"), 2, 5, m, Unicast),
        route("10.0.0.0", 24, None, 2, 0, m, Unicast),
        route("::", 0, Some("fd00:1::1"), 2, 1024, m, Unicast),
        route("fd00:1::", 64, None, 2, 256, m, Unicast),
        route("127.0.0.0", 8, None, 1, 0, l, Local),
        route("10.0.0.2", 32, None, 2, 0, l, Local),
        route("10.0.0.255", 32, None, 2, 0, l, Broadcast),
        route("ff00::", 8, None, 2, 256, l, Multicast),
        route("::1", 128, None, 1, 0, l, Local),
        route("fd00:1::2", 128, None, 2, 0, l, Local),
    ];
    let tun = DevStats {
        rx_bytes: 1234,
        rx_packets: 10,
        rx_errs: 1,
        rx_drop: 2,
        rx_fifo: 3,
        rx_frame: 4,
        rx_compressed: 5,
        rx_multicast: 6,
        tx_bytes: 5678,
        tx_packets: 20,
        tx_errs: 7,
        tx_drop: 8,
        tx_fifo: 9,
        tx_colls: 10,
        tx_carrier: 11,
        tx_compressed: 12,
    };
    snap.stats.dev.insert(1, DevStats::default());
    snap.stats.dev.insert(2, tun);
    snap
}

fn sock(kind: SocketKind, local: &str, remote: &str, state: u8, inode: u64) -> SocketInfo {
    SocketInfo {
        kind,
        local: sa(local),
        remote: sa(remote),
        protocol: match kind {
            SocketKind::Tcp => 6,
            SocketKind::Udp => 17,
            SocketKind::Raw | SocketKind::Ping => 1,
        },
        state,
        tx_queue: 0,
        rx_queue: 0,
        uid: 0,
        inode,
        refcount: 2,
        drops: 0,
        tcp: None,
    }
}

/// `sample()` plus: TCP listeners on 0.0.0.0:8080 and [::]:8080, an
/// established TCP connection with timers, UDP on 10.0.0.2:5353 and
/// [fd00:1::2]:5353, a ping socket (ident 42) and a raw ICMP socket.
pub fn sample_with_sockets() -> Snapshot {
    let mut snap = sample();
    let listen_detail = TcpDetail {
        rto_ticks: 100,
        snd_cwnd: 10,
        ssthresh: Some(5),
        ..TcpDetail::default()
    };
    let mut l4 = sock(
        SocketKind::Tcp,
        "0.0.0.0:8080",
        "0.0.0.0:0",
        tcp_state::LISTEN,
        1001,
    );
    l4.refcount = 1;
    l4.tx_queue = 128; // the backlog limit: /proc/net/tcp prints 0 for a listener
    l4.rx_queue = 5;
    l4.tcp = Some(listen_detail.clone());
    let mut est = sock(
        SocketKind::Tcp,
        "10.0.0.2:50000",
        "10.0.0.1:22",
        tcp_state::ESTABLISHED,
        1002,
    );
    est.tx_queue = 16;
    est.rx_queue = 32;
    est.uid = 1000;
    est.tcp = Some(TcpDetail {
        timer: 1,
        timer_ticks: 20,
        retransmits: 2,
        probes: 0,
        rto_ticks: 20,
        ato_ticks: 4,
        quick_pingpong: 1,
        snd_cwnd: 10,
        ssthresh: None,
    });
    let mut l6 = sock(
        SocketKind::Tcp,
        "[::]:8080",
        "[::]:0",
        tcp_state::LISTEN,
        1003,
    );
    l6.refcount = 1;
    l6.tcp = Some(listen_detail);
    let mut u4 = sock(
        SocketKind::Udp,
        "10.0.0.2:5353",
        "0.0.0.0:0",
        tcp_state::CLOSE,
        1004,
    );
    u4.rx_queue = 768;
    u4.drops = u64::from(u32::MAX);
    let u6 = sock(
        SocketKind::Udp,
        "[fd00:1::2]:5353",
        "[::]:0",
        tcp_state::CLOSE,
        1005,
    );
    let mut ping = sock(
        SocketKind::Ping,
        "0.0.0.0:42",
        "0.0.0.0:0",
        tcp_state::CLOSE,
        1006,
    );
    ping.uid = 1000;
    let raw = sock(
        SocketKind::Raw,
        "0.0.0.0:0",
        "0.0.0.0:0",
        tcp_state::CLOSE,
        1007,
    );
    snap.sockets = vec![l4, est, l6, u4, u6, ping, raw];
    snap
}
