//! /proc/net/netstat (net/ipv4/proc.c: netstat_seq_show; net/mptcp/mib.c).

use crate::snmp::pair;
use netstack::inet::{IpExt, MPTcpExt, TcpExt};
use netstack::Snapshot;

/// TcpExt, IpExt and MPTcpExt: a names line and a values line each.
pub fn render_netstat(snap: &Snapshot, out: &mut String) {
    let st = &snap.stats.snmp;
    let v = |x: Vec<u64>| x.into_iter().map(|v| v.to_string()).collect::<Vec<_>>();
    let mut s = String::new();
    pair(&mut s, "TcpExt", TcpExt::NAMES, &v(st.tcp_ext.values()));
    pair(&mut s, "IpExt", IpExt::NAMES, &v(st.ip_ext.values()));
    pair(
        &mut s,
        "MPTcpExt",
        MPTcpExt::NAMES,
        &v(st.mptcp_ext.values()),
    );
    s.push('\n');
    out.push_str(&s);
}

#[cfg(test)]
mod tests {
    use crate::testdata::*;

    #[test]
    fn three_groups_names_then_values() {
        let mut snap = sample();
        snap.stats.snmp.ip_ext.InOctets = 1500;
        snap.stats.snmp.tcp_ext.TCPAODroppedIcmps = u64::MAX;
        let text = crate::render("netstat", &snap).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 6);
        assert!(lines[0].starts_with("TcpExt: SyncookiesSent SyncookiesRecv "));
        assert!(lines[1].ends_with(" 18446744073709551615"));
        assert_eq!(lines[0].split(' ').count(), lines[1].split(' ').count());
        assert!(lines[3].starts_with("IpExt: 0 0 0 0 0 0 1500 0 "));
        assert!(lines[4].starts_with("MPTcpExt: MPCapableSYNRX "));
        assert!(text.ends_with("0\n"));
    }
}
