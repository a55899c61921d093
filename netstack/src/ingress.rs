//! Every packet a NIC receives passes here before smoltcp sees it: validated
//! as Linux's ip_rcv/ipv6_rcv would, counted where Linux counts it, and either
//! accepted or dropped. smoltcp counts nothing itself.

use crate::inet::RouteType;
use crate::state::State;
use crate::wire::{self, IpView, PROTO_ICMP, PROTO_ICMPV6, PROTO_IGMP, PROTO_TCP, PROTO_UDP};
use std::net::{IpAddr, Ipv6Addr};

/// Decides the fate of one received packet; may trim link padding from it.
/// Returns whether smoltcp should process it. `vouched`: the link vouches
/// for the packet's TCP or UDP checksum (an offloading TUN device).
pub(crate) fn accept(state: &mut State, ifindex: u32, packet: &mut Vec<u8>, vouched: bool) -> bool {
    let Some(nic) = state.nics.get(&ifindex) else {
        return false;
    };
    if !nic.up {
        nic.link.counters().add(|s| &mut s.rx_drop, 1);
        return false;
    }
    let (on_loopback, mtu) = (nic.is_loopback(), nic.mtu);
    let rx = Rx {
        on_loopback,
        // lo's packets never left this stack's memory: Linux's lo marks
        // their checksums as needing no check (CHECKSUM_PARTIAL).
        skip_l4_checksum: on_loopback || vouched,
    };
    let accepted = match packet.first().map(|b| b >> 4) {
        Some(6) => accept_v6(state, rx, packet),
        // Anything that is not IPv6 is taken as IPv4, as a TUN classifies by the
        // version nibble; a wrong version is then a header error.
        _ => accept_v4(state, rx, packet),
    };
    if accepted {
        // Never send a peer segments larger than this NIC carries. (On an
        // offloading TUN they leave merged, in GSO packets: link/coalesce.rs.)
        if let Some(v) = wire::view(packet).filter(|v| v.proto == PROTO_TCP) {
            wire::clamp_mss(packet, &v, wire::mss_for(mtu, v.src.is_ipv4()));
        }
    }
    accepted
}

/// What a packet's NIC says about it.
#[derive(Clone, Copy)]
struct Rx {
    on_loopback: bool,
    /// Its TCP or UDP checksum needs no verification.
    skip_l4_checksum: bool,
}

