//! sandnet behind a TUN device: the same transfer through the Stack's
//! sockets, poll thread and link.

use super::kernel;
use super::rr;
use super::{Dir, Measured};
use sandnet::netstack::os::netns::NetNs;
use sandnet::netstack::{Interest, Limits, Link, Stack, TcpListener, TcpStream, UdpSocket};
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

const KERNEL: &str = "10.79.0.1";
const STACK: &str = "10.79.0.2";

/// How the program moves its bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Program {
    /// `Read` and `Write`, a copy each way.
    Copy,
    /// `read_with` and `write_with`, in place.
    InPlace,
    /// A receive sink, on the poll thread (`set_receive_sink`); receiving only.
    Sink,
    /// A send source, on the poll thread (`set_send_source`); sending only.
    Source,
    /// `Stack::wait`, then nonblocking `Read` and `Write`, as a runtime's
    /// event loop; request/response only.
    Waiting,
}

/// `mib` MiB in direction `dir`, or round trips, socket buffers of `buffer`
/// bytes, on a TUN device with offloads or without.
pub fn run(
    mib: u64,
    mtu: u32,
    buffer: usize,
    dir: Dir,
    offloads: bool,
    program: Program,
) -> io::Result<Measured> {
    match (program, dir) {
        (Program::Sink, Dir::Out) => {
            return Err(io::Error::other(
                "a sink receives: sandnet-sink runs `in` only",
            ))
        }
        (
            Program::InPlace | Program::Sink | Program::Source,
            Dir::Rr { .. } | Dir::UdpRr { .. },
        ) => {
            return Err(io::Error::other(
                "request/response echoes through Read and Write: sandnet or sandnet-plain",
            ))
        }
        (Program::Waiting, Dir::In | Dir::Out | Dir::UdpRr { .. }) => {
            return Err(io::Error::other(
                "an event loop's request/response: sandnet-wait runs `rr` only",
            ))
        }
        (Program::Source, Dir::In) => {
            return Err(io::Error::other(
                "a source sends: sandnet-source runs `out` only",
            ))
        }
        _ => {}
    }
    let in_place = program == Program::InPlace;
    kernel::pin_program()?;
    let ns = NetNs::new()?;
    let link = ns.run(move || {
        if offloads {
            Link::tun("sn0")
        } else {
            Link::tun_without_offloads("sn0")
        }
    })?;
    ns.ip(&["addr", "add", &format!("{KERNEL}/24"), "dev", "sn0"])?;
    ns.ip(&["link", "set", "sn0", "mtu", &mtu.to_string(), "up"])?;
    let stack = Stack::new()?;
    if kernel::pinned() {
        // Beside the program's thread, as bare smoltcp's loop is its own.
        stack.set_poll_thread_affinity(&[kernel::PROGRAM_CPU])?;
    }
    stack.set_limits(Limits {
        tcp_recv_buffer: buffer,
        tcp_send_buffer: buffer,
        // Exactly these, as bare smoltcp gets them.
        tcp_recv_buffer_max: 0,
        tcp_send_buffer_max: 0,
        ..stack.limits()
    })?;
    let nic = stack.add_nic("sn0", link)?;
    stack.set_mtu(nic, mtu)?;
    stack.add_address(nic, STACK.parse().unwrap(), 24)?;
    let total = mib << 20;
    let (start, end) = match dir {
        Dir::Rr { round_trips } => {
            let listener = TcpListener::bind(&stack, format!("{STACK}:5001").parse().unwrap())?;
            let conn = kernel::connect(&ns, format!("{STACK}:5001").parse().unwrap());
            let client = kernel::spawn(move || rr::client(conn, round_trips));
            let (s, _) = listener.accept()?;
            s.set_nodelay(true)?;
            let echoed = if program == Program::Waiting {
                s.set_nonblocking(true)?;
                rr::echo(EventLoop {
                    stack: &stack,
                    conn: &s,
                })?
            } else {
                rr::echo(&s)?
            };
            let stats = client.join().expect("kernel client")?;
            rr::echoed_all(echoed, round_trips)?;
            counters(&stack);
            return Ok(Measured::RoundTrips(stats));
        }
        Dir::UdpRr { round_trips } => {
            let addr: std::net::SocketAddr = format!("{STACK}:5001").parse().unwrap();
            let socket = UdpSocket::bind(&stack, addr)?;
            // A client that gave up (a lost datagram) sends no end.
            socket.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
            let client_socket = ns.run(move || rr::udp_connect(addr))?;
            let client = kernel::spawn(move || rr::udp_client(client_socket, round_trips));
            let answered = rr::udp_echo(|b| socket.recv_from(b), |b, to| socket.send_to(b, to))?;
            let stats = client.join().expect("kernel client")?;
            rr::udp_echoed_all(answered, round_trips, stats.lost)?;
            counters(&stack);
            return Ok(Measured::RoundTrips(stats));
        }
        Dir::In => {
            let listener = TcpListener::bind(&stack, format!("{STACK}:5001").parse().unwrap())?;
            let start = std::time::Instant::now();
            let conn = kernel::connect(&ns, format!("{STACK}:5001").parse().unwrap());
            let sender = kernel::spawn(move || kernel::send_all(conn, total));
            let (mut s, _) = listener.accept()?;
            if program == Program::Sink {
                // The sink counts and notes when it last took bytes; bytes
                // that came before it was set go to read, which then waits
                // for the end of the stream.
                let last = Arc::new(Mutex::new(start));
                let got = Arc::new(AtomicU64::new(0));
                let (l, g) = (last.clone(), got.clone());
                s.set_receive_sink(move |data| {
                    g.fetch_add(data.len() as u64, Ordering::Relaxed);
                    *l.lock().unwrap() = std::time::Instant::now();
                    data.len()
                })?;
                let mut buf = [0u8; 4096];
                let mut read = 0u64;
                let mut read_end = start;
                loop {
                    match s.read(&mut buf)? {
                        0 => break,
                        n => {
                            read += n as u64;
                            read_end = std::time::Instant::now();
                        }
                    }
                }
                sender.join().expect("kernel sender")?;
                let got = got.load(Ordering::Relaxed) + read;
                if got != total {
                    return Err(io::Error::other(format!("received {got} of {total} bytes")));
                }
                let end = (*last.lock().unwrap()).max(read_end);
                return Ok(Measured::Bytes(rate(&stack, total, start, end)));
            }
            let mut buf = vec![0u8; kernel::program_chunk()];
            let mut got = 0u64;
            while got < total {
                let n = if in_place {
                    s.read_with(|data| data.len())?
                } else {
                    s.read(&mut buf)?
                };
                if n == 0 {
                    break;
                }
                got += n as u64;
                kernel::work();
            }
            let end = std::time::Instant::now();
            sender.join().expect("kernel sender")?;
            if got != total {
                return Err(io::Error::other(format!("received {got} of {total} bytes")));
            }
            (start, end)
        }
        Dir::Out => {
            let listener = kernel::listen(&ns, format!("{KERNEL}:5001").parse().unwrap());
            let receiver = kernel::spawn(move || -> io::Result<(u64, std::time::Instant)> {
                let (s, _) = listener.accept()?;
                let got = kernel::drain(s)?;
                Ok((got, std::time::Instant::now()))
            });
            let start = std::time::Instant::now();
            let mut s = TcpStream::connect(&stack, format!("{KERNEL}:5001").parse().unwrap())?;
            if program == Program::Source {
                // The source fills until it has given `total` bytes, then
                // says so; the program then ends the stream.
                let (done, all_given) = std::sync::mpsc::channel();
                let mut given = 0u64;
                s.set_send_source(move |free| {
                    let n = (free.len() as u64).min(total - given) as usize;
                    free[..n].fill(0x5a);
                    given += n as u64;
                    if given == total && n > 0 {
                        let _ = done.send(());
                    }
                    n
                })?;
                all_given.recv().map_err(io::Error::other)?;
                s.shutdown(std::net::Shutdown::Write)?;
                let (got, end) = receiver.join().expect("kernel receiver")?;
                if got != total {
                    return Err(io::Error::other(format!("received {got} of {total} bytes")));
                }
                return Ok(Measured::Bytes(rate(&stack, total, start, end)));
            }
            let buf = vec![0x5au8; kernel::program_chunk()];
            let mut left = total;
            while left > 0 {
                let n = left.min(kernel::program_chunk() as u64) as usize;
                if in_place {
                    // Up to a chunk per call, as the copying program
                    // writes; offered the free space part by part, so the
                    // budget goes down in the closure.
                    let mut budget = n;
                    let wrote = s.write_with(|free| {
                        let k = free.len().min(budget);
                        free[..k].fill(0x5a);
                        budget -= k;
                        k
                    })?;
                    left -= wrote as u64;
                } else {
                    s.write_all(&buf[..n])?;
                    left -= n as u64;
                }
            }
            s.shutdown(std::net::Shutdown::Write)?;
            let (got, end) = receiver.join().expect("kernel receiver")?;
            if got != total {
                return Err(io::Error::other(format!("received {got} of {total} bytes")));
            }
            (start, end)
        }
    };
    Ok(Measured::Bytes(rate(&stack, total, start, end)))
}

