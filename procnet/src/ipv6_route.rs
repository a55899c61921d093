//! /proc/net/ipv6_route (net/ipv6/ip6_fib.c: ipv6_route_native_seq_show).

use crate::fmt::{iface, pi6};
use netstack::inet::{iff, Route, RouteType, RT_TABLE_LOCAL, RT_TABLE_MAIN};
use netstack::Snapshot;
use std::cmp::Ordering;
use std::fmt::Write;
use std::net::{IpAddr, Ipv6Addr};

const RTF_UP: u32 = 0x0001;
const RTF_GATEWAY: u32 = 0x0002;
const RTF_REJECT: u32 = 0x0200;
const RTF_NONEXTHOP: u32 = 0x0020_0000;
const RTF_LOCAL: u32 = 0x8000_0000;

/// Every IPv6 route of every table. Tables come in the order of the kernel's
/// table hash (id & 255: main, then local); within a table the routes come in
/// the order of the kernel's walk of its radix tree, which visits a node after
/// both of its subtrees (more specific prefixes first, a 0 bit before a 1 bit)
/// and the routes of one node by metric. A table with no ::/0 route ends with
/// its root's null entry (`ip6_null_entry`: reject, metric 0xffffffff, on lo).
pub fn render_ipv6_route(snap: &Snapshot, out: &mut String) {
    let mut tables: Vec<u32> = vec![RT_TABLE_MAIN, RT_TABLE_LOCAL];
    for r in &snap.routes {
        if r.dst.is_ipv6() && !tables.contains(&r.table) {
            tables.push(r.table);
        }
    }
    tables.sort_by_key(|t| (t & 0xff, *t));
    let lo = snap
        .interfaces
        .iter()
        .find(|i| i.flags & iff::LOOPBACK != 0)
        .map_or("lo", |i| i.name.as_str());
    for table in tables {
        let mut routes: Vec<(&Route, Ipv6Addr)> = snap
            .routes
            .iter()
            .filter(|r| r.table == table)
            .filter_map(|r| match r.dst {
                IpAddr::V6(d) => Some((r, d)),
                IpAddr::V4(_) => None,
            })
            .collect();
        routes.sort_by(|(a, da), (b, db)| {
            tree_order(*da, a.prefix_len, *db, b.prefix_len).then(a.metric.cmp(&b.metric))
        });
        let mut has_default = false;
        for (r, dst) in routes {
            has_default |= r.prefix_len == 0;
            let dev = iface(&snap.interfaces, r.oif).map_or("", |i| i.name.as_str());
            let gw = match r.gateway {
                Some(IpAddr::V6(g)) => Some(g),
                _ => None,
            };
            let mut flags = RTF_UP;
            if r.kind == RouteType::Local {
                flags |= RTF_LOCAL | RTF_NONEXTHOP;
            }
            if gw.is_some() {
                flags |= RTF_GATEWAY;
            }
            // refcnt: sandnet's table is the route's one holder; use: always 0 in 6.x.
            row(
                out,
                masked(dst, r.prefix_len),
                r.prefix_len,
                gw,
                r.metric,
                1,
                flags,
                dev,
            );
        }
        if !has_default {
            let flags = RTF_REJECT | RTF_NONEXTHOP;
            row(out, Ipv6Addr::UNSPECIFIED, 0, None, u32::MAX, 1, flags, lo);
        }
    }
    crate::fmt::foreign_rows(snap, "ipv6_route", None, out);
}

#[allow(clippy::too_many_arguments)]
fn row(
    out: &mut String,
    dst: Ipv6Addr,
    plen: u8,
    gw: Option<Ipv6Addr>,
    metric: u32,
    refcnt: u32,
    flags: u32,
    dev: &str,
) {
    pi6(out, dst);
    let _ = write!(out, " {plen:02x} ");
    // The source prefix (subtrees): sandnet has no source-specific routes.
    pi6(out, Ipv6Addr::UNSPECIFIED);
    out.push_str(" 00 ");
    pi6(out, gw.unwrap_or(Ipv6Addr::UNSPECIFIED));
    let _ = writeln!(
        out,
        " {metric:08x} {refcnt:08x} {:08x} {flags:08x} {dev:>8}",
        0
    );
}

fn masked(a: Ipv6Addr, plen: u8) -> Ipv6Addr {
    let plen = u32::from(plen.min(128));
    let m = if plen == 0 {
        0
    } else {
        u128::MAX << (128 - plen)
    };
    Ipv6Addr::from(u128::from(a) & m)
}

/// Post-order of a binary prefix tree: compare the bits both prefixes have;
/// if one prefix contains the other, the longer comes first.
fn tree_order(a: Ipv6Addr, la: u8, b: Ipv6Addr, lb: u8) -> Ordering {
    let n = u32::from(la.min(lb).min(128));
    let top = |x: Ipv6Addr| {
        if n == 0 {
            0
        } else {
            u128::from(x) >> (128 - n)
        }
    };
    top(a).cmp(&top(b)).then(lb.cmp(&la))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::*;

    #[test]
    fn tables_in_hash_order_routes_in_tree_order() {
        let text = crate::render("ipv6_route", &sample()).unwrap();
        let z = "00000000000000000000000000000000";
        let expect = [
            format!("fd000001000000000000000000000000 40 {z} 00 {z} 00000100 00000001 00000000 00000001     tun0"),
            format!("{z} 00 {z} 00 fd000001000000000000000000000001 00000400 00000001 00000000 00000003     tun0"),
            format!("00000000000000000000000000000001 80 {z} 00 {z} 00000000 00000001 00000000 80200001       lo"),
            format!("fd000001000000000000000000000002 80 {z} 00 {z} 00000000 00000001 00000000 80200001     tun0"),
            format!("ff000000000000000000000000000000 08 {z} 00 {z} 00000100 00000001 00000000 00000001     tun0"),
            format!("{z} 00 {z} 00 {z} ffffffff 00000001 00000000 00200200       lo"),
        ];
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines, expect.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn empty_tables_print_their_null_entries() {
        let mut snap = sample();
        snap.routes.clear();
        let text = crate::render("ipv6_route", &snap).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text
            .lines()
            .all(|l| l.contains(" ffffffff 00000001 00000000 00200200       lo")));
    }

    #[test]
    fn tree_order_is_post_order() {
        let p = |s: &str| s.parse::<Ipv6Addr>().unwrap();
        let mut v = [
            (p("::"), 0),
            (p("fd00::"), 16),
            (p("fd00:1::"), 64),
            (p("fd00:1::2"), 128),
            (p("2001:db8::"), 32),
            (p("fd00:8000::"), 32),
        ];
        v.sort_by(|a, b| tree_order(a.0, a.1, b.0, b.1));
        let order: Vec<u8> = v.iter().map(|x| x.1).collect();
        assert_eq!(order, [32, 128, 64, 32, 16, 0]);
        assert_eq!(v[0].0, p("2001:db8::"));
        assert_eq!(v[3].0, p("fd00:8000::"));
    }
}
