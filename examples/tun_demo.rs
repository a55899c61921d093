//! sandnet behind a real TUN device: the host talks to a userspace stack.
//!
//! ```text
//! sudo cargo run --release --example tun_demo
//! ping 10.233.0.2; ping fd00:233::2
//! curl http://10.233.0.2/proc/net/tcp     # lists this very curl connection
//! nc 10.233.0.2 7                          # TCP echo (nc -u: UDP echo)
//! ```
//!
//! It creates the TUN device `sandnet0` (`--dev` picks another name), gives
//! the host side 10.233.0.1/24 and fd00:233::1/64 and brings it up (ioctls
//! from Rust, no `ip` binary), and runs a stack behind it with 10.233.0.2/24,
//! fd00:233::2/64 and default routes via the host side. The stack answers
//! ping, echoes TCP and UDP on port 7 and serves its own /proc/net over HTTP
//! on port 80. It pings the host side once a second, prints `ip route get`
//! answers computed by `Stack::route_get` (nothing is sent to those
//! destinations) and keeps a status line. On Ctrl-C, or after `--duration`,
//! it prints its /proc/net/dev and /proc/net/snmp, removes the device and
//! exits 0. Without root or /dev/net/tun it explains what it needs and exits 2.

#[path = "tun_demo/cli.rs"]
mod cli;
#[path = "tun_demo/format.rs"]
mod format;
#[path = "tun_demo/http.rs"]
mod http;

use cli::{Command, Options, Step};
use sandnet::netstack::os::{geteuid, if_nametoindex, ifconfig, signal};
use sandnet::netstack::{
    Link, ListenOptions, PingSocket, RouteSpec, Stack, TcpListener, TcpStream, UdpSocket,
};
use std::io::{IsTerminal, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const ECHO_PORT: u16 = 7;
const HTTP_PORT: u16 = 80;
/// ping's default payload: 56 bytes, 64 with the ICMP header.
const PING_DATA: usize = 56;

fn main() {
    std::process::exit(run());
}

fn run() -> i32 {
    let opts = match cli::parse(std::env::args().skip(1)) {
        Ok(Command::Run(o)) => o,
        Ok(Command::Help) => {
            print!("{}", cli::USAGE);
            return 0;
        }
        Err(e) => {
            eprintln!("tun_demo: {e}\nTry 'tun_demo --help' for the options.");
            return 2;
        }
    };
    if let Err(e) = signal::catch_interrupts() {
        eprintln!("tun_demo: cannot handle Ctrl-C: {e}");
        return 1;
    }
    let (stack, ifindex) = match setup(&opts) {
        Ok(s) => s,
        Err((step, err)) => {
            let tun_present = std::path::Path::new("/dev/net/tun").exists();
            eprintln!(
                "{}",
                cli::explain(step, &err, &opts.dev, geteuid(), tun_present)
            );
            return 2;
        }
    };
    let console = Arc::new(Console::new(!opts.quiet));
    if let Err(e) = start_services(&stack) {
        eprintln!("tun_demo: cannot start the services: {e}");
        return 1;
    }
    console.line(&format!(
        "{}: host side {} {}, stack {} {}",
        opts.dev, opts.host4, opts.host6, opts.stack4, opts.stack6
    ));
    console.line(&format!(
        "serving: ping, TCP and UDP echo on port {ECHO_PORT}, HTTP on port {HTTP_PORT} \
         (curl http://{}/proc/net/tcp)",
        opts.stack4.addr
    ));
    print_route_answers(&stack, &opts, &console);

    let stop = Arc::new(AtomicBool::new(false));
    let pinger = start_pinger(&stack, opts.host4.addr, stop.clone(), console.clone());
    wait_for_the_end(&stack, ifindex, &opts, &console);
    stop.store(true, Ordering::SeqCst);
    console.clear_status();
    if let Ok(summary) = pinger.join() {
        console.line(summary.trim_end_matches('\n'));
    }
    finish(&stack, &opts.dev, &console)
}

/// Creates the device, configures its host side and builds the stack behind
/// it. On failure, says which step failed; whatever was made is undone by drop.
fn setup(o: &Options) -> Result<(Stack, u32), (Step, std::io::Error)> {
    let link = Link::tun(&o.dev).map_err(|e| (Step::CreateTun, e))?;
    ifconfig::set_ipv4(&o.dev, o.host4.v4(), o.host4.prefix_len)
        .and_then(|()| ifconfig::set_up(&o.dev))
        .map_err(|e| (Step::HostV4, e))?;
    ifconfig::add_ipv6(&o.dev, o.host6.v6(), o.host6.prefix_len).map_err(|e| (Step::HostV6, e))?;
    let build = || -> std::io::Result<(Stack, u32)> {
        let stack = Stack::new()?;
        let ifindex = stack.add_nic(&o.dev, link)?;
        stack.add_address(ifindex, o.stack4.addr, o.stack4.prefix_len)?;
        stack.add_address(ifindex, o.stack6.addr, o.stack6.prefix_len)?;
        stack.add_route(RouteSpec::default_v4().via(o.host4.addr))?;
        stack.add_route(RouteSpec::default_v6().via(o.host6.addr))?;
        Ok((stack, ifindex))
    };
    build().map_err(|e| (Step::Stack, e))
}

/// IPv4 and IPv6 sockets are separate (IPv6 ones v6only), as a Linux
/// server binds them, so that an IPv4 client shows in /proc/net/tcp.
fn any_addrs(port: u16) -> [(SocketAddr, bool); 2] {
    [
        (SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port), false),
        (SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port), true),
    ]
}

