//! Floods that need no root: a third host on the in-memory wire between two
//! stacks (support/pair.rs) sends what an attacker would, with spoofed
//! sources that never answer. Regression tests for what the TUN floods
//! (tests/flood_tun.rs) found.

mod support;

use sandnet::netstack::inet::tcp_state;
use sandnet::netstack::{ListenOptions, TcpListener, TcpStream, UdpSocket};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use support::kernel::eventually;
use support::packets;
use support::pair::{relayed_pair, A_V4, A_V6, B_V4, B_V6};

fn a_v4() -> Ipv4Addr {
    A_V4.parse().unwrap()
}

/// Whether a packet is addressed to B (the only real host besides A).
fn to_b(p: &[u8]) -> bool {
    let b6 = B_V6.parse::<Ipv6Addr>().unwrap().octets();
    (p.len() >= 20 && p[0] >> 4 == 4 && p[16..20] == B_V4.parse::<Ipv4Addr>().unwrap().octets())
        || (p.len() >= 40 && p[0] >> 4 == 6 && p[24..40] == b6)
}

/// A bare IPv6 TCP SYN with a correct checksum.
fn syn_v6(src: Ipv6Addr, dst: Ipv6Addr, sport: u16, dport: u16) -> Vec<u8> {
    let mut t = vec![0u8; 20];
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&dport.to_be_bytes());
    t[4..8].copy_from_slice(&7u32.to_be_bytes());
    t[12] = 5 << 4;
    t[13] = 0x02;
    t[14..16].copy_from_slice(&65535u16.to_be_bytes());
    let c = packets::checksum(&[&packets::pseudo_v6(src, dst, 6, 20), &t]);
    t[16..18].copy_from_slice(&c.to_be_bytes());
    packets::ipv6(src, dst, 6, &t)
}

#[test]
fn syn_flood_from_spoofed_sources_leaves_the_listener_serving() {
    // A's answers to the spoofed sources go nowhere, as on a real network.
    let (a, b, relay) = relayed_pair(|from_a, p| !from_a || to_b(p));
    let backlog = 4;
    let opts = ListenOptions {
        backlog,
        v6only: false,
    };
    let listener = TcpListener::bind_with(&a, SocketAddr::new(a_v4().into(), 80), opts).unwrap();
    for i in 0..200u16 {
        let src = Ipv4Addr::new(10, 1, 0, 100 + (i % 100) as u8);
        let syn = packets::tcp_syn_v4(src, a_v4(), 2000 + i, 80);
        relay.inject_to_a(&packets::ipv4(src, a_v4(), 6, &syn));
    }
    assert!(
        eventually(Duration::from_secs(5), || {
            a.statistics().snmp.tcp_ext.ListenDrops >= 196
        }),
        "every SYN past the backlog is counted"
    );
    let children = a
        .sockets()
        .iter()
        .filter(|r| r.local.port() == 80 && r.remote.port() != 0)
        .count();
    assert!(
        children <= backlog,
        "{children} children for a backlog of {backlog}"
    );
    let ext = a.statistics().snmp.tcp_ext;
    assert_eq!(ext.ListenOverflows, 0, "nothing waits for accept");
    assert_eq!(ext.TCPReqQFullDrop, ext.ListenDrops);

    // The backlog is full of half-open connections that will never complete;
    // a real client still gets in.
    let mut c = TcpStream::connect_timeout(
        &b,
        &SocketAddr::new(a_v4().into(), 80),
        Duration::from_secs(5),
    )
    .expect("a flooded listener still accepts a real client");
    listener
        .set_accept_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let (mut s, peer) = listener.accept().unwrap();
    assert_eq!(peer.ip(), B_V4.parse::<IpAddr>().unwrap());
    c.write_all(b"in").unwrap();
    let mut buf = [0u8; 2];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"in");
}

#[test]
fn a_full_accept_queue_drops_new_syns_as_overflows() {
    let (a, b, _relay) = relayed_pair(|_, _| true);
    let opts = ListenOptions {
        backlog: 2,
        v6only: false,
    };
    let listener = TcpListener::bind_with(&a, SocketAddr::new(a_v4().into(), 80), opts).unwrap();
    let addr = SocketAddr::new(a_v4().into(), 80);
    // Two established connections nobody accepts fill the backlog.
    let _c1 = TcpStream::connect_timeout(&b, &addr, Duration::from_secs(5)).unwrap();
    let _c2 = TcpStream::connect_timeout(&b, &addr, Duration::from_secs(5)).unwrap();
    // Established on a's side too (the last ACK may still be on its way).
    assert!(eventually(Duration::from_secs(5), || {
        a.sockets()
            .iter()
            .filter(|r| r.local.port() == 80 && r.state == tcp_state::ESTABLISHED)
            .count()
            == 2
    }));
    let third = TcpStream::connect_timeout(&b, &addr, Duration::from_millis(300));
    assert!(third.is_err(), "a third handshake gets no answer");
    let ext = a.statistics().snmp.tcp_ext;
    assert!(ext.ListenOverflows > 0 && ext.ListenDrops >= ext.ListenOverflows);
    assert_eq!(
        ext.TCPReqQFullDrop, 0,
        "established children are not evicted"
    );
    listener.set_nonblocking(true).unwrap();
    assert!(listener.accept().is_ok() && listener.accept().is_ok());
}

