//! examples/tun_demo: its pieces (command line, explanations, ping and
//! `ip route get` formats, the HTTP answers), and the binary itself run in a
//! private network namespace and driven by the kernel there (root only):
//! ping, TCP and UDP echo, an HTTP GET of /proc/net/tcp that must list the
//! client's own connection, Ctrl-C, and the device gone at the end.

mod support;

#[path = "../examples/tun_demo/cli.rs"]
#[allow(dead_code)]
mod cli;
#[path = "../examples/tun_demo/format.rs"]
#[allow(dead_code)]
mod format;
#[path = "../examples/tun_demo/http.rs"]
#[allow(dead_code)]
mod http;

use cli::{Cidr, Command, Options, Step};
use sandnet::netstack::os::netns::NetNs;
use sandnet::netstack::os::{if_nametoindex, ifconfig};
use sandnet::netstack::{Link, RouteSpec, Stack};
use socket2::{Domain, Protocol, Socket, Type};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

// ---- the command line ----

#[test]
fn defaults_are_the_documented_addresses() {
    let Ok(Command::Run(o)) = cli::parse(args(&[])) else {
        panic!("no arguments run the demo");
    };
    assert_eq!(o, Options::default());
    assert_eq!(o.dev, "sandnet0");
    let shown: Vec<String> = [o.host4, o.host6, o.stack4, o.stack6]
        .iter()
        .map(Cidr::to_string)
        .collect();
    assert_eq!(
        shown,
        [
            "10.233.0.1/24",
            "fd00:233::1/64",
            "10.233.0.2/24",
            "fd00:233::2/64"
        ]
    );
    assert_eq!((o.duration, o.quiet), (None, false));
}

#[test]
fn flags_change_every_setting() {
    let Ok(Command::Run(o)) = cli::parse(args(&[
        "--dev",
        "demo7",
        "--host4",
        "192.168.77.1/16",
        "--stack4",
        "192.168.5.5/16",
        "--host6",
        "fd00:77::1/48",
        "--stack6",
        "fd00:77:0:1::9/48",
        "--duration",
        "2.5",
        "--quiet",
    ])) else {
        panic!("valid flags");
    };
    assert_eq!(o.dev, "demo7");
    assert_eq!(o.host4.to_string(), "192.168.77.1/16");
    assert_eq!(o.stack4.to_string(), "192.168.5.5/16");
    assert_eq!(o.host6.to_string(), "fd00:77::1/48");
    assert_eq!(o.stack6.to_string(), "fd00:77:0:1::9/48");
    assert_eq!(o.duration, Some(Duration::from_millis(2500)));
    assert!(o.quiet);
    assert_eq!(cli::parse(args(&["--quiet", "--help"])), Ok(Command::Help));
}

#[test]
fn bad_command_lines_are_refused_with_a_reason() {
    let refused = |a: &[&str], why: &str| {
        let e = cli::parse(args(a)).expect_err(&format!("{a:?} must be refused"));
        assert!(e.contains(why), "{a:?}: {e:?} should mention {why:?}");
    };
    refused(&["--bogus"], "unknown argument");
    refused(&["--dev"], "--dev needs");
    refused(&["--dev", "sixteen-chars-xx"], "not a valid device name");
    refused(&["--dev", "a/b"], "not a valid device name");
    refused(&["--dev", "a b"], "not a valid device name");
    refused(&["--dev", "eth%d"], "not a valid device name");
    refused(&["--dev", ".."], "not a valid device name");
    refused(&["--host4", "10.0.0.1"], "expected ADDR/LEN");
    refused(&["--host4", "fd00::1/64"], "not an IPv4 address");
    refused(&["--host6", "10.0.0.1/8"], "not an IPv6 address");
    refused(&["--host4", "10.233.0.1/33"], "prefix length");
    refused(&["--stack4", "10.233.0.2/0"], "prefix length");
    refused(&["--host4", "10.234.0.1/24"], "not in the stack's prefix");
    refused(&["--host6", "fd00:234::1/64"], "not in the stack's prefix");
    refused(&["--stack4", "10.233.0.1/24"], "both have");
    refused(&["--duration", "0"], "expected seconds");
    refused(&["--duration", "soon"], "expected seconds");
    // The edge of a prefix is still in it.
    assert!(cli::parse(args(&["--host4", "10.233.0.255/24"])).is_ok());
    assert!(cli::parse(args(&["--dev", "fifteen-chars-x"])).is_ok());
}

