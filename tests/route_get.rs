//! route_get against answers the Linux kernel (6.18) gave for the same table.
//!
//! The kernel side was configured in a private namespace with two TUN devices:
//!   ip link set t0 up; ip link set t1 up
//!   ip addr add 10.0.0.2/24 dev t0; ip addr add 10.0.0.3/24 dev t0; ip addr add 10.1.0.2/16 dev t1
//!   ip -6 addr add fd00:1::2/64 dev t0 nodad; ip -6 addr add fd00:2::2/64 dev t1 nodad
//!   ip route add default via 10.0.0.1 metric 100; ip route add default via 10.1.0.1 metric 50
//!   ip route add 172.16.0.0/12 via 10.1.0.1; ip route add 172.16.5.0/24 via 10.0.0.1 src 10.0.0.3
//!   ip route add 198.51.100.0/24 dev t1 metric 10; ip route add 198.51.100.0/24 dev t0 metric 5
//!   ip -6 route add default via fd00:1::1; ip -6 route add 2001:db8::/32 dev t1
//!   ip -6 route add 2001:db8:1::/48 via fd00:1::1 metric 5
//! Each case below quotes the kernel's `ip route get` line.

use sandnet::netstack::inet::{RT_TABLE_LOCAL, RT_TABLE_MAIN};
use sandnet::netstack::{Link, RouteSpec, RouteType, Stack};
use std::net::IpAddr;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The kernel's configuration, built in a stack. Returns (stack, t0, t1) and
/// keeps the far pipe ends alive.
fn oracle_stack() -> (Stack, u32, u32, Vec<Link>) {
    let stack = Stack::new().unwrap();
    let (a, far_a) = Link::pipe();
    let (b, far_b) = Link::pipe();
    let t0 = stack.add_nic("t0", a).unwrap();
    let t1 = stack.add_nic("t1", b).unwrap();
    assert_eq!((t0, t1), (2, 3));
    stack.add_address(t0, ip("10.0.0.2"), 24).unwrap();
    stack.add_address(t0, ip("10.0.0.3"), 24).unwrap();
    stack.add_address(t1, ip("10.1.0.2"), 16).unwrap();
    stack.add_address(t0, ip("fd00:1::2"), 64).unwrap();
    stack.add_address(t1, ip("fd00:2::2"), 64).unwrap();
    stack
        .add_route(RouteSpec::default_v4().via(ip("10.0.0.1")).metric(100))
        .unwrap();
    stack
        .add_route(RouteSpec::default_v4().via(ip("10.1.0.1")).metric(50))
        .unwrap();
    stack
        .add_route(RouteSpec::new(ip("172.16.0.0"), 12).via(ip("10.1.0.1")))
        .unwrap();
    stack
        .add_route(
            RouteSpec::new(ip("172.16.5.0"), 24)
                .via(ip("10.0.0.1"))
                .src(ip("10.0.0.3")),
        )
        .unwrap();
    stack
        .add_route(RouteSpec::new(ip("198.51.100.0"), 24).dev(t1).metric(10))
        .unwrap();
    stack
        .add_route(RouteSpec::new(ip("198.51.100.0"), 24).dev(t0).metric(5))
        .unwrap();
    stack
        .add_route(RouteSpec::default_v6().via(ip("fd00:1::1")))
        .unwrap();
    stack
        .add_route(RouteSpec::new(ip("2001:db8::"), 32).dev(t1))
        .unwrap();
    stack
        .add_route(
            RouteSpec::new(ip("2001:db8:1::"), 48)
                .via(ip("fd00:1::1"))
                .metric(5),
        )
        .unwrap();
    (stack, t0, t1, vec![far_a, far_b])
}

/// (destination, from, kind, oif, prefsrc, gateway, table)
type Case = (
    &'static str,
    Option<&'static str>,
    RouteType,
    u32,
    &'static str,
    Option<&'static str>,
    u32,
);

