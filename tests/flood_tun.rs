//! Floods through a real TUN, with the kernel side of a private namespace as
//! the attacker (root only; see support/kernel.rs). Packets are written with
//! an AF_PACKET socket on the kernel's end of the TUN, so the kernel's own IP
//! layer neither validates nor answers them; sources are spoofed where a
//! real attacker's would be. During each flood a kernel client moves a few
//! MiB each way over an established connection with the stack, and the test
//! checks: the bytes arrive intact, the process's RSS stays under a bound
//! derived from the stack's `Limits`, the drops are counted where Linux
//! counts them, and afterwards the stack serves a new connection.
//!
//! One flood has no transfer beside it but a program reading the flooded
//! socket, whose reads wait at the device and run the rounds themselves.
//!
//! Each flood is bounded in time and count (FLOOD_TIME, FLOOD_MAX). No rate
//! is asserted; the rates reached are printed (run with --nocapture).

mod support;

use sandnet::netstack::os::netns::NetNs;
use sandnet::netstack::os::packet::PacketSocket;
use sandnet::netstack::{Limits, ListenOptions, TcpListener, UdpSocket};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::data::{recv_stream, send_stream};
use support::kernel::{ip, tun_bed, TunBed, KERNEL_V4, STACK_V4};
use support::packets;

/// Bytes each way over the connection that must survive the flood.
const TRANSFER: usize = 4 << 20;
const FLOOD_TIME: Duration = Duration::from_secs(3);
const FLOOD_MAX: u64 = 300_000;

/// Small enough that a flood reaches every limit within seconds.
const LIMITS: Limits = Limits {
    max_sockets: 256,
    max_buffer_bytes: 16 << 20,
    tcp_recv_buffer: 128 << 10,
    tcp_send_buffer: 128 << 10,
    // While half of the 16 MiB is free, connections get 1 MiB buffers.
    tcp_recv_buffer_max: 1 << 20,
    tcp_send_buffer_max: 1 << 20,
    dgram_recv_buffer: 64 << 10,
    max_backlog: 64,
    fin_timeout: Duration::from_secs(60),
};
const BACKLOG: usize = 16;

/// What the process may grow by during a flood: every byte of socket buffer
/// the limits allow, a full TUN queue of the largest flood packets (with
/// their allocations), and room for the test's own threads and buffers.
fn rss_bound_kib() -> u64 {
    let queue = sandnet::netstack::link::LINK_QUEUE_LEN * (1500 + 64);
    let slack = 24 << 20;
    ((LIMITS.max_buffer_bytes + queue + slack) >> 10) as u64
}

