//! Every packet smoltcp emits passes here: routed by the stack's own table to
//! a NIC (local destinations to `lo`, as Linux does), and counted as Linux
//! counts output.

use crate::inet::RouteType;
use crate::link::{vnet, Packet, VnetHdr};
use crate::state::{State, LOOPBACK_INDEX};
use crate::wire::{self, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};
use std::net::IpAddr;

pub(crate) fn send(state: &mut State, packet: Packet) {
    if let Some(dropped) = route_and_send(state, packet) {
        crate::link::pool::recycle(dropped);
    }
}

/// Hands the packet to a NIC, or gives it back when it goes nowhere.
fn route_and_send(state: &mut State, mut packet: Packet) -> Option<Packet> {
    let Some(v) = wire::view(&packet) else {
        return Some(packet);
    };
    let v4 = v.dst.is_ipv4();
    let Some(route) = state.routes.lookup(v.dst, state) else {
        if v4 {
            state.snmp.ip.OutNoRoutes += 1;
        } else {
            state.snmp6.ip6.Ip6OutNoRoutes += 1;
        }
        return Some(packet);
    };
    let oif = if route.kind == RouteType::Local {
        LOOPBACK_INDEX
    } else {
        route.oif
    };
    let (prefix_len, kind) = (route.prefix_len, route.kind);
    if !icmp_error_allowed(state, &v, &packet, oif, prefix_len) {
        return Some(packet);
    }
    let len = packet.len() as u64;
    // Whether a TCP segment is cut to the NIC's MTU (by an offloading
    // device, or here), and into how many: decided before counting, as
    // Linux counts each of them.
    let tso = state
        .nics
        .get(&oif)
        .filter(|_| v.proto == PROTO_TCP)
        .map(|n| tcp_offload(&packet, &v, n.mtu));
    let segs = tso.map_or(1, |t| t.segments);
    let broadcast =
        kind == RouteType::Broadcast || matches!(v.dst, IpAddr::V4(d) if d.is_broadcast());
    let payload = &packet[v.payload_start..v.payload_end];
    if v4 {
        let (ip, ext) = (&mut state.snmp.ip, &mut state.snmp.ip_ext);
        ip.OutRequests += 1;
        ext.OutOctets += len;
        if broadcast {
            ext.OutBcastPkts += 1;
            ext.OutBcastOctets += len;
        } else if v.dst.is_multicast() {
            ext.OutMcastPkts += 1;
            ext.OutMcastOctets += len;
        }
        match v.proto {
            PROTO_ICMP => {
                if let Some(&t) = payload.first() {
                    state.snmp.icmp.OutMsgs += 1;
                    state.snmp.icmp_msg.out_type[usize::from(t)] += 1;
                }
            }
            PROTO_TCP => count_tcp_out(state, &v, payload, segs),
            PROTO_UDP => state.snmp.udp.OutDatagrams += 1,
            _ => {}
        }
    } else {
        let ip = &mut state.snmp6.ip6;
        ip.Ip6OutRequests += 1;
        ip.Ip6OutOctets += len;
        if v.dst.is_multicast() {
            ip.Ip6OutMcastPkts += 1;
            ip.Ip6OutMcastOctets += len;
        }
        match v.proto {
            PROTO_ICMPV6 => {
                if let Some(&t) = payload.first() {
                    state.snmp6.icmp6.Icmp6OutMsgs += 1;
                    state.snmp6.icmp6_msg.out_type[usize::from(t)] += 1;
                }
            }
            PROTO_TCP => count_tcp_out(state, &v, payload, segs),
            PROTO_UDP => state.snmp6.udp6.Udp6OutDatagrams += 1,
            _ => {}
        }
    }
    let Some(nic) = state.nics.get(&oif) else {
        return Some(packet);
    };
    if v.proto == PROTO_TCP {
        // Advertise what this NIC carries (smoltcp knows only one MTU for all).
        wire::clamp_mss(&mut packet, &v, wire::mss_for(nic.mtu, v4));
    }
    let mut hdr = VnetHdr::default();
    let mut cut_here = None;
    match tso {
        Some(t) if nic.link.offloads() => {
            if let Some(at) = wire::fill_pseudo_checksum(&mut packet, &v) {
                hdr = t.hdr;
                hdr.flags = vnet::F_NEEDS_CSUM;
                hdr.csum_start = v.payload_start as u16;
                hdr.csum_offset = (at - v.payload_start) as u16;
            }
        }
        Some(t) if t.hdr.gso_type != vnet::GSO_NONE => cut_here = Some(t.hdr),
        _ => {}
    }
    if let Some(cut) = cut_here {
        // Linux counts the packet once on its way to the device, which
        // then cuts it (validate_xmit_skb).
        if v4 {
            state.snmp.ip.OutTransmits += 1;
        } else {
            state.snmp6.ip6.Ip6OutTransmits += 1;
        }
        let later = &mut state.tun_out;
        crate::gso::segment_tcp(
            &packet,
            &v,
            usize::from(cut.hdr_len),
            usize::from(cut.gso_size),
            |segment| transmit(&nic.link, later, segment, VnetHdr::default()),
        );
        return Some(packet);
    }
    if packet.len() > nic.mtu as usize && hdr.gso_type == vnet::GSO_NONE {
        // sandnet does not fragment on output; Linux would (or answer
        // "fragmentation needed"). Counted as a failed fragmentation.
        if v4 {
            state.snmp.ip.FragFails += 1;
        } else {
            state.snmp6.ip6.Ip6FragFails += 1;
        }
        return Some(packet);
    }
    if !nic.is_loopback() && hdr.flags & vnet::F_NEEDS_CSUM == 0 {
        // smoltcp leaves TCP and UDP checksums to the NIC (device.rs); lo's
        // packets never leave memory and are not verified, as Linux's lo.
        wire::fill_l4_checksum(&mut packet, &v);
    }
    if v4 {
        state.snmp.ip.OutTransmits += 1;
    } else {
        state.snmp6.ip6.Ip6OutTransmits += 1;
    }
    transmit(&nic.link, &mut state.tun_out, packet, hdr);
    None
}

