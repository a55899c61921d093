//! RTM_NEWROUTE messages. Table entries: IPv4 as `fib_dump_info`
//! (net/ipv4/fib_semantics.c), IPv6 as `rt6_fill_node` (net/ipv6/route.c).
//! Lookup answers (`ip route get`): IPv4 as `rt_fill_info` (net/ipv4/route.c),
//! IPv6 as `rt6_fill_node` with a destination. Pure: table data in, bytes out.

use crate::nlmsg::Writer;
use netstack::inet::{Route, RouteAnswer, RouteType, RT_TABLE_MAIN};
use std::net::IpAddr;

pub const RTA_DST: u16 = 1;
pub const RTA_SRC: u16 = 2;
pub const RTA_IIF: u16 = 3;
pub const RTA_OIF: u16 = 4;
pub const RTA_GATEWAY: u16 = 5;
pub const RTA_PRIORITY: u16 = 6;
pub const RTA_PREFSRC: u16 = 7;
pub const RTA_METRICS: u16 = 8;
pub const RTA_CACHEINFO: u16 = 12;
pub const RTA_TABLE: u16 = 15;
pub const RTA_MARK: u16 = 16;
pub const RTA_PREF: u16 = 20;
pub const RTA_UID: u16 = 25;

pub const RTM_F_NOTIFY: u32 = 0x100;
pub const RTM_F_CLONED: u32 = 0x200;
pub const RTM_F_PREFIX: u32 = 0x800;
pub const RTM_F_LOOKUP_TABLE: u32 = 0x1000;
pub const RTM_F_FIB_MATCH: u32 = 0x2000;

const RTCF_BROADCAST: u32 = 0x1000_0000;
const RTCF_MULTICAST: u32 = 0x2000_0000;
const RTCF_LOCAL: u32 = 0x8000_0000;
/// Table ids above 255 show as RT_TABLE_COMPAT in the one-byte rtm_table.
const RT_TABLE_COMPAT: u32 = 252;

fn ip_bytes(a: &IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(v) => v.octets().to_vec(),
        IpAddr::V6(v) => v.octets().to_vec(),
    }
}

#[allow(clippy::too_many_arguments)]
fn rtmsg(
    w: &mut Writer,
    family: u8,
    dst_len: u8,
    src_len: u8,
    table: u32,
    protocol: u8,
    scope: u8,
    kind: u8,
    flags: u32,
) {
    let t = if table < 256 { table } else { RT_TABLE_COMPAT };
    w.bytes(&[family, dst_len, src_len, 0, t as u8, protocol, scope, kind]);
    w.bytes(&flags.to_ne_bytes());
}

/// `struct rta_cacheinfo`: clntref, lastuse, expires, error, used, id, ts, tsage.
fn cacheinfo(w: &mut Writer, clntref: u32) {
    let mut b = Vec::with_capacity(32);
    for v in [clntref, 0, 0, 0, 0, 0, 0, 0] {
        b.extend_from_slice(&v.to_ne_bytes());
    }
    w.attr(RTA_CACHEINFO, &b);
}

