//! /proc/net/dev (net/core/net-procfs.c: dev_seq_show, dev_seq_printf_stats).

use netstack::inet::DevStats;
use netstack::Snapshot;
use std::fmt::Write;

const HEADER: &str = "Inter-|   Receive                                                |  Transmit\n \
face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n";

/// One row per interface, in ifindex order (the kernel's device list order),
/// with the 16 counters the stack keeps at each link.
pub fn render_dev(snap: &Snapshot, out: &mut String) {
    out.push_str(HEADER);
    for i in &snap.interfaces {
        let s = snap.stats.dev.get(&i.index).copied().unwrap_or_default();
        row(out, &i.name, &s);
    }
    crate::fmt::foreign_rows(snap, "dev", None, out);
}

fn row(out: &mut String, name: &str, s: &DevStats) {
    let _ = writeln!(
        out,
        "{:>6}: {:>7} {:>7} {:>4} {:>4} {:>4} {:>5} {:>10} {:>9} {:>8} {:>7} {:>4} {:>4} {:>4} {:>5} {:>7} {:>10}",
        name,
        s.rx_bytes,
        s.rx_packets,
        s.rx_errs,
        s.rx_drop,
        s.rx_fifo,
        s.rx_frame,
        s.rx_compressed,
        s.rx_multicast,
        s.tx_bytes,
        s.tx_packets,
        s.tx_errs,
        s.tx_drop,
        s.tx_fifo,
        s.tx_colls,
        s.tx_carrier,
        s.tx_compressed,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::*;

    #[test]
    fn rows_follow_the_kernels_widths() {
        let snap = sample();
        let text = crate::render("dev", &snap).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(
            lines[2],
            "    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0"
        );
        assert_eq!(
            lines[3],
            "  tun0:    1234      10    1    2    3     4          5         6     5678      20    7    8    9    10      11         12"
        );
    }

    #[test]
    fn long_names_and_huge_counters_widen_the_row_without_panicking() {
        let mut snap = sample();
        snap.interfaces[1].name = "fifteen-chars-x".into();
        let max = DevStats {
            rx_bytes: u64::MAX,
            tx_compressed: u64::MAX,
            ..DevStats::default()
        };
        snap.stats.dev.insert(2, max);
        let text = crate::render("dev", &snap).unwrap();
        let last = text.lines().last().unwrap();
        assert!(
            last.starts_with("fifteen-chars-x: 18446744073709551615 "),
            "{last}"
        );
        assert!(last.ends_with(" 18446744073709551615"));
        assert_eq!(last.split_whitespace().count(), 17);
    }
}
