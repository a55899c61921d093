//! What a bulk TCP transfer between two stacks on an in-memory link costs:
//! wall time, and the process's CPU time and context switches, which stay
//! meaningful on a busy machine where wall time does not.
//!
//!     cargo run --release --example bulk_cost -- [MIB=256] [MTU=1500|lo] [BUF_KIB=0] [IDLE=0]
//!
//! BUF_KIB sets both stacks' TCP send and receive buffers (0: `Limits`'s
//! defaults, which give a connection made while the budget is mostly free
//! 1 MiB buffers). MTU `lo` moves the bytes over lo inside one stack instead.
//! IDLE opens that many idle connections (4 KiB buffers) first and holds
//! them through the transfer: smoltcp visits every socket in each poll, so
//! they show what each open socket costs a busy one.

use sandnet::netstack::{Limits, Link, Stack, TcpListener, TcpStream, UdpSocket};
use std::io::{Read, Write};
use std::time::Instant;

/// (CPU seconds, context switches) of the whole process so far.
fn cost() -> (f64, u64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let f: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut switches = 0;
    for task in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
        switches += status
            .lines()
            .filter(|l| l.contains("ctxt_switches"))
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum::<u64>();
    }
    // USER_HZ is 100 on Linux.
    (ticks as f64 / 100.0, switches)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mib: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(256);
    let mtu_arg = args.next().unwrap_or_else(|| "1500".into());
    let lo = mtu_arg == "lo";
    let mtu: u32 = if lo { 65536 } else { mtu_arg.parse()? };
    let buf_kib: Option<usize> = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .filter(|&k| k > 0);
    let idle: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(0);
    let (la, lb) = Link::pipe();
    let (a, b) = (Stack::new()?, Stack::new()?);
    if let Some(kib) = buf_kib {
        for s in [&a, &b] {
            s.set_limits(Limits {
                tcp_recv_buffer: kib << 10,
                tcp_send_buffer: kib << 10,
                tcp_recv_buffer_max: 0,
                tcp_send_buffer_max: 0,
                ..Limits::default()
            })?;
        }
    }
    let (b, server) = if lo {
        (a.clone(), "127.0.0.1:5001".parse()?)
    } else {
        let ia = a.add_nic("p0", la)?;
        let ib = b.add_nic("p0", lb)?;
        a.set_mtu(ia, mtu)?;
        b.set_mtu(ib, mtu)?;
        a.add_address(ia, "10.1.0.1".parse()?, 24)?;
        b.add_address(ib, "10.1.0.2".parse()?, 24)?;
        (b, "10.1.0.2:5001".parse()?)
    };
    let held = hold_idle(&a, &b, server, idle)?;
    if idle > 0 {
        settle(&a)?;
        if !lo {
            settle(&b)?;
        }
        println!(
            "parked: {} and {}",
            a.parked_connections(),
            if lo { 0 } else { b.parked_connections() }
        );
    }
    let listener = TcpListener::bind(&b, server)?;
    let total = mib << 20;
    let sink = std::thread::spawn(move || -> std::io::Result<usize> {
        let (mut s, _) = listener.accept()?;
        let mut buf = vec![0u8; 256 << 10];
        let mut got = 0;
        loop {
            match s.read(&mut buf)? {
                0 => return Ok(got),
                n => got += n,
            }
        }
    });
    let (cpu0, sw0) = cost();
    let start = Instant::now();
    let mut c = TcpStream::connect(&a, server)?;
    let chunk = vec![0x5au8; 256 << 10];
    let mut left = total;
    while left > 0 {
        let n = left.min(chunk.len());
        c.write_all(&chunk[..n])?;
        left -= n;
    }
    c.shutdown(std::net::Shutdown::Write)?;
    let got = sink.join().expect("sink")?;
    let wall = start.elapsed().as_secs_f64();
    let (cpu1, sw1) = cost();
    assert_eq!(got, total);
    let gib = total as f64 / (1u64 << 30) as f64;
    // Without BUF_KIB the transfer's connection gets `Limits`'s larger
    // buffers (the stack's budget is all but free), not the usual size.
    let buffers = match buf_kib {
        Some(kib) => format!("{kib} KiB buffers"),
        None => format!(
            "default buffers ({} KiB)",
            a.limits()
                .tcp_recv_buffer_max
                .max(a.limits().tcp_recv_buffer)
                >> 10
        ),
    };
    drop(held);
    println!(
        "{mib} MiB at MTU {mtu}, {buffers}, {idle} idle connections: {:.1} MiB/s wall, {:.2} CPU s per GiB, {:.0} context switches per MiB",
        mib as f64 / wall,
        (cpu1 - cpu0) / gib,
        (sw1 - sw0) as f64 / mib as f64
    );
    Ok(())
}

/// `n` established connections from `a` to `b` on the port after `server`'s,
/// with 4 KiB buffers, that carry nothing.
fn hold_idle(
    a: &Stack,
    b: &Stack,
    server: std::net::SocketAddr,
    n: usize,
) -> std::io::Result<Vec<(TcpStream, TcpStream)>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let (la, lb) = (a.limits(), b.limits());
    let room = |l: Limits| Limits {
        max_sockets: l.max_sockets.max(2 * n + 16),
        ..l
    };
    let small = |l: Limits| Limits {
        tcp_recv_buffer: 4096,
        tcp_send_buffer: 4096,
        tcp_recv_buffer_max: 0,
        tcp_send_buffer_max: 0,
        ..room(l)
    };
    a.set_limits(small(la))?;
    b.set_limits(small(lb))?;
    let at = std::net::SocketAddr::new(server.ip(), server.port() + 1);
    let listener = TcpListener::bind(b, at)?;
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        let c = TcpStream::connect(a, at)?;
        let (s, _) = listener.accept()?;
        held.push((c, s));
    }
    // The transfer's own connection gets the usual buffers again.
    a.set_limits(room(la))?;
    b.set_limits(room(lb))?;
    Ok(held)
}

/// Lets a stack see its idle connections idle: it parks a connection that
/// stayed unchanged between two of its scans (one per 25 ms at most), and
/// scans only while rounds run, so a few rounds over 2.5 s (a datagram to
/// itself each).
fn settle(stack: &Stack) -> std::io::Result<()> {
    let udp = UdpSocket::bind(stack, ([127, 0, 0, 1], 0).into())?;
    let me = udp.local_addr()?;
    let mut buf = [0u8; 8];
    for _ in 0..10 {
        udp.send_to(b"tick", me)?;
        udp.recv_from(&mut buf)?;
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    Ok(())
}
