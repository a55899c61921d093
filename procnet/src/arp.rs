//! /proc/net/arp (net/ipv4/arp.c: arp_seq_show).

use netstack::Snapshot;

/// The neighbour table. sandnet's links carry bare IP (TUN, pipe, loopback),
/// so, as for a kernel with only such devices, it has no ARP entries: the
/// header, then any rows the runtime registered.
pub fn render_arp(snap: &Snapshot, out: &mut String) {
    out.push_str(
        "IP address       HW type     Flags       HW address            Mask     Device\n",
    );
    crate::fmt::foreign_rows(snap, "arp", None, out);
}

#[cfg(test)]
mod tests {
    #[test]
    fn header_only_without_neighbours() {
        let text = crate::render("arp", &crate::testdata::sample()).unwrap();
        assert_eq!(
            text,
            "IP address       HW type     Flags       HW address            Mask     Device\n"
        );
    }
}
