//! Interfaces, addresses and their errors, routing of real traffic by the
//! table, and the poll thread's life cycle.

mod support;

use sandnet::netstack::inet::{arphrd, ifa_flags, iff, rt_scope};
use sandnet::netstack::{Link, RouteSpec, Stack};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use support::packets::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn errno<T: std::fmt::Debug>(r: std::io::Result<T>) -> i32 {
    r.expect_err("should fail")
        .raw_os_error()
        .expect("an errno")
}

#[test]
fn a_new_stack_has_lo_as_linux_does() {
    let stack = Stack::new().unwrap();
    let ifs = stack.interfaces();
    assert_eq!(ifs.len(), 1);
    let lo = &ifs[0];
    assert_eq!(
        (lo.index, lo.name.as_str(), lo.mtu, lo.link_type),
        (1, "lo", 65536, arphrd::LOOPBACK)
    );
    assert_eq!(lo.flags & 0xffff, iff::UP | iff::LOOPBACK | iff::RUNNING);
    assert_eq!(lo.hw_addr.as_deref(), Some(&[0u8; 6][..]));
    let addrs = stack.interface_addrs();
    let got: Vec<(u32, IpAddr, u8, u32, u8)> = addrs
        .iter()
        .map(|a| (a.ifindex, a.addr, a.prefix_len, a.flags, a.scope))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, ip("127.0.0.1"), 8, ifa_flags::PERMANENT, rt_scope::HOST),
            // Not NODAD: Linux runs no DAD on loopback and shows ::1 as 0x80.
            (1, ip("::1"), 128, ifa_flags::PERMANENT, rt_scope::HOST),
        ]
    );
}

#[test]
fn nics_get_linux_indexes_types_and_flags() {
    let stack = Stack::new().unwrap();
    let (a, _far_a) = Link::pipe();
    let (b, _far_b) = Link::pipe();
    let i = stack.add_nic("p0", a).unwrap();
    stack.remove_nic(i).unwrap();
    let j = stack.add_nic("p1", b).unwrap();
    assert_eq!((i, j), (2, 3), "indexes increase and are not reused");
    let p1 = stack
        .interfaces()
        .into_iter()
        .find(|n| n.index == j)
        .unwrap();
    assert_eq!(p1.link_type, arphrd::NONE);
    assert_eq!(p1.mtu, 1500);
    assert_eq!(
        p1.flags & 0xffff,
        iff::UP | iff::POINTOPOINT | iff::RUNNING | iff::NOARP | iff::MULTICAST
    );
    stack.set_down(j).unwrap();
    let p1 = stack
        .interfaces()
        .into_iter()
        .find(|n| n.index == j)
        .unwrap();
    assert_eq!(p1.flags & (iff::UP | iff::RUNNING), 0);
    stack.set_mtu(j, 9000).unwrap();
    assert_eq!(stack.interfaces()[1].mtu, 9000);
    assert_eq!(stack.ifindex("p1"), Some(j));
}