/// One table entry, as a route dump shows it.
pub fn fill(w: &mut Writer, ty: u16, flags: u16, seq: u32, portid: u32, r: &Route) {
    let start = w.begin(ty, flags, seq, portid);
    match r.dst {
        IpAddr::V4(_) => {
            rtmsg(
                w,
                libc::AF_INET as u8,
                r.prefix_len,
                0,
                r.table,
                r.protocol,
                r.scope,
                r.kind as u8,
                0,
            );
            w.u32(RTA_TABLE, r.table);
            if r.prefix_len > 0 {
                w.attr(RTA_DST, &ip_bytes(&r.dst));
            }
            if r.metric != 0 {
                w.u32(RTA_PRIORITY, r.metric);
            }
            if let Some(p) = &r.prefsrc {
                w.attr(RTA_PREFSRC, &ip_bytes(p));
            }
            // fib_nexthop_info: gateway, then the device.
            if let Some(g) = &r.gateway {
                w.attr(RTA_GATEWAY, &ip_bytes(g));
            }
            w.u32(RTA_OIF, r.oif);
        }
        IpAddr::V6(_) => {
            // IPv6 routes always report universe scope.
            rtmsg(
                w,
                libc::AF_INET6 as u8,
                r.prefix_len,
                0,
                r.table,
                r.protocol,
                0,
                r.kind as u8,
                0,
            );
            w.u32(RTA_TABLE, r.table);
            if r.prefix_len > 0 {
                w.attr(RTA_DST, &ip_bytes(&r.dst));
            }
            if let Some(p) = &r.prefsrc {
                w.attr(RTA_PREFSRC, &ip_bytes(p));
            }
            w.u32(RTA_PRIORITY, r.metric);
            if let Some(g) = &r.gateway {
                w.attr(RTA_GATEWAY, &ip_bytes(g));
            }
            w.u32(RTA_OIF, r.oif);
            cacheinfo(w, 0);
            w.u8(RTA_PREF, 0);
        }
    }
    w.end(start);
}

/// Sorts one table's routes of one family into the order the kernel dumps
/// them. IPv4 (fib_trie, `fn_trie_dump_leaf`): by key ascending, and within a
/// key the longest prefix first. IPv6 (fib6 radix tree, `fib6_walk_continue`):
/// children before their node and the 0 branch before the 1 branch, so at the
/// first differing bit 0 comes first and a prefix comes after every longer
/// prefix inside it. Routes of equal prefix keep their (metric) order.
pub fn dump_order(routes: &mut [&Route]) {
    routes.sort_by(|a, b| match (a.dst, b.dst) {
        (IpAddr::V4(x), IpAddr::V4(y)) => u32::from(x)
            .cmp(&u32::from(y))
            .then(b.prefix_len.cmp(&a.prefix_len)),
        (IpAddr::V6(x), IpAddr::V6(y)) => {
            let (x, y) = (u128::from(x), u128::from(y));
            let common = u32::from(a.prefix_len.min(b.prefix_len));
            let diff = (x ^ y).leading_zeros();
            if diff < common {
                // The first differing bit within both prefixes: 0 first.
                (x >> (127 - diff) & 1).cmp(&(y >> (127 - diff) & 1))
            } else {
                b.prefix_len.cmp(&a.prefix_len)
            }
        }
        _ => a.dst.is_ipv6().cmp(&b.dst.is_ipv6()),
    });
}

/// The question of an `ip route get`, as the answer echoes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lookup {
    /// RTA_SRC of the request, if any.
    pub src: Option<IpAddr>,
    /// rtm_tos of the request.
    pub tos: u8,
    /// The uid the lookup was made for (RTA_UID, or the requester's).
    pub uid: u32,
    /// The answer leaves through the loopback device (RTCF_LOCAL, as
    /// `__mkroute_output` marks every route out of lo).
    pub out_loopback: bool,
}

