//! Every packet smoltcp emits passes here: routed by the stack's own table to
//! a NIC (local destinations to `lo`, as Linux does), and counted as Linux
//! counts output.

use crate::inet::RouteType;
use crate::link::Packet;
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
            PROTO_TCP => count_tcp_out(state, &v, payload),
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
            PROTO_TCP => count_tcp_out(state, &v, payload),
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
    if packet.len() > nic.mtu as usize {
        // sandnet does not fragment on output; Linux would (or answer
        // "fragmentation needed"). Counted as a failed fragmentation.
        if v4 {
            state.snmp.ip.FragFails += 1;
        } else {
            state.snmp6.ip6.Ip6FragFails += 1;
        }
        return Some(packet);
    }
    if v4 {
        state.snmp.ip.OutTransmits += 1;
    } else {
        state.snmp6.ip6.Ip6OutTransmits += 1;
    }
    // A full queue or failed write is counted by the link itself.
    match state.tun_out.as_mut() {
        Some(later) => nic.link.send_or_defer(packet, later),
        None => {
            let _ = nic.link.send_owned(packet);
        }
    }
    None
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

fn count_tcp_out(state: &mut State, v: &wire::IpView, segment: &[u8]) {
    let again = crate::socket::retransmitted(state, v, segment);
    let tcp = &mut state.snmp.tcp;
    tcp.OutSegs += 1;
    if again {
        // Linux counts a retransmission in RetransSegs, not OutSegs.
        tcp.OutSegs -= 1;
        tcp.RetransSegs += 1;
    }
    if segment.get(13).is_some_and(|flags| flags & 0x04 != 0) {
        tcp.OutRsts += 1;
    }
}