#[test]
fn bad_configuration_is_an_error_never_a_panic() {
    let stack = Stack::new().unwrap();
    let (a, _far) = Link::pipe();
    let p = stack.add_nic("p0", a).unwrap();
    let (b, _far_b) = Link::pipe();
    assert_eq!(
        errno(stack.add_nic("p0", b)),
        libc::EEXIST,
        "duplicate name"
    );
    for bad in ["", "sixteen-chars-xx", "a/b", "a:b", "a b", ".."] {
        let (l, _f) = Link::pipe();
        assert_eq!(errno(stack.add_nic(bad, l)), libc::EINVAL, "name {bad:?}");
    }
    assert_eq!(
        errno(stack.add_address(99, ip("10.0.0.2"), 24)),
        libc::ENODEV,
        "unknown ifindex"
    );
    assert_eq!(
        errno(stack.add_address(p, ip("10.0.0.2"), 33)),
        libc::EINVAL,
        "prefix > 32"
    );
    assert_eq!(
        errno(stack.add_address(p, ip("fd00::2"), 129)),
        libc::EINVAL,
        "prefix > 128"
    );
    assert_eq!(
        errno(stack.add_address(p, ip("224.0.0.5"), 24)),
        libc::EINVAL,
        "multicast"
    );
    assert_eq!(
        errno(stack.add_address(p, ip("ff02::5"), 64)),
        libc::EINVAL,
        "IPv6 multicast"
    );
    assert_eq!(
        errno(stack.add_address(p, ip("0.0.0.0"), 24)),
        libc::EINVAL,
        "unspecified"
    );
    assert_eq!(
        errno(stack.add_address(p, ip("::"), 64)),
        libc::EINVAL,
        "IPv6 unspecified"
    );
    assert_eq!(
        errno(stack.add_address(p, ip("255.255.255.255"), 32)),
        libc::EINVAL,
        "broadcast"
    );
    stack.add_address(p, ip("10.0.0.2"), 24).unwrap();
    assert_eq!(
        errno(stack.add_address(p, ip("10.0.0.2"), 24)),
        libc::EEXIST,
        "duplicate"
    );
    stack.add_address(p, ip("fd00::2"), 64).unwrap();
    assert_eq!(
        errno(stack.add_address(p, ip("fd00::2"), 64)),
        libc::EEXIST,
        "IPv6 duplicate"
    );
    assert_eq!(
        errno(stack.remove_address(p, ip("10.0.0.99"), 24)),
        libc::EADDRNOTAVAIL
    );
    assert_eq!(errno(stack.set_mtu(p, 67)), libc::EINVAL);
    assert_eq!(errno(stack.set_mtu(p, 65536)), libc::EINVAL);
    assert_eq!(errno(stack.set_mtu(42, 1500)), libc::ENODEV);
    assert_eq!(errno(stack.remove_nic(1)), libc::EOPNOTSUPP, "lo stays");
    assert_eq!(errno(stack.remove_nic(42)), libc::ENODEV);
    assert_eq!(
        errno(stack.add_route(RouteSpec::new(ip("10.1.0.0"), 33).dev(p))),
        libc::EINVAL
    );
    assert_eq!(
        errno(stack.add_route(RouteSpec::new(ip("10.1.0.0"), 16).dev(42))),
        libc::ENODEV
    );
    assert_eq!(
        errno(stack.add_route(RouteSpec::new(ip("10.1.0.0"), 16).via(ip("fd00::1")))),
        libc::EINVAL
    );
    // The address table is bounded: ENOSPC, not growth.
    let mut n = 0u32;
    let err = loop {
        match stack.add_address(p, IpAddr::V4(Ipv4Addr::from(0x0a64_0000 + n)), 32) {
            Ok(()) => n += 1,
            Err(e) => break e,
        }
    };
    assert_eq!(err.raw_os_error(), Some(libc::ENOSPC));
    assert!(n > 16, "room for many addresses ({n})");
}

#[test]
fn addresses_bring_and_take_their_routes() {
    let stack = Stack::new().unwrap();
    let (a, _far) = Link::pipe();
    let p = stack.add_nic("p0", a).unwrap();
    let base = stack.route_table().len();
    stack.add_address(p, ip("10.0.0.2"), 24).unwrap();
    stack.add_address(p, ip("10.0.0.3"), 24).unwrap();
    let secondary = stack
        .interface_addrs()
        .into_iter()
        .find(|a| a.addr == ip("10.0.0.3"))
        .unwrap();
    assert_ne!(secondary.flags & ifa_flags::SECONDARY, 0);
    // connected + local + broadcast for the primary, local for the secondary
    assert_eq!(stack.route_table().len(), base + 4);
    // Removing the primary takes its secondary with it (promote_secondaries off).
    stack.remove_address(p, ip("10.0.0.2"), 24).unwrap();
    assert!(stack.interface_addrs().iter().all(|a| a.ifindex != p));
    assert_eq!(stack.route_table().len(), base);
    // IPv6 addresses are NODAD (no DAD is run), except on lo, as in Linux.
    stack.add_address(p, ip("fd00::2"), 64).unwrap();
    stack.add_address(1, ip("fd00:5::1"), 128).unwrap();
    let flags = |addr: &str| {
        let addrs = stack.interface_addrs().into_iter();
        addrs.filter(|a| a.addr == ip(addr)).map(|a| a.flags).next()
    };
    let pn = ifa_flags::PERMANENT | ifa_flags::NODAD;
    assert_eq!(flags("fd00::2"), Some(pn));
    assert_eq!(flags("fd00:5::1"), Some(ifa_flags::PERMANENT));
    assert_eq!(flags("::1"), Some(ifa_flags::PERMANENT));
    stack.remove_address(1, ip("fd00:5::1"), 128).unwrap();
    // Down flushes the NIC's routes but the IPv4 local ones (its addresses stay
    // local, as on Linux); up brings the address routes back.
    let with = stack.route_table().len();
    stack.set_down(p).unwrap();
    assert!(stack
        .route_table()
        .iter()
        .all(|r| r.oif != p || (r.is_ipv4() && r.kind == sandnet::netstack::RouteType::Local)));
    assert_eq!(
        errno(stack.route_get(ip("fd00::9"), None)),
        libc::ENETUNREACH
    );
    stack.set_up(p).unwrap();
    assert_eq!(stack.route_table().len(), with);
}