/// The answer to an RTM_GETROUTE lookup.
pub fn fill_answer(w: &mut Writer, ty: u16, seq: u32, portid: u32, q: &Lookup, a: &RouteAnswer) {
    let start = w.begin(ty, 0, seq, portid);
    match a.dst {
        IpAddr::V4(_) => {
            let rtcf = match a.kind {
                RouteType::Local => RTCF_LOCAL,
                RouteType::Broadcast => RTCF_BROADCAST | RTCF_LOCAL,
                RouteType::Multicast => RTCF_MULTICAST,
                RouteType::Unicast if q.out_loopback => RTCF_LOCAL,
                RouteType::Unicast => 0,
            };
            let src_len = if q.src.is_some() { 32 } else { 0 };
            // Linux keeps the local table merged into main while there are no
            // policy rules: every IPv4 lookup answers from table main.
            let table = RT_TABLE_MAIN;
            w.bytes(&[
                libc::AF_INET as u8,
                32,
                src_len,
                q.tos,
                table as u8,
                0,
                0,
                a.kind as u8,
            ]);
            w.bytes(&(RTM_F_CLONED | rtcf).to_ne_bytes());
            w.u32(RTA_TABLE, table);
            w.attr(RTA_DST, &ip_bytes(&a.dst));
            if let Some(s) = &q.src {
                w.attr(RTA_SRC, &ip_bytes(s));
            }
            w.u32(RTA_OIF, a.oif);
            if q.src != Some(a.prefsrc) {
                w.attr(RTA_PREFSRC, &ip_bytes(&a.prefsrc));
            }
            if let Some(g) = &a.gateway {
                w.attr(RTA_GATEWAY, &ip_bytes(g));
            }
            w.u32(RTA_UID, q.uid);
            cacheinfo(w, if a.kind == RouteType::Local { 1 } else { 2 });
        }
        IpAddr::V6(_) => {
            w.bytes(&[
                libc::AF_INET6 as u8,
                128,
                128,
                0,
                (if a.table < 256 {
                    a.table
                } else {
                    RT_TABLE_COMPAT
                }) as u8,
                a.protocol,
                0,
                a.kind as u8,
            ]);
            w.bytes(&0u32.to_ne_bytes());
            w.u32(RTA_TABLE, a.table);
            w.attr(RTA_DST, &ip_bytes(&a.dst));
            let src = q.src.unwrap_or(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED));
            w.attr(RTA_SRC, &ip_bytes(&src));
            w.attr(RTA_PREFSRC, &ip_bytes(&a.prefsrc));
            w.u32(RTA_PRIORITY, a.metric);
            if let Some(g) = &a.gateway {
                w.attr(RTA_GATEWAY, &ip_bytes(g));
            }
            w.u32(RTA_OIF, a.oif);
            cacheinfo(w, 2);
            w.u8(RTA_PREF, 0);
        }
    }
    w.end(start);
}

/// The answer to an IPv4 lookup of a packet arriving on `iif`
/// (`ip route get DST from SRC iif DEV`, `rt_fill_info` of an input route):
/// delivered locally through lo, for a local or broadcast destination.
#[allow(clippy::too_many_arguments)]
pub fn fill_input_answer(
    w: &mut Writer,
    ty: u16,
    seq: u32,
    portid: u32,
    dst: IpAddr,
    src: IpAddr,
    kind: RouteType,
    lo: u32,
    iif: u32,
    tos: u8,
) {
    let start = w.begin(ty, 0, seq, portid);
    let rtcf = match kind {
        RouteType::Broadcast => RTCF_BROADCAST | RTCF_LOCAL,
        _ => RTCF_LOCAL,
    };
    w.bytes(&[
        libc::AF_INET as u8,
        32,
        32,
        tos,
        RT_TABLE_MAIN as u8,
        0,
        0,
        kind as u8,
    ]);
    w.bytes(&(RTM_F_CLONED | rtcf).to_ne_bytes());
    w.u32(RTA_TABLE, RT_TABLE_MAIN);
    w.attr(RTA_DST, &ip_bytes(&dst));
    w.attr(RTA_SRC, &ip_bytes(&src));
    w.u32(RTA_OIF, lo);
    w.u32(RTA_IIF, iif);
    cacheinfo(w, 2);
    w.end(start);
}

/// The answer to an IPv6 lookup of a packet arriving on `iif`
/// (`rt6_fill_node` with an input interface): the route the table gives,
/// with RTA_IIF in place of a preferred source.
pub fn fill_input_answer_v6(
    w: &mut Writer,
    ty: u16,
    seq: u32,
    portid: u32,
    src: IpAddr,
    iif: u32,
    a: &RouteAnswer,
) {
    let start = w.begin(ty, 0, seq, portid);
    w.bytes(&[
        libc::AF_INET6 as u8,
        128,
        128,
        0,
        (if a.table < 256 {
            a.table
        } else {
            RT_TABLE_COMPAT
        }) as u8,
        a.protocol,
        0,
        a.kind as u8,
    ]);
    w.bytes(&0u32.to_ne_bytes());
    w.u32(RTA_TABLE, a.table);
    w.attr(RTA_DST, &ip_bytes(&a.dst));
    w.attr(RTA_SRC, &ip_bytes(&src));
    w.u32(RTA_IIF, iif);
    w.u32(RTA_PRIORITY, a.metric);
    if let Some(g) = &a.gateway {
        w.attr(RTA_GATEWAY, &ip_bytes(g));
    }
    w.u32(RTA_OIF, a.oif);
    cacheinfo(w, 2);
    w.u8(RTA_PREF, 0);
    w.end(start);
}

