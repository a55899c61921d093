//! A TUN device with offloads (the default): TCP crosses it in GSO packets
//! of up to 64 KiB at a 1500-byte MTU, in both directions, and the kernel
//! vouches for checksums. A peer that asks for a small MSS still gets its
//! data, merged (the segment sizes inside a GSO packet are tested in
//! link/coalesce.rs), a device without offloads carries nothing larger than
//! its MTU, and a segment whose route moved to a NIC with a smaller MTU is
//! cut to fit. Root only (see support/kernel.rs).

mod support;

use sandnet::netstack::{Link, RouteSpec, TcpListener, TcpStream};
use std::net::{Shutdown, SocketAddr};
use support::data::{recv_stream, send_stream};
use support::kernel::{ip, tun_bed_with, TunBed, KERNEL_V4, KERNEL_V6, STACK_V4, STACK_V6};

const BULK: usize = 8 << 20;

/// One transfer at a time: the kernel's receive backlog is shared (see
/// sockets_kernel.rs).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn sa(addr: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip(addr), port)
}

/// Average packet sizes the kernel saw on its side of the TUN: (from the
/// stack, to the stack), over what moved since `before`.
fn average_sizes(bed: &TunBed, before: &[u64]) -> (u64, u64) {
    let now = bed.kernel_dev_row();
    let d = |i: usize| now[i] - before[i];
    // /proc/net/dev: rx bytes, rx packets at 0 and 1; tx at 8 and 9.
    (d(0) / d(1).max(1), d(8) / d(9).max(1))
}

/// `BULK` bytes from the kernel to the stack, then back, on one connection
/// the stack accepted; returns the kernel's average packet sizes.
fn bulk_both_ways(bed: &TunBed, stack_addr: SocketAddr) -> (u64, u64) {
    let listener = TcpListener::bind(&bed.stack, stack_addr).unwrap();
    let before = bed.kernel_dev_row();
    let kernel = bed.kernel_connect(stack_addr).unwrap();
    let (conn, _) = listener.accept().unwrap();
    let sender = kernel.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let sent = send_stream(&sender, 7, BULK).unwrap();
        sender.shutdown(Shutdown::Write).unwrap();
        sent
    });
    let got = recv_stream(&conn).unwrap();
    assert_eq!(
        got,
        (BULK, sender.join().unwrap()),
        "kernel -> stack intact"
    );
    let conn = std::sync::Arc::new(conn);
    let sender = conn.clone();
    let sender = std::thread::spawn(move || {
        let sent = send_stream(&*sender, 8, BULK).unwrap();
        sender.shutdown(Shutdown::Write).unwrap();
        sent
    });
    let got = recv_stream(&kernel).unwrap();
    assert_eq!(
        got,
        (BULK, sender.join().unwrap()),
        "stack -> kernel intact"
    );
    average_sizes(bed, &before)
}

#[test]
fn tcp_crosses_an_offloading_tun_in_segments_larger_than_its_mtu() {
    let _serial = serial();
    let Some(bed) = tun_bed_with(
        "tcp_crosses_an_offloading_tun_in_segments_larger_than_its_mtu",
        true,
    ) else {
        return;
    };
    for (addr, port) in [(STACK_V4, 6001), (STACK_V6, 6002)] {
        let (from_stack, to_stack) = bulk_both_ways(&bed, sa(addr, port));
        // Each way, ACKs are about half the packets: full 1500-byte
        // packets alone would average well under 1500 bytes.
        assert!(
            from_stack > 3000,
            "{addr}: stack sent {from_stack} bytes a packet"
        );
        assert!(
            to_stack > 3000,
            "{addr}: kernel sent {to_stack} bytes a packet"
        );
    }
}

#[test]
fn a_peer_that_asks_for_a_small_mss_gets_its_data_merged() {
    let _serial = serial();
    let Some(bed) = tun_bed_with(
        "a_peer_that_asks_for_a_small_mss_gets_its_data_merged",
        true,
    ) else {
        return;
    };
    for (kernel_addr, v6) in [(KERNEL_V4, false), (KERNEL_V6, true)] {
        let addr = sa(kernel_addr, 6003);
        let listener = bed.kernel_socket(v6, socket2::Type::STREAM);
        listener.set_reuse_address(true).unwrap();
        // The MSS the kernel announces in its SYN-ACK.
        listener.set_mss(900).unwrap();
        listener.bind(&addr.into()).unwrap();
        listener.listen(1).unwrap();
        let listener: std::net::TcpListener = listener.into();
        let before = bed.kernel_dev_row();
        let client = TcpStream::connect(&bed.stack, addr).unwrap();
        let (kernel, _) = listener.accept().unwrap();
        let sender = std::thread::spawn(move || {
            let sent = send_stream(&client, 9, BULK).unwrap();
            client.shutdown(Shutdown::Write).unwrap();
            sent
        });
        let got = recv_stream(&kernel).unwrap();
        assert_eq!(got, (BULK, sender.join().unwrap()), "{kernel_addr}: intact");
        // Still merged: far fewer packets than 900-byte segments.
        let packets = (bed.kernel_dev_row()[1] - before[1]) as usize;
        assert!(packets < BULK / 900, "{kernel_addr}: {packets} packets");
    }
}

