//! TCP bulk throughput against the host kernel, one configuration per run, so
//! that benches/compare.sh can alternate them on the same machine:
//!
//!   kernel   the kernel's own TCP over a veth pair between two namespaces
//!   smoltcp  a bare smoltcp poll loop on a TUN device (no threads, no API)
//!   smoltcp-copy  the same, its program copying into and out of a buffer
//!            of its own as a program behind `Read` and `Write` does: the
//!            reference for `sandnet`, which pays the same copies
//!   sandnet  a sandnet Stack on a TUN device (with offloads, as `Link::tun`)
//!   sandnet-plain  the same on a TUN device without offloads
//!   sandnet-inplace  `sandnet`, reading and writing in place
//!            (`TcpStream::read_with`, `write_with`) instead of through
//!            `Read`/`Write`: the reader consumes without copying, as bare
//!            smoltcp's loop does; the writer fills the send buffer (bare
//!            smoltcp's leaves it as it was)
//!   sandnet-sink  `sandnet`, receiving through a sink that the poll thread
//!            calls in the round (`TcpStream::set_receive_sink`), as bare
//!            smoltcp's loop consumes in its own thread; `in` only
//!   sandnet-source  `sandnet`, sending from a source that the poll thread
//!            asks in the round (`TcpStream::set_send_source`), as bare
//!            smoltcp's loop fills in its own thread; `out` only
//!   sandnet-wait  `sandnet` served as a runtime's event loop serves it:
//!            nonblocking calls, `Stack::wait` when one would block; `rr` only
//!
//! `in` is kernel -> stack, `out` is stack -> kernel (for `kernel`, both are
//! namespace A -> namespace B). `rr` is request/response: the kernel's
//! client sends 64 bytes and waits for them back, `--rt N` times (default
//! 20000, after 1000 untimed), and the peer echoes through `Read` and
//! `Write` (bare smoltcp's loop through a buffer of its own); it prints
//! round trips per second, the median and 99th percentile of one, and the
//! CPU per round trip of the whole process over the timed ones. `udp-rr` is
//! the same over UDP (a datagram each way; bare smoltcp's loop echoes with
//! its UDP socket, sandnet with `UdpSocket`). `--sender-cc NAME` sets the congestion
//! control of the kernel's sending socket (default `cubic`, Linux's default,
//! whatever the host's `net.ipv4.tcp_congestion_control` says: with `bbr`
//! the sender paces from the ACKs it sees, and the receiving stacks' figures
//! move with it; docs/PERFORMANCE.md). `--sender-write BYTES` sets the size
//! of the kernel sender's writes (default 64 KiB; at MTU 65535 each leaves
//! a 41-byte segment behind, which BBR pays for, and two segments' worth,
//! 130990 bytes, leaves none). `--program-chunk BYTES` sets the size of the
//! userspace program's reads and writes, bare smoltcp's copies and sandnet's
//! `Read`/`Write` alike (default 64 KiB). `--work-us US` has the program
//! spin for US microseconds after each read (inbound; bare smoltcp's
//! `recv_slice`/`recv` and sandnet's `read`/`read_with` alike), as a program
//! that works on what it reads. `--pin` puts the program's side on
//! CPU 0 (the thread running bare smoltcp's loop, or the program's thread
//! and sandnet's poll thread) and the kernel's peer thread on CPU 1;
//! `--pin-program` puts the program's side on CPU 0 and leaves the peer to
//! the scheduler. Needs root: everything happens in private network
//! namespaces created here and gone when it exits.
//!
//!     cargo run --release --example tun_bench -- sandnet in --mib 256 --mtu 1500

#[path = "tun_bench/bare.rs"]
mod bare;
#[path = "tun_bench/kernel.rs"]
mod kernel;
#[path = "tun_bench/rr.rs"]
mod rr;
#[path = "tun_bench/stack.rs"]
mod stack;

use stack::Program;
use std::process::ExitCode;

#[derive(Clone, Copy, Debug)]
pub enum Dir {
    In,
    Out,
    /// Request/response, this many timed round trips.
    Rr {
        round_trips: usize,
    },
    /// The same over UDP.
    UdpRr {
        round_trips: usize,
    },
}

/// What a run measured.
pub enum Measured {
    /// Bytes per second of a bulk transfer.
    Bytes(f64),
    RoundTrips(rr::Stats),
}

const USAGE: &str =
    "usage: tun_bench kernel|smoltcp|smoltcp-copy|sandnet|sandnet-plain|sandnet-inplace|sandnet-sink|sandnet-source|sandnet-wait in|out|rr|udp-rr [--mib N] [--rt N] [--mtu BYTES] [--buffer BYTES] [--pin|--pin-program] [--sender-cc NAME] [--sender-write BYTES] [--program-chunk BYTES] [--work-us US]";

/// CPU time of the whole process (every thread, both ends of the transfer:
/// the kernel's work for its sockets is charged to the threads that call it
/// or run its softirqs, which are ours). Meaningful on a busy machine where
/// wall time is not.
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let f: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    ticks as f64 / 100.0
}

