//! One network state built twice: in a private kernel namespace and in a
//! sandnet Stack, for comparing /proc/net files and the tools that read them.
//!
//! The namespace holds a TUN `pnet0` (its fd held by the Stack, so the
//! kernel sees carrier) with 10.0.0.2/24 and fd00:1::2/64, default routes via
//! 10.0.0.1 and fd00:1::1, and extra routes with metrics; the Stack gets the
//! same NIC name, addresses and routes. `open_sockets` then opens the same
//! sockets on both sides. Nothing crosses the TUN: the only traffic is over
//! each side's own loopback. Dropping the bed closes the sockets and removes
//! the device and the namespace.
#![allow(dead_code)]

use super::kernel::eventually;
use sandnet::netstack::inet::SocketKind;
use sandnet::netstack::os::netns::NetNs;
use sandnet::netstack::{
    Link, ListenOptions, PingSocket, RouteSpec, Stack, TcpListener, TcpStream, UdpSocket,
};
use socket2::{Domain, Protocol, Socket, Type};
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

pub const DEV: &str = "pnet0";

pub struct ProcnetBed {
    pub stack: Stack,
    pub ns: NetNs,
    /// Kernel sockets kept open in the namespace, in `open_sockets`' order:
    /// the two listeners, client, accepted, the two UDP and the two ping sockets.
    pub kernel: Vec<Socket>,
    /// Their twins in the stack, kept open likewise.
    pub stack_sockets: Option<StackSockets>,
}

/// The stack's sockets of `open_sockets`, held so that they stay open.
pub struct StackSockets {
    pub listeners: [TcpListener; 2],
    /// The client end of the loopback connection, then the accepted end.
    pub streams: [TcpStream; 2],
    pub udp: [UdpSocket; 2],
    pub ping: [PingSocket; 2],
}

/// Where the UDP sockets are in `ProcnetBed::kernel`.
const KERNEL_UDP: std::ops::Range<usize> = 4..6;

/// Bytes the loopback client sends and the accepting side leaves unread, so
/// that rx_queue is compared on a non-zero value.
pub const UNREAD: &[u8] = b"unread";
/// A datagram each UDP socket sends itself (`queue_datagrams`).
pub const DATAGRAM: &[u8] = b"queued";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
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
    // sandnet generates no IPv6 link-local address; neither shall the kernel.
    let ns = super::kernel::quiet_namespace();
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
        kernel: Vec::new(),
        stack_sockets: None,
    }
}

/// One socket row's local and remote port, tx_queue, rx_queue and
/// reference count.
type Queues = (u16, u16, u32, u32, u32);

/// Each row of a kernel socket file as `Queues`, read from the text.
fn kernel_queues(text: &str) -> Vec<Queues> {
    let port = |f: &str| u16::from_str_radix(f.rsplit_once(':').unwrap().1, 16).unwrap();
    let queue = |q: &str| u32::from_str_radix(q, 16).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (tx, rx) = f[4].split_once(':').unwrap();
            let refs = f[10].parse().unwrap();
            (port(f[1]), port(f[2]), queue(tx), queue(rx), refs)
        })
        .collect()
}

fn wait_for(what: &str, cond: impl FnMut() -> bool) {
    assert!(eventually(Duration::from_secs(10), cond), "{what}");
}

