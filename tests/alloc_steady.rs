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

/// What a datagram receive gives: its length and sender.
type Received = std::io::Result<(usize, SocketAddr)>;

/// Answers `n` datagrams on a thread, through `recv` and `send` (of a
/// sandnet or a kernel socket); gives the socket back.
fn echo<S: Send + 'static>(
    socket: S,
    n: usize,
    recv: fn(&S, &mut [u8]) -> Received,
    send: fn(&S, &[u8], SocketAddr) -> std::io::Result<usize>,
) -> std::thread::JoinHandle<S> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        for _ in 0..n {
            let (len, from) = recv(&socket, &mut buf).unwrap();
            send(&socket, &buf[..len], from).unwrap();
        }
        socket
    })
}

/// Sends `n` 64-byte datagrams to `server`, each after the answer to the one before.
fn bounce(client: &UdpSocket, server: SocketAddr, n: usize) {
    let mut buf = [0u8; 256];
    for i in 0..n {
        let msg = [(i % 251) as u8; 64];
        client.send_to(&msg, server).unwrap();
        let (len, from) = client.recv_from(&mut buf).unwrap();
        assert_eq!((len, from), (64, server));
        assert_eq!(buf[..64], msg);
    }
}

/// The heap allocations of the whole process while `f` runs.
fn allocations_during(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    f();
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

/// A UDP exchange between two stacks, warmed up, then counted. Besides the
/// datagrams, a run allocates only for the echo thread's start and join.
#[test]
fn udp_exchange_does_not_allocate_per_datagram() {
    let _turn = turn();
    let (a, b) = pair();
    let server = sa(A_V4, 9200);
    let mut ours = Some(UdpSocket::bind(&a, server).unwrap());
    let client = UdpSocket::bind(&b, sa("0.0.0.0", 0)).unwrap();
    let mut run = || {
        let recv = |s: &UdpSocket, b: &mut [u8]| s.recv_from(b);
        let answering = echo(ours.take().unwrap(), EXCHANGES, recv, UdpSocket::send_to);
        bounce(&client, server, EXCHANGES);
        ours = Some(answering.join().unwrap());
    };
    run();
    assert_few(allocations_during(&mut run), "between two stacks");
}

/// The same through a TUN device, the kernel's socket answering.
#[test]
fn tun_udp_exchange_does_not_allocate_per_datagram() {
    let _turn = turn();
    let Some(bed) = tun_bed("tun_udp_exchange_does_not_allocate_per_datagram") else {
        return;
    };
    let server = SocketAddr::new(ip(KERNEL_V4), 9201);
    let mut theirs = Some(bed.kernel_udp(server));
    let client = UdpSocket::bind(&bed.stack, SocketAddr::new(ip(STACK_V4), 0)).unwrap();
    let mut run = || {
        let recv = |s: &std::net::UdpSocket, b: &mut [u8]| s.recv_from(b);
        let send = |s: &std::net::UdpSocket, b: &[u8], to| s.send_to(b, to);
        let answering = echo(theirs.take().unwrap(), EXCHANGES, recv, send);
        bounce(&client, server, EXCHANGES);
        theirs = Some(answering.join().unwrap());
    };
    run();
    assert_few(allocations_during(&mut run), "over the TUN");
}

/// At most one allocation per 20 datagrams, the bound of the TCP tests.
fn assert_few(allocs: u64, how: &str) {
    let datagrams = 2 * EXCHANGES as u64;
    eprintln!("{datagrams} datagrams {how}, {allocs} heap allocations");
    assert!(
        allocs * 20 < datagrams,
        "{allocs} allocations for {datagrams} datagrams {how}: the datagram path allocates"
    );
}