/// Hands a packet to a NIC's link: for a TUN device, to the round's list of
/// writes (`tun_out`) when the poll thread keeps one. A full queue or a
/// failed write is counted by the link itself.
fn transmit(
    link: &crate::link::Link,
    later: &mut Option<Vec<crate::link::Deferred>>,
    packet: Packet,
    hdr: VnetHdr,
) {
    match later.as_mut() {
        Some(later) => link.send_or_defer(packet, hdr, later),
        None => {
            let _ = link.send_owned(packet, hdr);
        }
    }
}

/// icmp_send's rate limits (see ratelimit.rs): whether an ICMP error may go
/// out; a limited one is counted and dropped here, before any output counter.
fn icmp_error_allowed(
    state: &mut State,
    v: &wire::IpView,
    packet: &[u8],
    oif: u32,
    prefix_len: u8,
) -> bool {
    let v4 = v.dst.is_ipv4();
    let proto = if v4 { PROTO_ICMP } else { PROTO_ICMPV6 };
    let (Some(&kind), Some(&code)) = (packet.get(v.payload_start), packet.get(v.payload_start + 1))
    else {
        return true;
    };
    // Nothing sent to the stack itself is limited (the loopback device).
    if v.proto != proto || oif == LOOPBACK_INDEX || !crate::ratelimit::limited(v4, kind, code) {
        return true;
    }
    let now = state.now().total_micros();
    match state.icmp_limit.check(now, v.dst, prefix_len) {
        crate::ratelimit::Verdict::Allow => true,
        crate::ratelimit::Verdict::Global => {
            state.snmp.icmp.OutRateLimitGlobal += 1;
            false
        }
        crate::ratelimit::Verdict::Host if v4 => {
            state.snmp.icmp.OutRateLimitHost += 1;
            false
        }
        crate::ratelimit::Verdict::Host => {
            state.snmp6.icmp6.Icmp6OutRateLimitHost += 1;
            false
        }
    }
}

/// A TCP segment for a NIC, and the segments it becomes.
#[derive(Clone, Copy)]
struct TcpOffload {
    /// What to ask of the device beyond the checksum (GSO for a segment
    /// larger than the MTU).
    hdr: VnetHdr,
    segments: u64,
}

/// Whether a TCP segment must be cut to the NIC's MTU, and into how many:
/// each carries the same headers and at most what the MTU leaves of the
/// payload, which is less than the segment carried, so less than the
/// peer's MSS. This happens when a connection's route moved to a NIC with
/// a smaller MTU (gso.rs).
fn tcp_offload(packet: &[u8], v: &wire::IpView, mtu: u32) -> TcpOffload {
    let plain = TcpOffload {
        hdr: VnetHdr::default(),
        segments: 1,
    };
    let Some(&off) = packet.get(v.payload_start + 12) else {
        return plain;
    };
    let headers = v.payload_start + usize::from(off >> 4) * 4;
    let data = v.payload_end.saturating_sub(headers);
    let per = (mtu as usize).saturating_sub(headers);
    if packet.len() <= mtu as usize || per == 0 || data == 0 {
        return plain;
    }
    TcpOffload {
        hdr: VnetHdr {
            gso_type: if v.dst.is_ipv4() {
                vnet::GSO_TCPV4
            } else {
                vnet::GSO_TCPV6
            },
            hdr_len: headers as u16,
            gso_size: per as u16,
            ..VnetHdr::default()
        },
        segments: data.div_ceil(per) as u64,
    }
}

fn count_tcp_out(state: &mut State, v: &wire::IpView, segment: &[u8], segs: u64) {
    let again = crate::socket::retransmitted(state, v, segment);
    let tcp = &mut state.snmp.tcp;
    if again {
        // Linux counts a retransmission in RetransSegs, not OutSegs.
        tcp.RetransSegs += segs;
    } else {
        tcp.OutSegs += segs;
    }
    if segment.get(13).is_some_and(|flags| flags & 0x04 != 0) {
        tcp.OutRsts += 1;
    }
}