fn start_services(stack: &Stack) -> std::io::Result<()> {
    for (addr, v6only) in any_addrs(ECHO_PORT) {
        let opts = ListenOptions {
            v6only,
            ..ListenOptions::default()
        };
        let listener = TcpListener::bind_with(stack, addr, opts)?;
        accept_loop(listener, tcp_echo);
        let udp = UdpSocket::bind_with(stack, addr, v6only)?;
        spawn("udp-echo", move || udp_echo(&udp));
    }
    for (addr, v6only) in any_addrs(HTTP_PORT) {
        let opts = ListenOptions {
            v6only,
            ..ListenOptions::default()
        };
        let listener = TcpListener::bind_with(stack, addr, opts)?;
        let stack = stack.clone();
        accept_loop(listener, move |s| http::serve(s, &stack));
    }
    Ok(())
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .expect("a thread");
}

/// Accepts connections until the stack shuts down; each gets a thread.
fn accept_loop(listener: TcpListener, handle: impl Fn(TcpStream) + Clone + Send + Sync + 'static) {
    spawn("accept", move || loop {
        match listener.accept() {
            Ok((stream, _peer)) => {
                let handle = handle.clone();
                spawn("conn", move || handle(stream));
            }
            // ENETDOWN: the stack was shut down.
            Err(_) => return,
        }
    });
}

fn tcp_echo(mut s: TcpStream) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if s.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
    let _ = s.shutdown(Shutdown::Write);
}

fn udp_echo(u: &UdpSocket) {
    let mut buf = vec![0u8; 65536];
    while let Ok((n, from)) = u.recv_from(&mut buf) {
        let _ = u.send_to(&buf[..n], from);
    }
}

/// A few `ip route get` answers, computed by the stack's table; nothing is
/// sent to these destinations.
fn print_route_answers(stack: &Stack, o: &Options, console: &Console) {
    let dsts: [IpAddr; 6] = [
        Ipv4Addr::new(8, 8, 8, 8).into(),
        o.host4.addr,
        o.stack4.addr,
        "2001:4860:4860::8888".parse().expect("an address"),
        o.host6.addr,
        o.stack6.addr,
    ];
    let names: Vec<(u32, String)> = stack
        .interfaces()
        .into_iter()
        .map(|i| (i.index, i.name))
        .collect();
    let uid = geteuid();
    for dst in dsts {
        let mut out = format!("$ ip route get {dst}\n");
        match stack.route_get(dst, None) {
            Ok(a) => {
                let dev = names
                    .iter()
                    .find(|(i, _)| *i == a.oif)
                    .map_or("?", |(_, n)| n.as_str());
                out.push_str(&format::route_get(&a, dev, uid));
            }
            Err(e) => out.push_str(&format::route_get_error(&e)),
        }
        console.line(out.trim_end_matches('\n'));
    }
}