#[test]
fn ipv4_answers_match_the_kernel() {
    let (stack, _t0, _t1, _keep) = oracle_stack();
    use RouteType::*;
    let cases: &[Case] = &[
        // 8.8.8.8 via 10.1.0.1 dev t1 src 10.1.0.2 uid 0     (lower metric of two defaults)
        (
            "8.8.8.8",
            None,
            Unicast,
            3,
            "10.1.0.2",
            Some("10.1.0.1"),
            RT_TABLE_MAIN,
        ),
        // 10.0.0.7 dev t0 src 10.0.0.2 uid 0                 (connected route's prefsrc)
        (
            "10.0.0.7",
            None,
            Unicast,
            2,
            "10.0.0.2",
            None,
            RT_TABLE_MAIN,
        ),
        // 10.1.2.3 dev t1 src 10.1.0.2 uid 0
        (
            "10.1.2.3",
            None,
            Unicast,
            3,
            "10.1.0.2",
            None,
            RT_TABLE_MAIN,
        ),
        // 172.16.1.1 via 10.1.0.1 dev t1 src 10.1.0.2 uid 0
        (
            "172.16.1.1",
            None,
            Unicast,
            3,
            "10.1.0.2",
            Some("10.1.0.1"),
            RT_TABLE_MAIN,
        ),
        // 172.16.5.9 via 10.0.0.1 dev t0 src 10.0.0.3 uid 0  (longest prefix, its src)
        (
            "172.16.5.9",
            None,
            Unicast,
            2,
            "10.0.0.3",
            Some("10.0.0.1"),
            RT_TABLE_MAIN,
        ),
        // 198.51.100.7 dev t0 src 10.0.0.2 uid 0             (equal prefixes: lowest metric)
        (
            "198.51.100.7",
            None,
            Unicast,
            2,
            "10.0.0.2",
            None,
            RT_TABLE_MAIN,
        ),
        // local 127.0.0.1 dev lo src 127.0.0.1 uid 0
        (
            "127.0.0.1",
            None,
            Local,
            1,
            "127.0.0.1",
            None,
            RT_TABLE_LOCAL,
        ),
        // local 10.0.0.2 dev lo src 10.0.0.2 uid 0
        ("10.0.0.2", None, Local, 1, "10.0.0.2", None, RT_TABLE_LOCAL),
        // local 10.0.0.3: the secondary's local route has the primary as src
        ("10.0.0.3", None, Local, 1, "10.0.0.2", None, RT_TABLE_LOCAL),
        // broadcast 10.0.0.255 dev t0 src 10.0.0.2 uid 0
        (
            "10.0.0.255",
            None,
            Broadcast,
            2,
            "10.0.0.2",
            None,
            RT_TABLE_MAIN,
        ),
        // 10.0.0.0 dev t0 src 10.0.0.2 uid 0
        (
            "10.0.0.0",
            None,
            Unicast,
            2,
            "10.0.0.2",
            None,
            RT_TABLE_MAIN,
        ),
        // local 127.5.5.5 dev lo src 127.0.0.1 uid 0
        (
            "127.5.5.5",
            None,
            Local,
            1,
            "127.0.0.1",
            None,
            RT_TABLE_LOCAL,
        ),
        // broadcast 255.255.255.255 dev t1 src 10.1.0.2 uid 0
        (
            "255.255.255.255",
            None,
            Broadcast,
            3,
            "10.1.0.2",
            None,
            RT_TABLE_MAIN,
        ),
        // multicast 224.0.0.1 dev t1 src 10.1.0.2 uid 0
        (
            "224.0.0.1",
            None,
            Multicast,
            3,
            "10.1.0.2",
            None,
            RT_TABLE_MAIN,
        ),
        // 8.8.8.8 from 10.0.0.3 via 10.1.0.1 dev t1 uid 0
        (
            "8.8.8.8",
            Some("10.0.0.3"),
            Unicast,
            3,
            "10.0.0.3",
            Some("10.1.0.1"),
            RT_TABLE_MAIN,
        ),
        // 10.1.2.3 from 10.0.0.2 dev t1 uid 0
        (
            "10.1.2.3",
            Some("10.0.0.2"),
            Unicast,
            3,
            "10.0.0.2",
            None,
            RT_TABLE_MAIN,
        ),
    ];
    check(&stack, cases);
}