/// Bytes per second, with the stack's counters on stderr.
fn rate(stack: &Stack, total: u64, start: std::time::Instant, end: std::time::Instant) -> f64 {
    counters(stack);
    total as f64 / (end - start).as_secs_f64()
}

/// The stack's counters, on stderr.
fn counters(stack: &Stack) {
    // Losses show here first when a run is slow: the host's queues
    // overflowing, and the stack's congestion control answering them.
    let snmp = stack.statistics().snmp;
    eprintln!(
        "sandnet: {} segments out, {} retransmitted, {} in, {} poll rounds, {} driven by reads",
        snmp.tcp.OutSegs,
        snmp.tcp.RetransSegs,
        snmp.tcp.InSegs,
        stack.wakeups(),
        stack.driven_rounds()
    );
}

/// A connection as a runtime's event loop serves it: a nonblocking call,
/// and `Stack::wait` for readiness when it would block.
struct EventLoop<'a> {
    stack: &'a Stack,
    conn: &'a TcpStream,
}

impl EventLoop<'_> {
    fn when_ready<T>(
        &self,
        interest: Interest,
        mut call: impl FnMut() -> io::Result<T>,
    ) -> io::Result<T> {
        loop {
            match call() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.stack.wait(&[(self.conn.id(), interest)], None)?;
                }
                r => return r,
            }
        }
    }
}

impl Read for EventLoop<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut conn = self.conn;
        self.when_ready(Interest::READABLE, || conn.read(buf))
    }
}

impl Write for EventLoop<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut conn = self.conn;
        self.when_ready(Interest::WRITABLE, || conn.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
