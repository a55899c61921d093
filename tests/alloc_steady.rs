//! The steady packet path does not allocate per packet: a TCP transfer,
//! once warmed up, makes a bounded number of heap allocations however many
//! segments it carries, and a UDP exchange however many datagrams, between
//! two stacks and through a TUN device with the host kernel as the peer. Counted by a global allocator that wraps the
//! system's; the tests take turns, since it counts the whole process.

mod support;

use sandnet::netstack::{Stack, TcpListener, TcpStream, UdpSocket};
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use support::kernel::{ip, tun_bed, KERNEL_V4, STACK_V4};
use support::pair::{pair, sa, A_V4};

/// One counted test at a time.
static TURN: Mutex<()> = Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator, which
// upholds GlobalAlloc's contract; the counter has no effect on memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same layout contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same layout contract as our caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by System with `layout`, as our caller guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by System with `layout`, as our caller guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const CHUNK: usize = 16 * 1024;

/// Sends `bytes` from `conn` (on a thread) to `peer`; gives `conn` back.
fn send<W: Write + Send + 'static>(
    mut conn: W,
    peer: &mut impl Read,
    bytes: usize,
    buf: &mut [u8],
) -> W {
    let sender = std::thread::spawn(move || {
        let data = vec![7u8; CHUNK];
        let mut left = bytes;
        while left > 0 {
            let n = left.min(CHUNK);
            conn.write_all(&data[..n]).unwrap();
            left -= n;
        }
        conn
    });
    let mut got = 0;
    while got < bytes {
        let n = peer.read(buf).unwrap();
        assert!(n > 0, "stream ended after {got} of {bytes} bytes");
        assert!(buf[..n].iter().all(|&b| b == 7));
        got += n;
    }
    sender.join().unwrap()
}

/// The allocation count and `stack`'s TCP segments (in and out) so far.
fn count(stack: &Stack) -> (u64, u64) {
    let tcp = stack.statistics().snmp.tcp;
    (
        ALLOCATIONS.load(Ordering::Relaxed),
        tcp.InSegs + tcp.OutSegs,
    )
}

/// The stack behind a TUN device, the kernel's TCP as the peer, both ways:
/// the poll thread then waits in ppoll(2) on the device, reads it before
/// taking the lock and writes the round's packets after.
#[test]
fn tun_bulk_does_not_allocate_per_segment() {
    let _turn = turn();
    let Some(bed) = tun_bed("tun_bulk_does_not_allocate_per_segment") else {
        return;
    };
    let addr = std::net::SocketAddr::new(ip(KERNEL_V4), 9100);
    let kernel_listener = bed.kernel_listen(addr);
    let mut ours = TcpStream::connect(&bed.stack, addr).unwrap();
    let (mut theirs, _) = kernel_listener.accept().unwrap();
    let mut buf = vec![0u8; CHUNK];
    assert_eq!(ours.local_addr().unwrap().ip(), ip(STACK_V4));
    // Warm up both ways.
    theirs = send(theirs, &mut ours, 4 << 20, &mut buf);
    ours = send(ours, &mut theirs, 4 << 20, &mut buf);

    let bytes = 32 << 20;
    let (allocs_before, segments_before) = count(&bed.stack);
    theirs = send(theirs, &mut ours, bytes, &mut buf);
    let _ours = send(ours, &mut theirs, bytes, &mut buf);
    let (allocs, segments) = count(&bed.stack);
    let (allocs, segments) = (allocs - allocs_before, segments - segments_before);
    eprintln!("{segments} segments over the TUN, {allocs} heap allocations");
    assert!(
        segments > 2_000,
        "only {segments} segments for 2 x {bytes} bytes"
    );
    // The same bound as below, where the reasons are. Seen here: 163 to 435
    // allocations for about 24 500 segments; 573 once before the poll
    // thread's ppoll(2) stopped allocating its fd array every round, which
    // this bound is too loose to catch: it catches work per segment.
    assert!(
        allocs * 20 < segments,
        "{allocs} allocations for {segments} segments: the TUN path allocates"
    );
}

