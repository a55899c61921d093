//! A round takes at most a batch from each link: 64 packets, or from a
//! device (a TUN device, a pipe) the packet that brings it to 256 KiB
//! (poll.rs, `RX_BATCH_BYTES`), so that a round's packets are still in the
//! cache when their payloads are copied into the sockets. Counted on a stack
//! stepped by hand: each step is one round.

mod support;

use sandnet::netstack::{Limits, Link, Stack, UdpSocket};
use std::net::Ipv4Addr;
use support::packets::{ipv4, udp_v4};

const ME: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// A stack stepped by hand, a UDP socket on it that queues megabytes, and
/// the far end of its pipe.
fn bed() -> (Stack, UdpSocket, Link) {
    let stack = Stack::new_manual(1).unwrap();
    stack
        .set_limits(Limits {
            dgram_recv_buffer: 16 << 20,
            ..stack.limits()
        })
        .unwrap();
    let (ours, wire) = Link::pipe();
    let ifindex = stack.add_nic("p0", ours).unwrap();
    stack.set_mtu(ifindex, 65535).unwrap();
    stack.add_address(ifindex, ME.into(), 24).unwrap();
    let socket = UdpSocket::bind(&stack, (ME, 9).into()).unwrap();
    socket.set_nonblocking(true).unwrap();
    (stack, socket, wire)
}

/// Queues `count` UDP datagrams of `payload` bytes for the stack, then
/// steps it `steps` times: how many datagrams each round took in.
fn taken_per_round(payload: usize, count: usize, steps: usize) -> Vec<usize> {
    let (stack, socket, wire) = bed();
    let data = vec![0x5a; payload];
    for _ in 0..count {
        let packet = ipv4(PEER, ME, 17, &udp_v4(PEER, ME, 4000, 9, &data));
        wire.send(&packet).unwrap();
    }
    let mut buf = vec![0; 65536];
    let rounds = (0..steps)
        .map(|_| {
            stack.step();
            std::iter::from_fn(|| socket.recv(&mut buf).ok()).count()
        })
        .collect();
    assert_eq!(
        stack.statistics().snmp.udp.InDatagrams,
        count as u64,
        "none lost"
    );
    rounds
}

#[test]
fn a_round_takes_large_packets_up_to_256_kib() {
    // 60 000-byte datagrams are 60 028-byte packets: four make 240 112
    // bytes, and the fifth crosses 256 KiB.
    assert_eq!(taken_per_round(60_000, 12, 4), [5, 5, 2, 0]);
}

#[test]
fn a_round_takes_small_packets_up_to_64() {
    assert_eq!(taken_per_round(100, 150, 4), [64, 64, 22, 0]);
}

/// lo's packets are the stack's own, queued by its sends: a round takes
/// them by the packet count alone.
#[test]
fn a_round_takes_los_packets_without_a_byte_cap() {
    let (stack, _socket, _wire) = bed();
    let local = UdpSocket::bind(&stack, "127.0.0.1:9".parse().unwrap()).unwrap();
    local.set_nonblocking(true).unwrap();
    let from = UdpSocket::bind(&stack, "127.0.0.1:0".parse().unwrap()).unwrap();
    from.set_nonblocking(true).unwrap();
    let data = vec![0x5a; 60_000];
    let sent = (0..12)
        .take_while(|_| from.send_to(&data, "127.0.0.1:9".parse().unwrap()).is_ok())
        .count();
    let mut buf = vec![0; 65536];
    let rounds: Vec<usize> = (0..3)
        .map(|_| {
            stack.step();
            std::iter::from_fn(|| local.recv(&mut buf).ok()).count()
        })
        .collect();
    assert_eq!(sent, 12);
    assert_eq!(rounds, [12, 0, 0], "datagrams taken per round over lo");
}