/// The kernel's per-CPU backlog is shared by every namespace: one flood at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn sa(addr: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip(addr), port)
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// Samples the process's RSS every 5 ms until dropped; `peak` is the largest seen.
struct RssWatch {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RssWatch {
    fn start() -> RssWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(rss_kib()));
        let thread = {
            let (stop, peak) = (stop.clone(), peak.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    peak.fetch_max(rss_kib(), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        };
        RssWatch {
            stop,
            peak,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.peak.load(Ordering::Relaxed)
    }
}

/// A kernel client and the stack's accepted end, moving TRANSFER bytes each
/// way in background threads; `finish` checks both digests.
struct Transfer {
    threads: Vec<std::thread::JoinHandle<(usize, u64)>>,
    sent: Vec<std::thread::JoinHandle<u64>>,
}

impl Transfer {
    fn start(bed: &TunBed) -> Transfer {
        let listener = TcpListener::bind(&bed.stack, sa(STACK_V4, 5001)).unwrap();
        let kernel = bed.kernel_connect(sa(STACK_V4, 5001)).unwrap();
        listener
            .set_accept_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let (stack, _) = listener.accept().unwrap();
        stack
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stack
            .set_write_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let stack = Arc::new(stack);
        let kernel = Arc::new(kernel);
        let (s1, s2) = (stack.clone(), stack.clone());
        let (k1, k2) = (kernel.clone(), kernel.clone());
        let sent = vec![
            std::thread::spawn(move || {
                let d = send_stream(&*s1, 11, TRANSFER).unwrap();
                s1.shutdown(Shutdown::Write).unwrap();
                d
            }),
            std::thread::spawn(move || {
                let d = send_stream(&*k1, 12, TRANSFER).unwrap();
                k1.shutdown(Shutdown::Write).unwrap();
                d
            }),
        ];
        let threads = vec![
            std::thread::spawn(move || recv_stream(&*k2).unwrap()),
            std::thread::spawn(move || recv_stream(&*s2).unwrap()),
        ];
        Transfer { threads, sent }
    }

    fn finish(self) {
        let sent: Vec<u64> = self.sent.into_iter().map(|t| t.join().unwrap()).collect();
        let got: Vec<(usize, u64)> = self
            .threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        assert_eq!(got[0], (TRANSFER, sent[0]), "stack -> kernel intact");
        assert_eq!(got[1], (TRANSFER, sent[1]), "kernel -> stack intact");
    }
}

/// Sends `make(i)` for i = 0.. out of the kernel's end of the TUN until
/// FLOOD_MAX packets or FLOOD_TIME; returns (packets sent, seconds).
fn flood(ns: &NetNs, os_ifindex: u32, make: impl Fn(u64) -> Vec<u8>) -> (u64, f64) {
    let sock = ns
        .run(move || PacketSocket::open(os_ifindex))
        .expect("a packet socket on the TUN");
    let start = Instant::now();
    let mut sent = 0;
    while sent < FLOOD_MAX && start.elapsed() < FLOOD_TIME {
        let p = make(sent);
        // The device's queue may be full for a moment: that is the flood.
        if sock.send(&p, false).is_ok() {
            sent += 1;
        } else {
            std::thread::yield_now();
        }
    }
    (sent, start.elapsed().as_secs_f64())
}

/// How many spoofed sources the floods cycle through.
const SPOOFED_HOSTS: u64 = 150;

/// A spoofed source on the TUN's subnet that no host answers for.
fn spoofed(i: u64) -> Ipv4Addr {
    Ipv4Addr::new(10, 9, 0, 100 + (i % SPOOFED_HOSTS) as u8)
}

/// After a flood: a kernel client connects to `port`, the stack accepts
/// (through `listener`), and a message goes each way.
fn serves_new_connection(bed: &TunBed, listener: &TcpListener, port: u16) {
    let mut k = bed
        .kernel_connect(sa(STACK_V4, port))
        .expect("a new connection after the flood");
    listener
        .set_accept_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (mut s, _) = listener.accept().expect("accepted after the flood");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    k.write_all(b"after").unwrap();
    let mut buf = [0u8; 5];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"after");
    s.write_all(b"again").unwrap();
    k.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"again");
}

fn report(what: &str, sent: u64, secs: f64, base: u64, peak: u64) {
    println!(
        "{what}: {sent} packets in {secs:.2} s ({:.0}/s); RSS {base} KiB -> peak {peak} KiB (+{} KiB, bound +{} KiB)",
        sent as f64 / secs,
        peak.saturating_sub(base),
        rss_bound_kib()
    );
}

#[test]
fn syn_flood_keeps_the_backlog_bounded_and_the_transfer_intact() {
    let _serial = serial();
    let Some(bed) = tun_bed("syn_flood_keeps_the_backlog_bounded_and_the_transfer_intact") else {
        return;
    };
    bed.stack.set_limits(LIMITS).unwrap();
    let opts = ListenOptions {
        backlog: BACKLOG,
        v6only: false,
    };
    let target = TcpListener::bind_with(&bed.stack, sa(STACK_V4, 80), opts).unwrap();
    let base = rss_kib();
    let watch = RssWatch::start();
    let transfer = Transfer::start(&bed);
    let dst: Ipv4Addr = STACK_V4.parse().unwrap();
    // Half-open connections from sources that never answer the SYN-ACK.
    // Source ports look random but never repeat for one address (7919 is
    // prime to 60000), so no SYN is a retransmission of an earlier one,
    // which the stack would hand to that connection without a count.
    let (sent, secs) = flood(&bed.ns, bed.os_ifindex, |i| {
        let src = spoofed(i);
        let sport = 1024 + ((i / SPOOFED_HOSTS) * 7919 % 60000) as u16;
        packets::ipv4(src, dst, 6, &packets::tcp_syn_v4(src, dst, sport, 80))
    });
    // While the flood's last SYNs may still be in flight, the backlog holds.
    let half_open = bed
        .stack
        .sockets()
        .iter()
        .filter(|r| r.local.port() == 80 && r.remote.port() != 0)
        .count();
    assert!(
        half_open <= BACKLOG,
        "{half_open} children for a backlog of {BACKLOG}"
    );
    transfer.finish();
    let peak = watch.finish();
    report("SYN flood", sent, secs, base, peak);
    assert!(
        peak.saturating_sub(base) < rss_bound_kib(),
        "RSS grew past the bound"
    );

    let st = bed.stack.statistics();
    let ext = &st.snmp.tcp_ext;
    println!(
        "ListenOverflows {} ListenDrops {} TCPReqQFullDrop {}",
        ext.ListenOverflows, ext.ListenDrops, ext.TCPReqQFullDrop
    );
    assert!(ext.ListenDrops > 0, "the flood's excess SYNs are counted");
    assert!(ext.ListenDrops >= ext.ListenOverflows);
    // Every SYN made a half-open child or was dropped and counted: at the
    // full backlog (ListenDrops, also when it evicted an older child), at
    // the stack's link queue (rx_fifo) or at the kernel's TUN queue (which
    // the transfer shares, hence at most). A child leaves only by eviction
    // (counted with the SYN that evicts it), by a RST (EmbryonicRsts: none
    // here, no host answers) or after 63 s.
    let accounted = || {
        let st = bed.stack.statistics();
        let (ext, dev) = (&st.snmp.tcp_ext, st.dev[&bed.ifindex]);
        let children = bed
            .stack
            .sockets()
            .iter()
            .filter(|r| r.local.port() == 80 && r.remote.port() != 0)
            .count() as u64;
        let at_stack = ext.ListenDrops + children + ext.EmbryonicRsts;
        (at_stack, dev.rx_fifo + bed.kernel_dev_row()[11])
    };
    let mut last = (0, 0);
    let all = support::kernel::eventually(Duration::from_secs(5), || {
        last = accounted();
        sent <= last.0 + last.1
    });
    println!(
        "{sent} SYNs: {} dropped or half-open at the stack, {} dropped before it (link and TUN queues, transfer included)",
        last.0, last.1
    );
    assert!(
        all,
        "every SYN is accounted for: {sent} sent, {last:?} found"
    );
    assert!(last.0 <= sent, "no more drops and children than SYNs");
    serves_new_connection(&bed, &target, 80);
}