#[test]
fn a_tun_without_offloads_carries_nothing_larger_than_its_mtu() {
    let _serial = serial();
    let Some(bed) = tun_bed_with(
        "a_tun_without_offloads_carries_nothing_larger_than_its_mtu",
        false,
    ) else {
        return;
    };
    for (addr, port) in [(STACK_V4, 6004), (STACK_V6, 6005)] {
        let (from_stack, to_stack) = bulk_both_ways(&bed, sa(addr, port));
        assert!(
            from_stack <= 1500,
            "{addr}: stack sent {from_stack} bytes a packet"
        );
        assert!(
            to_stack <= 1500,
            "{addr}: kernel sent {to_stack} bytes a packet"
        );
    }
}

#[test]
fn segments_are_cut_in_software_when_their_route_moves_to_a_smaller_mtu() {
    let _serial = serial();
    let Some(bed) = tun_bed_with(
        "segments_are_cut_in_software_when_their_route_moves_to_a_smaller_mtu",
        true,
    ) else {
        return;
    };
    // A second device into the same namespace, without offloads, with the
    // smallest MTU IPv6 allows.
    const PLAIN: &str = "snp0";
    let link = bed
        .ns
        .run(|| Link::tun_without_offloads(PLAIN))
        .expect("a second TUN device");
    for args in [
        &["addr", "add", "10.19.0.1/24", "dev", PLAIN][..],
        &["-6", "addr", "add", "fd00:19::1/64", "dev", PLAIN, "nodad"],
        &["link", "set", PLAIN, "mtu", "1280", "up"],
    ] {
        bed.ns.ip(args).unwrap();
    }
    // The kernel takes its own address's packets on either device.
    bed.ns
        .run(|| {
            for f in ["all", "default", PLAIN] {
                std::fs::write(format!("/proc/sys/net/ipv4/conf/{f}/rp_filter"), "0")?;
            }
            Ok::<_, std::io::Error>(())
        })
        .unwrap();
    let plain = bed.stack.add_nic(PLAIN, link).unwrap();
    bed.stack.set_mtu(plain, 1280).unwrap();
    bed.stack.add_address(plain, ip("10.19.0.2"), 24).unwrap();
    bed.stack.add_address(plain, ip("fd00:19::2"), 64).unwrap();

    for (stack_addr, kernel_addr, port) in
        [(STACK_V4, KERNEL_V4, 6006), (STACK_V6, KERNEL_V6, 6007)]
    {
        let listener = TcpListener::bind(&bed.stack, sa(stack_addr, port)).unwrap();
        let kernel = bed.kernel_connect(sa(stack_addr, port)).unwrap();
        let (conn, _) = listener.accept().unwrap();
        // The connection's MSS came from the 1500-byte MTU of the
        // offloading device; its packets to the kernel now leave by the
        // plain one, whose MTU is smaller.
        let host = ip(kernel_addr);
        let spec = RouteSpec::new(host, if host.is_ipv4() { 32 } else { 128 }).dev(plain);
        bed.stack.add_route(spec.clone()).unwrap();
        let before = bed.kernel_dev_row_of(PLAIN);
        let sender = std::thread::spawn(move || {
            let sent = send_stream(&conn, 10, BULK).unwrap();
            conn.shutdown(Shutdown::Write).unwrap();
            sent
        });
        let got = recv_stream(&kernel).unwrap();
        assert_eq!(got, (BULK, sender.join().unwrap()), "{stack_addr}: intact");
        let now = bed.kernel_dev_row_of(PLAIN);
        let (bytes, packets) = (now[0] - before[0], now[1] - before[1]);
        assert!(
            bytes as usize >= BULK,
            "{stack_addr}: the data left by {PLAIN}"
        );
        assert!(
            bytes / packets <= 1280,
            "{stack_addr}: {bytes} bytes in {packets} packets"
        );
        bed.stack.remove_route(spec).unwrap();
    }
}
