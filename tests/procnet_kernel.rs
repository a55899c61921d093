//! procnet against the live kernel: the same network state in a private
//! namespace and in a Stack, the same sockets open in both (real stack
//! sockets: see `ProcnetBed::open_sockets`), every /proc/net file compared
//! line by line. Masked only where the two must differ: live counters,
//! kernel pointers, socket inodes, the hash slot `sl`, ipv6_route's refcnt,
//! the TCP timers of a live connection, the UDP rx_queue of a queued datagram
//! (skb truesize in the kernel), and the host-wide TCP/UDP memory and
//! allocation counts.
//! Needs root: skipped with a reason otherwise, a failure under CI=true.

mod support;

use sandnet::netstack::inet::{tcp_state, SocketInfo, SocketKind};
use sandnet::netstack::Snapshot;
use socket2::{Domain, Protocol, Socket, Type};
use support::procnet_bed::{build, ProcnetBed, DATAGRAM};
use support::root::have_root;

fn kernel(bed: &ProcnetBed, name: &str) -> String {
    bed.ns
        .read_file(&format!("/proc/net/{name}"))
        .unwrap_or_else(|e| panic!("/proc/net/{name}: {e}"))
}

fn ours(snap: &Snapshot, name: &str) -> String {
    procnet::render(name, snap).unwrap_or_else(|| panic!("procnet has no {name}"))
}

/// Replaces the whitespace-separated fields at `idx` with `*`, keeping every
/// separator as it was.
fn mask_fields(line: &str, idx: &[usize]) -> String {
    let mut out = String::new();
    let mut field = 0;
    let mut in_field = false;
    for c in line.chars() {
        if c == ' ' || c == '\t' {
            if in_field {
                field += 1;
            }
            in_field = false;
            out.push(c);
        } else {
            if !in_field && idx.contains(&field) {
                out.push('*');
            } else if !idx.contains(&field) {
                out.push(c);
            }
            in_field = true;
        }
    }
    out
}

/// Like `mask_fields`, for right-aligned columns whose width the masked
/// value decides: the padding before each masked field goes with it.
fn mask_aligned(line: &str, idx: &[usize]) -> String {
    let masked = mask_fields(line, idx);
    let mut out = String::new();
    let mut pending = String::new();
    for c in masked.chars() {
        if c == ' ' {
            pending.push(c);
        } else {
            if c == '*' && !pending.is_empty() {
                pending = " ".into();
            }
            out.push_str(&pending);
            pending.clear();
            out.push(c);
        }
    }
    out + &pending
}

/// Compares two files line by line, exactly, with a readable failure.
fn same(name: &str, k: &str, o: &str) {
    if k != o {
        let kl: Vec<&str> = k.split_inclusive('\n').collect();
        let ol: Vec<&str> = o.split_inclusive('\n').collect();
        for i in 0..kl.len().max(ol.len()) {
            let (a, b) = (kl.get(i), ol.get(i));
            if a != b {
                panic!("{name}: line {i} differs\nkernel: {a:?}\nstack:  {b:?}\n--- kernel\n{k}--- stack\n{o}");
            }
        }
    }
}

/// A file whose content must match exactly.
fn exact(bed: &ProcnetBed, snap: &Snapshot, name: &str) {
    same(name, &kernel(bed, name), &ours(snap, name));
}

fn tables(bed: &ProcnetBed, snap: &Snapshot) {
    exact(bed, snap, "route");
    for l in ours(snap, "route").lines() {
        assert_eq!(l.len(), 127, "route lines are padded to 127");
    }
    // ipv6_route: refcnt counts the kernel's internal references.
    let k = kernel(bed, "ipv6_route");
    let o = ours(snap, "ipv6_route");
    let m = |t: &str| {
        t.lines()
            .map(|l| mask_fields(l, &[6]) + "\n")
            .collect::<String>()
    };
    same("ipv6_route", &m(&k), &m(&o));
    assert_eq!(k.lines().count(), o.lines().count());
    // if_inet6: the kernel's order follows a per-namespace hash.
    let sorted = |t: &str| {
        let mut v: Vec<&str> = t.split_inclusive('\n').collect();
        v.sort();
        v.concat()
    };
    same(
        "if_inet6",
        &sorted(&kernel(bed, "if_inet6")),
        &sorted(&ours(snap, "if_inet6")),
    );
    for f in ["igmp", "igmp6", "dev_mcast", "arp", "psched"] {
        exact(bed, snap, f);
    }
}

