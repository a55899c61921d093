//! End to end over a real TUN in a private network namespace, with the host
//! kernel as the peer. Needs root: skipped with a reason otherwise, and a
//! failure when skipped under CI=true.

mod support;

use sandnet::netstack::os::packet::PacketSocket;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use support::kernel::*;
use support::packets::*;

/// The tests of this binary run in parallel threads, and a program one of
/// them starts (`ip`) holds a copy of every fd of the process between fork
/// and exec, the other tests' TUN devices included. The test that checks a
/// device is gone the moment its NIC is removed runs alone.
static ALONE: std::sync::RwLock<()> = std::sync::RwLock::new(());

fn shared() -> std::sync::RwLockReadGuard<'static, ()> {
    ALONE.read().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn kernel_pings_the_stack_and_dev_rows_mirror() {
    let _shared = shared();
    let Some(bed) = tun_bed("kernel_pings_the_stack_and_dev_rows_mirror") else {
        return;
    };
    let mut buf = [0u8; 2048];
    for (v6, dst, reply_type) in [(false, STACK_V4, 0u8), (true, STACK_V6, 129u8)] {
        let sock = bed.kernel_ping_socket(v6);
        let to = SocketAddr::new(ip(dst), 0);
        for seq in 1..=3u16 {
            let request = if v6 {
                // The kernel fills in the ICMPv6 checksum and ident of a ping socket.
                icmpv6_echo_request(
                    Ipv6Addr::UNSPECIFIED,
                    Ipv6Addr::UNSPECIFIED,
                    0,
                    seq,
                    b"from the kernel",
                )
            } else {
                icmpv4_echo_request(0, seq, b"from the kernel")
            };
            sock.send_to(&request, to).unwrap();
            let (n, from) = sock
                .recv_from(&mut buf)
                .unwrap_or_else(|e| panic!("no reply from {dst}: {e}"));
            assert_eq!(from.ip(), ip(dst));
            assert_eq!(buf[0], reply_type, "an echo reply");
            assert_eq!(u16::from_be_bytes([buf[6], buf[7]]), seq);
            assert_eq!(&buf[8..n], b"from the kernel");
        }
    }
    let stats = bed.stack.statistics();
    assert_eq!(
        (stats.snmp.icmp.InEchos, stats.snmp.icmp.OutEchoReps),
        (3, 3)
    );
    assert_eq!(
        (
            stats.snmp6.icmp6.Icmp6InEchos,
            stats.snmp6.icmp6.Icmp6OutEchoReplies
        ),
        (3, 3)
    );

    // The kernel's row for the TUN is the stack's row seen from the other side.
    let mirrored = eventually(Duration::from_secs(5), || {
        let k = bed.kernel_dev_row();
        let s = bed.stack.statistics().dev[&bed.ifindex];
        (k[0], k[1], k[8], k[9]) == (s.tx_bytes, s.tx_packets, s.rx_bytes, s.rx_packets)
    });
    let s = bed.stack.statistics().dev[&bed.ifindex];
    assert!(mirrored, "kernel {:?} vs stack {s:?}", bed.kernel_dev_row());
    assert!(s.rx_packets >= 6 && s.tx_packets >= 6);
    assert_eq!((s.rx_errs, s.tx_errs, s.rx_drop, s.tx_drop), (0, 0, 0, 0));

    // With the kernel side down, TUN writes fail (EIO): counted as tx_errs, no panic.
    // A ping from 8.8.8.8 on a second NIC makes the stack answer through the TUN
    // (its default route), as Linux would.
    let (p, far) = sandnet::netstack::Link::pipe();
    let p1 = bed.stack.add_nic("p1", p).unwrap();
    bed.stack.add_address(p1, ip("10.5.0.2"), 24).unwrap();
    bed.ns.ip(&["link", "set", DEV, "down"]).unwrap();
    let errs = bed.stack.statistics().dev[&bed.ifindex].tx_errs;
    let request = ipv4(
        Ipv4Addr::new(8, 8, 8, 8),
        Ipv4Addr::new(10, 5, 0, 2),
        1,
        &icmpv4_echo_request(3, 3, b"x"),
    );
    far.send(&request).unwrap();
    assert!(eventually(Duration::from_secs(5), || bed
        .stack
        .statistics()
        .dev[&bed.ifindex]
        .tx_errs
        == errs + 1));

    // Dropping the stack releases the device.
    let TunBed { stack, ns, .. } = bed;
    drop(stack);
    assert!(
        ns.ip(&["link", "show", DEV]).is_err(),
        "the TUN device is gone"
    );
}