#[test]
fn setup_failures_are_explained() {
    let e = |code| io::Error::from_raw_os_error(code);
    // Not root: /dev/net/tun is root's only.
    let s = cli::explain(Step::CreateTun, &e(libc::EACCES), "sandnet0", 1000, true);
    assert!(s.contains("needs root (CAP_NET_ADMIN)"), "{s}");
    assert!(s.contains("uid 1000, not root"), "{s}");
    assert!(
        s.contains("sudo cargo run --release --example tun_demo"),
        "{s}"
    );
    // Root without the capability (a restricted container).
    let s = cli::explain(Step::HostV4, &e(libc::EPERM), "sandnet0", 0, true);
    assert!(s.contains("without CAP_NET_ADMIN"), "{s}");
    // No TUN driver or device node.
    let s = cli::explain(Step::CreateTun, &e(libc::ENOENT), "sandnet0", 0, false);
    assert!(s.contains("/dev/net/tun is missing"), "{s}");
    let s = cli::explain(Step::CreateTun, &e(libc::ENODEV), "sandnet0", 0, true);
    assert!(s.contains("modprobe tun"), "{s}");
    // The name is taken.
    let s = cli::explain(Step::CreateTun, &e(libc::EBUSY), "sandnet0", 0, true);
    assert!(s.contains("--dev NAME") && s.contains("sandnet0"), "{s}");
    // IPv6 switched off on the host.
    let s = cli::explain(Step::HostV6, &e(libc::EACCES), "sandnet0", 0, true);
    assert!(s.contains("disable_ipv6"), "{s}");
    // Anything else names the step and the error.
    let s = cli::explain(Step::Stack, &e(libc::ENOMEM), "sandnet0", 0, true);
    assert!(s.starts_with("tun_demo cannot build the stack:"), "{s}");
}

// ---- output formats ----

/// A stack configured as the demo configures it, behind a pipe named like
/// the demo's device.
fn demo_stack() -> (Stack, Link) {
    let (ours, far) = Link::pipe();
    let stack = Stack::new().unwrap();
    let nic = stack.add_nic("sandnet0", ours).unwrap();
    stack.add_address(nic, ip("10.233.0.2"), 24).unwrap();
    stack.add_address(nic, ip("fd00:233::2"), 64).unwrap();
    stack
        .add_route(RouteSpec::default_v4().via(ip("10.233.0.1")))
        .unwrap();
    stack
        .add_route(RouteSpec::default_v6().via(ip("fd00:233::1")))
        .unwrap();
    (stack, far)
}

fn stack_says(stack: &Stack, dst: &str) -> String {
    let a = stack.route_get(ip(dst), None).unwrap();
    let dev = if a.oif == 1 { "lo" } else { "sandnet0" };
    format::route_get(&a, dev, 0)
}

/// What Linux 6.18's `ip route get` printed (`cat -A` shows the trailing
/// spaces) for the kernel configured as the demo's stack, as root.
const KERNEL_ROUTE_GET: &[(&str, &str)] = &[
    (
        "8.8.8.8",
        "8.8.8.8 via 10.233.0.1 dev sandnet0 src 10.233.0.2 uid 0 \n    cache \n",
    ),
    (
        "10.233.0.1",
        "10.233.0.1 dev sandnet0 src 10.233.0.2 uid 0 \n    cache \n",
    ),
    (
        "10.233.0.2",
        "local 10.233.0.2 dev lo src 10.233.0.2 uid 0 \n    cache <local> \n",
    ),
    (
        "10.233.0.255",
        "broadcast 10.233.0.255 dev sandnet0 src 10.233.0.2 uid 0 \n    cache <local,brd> \n",
    ),
    (
        "2001:4860:4860::8888",
        "2001:4860:4860::8888 from :: via fd00:233::1 dev sandnet0 src fd00:233::2 metric 1024 pref medium\n",
    ),
    (
        "fd00:233::1",
        "fd00:233::1 from :: dev sandnet0 proto kernel src fd00:233::2 metric 256 pref medium\n",
    ),
    (
        "fd00:233::2",
        "local fd00:233::2 from :: dev lo table local proto kernel src fd00:233::2 metric 0 pref medium\n",
    ),
];

