//! Request/response against the host kernel: the kernel's client sends a
//! small request and waits for the whole answer before it sends the next, as
//! an RPC or HTTP client on a kept-alive connection does, and the peer under
//! test echoes it. The client times every round trip on the kernel's side,
//! the same code for every peer, so the figures compare what each peer adds
//! to a round trip: for sandnet, the poll thread's hand-off to the program's
//! thread and back, which bulk transfers hide behind their windows.

use super::kernel;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

/// The request and the answer: a small RPC.
pub const REQUEST: usize = 64;

/// Untimed round trips first: the connection past its start (quickack, the
/// first segments' ACKs) and every thread's first wake-up behind it.
const WARMUP: usize = 1000;

/// What the client measured.
pub struct Stats {
    pub round_trips: usize,
    pub elapsed: Duration,
    /// Percentiles of the single round trips.
    pub p50: Duration,
    pub p99: Duration,
    /// CPU seconds of the whole process (both ends) over the timed part.
    pub cpu: f64,
    /// Requests sent again for want of an answer (UDP).
    pub lost: u64,
}

impl Stats {
    pub fn per_second(&self) -> f64 {
        self.round_trips as f64 / self.elapsed.as_secs_f64()
    }
}

/// Runs `exchange` for the warm-up and then `n` timed times.
fn timed(n: usize, mut exchange: impl FnMut() -> io::Result<()>) -> io::Result<Stats> {
    for _ in 0..WARMUP {
        exchange()?;
    }
    let mut times = Vec::with_capacity(n);
    let cpu_before = crate::cpu_seconds();
    let start = Instant::now();
    let mut last = start;
    for _ in 0..n {
        exchange()?;
        let now = Instant::now();
        times.push(now - last);
        last = now;
    }
    let cpu = crate::cpu_seconds() - cpu_before;
    times.sort_unstable();
    Ok(Stats {
        round_trips: n,
        elapsed: last - start,
        p50: percentile(&times, 50),
        p99: percentile(&times, 99),
        cpu,
        lost: 0,
    })
}

fn same(answer: &[u8], request: &[u8]) -> io::Result<()> {
    if answer != request {
        return Err(io::Error::other("the echo differs from the request"));
    }
    Ok(())
}

/// The kernel's client: `n` timed round trips after the warm-up, then the
/// end of its stream, which ends the echo.
pub fn client(mut s: TcpStream, n: usize) -> io::Result<Stats> {
    s.set_nodelay(true)?;
    let request = [0x5au8; REQUEST];
    let mut answer = [0u8; REQUEST];
    let stats = timed(n, || {
        s.write_all(&request)?;
        s.read_exact(&mut answer)?;
        same(&answer, &request)
    })?;
    s.shutdown(std::net::Shutdown::Write)?;
    Ok(stats)
}

/// The same over UDP, on a connected socket: a datagram each way per round
/// trip, then an empty one that ends the echo. A request whose answer does
/// not come within 200 ms is sent again, as a DNS client does, and counted
/// in `lost`; more than 100 such fail the run.
pub fn udp_client(s: UdpSocket, n: usize) -> io::Result<Stats> {
    s.set_read_timeout(Some(Duration::from_millis(200)))?;
    let request = [0x5au8; REQUEST];
    let mut answer = [0u8; REQUEST];
    let mut lost = 0u64;
    let mut stats = timed(n, || loop {
        s.send(&request)?;
        match s.recv(&mut answer) {
            Ok(REQUEST) => return same(&answer, &request),
            Ok(len) => return Err(io::Error::other(format!("an answer of {len} bytes"))),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) && lost < 100 =>
            {
                lost += 1
            }
            Err(e) => return Err(io::Error::new(e.kind(), format!("no answer: {e}"))),
        }
    })?;
    s.send(&[])?;
    stats.lost = lost;
    Ok(stats)
}

/// Whether an echo that answered `answered` datagrams answered every request
/// of a client of `n` round trips that lost `lost` (a lost answer was
/// answered twice, a lost request never).
pub fn udp_echoed_all(answered: u64, n: usize, lost: u64) -> io::Result<()> {
    let least = (WARMUP + n) as u64;
    if answered < least || answered > least + lost {
        return Err(io::Error::other(format!(
            "answered {answered} datagrams for {least} round trips and {lost} lost"
        )));
    }
    Ok(())
}

