//! Congestion control: what a connection sends before its peer ACKs
//! anything. With a congestion controller (Cubic by default, as Linux) the
//! first flight is the initial congestion window, a segment or two, and it
//! grows as ACKs come back; without one, smoltcp as it ships, the first
//! flight is whatever the peer's window allows. The test is the peer, by
//! hand, on a pipe, with a window of megabytes, and runs the stack's rounds
//! itself on a clock that stands still (no retransmission timer fires).

mod support;

use sandnet::netstack::{CongestionControl, Link, Stack, TcpListener, TcpStream};
use std::io::Write;
use std::net::Ipv4Addr;
use support::handshake::syn_ack;
use support::packets::*;

const ME: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const PORTS: (u16, u16) = (40000, 80);
const ACK: u8 = 0x10;
const MSS: u32 = 1460;
/// Linux's initial window (RFC 6928), more than any controller starts with.
const IW10: u32 = 10 * MSS;
/// More than any first flight with a controller, far less than the peer's
/// window and the send buffer.
const WRITTEN: usize = 128 << 10;

/// The peer's end of one connection that the stack accepted.
struct Peer {
    stack: Stack,
    wire: Link,
    /// The stack's first sequence number of data.
    iss: u32,
    /// The peer's next sequence number.
    seq: u32,
}

impl Peer {
    /// Completes a handshake with `stack` as a peer that announces MSS 1460
    /// and a window of 65535 << 7 (8 MiB); returns the accepted connection.
    fn accepted(stack: Stack) -> (Peer, TcpStream) {
        let (ours, wire) = Link::pipe();
        let ifindex = stack.add_nic("p0", ours).unwrap();
        stack.add_address(ifindex, ME.into(), 24).unwrap();
        let listener = TcpListener::bind(&stack, (ME, PORTS.1).into()).unwrap();
        listener.set_nonblocking(true).unwrap();
        let options = [2, 4, (MSS >> 8) as u8, MSS as u8, 1, 3, 3, 7];
        let iss = syn_ack(&stack, &wire, (PEER, ME), PORTS, 1000, &options);
        let peer = Peer {
            stack,
            wire,
            iss,
            seq: 1001,
        };
        peer.ack(iss);
        let (conn, _) = listener.accept().unwrap();
        conn.set_nonblocking(true).unwrap();
        (peer, conn)
    }

    /// Sends an ACK of everything before `ack` and runs a round.
    fn ack(&self, ack: u32) {
        let tcp = tcp_v4(PEER, ME, PORTS, (self.seq, ack), ACK, 65535, &[], &[]);
        self.wire.send(&ipv4(PEER, ME, 6, &tcp)).unwrap();
        self.stack.step();
    }

    /// Runs rounds until the stack sends nothing more, and returns the end
    /// of the data it has sent, as a sequence number.
    fn flight(&self) -> u32 {
        let mut end = self.iss;
        for _ in 0..64 {
            self.stack.step();
            while let Some(p) = self.wire.try_recv() {
                if p[0] >> 4 != 4 || p[9] != 6 {
                    continue;
                }
                let ihl = usize::from(p[0] & 0x0f) * 4;
                let l4 = &p[ihl..];
                let doff = usize::from(l4[12] >> 4) * 4;
                let len = (p.len() - ihl - doff) as u32;
                let seq = u32::from_be_bytes(l4[4..8].try_into().unwrap());
                end = end.max(seq.wrapping_add(len));
            }
        }
        end
    }
}

/// The first flight and the one after the peer ACKs all of it, in bytes.
fn two_flights(stack: Stack, set: Option<CongestionControl>) -> (u32, u32) {
    let (peer, mut conn) = Peer::accepted(stack);
    if let Some(cc) = set {
        conn.set_congestion_control(cc).unwrap();
        assert_eq!(conn.congestion_control().unwrap(), cc);
    }
    assert_eq!(conn.write(&vec![1u8; WRITTEN]).unwrap(), WRITTEN);
    let first = peer.flight();
    peer.ack(first);
    let second = peer.flight();
    (first - peer.iss, second - first)
}

/// The whole write, but for the partial segment at its end that Nagle's
/// algorithm holds while data is unacknowledged.
fn full(flight: u32) -> bool {
    WRITTEN - (flight as usize) < MSS as usize
}

/// A first flight held to a congestion window, and a second one larger.
fn slow_start(name: &str, (first, second): (u32, u32)) {
    println!("{name}: {first} then {second} bytes");
    assert!(
        first > 0 && first <= IW10,
        "{name}: first flight of {first} bytes, not held to a congestion window"
    );
    assert!(
        second > first,
        "{name}: no growth after an ACK: {first} then {second}"
    );
}

#[test]
fn cubic_by_default_and_reno_start_small_and_grow_with_acks() {
    let stack = Stack::new_manual(1).unwrap();
    assert_eq!(stack.tcp_congestion_control(), CongestionControl::Cubic);
    slow_start("cubic", two_flights(stack, None));
    let stack = Stack::new_manual(1).unwrap();
    stack.set_tcp_congestion_control(CongestionControl::Reno);
    slow_start("reno", two_flights(stack, None));
}

#[test]
fn without_congestion_control_the_peers_window_is_the_limit() {
    let stack = Stack::new_manual(1).unwrap();
    stack.set_tcp_congestion_control(CongestionControl::None);
    let (first, _) = two_flights(stack, None);
    assert!(full(first), "first flight of {first} bytes");
}

#[test]
fn one_connection_can_choose_its_own() {
    let stack = Stack::new_manual(1).unwrap();
    let (first, _) = two_flights(stack.clone(), Some(CongestionControl::None));
    assert!(full(first), "first flight of {first} bytes");
    assert_eq!(stack.tcp_congestion_control(), CongestionControl::Cubic);
}