fn dev(bed: &ProcnetBed, snap: &Snapshot) {
    let k = kernel(bed, "dev");
    let o = ours(snap, "dev");
    let (kl, ol): (Vec<&str>, Vec<&str>) = (k.lines().collect(), o.lines().collect());
    assert_eq!(kl[..2], ol[..2], "dev headers");
    assert_eq!(kl.len(), ol.len(), "one row per interface\n{k}\n{o}");
    for (a, b) in kl[2..].iter().zip(&ol[2..]) {
        // The `%6s:` name column, then 16 counters (live: masked).
        assert_eq!(a.split_once(':').unwrap().0, b.split_once(':').unwrap().0);
        for l in [a, b] {
            let nums = l.split_once(':').unwrap().1.split_whitespace();
            assert_eq!(nums.filter(|n| n.parse::<u64>().is_ok()).count(), 16, "{l}");
        }
    }
    assert!(o.ends_with('\n'));
}

/// Names lines exact; value lines with the same number of values, the
/// constants (Forwarding, DefaultTTL, RtoAlgorithm, RtoMin, RtoMax, MaxConn)
/// exact and live counters masked. IcmpMsg lines list whichever ICMP types
/// have been counted, so they are left out.
fn counters(bed: &ProcnetBed, snap: &Snapshot) {
    for name in ["snmp", "netstat"] {
        let k = kernel(bed, name);
        let o = ours(snap, name);
        let strip = |t: &str| -> Vec<String> {
            let lines: Vec<&str> = t.lines().filter(|l| !l.starts_with("IcmpMsg:")).collect();
            lines
                .chunks(2)
                .flat_map(|pair| {
                    let keep = match pair[0].split(':').next().unwrap() {
                        "Ip" => 2,
                        "Tcp" => 4,
                        _ => 0,
                    };
                    let values: Vec<String> = pair[1]
                        .split(' ')
                        .enumerate()
                        .map(|(i, v)| {
                            if i == 0 || i <= keep {
                                v.to_string()
                            } else {
                                "N".into()
                            }
                        })
                        .collect();
                    [pair[0].to_string(), values.join(" ")]
                })
                .collect()
        };
        same(
            name,
            &(strip(&k).join("\n") + "\n"),
            &(strip(&o).join("\n") + "\n"),
        );
        assert!(k.ends_with("\n") && o.ends_with("\n") && !o.ends_with("\n\n"));
    }
    let k = kernel(bed, "snmp6");
    let o = ours(snap, "snmp6");
    let names = |t: &str| -> String {
        t.lines()
            .filter(|l| !l.contains("Type"))
            .map(|l| {
                let (n, v) = l
                    .split_once('\t')
                    .unwrap_or_else(|| panic!("snmp6 line {l:?}"));
                assert_eq!(n.len(), 32, "names padded to 32: {l:?}");
                assert!(v.parse::<u64>().is_ok(), "{l:?}");
                format!("{n}\n")
            })
            .collect()
    };
    same("snmp6", &names(&k), &names(&o));
}

/// Headers equal (trailing spaces included), `n` rows on each side, and the
/// rows, masked, equal as sets.
fn rows_match(name: &str, k: &str, o: &str, mask: &dyn Fn(&str) -> String, n: usize) {
    let split = |t: &str| -> (String, Vec<String>) {
        let mut lines = t.lines();
        let header = lines.next().unwrap().to_string();
        let mut rows: Vec<String> = lines.map(mask).collect();
        rows.sort();
        (header, rows)
    };
    let (kh, kr) = split(k);
    let (oh, or) = split(o);
    assert_eq!(kh, oh, "{name} header, trailing spaces included");
    assert_eq!(kr.len(), n, "{name}: the kernel's rows\n{k}");
    assert_eq!(kr, or, "{name} rows\n--- kernel\n{k}--- stack\n{o}");
    assert!(
        k.ends_with('\n') && o.ends_with('\n'),
        "{name} final newline"
    );
}

