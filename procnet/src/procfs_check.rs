//! Rendered text read back by a real consumer: the procfs-core crate's
//! parsers for every file it knows (tcp, tcp6, udp, udp6, unix, arp, dev,
//! route, snmp, snmp6), on ordinary and on odd snapshots.

use crate::testdata::*;
use netstack::inet::{SocketKind, Statistics};
use netstack::Snapshot;
use procfs_core::net::{
    ArpEntries, InterfaceDeviceStatus, RouteEntries, Snmp, Snmp6, TcpNetEntries, TcpState,
    UdpNetEntries, UnixNetEntries,
};
use procfs_core::{ExplicitSystemInfo, FromBufRead, FromBufReadSI};
use std::net::Ipv4Addr;

fn si() -> ExplicitSystemInfo {
    ExplicitSystemInfo {
        boot_time_secs: 0,
        ticks_per_second: 100,
        page_size: 4096,
        is_little_endian: cfg!(target_endian = "little"),
    }
}

fn text(name: &str, snap: &Snapshot) -> String {
    crate::render(name, snap).unwrap()
}

fn tcp(name: &str, snap: &Snapshot) -> TcpNetEntries {
    TcpNetEntries::from_buf_read(text(name, snap).as_bytes(), &si())
        .unwrap_or_else(|e| panic!("{name}: {e:?}"))
}

fn udp(name: &str, snap: &Snapshot) -> UdpNetEntries {
    UdpNetEntries::from_buf_read(text(name, snap).as_bytes(), &si())
        .unwrap_or_else(|e| panic!("{name}: {e:?}"))
}

#[test]
fn socket_tables_parse_back_to_the_snapshot() {
    let snap = sample_with_sockets();
    let t4 = tcp("tcp", &snap).0;
    assert_eq!(t4.len(), 2);
    assert_eq!(t4[0].local_address, sa("0.0.0.0:8080"));
    assert!(matches!(t4[0].state, TcpState::Listen));
    assert_eq!(t4[1].local_address, sa("10.0.0.2:50000"));
    assert_eq!(t4[1].remote_address, sa("10.0.0.1:22"));
    assert!(matches!(t4[1].state, TcpState::Established));
    assert_eq!(
        (t4[1].tx_queue, t4[1].rx_queue, t4[1].uid, t4[1].inode),
        (16, 32, 1000, 1002)
    );
    let t6 = tcp("tcp6", &snap).0;
    assert_eq!(t6.len(), 1);
    assert_eq!(t6[0].local_address, sa("[::]:8080"));
    assert_eq!(t6[0].inode, 1003);
    let u4 = udp("udp", &snap).0;
    assert_eq!(u4.len(), 1);
    assert_eq!(u4[0].local_address, sa("10.0.0.2:5353"));
    assert_eq!(u4[0].rx_queue, 768);
    let u6 = udp("udp6", &snap).0;
    assert_eq!(u6.len(), 1);
    assert_eq!(u6[0].local_address, sa("[fd00:1::2]:5353"));
    assert_eq!(u6[0].inode, 1005);
}

#[test]
fn empty_socket_tables_parse_as_empty() {
    let snap = sample();
    for f in ["tcp", "tcp6"] {
        assert!(tcp(f, &snap).0.is_empty(), "{f}");
    }
    for f in ["udp", "udp6"] {
        assert!(udp(f, &snap).0.is_empty(), "{f}");
    }
    let unix = UnixNetEntries::from_buf_read(text("unix", &snap).as_bytes()).unwrap();
    assert!(unix.0.is_empty());
    let arp = ArpEntries::from_buf_read(text("arp", &snap).as_bytes()).unwrap();
    assert!(arp.0.is_empty());
}

#[test]
fn registered_unix_rows_parse() {
    let mut snap = sample();
    snap.foreign.push(crate::foreign::unix(
        2,
        true,
        1,
        1,
        77,
        Some("/run/app.sock"),
    ));
    snap.foreign
        .push(crate::foreign::unix(2, false, 2, 1, 78, Some("\0abstract")));
    snap.foreign
        .push(crate::foreign::unix(3, false, 1, 3, 79, None));
    let unix = UnixNetEntries::from_buf_read(text("unix", &snap).as_bytes())
        .unwrap()
        .0;
    assert_eq!(unix.len(), 3);
    assert_eq!(unix[0].inode, 77);
    assert_eq!(
        unix[0].path.as_deref(),
        Some(std::path::Path::new("/run/app.sock"))
    );
    assert_eq!(unix[1].socket_type, libc_sock_dgram());
    assert_eq!(
        unix[1].path.as_deref(),
        Some(std::path::Path::new("@abstract"))
    );
    assert_eq!((unix[2].ref_count, unix[2].inode), (3, 79));
    assert!(unix[2].path.is_none());
}

fn libc_sock_dgram() -> u16 {
    2
}

#[test]
fn dev_and_route_parse() {
    let snap = sample();
    let dev = InterfaceDeviceStatus::from_buf_read(text("dev", &snap).as_bytes())
        .unwrap()
        .0;
    assert_eq!(dev.len(), 2);
    let tun = &dev["tun0"];
    assert_eq!(
        (
            tun.recv_bytes,
            tun.recv_packets,
            tun.sent_bytes,
            tun.sent_carrier
        ),
        (1234, 10, 5678, 11)
    );
    let routes = RouteEntries::from_buf_read(text("route", &snap).as_bytes())
        .unwrap()
        .0;
    assert_eq!(routes.len(), 4);
    assert_eq!(routes[0].destination, Ipv4Addr::UNSPECIFIED);
    assert_eq!(routes[0].gateway, Ipv4Addr::new(10, 0, 0, 1));
    assert_eq!(routes[0].flags, 0x3);
    assert_eq!(routes[1].mask, Ipv4Addr::new(255, 255, 255, 0));
    assert_eq!(routes[2].metrics, 100);
    assert_eq!(routes[3].destination, Ipv4Addr::new(192, 168, 1, 2));
}

