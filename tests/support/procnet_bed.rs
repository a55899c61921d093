//! One network state built twice: in a private kernel namespace and in a
//! sandnet Stack, for comparing /proc/net files and the tools that read them.
//!
//! The namespace holds a TUN `pnet0` (its fd held by the Stack, so the
//! kernel sees carrier) with 10.0.0.2/24 and fd00:1::2/64, default routes via
//! 10.0.0.1 and fd00:1::1, and extra routes with metrics; the Stack gets the
//! same NIC name, addresses and routes. No traffic is sent. Dropping the bed
//! removes the device and the namespace.
#![allow(dead_code)]

use sandnet::netstack::inet::{tcp_state, SocketInfo, SocketKind, TcpDetail};
use sandnet::netstack::os::netns::NetNs;
use sandnet::netstack::{Link, RouteSpec, Snapshot, Stack};
use socket2::{Domain, Protocol, Socket, Type};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;

pub const DEV: &str = "pnet0";

pub struct ProcnetBed {
    pub stack: Stack,
    pub ns: NetNs,
    /// Kernel sockets kept open in the namespace (see `kernel_sockets`).
    pub sockets: Vec<Socket>,
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn sysctl(ns: &NetNs, path: &'static str, value: &'static str) {
    ns.run(move || std::fs::write(path, value))
        .unwrap_or_else(|e| panic!("{path}: {e}"));
}

/// Extra IPv4 routes: (destination, prefix, gateway, metric).
const V4_ROUTES: &[(&str, u8, Option<&str>, u32)] = &[
    ("192.168.50.0", 24, Some("10.0.0.1"), 100),
    ("10.20.0.0", 16, None, 5),
    ("172.16.0.1", 32, Some("10.0.0.1"), 0),
    ("10.0.0.0", 8, Some("10.0.0.1"), 300),
];
/// Extra IPv6 routes.
const V6_ROUTES: &[(&str, u8, Option<&str>, u32)] = &[
    ("fd00:2::", 48, Some("fd00:1::1"), 300),
    ("fd00:3::", 64, None, 50),
    ("fd00:1::", 64, Some("fd00:1::1"), 2048),
    ("2001:db8::1", 128, Some("fd00:1::1"), 1024),
];

pub fn build() -> ProcnetBed {
    let ns = NetNs::new().expect("a private network namespace");
    // sandnet generates no IPv6 link-local address; neither shall the kernel.
    sysctl(&ns, "/proc/sys/net/ipv6/conf/default/addr_gen_mode", "1");
    sysctl(
        &ns,
        "/proc/sys/net/ipv6/conf/default/router_solicitations",
        "0",
    );
    sysctl(&ns, "/proc/sys/net/ipv4/ping_group_range", "0 2147483647");
    let link = ns.run(|| Link::tun(DEV)).expect("a TUN device");
    let stack = Stack::new().unwrap();
    let ifindex = stack.add_nic(DEV, link).unwrap();
    assert_eq!(ifindex, 2, "lo is 1 and the TUN 2 on both sides");

    ns.ip(&["addr", "add", "10.0.0.2/24", "dev", DEV]).unwrap();
    ns.ip(&["-6", "addr", "add", "fd00:1::2/64", "dev", DEV, "nodad"])
        .unwrap();
    ns.ip(&["link", "set", DEV, "up"]).unwrap();
    ns.ip(&["route", "add", "default", "via", "10.0.0.1"])
        .unwrap();
    ns.ip(&["-6", "route", "add", "default", "via", "fd00:1::1"])
        .unwrap();
    stack.add_address(ifindex, ip("10.0.0.2"), 24).unwrap();
    stack.add_address(ifindex, ip("fd00:1::2"), 64).unwrap();
    stack
        .add_route(RouteSpec::default_v4().via(ip("10.0.0.1")))
        .unwrap();
    stack
        .add_route(RouteSpec::default_v6().via(ip("fd00:1::1")))
        .unwrap();
    for (v6, routes) in [(false, V4_ROUTES), (true, V6_ROUTES)] {
        for &(dst, plen, gw, metric) in routes {
            let mut args: Vec<String> = Vec::new();
            if v6 {
                args.push("-6".into());
            }
            args.extend(["route".into(), "add".into(), format!("{dst}/{plen}")]);
            let mut spec = RouteSpec::new(ip(dst), plen).metric(metric);
            match gw {
                Some(g) => {
                    args.extend(["via".into(), g.into()]);
                    spec = spec.via(ip(g));
                }
                None => {
                    args.extend(["dev".into(), DEV.into()]);
                    spec = spec.dev(ifindex);
                }
            }
            args.extend(["metric".into(), metric.to_string()]);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            ns.ip(&args).unwrap();
            stack.add_route(spec).unwrap();
        }
    }
    ProcnetBed {
        stack,
        ns,
        sockets: Vec::new(),
    }
}

fn inode(s: &Socket) -> u64 {
    let fd = s.as_raw_fd();
    std::fs::metadata(format!("/proc/self/fd/{fd}"))
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
        .expect("fstat of a socket")
}

fn local(s: &Socket) -> SocketAddr {
    s.local_addr().unwrap().as_socket().unwrap()
}

fn info(kind: SocketKind, s: &Socket, remote: SocketAddr, state: u8, refcount: u32) -> SocketInfo {
    SocketInfo {
        kind,
        local: local(s),
        remote,
        protocol: 0,
        state,
        tx_queue: 0,
        rx_queue: 0,
        uid: 0,
        inode: inode(s),
        refcount,
        drops: 0,
        tcp: None,
    }
}

impl ProcnetBed {
    /// Opens, in the namespace, the sockets the socket files are compared on:
    /// TCP listeners on 0.0.0.0:8080 and [::]:8080 (v6only), an established
    /// loopback connection, UDP bound to 10.0.0.2:5353 and [fd00:1::2]:5353,
    /// ping sockets for both families and raw ICMP/ICMPv6 sockets. Returns
    /// the rows a stack holding the same sockets reports, for rendering.
    ///
    /// sandnet's sockets have not landed yet, so the rows are filled in from
    /// the kernel sockets' endpoints, states and inodes (a format test). When
    /// they land, the same sockets opened on `self.stack` give the rows
    /// through `self.stack.snapshot().sockets`, and only this function changes.
    pub fn kernel_sockets(&mut self) -> Vec<SocketInfo> {
        let socks: Vec<(Socket, &'static str)> = self
            .ns
            .run(|| -> std::io::Result<Vec<(Socket, &'static str)>> {
                let mut v = Vec::new();
                let any4: SocketAddr = "0.0.0.0:8080".parse().unwrap();
                let l4 = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
                l4.set_reuse_address(true)?;
                l4.bind(&any4.into())?;
                l4.listen(128)?;
                let l6 = Socket::new(Domain::IPV6, Type::STREAM, Some(Protocol::TCP))?;
                l6.set_only_v6(true)?;
                l6.bind(&"[::]:8080".parse::<SocketAddr>().unwrap().into())?;
                l6.listen(16)?;
                let c = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
                c.connect(&"127.0.0.1:8080".parse::<SocketAddr>().unwrap().into())?;
                let (a, _) = l4.accept()?;
                let u4 = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
                u4.bind(&"10.0.0.2:5353".parse::<SocketAddr>().unwrap().into())?;
                let u6 = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
                u6.bind(&"[fd00:1::2]:5353".parse::<SocketAddr>().unwrap().into())?;
                let p4 = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::ICMPV4))?;
                p4.bind(&"0.0.0.0:0".parse::<SocketAddr>().unwrap().into())?;
                let p6 = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::ICMPV6))?;
                p6.bind(&"[::]:0".parse::<SocketAddr>().unwrap().into())?;
                let r4 = Socket::new(
                    Domain::IPV4,
                    Type::from(libc::SOCK_RAW),
                    Some(Protocol::ICMPV4),
                )?;
                let r6 = Socket::new(
                    Domain::IPV6,
                    Type::from(libc::SOCK_RAW),
                    Some(Protocol::ICMPV6),
                )?;
                v.extend([
                    (l4, "l4"),
                    (l6, "l6"),
                    (c, "client"),
                    (a, "server"),
                    (u4, "u4"),
                    (u6, "u6"),
                    (p4, "p4"),
                    (p6, "p6"),
                    (r4, "r4"),
                    (r6, "r6"),
                ]);
                Ok(v)
            })
            .expect("kernel sockets in the namespace");
        let any4: SocketAddr = "0.0.0.0:0".parse().unwrap();
        let any6: SocketAddr = "[::]:0".parse().unwrap();
        let listen = TcpDetail {
            rto_ticks: 100,
            snd_cwnd: 10,
            ..TcpDetail::default()
        };
        let established = TcpDetail {
            rto_ticks: 20,
            snd_cwnd: 10,
            ssthresh: None,
            ..TcpDetail::default()
        };
        let mut rows = Vec::new();
        for (s, what) in &socks {
            // Reference counts as Linux holds them: one for a listener or an
            // accepted socket, two for other hashed sockets.
            let mut row = match *what {
                "l4" => info(SocketKind::Tcp, s, any4, tcp_state::LISTEN, 1),
                "l6" => info(SocketKind::Tcp, s, any6, tcp_state::LISTEN, 1),
                "client" | "server" => {
                    let peer = s.peer_addr().unwrap().as_socket().unwrap();
                    let refs = if *what == "client" { 2 } else { 1 };
                    info(SocketKind::Tcp, s, peer, tcp_state::ESTABLISHED, refs)
                }
                "u4" => info(SocketKind::Udp, s, any4, tcp_state::CLOSE, 2),
                "u6" => info(SocketKind::Udp, s, any6, tcp_state::CLOSE, 2),
                "p4" => info(SocketKind::Ping, s, any4, tcp_state::CLOSE, 2),
                "p6" => info(SocketKind::Ping, s, any6, tcp_state::CLOSE, 2),
                "r4" => info(SocketKind::Raw, s, any4, tcp_state::CLOSE, 2),
                "r6" => info(SocketKind::Raw, s, any6, tcp_state::CLOSE, 2),
                _ => unreachable!(),
            };
            match row.kind {
                SocketKind::Tcp if row.state == tcp_state::LISTEN => row.tcp = Some(listen.clone()),
                SocketKind::Tcp => row.tcp = Some(established.clone()),
                SocketKind::Raw => row.protocol = if row.is_ipv6() { 58 } else { 1 },
                _ => {}
            }
            rows.push(row);
        }
        self.sockets = socks.into_iter().map(|(s, _)| s).collect();
        rows
    }

    /// The stack's snapshot with `sockets` as its socket table.
    pub fn snapshot_with(&self, sockets: Vec<SocketInfo>) -> Snapshot {
        let mut snap = self.stack.snapshot();
        snap.sockets = sockets;
        snap
    }
}