fn accept_v4(state: &mut State, rx: Rx, packet: &mut Vec<u8>) -> bool {
    let on_loopback = rx.on_loopback;
    let ip = &mut state.snmp.ip;
    let ext = &mut state.snmp.ip_ext;
    ip.InReceives += 1;
    ext.InOctets += packet.len() as u64;
    // ip_rcv_core, in its order.
    if packet.len() < 20 || packet[0] >> 4 != 4 || packet[0] & 0x0f < 5 {
        ip.InHdrErrors += 1;
        return false;
    }
    match packet[1] & 0x03 {
        0 => ext.InNoECTPkts += 1,
        1 => ext.InECT1Pkts += 1,
        2 => ext.InECT0Pkts += 1,
        _ => ext.InCEPkts += 1,
    }
    let ihl = usize::from(packet[0] & 0x0f) * 4;
    if packet.len() < ihl {
        ip.InHdrErrors += 1;
        return false;
    }
    if !wire::plain_checksum_ok(&packet[..ihl]) {
        ext.InCsumErrors += 1;
        ip.InHdrErrors += 1;
        return false;
    }
    let total = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
    if packet.len() < total {
        ext.InTruncatedPkts += 1;
        return false;
    }
    if total < ihl {
        ip.InHdrErrors += 1;
        return false;
    }
    packet.truncate(total);
    let Some(v) = wire::view(packet) else {
        ip.InHdrErrors += 1;
        return false;
    };
    let (IpAddr::V4(src), IpAddr::V4(dst)) = (v.src, v.dst) else {
        return false;
    };
    // Martians (ip_route_input_slow): dropped without an SNMP counter.
    if src.is_multicast()
        || src.is_broadcast()
        || (!on_loopback && (src.is_loopback() || dst.is_loopback()))
    {
        return false;
    }
    let kind = if dst.is_broadcast() {
        Some(RouteType::Broadcast)
    } else if dst.is_multicast() {
        Some(RouteType::Multicast)
    } else {
        state
            .routes
            .lookup(v.dst, state)
            .map(|r| r.kind)
            .filter(|k| matches!(k, RouteType::Local | RouteType::Broadcast))
    };
    let (ip, ext) = (&mut state.snmp.ip, &mut state.snmp.ip_ext);
    match kind {
        Some(RouteType::Local) => {}
        Some(RouteType::Broadcast) => {
            ext.InBcastPkts += 1;
            ext.InBcastOctets += packet.len() as u64;
        }
        Some(_) => {
            ext.InMcastPkts += 1;
            ext.InMcastOctets += packet.len() as u64;
            // The only group a sandnet NIC is in is all-systems.
            if dst != std::net::Ipv4Addr::new(224, 0, 0, 1) {
                return false;
            }
        }
        None => {
            // Not ours, and the stack does not forward (ip_error, EHOSTUNREACH).
            ip.InAddrErrors += 1;
            return false;
        }
    }
    if v.fragment {
        // sandnet does not reassemble IPv4 fragments.
        ip.ReasmReqds += 1;
        ip.ReasmFails += 1;
        return false;
    }
    let payload = &packet[v.payload_start..v.payload_end];
    match v.proto {
        PROTO_ICMP => {
            ip.InDelivers += 1;
            accept_icmp_v4(state, &v, kind == Some(RouteType::Local), payload)
        }
        PROTO_TCP => {
            ip.InDelivers += 1;
            accept_tcp(state, &v, payload, true, rx.skip_l4_checksum)
        }
        PROTO_UDP => {
            ip.InDelivers += 1;
            accept_udp(state, &v, payload, true, rx.skip_l4_checksum)
        }
        PROTO_IGMP => {
            // Linux's IGMP handler takes it; sandnet joins no group that needs it.
            ip.InDelivers += 1;
            false
        }
        _ => {
            // smoltcp answers with protocol unreachable, as Linux does.
            ip.InUnknownProtos += 1;
            true
        }
    }
}

fn accept_icmp_v4(state: &mut State, v: &IpView, unicast: bool, payload: &[u8]) -> bool {
    let icmp = &mut state.snmp.icmp;
    icmp.InMsgs += 1;
    if !wire::plain_checksum_ok(payload) {
        icmp.InCsumErrors += 1;
        icmp.InErrors += 1;
        return false;
    }
    let Some(&kind) = payload.first() else {
        icmp.InErrors += 1;
        return false;
    };
    state.snmp.icmp_msg.in_type[usize::from(kind)] += 1;
    // NR_ICMP_TYPES is 18; an echo to broadcast is ignored (icmp_echo_ignore_broadcasts).
    if kind > 18 || payload.len() < 8 || (!unicast && (kind == 8 || kind == 13)) {
        icmp.InErrors += 1;
        return false;
    }
    match (kind, payload[1]) {
        (0, _) => !crate::socket::deliver_echo_reply(state, v, payload),
        (3, code) => {
            // icmp_err_convert: (errno, whether the error is hard).
            let (err, hard) = match code {
                0 => (libc::ENETUNREACH, false),
                1 => (libc::EHOSTUNREACH, false),
                2 => (libc::ENOPROTOOPT, true),
                3 => (libc::ECONNREFUSED, true),
                4 => (libc::EMSGSIZE, false),
                5 => (libc::EOPNOTSUPP, false),
                6 | 9 => (libc::ENETUNREACH, true),
                7 => (libc::EHOSTDOWN, true),
                8 => (libc::ENONET, true),
                11 => (libc::ENETUNREACH, false),
                12 => (libc::EHOSTUNREACH, false),
                _ => (libc::EHOSTUNREACH, true),
            };
            crate::socket::deliver_icmp_error(state, &payload[8..], err, hard);
            true
        }
        (12, _) => {
            crate::socket::deliver_icmp_error(state, &payload[8..], libc::EPROTO, true);
            true
        }
        _ => true,
    }
}