/// The socket files, both sides holding the sockets of `open_sockets`.
/// Rows compare as sets, masked where the two must differ:
/// - `sl` (field 0): a hash slot for the datagram tables, mixed with a
///   per-namespace random value in the kernel; a row counter for TCP, whose
///   row order within a hash bucket is the kernel's;
/// - the inode (9): each side numbers its own sockets;
/// - the pointer (11): a kernel address (zeros from the stack);
/// - on established TCP rows, the live timers rto (12), ato (13) and
///   quick/pingpong (14), which follow each side's round-trip estimates and
///   ACK pattern;
/// - known stack difference (netstack's socket rows, not procnet): snd_cwnd
///   (15) on the client's row. The client has sent `UNREAD` and had it
///   acknowledged; the kernel's slow start has grown its window from 10 to
///   11, while the stack reports the initial window, 10, whatever happens
///   (smoltcp does not expose its congestion window).
///
/// Ports need no mask: the kernel's client port and ping idents are the ones
/// the stack picked (see `open_sockets`). uid is root's on both sides.
/// tx_queue and rx_queue are compared: the accepted end holds `UNREAD`, and
/// TCP counts queued bytes on both sides (rcv_nxt - copied_seq).
fn sockets(bed: &ProcnetBed, snap: &Snapshot) {
    let tcp_mask = |l: &str| -> String {
        let f: Vec<&str> = l.split_whitespace().collect();
        let idx: &[usize] = match (f[3], f[2].ends_with(":1F90")) {
            ("01", true) => &[0, 9, 11, 12, 13, 14, 15],
            ("01", false) => &[0, 9, 11, 12, 13, 14],
            _ => &[0, 9, 11],
        };
        mask_fields(l.trim_start(), idx).trim_end().to_string()
    };
    let dgram_mask = |l: &str| {
        mask_fields(l.trim_start(), &[0, 9, 11])
            .trim_end()
            .to_string()
    };
    // (file, line width, rows on each side)
    for (name, width, n) in [
        ("tcp", Some(149), 3),
        ("tcp6", None, 1),
        ("udp", Some(127), 1),
        ("udp6", None, 1),
        ("icmp", Some(127), 1),
        ("icmp6", None, 1),
        // The stack has no raw sockets, and the namespace opens none here:
        // the whole file is the header on both sides (`raw_rows` checks
        // the row format).
        ("raw", None, 0),
        ("raw6", None, 0),
        ("udplite", Some(127), 0),
        ("udplite6", None, 0),
    ] {
        let mask: &dyn Fn(&str) -> String = if name.starts_with("tcp") {
            &tcp_mask
        } else {
            &dgram_mask
        };
        let k = kernel(bed, name);
        let o = ours(snap, name);
        rows_match(name, &k, &o, mask, n);
        for (side, text) in [("kernel", &k), ("stack", &o)] {
            for l in text.lines() {
                match width {
                    Some(w) => assert_eq!(l.len(), w, "{name} ({side}) padded to {w}: {l:?}"),
                    None => assert!(!l.ends_with(' '), "{name} ({side}) unpadded: {l:?}"),
                }
            }
        }
    }
    let k = kernel(bed, "sockstat");
    let o = ours(snap, "sockstat");
    // orphan, alloc and mem are host-wide in the kernel; `sockets: used`
    // also counts the namespace's own kernel sockets and the TUN's helpers,
    // so the kernel's is at least the stack's.
    let used = |t: &str| -> u64 { t.split_whitespace().nth(2).unwrap().parse().unwrap() };
    assert!(used(&k) >= used(&o), "sockets: used\n{k}\n{o}");
    let m = |t: &str| -> String {
        t.lines()
            .map(|l| match l.split(':').next() {
                Some("sockets") => mask_fields(l, &[2]) + "\n",
                Some("TCP") => mask_fields(l, &[4, 8, 10]) + "\n",
                Some("UDP") => mask_fields(l, &[4]) + "\n",
                _ => format!("{l}\n"),
            })
            .collect()
    };
    same("sockstat", &m(&k), &m(&o));
    exact(bed, snap, "sockstat6");
    // protocols: the memory column is host-wide.
    let m = |t: &str| -> String { t.lines().map(|l| mask_aligned(l, &[3]) + "\n").collect() };
    same(
        "protocols",
        &m(&kernel(bed, "protocols")),
        &m(&ours(snap, "protocols")),
    );
}

fn others(bed: &ProcnetBed, snap: &Snapshot) {
    // The kernel keeps its own netlink sockets in every namespace; the
    // stack's files list only registered rows. Headers must match.
    for name in ["unix", "packet", "netlink", "ptype"] {
        let k = kernel(bed, name);
        let o = ours(snap, name);
        assert_eq!(k.lines().next(), o.lines().next(), "{name} header");
        // Every stack row is a kernel row, in the kernel's order.
        let klines: Vec<&str> = k.lines().collect();
        let mut at = 0;
        for l in o.lines().skip(1) {
            let pos = klines[at..].iter().position(|x| *x == l);
            assert!(
                pos.is_some(),
                "{name}: {l:?} not in the kernel's file after line {at}\n{k}"
            );
            at += pos.unwrap() + 1;
        }
    }
}