#[test]
fn malformed_packets_from_the_kernel_are_dropped_and_counted() {
    let _shared = shared();
    let Some(bed) = tun_bed("malformed_packets_from_the_kernel_are_dropped_and_counted") else {
        return;
    };
    let os_ifindex = bed.os_ifindex;
    let raw = bed.ns.run(move || PacketSocket::open(os_ifindex)).unwrap();
    let (k4, s4) = (
        KERNEL_V4.parse::<Ipv4Addr>().unwrap(),
        STACK_V4.parse::<Ipv4Addr>().unwrap(),
    );
    let (k6, s6) = (
        KERNEL_V6.parse::<Ipv6Addr>().unwrap(),
        STACK_V6.parse::<Ipv6Addr>().unwrap(),
    );
    let before = bed.stack.statistics();
    let rx_before = before.dev[&bed.ifindex].rx_packets;

    let good = ipv4(k4, s4, 1, &icmpv4_echo_request(7, 1, b"payload"));
    let mut sent = 0;
    let mut send = |p: &[u8], v6: bool| {
        raw.send(p, v6).unwrap();
        sent += 1;
    };
    // Shorter than an IPv4 header: InHdrErrors.
    send(&good[..12], false);
    // Version 5 where IPv4 was announced: InHdrErrors.
    let mut wrong_version = good.clone();
    wrong_version[0] = 0x55;
    send(&wrong_version, false);
    // Header checksum wrong: InCsumErrors and InHdrErrors.
    let mut bad_csum = good.clone();
    bad_csum[10] ^= 0xff;
    send(&bad_csum, false);
    // Total length past the end of the packet: InTruncatedPkts (ip_rcv_core).
    let mut long = good.clone();
    let total = u16::from_be_bytes([long[2], long[3]]) + 10;
    long[2..4].copy_from_slice(&total.to_be_bytes());
    long[10..12].copy_from_slice(&[0, 0]);
    let c = checksum(&[&long[..20]]);
    long[10..12].copy_from_slice(&c.to_be_bytes());
    send(&long, false);
    // ICMP checksum wrong: Icmp InMsgs, InCsumErrors, InErrors.
    let mut icmp = icmpv4_echo_request(7, 2, b"payload");
    icmp[2] ^= 0xff;
    send(&ipv4(k4, s4, 1, &icmp), false);
    // UDP checksum wrong: Udp InCsumErrors, InErrors.
    let mut udp = udp_v4(k4, s4, 5000, 53, b"query");
    udp[6] ^= 0xff;
    send(&ipv4(k4, s4, 17, &udp), false);
    // IPv6 shorter than its header: Ip6InHdrErrors.
    let good6 = ipv6(k6, s6, 58, &icmpv6_echo_request(k6, s6, 7, 1, b"payload"));
    send(&good6[..30], true);
    // IPv6 payload length past the end: Ip6InTruncatedPkts.
    let mut long6 = good6.clone();
    long6[5] += 10;
    send(&long6, true);
    // ICMPv6 checksum wrong: Icmp6InCsumErrors, Icmp6InErrors.
    let mut bad6 = good6.clone();
    bad6[42] ^= 0xff;
    send(&bad6, true);

    let all_read = eventually(Duration::from_secs(5), || {
        bed.stack.statistics().dev[&bed.ifindex].rx_packets >= rx_before + sent
    });
    assert!(all_read, "the stack read all {sent} packets");
    let after = bed.stack.statistics();
    let d = |f: fn(&sandnet::netstack::Statistics) -> u64| f(&after) - f(&before);
    assert_eq!(d(|s| s.snmp.ip.InHdrErrors), 3);
    assert_eq!(d(|s| s.snmp.ip_ext.InCsumErrors), 1);
    assert_eq!(d(|s| s.snmp.ip_ext.InTruncatedPkts), 1);
    assert_eq!(d(|s| s.snmp.icmp.InCsumErrors), 1);
    assert_eq!(d(|s| s.snmp.icmp.InErrors), 1);
    assert_eq!(d(|s| s.snmp.udp.InCsumErrors), 1);
    assert_eq!(d(|s| s.snmp.udp.InErrors), 1);
    assert_eq!(
        d(|s| s.snmp.udp.NoPorts),
        0,
        "a corrupt datagram is no NoPorts"
    );
    assert_eq!(d(|s| s.snmp6.ip6.Ip6InHdrErrors), 1);
    assert_eq!(d(|s| s.snmp6.ip6.Ip6InTruncatedPkts), 1);
    assert_eq!(d(|s| s.snmp6.icmp6.Icmp6InCsumErrors), 1);
    assert_eq!(d(|s| s.snmp6.icmp6.Icmp6InErrors), 1);
    assert_eq!(
        d(|s| s.snmp.icmp.OutMsgs),
        0,
        "nothing malformed was answered"
    );

    // And the stack still serves.
    let sock = bed.kernel_ping_socket(false);
    sock.send_to(
        &icmpv4_echo_request(0, 9, b"still there?"),
        SocketAddr::new(ip(STACK_V4), 0),
    )
    .unwrap();
    let mut buf = [0u8; 256];
    let (n, _) = sock.recv_from(&mut buf).expect("a reply after the garbage");
    assert_eq!(&buf[8..n], b"still there?");
}

