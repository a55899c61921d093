//! The few header fields the stack reads itself, to route and to count.
//! Everything is bounds-checked: a short or odd packet yields `None`.

use smoltcp::wire::{checksum, IpProtocol};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const PROTO_ICMP: u8 = 1;
pub const PROTO_IGMP: u8 = 2;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_ICMPV6: u8 = 58;
const V6_HOP_BY_HOP: u8 = 0;
const V6_ROUTING: u8 = 43;
const V6_FRAGMENT: u8 = 44;
const V6_DEST_OPTS: u8 = 60;

/// An IP packet's addresses, upper-layer protocol, and where its payload lies.
#[derive(Clone, Copy, Debug)]
pub struct IpView {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    pub payload_start: usize,
    pub payload_end: usize,
    /// A fragment (IPv4 MF or offset; IPv6 fragment header).
    pub fragment: bool,
    /// The IPv4 TTL or IPv6 hop limit the packet arrived with.
    pub ttl: u8,
}

pub fn ipv4_addrs(p: &[u8]) -> (Ipv4Addr, Ipv4Addr) {
    (
        Ipv4Addr::new(p[12], p[13], p[14], p[15]),
        Ipv4Addr::new(p[16], p[17], p[18], p[19]),
    )
}

pub fn ipv6_addrs(p: &[u8]) -> (Ipv6Addr, Ipv6Addr) {
    let a = |o: usize| Ipv6Addr::from(<[u8; 16]>::try_from(&p[o..o + 16]).expect("16 bytes"));
    (a(8), a(24))
}