#[test]
fn route_answers_print_as_ip_route_get_prints_them() {
    let (stack, _far) = demo_stack();
    for (dst, kernel) in KERNEL_ROUTE_GET {
        assert_eq!(stack_says(&stack, dst), *kernel, "ip route get {dst}");
    }
    let e = stack.route_get(ip("10.233.0.9"), Some(ip("192.0.2.1")));
    if let Err(e) = e {
        assert!(format::route_get_error(&e).starts_with("RTNETLINK answers: "));
        assert!(!format::route_get_error(&e).contains("os error"));
    }
}

#[test]
fn route_answers_match_the_live_kernel() {
    if !support::root::have_root("route_answers_match_the_live_kernel") {
        return;
    }
    let ns = NetNs::new().unwrap();
    let link = ns.run(|| Link::tun("sandnet0")).unwrap();
    ns.ip(&["addr", "add", "10.233.0.2/24", "dev", "sandnet0"])
        .unwrap();
    ns.ip(&[
        "-6",
        "addr",
        "add",
        "fd00:233::2/64",
        "dev",
        "sandnet0",
        "nodad",
    ])
    .unwrap();
    ns.ip(&["link", "set", "sandnet0", "up"]).unwrap();
    ns.ip(&["route", "add", "default", "via", "10.233.0.1"])
        .unwrap();
    ns.ip(&["-6", "route", "add", "default", "via", "fd00:233::1"])
        .unwrap();
    let (stack, _far) = demo_stack();
    for (dst, _) in KERNEL_ROUTE_GET {
        let kernel = ns.ip(&["route", "get", dst]).unwrap();
        assert_eq!(stack_says(&stack, dst), kernel, "ip route get {dst}");
    }
    drop(link);
}

#[test]
fn ping_lines_follow_iputils() {
    let from = ip("10.233.0.1");
    let us = Duration::from_micros;
    assert_eq!(
        format::ping_reply(64, from, 1, 64, us(123)),
        "64 bytes from 10.233.0.1: icmp_seq=1 ttl=64 time=0.123 ms"
    );
    // Precision shrinks as the time grows, as ping's does.
    assert_eq!(format::rtt(us(999)), "0.999");
    assert_eq!(format::rtt(us(1234)), "1.23");
    assert_eq!(format::rtt(us(12_345)), "12.3");
    assert_eq!(format::rtt(us(123_456)), "123");
    assert_eq!(
        format::ping_header(from, 56),
        "PING 10.233.0.1 (10.233.0.1) 56(84) bytes of data."
    );
    assert_eq!(
        format::ping_header(ip("fd00:233::1"), 56),
        "PING fd00:233::1 (fd00:233::1) 56 data bytes"
    );
    assert_eq!(
        format::ping_summary(from, 3, &[us(100), us(300)], Duration::from_millis(2001)),
        "--- 10.233.0.1 ping statistics ---\n\
         3 packets transmitted, 2 received, 33.3333% packet loss, time 2001ms\n\
         rtt min/avg/max/mdev = 0.100/0.200/0.300/0.100 ms\n"
    );
    assert_eq!(
        format::ping_summary(from, 2, &[], Duration::from_millis(1000)),
        "--- 10.233.0.1 ping statistics ---\n\
         2 packets transmitted, 0 received, 100% packet loss, time 1000ms\n"
    );
}

