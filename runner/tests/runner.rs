//! sandnet-run end to end: unmodified tools run under it and see the
//! configured stack, through /proc/net and through NETLINK_ROUTE.
//! Needs root (a mount namespace, a seccomp listener, a kernel network
//! namespace to compare with): skipped with a reason otherwise, a failure
//! under CI=true.

#[path = "../../tests/support/root.rs"]
mod root;

use netstack::os::netns::NetNs;
use netstack::Link;
use root::have_root;
use sandnet_run::config::Config;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const RUN: &str = env!("CARGO_BIN_EXE_sandnet-run");

const CONFIG: &str = "\
nic eth0 mtu 1400
addr eth0 10.0.0.2/24
addr eth0 fd00:1::2/64
route default via 10.0.0.1
route 192.168.50.0/24 via 10.0.0.1 metric 100
route 10.20.0.0/16 dev eth0 metric 5
route 172.16.0.1/32 via 10.0.0.1
route -6 default via fd00:1::1
route fd00:3::/64 dev eth0 metric 50
";

/// The same network as `ip` commands, for a kernel namespace whose TUN
/// `eth0` (held open, so that it has carrier) stands in for the in-memory NIC.
const KERNEL_SETUP: &[&str] = &[
    "link set lo up",
    "link set eth0 mtu 1400",
    "link set eth0 up",
    "addr add 10.0.0.2/24 dev eth0",
    "-6 addr add fd00:1::2/64 dev eth0 nodad",
    "route add default via 10.0.0.1",
    "route add 192.168.50.0/24 via 10.0.0.1 metric 100",
    "route add 10.20.0.0/16 dev eth0 metric 5",
    "route add 172.16.0.1/32 via 10.0.0.1",
    "-6 route add default via fd00:1::1",
    "-6 route add fd00:3::/64 dev eth0 metric 50",
];

struct TempFile(PathBuf);

impl TempFile {
    fn new(tag: &str, text: &str) -> TempFile {
        let p = std::env::temp_dir().join(format!("snr-{tag}-{}.conf", std::process::id()));
        std::fs::write(&p, text).unwrap();
        TempFile(p)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn have(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false)
}

fn need_tools(test: &str, tools: &[&str]) -> bool {
    let missing: Vec<&&str> = tools.iter().filter(|t| !have(t)).collect();
    if missing.is_empty() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: missing {missing:?}, and CI=true forbids skipping (.ci/run installs them)");
    }
    eprintln!("SKIPPED {test}: missing {missing:?}");
    false
}

