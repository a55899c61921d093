//! /proc/net/snmp (net/ipv4/proc.c: snmp_seq_show_ipstats, icmp_put,
//! icmpmsg_put, snmp_seq_show_tcp_udp).

use netstack::inet::IcmpMsg;
use netstack::Snapshot;
use std::fmt::Write;

/// Writes `Prefix: name name ...` then `Prefix: value value ...`, each line
/// started with a newline as the kernel does (so the file's first line is
/// written without one).
pub(crate) fn pair(out: &mut String, prefix: &str, names: &[&str], values: &[String]) {
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str(prefix);
    out.push(':');
    for n in names {
        out.push(' ');
        out.push_str(n);
    }
    out.push('\n');
    out.push_str(prefix);
    out.push(':');
    for v in values {
        out.push(' ');
        out.push_str(v);
    }
}

fn unsigned(values: Vec<u64>) -> Vec<String> {
    values.into_iter().map(|v| v.to_string()).collect()
}

/// The Ip, Icmp, IcmpMsg, Tcp, Udp and UdpLite groups: a names line and a
/// values line each. IcmpMsg lists only the ICMP types with a non-zero count,
/// In types then Out types, at most 16 to a line pair, and is absent when all
/// are zero. Tcp's MaxConn is signed (-1).
pub fn render_snmp(snap: &Snapshot, out: &mut String) {
    // The kernel's lines start with '\n'; render into a fresh buffer so the
    // first has none, whatever `out` already holds.
    let mut s = String::new();
    let st = &snap.stats.snmp;
    pair(
        &mut s,
        "Ip",
        netstack::inet::Ip::NAMES,
        &unsigned(st.ip.values()),
    );
    pair(
        &mut s,
        "Icmp",
        netstack::inet::Icmp::NAMES,
        &unsigned(st.icmp.values()),
    );
    icmp_msg(&mut s, &st.icmp_msg);
    let tcp: Vec<String> = netstack::inet::Tcp::NAMES
        .iter()
        .zip(st.tcp.values())
        .map(|(n, v)| {
            if *n == "MaxConn" {
                (v as i64).to_string()
            } else {
                v.to_string()
            }
        })
        .collect();
    pair(&mut s, "Tcp", netstack::inet::Tcp::NAMES, &tcp);
    pair(
        &mut s,
        "Udp",
        netstack::inet::Udp::NAMES,
        &unsigned(st.udp.values()),
    );
    pair(
        &mut s,
        "UdpLite",
        netstack::inet::UdpLite::NAMES,
        &unsigned(st.udp_lite.values()),
    );
    s.push('\n');
    out.push_str(&s);
}

fn icmp_msg(s: &mut String, m: &IcmpMsg) {
    const PERLINE: usize = 16;
    let nonzero: Vec<(String, u64)> = (0..256)
        .filter(|&t| m.in_type[t] != 0)
        .map(|t| (format!("InType{t}"), m.in_type[t]))
        .chain(
            (0..256)
                .filter(|&t| m.out_type[t] != 0)
                .map(|t| (format!("OutType{t}"), m.out_type[t])),
        )
        .collect();
    for chunk in nonzero.chunks(PERLINE) {
        s.push_str("\nIcmpMsg:");
        for (n, _) in chunk {
            let _ = write!(s, " {n}");
        }
        s.push_str("\nIcmpMsg:");
        for (_, v) in chunk {
            let _ = write!(s, " {v}");
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::testdata::*;

    #[test]
    fn groups_in_order_with_real_values() {
        let mut snap = sample();
        snap.stats.snmp.ip.InReceives = 42;
        snap.stats.snmp.icmp.InEchos = 3;
        snap.stats.snmp.tcp.ActiveOpens = 7;
        snap.stats.snmp.udp.MemErrors = u64::MAX;
        let text = crate::render("snmp", &snap).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 10);
        let heads: Vec<&str> = lines.iter().map(|l| l.split(':').next().unwrap()).collect();
        assert_eq!(
            heads,
            ["Ip", "Ip", "Icmp", "Icmp", "Tcp", "Tcp", "Udp", "Udp", "UdpLite", "UdpLite"]
        );
        assert!(lines[1].starts_with("Ip: 2 64 42 0 "));
        assert!(lines[5].starts_with("Tcp: 1 200 120000 -1 7 "));
        assert!(lines[7].ends_with(" 18446744073709551615"));
        assert!(text.ends_with("\n") && !text.ends_with("\n\n"));
    }

    #[test]
    fn icmp_msg_lists_nonzero_types_sixteen_to_a_line() {
        let mut snap = sample();
        snap.stats.snmp.icmp_msg.in_type[8] = 3;
        snap.stats.snmp.icmp_msg.out_type[0] = 3;
        let text = crate::render("snmp", &snap).unwrap();
        assert!(
            text.contains("\nIcmpMsg: InType8 OutType0\nIcmpMsg: 3 3\nTcp:"),
            "{text}"
        );
        for t in 0..20 {
            snap.stats.snmp.icmp_msg.out_type[t] = 1;
        }
        let text = crate::render("snmp", &snap).unwrap();
        let msg: Vec<&str> = text.lines().filter(|l| l.starts_with("IcmpMsg:")).collect();
        assert_eq!(msg.len(), 4);
        assert_eq!(msg[0].split(' ').count(), 17);
        assert_eq!(
            msg[2],
            "IcmpMsg: OutType15 OutType16 OutType17 OutType18 OutType19"
        );
    }
}