#[test]
fn snmp_and_snmp6_parse_with_real_values() {
    let mut snap = sample();
    snap.stats.snmp.ip.InReceives = 11;
    snap.stats.snmp.tcp.ActiveOpens = 12;
    snap.stats.snmp.udp.NoPorts = 13;
    snap.stats.snmp.icmp_msg.in_type[8] = 2;
    snap.stats.snmp6.ip6.Ip6InReceives = 14;
    snap.stats.snmp6.udp6.Udp6OutDatagrams = 15;
    snap.stats.snmp6.icmp6_msg.out_type[133] = 1;
    let snmp = Snmp::from_buf_read(text("snmp", &snap).as_bytes()).unwrap();
    assert_eq!(snmp.ip_in_receives, 11);
    assert_eq!(snmp.ip_default_ttl, 64);
    assert_eq!(snmp.tcp_active_opens, 12);
    assert_eq!(snmp.tcp_max_conn, -1);
    assert_eq!(snmp.udp_no_ports, 13);
    let snmp6 = Snmp6::from_buf_read(text("snmp6", &snap).as_bytes()).unwrap();
    assert_eq!(snmp6.ip_in_receives, 14);
    assert_eq!(snmp6.udp_out_datagrams, 15);
}

/// Every counter at u64::MAX (but the constants the kernel prints as small
/// numbers), 15-character names, no routes, no addresses: still parseable.
#[test]
fn odd_data_still_parses() {
    let mut snap = sample_with_sockets();
    snap.interfaces[1].name = "fifteen-chars-x".into();
    snap.routes.clear();
    snap.addrs.clear();
    let mut stats = Statistics::default();
    stats.snmp.icmp.InMsgs = u64::MAX;
    stats.snmp.icmp.OutAddrMaskReps = u64::MAX;
    stats.snmp.udp.InDatagrams = u64::MAX;
    stats.snmp.udp_lite.MemErrors = u64::MAX;
    stats.snmp.ip_ext.InOctets = u64::MAX;
    stats.snmp.tcp_ext.TCPAODroppedIcmps = u64::MAX;
    stats.snmp6.ip6.Ip6InReceives = u64::MAX;
    stats.snmp6.icmp6.Icmp6OutMLDv2Reports = u64::MAX;
    stats.snmp6.udp6.Udp6MemErrors = u64::MAX;
    stats.snmp6.udp_lite6.UdpLite6MemErrors = u64::MAX;
    stats.snmp.ip.InReceives = u64::MAX;
    stats.snmp.ip.OutTransmits = u64::MAX;
    stats.snmp.tcp.InSegs = u64::MAX;
    stats.snmp.icmp_msg.in_type = [u64::MAX; 256];
    stats.snmp6.icmp6_msg.out_type = [u64::MAX; 256];
    let dev = netstack::inet::DevStats {
        rx_bytes: u64::MAX,
        tx_bytes: u64::MAX,
        rx_packets: u64::MAX,
        tx_compressed: u64::MAX,
        ..Default::default()
    };
    stats.dev.insert(2, dev);
    snap.stats = stats;
    for s in &mut snap.sockets {
        s.tx_queue = u32::MAX;
        s.rx_queue = u32::MAX;
        s.uid = u32::MAX - 1;
        s.inode = u64::MAX;
        s.drops = u64::MAX;
        s.refcount = u32::MAX;
    }
    let snmp = Snmp::from_buf_read(text("snmp", &snap).as_bytes()).unwrap();
    assert_eq!(snmp.ip_in_receives, u64::MAX);
    assert_eq!(snmp.udp_in_datagrams, u64::MAX);
    let snmp6 = Snmp6::from_buf_read(text("snmp6", &snap).as_bytes()).unwrap();
    assert_eq!(snmp6.ip_in_receives, u64::MAX);
    let dev = InterfaceDeviceStatus::from_buf_read(text("dev", &snap).as_bytes())
        .unwrap()
        .0;
    assert_eq!(dev["fifteen-chars-x"].recv_bytes, u64::MAX);
    let routes = RouteEntries::from_buf_read(text("route", &snap).as_bytes())
        .unwrap()
        .0;
    assert!(routes.is_empty());
    let t4 = tcp("tcp", &snap).0;
    assert_eq!(t4[1].tx_queue, u32::MAX);
    assert_eq!(t4[1].inode, u64::MAX);
    let u6 = udp("udp6", &snap).0;
    assert_eq!(u6[0].rx_queue, u32::MAX);
    // Every file renders, twice identically, whatever the data.
    for (name, _) in crate::FILES {
        assert_eq!(text(name, &snap), text(name, &snap), "{name}");
    }
    assert!(snap.sockets.iter().any(|s| s.kind == SocketKind::Raw));
    let netstat = text("netstat", &snap);
    assert!(netstat
        .lines()
        .nth(1)
        .unwrap()
        .ends_with(" 18446744073709551615"));
}