fn accept_v6(state: &mut State, rx: Rx, packet: &mut Vec<u8>) -> bool {
    let on_loopback = rx.on_loopback;
    let ip = &mut state.snmp6.ip6;
    ip.Ip6InReceives += 1;
    ip.Ip6InOctets += packet.len() as u64;
    // ipv6_rcv_core, in its order.
    if packet.len() < 40 {
        ip.Ip6InHdrErrors += 1;
        return false;
    }
    match (packet[1] >> 4) & 0x03 {
        0 => ip.Ip6InNoECTPkts += 1,
        1 => ip.Ip6InECT1Pkts += 1,
        2 => ip.Ip6InECT0Pkts += 1,
        _ => ip.Ip6InCEPkts += 1,
    }
    let (src, dst) = wire::ipv6_addrs(packet);
    if (!on_loopback && (src.is_loopback() || dst.is_loopback())) || src.is_multicast() {
        ip.Ip6InHdrErrors += 1;
        return false;
    }
    let total = 40 + usize::from(u16::from_be_bytes([packet[4], packet[5]]));
    if total > packet.len() {
        ip.Ip6InTruncatedPkts += 1;
        return false;
    }
    packet.truncate(total);
    if dst.is_multicast() {
        ip.Ip6InMcastPkts += 1;
        ip.Ip6InMcastOctets += packet.len() as u64;
        if !member_of(state, &dst) {
            return false;
        }
    } else if state
        .routes
        .lookup(IpAddr::V6(dst), state)
        .is_none_or(|r| r.kind != RouteType::Local)
    {
        // ip6_forward with forwarding off.
        state.snmp6.ip6.Ip6InAddrErrors += 1;
        return false;
    }
    let ip = &mut state.snmp6.ip6;
    let Some(v) = wire::view(packet) else {
        ip.Ip6InHdrErrors += 1;
        return false;
    };
    if v.fragment {
        // sandnet does not reassemble IPv6 fragments.
        ip.Ip6ReasmReqds += 1;
        ip.Ip6ReasmFails += 1;
        return false;
    }
    let payload = &packet[v.payload_start..v.payload_end];
    match v.proto {
        PROTO_ICMPV6 => {
            ip.Ip6InDelivers += 1;
            accept_icmp_v6(state, &v, payload)
        }
        PROTO_TCP => {
            ip.Ip6InDelivers += 1;
            accept_tcp(state, &v, payload, false, rx.skip_l4_checksum)
        }
        PROTO_UDP => {
            ip.Ip6InDelivers += 1;
            accept_udp(state, &v, payload, false, rx.skip_l4_checksum)
        }
        _ => {
            ip.Ip6InUnknownProtos += 1;
            true
        }
    }
}

/// Groups every sandnet NIC is in: all-nodes, and the solicited-node group of
/// each of its IPv6 addresses.
fn member_of(state: &State, group: &Ipv6Addr) -> bool {
    let s = group.segments();
    if *group == Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1)
        || *group == Ipv6Addr::new(0xff01, 0, 0, 0, 0, 0, 0, 1)
    {
        return true;
    }
    let solicited = s[..6] == [0xff02, 0, 0, 0, 0, 1] && s[6] >> 8 == 0xff;
    solicited
        && state.addrs.iter().any(|a| match a.addr {
            IpAddr::V6(x) => {
                let o = x.octets();
                [o[13], o[14], o[15]]
                    == [(s[6] & 0xff) as u8, (s[7] >> 8) as u8, (s[7] & 0xff) as u8]
            }
            IpAddr::V4(_) => false,
        })
}

fn accept_icmp_v6(state: &mut State, v: &IpView, payload: &[u8]) -> bool {
    let icmp = &mut state.snmp6.icmp6;
    icmp.Icmp6InMsgs += 1;
    if payload.len() < 4 || !wire::l4_checksum_ok(v, payload) {
        icmp.Icmp6InCsumErrors += 1;
        icmp.Icmp6InErrors += 1;
        return false;
    }
    state.snmp6.icmp6_msg.in_type[usize::from(payload[0])] += 1;
    let quoted = payload.get(8..).unwrap_or_default();
    match (payload[0], payload[1]) {
        (129, _) => !crate::socket::deliver_echo_reply(state, v, payload),
        (1, code) => {
            // icmpv6_err_convert's table.
            let (err, hard) = match code {
                0 => (libc::ENETUNREACH, false),
                1 | 5 | 6 => (libc::EACCES, true),
                4 => (libc::ECONNREFUSED, true),
                _ => (libc::EHOSTUNREACH, false),
            };
            crate::socket::deliver_icmp_error(state, quoted, err, hard);
            true
        }
        (4, _) => {
            crate::socket::deliver_icmp_error(state, quoted, libc::EPROTO, true);
            true
        }
        _ => true,
    }
}