/// Parses a packet whose IP header was already validated (or that the stack built).
pub fn view(p: &[u8]) -> Option<IpView> {
    match p.first()? >> 4 {
        4 if p.len() >= 20 => {
            let ihl = usize::from(p[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([p[2], p[3]])).min(p.len());
            if ihl < 20 || total < ihl {
                return None;
            }
            let (src, dst) = ipv4_addrs(p);
            let frag = u16::from_be_bytes([p[6], p[7]]);
            Some(IpView {
                src: src.into(),
                dst: dst.into(),
                proto: p[9],
                payload_start: ihl,
                payload_end: total,
                fragment: frag & 0x3fff != 0,
                ttl: p[8],
            })
        }
        6 if p.len() >= 40 => {
            let end = (40 + usize::from(u16::from_be_bytes([p[4], p[5]]))).min(p.len());
            let (src, dst) = ipv6_addrs(p);
            let (mut next, mut off, mut fragment) = (p[6], 40usize, false);
            // Walk the extension headers to the upper layer.
            loop {
                match next {
                    V6_HOP_BY_HOP | V6_ROUTING | V6_DEST_OPTS => {
                        let h = p.get(off..off + 2)?;
                        next = h[0];
                        off += (usize::from(h[1]) + 1) * 8;
                    }
                    V6_FRAGMENT => {
                        next = *p.get(off)?;
                        off += 8;
                        fragment = true;
                    }
                    _ => break,
                }
                if off > end {
                    return None;
                }
            }
            Some(IpView {
                src: src.into(),
                dst: dst.into(),
                proto: next,
                payload_start: off,
                payload_end: end,
                fragment,
                ttl: p[7],
            })
        }
        _ => None,
    }
}

/// The sum of an upper-layer pseudo-header for `len` bytes of `v.proto`.
fn pseudo_sum(v: &IpView, len: usize) -> u16 {
    checksum::pseudo_header(
        &v.src.into(),
        &v.dst.into(),
        IpProtocol::from(v.proto),
        len as u32,
    )
}

/// RFC 1071 check of an upper-layer checksum with its pseudo-header.
pub fn l4_checksum_ok(v: &IpView, payload: &[u8]) -> bool {
    checksum::combine(&[pseudo_sum(v, payload.len()), checksum::data(payload)]) == 0xffff
}

/// Where a TCP or UDP checksum lies within its header.
pub fn l4_checksum_offset(proto: u8) -> Option<usize> {
    match proto {
        PROTO_TCP => Some(16),
        PROTO_UDP => Some(6),
        _ => None,
    }
}

/// Writes a TCP or UDP packet's checksum over its pseudo-header, header and
/// payload; other packets are left as they are. The stack does this per
/// NIC on output (smoltcp computes none), so that a NIC which needs no
/// checksum (lo) or completes it itself (an offloading TUN) costs no pass
/// over the data.
pub fn fill_l4_checksum(packet: &mut [u8], v: &IpView) {
    let Some(at) = l4_checksum_offset(v.proto) else {
        return;
    };
    let Some(seg) = packet.get_mut(v.payload_start..v.payload_end) else {
        return;
    };
    if seg.len() < at + 2 {
        return;
    }
    seg[at..at + 2].fill(0);
    let mut c = !checksum::combine(&[pseudo_sum(v, seg.len()), checksum::data(seg)]);
    if c == 0 && v.proto == PROTO_UDP {
        // A zero UDP checksum means "none" (RFC 768); all ones is the same sum.
        c = 0xffff;
    }
    seg[at..at + 2].copy_from_slice(&c.to_be_bytes());
}

/// Writes only the pseudo-header's sum into a TCP or UDP checksum, for a
/// device that completes it over the rest (Linux's CHECKSUM_PARTIAL, a
/// virtio header's NEEDS_CSUM). Returns where the checksum lies from the
/// packet's start, or None for another protocol or a short packet.
pub fn fill_pseudo_checksum(packet: &mut [u8], v: &IpView) -> Option<usize> {
    let at = l4_checksum_offset(v.proto)?;
    let seg = packet.get_mut(v.payload_start..v.payload_end)?;
    if seg.len() < at + 2 {
        return None;
    }
    let pseudo = pseudo_sum(v, seg.len());
    seg[at..at + 2].copy_from_slice(&pseudo.to_be_bytes());
    Some(v.payload_start + at)
}

/// Sets an IP packet's length field to its length, and refreshes an IPv4
/// header's checksum (the header without options): for a packet the stack
/// cut or joined itself.
pub fn set_ip_length(p: &mut [u8], v4: bool) {
    let len = p.len();
    if v4 {
        p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        p[10..12].fill(0);
        let c = !checksum::data(&p[..usize::from(p[0] & 0x0f) * 4]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
    } else {
        p[4..6].copy_from_slice(&((len - 40) as u16).to_be_bytes());
    }
}

/// RFC 1071 check of a checksum that covers `data` alone (IPv4 header, ICMPv4).
pub fn plain_checksum_ok(data: &[u8]) -> bool {
    checksum::data(data) == 0xffff
}

/// Lowers the MSS option of a TCP SYN to at most `max`; returns whether it
/// changed anything. smoltcp sees one interface for every NIC, so the stack
/// clamps the MSS to each NIC's MTU here, as Linux derives it from the
/// route's. The checksum is left stale: on the way in it was verified
/// already and smoltcp checks none, and on the way out egress writes it
/// afterwards (or lo needs none).
pub fn clamp_mss(packet: &mut [u8], v: &IpView, max: u16) -> bool {
    let Some(seg) = packet.get_mut(v.payload_start..v.payload_end) else {
        return false;
    };
    if seg.len() < 20 || seg[13] & 0x02 == 0 {
        return false;
    }
    let doff = usize::from(seg[12] >> 4) * 4;
    if doff < 20 || doff > seg.len() {
        return false;
    }
    let mut i = 20;
    while i < doff {
        match seg[i] {
            0 => break,
            1 => i += 1,
            kind => {
                let Some(&len) = seg.get(i + 1) else { break };
                let len = usize::from(len);
                if len < 2 || i + len > doff {
                    break;
                }
                if kind == 2 && len == 4 {
                    let mss = u16::from_be_bytes([seg[i + 2], seg[i + 3]]);
                    if mss <= max {
                        return false;
                    }
                    seg[i + 2..i + 4].copy_from_slice(&max.to_be_bytes());
                    return true;
                }
                i += len;
            }
        }
    }
    false
}

/// The largest MSS a NIC's MTU allows for IPv4 or IPv6.
pub fn mss_for(mtu: u32, v4: bool) -> u16 {
    let headers = if v4 { 40 } else { 60 };
    mtu.saturating_sub(headers).min(u32::from(u16::MAX)) as u16
}

/// Hand-built packets for the unit tests of the modules that rewrite them.
#[cfg(test)]
pub(crate) mod testing {
    /// An IPv4 TCP segment from 10.0.0.1:`sport` to 10.0.0.2:`dport`, IP id 7,
    /// with `flags`, a window of 1000 and `data`, its checksum left zero.
    pub fn tcp_v4(sport: u16, dport: u16, seq: u32, flags: u8, data: &[u8]) -> Vec<u8> {
        let mut p = vec![0u8; 40];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&((40 + data.len()) as u16).to_be_bytes());
        p[4..6].copy_from_slice(&7u16.to_be_bytes());
        p[8] = 64;
        p[9] = super::PROTO_TCP;
        p[12..16].copy_from_slice(&[10, 0, 0, 1]);
        p[16..20].copy_from_slice(&[10, 0, 0, 2]);
        p[20..22].copy_from_slice(&sport.to_be_bytes());
        p[22..24].copy_from_slice(&dport.to_be_bytes());
        p[24..28].copy_from_slice(&seq.to_be_bytes());
        p[32] = 5 << 4;
        p[33] = flags;
        p[34..36].copy_from_slice(&1000u16.to_be_bytes());
        p.extend_from_slice(data);
        p
    }
}
