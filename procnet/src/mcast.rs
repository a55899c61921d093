//! Multicast memberships: /proc/net/igmp (net/ipv4/igmp.c: igmp_mc_seq_show),
//! /proc/net/igmp6 (net/ipv6/mcast.c: igmp6_mc_seq_show) and
//! /proc/net/dev_mcast (net/core/dev_addr_lists.c via net-procfs.c: dev_mc_seq_show).
//!
//! sandnet's sockets join no groups, so the memberships are the ones the
//! kernel's own address configuration makes, derived the same way:
//! - IPv4: 224.0.0.1 (all hosts) on every interface that is up (ip_mc_up;
//!   ip_mc_down leaves it).
//! - IPv6: ff01::1 then ff02::1 (interface- and link-local all nodes) on
//!   every IPv6-capable interface (MTU >= 1280), up or down (ipv6_add_dev),
//!   listed newest first. The solicited-node groups of addresses are joined
//!   only on devices that do ARP/ND, and every sandnet link is loopback or
//!   NOARP, so there are none.
//! - Link-layer (dev_mcast): sandnet's links carry bare IP and have no
//!   link-layer multicast list, so the file has no rows.

use crate::fmt::{pi6, v4_hex};
use netstack::inet::iff;
use netstack::Snapshot;
use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

const IPV6_MIN_MTU: u32 = 1280;
const IPV4_MIN_MTU: u32 = 68;

/// ifmcaddr6 flags (include/net/if_inet6.h).
const MAF_LOADED: u32 = 0x04;
const MAF_NOREPORT: u32 = 0x08;

pub fn render_igmp(snap: &Snapshot, out: &mut String) {
    out.push_str("Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n");
    for i in &snap.interfaces {
        if i.flags & iff::UP == 0 || i.mtu < IPV4_MIN_MTU {
            continue;
        }
        let groups = [Ipv4Addr::new(224, 0, 0, 1)];
        let _ = writeln!(
            out,
            "{}\t{:<10}: {:5} {:>7}",
            i.index,
            i.name,
            groups.len(),
            "V3"
        );
        for g in groups {
            out.push_str("\t\t\t\t");
            v4_hex(out, g);
            // users, timer running:expiry, reporter (all-hosts is never reported)
            let _ = writeln!(out, " {:5} {}:{:08X}\t\t{}", 1, 0, 0, 0);
        }
    }
    crate::fmt::foreign_rows(snap, "igmp", None, out);
}

pub fn render_igmp6(snap: &Snapshot, out: &mut String) {
    for i in &snap.interfaces {
        if i.mtu < IPV6_MIN_MTU {
            continue;
        }
        let groups = [
            (
                Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1),
                MAF_LOADED | MAF_NOREPORT,
            ),
            // Interface-local scope is below link-local: never loaded into the device.
            (Ipv6Addr::new(0xff01, 0, 0, 0, 0, 0, 0, 1), MAF_NOREPORT),
        ];
        for (g, flags) in groups {
            let _ = write!(out, "{:<4} {:<15} ", i.index, i.name);
            pi6(out, g);
            let _ = writeln!(out, " {:5} {flags:08X} {}", 1, 0);
        }
    }
    crate::fmt::foreign_rows(snap, "igmp6", None, out);
}

pub fn render_dev_mcast(snap: &Snapshot, out: &mut String) {
    crate::fmt::foreign_rows(snap, "dev_mcast", None, out);
}

#[cfg(test)]
mod tests {
    use crate::testdata::*;
    use netstack::inet::iff;

    #[test]
    fn all_hosts_and_all_nodes_per_interface() {
        let mut snap = sample();
        assert_eq!(
            crate::render("igmp", &snap).unwrap(),
            "Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n\
             1\tlo        :     1      V3\n\t\t\t\t010000E0     1 0:00000000\t\t0\n\
             2\ttun0      :     1      V3\n\t\t\t\t010000E0     1 0:00000000\t\t0\n"
        );
        assert_eq!(
            crate::render("igmp6", &snap).unwrap(),
            "1    lo              ff020000000000000000000000000001     1 0000000C 0\n\
             1    lo              ff010000000000000000000000000001     1 00000008 0\n\
             2    tun0            ff020000000000000000000000000001     1 0000000C 0\n\
             2    tun0            ff010000000000000000000000000001     1 00000008 0\n"
        );
        // Down: no IPv4 membership; IPv6's stay. A small MTU: no IPv6 at all.
        snap.interfaces[1].flags &= !iff::UP;
        snap.interfaces[1].mtu = 576;
        assert_eq!(crate::render("igmp", &snap).unwrap().lines().count(), 3);
        assert_eq!(crate::render("igmp6", &snap).unwrap().lines().count(), 2);
        assert_eq!(crate::render("dev_mcast", &snap).unwrap(), "");
    }

    #[test]
    fn fifteen_character_names_keep_their_columns() {
        let mut snap = sample();
        snap.interfaces[1].name = "fifteen-chars-x".into();
        let igmp6 = crate::render("igmp6", &snap).unwrap();
        assert!(igmp6.contains("\n2    fifteen-chars-x ff02"));
        let igmp = crate::render("igmp", &snap).unwrap();
        assert!(igmp.contains("\n2\tfifteen-chars-x:     1      V3\n"));
    }
}