#[test]
fn ipv6_answers_match_the_kernel() {
    let (stack, _t0, _t1, _keep) = oracle_stack();
    use RouteType::*;
    let cases: &[Case] = &[
        // 2001:4860::1 from :: via fd00:1::1 dev t0 src fd00:1::2 metric 1024
        (
            "2001:4860::1",
            None,
            Unicast,
            2,
            "fd00:1::2",
            Some("fd00:1::1"),
            RT_TABLE_MAIN,
        ),
        // fd00:1::9 from :: dev t0 proto kernel src fd00:1::2 metric 256
        (
            "fd00:1::9",
            None,
            Unicast,
            2,
            "fd00:1::2",
            None,
            RT_TABLE_MAIN,
        ),
        // fd00:2::9 from :: dev t1 proto kernel src fd00:2::2 metric 256
        (
            "fd00:2::9",
            None,
            Unicast,
            3,
            "fd00:2::2",
            None,
            RT_TABLE_MAIN,
        ),
        // 2001:db8::1 from :: dev t1 src fd00:2::2 metric 1024
        (
            "2001:db8::1",
            None,
            Unicast,
            3,
            "fd00:2::2",
            None,
            RT_TABLE_MAIN,
        ),
        // 2001:db8:1::1 from :: via fd00:1::1 dev t0 src fd00:1::2 metric 5
        (
            "2001:db8:1::1",
            None,
            Unicast,
            2,
            "fd00:1::2",
            Some("fd00:1::1"),
            RT_TABLE_MAIN,
        ),
        // local ::1 from :: dev lo table local proto kernel src ::1 metric 0
        ("::1", None, Local, 1, "::1", None, RT_TABLE_LOCAL),
        // local fd00:1::2 from :: dev lo table local proto kernel src fd00:1::2 metric 0
        (
            "fd00:1::2",
            None,
            Local,
            1,
            "fd00:1::2",
            None,
            RT_TABLE_LOCAL,
        ),
        // fe80::1 from :: via fd00:1::1 dev t0 src fd00:1::2 metric 1024 (no link-local route)
        (
            "fe80::1",
            None,
            Unicast,
            2,
            "fd00:1::2",
            Some("fd00:1::1"),
            RT_TABLE_MAIN,
        ),
        // multicast ff02::1 from :: dev t0 table local proto kernel src fd00:1::2 metric 256
        (
            "ff02::1",
            None,
            Multicast,
            2,
            "fd00:1::2",
            None,
            RT_TABLE_LOCAL,
        ),
        // 2001:4860::1 from fd00:2::2 via fd00:1::1 dev t0 src fd00:1::2 metric 1024
        (
            "2001:4860::1",
            Some("fd00:2::2"),
            Unicast,
            2,
            "fd00:1::2",
            Some("fd00:1::1"),
            RT_TABLE_MAIN,
        ),
    ];
    check(&stack, cases);
    let metric = |d: &str| stack.route_get(ip(d), None).unwrap().metric;
    assert_eq!(
        (
            metric("2001:4860::1"),
            metric("fd00:1::9"),
            metric("2001:db8:1::1")
        ),
        (1024, 256, 5)
    );
}

fn check(stack: &Stack, cases: &[Case]) {
    for &(dst, from, kind, oif, prefsrc, gateway, table) in cases {
        let got = stack
            .route_get(ip(dst), from.map(ip))
            .unwrap_or_else(|e| panic!("{dst}: {e}"));
        let ctx = format!("route get {dst} from {from:?}: {got:?}");
        assert_eq!(got.kind, kind, "{ctx}");
        assert_eq!(got.oif, oif, "{ctx}");
        assert_eq!(got.prefsrc, ip(prefsrc), "{ctx}");
        assert_eq!(got.gateway, gateway.map(ip), "{ctx}");
        assert_eq!(got.table, table, "{ctx}");
        assert_eq!(got.src, from.map(ip), "{ctx}");
    }
}