#[test]
fn udp_flood_at_open_and_closed_ports_is_counted_and_bounded() {
    let _serial = serial();
    let Some(bed) = tun_bed("udp_flood_at_open_and_closed_ports_is_counted_and_bounded") else {
        return;
    };
    bed.stack.set_limits(LIMITS).unwrap();
    // Bound, never read during the flood.
    let open = UdpSocket::bind(&bed.stack, sa(STACK_V4, 5353)).unwrap();
    let base = rss_kib();
    let watch = RssWatch::start();
    let transfer = Transfer::start(&bed);
    let dst: Ipv4Addr = STACK_V4.parse().unwrap();
    // Alternately: empty datagrams to the open port (the cheapest to send and,
    // counted by payload alone, free to queue), full-size ones to it, and
    // datagrams to a closed port.
    let big = vec![0xabu8; 1400];
    let (sent, secs) = flood(&bed.ns, bed.os_ifindex, |i| {
        let src = spoofed(i);
        let (port, data): (u16, &[u8]) = match i % 3 {
            0 => (5353, &[]),
            1 => (5353, &big),
            _ => (9, b"closed"),
        };
        packets::ipv4(
            src,
            dst,
            17,
            &packets::udp_v4(src, dst, 1000 + (i % 50000) as u16, port, data),
        )
    });
    transfer.finish();
    let peak = watch.finish();
    report("UDP flood", sent, secs, base, peak);
    assert!(
        peak.saturating_sub(base) < rss_bound_kib(),
        "RSS grew past the bound"
    );
    let queued = bed
        .stack
        .sockets()
        .into_iter()
        .find(|r| r.local.port() == 5353)
        .unwrap();
    // Within its limit, which a queue may pass by one datagram, as in Linux.
    assert!(queued.rx_queue as usize <= LIMITS.dgram_recv_buffer + 1500);
    let udp = &bed.stack.statistics().snmp.udp;
    println!(
        "Udp InDatagrams {} NoPorts {} RcvbufErrors {} InErrors {} OutDatagrams {} (socket drops {})",
        udp.InDatagrams, udp.NoPorts, udp.RcvbufErrors, udp.InErrors, udp.OutDatagrams, queued.drops
    );
    assert!(udp.NoPorts > 0, "datagrams to the closed port are NoPorts");
    // Each is answered with a port unreachable, or counted as rate limited.
    let icmp = &bed.stack.statistics().snmp.icmp;
    println!(
        "Icmp OutDestUnreachs {} OutRateLimitGlobal {} OutRateLimitHost {}",
        icmp.OutDestUnreachs, icmp.OutRateLimitGlobal, icmp.OutRateLimitHost
    );
    assert_eq!(
        icmp.OutDestUnreachs + icmp.OutRateLimitGlobal + icmp.OutRateLimitHost,
        udp.NoPorts
    );
    // At most a burst of 50, then 1000 a second, whatever the flood's rate.
    assert!(icmp.OutDestUnreachs as f64 <= 50.0 + 1000.0 * (secs + 1.0));
    assert!(
        udp.RcvbufErrors > 0,
        "the full socket's drops are RcvbufErrors"
    );
    assert_eq!(
        udp.RcvbufErrors, queued.drops,
        "each drop is the socket's too"
    );
    // The socket still works: what it queued can be read, and it receives again.
    open.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 2048];
    let mut drained = 0;
    while open.recv_from(&mut buf).is_ok() {
        drained += 1;
    }
    assert!(drained > 0);
    // A third of the flood was empty datagrams: they fill the queue too.
    assert!(
        drained * 64 <= LIMITS.dgram_recv_buffer,
        "{drained} datagrams were queued for a {}-byte buffer",
        LIMITS.dgram_recv_buffer
    );
    // Every datagram sent was queued (and read), dropped at the full socket,
    // answered as NoPorts, or dropped before: at the stack's link queue or
    // the kernel's TUN queue (which the transfer shares, hence at most).
    // The last ones may still sit in the TUN queue: the stack takes them
    // soon, so the sum is awaited, and what arrives late is read too.
    let mut accounted = || {
        while open.recv_from(&mut buf).is_ok() {
            drained += 1;
        }
        let st = bed.stack.statistics();
        let (udp, dev) = (&st.snmp.udp, st.dev[&bed.ifindex]);
        let kernel_tx_dropped = bed.kernel_dev_row()[11];
        let sum = drained as u64 + udp.RcvbufErrors + udp.NoPorts + dev.rx_fifo + kernel_tx_dropped;
        (sum, dev.rx_fifo, kernel_tx_dropped)
    };
    let mut last = (0, 0, 0);
    let all = support::kernel::eventually(Duration::from_secs(5), || {
        last = accounted();
        sent <= last.0
    });
    println!(
        "{drained} datagrams read after the flood; rx_fifo {}; kernel's TUN tx_dropped {}",
        last.1, last.2
    );
    assert!(
        all,
        "every datagram is accounted for: {sent} sent, {} found",
        last.0
    );
    let k = bed.kernel_udp(sa(KERNEL_V4, 0));
    k.send_to(b"after", sa(STACK_V4, 5353)).unwrap();
    open.set_nonblocking(false).unwrap();
    open.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let (n, _) = open.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"after");
    let listener = TcpListener::bind(&bed.stack, sa(STACK_V4, 81)).unwrap();
    serves_new_connection(&bed, &listener, 81);
}

