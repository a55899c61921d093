//! /proc/net/snmp6 (net/ipv6/proc.c: snmp6_seq_show, snmp6_seq_show_icmpv6msg).

use netstack::inet::{Icmp6, Ip6, Udp6, UdpLite6};
use netstack::Snapshot;
use std::fmt::Write;

fn line(out: &mut String, name: &str, v: u64) {
    let _ = writeln!(out, "{name:<32}\t{v}");
}

/// One `name<TAB>value` line per counter, names padded to 32: the Ip6 group,
/// the Icmp6 group (its named per-type counters included), then
/// `Icmp6{In,Out}TypeN` for every ICMPv6 type with a non-zero count, then
/// Udp6 and UdpLite6.
pub fn render_snmp6(snap: &Snapshot, out: &mut String) {
    let st = &snap.stats.snmp6;
    for (n, v) in Ip6::NAMES.iter().zip(st.ip6.values()) {
        line(out, n, v);
    }
    for (n, v) in Icmp6::NAMES.iter().zip(st.icmp6.values()) {
        line(out, n, v);
    }
    let m = &st.icmp6_msg;
    for (dir, counts) in [("In", &m.in_type), ("Out", &m.out_type)] {
        for (t, &v) in counts.iter().enumerate() {
            if v != 0 {
                line(out, &format!("Icmp6{dir}Type{t}"), v);
            }
        }
    }
    for (n, v) in Udp6::NAMES.iter().zip(st.udp6.values()) {
        line(out, n, v);
    }
    for (n, v) in UdpLite6::NAMES.iter().zip(st.udp_lite6.values()) {
        line(out, n, v);
    }
}

#[cfg(test)]
mod tests {
    use crate::testdata::*;

    #[test]
    fn named_lines_then_nonzero_types() {
        let mut snap = sample();
        snap.stats.snmp6.ip6.Ip6OutRequests = 1;
        snap.stats.snmp6.icmp6_msg.out_type[133] = 1;
        snap.stats.snmp6.icmp6_msg.in_type[128] = u64::MAX;
        let text = crate::render("snmp6", &snap).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[10], "Ip6OutRequests                  \t1");
        let i = lines
            .iter()
            .position(|l| l.starts_with("Icmp6OutMLDv2Reports"))
            .unwrap();
        assert_eq!(
            lines[i + 1],
            "Icmp6InType128                  \t18446744073709551615"
        );
        assert_eq!(lines[i + 2], "Icmp6OutType133                 \t1");
        assert!(lines[i + 3].starts_with("Udp6InDatagrams "));
        assert_eq!(
            lines.last().unwrap(),
            &"UdpLite6MemErrors               \t0"
        );
        assert_eq!(lines.len(), 33 + 36 + 2 + 9 + 8);
    }
}