#[test]
fn errors_match_the_kernel() {
    let (stack, _t0, t1, _keep) = oracle_stack();
    let errno = |r: std::io::Result<()>| {
        r.expect_err("the kernel refused this")
            .raw_os_error()
            .unwrap()
    };
    let get = |d: &str, f: Option<&str>| stack.route_get(ip(d), f.map(ip)).map(|_| ());
    // RTNETLINK answers: Network is unreachable   (ip route get 8.8.8.8 from 1.2.3.4)
    assert_eq!(errno(get("8.8.8.8", Some("1.2.3.4"))), libc::ENETUNREACH);
    // RTNETLINK answers: Invalid argument         (ip route get 8.8.8.8 from 127.0.0.1)
    assert_eq!(errno(get("8.8.8.8", Some("127.0.0.1"))), libc::EINVAL);
    // ip route add 10.9.0.0/16 via 10.5.5.5 -> error=-ENETUNREACH ("Nexthop has invalid gateway")
    assert_eq!(
        errno(stack.add_route(RouteSpec::new(ip("10.9.0.0"), 16).via(ip("10.5.5.5")))),
        libc::ENETUNREACH
    );
    // ip route add 10.67.0.0/16 via 10.1.255.255 (a broadcast) -> error=-EINVAL
    assert_eq!(
        errno(stack.add_route(RouteSpec::new(ip("10.67.0.0"), 16).via(ip("10.1.255.255")))),
        libc::EINVAL
    );
    // ip -6 route add 2001:db9::/32 via fd00:9::1 -> error=-EHOSTUNREACH
    assert_eq!(
        errno(stack.add_route(RouteSpec::new(ip("2001:db9::"), 32).via(ip("fd00:9::1")))),
        libc::EHOSTUNREACH
    );
    // ip route add 172.16.5.0/24 via 10.0.0.1 src 10.0.0.3 (again) -> error=-EEXIST
    let again = RouteSpec::new(ip("172.16.5.0"), 24)
        .via(ip("10.0.0.1"))
        .src(ip("10.0.0.3"));
    assert_eq!(errno(stack.add_route(again)), libc::EEXIST);
    // ip route add 10.0.0.0/24 dev t1 (same prefix and metric as the connected route) -> EEXIST
    assert_eq!(
        errno(stack.add_route(RouteSpec::new(ip("10.0.0.0"), 24).dev(t1))),
        libc::EEXIST
    );
    // ip -6 route add 2001:db8:1::/48 via fd00:1::1 metric 5 (again) -> error=-EEXIST
    let again6 = RouteSpec::new(ip("2001:db8:1::"), 48)
        .via(ip("fd00:1::1"))
        .metric(5);
    assert_eq!(errno(stack.add_route(again6)), libc::EEXIST);
    // ip route del 10.77.0.0/16 -> error=-ESRCH
    assert_eq!(
        errno(stack.remove_route(RouteSpec::new(ip("10.77.0.0"), 16))),
        libc::ESRCH
    );
    // ip route add 10.66.0.0/16 via 10.0.0.2 (the stack's own address) is accepted
    stack
        .add_route(RouteSpec::new(ip("10.66.0.0"), 16).via(ip("10.0.0.2")))
        .unwrap();
    // After `ip route del default via 10.1.0.1 metric 50`:
    // 8.8.8.8 via 10.0.0.1 dev t0 src 10.0.0.2 uid 0
    stack
        .remove_route(RouteSpec::default_v4().via(ip("10.1.0.1")).metric(50))
        .unwrap();
    let a = stack.route_get(ip("8.8.8.8"), None).unwrap();
    assert_eq!(
        (a.oif, a.prefsrc, a.gateway),
        (2, ip("10.0.0.2"), Some(ip("10.0.0.1")))
    );
    // After `ip route flush table main` (and -6): ENETUNREACH for both families.
    for r in stack
        .route_table()
        .into_iter()
        .filter(|r| r.table == RT_TABLE_MAIN)
    {
        let spec = RouteSpec::new(r.dst, r.prefix_len)
            .dev(r.oif)
            .metric(r.metric);
        stack.remove_route(spec).unwrap();
    }
    assert_eq!(errno(get("8.8.8.8", None)), libc::ENETUNREACH);
    assert_eq!(errno(get("2001::1", None)), libc::ENETUNREACH);
}