#[test]
fn ping_flood_is_answered_or_counted_and_bounded() {
    let _serial = serial();
    let Some(bed) = tun_bed("ping_flood_is_answered_or_counted_and_bounded") else {
        return;
    };
    bed.stack.set_limits(LIMITS).unwrap();
    let base = rss_kib();
    let watch = RssWatch::start();
    let transfer = Transfer::start(&bed);
    let dst: Ipv4Addr = STACK_V4.parse().unwrap();
    let payload = vec![0x61u8; 56];
    let (sent, secs) = flood(&bed.ns, bed.os_ifindex, |i| {
        let echo = packets::icmpv4_echo_request(0x4242, i as u16, &payload);
        packets::ipv4(spoofed(i), dst, 1, &echo)
    });
    transfer.finish();
    let peak = watch.finish();
    report("ping flood", sent, secs, base, peak);
    assert!(
        peak.saturating_sub(base) < rss_bound_kib(),
        "RSS grew past the bound"
    );
    // Every echo sent was taken in (and answered), dropped at the stack's
    // full link queue (rx_fifo), or dropped by the kernel's TUN queue before
    // the stack saw it (its tx_dropped); both queues also carry the
    // transfer's packets, hence at most. The last ones may still sit in the
    // TUN queue when the flood ends: the stack takes them soon, so the sum
    // is awaited, as the other floods' are.
    let accounted = || {
        let st = bed.stack.statistics();
        let dev = st.dev.get(&bed.ifindex).copied().unwrap_or_default();
        (st, dev, bed.kernel_dev_row()[11])
    };
    let mut last = accounted();
    let all = support::kernel::eventually(Duration::from_secs(5), || {
        last = accounted();
        let (st, dev, kernel_tx_dropped) = &last;
        sent <= st.snmp.icmp_msg.in_type[8] + dev.rx_fifo + kernel_tx_dropped
    });
    let (st, dev, kernel_tx_dropped) = last;
    println!(
        "Icmp InMsgs {} InEchos {} OutEchoReps {}; Ip InReceives {} InHdrErrors {} InAddrErrors {} InDiscards {}; {} rx packets, rx_fifo {} (queue full), rx_errs {}, tx_drop {}; kernel's TUN tx_dropped {kernel_tx_dropped}",
        st.snmp.icmp.InMsgs,
        st.snmp.icmp_msg.in_type[8],
        st.snmp.icmp_msg.out_type[0],
        st.snmp.ip.InReceives,
        st.snmp.ip.InHdrErrors,
        st.snmp.ip.InAddrErrors,
        st.snmp.ip.InDiscards,
        dev.rx_packets,
        dev.rx_fifo,
        dev.rx_errs,
        dev.tx_drop
    );
    assert!(st.snmp.icmp_msg.in_type[8] > 0);
    assert!(all, "every echo is accounted for: {sent} sent");
    assert_eq!(
        st.snmp.icmp_msg.in_type[8], st.snmp.icmp_msg.out_type[0],
        "every echo taken in is answered"
    );
    let listener = TcpListener::bind(&bed.stack, sa(STACK_V4, 81)).unwrap();
    serves_new_connection(&bed, &listener, 81);
}

