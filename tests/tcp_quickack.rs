//! When a connection's ACKs go out. At its start every segment is ACKed at
//! once (Linux's quickack); once the program has read 16 segments' worth,
//! a lone segment's ACK is delayed again; after the connection was idle it
//! starts over, as Linux's does, unless its program answers what it reads
//! (pingpong): then ACKs ride on the answers. The test is the peer, by hand, on
//! a pipe, and runs the stack's rounds itself on a clock of its own: whether
//! an ACK is on the wire after the round that took a segment in says whether
//! it waited.

mod support;

use sandnet::netstack::{Link, Stack, TcpListener, TcpStream};
use std::io::{Read, Write};
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
    let mut bed = Bed::new();
    // Segments are ACKed in the round that takes them in, until the program
    // has read 16 segments' worth.
    for segment in 1..=QUICK_SEGMENTS {
        assert!(bed.segment_acked_at_once(), "segment {segment} waited");
    }
    // Then a lone segment's ACK waits for the ACK delay, 10 ms.
    assert!(!bed.segment_acked_at_once(), "ACKed at once after quickack");
    bed.stack.advance_clock(9_000);
    assert!(
        !acked_in_round(&bed.stack, &bed.wire, bed.seq),
        "ACKed before the delay"
    );
    bed.stack.advance_clock(1_000);
    assert!(
        acked_in_round(&bed.stack, &bed.wire, bed.seq),
        "ACKed after the delay"
    );
}

/// A connection accepted from a peer played by hand.
struct Bed {
    stack: Stack,
    wire: Link,
    conn: TcpStream,
    seq: u32,
    ack: u32,
}

impl Bed {
    fn new() -> Bed {
        let stack = Stack::new_manual(1).unwrap();
        let (ours, wire) = Link::pipe();
        let ifindex = stack.add_nic("p0", ours).unwrap();
        stack.set_mtu(ifindex, 65535).unwrap();
        stack.add_address(ifindex, ME.into(), 24).unwrap();
        let listener = TcpListener::bind(&stack, (ME, PORTS.1).into()).unwrap();
        listener.set_nonblocking(true).unwrap();
        // SYN with MSS 65495 and window scale 7: the stack scales its
        // window only when the peer does too, as Linux.
        let options = [2, 4, 0xff, 0xd7, 1, 3, 3, 7];
        let ack = syn_ack(&stack, &wire, (PEER, ME), PORTS, 1000, &options);
        let handshake = tcp_v4(PEER, ME, PORTS, (1001, ack), ACK, 65535, &[], &[]);
        wire.send(&ipv4(PEER, ME, 6, &handshake)).unwrap();
        stack.step();
        let (conn, _) = listener.accept().unwrap();
        conn.set_nonblocking(true).unwrap();
        Bed {
            stack,
            wire,
            conn,
            seq: 1001,
            ack,
        }
    }

    /// Sends 1000 bytes, runs one round, reads what arrived; returns
    /// whether the round ACKed the segment.
    fn segment_acked_at_once(&mut self) -> bool {
        let tcp = tcp_v4(
            PEER,
            ME,
            PORTS,
            (self.seq, self.ack),
            PSH_ACK,
            65535,
            &[],
            &[7u8; 1000],
        );
        self.wire.send(&ipv4(PEER, ME, 6, &tcp)).unwrap();
        self.seq += 1000;
        let acked = acked_in_round(&self.stack, &self.wire, self.seq);
        let mut buf = [0u8; 4096];
        assert_eq!(self.conn.read(&mut buf).unwrap(), 1000);
        acked
    }

    /// The program answers: 5 bytes, which the peer's next segment ACKs.
    fn answer(&mut self) {
        self.conn.write_all(b"reply").unwrap();
        self.ack += 5;
    }

    /// Whether the round now sends an ACK of everything received, with the
    /// answer or alone.
    fn acked_now(&self) -> bool {
        acked_in_round(&self.stack, &self.wire, self.seq)
    }