/// A UDP echo, on any socket that takes and sends datagrams as std's does
/// (the kernel's, sandnet's): answers each datagram to its sender until an
/// empty one; returns the datagrams answered.
pub fn udp_echo(
    mut recv_from: impl FnMut(&mut [u8]) -> io::Result<(usize, SocketAddr)>,
    mut send_to: impl FnMut(&[u8], SocketAddr) -> io::Result<usize>,
) -> io::Result<u64> {
    let mut buf = [0u8; 2048];
    let mut answered = 0u64;
    loop {
        let (n, from) = recv_from(&mut buf)?;
        if n == 0 {
            return Ok(answered);
        }
        send_to(&buf[..n], from)?;
        answered += 1;
    }
}

/// The kernel's client socket, connected to `addr` from the calling
/// thread's namespace.
pub fn udp_connect(addr: SocketAddr) -> io::Result<UdpSocket> {
    let s = UdpSocket::bind("0.0.0.0:0")?;
    s.connect(addr)?;
    Ok(s)
}

/// Whether an echo echoed every byte a client of `n` round trips sent.
pub fn echoed_all(echoed: u64, n: usize) -> io::Result<()> {
    let sent = ((WARMUP + n) * REQUEST) as u64;
    if echoed != sent {
        return Err(io::Error::other(format!("echoed {echoed} of {sent} bytes")));
    }
    Ok(())
}

/// The `p`th percentile of sorted `times` (nearest rank).
fn percentile(times: &[Duration], p: usize) -> Duration {
    if times.is_empty() {
        return Duration::ZERO;
    }
    let rank = (times.len() * p).div_ceil(100).max(1);
    times[rank - 1]
}

/// Echoes what it reads until the end of the stream; returns the bytes echoed.
pub fn echo(mut s: impl Read + Write) -> io::Result<u64> {
    let mut buf = [0u8; 4096];
    let mut echoed = 0u64;
    loop {
        match s.read(&mut buf)? {
            0 => return Ok(echoed),
            n => {
                s.write_all(&buf[..n])?;
                echoed += n as u64;
            }
        }
    }
}

/// The kernel's own TCP over a veth pair: namespace B echoes A's client, on
/// the program's side (`--pin`) as the userspace stacks' echo is.
pub fn veth(mtu: u32, round_trips: usize) -> io::Result<Stats> {
    kernel::pin_program()?;
    let (a, b, addr) = kernel::veth_pair(mtu)?;
    let listener = kernel::listen(&b, addr);
    let conn = kernel::connect(&a, addr);
    let client = kernel::spawn(move || client(conn, round_trips));
    let (s, _) = listener.accept()?;
    s.set_nodelay(true)?;
    let echoed = echo(s)?;
    let stats = client.join().expect("kernel client")?;
    echoed_all(echoed, round_trips)?;
    Ok(stats)
}

/// The kernel's own UDP over a veth pair, B echoing A's client.
pub fn veth_udp(mtu: u32, round_trips: usize) -> io::Result<Stats> {
    kernel::pin_program()?;
    let (a, b, addr) = kernel::veth_pair(mtu)?;
    let server = b.run(move || UdpSocket::bind(addr))?;
    // A client that gave up (a lost datagram) sends no end.
    server.set_read_timeout(Some(Duration::from_secs(5)))?;
    let client_socket = a.run(move || udp_connect(addr))?;
    let client = kernel::spawn(move || udp_client(client_socket, round_trips));
    let answered = udp_echo(|b| server.recv_from(b), |b, to| server.send_to(b, to))?;
    let stats = client.join().expect("kernel client")?;
    udp_echoed_all(answered, round_trips, stats.lost)?;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let t: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        assert_eq!(percentile(&t, 50), Duration::from_micros(50));
        assert_eq!(percentile(&t, 99), Duration::from_micros(99));
        assert_eq!(percentile(&t[..1], 99), Duration::from_micros(1));
        assert_eq!(percentile(&[], 50), Duration::ZERO);
    }
}