/// A UDP flood at a socket whose program answers each datagram as fast as
/// it can (an echo server: a datagram socket that sent since its last one
/// waits for the next at the device), so that its blocked reads run the
/// rounds themselves (netstack/src/drive.rs): every datagram is read or
/// counted as dropped, the memory stays bounded, and the stack serves a new
/// connection after. The answers go to the flood's spoofed sources, which
/// the kernel's namespace (no forwarding) drops.
#[test]
fn udp_flood_at_a_reader_waiting_at_the_device_is_read_or_counted() {
    let _serial = serial();
    let Some(bed) = tun_bed("udp_flood_at_a_reader_waiting_at_the_device_is_read_or_counted")
    else {
        return;
    };
    bed.stack.set_limits(LIMITS).unwrap();
    let open = UdpSocket::bind(&bed.stack, sa(STACK_V4, 5354)).unwrap();
    // The reader ends when nothing came for a while after the flood.
    open.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        let mut read = 0u64;
        while let Ok((n, from)) = open.recv_from(&mut buf) {
            read += 1;
            // A full queue or budget under the flood may refuse an answer.
            let _ = open.send_to(&buf[..n.min(64)], from);
        }
        read
    });
    let driven = bed.stack.driven_rounds();
    let base = rss_kib();
    let watch = RssWatch::start();
    let dst: Ipv4Addr = STACK_V4.parse().unwrap();
    let big = vec![0xcdu8; 1400];
    let (sent, secs) = flood(&bed.ns, bed.os_ifindex, |i| {
        let src = spoofed(i);
        let data: &[u8] = if i % 2 == 0 { &[] } else { &big };
        packets::ipv4(
            src,
            dst,
            17,
            &packets::udp_v4(src, dst, 1000 + (i % 50000) as u16, 5354, data),
        )
    });
    let read = reader.join().unwrap();
    let peak = watch.finish();
    report("UDP flood at a reader", sent, secs, base, peak);
    assert!(
        peak.saturating_sub(base) < rss_bound_kib(),
        "RSS grew past the bound"
    );
    let driven = bed.stack.driven_rounds() - driven;
    let st = bed.stack.statistics();
    let (udp, dev) = (&st.snmp.udp, st.dev[&bed.ifindex]);
    let kernel_tx_dropped = bed.kernel_dev_row()[11];
    println!(
        "{read} read, {} dropped at the socket, rx_fifo {}, kernel's TUN tx_dropped {kernel_tx_dropped}; {driven} rounds driven by the reader",
        udp.RcvbufErrors, dev.rx_fifo
    );
    assert!(driven > 0, "the reader never waited at the device");
    // The kernel's TUN drops may include a packet of its own (hence at
    // least); nothing is read or dropped at the socket that was not sent.
    assert!(
        read + udp.RcvbufErrors + dev.rx_fifo + kernel_tx_dropped >= sent,
        "every datagram is read or counted as dropped"
    );
    assert!(read + udp.RcvbufErrors <= sent);
    let listener = TcpListener::bind(&bed.stack, sa(STACK_V4, 82)).unwrap();
    serves_new_connection(&bed, &listener, 82);
}