/// The largest size `--sender-write` and `--program-chunk` take: the sender
/// and the program each hold one buffer of it.
const MAX_IO_SIZE: u64 = 64 << 20;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let (Some(mode), Some(dir)) = (args.first(), args.get(1)) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let flag = |name: &str, default: u64| -> Result<u64, String> {
        match args.iter().position(|a| a == name) {
            None => Ok(default),
            Some(i) => args
                .get(i + 1)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} needs a number")),
        }
    };
    let (mib, mtu, buffer) = match (
        flag("--mib", 256),
        flag("--mtu", 1500),
        flag("--buffer", 128 * 1024),
    ) {
        (Ok(a), Ok(b), Ok(c)) if (68..=65535).contains(&b) && a > 0 => (a, b as u32, c as usize),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            eprintln!("tun_bench: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
        _ => {
            eprintln!("tun_bench: --mib must be positive and --mtu within 68..=65535");
            return ExitCode::from(2);
        }
    };
    let dir = match (dir.as_str(), flag("--rt", 20_000)) {
        ("in", _) => Dir::In,
        ("out", _) => Dir::Out,
        ("rr", Ok(n)) if (1..=10_000_000).contains(&n) => Dir::Rr {
            round_trips: n as usize,
        },
        ("udp-rr", Ok(n)) if (1..=10_000_000).contains(&n) => Dir::UdpRr {
            round_trips: n as usize,
        },
        ("rr" | "udp-rr", Ok(_)) => {
            eprintln!("tun_bench: --rt must be within 1..=10000000");
            return ExitCode::from(2);
        }
        ("rr" | "udp-rr", Err(e)) => {
            eprintln!("tun_bench: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
        (other, _) => {
            eprintln!("tun_bench: direction must be in, out, rr or udp-rr, not {other:?}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // Sizes of writes and reads (the sender's, the userspace program's), and
    // the program's work per read.
    for (name, default, range, set) in [
        (
            "--sender-write",
            kernel::CHUNK as u64,
            1..=MAX_IO_SIZE,
            kernel::set_sender_write as fn(usize),
        ),
        (
            "--program-chunk",
            kernel::CHUNK as u64,
            1..=MAX_IO_SIZE,
            kernel::set_program_chunk,
        ),
        ("--work-us", 0, 0..=1_000_000, kernel::set_work_us),
    ] {
        match flag(name, default) {
            Ok(n) if range.contains(&n) => set(n as usize),
            Ok(_) => {
                eprintln!(
                    "tun_bench: {name} must be within {}..={}",
                    range.start(),
                    range.end()
                );
                return ExitCode::from(2);
            }
            Err(e) => {
                eprintln!("tun_bench: {e}\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    if sandnet::netstack::os::geteuid() != 0 {
        eprintln!(
            "tun_bench: needs root (it creates network namespaces, veth pairs and TUN devices)"
        );
        return ExitCode::from(1);
    }
    kernel::set_pin(if args.iter().any(|a| a == "--pin") {
        kernel::Pin::Both
    } else if args.iter().any(|a| a == "--pin-program") {
        kernel::Pin::Program
    } else {
        kernel::Pin::None
    });
    if let Some(i) = args.iter().position(|a| a == "--sender-cc") {
        match args.get(i + 1) {
            Some(name) if !name.is_empty() && !name.starts_with("--") => {
                if let Err(e) = kernel::set_sender_cc(name) {
                    eprintln!("tun_bench: {e}");
                    return ExitCode::from(2);
                }
            }
            _ => {
                eprintln!("tun_bench: --sender-cc needs a congestion control's name\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let cpu_before = cpu_seconds();
    let result = match mode.as_str() {
        "kernel" => match dir {
            Dir::Rr { round_trips } => rr::veth(mtu, round_trips).map(Measured::RoundTrips),
            Dir::UdpRr { round_trips } => rr::veth_udp(mtu, round_trips).map(Measured::RoundTrips),
            _ => kernel::veth(mib, mtu).map(Measured::Bytes),
        },
        "smoltcp" => bare::run(mib, mtu, buffer, dir, false),
        "smoltcp-copy" => bare::run(mib, mtu, buffer, dir, true),
        "sandnet" => stack::run(mib, mtu, buffer, dir, true, Program::Copy),
        "sandnet-plain" => stack::run(mib, mtu, buffer, dir, false, Program::Copy),
        "sandnet-inplace" => stack::run(mib, mtu, buffer, dir, true, Program::InPlace),
        "sandnet-sink" => stack::run(mib, mtu, buffer, dir, true, Program::Sink),
        "sandnet-source" => stack::run(mib, mtu, buffer, dir, true, Program::Source),
        "sandnet-wait" => stack::run(mib, mtu, buffer, dir, true, Program::Waiting),
        other => {
            eprintln!("tun_bench: unknown mode {other:?}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(Measured::RoundTrips(rt)) => {
            let cpu = rt.cpu * 1e6 / rt.round_trips as f64;
            println!(
                "{mode} {} mtu={mtu} rt={} rt/s={:.0} us_p50={:.1} us_p99={:.1} cpu_us_per_rt={cpu:.2}{}",
                if matches!(dir, Dir::UdpRr { .. }) { "udp-rr" } else { "rr" },
                rt.round_trips,
                rt.per_second(),
                rt.p50.as_secs_f64() * 1e6,
                rt.p99.as_secs_f64() * 1e6,
                // Named for UDP, where requests are sent again.
                if matches!(dir, Dir::UdpRr { .. }) {
                    format!(" lost={}", rt.lost)
                } else {
                    String::new()
                },
            );
            ExitCode::SUCCESS
        }
        Ok(Measured::Bytes(bps)) => {
            let d = match dir {
                Dir::In => "in",
                _ => "out",
            };
            let cpu = (cpu_seconds() - cpu_before) / (mib as f64 / 1024.0);
            // Named where the kernel is the one sending.
            let cc = match (dir, mode.as_str()) {
                (Dir::In, _) | (_, "kernel") => format!(
                    " sender_cc={} sender_write={}",
                    kernel::sender_cc(),
                    kernel::sender_write()
                ),
                _ => String::new(),
            };
            println!(
                "{mode} {d} mtu={mtu} MiB={mib} MiB/s={:.1} cpu_s_per_GiB={cpu:.2}{cc}",
                bps / (1 << 20) as f64
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tun_bench: {mode} {e}");
            ExitCode::from(1)
        }
    }
}
