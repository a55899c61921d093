//! The host kernel's side of a transfer: a sender that writes N bytes and a
//! receiver that counts them, on sockets opened inside a namespace (and the
//! request/response client, in rr.rs).

use sandnet::netstack::os::affinity::{set_thread_affinity, thread_affinity};
use sandnet::netstack::os::netns::NetNs;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::time::Duration;

pub const CHUNK: usize = 64 * 1024;

/// A listener inside `ns` (sockets keep the namespace they were made in).
pub fn listen(ns: &NetNs, addr: SocketAddr) -> TcpListener {
    ns.run(move || TcpListener::bind(addr))
        .unwrap_or_else(|e| panic!("kernel listen on {addr}: {e}"))
}

/// Connects from inside `ns`.
pub fn connect(ns: &NetNs, addr: SocketAddr) -> TcpStream {
    ns.run(move || connect_here(addr))
}

/// Connects from the calling thread's namespace, retrying while the peer is
/// not yet listening.
pub fn connect_here(addr: SocketAddr) -> TcpStream {
    for _ in 0..100 {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
            Ok(s) => return s,
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => panic!("kernel connect to {addr}: {e}"),
        }
    }
    panic!("kernel connect to {addr}: refused for 2 s")
}

/// The congestion control of the kernel's sending socket, unless
/// `set_sender_cc` says otherwise: Linux's own default. A host's
/// `net.ipv4.tcp_congestion_control` may name another (this project's
/// machine says `bbr`), and the sender's pacing and window then shape every
/// figure of a receiving stack, so the figures name it rather than inherit it.
const DEFAULT_SENDER_CC: &str = "cubic";

static SENDER_CC: OnceLock<String> = OnceLock::new();

/// Sets the congestion control of every kernel socket that sends in this
/// process (`--sender-cc`; the first call that succeeds wins), once it is
/// known to be one the kernel has: tried first on a socket of its own, so
/// that a bad name fails before a run rather than leave a receiver waiting
/// for a sender that quit.
pub fn set_sender_cc(name: &str) -> io::Result<()> {
    let probe = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    set_cc(&probe, name)?;
    let _ = SENDER_CC.set(name.to_string());
    Ok(())
}

fn set_cc(s: &socket2::Socket, cc: &str) -> io::Result<()> {
    s.set_tcp_congestion(cc.as_bytes()).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "the kernel sender's congestion control {cc:?}: {e} \
                 (the kernel offers those in /proc/sys/net/ipv4/tcp_available_congestion_control)"
            ),
        )
    })
}

pub fn sender_cc() -> &'static str {
    SENDER_CC.get().map_or(DEFAULT_SENDER_CC, String::as_str)
}

/// The size of the kernel sender's writes, unless `set_sender_write` says
/// otherwise (`--sender-write`).
static SENDER_WRITE: AtomicUsize = AtomicUsize::new(CHUNK);

/// Sets the size of every write of the kernel's sender. Writes that are not
/// a whole number of segments leave a short one behind each (41 bytes for 64
/// KiB at an MSS of 65495), which goes out alone when the receiver ACKs at
/// once; a sender whose window counts packets (BBR's, small on a path of a
/// few microseconds) then carries fewer bytes (docs/PERFORMANCE.md).
pub fn set_sender_write(bytes: usize) {
    SENDER_WRITE.store(bytes, Ordering::Relaxed);
}

pub fn sender_write() -> usize {
    SENDER_WRITE.load(Ordering::Relaxed)
}

/// The size of the userspace program's reads and writes (`--program-chunk`):
/// bare smoltcp's `recv_slice`/`send_slice` buffer and sandnet's `read`/`write`
/// buffer alike.
static PROGRAM_CHUNK: AtomicUsize = AtomicUsize::new(CHUNK);

pub fn set_program_chunk(bytes: usize) {
    PROGRAM_CHUNK.store(bytes, Ordering::Relaxed);
}

pub fn program_chunk() -> usize {
    PROGRAM_CHUNK.load(Ordering::Relaxed)
}

/// How long the userspace program works on each read's bytes, in µs
/// (`--work-us`, inbound): a spin after every read, bare smoltcp's and
/// sandnet's alike, as a program that parses or hashes what it reads.
static WORK_US: AtomicUsize = AtomicUsize::new(0);

pub fn set_work_us(us: usize) {
    WORK_US.store(us, Ordering::Relaxed);
}

/// The program's work after a read (`--work-us`; none by default).
pub fn work() {
    let us = WORK_US.load(Ordering::Relaxed);
    if us > 0 {
        let start = std::time::Instant::now();
        let work = Duration::from_micros(us as u64);
        while start.elapsed() < work {
            std::hint::spin_loop();
        }
    }
}

