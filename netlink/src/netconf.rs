//! RTM_NEWNETCONF messages: per-device forwarding configuration, as
//! `inet_netconf_fill_devconf` (net/ipv4/devinet.c) and
//! `inet6_netconf_fill_devconf` (net/ipv6/addrconf.c) emit it with
//! NETCONFA_ALL. sandnet forwards nothing and filters no source: every value
//! is 0. Pure: bytes out.

use crate::nlmsg::Writer;

pub const RTM_NEWNETCONF: u16 = 80;
pub const NETCONFA_IFINDEX: u16 = 1;
const NETCONFA_FORWARDING: u16 = 2;
const NETCONFA_RP_FILTER: u16 = 3;
const NETCONFA_MC_FORWARDING: u16 = 4;
const NETCONFA_PROXY_NEIGH: u16 = 5;
const NETCONFA_IGNORE_ROUTES_WITH_LINKDOWN: u16 = 6;
const NETCONFA_BC_FORWARDING: u16 = 8;
/// The "all" and "default" entries' ifindex values.
pub const NETCONFA_IFINDEX_ALL: i32 = -1;
pub const NETCONFA_IFINDEX_DEFAULT: i32 = -2;

/// One entry for `ifindex` (a device, ALL or DEFAULT).
pub fn fill(w: &mut Writer, flags: u16, seq: u32, portid: u32, family: u8, ifindex: i32) {
    let start = w.begin(RTM_NEWNETCONF, flags, seq, portid);
    w.bytes(&[family, 0, 0, 0]);
    w.attr(NETCONFA_IFINDEX, &ifindex.to_ne_bytes());
    w.u32(NETCONFA_FORWARDING, 0);
    if family == libc::AF_INET as u8 {
        w.u32(NETCONFA_RP_FILTER, 0);
        w.u32(NETCONFA_MC_FORWARDING, 0);
        w.u32(NETCONFA_BC_FORWARDING, 0);
    } else {
        w.u32(NETCONFA_MC_FORWARDING, 0);
    }
    w.u32(NETCONFA_PROXY_NEIGH, 0);
    w.u32(NETCONFA_IGNORE_ROUTES_WITH_LINKDOWN, 0);
    w.end(start);
}
