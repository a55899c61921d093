//! When a connection's ACKs go out. At its start every segment is ACKed at
//! once (Linux's quickack); once the program has read 16 segments' worth,
//! a lone segment's ACK is delayed again. The test is the peer, by hand, on
//! a pipe, and runs the stack's rounds itself on a clock of its own: whether
//! an ACK is on the wire after the round that took a segment in says whether
//! it waited.

mod support;

use sandnet::netstack::{Link, Stack, TcpListener};
use std::io::Read;
use std::net::Ipv4Addr;
use support::handshake::syn_ack;
use support::packets::*;

const ME: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const PORTS: (u16, u16) = (40000, 80);
const ACK: u8 = 0x10;
const PSH_ACK: u8 = 0x18;

/// Runs one round and tells whether the stack sent an ACK of `acked`.
fn acked_in_round(stack: &Stack, wire: &Link, acked: u32) -> bool {
    stack.step();
    let mut seen = false;
    while let Some(p) = wire.try_recv() {
        if p[0] >> 4 == 4 && p[9] == 6 {
            let l4 = &p[usize::from(p[0] & 0x0f) * 4..];
            seen |= u32::from_be_bytes([l4[8], l4[9], l4[10], l4[11]]) == acked;
        }
    }
    seen
}

#[test]
fn segments_are_acked_at_once_until_the_program_has_read_sixteen() {
    let stack = Stack::new_manual(1).unwrap();
    let (ours, wire) = Link::pipe();
    let ifindex = stack.add_nic("p0", ours).unwrap();
    stack.set_mtu(ifindex, 65535).unwrap();
    stack.add_address(ifindex, ME.into(), 24).unwrap();
    let listener = TcpListener::bind(&stack, (ME, PORTS.1).into()).unwrap();
    listener.set_nonblocking(true).unwrap();

    // SYN with MSS 65495 and window scale 7: the stack scales its window
    // only when the peer does too, as Linux.
    let options = [2, 4, 0xff, 0xd7, 1, 3, 3, 7];
    let ack = syn_ack(&stack, &wire, (PEER, ME), PORTS, 1000, &options);
    let segment = |seq: u32, flags: u8, data: &[u8]| {
        let tcp = tcp_v4(PEER, ME, PORTS, (seq, ack), flags, 65535, &[], data);
        ipv4(PEER, ME, 6, &tcp)
    };
    let mut seq = 1001;
    wire.send(&segment(seq, ACK, &[])).unwrap();
    stack.step();
    let (mut conn, _) = listener.accept().unwrap();
    conn.set_nonblocking(true).unwrap();

    // Segments are ACKed in the round that takes them in, until the program
    // has read 16 segments' worth.
    let data = vec![7u8; 1000];
    let mut buf = vec![0u8; 64 << 10];
    let mut read = 0;
    let mut segments = 0;
    while read < 16 * 1460 {
        wire.send(&segment(seq, PSH_ACK, &data)).unwrap();
        seq += 1000;
        segments += 1;
        assert!(
            acked_in_round(&stack, &wire, seq),
            "segment {segments} waited"
        );
        read += conn.read(&mut buf).unwrap();
    }

    // Then a lone segment's ACK waits for the ACK delay, 10 ms.
    wire.send(&segment(seq, PSH_ACK, &data)).unwrap();
    seq += 1000;
    assert!(
        !acked_in_round(&stack, &wire, seq),
        "ACKed at once after quickack"
    );
    stack.advance_clock(9_000);
    assert!(
        !acked_in_round(&stack, &wire, seq),
        "ACKed before the delay"
    );
    stack.advance_clock(1_000);
    assert!(acked_in_round(&stack, &wire, seq), "ACKed after the delay");
}
