//! The first half of a handshake played by hand against a stack whose rounds
//! the test runs (`Stack::new_manual`).
#![allow(dead_code)]

use super::packets::{ipv4, tcp_v4};
use sandnet::netstack::{Link, Stack};
use std::net::Ipv4Addr;

/// Sends a SYN from `peer` to `me` (sequence number `isn`, TCP options
/// `options`, window 65535) on `wire`, runs one round, and returns the
/// stack's first sequence number of data: its SYN-ACK's plus one.
pub fn syn_ack(
    stack: &Stack,
    wire: &Link,
    (peer, me): (Ipv4Addr, Ipv4Addr),
    ports: (u16, u16),
    isn: u32,
    options: &[u8],
) -> u32 {
    let syn = tcp_v4(peer, me, ports, (isn, 0), 0x02, 65535, options, &[]);
    wire.send(&ipv4(peer, me, 6, &syn)).unwrap();
    stack.step();
    let syn_ack = std::iter::from_fn(|| wire.try_recv())
        .find(|p| p[0] >> 4 == 4 && p[9] == 6 && p[20 + 13] & 0x12 == 0x12)
        .expect("a SYN-ACK");
    u32::from_be_bytes(syn_ack[24..28].try_into().unwrap()).wrapping_add(1)
}