#[test]
fn status_line_counts_packets_bytes_and_connections() {
    let (stack, _far) = demo_stack();
    let server =
        sandnet::netstack::TcpListener::bind(&stack, "127.0.0.1:7".parse().unwrap()).unwrap();
    let client =
        sandnet::netstack::TcpStream::connect(&stack, "127.0.0.1:7".parse().unwrap()).unwrap();
    let (accepted, _) = server.accept().unwrap();
    // A listener is not a connection; both ends of one are.
    assert_eq!(format::open_connections(&stack.sockets()), 2);
    drop((client, accepted));
    let d = sandnet::netstack::inet::DevStats {
        rx_packets: 3,
        rx_bytes: 252,
        tx_packets: 1,
        tx_bytes: 3 * 1024 * 1024 / 2,
        ..Default::default()
    };
    assert_eq!(
        format::status("sandnet0", &d, 1, Duration::from_secs(12)),
        "[12s] sandnet0: rx 3 packets (252 B), tx 1 packets (1.5 MiB); 1 open TCP connection"
    );
}

#[test]
fn http_answers() {
    let (stack, _far) = demo_stack();
    let get = |head: &str| http::respond(head, || stack.snapshot());
    let r = get("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!((r.status, r.head_only), (200, false));
    for (name, _) in sandnet::procnet::FILES {
        assert!(r.body.contains(&format!("/proc/net/{name}\n")), "{name}");
    }
    let r = get("GET /proc/net/route?x=1 HTTP/1.1\r\n\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        sandnet::procnet::render("route", &stack.snapshot()).unwrap()
    );
    let r = get("HEAD /proc/net/dev HTTP/1.0\r\n\r\n");
    assert_eq!((r.status, r.head_only), (200, true));
    let bytes = String::from_utf8(r.to_bytes()).unwrap();
    assert!(bytes.ends_with("\r\n\r\n"), "HEAD has no body");
    assert!(bytes.contains(&format!("Content-Length: {}\r\n", r.body.len())));
    assert_eq!(get("GET /proc/net/nope HTTP/1.1\r\n\r\n").status, 404);
    assert_eq!(get("GET /proc/net/../tcp HTTP/1.1\r\n\r\n").status, 404);
    assert_eq!(get("GET /etc/passwd HTTP/1.1\r\n\r\n").status, 404);
    let r = get("POST / HTTP/1.1\r\n\r\n");
    assert_eq!(r.status, 405);
    assert!(String::from_utf8(r.to_bytes())
        .unwrap()
        .contains("Allow: GET, HEAD\r\n"));
    assert_eq!(get("GET / HTTP/2\r\n\r\n").status, 505);
    assert_eq!(get("GET /\r\n\r\n").status, 400);
    assert_eq!(get("\r\n\r\n").status, 400);
}

// ---- the binary ----

/// The demo binary, built (once per test run) as cargo builds examples.
fn demo_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let out = std::process::Command::new(env!("CARGO"))
            .args(["build", "--example", "tun_demo", "--message-format=json"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stderr(Stdio::inherit())
            .output()
            .expect("cargo runs");
        assert!(
            out.status.success(),
            "cargo build --example tun_demo failed"
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .find(|l| l.contains("\"name\":\"tun_demo\"") && l.contains("\"executable\":\""))
            .expect("cargo names the example's executable");
        let start = line.find("\"executable\":\"").unwrap() + "\"executable\":\"".len();
        let end = start + line[start..].find('"').unwrap();
        PathBuf::from(&line[start..end])
    })
    .clone()
}

fn run_demo(a: &[&str]) -> std::process::Output {
    std::process::Command::new(demo_binary())
        .args(a)
        .output()
        .unwrap()
}

#[test]
fn help_and_bad_flags_need_no_root() {
    let out = run_demo(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), cli::USAGE);
    for bad in [
        &["--dev", "sixteen-chars-xx"][..],
        &["--dev", "a/b"],
        &["--nope"],
    ] {
        let out = run_demo(bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("tun_demo: "), "{bad:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(out.stdout.is_empty());
    }
}

fn is_root() -> bool {
    sandnet::netstack::os::geteuid() == 0
}

/// Without root the demo explains what it needs and exits 2. As root, the
/// test runs it as `nobody` (from a copy every user can execute, inside a
/// private namespace, although it never gets as far as making a device).
#[test]
fn without_root_it_explains_and_exits_2() {
    let bin = demo_binary();
    let out = if is_root() {
        let copy = std::env::temp_dir().join(format!("tun_demo-nobody-{}", std::process::id()));
        std::fs::copy(&bin, &copy).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
        let ns = NetNs::new().unwrap();
        let c = copy.clone();
        let out = ns
            .run(move || {
                use std::os::unix::process::CommandExt;
                std::process::Command::new(c)
                    .uid(65534)
                    .gid(65534)
                    .current_dir("/")
                    .output()
            })
            .unwrap();
        std::fs::remove_file(&copy).unwrap();
        out
    } else {
        run_demo(&[])
    };
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    if std::path::Path::new("/dev/net/tun").exists() {
        assert!(err.contains("needs root (CAP_NET_ADMIN)"), "{err}");
        assert!(err.contains("not root"), "{err}");
    } else {
        assert!(err.contains("/dev/net/tun is missing"), "{err}");
    }
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
    assert!(err.lines().count() <= 4, "short: {err}");
    assert!(out.stdout.is_empty());
}

/// The demo running in a namespace, its stdout collected line by line.
struct Demo {
    child: Child,
    lines: crossbeam_channel::Receiver<String>,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        // Only if a test failed before the demo exited.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn write_sysctl(ns: &NetNs, path: &'static str, value: &'static str) {
    ns.run(move || std::fs::write(path, value))
        .unwrap_or_else(|e| panic!("{path}: {e}"));
}

/// A namespace with kernel ping sockets allowed for root.
fn demo_ns() -> NetNs {
    let ns = NetNs::new().unwrap();
    write_sysctl(&ns, "/proc/sys/net/ipv4/ping_group_range", "0 2147483647");
    ns
}

impl Demo {
    /// Starts the demo in `ns` and waits until it serves.
    fn start(ns: &NetNs, a: &[&str]) -> Demo {
        let bin = demo_binary();
        let a = args(a);
        let mut child = ns
            .run(move || {
                std::process::Command::new(bin)
                    .args(a)
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
            })
            .expect("the demo starts");
        let (tx, lines) = crossbeam_channel::unbounded();
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let out = BufReader::new(child.stdout.take().unwrap());
        let all = stdout.clone();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                all.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        let mut err = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        let demo = Demo {
            child,
            lines,
            stdout,
            stderr: Some(stderr),
        };
        demo.wait_for_line("serving: ", Duration::from_secs(30));
        demo
    }

    fn wait_for_line(&self, prefix: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.starts_with(prefix) => return l,
                Ok(_) => {}
                Err(_) => panic!(
                    "no line starting {prefix:?} within {limit:?}; stdout so far:\n{}",
                    self.stdout.lock().unwrap().join("\n")
                ),
            }
        }
    }

    /// Waits for the exit; returns (code, stdout, stderr).
    fn finish(mut self, limit: Duration) -> (Option<i32>, String, String) {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "the demo did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        // The reader threads end with the pipes.
        let stderr = self.stderr.take().unwrap().join().unwrap();
        while self.lines.recv_timeout(Duration::from_secs(5)).is_ok() {}
        let stdout = self.stdout.lock().unwrap().join("\n");
        (status.code(), stdout, stderr)
    }
}