#[test]
fn empty_datagrams_cannot_queue_without_bound() {
    let (a, _b, relay) = relayed_pair(|from_a, p| !from_a || to_b(p));
    let sock = UdpSocket::bind(&a, SocketAddr::new(a_v4().into(), 53)).unwrap();
    let limit = a.limits().dgram_recv_buffer;
    let src = Ipv4Addr::new(10, 1, 0, 99);
    let n = 20_000;
    for i in 0..n {
        let udp = packets::udp_v4(src, a_v4(), 1000 + (i % 1000) as u16, 53, &[]);
        relay.inject_to_a(&packets::ipv4(src, a_v4(), 17, &udp));
        if i % 1000 == 999 {
            // Let the stack keep up with the wire's queue.
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    assert!(eventually(Duration::from_secs(10), || {
        let st = a.statistics();
        st.snmp.udp.RcvbufErrors > 0 && a.sockets().iter().any(|r| r.local.port() == 53)
    }));
    sock.set_nonblocking(true).unwrap();
    let mut queued = 0usize;
    let mut buf = [0u8; 16];
    while let Ok((0, _)) = sock.recv_from(&mut buf) {
        queued += 1;
    }
    // Each datagram costs its bookkeeping, not only its payload.
    assert!(queued > 0);
    assert!(
        queued * 64 <= limit,
        "{queued} empty datagrams queued for a {limit}-byte buffer"
    );
}

#[test]
fn port_unreachables_are_rate_limited_per_host_and_counted() {
    let (a, _b, relay) = relayed_pair(|from_a, p| !from_a || to_b(p));
    let src = Ipv4Addr::new(10, 1, 0, 98);
    let n = 500;
    for i in 0..n {
        let udp = packets::udp_v4(src, a_v4(), 1000 + i, 9, b"closed");
        relay.inject_to_a(&packets::ipv4(src, a_v4(), 17, &udp));
    }
    assert!(eventually(Duration::from_secs(10), || {
        a.statistics().snmp.udp.NoPorts == u64::from(n)
    }));
    let icmp = a.statistics().snmp.icmp;
    // A burst of six, then one a second (the injection takes well under one).
    assert!(
        (6..=8).contains(&icmp.OutDestUnreachs),
        "{} port unreachables sent",
        icmp.OutDestUnreachs
    );
    assert_eq!(
        icmp.OutDestUnreachs + icmp.OutRateLimitHost + icmp.OutRateLimitGlobal,
        u64::from(n),
        "every datagram to the closed port is answered or counted as limited"
    );
    assert_eq!(
        icmp.OutMsgs, icmp.OutDestUnreachs,
        "limited ones are not output"
    );
}

#[test]
fn an_ipv6_syn_flood_is_bounded_and_the_listener_keeps_serving() {
    let (a, b, relay) = relayed_pair(|from_a, p| !from_a || to_b(p));
    let backlog = 4;
    let opts = ListenOptions {
        backlog,
        v6only: true,
    };
    let a6: Ipv6Addr = A_V6.parse().unwrap();
    let listener = TcpListener::bind_with(&a, SocketAddr::new(a6.into(), 80), opts).unwrap();
    for i in 0..200u16 {
        let src = Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, 0x100 + i % 100);
        relay.inject_to_a(&syn_v6(src, a6, 3000 + i, 80));
    }
    assert!(eventually(Duration::from_secs(5), || {
        a.statistics().snmp.tcp_ext.ListenDrops >= 196
    }));
    let children = a
        .sockets()
        .iter()
        .filter(|r| r.local.port() == 80 && r.remote.port() != 0)
        .count();
    assert!(
        children <= backlog,
        "{children} children for a backlog of {backlog}"
    );
    let mut c =
        TcpStream::connect_timeout(&b, &SocketAddr::new(a6.into(), 80), Duration::from_secs(5))
            .expect("a flooded IPv6 listener still accepts a real client");
    listener
        .set_accept_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let (mut s, peer) = listener.accept().unwrap();
    assert_eq!(peer.ip(), B_V6.parse::<IpAddr>().unwrap());
    c.write_all(b"v6").unwrap();
    let mut buf = [0u8; 2];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"v6");
}

#[test]
fn ipv6_port_unreachables_are_rate_limited_too() {
    let (a, _b, relay) = relayed_pair(|from_a, p| !from_a || to_b(p));
    let a6: Ipv6Addr = A_V6.parse().unwrap();
    let src = Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, 0x99);
    let n = 300u16;
    for i in 0..n {
        let mut u = Vec::new();
        u.extend_from_slice(&(1000 + i).to_be_bytes());
        u.extend_from_slice(&9u16.to_be_bytes());
        u.extend_from_slice(&14u16.to_be_bytes());
        u.extend_from_slice(&[0, 0]);
        u.extend_from_slice(b"closed");
        let c = packets::checksum(&[&packets::pseudo_v6(src, a6, 17, u.len()), &u]);
        u[6..8].copy_from_slice(&c.to_be_bytes());
        relay.inject_to_a(&packets::ipv6(src, a6, 17, &u));
    }
    assert!(eventually(Duration::from_secs(10), || {
        a.statistics().snmp6.udp6.Udp6NoPorts == u64::from(n)
    }));
    let st = a.statistics();
    let (icmp6, icmp) = (&st.snmp6.icmp6, &st.snmp.icmp);
    // A burst of six per destination; the /64 route makes the interval 250 ms.
    assert!(
        (6..=12).contains(&icmp6.Icmp6OutDestUnreachs),
        "{} sent",
        icmp6.Icmp6OutDestUnreachs
    );
    assert_eq!(
        icmp6.Icmp6OutDestUnreachs + icmp6.Icmp6OutRateLimitHost + icmp.OutRateLimitGlobal,
        u64::from(n)
    );
}