/// The poll thread waits in poll(2) on a stack's TUN device, and on a pipe's
/// bell too once a pipe joins it: every change of the set of links keeps
/// traffic flowing on every link (kernel pings over the TUN, a peer stack's
/// pings over the pipe), and the TCP timers keep running.
#[test]
fn traffic_flows_across_poll_mode_switches() {
    let _shared = shared();
    use sandnet::netstack::{Link, PingSocket, Stack, TcpListener};
    let Some(bed) = tun_bed("traffic_flows_across_poll_mode_switches") else {
        return;
    };
    let ping_from_kernel = |round: u16| {
        let sock = bed.kernel_ping_socket(false);
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        sock.send_to(
            &icmpv4_echo_request(0, round, b"k"),
            SocketAddr::new(ip(STACK_V4), 0),
        )
        .unwrap();
        let mut buf = [0u8; 64];
        let (n, _) = sock
            .recv_from(&mut buf)
            .unwrap_or_else(|e| panic!("round {round}: no echo reply over the TUN: {e}"));
        assert_eq!((buf[0], &buf[8..n]), (0, &b"k"[..]));
    };
    ping_from_kernel(1);

    let (ours, theirs) = Link::pipe();
    let pipe = bed.stack.add_nic("p0", ours).unwrap();
    bed.stack
        .add_address(pipe, "10.77.0.1".parse().unwrap(), 24)
        .unwrap();
    let peer = Stack::new().unwrap();
    let p = peer.add_nic("p0", theirs).unwrap();
    peer.add_address(p, "10.77.0.2".parse().unwrap(), 24)
        .unwrap();
    let ping = PingSocket::new(&peer, false).unwrap();
    ping.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    ping.send_to(&icmpv4_echo_request(0, 7, b"p"), ip("10.77.0.1"))
        .unwrap();
    let mut buf = [0u8; 64];
    let (n, _) = ping
        .recv_from(&mut buf)
        .expect("an echo reply over the pipe");
    assert_eq!(&buf[8..n], b"p");
    ping_from_kernel(2);

    bed.stack.remove_nic(pipe).unwrap();
    ping_from_kernel(3);

    // A connection from the kernel, served while the thread waits in poll(2):
    // the handshake, data both ways and the close all need it to wake.
    let listener = TcpListener::bind(&bed.stack, SocketAddr::new(ip(STACK_V4), 7070)).unwrap();
    let mut k = bed
        .kernel_connect(SocketAddr::new(ip(STACK_V4), 7070))
        .unwrap();
    let (mut c, _) = listener.accept().unwrap();
    use std::io::{Read, Write};
    k.write_all(b"over the TUN").unwrap();
    let mut got = [0u8; 12];
    c.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"over the TUN");
    c.write_all(b"back").unwrap();
    drop(c);
    let mut back = Vec::new();
    k.read_to_end(&mut back).unwrap();
    assert_eq!(back, b"back");
}

#[test]
fn removing_a_busy_tun_nic_releases_its_device_at_once() {
    let _alone = ALONE.write().unwrap_or_else(|e| e.into_inner());
    let Some(bed) = tun_bed("removing_a_busy_tun_nic_releases_its_device_at_once") else {
        return;
    };
    // The kernel pings without pause, so the stack's rounds keep writing
    // echo replies to the device (after releasing the stack's lock) as the
    // NIC goes: the device must not outlive remove_nic.
    let sock = bed.kernel_ping_socket(false);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let pinger = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let to = SocketAddr::new(ip(STACK_V4), 0);
            let mut seq = 0u16;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                seq = seq.wrapping_add(1);
                let _ = sock.send_to(&icmpv4_echo_request(0, seq, b"busy"), to);
            }
        })
    };
    assert!(eventually(Duration::from_secs(5), || bed
        .stack
        .statistics()
        .dev[&bed.ifindex]
        .tx_packets
        >= 1000));
    bed.stack.remove_nic(bed.ifindex).unwrap();
    // Asked at once from inside the namespace (`ip` would take milliseconds).
    let gone = bed
        .ns
        .run(|| sandnet::netstack::os::if_nametoindex(DEV))
        .is_err();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    pinger.join().unwrap();
    assert!(gone, "the TUN device is gone when remove_nic returns");
}