fn sa(addr: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip(addr), port)
}

/// One kernel ping to `dst` from inside the namespace; returns the reply's sequence.
fn kernel_ping(ns: &NetNs, dst: &str, seq: u16) -> u16 {
    let dst = sa(dst, 0);
    let s = ns
        .run(move || {
            let (domain, proto, ty) = if dst.is_ipv6() {
                (Domain::IPV6, Protocol::ICMPV6, 128)
            } else {
                (Domain::IPV4, Protocol::ICMPV4, 8)
            };
            let s = Socket::new(domain, Type::DGRAM, Some(proto))?;
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            let mut m = vec![ty, 0, 0, 0, 0, 0];
            m.extend_from_slice(&seq.to_be_bytes());
            m.extend_from_slice(b"from the kernel");
            s.send_to(&m, &dst.into())?;
            Ok::<_, io::Error>(UdpSocket::from(s))
        })
        .expect("a kernel ping");
    let mut buf = [0u8; 128];
    let (n, from) = s.recv_from(&mut buf).expect("an echo reply");
    assert_eq!(from.ip(), dst.ip());
    assert_eq!(&buf[8..n], b"from the kernel");
    u16::from_be_bytes([buf[6], buf[7]])
}

/// A kernel TCP connection from inside the namespace.
fn kernel_connect(ns: &NetNs, to: SocketAddr) -> TcpStream {
    let s = ns
        .run(move || TcpStream::connect_timeout(&to, Duration::from_secs(10)))
        .expect("a connection to the demo");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

fn tcp_echo(ns: &NetNs, to: SocketAddr) {
    let mut s = kernel_connect(ns, to);
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let writer = {
        let mut w = s.try_clone().unwrap();
        let data = data.clone();
        std::thread::spawn(move || {
            w.write_all(&data).unwrap();
            w.shutdown(std::net::Shutdown::Write).unwrap();
        })
    };
    let mut back = Vec::new();
    s.read_to_end(&mut back).unwrap();
    writer.join().unwrap();
    assert!(back == data, "TCP echo via {to} returned what was sent");
}

fn http_get(ns: &NetNs, to: SocketAddr, path: &str) -> (TcpStream, String) {
    let mut s = kernel_connect(ns, to);
    write!(s, "GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", to.ip()).unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    (s, text)
}

/// `Name: a b c` / `Name: 1 2 3` line pairs of /proc/net/snmp, from the
/// demo's closing print.
fn snmp_value(stdout: &str, group: &str, field: &str) -> u64 {
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with(&format!("{group}: ")))
        .collect();
    assert_eq!(rows.len(), 2, "{group} header and values in:\n{stdout}");
    let names = rows[0].split_whitespace().skip(1);
    let values = rows[1].split_whitespace().skip(1);
    let (_, v) = names
        .zip(values)
        .find(|(n, _)| *n == field)
        .unwrap_or_else(|| panic!("{group}:{field}"));
    v.parse().unwrap()
}