#[test]
fn tables_match_ip_route_show_table_all() {
    let (stack, t0, t1, _keep) = oracle_stack();
    let table = stack.route_table();
    let has = |table_id: u32, kind: RouteType, dst: &str, len: u8, oif: u32, src: Option<&str>| {
        table.iter().any(|r| {
            r.table == table_id
                && r.kind == kind
                && r.dst == ip(dst)
                && r.prefix_len == len
                && r.oif == oif
                && r.prefsrc == src.map(ip)
        })
    };
    use RouteType::*;
    // 10.0.0.0/24 dev t0 proto kernel scope link src 10.0.0.2
    assert!(has(
        RT_TABLE_MAIN,
        Unicast,
        "10.0.0.0",
        24,
        t0,
        Some("10.0.0.2")
    ));
    // 10.1.0.0/16 dev t1 proto kernel scope link src 10.1.0.2
    assert!(has(
        RT_TABLE_MAIN,
        Unicast,
        "10.1.0.0",
        16,
        t1,
        Some("10.1.0.2")
    ));
    // local 10.0.0.2 / local 10.0.0.3 (src 10.0.0.2) / broadcast 10.0.0.255 dev t0 table local
    assert!(has(
        RT_TABLE_LOCAL,
        Local,
        "10.0.0.2",
        32,
        t0,
        Some("10.0.0.2")
    ));
    assert!(has(
        RT_TABLE_LOCAL,
        Local,
        "10.0.0.3",
        32,
        t0,
        Some("10.0.0.2")
    ));
    assert!(has(
        RT_TABLE_LOCAL,
        Broadcast,
        "10.0.0.255",
        32,
        t0,
        Some("10.0.0.2")
    ));
    assert!(has(
        RT_TABLE_LOCAL,
        Broadcast,
        "10.1.255.255",
        32,
        t1,
        Some("10.1.0.2")
    ));
    // local 127.0.0.0/8, local 127.0.0.1, broadcast 127.255.255.255 dev lo table local
    assert!(has(
        RT_TABLE_LOCAL,
        Local,
        "127.0.0.0",
        8,
        1,
        Some("127.0.0.1")
    ));
    assert!(has(
        RT_TABLE_LOCAL,
        Local,
        "127.0.0.1",
        32,
        1,
        Some("127.0.0.1")
    ));
    assert!(has(
        RT_TABLE_LOCAL,
        Broadcast,
        "127.255.255.255",
        32,
        1,
        Some("127.0.0.1")
    ));
    // fd00:1::/64 dev t0 proto kernel metric 256; local ::1, fd00:1::2; multicast ff00::/8 per NIC
    assert!(has(RT_TABLE_MAIN, Unicast, "fd00:1::", 64, t0, None));
    assert!(has(RT_TABLE_LOCAL, Local, "::1", 128, 1, None));
    assert!(has(RT_TABLE_LOCAL, Local, "fd00:2::2", 128, t1, None));
    assert!(has(RT_TABLE_LOCAL, Multicast, "ff00::", 8, t0, None));
    assert!(has(RT_TABLE_LOCAL, Multicast, "ff00::", 8, t1, None));
    // The kernel listed 26: IPv4 main 8, local 8; IPv6 main 5, local 5.
    assert_eq!(table.len(), 26, "{table:#?}");
}
