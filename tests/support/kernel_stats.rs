//! The kernel's counters, read from a namespace's /proc/net files into a
//! sandnet `Statistics`, for tests that show the same numbers to tools.
#![allow(dead_code)]

use sandnet::netstack::inet::{DevStats, IcmpMsg, Statistics};
use sandnet::netstack::os::netns::NetNs;

fn num(v: &str) -> u64 {
    // Tcp MaxConn is signed (-1); keep its two's-complement bits.
    v.parse::<u64>()
        .or_else(|_| v.parse::<i64>().map(|n| n as u64))
        .unwrap_or_else(|_| panic!("not a counter: {v:?}"))
}

fn msg_type(m: &mut IcmpMsg, name: &str, v: u64) -> bool {
    if let Some(t) = name.strip_prefix("InType") {
        m.in_type[t.parse::<usize>().unwrap()] = v;
    } else if let Some(t) = name.strip_prefix("OutType") {
        m.out_type[t.parse::<usize>().unwrap()] = v;
    } else {
        return false;
    }
    true
}

pub fn read(ns: &NetNs, dev_names: &[(u32, &str)]) -> Statistics {
    let mut st = Statistics::default();
    for file in ["snmp", "netstat"] {
        let text = ns.read_file(&format!("/proc/net/{file}")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for pair in lines.chunks(2) {
            let (group, names) = pair[0].split_once(": ").unwrap();
            let values = pair[1].split_once(": ").unwrap().1;
            for (n, v) in names.split(' ').zip(values.split(' ')) {
                let v = num(v);
                let s = &mut st.snmp;
                let known = match group {
                    "Ip" => s.ip.set(n, v),
                    "Icmp" => s.icmp.set(n, v),
                    "IcmpMsg" => msg_type(&mut s.icmp_msg, n, v),
                    "Tcp" => s.tcp.set(n, v),
                    "Udp" => s.udp.set(n, v),
                    "UdpLite" => s.udp_lite.set(n, v),
                    "TcpExt" => s.tcp_ext.set(n, v),
                    "IpExt" => s.ip_ext.set(n, v),
                    "MPTcpExt" => s.mptcp_ext.set(n, v),
                    _ => false,
                };
                assert!(known, "{file}: {group}:{n} has no counter in sandnet");
            }
        }
    }
    let text = ns.read_file("/proc/net/snmp6").unwrap();
    for l in text.lines() {
        let (n, v) = l.split_once('\t').unwrap();
        let (n, v) = (n.trim_end(), num(v));
        let s = &mut st.snmp6;
        let known = if let Some(t) = n.strip_prefix("Icmp6") {
            (msg_type(&mut s.icmp6_msg, t, v)) || s.icmp6.set(n, v)
        } else {
            s.ip6.set(n, v) || s.udp6.set(n, v) || s.udp_lite6.set(n, v)
        };
        assert!(known, "snmp6: {n} has no counter in sandnet");
    }
    let text = ns.read_file("/proc/net/dev").unwrap();
    for l in text.lines().skip(2) {
        let (name, values) = l.split_once(':').unwrap();
        let Some(&(index, _)) = dev_names.iter().find(|(_, n)| *n == name.trim()) else {
            continue;
        };
        let mut d = DevStats::default();
        for (n, v) in DevStats::NAMES.iter().zip(values.split_whitespace()) {
            assert!(d.set(n, num(v)));
        }
        st.dev.insert(index, d);
    }
    st
}
