//! RTM_NEWADDR messages: IPv4 addresses as `inet_fill_ifaddr`
//! (net/ipv4/devinet.c) emits them, IPv6 ones as `inet6_fill_ifaddr`
//! (net/ipv6/addrconf.c). Pure: table data in, bytes out.

use crate::nlmsg::Writer;
use netstack::inet::{ifa_flags, InterfaceAddr};
use std::net::IpAddr;

pub const IFA_ADDRESS: u16 = 1;
pub const IFA_LOCAL: u16 = 2;
pub const IFA_LABEL: u16 = 3;
pub const IFA_BROADCAST: u16 = 4;
pub const IFA_CACHEINFO: u16 = 6;
pub const IFA_FLAGS: u16 = 8;
pub const IFA_RT_PRIORITY: u16 = 9;
pub const IFA_TARGET_NETNSID: u16 = 10;
pub const IFA_PROTO: u16 = 11;

/// `IFAPROT_KERNEL_LO`: the protocol of the ::1 the kernel puts on lo.
const IFAPROT_KERNEL_LO: u8 = 1;
const INFINITY_LIFE_TIME: u32 = u32::MAX;

/// One RTM_NEWADDR (or other `ty`) message for `a`. Addresses without a
/// lifetime are PERMANENT, as every address added without one is in Linux.
/// `ifa_cacheinfo`'s cstamp/tstamp (creation and change times, hundredths of
/// a second since boot) are sent as 0: sandnet does not record them.
pub fn fill(w: &mut Writer, ty: u16, flags: u16, seq: u32, portid: u32, a: &InterfaceAddr) {
    let ifa_flags = a.flags | ifa_flags::PERMANENT;
    let start = w.begin(ty, flags, seq, portid);
    // struct ifaddrmsg: family, prefixlen, flags (low byte), scope, index.
    w.bytes(&[a.family() as u8, a.prefix_len, ifa_flags as u8, a.scope]);
    w.bytes(&a.ifindex.to_ne_bytes());
    match a.addr {
        IpAddr::V4(v4) => {
            // A point-to-point peer is not modelled: address and local are the same.
            w.attr(IFA_ADDRESS, &v4.octets());
            w.attr(IFA_LOCAL, &v4.octets());
            // No IFA_BROADCAST: as `ip addr add` without `brd` (the broadcast
            // route of the prefix is still in the local table).
            if !a.label.is_empty() {
                w.string(IFA_LABEL, &a.label);
            }
            w.u32(IFA_FLAGS, ifa_flags);
            cacheinfo(w);
        }
        IpAddr::V6(v6) => {
            w.attr(IFA_ADDRESS, &v6.octets());
            cacheinfo(w);
            w.u32(IFA_FLAGS, ifa_flags);
            if v6.is_loopback() {
                w.u8(IFA_PROTO, IFAPROT_KERNEL_LO);
            }
        }
    }
    w.end(start);
}

/// `struct ifa_cacheinfo`: preferred and valid lifetimes (forever), cstamp, tstamp.
fn cacheinfo(w: &mut Writer) {
    let mut b = Vec::with_capacity(16);
    for v in [INFINITY_LIFE_TIME, INFINITY_LIFE_TIME, 0, 0] {
        b.extend_from_slice(&v.to_ne_bytes());
    }
    w.attr(IFA_CACHEINFO, &b);
}

/// The order the kernel lists one device's IPv4 addresses in:
/// `inet_insert_ifa` puts a new primary after the last primary of the same or
/// a wider scope, and appends secondaries at the end. `addrs` are one
/// device's addresses in the order they were added.
pub fn ipv4_dev_order<'a>(addrs: &[&'a InterfaceAddr]) -> Vec<&'a InterfaceAddr> {
    let mut list: Vec<&InterfaceAddr> = Vec::with_capacity(addrs.len());
    for a in addrs {
        if a.is_secondary() {
            list.push(a);
            continue;
        }
        let at = list
            .iter()
            .rposition(|b| !b.is_secondary() && a.scope <= b.scope)
            .map_or(0, |i| i + 1);
        list.insert(at, a);
    }
    list
}

/// IPv6 address scope as `ipv6_addr_src_scope` ranks it (higher is wider).
fn src_scope(a: &IpAddr) -> u8 {
    match a {
        IpAddr::V6(v6) if v6.is_loopback() => 0x1,
        IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80 => 0x2,
        IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfec0 => 0x5,
        _ => 0xe,
    }
}

/// The order the kernel lists one device's IPv6 addresses in:
/// `ipv6_link_dev_addr` inserts each new address before the first one whose
/// scope is not wider, so among equal scopes the newest comes first.
/// `addrs` are one device's addresses in the order they were added.
pub fn ipv6_dev_order<'a>(addrs: &[&'a InterfaceAddr]) -> Vec<&'a InterfaceAddr> {
    let mut list: Vec<&InterfaceAddr> = Vec::with_capacity(addrs.len());
    for a in addrs {
        let s = src_scope(&a.addr);
        let at = list
            .iter()
            .position(|b| s >= src_scope(&b.addr))
            .unwrap_or(list.len());
        list.insert(at, a);
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> InterfaceAddr {
        InterfaceAddr {
            ifindex: 2,
            addr: s.parse().unwrap(),
            prefix_len: 64,
            flags: ifa_flags::NODAD,
            scope: 0,
            label: "sn0".into(),
        }
    }

    #[test]
    fn newest_global_first_wider_scope_first() {
        let (a, b, l) = (addr("fd00::1"), addr("fd00::2"), addr("fe80::1"));
        let order = ipv6_dev_order(&[&l, &a, &b]);
        let got: Vec<String> = order.iter().map(|x| x.addr.to_string()).collect();
        assert_eq!(got, ["fd00::2", "fd00::1", "fe80::1"]);
    }

    #[test]
    fn ipv4_primaries_before_secondaries() {
        let mut a = addr("10.9.0.2");
        a.prefix_len = 24;
        let mut sec = addr("10.9.0.7");
        sec.flags = ifa_flags::SECONDARY;
        let b = addr("192.0.2.1");
        let got: Vec<String> = ipv4_dev_order(&[&a, &sec, &b])
            .iter()
            .map(|x| x.addr.to_string())
            .collect();
        assert_eq!(got, ["10.9.0.2", "192.0.2.1", "10.9.0.7"]);
    }

    #[test]
    fn ipv6_matches_the_kernel_layout() {
        // fd00:9::2/64 nodad on ifindex 2, as captured from Linux 6.18 (timestamps zero).
        let mut w = Writer::new();
        fill(&mut w, 20, 2, 1, 0, &addr("fd00:9::2"));
        let body = &w.buf[16..];
        assert_eq!(&body[..8], &[10, 64, 0x82, 0, 2, 0, 0, 0]);
        assert_eq!(w.buf.len(), 72);
    }
}