    /// The pingpong bit of the connection's /proc/net/tcp row.
    fn pingpong_shown(&self) -> bool {
        let rows = self.stack.sockets();
        let row = rows
            .iter()
            .find(|r| r.remote.port() == PORTS.0)
            .expect("the connection's row");
        row.tcp.as_ref().unwrap().quick_pingpong & 1 == 1
    }

    /// Sends segments until one waits for its ACK: returns how many were
    /// ACKed at once first. Lets the delayed ACK go out after.
    fn quickack_run(&mut self) -> usize {
        let mut at_once = 0;
        while self.segment_acked_at_once() {
            at_once += 1;
            assert!(at_once < 100, "every segment ACKed at once");
        }
        self.stack.advance_clock(10_000);
        assert!(acked_in_round(&self.stack, &self.wire, self.seq));
        at_once
    }
}

/// 16 segments' worth at 1000 bytes each.
const QUICK_SEGMENTS: usize = (16 * 1460usize).div_ceil(1000);

#[test]
fn quickack_again_after_the_stack_was_idle() {
    let mut bed = Bed::new();
    assert_eq!(bed.quickack_run(), QUICK_SEGMENTS);
    // A gap shorter than the retransmission timeout's floor changes nothing.
    bed.stack.advance_clock(150_000);
    assert_eq!(bed.quickack_run(), 0);
    // After a longer one, with no round at all meanwhile, the connection
    // starts over: 16 segments' worth ACKed at once.
    bed.stack.advance_clock(250_000);
    assert_eq!(bed.quickack_run(), QUICK_SEGMENTS);
    assert_eq!(bed.quickack_run(), 0);
}

#[test]
fn quickack_again_after_the_connection_was_parked() {
    let mut bed = Bed::new();
    assert_eq!(bed.quickack_run(), QUICK_SEGMENTS);
    // The stack keeps running rounds (another connection's traffic, say)
    // while this one rests: it is parked. Data after a short rest is
    // ACKed as before...
    let rest = |bed: &Bed, rounds| {
        for _ in 0..rounds {
            bed.stack.advance_clock(30_000);
            bed.stack.step();
        }
        assert_eq!(bed.stack.parked_connections(), 1);
    };
    rest(&bed, 4);
    assert_eq!(bed.quickack_run(), 0);
    // ...and after one longer than 200 ms in the park, it starts over.
    rest(&bed, 10);
    assert_eq!(bed.quickack_run(), QUICK_SEGMENTS);
    assert_eq!(bed.quickack_run(), 0);
}

#[test]
fn a_connection_that_answers_lets_its_acks_ride_on_the_answers() {
    let mut bed = Bed::new();
    // The first request is ACKed at once (quickack at the start); the
    // program answers it: pingpong, as Linux's.
    assert!(bed.segment_acked_at_once());
    assert!(!bed.pingpong_shown());
    bed.answer();
    assert!(bed.pingpong_shown(), "/proc/net/tcp does not show pingpong");
    // The next request's ACK waits, and goes with the answer.
    assert!(!bed.segment_acked_at_once(), "ACKed alone while answering");
    bed.answer();
    assert!(bed.acked_now(), "the answer did not carry the ACK");
    // A rest does not bring quickack back while it answers.
    bed.stack.advance_clock(250_000);
    assert!(!bed.segment_acked_at_once(), "ACKed alone after a rest");
    bed.answer();
    assert!(bed.acked_now());
    // It stops answering (two reads without a write): the delayed ACKs go
    // alone, and after a rest quickack is back.
    for _ in 0..2 {
        assert!(!bed.segment_acked_at_once());
        bed.stack.advance_clock(10_000);
        assert!(bed.acked_now(), "no delayed ACK");
    }
    assert!(!bed.pingpong_shown());
    bed.stack.advance_clock(250_000);
    assert_eq!(bed.quickack_run(), QUICK_SEGMENTS);
}