#[test]
fn the_demo_serves_the_kernel_and_leaves_nothing_behind() {
    if !support::root::have_root("the_demo_serves_the_kernel_and_leaves_nothing_behind") {
        return;
    }
    let ns = demo_ns();
    let started = Instant::now();
    let demo = Demo::start(&ns, &["--duration", "10", "--quiet"]);

    // The host side is configured and up, with no `ip` involved in it.
    let addrs = ns.ip(&["-o", "addr", "show", "dev", "sandnet0"]).unwrap();
    assert!(addrs.contains("inet 10.233.0.1/24"), "{addrs}");
    assert!(addrs.contains("inet6 fd00:233::1/64"), "{addrs}");
    let flags = ns.run(|| ifconfig::flags("sandnet0")).unwrap();
    assert_ne!(flags & libc::IFF_UP as u32, 0);

    assert_eq!(kernel_ping(&ns, "10.233.0.2", 41), 41);
    assert_eq!(kernel_ping(&ns, "fd00:233::2", 42), 42);
    tcp_echo(&ns, sa("10.233.0.2", 7));
    tcp_echo(&ns, sa("fd00:233::2", 7));
    let u = ns.run(|| UdpSocket::bind("0.0.0.0:0")).unwrap();
    u.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    u.send_to(b"udp echo", sa("10.233.0.2", 7)).unwrap();
    let mut buf = [0u8; 64];
    let (n, from) = u.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"udp echo"[..], sa("10.233.0.2", 7)));

    // /proc/net/tcp, asked for over a connection, lists that connection.
    let (s, reply) = http_get(&ns, sa("10.233.0.2", 80), "/proc/net/tcp");
    let port = s.local_addr().unwrap().port();
    let (head, body) = reply.split_once("\r\n\r\n").expect("a response");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.contains(&format!("Content-Length: {}\r\n", body.len())),
        "{head}"
    );
    assert!(
        body.starts_with("  sl  local_address rem_address   st "),
        "{body}"
    );
    let mine = body.lines().find(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() > 3 && f[1] == "0200E90A:0050" && f[2] == format!("0100E90A:{port:04X}")
    });
    let mine = mine.unwrap_or_else(|| panic!("no row for port {port:04X}:\n{body}"));
    assert_eq!(
        mine.split_whitespace().nth(3),
        Some("01"),
        "ESTABLISHED: {mine}"
    );
    let (_, index) = http_get(&ns, sa("fd00:233::2", 80), "/");
    for (name, _) in sandnet::procnet::FILES {
        assert!(
            index.contains(&format!("/proc/net/{name}\n")),
            "{name}:\n{index}"
        );
    }

    let (code, stdout, stderr) = demo.finish(Duration::from_secs(30));
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        started.elapsed() >= Duration::from_secs(10),
        "ran its --duration"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    // What it printed: routes, its own pings of the host side, the tables.
    assert!(
        stdout.contains("\n8.8.8.8 via 10.233.0.1 dev sandnet0 src 10.233.0.2 uid 0 \n"),
        "{stdout}"
    );
    assert!(stdout.contains("\nPING 10.233.0.1 (10.233.0.1) 56(84) bytes of data.\n"));
    assert!(
        stdout.contains("\n64 bytes from 10.233.0.1: icmp_seq=1 ttl=64 time="),
        "{stdout}"
    );
    assert!(stdout.contains("\n--- 10.233.0.1 ping statistics ---\n"));
    assert!(stdout.contains("\n$ cat /proc/net/dev\n"));
    assert!(stdout.contains("\nsandnet0: "), "a dev row: {stdout}");
    assert!(stdout.contains("\n$ cat /proc/net/snmp\n"));
    assert!(
        !stdout.contains("open TCP connection"),
        "--quiet: no status line"
    );
    // Exactly the connections and pings this test made reached the stack.
    assert_eq!(snmp_value(&stdout, "Tcp", "PassiveOpens"), 4, "{stdout}");
    assert_eq!(snmp_value(&stdout, "Tcp", "ActiveOpens"), 0);
    assert_eq!(snmp_value(&stdout, "Icmp", "InEchos"), 1);
    assert!(
        snmp_value(&stdout, "Icmp", "OutEchos") >= 9,
        "a ping a second"
    );
    assert!(stdout.ends_with("\nremoved sandnet0"), "{stdout}");
    // Gone from the namespace.
    let gone = ns.run(|| if_nametoindex("sandnet0"));
    assert_eq!(gone.unwrap_err().raw_os_error(), Some(libc::ENODEV));
}

#[test]
fn ctrl_c_prints_the_tables_and_removes_the_device() {
    if !support::root::have_root("ctrl_c_prints_the_tables_and_removes_the_device") {
        return;
    }
    let ns = demo_ns();
    let demo = Demo::start(&ns, &["--dev", "demo-int", "--duration", "600", "--quiet"]);
    demo.wait_for_line(
        "64 bytes from 10.233.0.1: icmp_seq=1 ",
        Duration::from_secs(10),
    );
    assert!(ns.run(|| if_nametoindex("demo-int")).is_ok());
    let pid = demo.child.id().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    let (code, stdout, stderr) = demo.finish(Duration::from_secs(20));
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains("\n--- 10.233.0.1 ping statistics ---\n"),
        "{stdout}"
    );
    assert!(stdout.contains("\n$ cat /proc/net/dev\n"));
    assert!(stdout.contains("\ndemo-int: "), "{stdout}");
    assert!(stdout.contains("\n$ cat /proc/net/snmp\n"));
    assert!(stdout.ends_with("\nremoved demo-int"), "{stdout}");
    let gone = ns.run(|| if_nametoindex("demo-int"));
    assert_eq!(gone.unwrap_err().raw_os_error(), Some(libc::ENODEV));
}