#[test]
fn tcp_bulk_does_not_allocate_per_segment() {
    let _turn = turn();
    let (a, b) = pair();
    let listener = TcpListener::bind(&a, sa(A_V4, 9000)).unwrap();
    let client = TcpStream::connect(&b, sa(A_V4, 9000)).unwrap();
    let (mut server, _) = listener.accept().unwrap();
    let mut buf = vec![0u8; CHUNK];
    // Warm up: buffers, pools and queues reach their working size.
    let client = send(client, &mut server, 4 << 20, &mut buf);

    let segments_before = b.statistics().snmp.tcp.OutSegs;
    let allocs_before = ALLOCATIONS.load(Ordering::Relaxed);
    let bytes = 32 << 20;
    // The sender thread itself allocates a little (its stack, its chunk):
    // what matters is that the count does not grow with the segments.
    let _client = send(client, &mut server, bytes, &mut buf);
    let allocs = ALLOCATIONS.load(Ordering::Relaxed) - allocs_before;
    let segments = b.statistics().snmp.tcp.OutSegs - segments_before;
    eprintln!("{segments} segments, {allocs} heap allocations");
    assert!(
        segments > 20_000,
        "only {segments} segments for {bytes} bytes"
    );
    // What remains is high-water growth: a burst longer than any before
    // grows the buffer pool or a queue once. It depends on scheduling (how
    // far the receiving stack lags) and on the congestion window, which
    // Cubic opens by a segment per ACK through the whole transfer. Its
    // bound is a window of packets in flight: 1 MiB buffers hold 718
    // segments. Seen here: 47 to 315 without a congestion controller, 539
    // to 704 with Cubic. Anything done per packet is at least one per few
    // segments, thousands.
    assert!(
        allocs * 20 < segments,
        "{allocs} allocations for {segments} segments: the packet path allocates"
    );
}

/// Datagrams each way, after as many for warming up.
const EXCHANGES: usize = 10_000;

/// Bounces 64-byte datagrams `n` times: `client` sends, `echo` answers on a
/// thread (when not given, the peer answers by itself), `client` reads.
fn bounce(
    client: &UdpSocket,
    server: SocketAddr,
    n: usize,
    echo: Option<UdpSocket>,
) -> Option<UdpSocket> {
    let echo = echo.map(|e| {
        std::thread::spawn(move || {
            let mut buf = [0u8; 256];
            for _ in 0..n {
                let (len, from) = e.recv_from(&mut buf).unwrap();
                e.send_to(&buf[..len], from).unwrap();
            }
            e
        })
    });
    let mut buf = [0u8; 256];
    for i in 0..n {
        let msg = [(i % 251) as u8; 64];
        client.send_to(&msg, server).unwrap();
        let (len, from) = client.recv_from(&mut buf).unwrap();
        assert_eq!((len, from), (64, server));
        assert_eq!(buf[..64], msg);
    }
    echo.map(|t| t.join().unwrap())
}

#[test]
fn udp_exchange_does_not_allocate_per_datagram() {
    let _turn = turn();
    let (a, b) = pair();
    let server = sa(A_V4, 9200);
    let echo = UdpSocket::bind(&a, server).unwrap();
    let client = UdpSocket::bind(&b, sa("0.0.0.0", 0)).unwrap();
    let echo = bounce(&client, server, EXCHANGES, Some(echo));
    let allocs_before = ALLOCATIONS.load(Ordering::Relaxed);
    bounce(&client, server, EXCHANGES, echo);
    let allocs = ALLOCATIONS.load(Ordering::Relaxed) - allocs_before;
    let datagrams = 2 * EXCHANGES as u64;
    eprintln!("{datagrams} datagrams, {allocs} heap allocations");
    // The echo thread's stack and its join are all a run needs besides.
    assert!(
        allocs * 20 < datagrams,
        "{allocs} allocations for {datagrams} datagrams: the datagram path allocates"
    );
}

/// The same through a TUN device, the kernel's UDP socket answering.
#[test]
fn tun_udp_exchange_does_not_allocate_per_datagram() {
    let _turn = turn();
    let Some(bed) = tun_bed("tun_udp_exchange_does_not_allocate_per_datagram") else {
        return;
    };
    let server = SocketAddr::new(ip(KERNEL_V4), 9201);
    let echo = bed.kernel_udp(server);
    let client = UdpSocket::bind(&bed.stack, SocketAddr::new(ip(STACK_V4), 0)).unwrap();
    let echo = bounce_kernel(&client, server, EXCHANGES, echo);
    let allocs_before = ALLOCATIONS.load(Ordering::Relaxed);
    bounce_kernel(&client, server, EXCHANGES, echo);
    let allocs = ALLOCATIONS.load(Ordering::Relaxed) - allocs_before;
    let datagrams = 2 * EXCHANGES as u64;
    eprintln!("{datagrams} datagrams over the TUN, {allocs} heap allocations");
    assert!(
        allocs * 20 < datagrams,
        "{allocs} allocations for {datagrams} datagrams: the TUN datagram path allocates"
    );
}

/// `bounce` with the kernel's socket answering.
fn bounce_kernel(
    client: &UdpSocket,
    server: SocketAddr,
    n: usize,
    echo: std::net::UdpSocket,
) -> std::net::UdpSocket {
    let echo = std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        for _ in 0..n {
            let (len, from) = echo.recv_from(&mut buf).unwrap();
            echo.send_to(&buf[..len], from).unwrap();
        }
        echo
    });
    bounce(client, server, n, None);
    echo.join().unwrap()
}
