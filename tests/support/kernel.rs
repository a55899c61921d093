//! A test bed with the host kernel as the peer: a private network namespace
//! holding a TUN device whose kernel side is 10.9.0.1/24 and fd00:9::1/64,
//! and a stack behind it with 10.9.0.2/24 and fd00:9::2/64. Traffic stays in
//! the namespace; dropping the bed removes the device and the namespace.

use sandnet::netstack::os::netns::NetNs;
use sandnet::netstack::{Link, RouteSpec, Stack};
use socket2::{Domain, Protocol, Socket, Type};
use std::net::{IpAddr, UdpSocket};
use std::time::{Duration, Instant};

pub const DEV: &str = "sn0";
pub const KERNEL_V4: &str = "10.9.0.1";
pub const STACK_V4: &str = "10.9.0.2";
pub const KERNEL_V6: &str = "fd00:9::1";
pub const STACK_V6: &str = "fd00:9::2";

pub struct TunBed {
    pub stack: Stack,
    pub ifindex: u32,
    /// The TUN's ifindex in the namespace, for packet sockets.
    pub os_ifindex: u32,
    pub ns: NetNs,
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn write_sysctl(ns: &NetNs, path: &'static str, value: &'static str) {
    // /proc/sys/net follows the namespace of the thread that opens it.
    ns.run(move || std::fs::write(path, value))
        .unwrap_or_else(|e| panic!("{path}: {e}"));
}

/// A private namespace whose kernel adds no traffic of its own: no IPv6
/// link-local address, no router solicitations. Ping sockets are open to all.
pub fn quiet_namespace() -> NetNs {
    let ns = NetNs::new().expect("a private network namespace");
    write_sysctl(&ns, "/proc/sys/net/ipv6/conf/default/addr_gen_mode", "1");
    write_sysctl(
        &ns,
        "/proc/sys/net/ipv6/conf/default/router_solicitations",
        "0",
    );
    write_sysctl(&ns, "/proc/sys/net/ipv4/ping_group_range", "0 2147483647");
    ns
}

/// Builds the bed, or returns None (after printing why) when not root.
pub fn tun_bed(test: &str) -> Option<TunBed> {
    tun_bed_with(test, true)
}

/// `tun_bed`, with a TUN device that takes offloads or not.
pub fn tun_bed_with(test: &str, offloads: bool) -> Option<TunBed> {
    if !super::root::have_root(test) {
        return None;
    }
    let ns = quiet_namespace();
    let link = ns
        .run(move || {
            if offloads {
                Link::tun(DEV)
            } else {
                Link::tun_without_offloads(DEV)
            }
        })
        .expect("a TUN device in the namespace");
    let os_ifindex = link.tun_info().unwrap().os_ifindex;
    ns.ip(&["addr", "add", &format!("{KERNEL_V4}/24"), "dev", DEV])
        .unwrap();
    ns.ip(&[
        "-6",
        "addr",
        "add",
        &format!("{KERNEL_V6}/64"),
        "dev",
        DEV,
        "nodad",
    ])
    .unwrap();
    ns.ip(&["link", "set", DEV, "up"]).unwrap();

    let stack = Stack::new().unwrap();
    let ifindex = stack.add_nic(DEV, link).unwrap();
    stack.add_address(ifindex, ip(STACK_V4), 24).unwrap();
    stack.add_address(ifindex, ip(STACK_V6), 64).unwrap();
    stack
        .add_route(RouteSpec::default_v4().via(ip(KERNEL_V4)))
        .unwrap();
    stack
        .add_route(RouteSpec::default_v6().via(ip(KERNEL_V6)))
        .unwrap();
    Some(TunBed {
        stack,
        ifindex,
        os_ifindex,
        ns,
    })
}

impl TunBed {
    /// A kernel ICMP echo ("ping") socket inside the namespace.
    pub fn kernel_ping_socket(&self, v6: bool) -> UdpSocket {
        let s = self
            .ns
            .run(move || {
                let (domain, proto) = if v6 {
                    (Domain::IPV6, Protocol::ICMPV6)
                } else {
                    (Domain::IPV4, Protocol::ICMPV4)
                };
                Socket::new(domain, Type::DGRAM, Some(proto)).map(UdpSocket::from)
            })
            .expect("a kernel ping socket");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    }

    /// The kernel's /proc/net/dev row for the TUN, as 16 numbers.
    pub fn kernel_dev_row(&self) -> Vec<u64> {
        self.kernel_dev_row_of(DEV)
    }

    /// The kernel's /proc/net/dev row for its device `dev`, as 16 numbers.
    pub fn kernel_dev_row_of(&self, dev: &str) -> Vec<u64> {
        let text = self.ns.read_file("/proc/net/dev").unwrap();
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{dev}:")))
            .expect("a row for the device");
        line.split_once(':')
            .unwrap()
            .1
            .split_whitespace()
            .map(|n| n.parse().unwrap())
            .collect()
    }
}

/// Polls `cond` until it holds or `limit` passes; returns whether it held.
pub fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if cond() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl TunBed {
    /// A kernel socket of the namespace (made there, usable from any thread).
    pub fn kernel_socket(&self, v6: bool, ty: Type) -> Socket {
        self.ns
            .run(move || {
                let domain = if v6 { Domain::IPV6 } else { Domain::IPV4 };
                Socket::new(domain, ty, None)
            })
            .expect("a kernel socket in the namespace")
    }

    /// A kernel TCP client connected to `addr` from inside the namespace.
    pub fn kernel_connect(
        &self,
        addr: std::net::SocketAddr,
    ) -> std::io::Result<std::net::TcpStream> {
        let s = self.kernel_socket(addr.is_ipv6(), Type::STREAM);
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        s.connect_timeout(&addr.into(), Duration::from_secs(30))?;
        Ok(s.into())
    }

    /// A kernel TCP listener inside the namespace.
    pub fn kernel_listen(&self, addr: std::net::SocketAddr) -> std::net::TcpListener {
        self.ns
            .run(move || std::net::TcpListener::bind(addr))
            .expect("a kernel listener in the namespace")
    }

    /// A kernel UDP socket bound inside the namespace.
    pub fn kernel_udp(&self, addr: std::net::SocketAddr) -> UdpSocket {
        let s = self
            .ns
            .run(move || UdpSocket::bind(addr))
            .expect("a kernel UDP socket in the namespace");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    }
}
