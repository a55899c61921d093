//! A ping socket reports the TTL (IPv4) or hop limit (IPv6) each echo reply
//! arrived with, as ping reads it with IP_RECVTTL / IPV6_RECVHOPLIMIT. The
//! test plays the peer on an in-memory link and answers with chosen values.

mod support;

use sandnet::netstack::{Link, PingSocket, Stack};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;
use support::packets::{checksum, ipv4, ipv6, pseudo_v6};

const OURS_V4: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 1);
const PEER_V4: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 2);
const OURS_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, 1);
const PEER_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, 2);

fn stack_and_wire() -> (Stack, Link) {
    let (ours, wire) = Link::pipe();
    let stack = Stack::new().unwrap();
    let ifindex = stack.add_nic("p0", ours).unwrap();
    stack.add_address(ifindex, OURS_V4.into(), 24).unwrap();
    stack.add_address(ifindex, OURS_V6.into(), 64).unwrap();
    (stack, wire)
}

/// The next ICMP echo request the stack puts on the
/// wire: its ICMP message.
fn next_request(wire: &Link, v6: bool) -> Vec<u8> {
    loop {
        let p = wire
            .recv_timeout(Duration::from_secs(5))
            .expect("an echo request on the wire");
        let (proto, start, request_type) = if v6 { (p[6], 40, 128) } else { (p[9], 20, 8) };
        if proto == if v6 { 58 } else { 1 } && p[start] == request_type {
            return p[start..].to_vec();
        }
    }
}

/// The reply to `request`: same ident, sequence and data, type changed.
fn reply_message(request: &[u8], reply_type: u8) -> Vec<u8> {
    let mut m = request.to_vec();
    m[0] = reply_type;
    m[2] = 0;
    m[3] = 0;
    m
}

#[test]
fn ipv4_echo_replies_carry_the_ttl_they_arrived_with() {
    let (stack, wire) = stack_and_wire();
    let ping = PingSocket::new(&stack, false).unwrap();
    ping.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for (seq, ttl) in [(1u16, 37u8), (2, 255), (3, 1)] {
        let mut m = vec![8, 0, 0, 0, 0, 0];
        m.extend_from_slice(&seq.to_be_bytes());
        m.extend_from_slice(b"ttl?");
        ping.send_to(&m, PEER_V4.into()).unwrap();
        let mut reply = reply_message(&next_request(&wire, false), 0);
        let c = checksum(&[&reply]);
        reply[2..4].copy_from_slice(&c.to_be_bytes());
        let mut packet = ipv4(PEER_V4, OURS_V4, 1, &reply);
        packet[8] = ttl;
        packet[10..12].copy_from_slice(&[0, 0]);
        let c = checksum(&[&packet[..20]]);
        packet[10..12].copy_from_slice(&c.to_be_bytes());
        wire.send(&packet).unwrap();
        let mut buf = [0u8; 64];
        let (n, from, got) = ping.recv_with_ttl(&mut buf).unwrap();
        assert_eq!((from, got), (IpAddr::V4(PEER_V4), ttl));
        assert_eq!(&buf[6..8], &seq.to_be_bytes());
        assert_eq!(&buf[8..n], b"ttl?");
    }
}

#[test]
fn ipv6_echo_replies_carry_the_hop_limit_they_arrived_with() {
    let (stack, wire) = stack_and_wire();
    let ping = PingSocket::new(&stack, true).unwrap();
    ping.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for (seq, hops) in [(1u16, 200u8), (2, 64)] {
        let mut m = vec![128, 0, 0, 0, 0, 0];
        m.extend_from_slice(&seq.to_be_bytes());
        ping.send_to(&m, PEER_V6.into()).unwrap();
        let mut reply = reply_message(&next_request(&wire, true), 129);
        let c = checksum(&[&pseudo_v6(PEER_V6, OURS_V6, 58, reply.len()), &reply]);
        reply[2..4].copy_from_slice(&c.to_be_bytes());
        let mut packet = ipv6(PEER_V6, OURS_V6, 58, &reply);
        packet[7] = hops;
        wire.send(&packet).unwrap();
        let mut buf = [0u8; 64];
        let (_, from, got) = ping.recv_with_ttl(&mut buf).unwrap();
        assert_eq!((from, got), (IpAddr::V6(PEER_V6), hops));
        assert_eq!(&buf[6..8], &seq.to_be_bytes());
    }
}