#[test]
fn replies_leave_through_the_nic_route_get_names() {
    // Asymmetric, as on Linux: a ping from 8.8.8.8 arrives on p0, but the
    // default route points at p1, so the reply leaves through p1.
    let stack = Stack::new().unwrap();
    let (a, far_a) = Link::pipe();
    let (b, far_b) = Link::pipe();
    let p0 = stack.add_nic("p0", a).unwrap();
    let p1 = stack.add_nic("p1", b).unwrap();
    stack.add_address(p0, ip("10.0.0.2"), 24).unwrap();
    stack.add_address(p1, ip("10.1.0.2"), 24).unwrap();
    stack
        .add_route(RouteSpec::default_v4().via(ip("10.1.0.1")))
        .unwrap();
    assert_eq!(stack.route_get(ip("8.8.8.8"), None).unwrap().oif, p1);
    let (them, me) = (Ipv4Addr::new(8, 8, 8, 8), Ipv4Addr::new(10, 0, 0, 2));
    far_a
        .send(&ipv4(them, me, 1, &icmpv4_echo_request(1, 1, b"x")))
        .unwrap();
    let reply = far_b
        .recv_timeout(Duration::from_secs(5))
        .expect("the reply, on p1");
    assert_eq!(&reply[12..16], &me.octets());
    assert!(
        far_a.recv_timeout(Duration::from_millis(100)).is_none(),
        "nothing back on p0"
    );
    // With no route at all, the reply is not sent and OutNoRoutes counts it.
    stack.remove_route(RouteSpec::default_v4()).unwrap();
    let before = stack.statistics().snmp.ip.OutNoRoutes;
    far_a
        .send(&ipv4(them, me, 1, &icmpv4_echo_request(1, 2, b"x")))
        .unwrap();
    assert!(support::kernel::eventually(
        Duration::from_secs(5),
        || stack.statistics().snmp.ip.OutNoRoutes == before + 1
    ));
    assert!(far_b.recv_timeout(Duration::from_millis(100)).is_none());
}

#[test]
fn packets_to_other_hosts_are_counted_as_address_errors() {
    let stack = Stack::new().unwrap();
    let (a, far) = Link::pipe();
    let p = stack.add_nic("p0", a).unwrap();
    stack.add_address(p, ip("10.0.0.2"), 24).unwrap();
    far.send(&ipv4(
        Ipv4Addr::new(10, 0, 0, 1),
        Ipv4Addr::new(10, 0, 0, 77),
        1,
        &icmpv4_echo_request(1, 1, b"x"),
    ))
    .unwrap();
    assert!(support::kernel::eventually(
        Duration::from_secs(5),
        || stack.statistics().snmp.ip.InAddrErrors == 1
    ));
    assert!(
        far.recv_timeout(Duration::from_millis(100)).is_none(),
        "the stack does not forward"
    );
}

#[test]
fn an_idle_stack_does_not_wake() {
    let stack = Stack::new().unwrap();
    let (a, _far) = Link::pipe();
    let p = stack.add_nic("p0", a).unwrap();
    stack.add_address(p, ip("10.0.0.2"), 24).unwrap();
    // Let the wake-ups from configuration settle, then watch.
    std::thread::sleep(Duration::from_millis(100));
    let before = stack.wakeups();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        stack.wakeups(),
        before,
        "no timer, no packet, no call: no wake-up"
    );
}

#[test]
fn shutdown_stops_the_stack_and_frees_its_links() {
    let stack = Stack::new().unwrap();
    let (a, far) = Link::pipe();
    let p = stack.add_nic("p0", a).unwrap();
    stack.add_address(p, ip("10.0.0.2"), 24).unwrap();
    let clone = stack.clone();
    stack.shutdown();
    assert_eq!(
        errno(clone.add_address(p, ip("10.0.0.3"), 24)),
        libc::ENETDOWN
    );
    // The stack's end of the pipe is gone: sending to it fails, never panics.
    assert!(far.send(&[0x45; 20]).is_err());
    drop(clone);
    drop(stack);
}