/// Pings `dst` once a second until `stop`, printing ping's lines; returns
/// ping's closing summary.
fn start_pinger(
    stack: &Stack,
    dst: IpAddr,
    stop: Arc<AtomicBool>,
    console: Arc<Console>,
) -> JoinHandle<String> {
    let stack = stack.clone();
    console.line(&format::ping_header(dst, PING_DATA));
    std::thread::Builder::new()
        .name("pinger".into())
        .spawn(move || {
            let start = Instant::now();
            let mut sent = 0u32;
            let mut rtts = Vec::new();
            let socket = match PingSocket::new(&stack, dst.is_ipv6()) {
                Ok(s) => s,
                Err(e) => return format!("ping: socket: {e}"),
            };
            let mut seq: u16 = 1;
            while !stop.load(Ordering::SeqCst) {
                let round = Instant::now();
                let mut m = vec![if dst.is_ipv6() { 128 } else { 8 }, 0, 0, 0, 0, 0];
                m.extend_from_slice(&seq.to_be_bytes());
                m.extend((0..PING_DATA).map(|i| i as u8));
                match socket.send_to(&m, dst) {
                    Ok(_) => {
                        sent += 1;
                        if let Some((n, from, ttl)) = await_reply(&socket, seq, round, &stop) {
                            let t = round.elapsed();
                            rtts.push(t);
                            console.line(&format::ping_reply(n, from, seq, ttl, t));
                        }
                    }
                    Err(e) => console.line(&format!("ping: sendmsg: {e}")),
                }
                seq = seq.wrapping_add(1);
                // One request a second, until told to stop.
                while round.elapsed() < Duration::from_secs(1) && !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            format::ping_summary(dst, sent, &rtts, start.elapsed())
        })
        .expect("a thread")
}

/// The echo reply for `seq`, waiting at most a second from `sent_at`.
fn await_reply(
    socket: &PingSocket,
    seq: u16,
    sent_at: Instant,
    stop: &AtomicBool,
) -> Option<(usize, IpAddr, u8)> {
    let mut buf = [0u8; 2048];
    loop {
        let left = Duration::from_secs(1).checked_sub(sent_at.elapsed())?;
        if stop.load(Ordering::SeqCst) {
            return None;
        }
        // Short waits, so that a stop request is seen promptly.
        socket
            .set_read_timeout(Some(
                left.clamp(Duration::from_millis(1), Duration::from_millis(100)),
            ))
            .ok()?;
        match socket.recv_with_ttl(&mut buf) {
            Ok((n, from, ttl)) if n >= 8 && matches!(buf[0], 0 | 129) => {
                if buf[6..8] == seq.to_be_bytes() {
                    return Some((n, from, ttl));
                }
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return None,
        }
    }
}

/// Runs until Ctrl-C (or SIGTERM) or the end of `--duration`, refreshing
/// the status line.
fn wait_for_the_end(stack: &Stack, ifindex: u32, o: &Options, console: &Console) {
    let start = Instant::now();
    // On a terminal the status shows at once; in a log, after the first period.
    let mut last_status = (!console.tty).then_some(start);
    loop {
        if signal::interrupted() || o.duration.is_some_and(|d| start.elapsed() >= d) {
            return;
        }
        if console.live && last_status.is_none_or(|t| t.elapsed() >= console.status_every()) {
            let dev = stack
                .statistics()
                .dev
                .get(&ifindex)
                .cloned()
                .unwrap_or_default();
            let open = format::open_connections(&stack.sockets());
            console.status(&format::status(&o.dev, &dev, open, start.elapsed()));
            last_status = Some(Instant::now());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Prints the closing tables, removes the device and checks that it is gone.
fn finish(stack: &Stack, dev: &str, console: &Console) -> i32 {
    let snap = stack.snapshot();
    for name in ["dev", "snmp"] {
        let text = sandnet::procnet::render(name, &snap).expect("a procnet file");
        console.line(&format!(
            "$ cat /proc/net/{name}\n{}",
            text.trim_end_matches('\n')
        ));
    }
    // Stops the stack and drops its links: the TUN device goes with them.
    stack.shutdown();
    match if_nametoindex(dev) {
        Err(_) => {
            console.line(&format!("removed {dev}"));
            0
        }
        Ok(_) => {
            console.line(&format!("tun_demo: {dev} is still there after shutdown"));
            1
        }
    }
}

/// stdout shared by the threads: whole lines, and a status line that is
/// redrawn in place on a terminal (printed every 10 s otherwise).
struct Console {
    live: bool,
    tty: bool,
    status_shown: Mutex<bool>,
}

impl Console {
    fn new(live: bool) -> Console {
        Console {
            live,
            tty: std::io::stdout().is_terminal(),
            status_shown: Mutex::new(false),
        }
    }

    fn status_every(&self) -> Duration {
        Duration::from_secs(if self.tty { 1 } else { 10 })
    }

    fn line(&self, text: &str) {
        let mut shown = self.status_shown.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = std::io::stdout().lock();
        if *shown {
            let _ = write!(out, "\r\x1b[K");
            *shown = false;
        }
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    fn status(&self, text: &str) {
        if !self.tty {
            return self.line(text);
        }
        let mut shown = self.status_shown.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "\r\x1b[K{text}");
        let _ = out.flush();
        *shown = true;
    }

    fn clear_status(&self) {
        let mut shown = self.status_shown.lock().unwrap_or_else(|e| e.into_inner());
        if *shown {
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "\r\x1b[K");
            let _ = out.flush();
            *shown = false;
        }
    }
}
