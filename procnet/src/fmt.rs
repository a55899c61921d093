//! The few printf conversions the kernel's /proc/net code uses, done the same way.

use netstack::inet::Interface;
use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

/// `%08X` of an IPv4 `__be32` as x86 prints it: the four bytes in memory order
/// read as a little-endian u32 (10.0.0.1 is `0100000A`).
pub fn v4_hex(out: &mut String, a: Ipv4Addr) {
    let _ = write!(out, "{:08X}", u32::from_le_bytes(a.octets()));
}

/// `%08X%08X%08X%08X` of `s6_addr32[0..4]`: each 32-bit word byte-swapped,
/// as tcp6, udp6 and raw6 print addresses on a little-endian machine.
pub fn v6_words(out: &mut String, a: Ipv6Addr) {
    for w in a.octets().chunks_exact(4) {
        let _ = write!(out, "{:08X}", u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
    }
}

/// `%pi6`: 32 lowercase hex digits in network order, no separators.
pub fn pi6(out: &mut String, a: Ipv6Addr) {
    let _ = write!(out, "{:032x}", u128::from(a));
}

/// `seq_setwidth(w)` + `seq_pad('\n')`: spaces up to `width` characters since
/// `start` (nothing if the line is already that long), then the newline.
pub fn pad_line(out: &mut String, start: usize, width: usize) {
    let len = out.len() - start;
    for _ in len..width {
        out.push(' ');
    }
    out.push('\n');
}

/// The interface with this ifindex.
pub fn iface(ifs: &[Interface], index: u32) -> Option<&Interface> {
    ifs.iter().find(|i| i.index == index)
}

/// Appends every row the runtime registered for `file`, each as one line.
/// `width` re-applies the file's `seq_pad` width, if it has one.
pub fn foreign_rows(snap: &netstack::Snapshot, file: &str, width: Option<usize>, out: &mut String) {
    for row in snap.foreign.iter().filter(|r| r.file == file) {
        let start = out.len();
        out.push_str(&row.line);
        match width {
            Some(w) => pad_line(out, start, w),
            None => out.push('\n'),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_orders_are_the_kernels() {
        let mut s = String::new();
        v4_hex(&mut s, Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(s, "0100000A");
        s.clear();
        v6_words(&mut s, "fd00:1::2".parse().unwrap());
        assert_eq!(s, "010000FD000000000000000002000000");
        s.clear();
        pi6(&mut s, "fd00:1::2".parse().unwrap());
        assert_eq!(s, "fd000001000000000000000000000002");
    }

    #[test]
    fn padding_counts_from_the_line_start_and_never_truncates() {
        let mut s = String::from("xx\n");
        let start = s.len();
        s.push_str("abc");
        pad_line(&mut s, start, 6);
        assert_eq!(s, "xx\nabc   \n");
        let start = s.len();
        s.push_str("abcdefgh");
        pad_line(&mut s, start, 6);
        assert_eq!(s, "xx\nabc   \nabcdefgh\n");
    }
}