impl ProcnetBed {
    /// Opens the same sockets in the Stack and in the namespace: TCP
    /// listeners on 0.0.0.0:8080 (backlog 128) and [::]:8080 (v6only,
    /// backlog 16), a connection from 127.0.0.1 to 8080 accepted by the
    /// first, UDP bound to 10.0.0.2:5353 and [fd00:1::2]:5353, and ping
    /// sockets of both families bound to ident 0. The client then sends
    /// `UNREAD`, which the accepting side leaves queued; this returns once
    /// both sides show it received and acknowledged.
    ///
    /// The stack picks the client's ephemeral port and the ping idents; the
    /// kernel's twins bind the same ones, so that no port has to be masked.
    pub fn open_sockets(&mut self) {
        let s = &self.stack;
        let opts = |backlog, v6only| ListenOptions { backlog, v6only };
        let l4 = TcpListener::bind_with(s, sa("0.0.0.0:8080"), opts(128, false)).unwrap();
        let l6 = TcpListener::bind_with(s, sa("[::]:8080"), opts(16, true)).unwrap();
        let client = TcpStream::connect(s, sa("127.0.0.1:8080")).unwrap();
        let (server, _) = l4.accept().unwrap();
        let u4 = UdpSocket::bind(s, sa("10.0.0.2:5353")).unwrap();
        let u6 = UdpSocket::bind(s, sa("[fd00:1::2]:5353")).unwrap();
        let p4 = PingSocket::new(s, false).unwrap();
        p4.bind(sa("0.0.0.0:0")).unwrap();
        let p6 = PingSocket::new(s, true).unwrap();
        p6.bind(sa("[::]:0")).unwrap();
        (&client).write_all(UNREAD).unwrap();

        let client_port = client.local_addr().unwrap().port();
        let ident4 = p4.local_addr().unwrap().port();
        let ident6 = p6.local_addr().unwrap().port();
        assert!(ident4 != 0 && ident6 != 0, "bind to ident 0 picks one");
        self.kernel = self
            .ns
            .run(move || -> std::io::Result<Vec<Socket>> {
                let tcp = |d| Socket::new(d, Type::STREAM, Some(Protocol::TCP));
                let l4 = tcp(Domain::IPV4)?;
                l4.set_reuse_address(true)?;
                l4.bind(&sa("0.0.0.0:8080").into())?;
                l4.listen(128)?;
                let l6 = tcp(Domain::IPV6)?;
                l6.set_reuse_address(true)?;
                l6.set_only_v6(true)?;
                l6.bind(&sa("[::]:8080").into())?;
                l6.listen(16)?;
                let c = tcp(Domain::IPV4)?;
                c.bind(&SocketAddr::new(ip("127.0.0.1"), client_port).into())?;
                c.connect(&sa("127.0.0.1:8080").into())?;
                let (a, _) = l4.accept()?;
                let dgram = |d, p| Socket::new(d, Type::DGRAM, Some(p));
                let u4 = dgram(Domain::IPV4, Protocol::UDP)?;
                u4.bind(&sa("10.0.0.2:5353").into())?;
                let u6 = dgram(Domain::IPV6, Protocol::UDP)?;
                u6.bind(&sa("[fd00:1::2]:5353").into())?;
                let p4 = dgram(Domain::IPV4, Protocol::ICMPV4)?;
                p4.bind(&SocketAddr::new(ip("0.0.0.0"), ident4).into())?;
                let p6 = dgram(Domain::IPV6, Protocol::ICMPV6)?;
                p6.bind(&SocketAddr::new(ip("::"), ident6).into())?;
                c.send(UNREAD)?;
                Ok(vec![l4, l6, c, a, u4, u6, p4, p6])
            })
            .expect("kernel sockets in the namespace");

        // Received by the accepting side, acknowledged to the client. The
        // kernel's client also holds a second reference for as long as its
        // retransmit timer stays armed: the last ACK clears the timer's
        // pending flag (so `tr` shows 0) but leaves the timer to fire, and
        // the reference goes only then, one RTO later. Waited for, so that
        // the reference counts compare settled.
        let n = UNREAD.len() as u32;
        let settled = |rows: Vec<Queues>| {
            let conn: Vec<_> = rows.into_iter().filter(|r| r.1 != 0).collect();
            conn.len() == 2
                && conn.iter().all(|&(l, _, tx, rx, refs)| {
                    (tx, rx, refs) == if l == 8080 { (0, n, 1) } else { (0, 0, 1) }
                })
        };
        wait_for("the kernel's connection settles", || {
            settled(kernel_queues(&self.ns.read_file("/proc/net/tcp").unwrap()))
        });
        wait_for("the stack's connection settles", || {
            let rows = self.stack.sockets().into_iter();
            settled(
                rows.filter(|r| r.kind == SocketKind::Tcp)
                    .map(|r| {
                        let (l, p) = (r.local.port(), r.remote.port());
                        (l, p, r.tx_queue, r.rx_queue, r.refcount)
                    })
                    .collect(),
            )
        });
        self.stack_sockets = Some(StackSockets {
            listeners: [l4, l6],
            streams: [client, server],
            udp: [u4, u6],
            ping: [p4, p6],
        });
    }

    /// Has each UDP socket of `open_sockets` send itself `DATAGRAM`, left
    /// unread, on both sides; returns once both sides have queued them.
    pub fn queue_datagrams(&self) {
        let held = self.stack_sockets.as_ref().expect("open_sockets first");
        for u in &held.udp {
            u.send_to(DATAGRAM, u.local_addr().unwrap()).unwrap();
        }
        for k in &self.kernel[KERNEL_UDP] {
            k.send_to(DATAGRAM, &k.local_addr().unwrap()).unwrap();
        }
        for file in ["udp", "udp6"] {
            wait_for("the kernel queues the datagram", || {
                let text = self.ns.read_file(&format!("/proc/net/{file}")).unwrap();
                let rows = kernel_queues(&text);
                rows.len() == 1 && rows[0].3 > 0
            });
        }
        wait_for("the stack queues the datagrams", || {
            let rows = self.stack.sockets().into_iter();
            let udp: Vec<u32> = rows
                .filter(|r| r.kind == SocketKind::Udp)
                .map(|r| r.rx_queue)
                .collect();
            udp.len() == 2 && udp.iter().all(|&q| q > 0)
        });
    }
}