/// `skip_checksum`: lo's packet, or one whose checksum its link vouches for.
fn accept_tcp(
    state: &mut State,
    v: &IpView,
    payload: &[u8],
    v4: bool,
    skip_checksum: bool,
) -> bool {
    let tcp = &mut state.snmp.tcp;
    tcp.InSegs += 1;
    if payload.len() < 20 {
        return false;
    }
    if usize::from(payload[12] >> 4) * 4 < 20 || usize::from(payload[12] >> 4) * 4 > payload.len() {
        tcp.InErrs += 1;
        return false;
    }
    // An IPv4 packet to a broadcast or multicast address is no TCP segment.
    if v4 && matches!(v.dst, IpAddr::V4(d) if d.is_broadcast() || d.is_multicast()) {
        return false;
    }
    if !skip_checksum && !wire::l4_checksum_ok(v, payload) {
        tcp.InCsumErrors += 1;
        tcp.InErrs += 1;
        return false;
    }
    // A parked connection goes back into smoltcp's set before it looks;
    // data after a long rest is ACKed at once (quickack after idle).
    let port = |at: usize| u16::from_be_bytes([payload[at], payload[at + 1]]);
    if let Some((h, since)) = state.sockets.unpark_tuple(
        smoltcp::wire::IpEndpoint::new(v.dst.into(), port(2)),
        smoltcp::wire::IpEndpoint::new(v.src.into(), port(0)),
    ) {
        let data = payload.len() > usize::from(payload[12] >> 4) * 4;
        if data {
            crate::socket::quickack_unparked(state, h, since);
        }
    }
    let flags = payload[13];
    // SYN without ACK or RST: a listener may need a socket for it.
    if flags & 0x02 != 0 && flags & 0x14 == 0 {
        return crate::socket::on_syn(state, v, payload);
    }
    true
}

/// `skip_checksum`: as for TCP.
fn accept_udp(
    state: &mut State,
    v: &IpView,
    payload: &[u8],
    v4: bool,
    skip_checksum: bool,
) -> bool {
    let (in_errors, csum_errors) = if v4 {
        let u = &mut state.snmp.udp;
        (&mut u.InErrors, &mut u.InCsumErrors)
    } else {
        let u = &mut state.snmp6.udp6;
        (&mut u.Udp6InErrors, &mut u.Udp6InCsumErrors)
    };
    if payload.len() < 8 {
        *in_errors += 1;
        return false;
    }
    let ulen = usize::from(u16::from_be_bytes([payload[4], payload[5]]));
    if ulen < 8 || ulen > payload.len() {
        *in_errors += 1;
        return false;
    }
    let datagram = &payload[..ulen];
    let csum = u16::from_be_bytes([payload[6], payload[7]]);
    // IPv4 may omit the checksum (zero); IPv6 may not.
    if !skip_checksum && (csum != 0 || !v4) && !wire::l4_checksum_ok(v, datagram) {
        *csum_errors += 1;
        *in_errors += 1;
        return false;
    }
    let multi = match v.dst {
        IpAddr::V4(d) => d.is_broadcast() || d.is_multicast() || is_subnet_broadcast(state, v.dst),
        IpAddr::V6(d) => d.is_multicast(),
    };
    // InDatagrams is counted when a socket reads the datagram, as udp_recvmsg does.
    if crate::socket::deliver_udp(state, v, datagram, multi) {
        return false;
    }
    if multi {
        // __udp4_lib_mcast_deliver: nobody wants it; no ICMP error for a group.
        if v4 {
            state.snmp.udp.IgnoredMulti += 1;
        }
        return false;
    }
    // smoltcp answers with port unreachable (counted on the way out).
    if v4 {
        state.snmp.udp.NoPorts += 1;
    } else {
        state.snmp6.udp6.Udp6NoPorts += 1;
    }
    true
}

fn is_subnet_broadcast(state: &State, dst: IpAddr) -> bool {
    state
        .routes
        .lookup(dst, state)
        .is_some_and(|r| r.kind == RouteType::Broadcast)
}
