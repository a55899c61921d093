//! Plain table types: what a kernel keeps about interfaces, addresses, routes,
//! counters and sockets. No smoltcp type appears here, so that renderers
//! (procnet, a netlink responder) depend on data alone.

mod addr;
mod interface;
mod route;
mod snapshot;
mod socket;
mod stats;

pub use addr::{ifa_flags, InterfaceAddr};
pub use interface::{arphrd, iff, Interface};
pub use route::{
    rt_scope, rtprot, Route, RouteAnswer, RouteSpec, RouteType, RT_TABLE_LOCAL, RT_TABLE_MAIN,
};
pub use snapshot::Snapshot;
pub use socket::{tcp_state, ForeignSocket, SocketInfo, SocketKind, TcpDetail};
pub use stats::{
    DevStats, Icmp, Icmp6, IcmpMsg, Ip, Ip6, IpExt, MPTcpExt, Snmp6Stats, SnmpStats, Statistics,
    Tcp, TcpExt, Udp, Udp6, UdpLite, UdpLite6,
};

use std::net::IpAddr;

/// Address family in Linux's numbering (`AF_INET`, `AF_INET6`).
pub fn family_of(addr: &IpAddr) -> u16 {
    match addr {
        IpAddr::V4(_) => libc::AF_INET as u16,
        IpAddr::V6(_) => libc::AF_INET6 as u16,
    }
}

/// The address with every bit past `prefix_len` cleared.
pub fn mask_addr(addr: IpAddr, prefix_len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let m = if prefix_len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(prefix_len.min(32)))
            };
            IpAddr::V4((u32::from(a) & m).into())
        }
        IpAddr::V6(a) => {
            let m = if prefix_len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(prefix_len.min(128)))
            };
            IpAddr::V6((u128::from(a) & m).into())
        }
    }
}

/// Whether `addr` lies in `net/prefix_len` (false across families).
pub fn prefix_contains(net: IpAddr, prefix_len: u8, addr: IpAddr) -> bool {
    if net.is_ipv4() != addr.is_ipv4() {
        return false;
    }
    mask_addr(net, prefix_len) == mask_addr(addr, prefix_len)
}

/// Longest prefix two addresses of one family share (RFC 6724's CommonPrefixLen).
pub fn common_prefix_len(a: IpAddr, b: IpAddr) -> u8 {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u32::from(a) ^ u32::from(b)).leading_zeros() as u8,
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a) ^ u128::from(b)).leading_zeros() as u8,
        _ => 0,
    }
}

/// Largest prefix length of the family of `addr`.
pub fn max_prefix_len(addr: &IpAddr) -> u8 {
    if addr.is_ipv4() {
        32
    } else {
        128
    }
}