#[test]
fn procnet_matches_the_kernel_for_the_same_state() {
    if !have_root("procnet_matches_the_kernel_for_the_same_state") {
        return;
    }
    let mut bed = build();
    bed.open_sockets();
    let snap = bed.stack.snapshot();
    // Every file procnet knows is one the kernel has.
    for (name, _) in procnet::FILES {
        kernel(&bed, name);
    }
    tables(&bed, &snap);
    dev(&bed, &snap);
    counters(&bed, &snap);
    sockets(&bed, &snap);
    others(&bed, &snap);
    // Rendering twice with nothing in between gives the same text.
    for (name, _) in procnet::FILES {
        assert_eq!(ours(&snap, name), ours(&snap, name), "{name}");
    }
    queued_datagrams(&bed);
    raw_rows(&bed);
}

/// UDP rows with a datagram queued on each side. rx_queue must differ: the
/// kernel counts the queued skb's truesize (sk_rmem_alloc), the stack the
/// payload bytes. So that column is checked apart: payload bytes in the
/// stack, at least that in the kernel; the rest of each row compares as in
/// `sockets`.
fn queued_datagrams(bed: &ProcnetBed) {
    bed.queue_datagrams();
    let snap = bed.stack.snapshot();
    let rx = |l: &str| -> u32 {
        let q = l.split_whitespace().nth(4).unwrap();
        u32::from_str_radix(q.split_once(':').unwrap().1, 16).unwrap()
    };
    let mask = |l: &str| {
        let l = l.trim_start();
        let q = l.split_whitespace().nth(4).unwrap();
        let masked = q.split_once(':').unwrap().0.to_string() + ":*";
        mask_fields(l, &[0, 9, 11])
            .replacen(q, &masked, 1)
            .trim_end()
            .to_string()
    };
    for name in ["udp", "udp6"] {
        let k = kernel(bed, name);
        let o = ours(&snap, name);
        rows_match(name, &k, &o, &mask, 1);
        let (kq, oq) = (rx(k.lines().nth(1).unwrap()), rx(o.lines().nth(1).unwrap()));
        assert_eq!(
            oq as usize,
            DATAGRAM.len(),
            "{name}: the stack's rx_queue\n{o}"
        );
        assert!(
            kq as usize >= DATAGRAM.len(),
            "{name}: the kernel's rx_queue\n{k}"
        );
    }
}

/// The stack has no raw sockets, so `sockets` saw raw and raw6 as headers
/// only. Their row format is still checked against the kernel's: raw
/// ICMP/ICMPv6 sockets opened in the namespace, beside the rows such sockets
/// are described by (`SocketInfo`, written here as no stack socket gives one)
/// rendered into the stack's snapshot. Masked: `sl` (the raw hash slot, with
/// the kernel's per-namespace mix), the inode and the pointer.
fn raw_rows(bed: &ProcnetBed) {
    let _open = bed
        .ns
        .run(|| -> std::io::Result<Vec<Socket>> {
            let raw = Type::from(libc::SOCK_RAW);
            Ok(vec![
                Socket::new(Domain::IPV4, raw, Some(Protocol::ICMPV4))?,
                Socket::new(Domain::IPV6, raw, Some(Protocol::ICMPV6))?,
            ])
        })
        .expect("raw sockets in the namespace");
    let row = |any: &str, protocol| SocketInfo {
        kind: SocketKind::Raw,
        local: any.parse().unwrap(),
        remote: any.parse().unwrap(),
        protocol,
        state: tcp_state::CLOSE,
        tx_queue: 0,
        rx_queue: 0,
        uid: 0,
        inode: 0,
        refcount: 2,
        drops: 0,
        tcp: None,
    };
    let mut snap = bed.stack.snapshot();
    snap.sockets
        .extend([row("0.0.0.0:0", 1), row("[::]:0", 58)]);
    let mask = |l: &str| mask_fields(l.trim_start(), &[0, 9, 11]);
    for name in ["raw", "raw6"] {
        let (k, o) = (kernel(bed, name), ours(&snap, name));
        rows_match(name, &k, &o, &mask, 1);
        // raw4's `sl` is "%4d:", the others' "%5d:".
        let sl_width = |t: &str| t.lines().nth(1).unwrap().split_once(':').unwrap().0.len();
        assert_eq!(sl_width(&k), sl_width(&o), "{name} sl width");
    }
}

#[test]
fn masks_keep_separators() {
    assert_eq!(mask_fields("  a bb\tccc  d", &[1, 3]), "  a *\tccc  *");
    assert_eq!(mask_aligned("x     354   no", &[1]), "x *   no");
}
