//! /proc/net/if_inet6 (net/ipv6/addrconf.c: if6_seq_show).

use crate::fmt::{iface, pi6};
use netstack::Snapshot;
use std::fmt::Write;
use std::net::{IpAddr, Ipv6Addr};

/// `ipv6_addr_scope`: the IPV6_ADDR_SCOPE_* type bits the kernel stores in
/// `ifp->scope` (0x10 loopback, 0x20 link, 0x40 site, 0 global).
fn scope(a: Ipv6Addr) -> u8 {
    let s = a.segments()[0];
    if a.is_loopback() {
        0x10
    } else if s & 0xffc0 == 0xfe80 {
        0x20
    } else if s & 0xffc0 == 0xfec0 {
        0x40
    } else {
        0x00
    }
}

/// One line per IPv6 address: address, ifindex, prefix length, scope, the low
/// byte of the IFA_F_* flags and the device name. (The kernel lists them in
/// the order of a per-namespace hash; sandnet in the order they were added.)
pub fn render_if_inet6(snap: &Snapshot, out: &mut String) {
    for a in &snap.addrs {
        let IpAddr::V6(addr) = a.addr else { continue };
        let dev = iface(&snap.interfaces, a.ifindex).map_or("", |i| i.name.as_str());
        pi6(out, addr);
        let _ = writeln!(
            out,
            " {:02x} {:02x} {:02x} {:02x} {:>8}",
            a.ifindex,
            a.prefix_len,
            scope(addr),
            a.flags as u8,
            dev
        );
    }
    crate::fmt::foreign_rows(snap, "if_inet6", None, out);
}

#[cfg(test)]
mod tests {
    use crate::testdata::*;

    #[test]
    fn addresses_with_index_prefix_scope_flags_and_name() {
        let text = crate::render("if_inet6", &sample()).unwrap();
        assert_eq!(
            text,
            "00000000000000000000000000000001 01 80 10 80       lo\n\
             fd000001000000000000000000000002 02 40 00 82     tun0\n\
             fe800000000000000000000000000abc 02 40 20 82     tun0\n"
        );
    }

    #[test]
    fn no_addresses_no_lines() {
        let mut snap = sample();
        snap.addrs.clear();
        assert_eq!(crate::render("if_inet6", &snap).unwrap(), "");
    }
}