/// Writes `total` bytes and closes.
pub fn send_all(mut s: TcpStream, total: u64) -> io::Result<()> {
    set_cc(&socket2::SockRef::from(&s), sender_cc())?;
    let write = sender_write();
    let buf = vec![0x5au8; write];
    let mut left = total;
    while left > 0 {
        let n = left.min(write as u64) as usize;
        s.write_all(&buf[..n])?;
        left -= n as u64;
    }
    s.shutdown(std::net::Shutdown::Write)
}

/// Reads until end of stream; returns the byte count.
pub fn drain(mut s: TcpStream) -> io::Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut got = 0u64;
    loop {
        match s.read(&mut buf)? {
            0 => return Ok(got),
            n => got += n as u64,
        }
    }
}

/// With `--pin`, the program side of a run (its thread, and sandnet's poll
/// thread) gets CPU 0 and the kernel's peer thread CPU 1, so that both stacks
/// under test get one core each and the peer another, as a runtime that
/// places its threads would. With `--pin-program`, the program side gets CPU
/// 0 and the peer is left where the scheduler puts it: a runtime that
/// places its own threads, beside a peer it does not own.
static PIN: OnceLock<Pin> = OnceLock::new();

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Pin {
    None,
    /// `--pin`: the program side on one CPU, the peer on the other.
    Both,
    /// `--pin-program`: the program side alone.
    Program,
}

/// The CPUs the process had before any pinning: a thread inherits its
/// creator's, so with `--pin-program` the peer takes these back.
static ALL_CPUS: OnceLock<Vec<usize>> = OnceLock::new();

pub fn set_pin(pin: Pin) {
    let _ = ALL_CPUS.set(thread_affinity(0).expect("the process's CPUs"));
    let _ = PIN.set(pin);
}

fn pin() -> Pin {
    PIN.get().copied().unwrap_or(Pin::None)
}

/// Whether the program side is pinned (`--pin` or `--pin-program`).
pub fn pinned() -> bool {
    pin() != Pin::None
}

/// The CPU of the program side, with `--pin`.
pub const PROGRAM_CPU: usize = 0;
const PEER_CPU: usize = 1;

/// Puts the calling thread, the program's, on its CPU with `--pin`.
pub fn pin_program() -> io::Result<()> {
    if pinned() {
        set_thread_affinity(0, &[PROGRAM_CPU])?;
    }
    Ok(())
}

/// A thread of the kernel's side of the transfer (on its CPU with `--pin`).
pub fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> JoinHandle<T> {
    let pin = pin();
    std::thread::spawn(move || {
        match pin {
            Pin::Both => set_thread_affinity(0, &[PEER_CPU]).expect("pin the peer thread"),
            Pin::Program => {
                let all = ALL_CPUS.get().expect("set_pin ran");
                set_thread_affinity(0, all).expect("unpin the peer thread")
            }
            Pin::None => {}
        }
        f()
    })
}

/// The kernel's own TCP over a veth pair between two namespaces: what a user
/// who skips the userspace stack gets. Namespace A sends to B.
pub fn veth(mib: u64, mtu: u32) -> io::Result<f64> {
    pin_program()?;
    let (a, b, addr) = veth_pair(mtu)?;
    let listener = listen(&b, addr);
    let total = mib << 20;
    let receiver = spawn(move || -> io::Result<(u64, std::time::Instant)> {
        let (s, _) = listener.accept()?;
        let got = drain(s)?;
        Ok((got, std::time::Instant::now()))
    });
    let start = std::time::Instant::now();
    send_all(connect(&a, addr), total)?;
    let (got, end) = receiver.join().expect("receiver")?;
    if got != total {
        return Err(io::Error::other(format!("received {got} of {total} bytes")));
    }
    Ok(total as f64 / (end - start).as_secs_f64())
}

/// Two namespaces joined by a veth pair of `mtu`, and the address in B to
/// which A connects.
pub fn veth_pair(mtu: u32) -> io::Result<(NetNs, NetNs, SocketAddr)> {
    let (a, b) = (NetNs::new()?, NetNs::new()?);
    // /proc/thread-self names the namespace thread's tid, which `ip` accepts as a netns.
    let tid_b = b.run(|| std::fs::read_link("/proc/thread-self"))?;
    let tid_b = tid_b
        .file_name()
        .and_then(|t| t.to_str())
        .ok_or_else(|| io::Error::other("no tid"))?
        .to_string();
    a.ip(&[
        "link",
        "add",
        "va",
        "mtu",
        &mtu.to_string(),
        "type",
        "veth",
        "peer",
        "name",
        "vb",
        "mtu",
        &mtu.to_string(),
        "netns",
        &tid_b,
    ])?;
    a.ip(&["addr", "add", "10.77.0.1/24", "dev", "va"])?;
    b.ip(&["addr", "add", "10.77.0.2/24", "dev", "vb"])?;
    a.ip(&["link", "set", "va", "up"])?;
    b.ip(&["link", "set", "vb", "up"])?;
    Ok((a, b, "10.77.0.2:5001".parse().unwrap()))
}
