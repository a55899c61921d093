//! /proc/net/route (net/ipv4/fib_trie.c: fib_route_seq_show, fib_flag_trans).

use crate::fmt::{iface, pad_line, v4_hex};
use netstack::inet::{Route, RouteType, RT_TABLE_MAIN};
use netstack::Snapshot;
use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr};

const RTF_UP: u32 = 0x0001;
const RTF_GATEWAY: u32 = 0x0002;
const RTF_HOST: u32 = 0x0004;

/// The IPv4 main table, as the kernel walks its trie: by destination, then
/// longer prefixes first, then by metric. Broadcast and multicast entries are
/// left out, as are other tables. Every line, the header too, is padded to
/// 127 characters.
pub fn render_route(snap: &Snapshot, out: &mut String) {
    let start = out.len();
    out.push_str(
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT",
    );
    pad_line(out, start, 127);
    let mut routes: Vec<(&Route, Ipv4Addr)> = snap
        .routes
        .iter()
        .filter(|r| r.table == RT_TABLE_MAIN)
        .filter(|r| !matches!(r.kind, RouteType::Broadcast | RouteType::Multicast))
        .filter_map(|r| match r.dst {
            IpAddr::V4(d) => Some((r, d)),
            IpAddr::V6(_) => None,
        })
        .collect();
    routes.sort_by_key(|(r, d)| (u32::from(*d), std::cmp::Reverse(r.prefix_len), r.metric));
    for (r, dst) in routes {
        let start = out.len();
        let plen = u32::from(r.prefix_len.min(32));
        let mask = if plen == 0 {
            0
        } else {
            u32::MAX << (32 - plen)
        };
        let gw = match r.gateway {
            Some(IpAddr::V4(g)) => g,
            _ => Ipv4Addr::UNSPECIFIED,
        };
        let mut flags = RTF_UP;
        if r.gateway.is_some() {
            flags |= RTF_GATEWAY;
        }
        if plen == 32 {
            flags |= RTF_HOST;
        }
        let dev = iface(&snap.interfaces, r.oif).map_or("*", |i| i.name.as_str());
        out.push_str(dev);
        out.push('\t');
        v4_hex(out, Ipv4Addr::from(u32::from(dst) & mask));
        out.push('\t');
        v4_hex(out, gw);
        // Metric is the kernel's signed `%d` of fib_priority; MTU, Window and
        // IRTT come from route metrics sandnet does not set.
        let _ = write!(out, "\t{flags:04X}\t0\t0\t{}\t", r.metric as i32);
        v4_hex(out, Ipv4Addr::from(mask));
        out.push_str("\t0\t0\t0");
        pad_line(out, start, 127);
    }
    crate::fmt::foreign_rows(snap, "route", Some(127), out);
}

#[cfg(test)]
mod tests {
    use crate::testdata::*;

    #[test]
    fn main_table_rows_in_trie_order_with_flags_and_padding() {
        let text = crate::render("route", &sample()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.iter().all(|l| l.len() == 127), "{text}");
        let trimmed: Vec<&str> = lines.iter().map(|l| l.trim_end_matches(' ')).collect();
        assert_eq!(
            trimmed,
            [
                "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT",
                "tun0\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\t0\t0\t0",
                "tun0\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0",
                "tun0\t0000000A\t0100000A\t0003\t0\t0\t100\t000000FF\t0\t0\t0",
                "tun0\t0201A8C0\t0100000A\t0007\t0\t0\t5\tFFFFFFFF\t0\t0\t0",
            ]
        );
    }

    #[test]
    fn no_routes_is_the_header_alone() {
        let mut snap = sample();
        snap.routes.clear();
        let text = crate::render("route", &snap).unwrap();
        assert_eq!(text.lines().count(), 1);
        assert_eq!(text.len(), 128);
    }
}