fn run_under(config: &Path, cmd: &[&str]) -> Output {
    Command::new(RUN)
        .arg("--config")
        .arg(config)
        .arg("--")
        .args(cmd)
        .output()
        .expect("sandnet-run starts")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn stdout_ok(o: &Output, what: &str) -> String {
    assert!(
        o.status.success(),
        "{what}: {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stdout)
}

#[test]
fn proc_net_files_are_procnets_rendering_of_the_configured_stack() {
    let test = "proc_net_files_are_procnets_rendering_of_the_configured_stack";
    if !have_root(test) {
        return;
    }
    let conf = TempFile::new("procnet", CONFIG);
    let (stack, _peers) = Config::parse(CONFIG).unwrap().build().unwrap();
    let snap = stack.snapshot();
    for file in ["dev", "route", "if_inet6", "ipv6_route", "snmp"] {
        let path = format!("/proc/net/{file}");
        let o = run_under(&conf.0, &["cat", &path]);
        let ours = stdout_ok(&o, &path);
        assert_eq!(ours, procnet::render(file, &snap).unwrap(), "{path}");
    }
    // The host's /proc/net is untouched.
    let host = std::fs::read_to_string("/proc/net/route").unwrap();
    assert_ne!(host, procnet::render("route", &snap).unwrap());
}

/// A private network namespace with the configuration's twin. It has no
/// name and goes away with its thread and the TUN (NetNs), so nothing is
/// left behind if a test fails.
struct KernelNs {
    ns: NetNs,
    _tun: Link,
}

impl KernelNs {
    fn new() -> KernelNs {
        let ns = NetNs::new().expect("a private network namespace");
        // No IPv6 link-local address (sandnet has none) and no router solicitations.
        for (path, value) in [
            ("/proc/sys/net/ipv6/conf/default/addr_gen_mode", "1"),
            ("/proc/sys/net/ipv6/conf/default/router_solicitations", "0"),
        ] {
            ns.run(move || std::fs::write(path, value)).unwrap();
        }
        let tun = ns.run(|| Link::tun("eth0")).expect("a TUN device");
        for line in KERNEL_SETUP {
            let args: Vec<&str> = line.split(' ').collect();
            ns.ip(&args).unwrap();
        }
        KernelNs { ns, _tun: tun }
    }

    fn run(&self, cmd: &[&str]) -> Output {
        self.ns.command(cmd[0], &cmd[1..]).unwrap()
    }
}

/// /proc/net/dev with every counter written as 0: the kernel's devices
/// have counted their own setup traffic.
fn mask_counters(dev: &str) -> String {
    dev.lines()
        .map(|l| match l.split_once(':') {
            Some((name, counters)) if !l.contains('|') => {
                let zeros: Vec<&str> = counters.split_whitespace().map(|_| "0").collect();
                format!("{name}: {}", zeros.join(" "))
            }
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `route -A inet6`'s Ref column (the kernel's fib6_ref: references that
/// its cached route copies take when a lookup or a packet uses the route).
fn mask_ipv6_ref(out: &str) -> String {
    out.lines()
        .map(|l| {
            let mut f: Vec<&str> = l.split_whitespace().collect();
            if f.len() == 7 && l.contains(':') && !l.starts_with("Destination") {
                f[4] = "-";
            }
            f.join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// ifconfig's packet and byte counter lines.
fn mask_ifconfig(out: &str) -> String {
    out.lines()
        .map(|l| {
            let t = l.trim_start();
            if t.starts_with("RX ") || t.starts_with("TX ") {
                "counters"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The commands of the netlink issue, run under sandnet-run and in a kernel
/// namespace configured alike: the same text, byte for byte (only
/// /proc/net/dev's counters are masked). All mismatches are reported at once.
#[test]
fn tools_print_what_the_kernel_prints_for_the_same_network() {
    let test = "tools_print_what_the_kernel_prints_for_the_same_network";
    if !have_root(test) || !need_tools(test, &["ip", "route", "netstat", "ifconfig", "busybox"]) {
        return;
    }
    let conf = TempFile::new("tools", CONFIG);
    let ns = KernelNs::new();
    let commands: &[&[&str]] = &[
        // Over netlink.
        &["ip", "link"],
        &["ip", "-4", "addr"],
        &["ip", "-6", "addr"],
        &["ip", "addr", "show", "dev", "eth0"],
        &["ip", "-o", "addr"],
        &["ip", "route"],
        &["ip", "-6", "route"],
        &["ip", "route", "show", "table", "all"],
        &["ip", "route", "get", "8.8.8.8"],
        &["ip", "route", "get", "10.0.0.9", "from", "10.0.0.2"],
        &["ip", "route", "get", "192.168.50.7"],
        &["ip", "-6", "route", "get", "fd00:3::9"],
        &[
            "ip",
            "-6",
            "route",
            "get",
            "2001:db8::1",
            "from",
            "fd00:1::2",
        ],
        &["busybox", "ip", "addr"],
        &["busybox", "ip", "link"],
        &["busybox", "ip", "route"],
        // Over /proc/net.
        &["route", "-n"],
        &["route", "-n", "-A", "inet6"],
        &["netstat", "-rn"],
        &["netstat", "-rn", "-e"],
        &["busybox", "route", "-n"],
        // Over /proc/net/dev and interface ioctls (counters masked).
        &["ifconfig", "-a"],
        &["ifconfig", "eth0"],
        &["busybox", "ifconfig", "-a"],
    ];
    let mut wrong = Vec::new();
    for cmd in commands {
        let mask = |out: String| match cmd[..] {
            ["route", "-n", "-A", "inet6"] => mask_ipv6_ref(&out),
            [c, ..] | ["busybox", c, ..] if c == "ifconfig" => mask_ifconfig(&out),
            _ => out,
        };
        let kernel = mask(stdout_ok(&ns.run(cmd), &format!("kernel {cmd:?}")));
        let ours = mask(stdout_ok(
            &run_under(&conf.0, cmd),
            &format!("sandnet-run {cmd:?}"),
        ));
        assert!(
            kernel.contains("eth0") || kernel.contains("10.0.0.1"),
            "{cmd:?}:\n{kernel}"
        );
        if ours != kernel {
            wrong.push(format!("{cmd:?}\nkernel:\n{kernel}sandnet-run:\n{ours}"));
        }
    }
    let cmd = ["cat", "/proc/net/dev"];
    let kernel = mask_counters(&stdout_ok(&ns.run(&cmd), "kernel /proc/net/dev"));
    let ours = mask_counters(&stdout_ok(
        &run_under(&conf.0, &cmd),
        "sandnet-run /proc/net/dev",
    ));
    if ours != kernel {
        wrong.push(format!("{cmd:?}\nkernel:\n{kernel}\nsandnet-run:\n{ours}"));
    }
    assert!(
        wrong.is_empty(),
        "{} differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn ip_link_reads_the_stacks_interfaces_over_netlink() {
    let test = "ip_link_reads_the_stacks_interfaces_over_netlink";
    if !have_root(test) || !need_tools(test, &["ip", "busybox"]) {
        return;
    }
    // The whole listing is compared with the kernel's in
    // tools_print_what_the_kernel_prints_for_the_same_network.
    let conf = TempFile::new("iplink", CONFIG);
    let o = run_under(&conf.0, &["ip", "link", "show", "eth0"]);
    assert!(stdout_ok(&o, "ip link show eth0").starts_with("2: eth0: "));
    let o = run_under(&conf.0, &["ip", "link", "show", "nosuch0"]);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("does not exist"),
        "{}",
        text(&o.stderr)
    );
    // BusyBox sends with write() and receives with recv/recvfrom.
    let o = run_under(&conf.0, &["busybox", "ip", "link"]);
    let out = stdout_ok(&o, "busybox ip link");
    assert!(
        out.starts_with("1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536"),
        "{out}"
    );
    assert!(
        out.contains("\n2: eth0: ") && out.contains("mtu 1400"),
        "{out}"
    );
}

#[test]
fn glibc_getifaddrs_reads_the_stacks_addresses() {
    let test = "glibc_getifaddrs_reads_the_stacks_addresses";
    if !have_root(test) || !need_tools(test, &["hostname"]) {
        return;
    }
    let conf = TempFile::new("getifaddrs", CONFIG);
    // `hostname -I` lists every non-loopback address getifaddrs(3) returns;
    // glibc asks for them with RTM_GETLINK and RTM_GETADDR dumps.
    let o = run_under(&conf.0, &["hostname", "-I"]);
    assert_eq!(stdout_ok(&o, "hostname -I"), "10.0.0.2 fd00:1::2 \n");
}

#[test]
fn changes_made_over_netlink_are_seen_by_the_next_command() {
    let test = "changes_made_over_netlink_are_seen_by_the_next_command";
    if !have_root(test) || !need_tools(test, &["ip", "sh"]) {
        return;
    }
    let conf = TempFile::new("change", CONFIG);
    let script = "ip route add 10.9.0.0/16 dev eth0 && ip addr add 10.0.7.1/24 dev eth0 \
                  && ip route show 10.9.0.0/16 && ip -4 -o addr show dev eth0 && route -n \
                  && ip route add 10.9.0.0/16 dev eth0";
    let o = run_under(&conf.0, &["sh", "-c", script]);
    let out = text(&o.stdout);
    assert!(
        out.starts_with("10.9.0.0/16 dev eth0 scope link \n"),
        "{out}"
    );
    assert!(out.contains("inet 10.0.7.1/24 scope global eth0"), "{out}");
    // /proc/net is refreshed from the changed stack.
    assert!(
        out.contains(
            "\n10.9.0.0        0.0.0.0         255.255.0.0     U     0      0        0 eth0\n"
        ),
        "{out}"
    );
    // Adding it again fails as the kernel's does.
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert_eq!(text(&o.stderr), "RTNETLINK answers: File exists\n");
}

/// Run as the child by `a_netlink_socket_is_emulated_at_every_call`: the
/// assertions run under sandnet-run, on the injected socket.
#[test]
fn netlink_probe_child() {
    if std::env::var_os("SNR_PROBE").is_none() {
        return;
    }
    use socket2::{Domain, Protocol, Socket, Type};
    use std::io::{Read, Write};
    use std::mem::MaybeUninit;
    use std::os::fd::AsRawFd;

    let s = Socket::new(
        Domain::from(libc::AF_NETLINK),
        Type::RAW.cloexec(),
        Some(Protocol::from(libc::NETLINK_ROUTE)),
    )
    .expect("socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)");
    let fd = s.as_raw_fd();
    assert!((768..1024).contains(&fd), "injected at {fd}");
    assert_eq!(s.domain().unwrap(), Domain::from(libc::AF_NETLINK));
    assert_eq!(s.r#type().unwrap(), Type::RAW);
    // NETLINK_ROUTE is protocol 0, which socket2 reports as None.
    assert_eq!(s.protocol().unwrap(), None);

    // Nothing queued: a nonblocking receive would block.
    s.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 64];
    let e = (&s).read(&mut buf).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
    s.set_nonblocking(false).unwrap();

    // RTM_GETLINK dump: nlmsghdr + ifinfomsg, sent with sendto (Write).
    let mut req = Vec::new();
    req.extend(32u32.to_ne_bytes());
    req.extend(18u16.to_ne_bytes()); // RTM_GETLINK
    req.extend((0x1u16 | 0x300).to_ne_bytes()); // NLM_F_REQUEST | NLM_F_DUMP
    req.extend(77u32.to_ne_bytes());
    req.extend(0u32.to_ne_bytes());
    req.extend([0u8; 16]);
    assert_eq!((&s).write(&req).unwrap(), 32);

    // getsockname after the autobind of the first send.
    let local = s.local_addr().unwrap();
    assert_eq!(local.family(), libc::AF_NETLINK as libc::sa_family_t);
    assert_eq!(local.len(), 12);

    // The size probe iproute2 makes: MSG_PEEK | MSG_TRUNC with no room.
    let mut none: [MaybeUninit<u8>; 0] = [];
    let size = s
        .recv_with_flags(&mut none, libc::MSG_PEEK | libc::MSG_TRUNC)
        .unwrap();
    assert!(size > 32, "a datagram of {size} bytes");
    let mut reply = vec![0u8; size];
    let n = (&s).read(&mut reply).unwrap();
    assert_eq!(n, size, "the peeked datagram is still there, whole");
    // lo and eth0, then NLMSG_DONE in a datagram of its own (as
    // rtnl_dump_ifinfo sends it); each echoes seq 77.
    let types = |b: &[u8]| {
        let mut types = Vec::new();
        let mut off = 0;
        while off + 16 <= b.len() {
            let len = u32::from_ne_bytes(b[off..off + 4].try_into().unwrap()) as usize;
            types.push(u16::from_ne_bytes(b[off + 4..off + 6].try_into().unwrap()));
            assert_eq!(&b[off + 8..off + 12], &77u32.to_ne_bytes());
            off += (len + 3) & !3;
        }
        types
    };
    assert_eq!(types(&reply[..n]), [16, 16], "RTM_NEWLINK x2");
    let mut done = [0u8; 64];
    let d = (&s).read(&mut done).unwrap();
    assert_eq!(types(&done[..d]), [3], "NLMSG_DONE");

    // A copy (fcntl F_DUPFD_CLOEXEC) is made in the range and is the same
    // socket; the placeholder is readable (poll) exactly while a reply is queued.
    let copy = s.try_clone().unwrap();
    let cfd = copy.as_raw_fd();
    assert!((768..1024).contains(&cfd) && cfd != fd, "copy at {cfd}");
    assert_eq!((&copy).write(&req).unwrap(), 32);
    let stop = netstack::os::EventFd::new().unwrap();
    assert!(matches!(
        netstack::os::wait_readable(fd, stop.as_raw_fd()).unwrap(),
        netstack::os::Readiness::Readable
    ));
    assert_eq!((&s).read(&mut reply).unwrap(), n);
    println!("probe ok: fd {fd}, {n} bytes");
}

#[test]
fn a_netlink_socket_is_emulated_at_every_call() {
    let test = "a_netlink_socket_is_emulated_at_every_call";
    if !have_root(test) {
        return;
    }
    let conf = TempFile::new("probe", CONFIG);
    let me = std::env::current_exe().unwrap();
    let o = Command::new(RUN)
        .arg("--config")
        .arg(&conf.0)
        .arg("--")
        .arg(&me)
        .args([
            "--exact",
            "netlink_probe_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SNR_PROBE", "1")
        .output()
        .unwrap();
    let out = stdout_ok(&o, "the probe");
    assert!(out.contains("probe ok: fd "), "{out}");
}

/// Waits until the runner `pid` has exec'd its command `comm`, and a little
/// longer, for it to install its signal handlers (right after the exec).
fn wait_for_command(pid: u32, comm: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        let running = children.split_whitespace().any(|c| {
            std::fs::read_to_string(format!("/proc/{c}/comm")).is_ok_and(|n| n.trim() == comm)
        });
        if running {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{comm} did not start");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
}

#[test]
fn exit_statuses_are_the_commands() {
    let test = "exit_statuses_are_the_commands";
    if !have_root(test) {
        return;
    }
    let conf = TempFile::new("status", CONFIG);
    assert_eq!(
        run_under(&conf.0, &["sh", "-c", "exit 7"]).status.code(),
        Some(7)
    );
    assert_eq!(run_under(&conf.0, &["true"]).status.code(), Some(0));
    let killed = run_under(&conf.0, &["sh", "-c", "kill -TERM $$"]);
    assert_eq!(killed.status.code(), Some(128 + libc::SIGTERM));

    // SIGTERM to the runner is forwarded to the command.
    let mut runner = Command::new(RUN)
        .arg("--config")
        .arg(&conf.0)
        .args(["--", "sleep", "30"])
        .spawn()
        .unwrap();
    wait_for_command(runner.id(), "sleep");
    let start = std::time::Instant::now();
    let ok = Command::new("kill")
        .args(["-TERM", &runner.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let status = runner.wait().unwrap();
    assert_eq!(status.code(), Some(128 + libc::SIGTERM));
    assert!(start.elapsed() < std::time::Duration::from_secs(5));

    // So is a SIGINT a process sends (one from the terminal reaches the
    // command directly, and is not sent twice).
    let mut runner = Command::new(RUN)
        .arg("--config")
        .arg(&conf.0)
        .args(["--", "sleep", "30"])
        .spawn()
        .unwrap();
    wait_for_command(runner.id(), "sleep");
    let ok = Command::new("kill")
        .args(["-INT", &runner.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    assert_eq!(runner.wait().unwrap().code(), Some(128 + libc::SIGINT));
}

#[test]
fn a_missing_command_is_127_with_one_line_saying_so() {
    let test = "a_missing_command_is_127_with_one_line_saying_so";
    if !have_root(test) {
        return;
    }
    let conf = TempFile::new("missing", CONFIG);
    let o = run_under(&conf.0, &["snr-no-such-command"]);
    assert_eq!(o.status.code(), Some(127));
    assert_eq!(
        text(&o.stderr),
        "sandnet-run: snr-no-such-command: command not found\n"
    );
    assert!(o.stdout.is_empty());
}

#[test]
fn runner_errors_are_one_line_and_125() {
    let bad = TempFile::new("bad", "addr eth0 10.0.0.300/24\n");
    let o = Command::new(RUN)
        .arg("--config")
        .arg(&bad.0)
        .args(["--", "true"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(125));
    let err = text(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("line 1: not an address"), "{err}");

    let o = Command::new(RUN).output().unwrap();
    assert_eq!(o.status.code(), Some(125));
    assert!(text(&o.stderr).starts_with("sandnet-run: no command given\n"));
}

#[test]
fn without_root_it_says_so_and_fails() {
    let test = "without_root_it_says_so_and_fails";
    if !have_root(test) || !need_tools(test, &["setpriv"]) {
        return;
    }
    // A copy nobody can reach: the build directory may be under a private home.
    let copy = std::env::temp_dir().join(format!("snr-run-{}", std::process::id()));
    std::fs::copy(RUN, &copy).unwrap();
    let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(&copy, mode).unwrap();
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&copy)
        .args(["--", "true"])
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&copy);
    assert_eq!(o.status.code(), Some(125), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).starts_with("sandnet-run: needs root"),
        "{}",
        text(&o.stderr)
    );
}

/// Run under the runner by `python_sees_the_filters_other_answers`.
const PY_PROBE: &str = r#"
import ctypes, os, select, socket, struct
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
r, _, _ = select.select([s], [], [], 0)
assert not r, "readable before any request"
s.bind((0, 0))
assert s.getsockname() == (os.getpid(), 0), s.getsockname()
req = struct.pack("=IHHII", 32, 18, 0x301, 5, 0) + bytes(16)
s.send(req)
r, _, _ = select.select([s], [], [], 5)
assert r, "readable with a reply queued"
import array, fcntl, termios
n = array.array("i", [0])
fcntl.ioctl(s, termios.FIONREAD, n)
assert n[0] > 32, "FIONREAD: the next datagram's size"
try:
    s.recv(100, socket.MSG_ERRQUEUE)
    assert False, "no error queue"
except BlockingIOError:
    pass
assert len(s.recv(65536)) == n[0]
assert struct.unpack_from("=IH", s.recv(65536)) == (20, 3), "NLMSG_DONE on its own"
if os.fork() == 0:
    s.send(req)
    os._exit(0 if len(s.recv(65536)) > 32 else 1)
assert os.wait()[1] == 0, "the inherited socket works in a child"
ports = set()
for i in range(300):
    t = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    t.bind((0, 0))
    ports.add(t.getsockname()[0])
    t.close()
assert len(ports) == 1, "a closed socket's port id is free again: %d ids" % len(ports)
libc = ctypes.CDLL(None, use_errno=True)
assert libc.syscall(425, 1, ctypes.create_string_buffer(120)) == -1
assert ctypes.get_errno() == 1, "io_uring_setup: EPERM"
try:
    socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 4)
    assert False, "NETLINK_SOCK_DIAG is refused"
except OSError as e:
    assert e.errno == 93, e
print("py ok")
"#;

#[test]
fn python_sees_the_filters_other_answers() {
    let test = "python_sees_the_filters_other_answers";
    if !have_root(test) {
        return;
    }
    let python_works = Command::new("python3")
        .args(["-c", "import ctypes"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !python_works {
        // python3 is not one of the tools CI installs: not a CI failure.
        eprintln!("SKIPPED {test}: no working python3");
        return;
    }
    let conf = TempFile::new("py", CONFIG);
    let o = run_under(&conf.0, &["python3", "-c", PY_PROBE]);
    assert_eq!(stdout_ok(&o, "python probe"), "py ok\n");
}
