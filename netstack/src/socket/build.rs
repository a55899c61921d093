//! IP packets the stack's own datagram sockets send: IPv4 or IPv6 header,
//! then a UDP datagram (its checksum written by egress) or an ICMP message
//! (its checksum filled in here).

use crate::wire::{PROTO_ICMP, PROTO_ICMPV6, PROTO_UDP};
use smoltcp::wire::{checksum, IpProtocol};
use std::net::{IpAddr, SocketAddr};

/// Linux's default TTL and hop limit.
const TTL: u8 = 64;

/// A packet buffer holding the IP header for `l4_len` bytes of `proto`,
/// with room for them: each datagram is written once, into its packet. The
/// buffer is the packet pool's, back in it once the packet is sent.
fn ip_header(src: IpAddr, dst: IpAddr, proto: u8, l4_len: usize, id: u16) -> Vec<u8> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut h = crate::link::pool::empty(20 + l4_len);
            h.resize(20, 0);
            h[0] = 0x45;
            h[2..4].copy_from_slice(&((20 + l4_len) as u16).to_be_bytes());
            h[4..6].copy_from_slice(&id.to_be_bytes());
            // DF: sandnet never fragments (IP_PMTUDISC_DO).
            h[6] = 0x40;
            h[8] = TTL;
            h[9] = proto;
            h[12..16].copy_from_slice(&s.octets());
            h[16..20].copy_from_slice(&d.octets());
            let c = !checksum::data(&h);
            h[10..12].copy_from_slice(&c.to_be_bytes());
            h
        }
        // Callers pass one family; a stray IPv4 side is written mapped, never panics.
        (s, d) => {
            let v6 = |a: IpAddr| match a {
                IpAddr::V4(a) => a.to_ipv6_mapped(),
                IpAddr::V6(a) => a,
            };
            let mut h = crate::link::pool::empty(40 + l4_len);
            h.resize(40, 0);
            h[0] = 0x60;
            h[4..6].copy_from_slice(&(l4_len as u16).to_be_bytes());
            h[6] = proto;
            h[7] = TTL;
            h[8..24].copy_from_slice(&v6(s).octets());
            h[24..40].copy_from_slice(&v6(d).octets());
            h
        }
    }
}

fn l4_checksum(src: IpAddr, dst: IpAddr, proto: u8, segment: &[u8]) -> u16 {
    let pseudo = checksum::pseudo_header(
        &src.into(),
        &dst.into(),
        IpProtocol::from(proto),
        segment.len() as u32,
    );
    !checksum::combine(&[pseudo, checksum::data(segment)])
}

/// The largest payload one IP packet carries for a UDP datagram.
pub fn max_udp_payload(v4: bool) -> usize {
    if v4 {
        65535 - 20 - 8
    } else {
        65535 - 8
    }
}

/// A UDP datagram, its checksum left zero: egress writes it per NIC, as
/// for smoltcp's packets (none on lo, the pseudo-header's sum for an
/// offloading TUN device, the whole sum elsewhere).
pub fn udp(src: SocketAddr, dst: SocketAddr, payload: &[u8], id: u16) -> Vec<u8> {
    let len = 8 + payload.len();
    let mut p = ip_header(src.ip(), dst.ip(), PROTO_UDP, len, id);
    p.extend_from_slice(&src.port().to_be_bytes());
    p.extend_from_slice(&dst.port().to_be_bytes());
    p.extend_from_slice(&(len as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    p
}

/// An ICMP or ICMPv6 echo request whose header the caller wrote, sent with
/// `ident`; the checksum is computed here (with the pseudo-header for ICMPv6).
pub fn icmp_echo(src: IpAddr, dst: IpAddr, message: &[u8], ident: u16, id: u16) -> Vec<u8> {
    let proto = if src.is_ipv4() {
        PROTO_ICMP
    } else {
        PROTO_ICMPV6
    };
    let mut p = ip_header(src, dst, proto, message.len(), id);
    let start = p.len();
    p.extend_from_slice(message);
    let m = &mut p[start..];
    m[2..4].copy_from_slice(&[0, 0]);
    m[4..6].copy_from_slice(&ident.to_be_bytes());
    let c = if proto == PROTO_ICMP {
        !checksum::data(m)
    } else {
        l4_checksum(src, dst, PROTO_ICMPV6, m)
    };
    m[2..4].copy_from_slice(&c.to_be_bytes());
    p
}