#[cfg(test)]
mod tests {
    use super::*;
    use netstack::inet::{rt_scope, rtprot};

    #[test]
    fn route_get_matches_the_strace_seed() {
        // strace of `ip route get 8.8.8.8`: 112 bytes, TABLE DST OIF PREFSRC GATEWAY UID CACHEINFO.
        let a = RouteAnswer {
            dst: "8.8.8.8".parse().unwrap(),
            src: None,
            kind: RouteType::Unicast,
            oif: 2,
            prefsrc: "192.168.0.120".parse().unwrap(),
            gateway: Some("192.168.0.1".parse().unwrap()),
            table: RT_TABLE_MAIN,
            metric: 0,
            protocol: rtprot::BOOT,
        };
        let q = Lookup {
            src: None,
            tos: 0,
            uid: 1000,
            out_loopback: false,
        };
        let mut w = Writer::new();
        fill_answer(&mut w, 24, 1535623917, 25403, &q, &a);
        assert_eq!(w.buf.len(), 112);
        let attrs = crate::nlmsg::Attrs::parse(&w.buf[28..]);
        let types: Vec<u16> = attrs.list.iter().map(|a| a.ty).collect();
        assert_eq!(
            types,
            [
                RTA_TABLE,
                RTA_DST,
                RTA_OIF,
                RTA_PREFSRC,
                RTA_GATEWAY,
                RTA_UID,
                RTA_CACHEINFO
            ]
        );
        assert_eq!(attrs.get(RTA_UID).unwrap().u32(), Ok(1000));
        assert_eq!(
            u32::from_ne_bytes(w.buf[24..28].try_into().unwrap()),
            RTM_F_CLONED
        );
    }

    fn r6(dst: &str, len: u8) -> Route {
        Route {
            dst: dst.parse().unwrap(),
            prefix_len: len,
            gateway: None,
            oif: 2,
            metric: 256,
            table: RT_TABLE_MAIN,
            kind: RouteType::Unicast,
            scope: 0,
            protocol: rtprot::KERNEL,
            prefsrc: None,
        }
    }

    #[test]
    fn ipv6_dump_order_is_the_radix_walk() {
        let rs = [
            r6("::", 0),
            r6("ff00::", 8),
            r6("fd00:9::2", 128),
            r6("::1", 128),
            r6("fd00:9::", 64),
        ];
        let mut v: Vec<&Route> = rs.iter().collect();
        dump_order(&mut v);
        let got: Vec<String> = v
            .iter()
            .map(|r| format!("{}/{}", r.dst, r.prefix_len))
            .collect();
        assert_eq!(
            got,
            [
                "::1/128",
                "fd00:9::2/128",
                "fd00:9::/64",
                "ff00::/8",
                "::/0"
            ]
        );
    }

    #[test]
    fn connected_route_layout() {
        let r = Route {
            dst: "10.9.0.0".parse().unwrap(),
            prefix_len: 24,
            gateway: None,
            oif: 2,
            metric: 0,
            table: RT_TABLE_MAIN,
            kind: RouteType::Unicast,
            scope: rt_scope::LINK,
            protocol: rtprot::KERNEL,
            prefsrc: Some("10.9.0.2".parse().unwrap()),
        };
        let mut w = Writer::new();
        fill(&mut w, 24, 2, 1, 0, &r);
        assert_eq!(w.buf.len(), 60);
        assert_eq!(&w.buf[16..24], &[2, 24, 0, 0, 254, 2, 253, 1]);
    }
}
