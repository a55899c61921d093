//! The NETLINK_ROUTE responder against the kernel: the same state on both
//! sides (a TUN `snl0` in a private namespace, held open by the stack, with
//! the same addresses and routes configured in the kernel as in the stack),
//! the same request bytes to a kernel socket in that namespace and to the
//! responder, and the replies compared byte for byte after `support::nl::mask`
//! (counters and timestamps only).

mod support;

use sandnet::netlink::{Options, Responder};
use sandnet::netstack::os::netns::NetNs;
use sandnet::netstack::{Link, RouteSpec, Stack};
use support::nl::consts::*;
use support::nl::{assert_same, ifaddrmsg, ifinfomsg, nla, req, rtmsg, KernelNl};

const DEV: &str = "snl0";

struct Bed {
    stack: Stack,
    ns: NetNs,
}

fn bed(test: &str) -> Option<Bed> {
    if !support::root::have_root(test) {
        return None;
    }
    let ns = support::kernel::quiet_namespace();
    let link = ns.run(|| Link::tun(DEV)).expect("a TUN in the namespace");
    for args in [
        &["addr", "add", "10.9.0.2/24", "dev", DEV][..],
        &["-6", "addr", "add", "fd00:9::2/64", "dev", DEV, "nodad"],
        &["link", "set", DEV, "up"],
        &["route", "add", "default", "via", "10.9.0.1"],
        &["-6", "route", "add", "default", "via", "fd00:9::1"],
    ] {
        ns.ip(args).unwrap();
    }
    // IPv6 local routes are added from a work queue after the address: wait for them.
    let settled = support::kernel::eventually(std::time::Duration::from_secs(5), || {
        let t = ns.ip(&["-6", "route", "show", "table", "local"]).unwrap();
        t.contains("local fd00:9::2 ") && t.contains("multicast ff00::/8 dev snl0")
    });
    assert!(settled, "the kernel's IPv6 local routes appear");
    let stack = Stack::new().unwrap();
    let i = stack.add_nic(DEV, link).unwrap();
    assert_eq!(i, 2, "the TUN is ifindex 2 on both sides");
    stack
        .add_address(i, "10.9.0.2".parse().unwrap(), 24)
        .unwrap();
    stack
        .add_address(i, "fd00:9::2".parse().unwrap(), 64)
        .unwrap();
    stack
        .add_route(RouteSpec::default_v4().via("10.9.0.1".parse().unwrap()))
        .unwrap();
    stack
        .add_route(RouteSpec::default_v6().via("fd00:9::1".parse().unwrap()))
        .unwrap();
    Some(Bed { stack, ns })
}

impl Bed {
    /// A kernel socket and a responder set up alike.
    fn pair(&self, ext_ack: bool, strict: bool) -> (KernelNl, Responder) {
        let k = KernelNl::open(&self.ns, ext_ack, strict, false);
        let mut opts = Options {
            ext_ack,
            strict_check: strict,
            portid: k.portid,
            uid: 0,
            ..Options::default()
        };
        opts.link.default_qdisc = std::fs::read_to_string("/proc/sys/net/core/default_qdisc")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "pfifo_fast".into());
        (k, Responder::with_options(self.stack.clone(), opts))
    }

    fn check(&self, what: &str, ext_ack: bool, strict: bool, request: &[u8]) {
        let (k, r) = self.pair(ext_ack, strict);
        let kernel = k.request(request);
        let ours = r.handle(request);
        assert_same(what, &ours, &kernel);
    }
}

#[test]
fn netlink_link_dump_and_get_match_the_kernel() {
    let Some(b) = bed("netlink_link_dump_and_get_match_the_kernel") else {
        return;
    };
    for strict in [false, true] {
        b.check(
            "link dump",
            false,
            strict,
            &req(RTM_GETLINK, REQ | DUMP, 1, &ifinfomsg(0)),
        );
        for mask in [1u32, 8, 9] {
            let mut body = ifinfomsg(0);
            body.extend(nla(29, &mask.to_ne_bytes()));
            b.check(
                "link dump ext mask",
                false,
                strict,
                &req(RTM_GETLINK, REQ | DUMP, 2, &body),
            );
        }
    }
    // rtgenmsg-only dump (old tools), not strict.
    b.check(
        "link dump rtgenmsg",
        false,
        false,
        &req(RTM_GETLINK, REQ | DUMP, 3, &[0]),
    );
    for idx in [1, 2] {
        b.check(
            "link get by index",
            false,
            false,
            &req(RTM_GETLINK, REQ, 4, &ifinfomsg(idx)),
        );
        b.check(
            "link get acked",
            false,
            false,
            &req(RTM_GETLINK, REQ | ACK, 5, &ifinfomsg(idx)),
        );
    }
    let mut by_name = ifinfomsg(0);
    by_name.extend(nla(3, b"snl0\0"));
    b.check(
        "link get by name",
        false,
        false,
        &req(RTM_GETLINK, REQ, 6, &by_name),
    );
    let mut no_such = ifinfomsg(0);
    no_such.extend(nla(3, b"nope\0"));
    b.check(
        "link get unknown name",
        true,
        false,
        &req(RTM_GETLINK, REQ, 7, &no_such),
    );
    b.check(
        "link get unknown index",
        true,
        false,
        &req(RTM_GETLINK, REQ | ACK, 8, &ifinfomsg(99)),
    );
    b.check(
        "link get neither",
        true,
        false,
        &req(RTM_GETLINK, REQ, 9, &ifinfomsg(0)),
    );
    b.check(
        "link get short",
        false,
        false,
        &req(RTM_GETLINK, REQ, 10, &[0, 0]),
    );
    b.check(
        "strict link dump by index",
        true,
        true,
        &req(RTM_GETLINK, REQ | DUMP, 11, &ifinfomsg(2)),
    );
    // Kind and master filters: "tun" is known to both; "snlnokind" to neither (no filter).
    for strict in [false, true] {
        for kind in [&b"tun\0"[..], b"snlnokind\0"] {
            let mut body = ifinfomsg(0);
            body.extend(nla(18, &nla(1, kind)));
            b.check(
                "link dump by kind",
                true,
                strict,
                &req(RTM_GETLINK, REQ | DUMP, 20, &body),
            );
        }
        let mut body = ifinfomsg(0);
        body.extend(nla(10, &2u32.to_ne_bytes()));
        b.check(
            "link dump by master",
            true,
            strict,
            &req(RTM_GETLINK, REQ | DUMP, 21, &body),
        );
    }
    // What `ip link show dev snl0` sends: a strict get by name with RTEXT_FILTER_VF|SKIP_STATS.
    let mut ip_show = ifinfomsg(0);
    ip_show.extend(nla(3, b"snl0\0"));
    ip_show.extend(nla(29, &9u32.to_ne_bytes()));
    b.check(
        "strict link get by name",
        true,
        true,
        &req(RTM_GETLINK, REQ | ACK, 14, &ip_show),
    );
    b.check(
        "strict link get by index",
        true,
        true,
        &req(RTM_GETLINK, REQ, 15, &ifinfomsg(1)),
    );
    let mut bad_get = ifinfomsg(2);
    bad_get[8] = 1;
    b.check(
        "strict link get bad header",
        true,
        true,
        &req(RTM_GETLINK, REQ, 16, &bad_get),
    );
    let mut odd_attr = ifinfomsg(2);
    odd_attr.extend(nla(4, &1500u32.to_ne_bytes()));
    b.check(
        "strict link get odd attribute",
        true,
        true,
        &req(RTM_GETLINK, REQ, 17, &odd_attr),
    );
    b.check(
        "strict link get short",
        true,
        true,
        &req(RTM_GETLINK, REQ, 18, &[0, 0, 0, 0]),
    );
    b.check(
        "link get short, ext ack",
        true,
        false,
        &req(RTM_GETLINK, REQ, 19, &[0, 0, 0, 0]),
    );
    let mut bad = ifinfomsg(0);
    bad[2] = 1;
    b.check(
        "strict link dump bad header",
        true,
        true,
        &req(RTM_GETLINK, REQ | DUMP, 12, &bad),
    );
    b.check(
        "strict link dump short",
        true,
        true,
        &req(RTM_GETLINK, REQ | DUMP, 13, &[0]),
    );
}

/// An ifinfomsg with family AF_INET6 (the rest as `ifinfomsg`).
fn ifinfomsg6(index: i32) -> Vec<u8> {
    let mut b = ifinfomsg(index);
    b[0] = AF_INET6;
    b
}

/// RTM_GETLINK dumps with family AF_INET6 are addrconf's inet6_dump_ifinfo
/// (short inet6_fill_ifinfo messages, IPv6 attributes in IFLA_PROTINFO), with
/// its own strict checks; a get with that family is still rtnl_getlink's.
#[test]
fn netlink_inet6_link_dump_matches_the_kernel() {
    let Some(b) = bed("netlink_inet6_link_dump_matches_the_kernel") else {
        return;
    };
    let mut with_attr = ifinfomsg6(0);
    with_attr.extend(nla(29, &1u32.to_ne_bytes()));
    let mut bad_type = ifinfomsg6(0);
    bad_type[2] = 1;
    let mut bad_flags = ifinfomsg6(0);
    bad_flags[8] = 1;
    let mut bad_change = ifinfomsg6(0);
    bad_change[12] = 1;
    let mut bad_pad = ifinfomsg6(0);
    bad_pad[1] = 1;
    for strict in [false, true] {
        for ext_ack in [false, true] {
            b.check(
                "link6 dump",
                ext_ack,
                strict,
                &req(RTM_GETLINK, REQ | DUMP, 1, &ifinfomsg6(0)),
            );
        }
        for (what, body) in [
            ("link6 dump by index", ifinfomsg6(2)),
            ("link6 dump by unknown index", ifinfomsg6(99)),
            ("link6 dump with ext mask", with_attr.clone()),
            ("link6 dump bad type", bad_type.clone()),
            ("link6 dump bad flags", bad_flags.clone()),
            ("link6 dump bad change", bad_change.clone()),
            ("link6 dump bad pad", bad_pad.clone()),
            ("link6 dump rtgenmsg", vec![AF_INET6]),
            ("link6 dump rtgenmsg padded", vec![AF_INET6, 0, 0, 0]),
        ] {
            b.check(what, true, strict, &req(RTM_GETLINK, REQ | DUMP, 2, &body));
        }
        // Acked: a dump still ends with NLMSG_DONE only.
        b.check(
            "link6 dump acked",
            true,
            strict,
            &req(RTM_GETLINK, REQ | DUMP | ACK, 3, &ifinfomsg6(0)),
        );
        // No PF_INET6 doit: a get is rtnl_getlink's full message.
        for idx in [1, 2, 99] {
            b.check(
                "link get with family AF_INET6",
                true,
                strict,
                &req(RTM_GETLINK, REQ | ACK, 4, &ifinfomsg6(idx)),
            );
        }
        let mut by_name = ifinfomsg6(0);
        by_name.extend(nla(3, b"snl0\0"));
        b.check(
            "link get by name with family AF_INET6",
            true,
            strict,
            &req(RTM_GETLINK, REQ, 5, &by_name),
        );
    }
    // Down: IFLA_OPERSTATE DOWN, no IF_READY.
    b.ns.ip(&["link", "set", DEV, "down"]).unwrap();
    b.stack.set_down(2).unwrap();
    for strict in [false, true] {
        b.check(
            "link6 dump, device down",
            false,
            strict,
            &req(RTM_GETLINK, REQ | DUMP, 6, &ifinfomsg6(0)),
        );
    }
}

/// Below IPV6_MIN_MTU the kernel drops a device's inet6_dev: it leaves the
/// AF_INET6 link dump and loses IFLA_AF_SPEC's AF_INET6 part; back at 1280 or
/// more it gets a fresh one. (The kernel also drops the device's IPv6
/// addresses and routes, which the stack keeps: only links are compared.)
#[test]
fn netlink_inet6_link_dump_follows_the_mtu() {
    let Some(b) = bed("netlink_inet6_link_dump_follows_the_mtu") else {
        return;
    };
    for (mtu, what) in [
        (1279u32, "mtu 1279"),
        (1280, "mtu 1280"),
        (1500, "mtu 1500"),
    ] {
        b.ns.ip(&["link", "set", DEV, "mtu", &mtu.to_string()])
            .unwrap();
        b.stack.set_mtu(2, mtu).unwrap();
        for strict in [false, true] {
            b.check(
                what,
                false,
                strict,
                &req(RTM_GETLINK, REQ | DUMP, 1, &ifinfomsg6(0)),
            );
            b.check(
                what,
                false,
                strict,
                &req(RTM_GETLINK, REQ | DUMP, 2, &ifinfomsg(0)),
            );
        }
    }
}

#[test]
fn netlink_addr_dump_matches_the_kernel() {
    let Some(b) = bed("netlink_addr_dump_matches_the_kernel") else {
        return;
    };
    for strict in [false, true] {
        for fam in [0, AF_INET, AF_INET6] {
            b.check(
                "addr dump",
                false,
                strict,
                &req(RTM_GETADDR, REQ | DUMP, 1, &ifaddrmsg(fam, 0)),
            );
        }
        for (fam, idx) in [(0, 2), (AF_INET, 1), (AF_INET6, 2), (AF_INET, 99)] {
            b.check(
                "addr dump by ifindex",
                true,
                strict,
                &req(RTM_GETADDR, REQ | DUMP | ACK, 2, &ifaddrmsg(fam, idx)),
            );
        }
    }
    let mut bad = ifaddrmsg(AF_INET, 0);
    bad[1] = 5;
    b.check(
        "strict addr dump bad header",
        true,
        true,
        &req(RTM_GETADDR, REQ | DUMP, 3, &bad),
    );
    let mut bad6 = ifaddrmsg(AF_INET6, 0);
    bad6[3] = 1;
    b.check(
        "strict addr6 dump bad header",
        true,
        true,
        &req(RTM_GETADDR, REQ | DUMP, 4, &bad6),
    );
    let mut attr = ifaddrmsg(AF_INET, 0);
    attr.extend(nla(1, &[10, 9, 0, 2]));
    b.check(
        "strict addr dump attribute",
        true,
        true,
        &req(RTM_GETADDR, REQ | DUMP, 5, &attr),
    );
    b.check(
        "strict addr dump short",
        true,
        true,
        &req(RTM_GETADDR, REQ | DUMP, 6, &[AF_INET]),
    );
    // One IPv6 address (inet6_rtm_getaddr); IPv4 has no such request.
    for strict in [false, true] {
        for (a, idx) in [("fd00:9::2", 2), ("::1", 0), ("fd00:9::9", 0)] {
            let a: std::net::Ipv6Addr = a.parse().unwrap();
            let mut body = ifaddrmsg(AF_INET6, idx);
            body.extend(nla(1, &a.octets()));
            b.check(
                "addr6 get",
                true,
                strict,
                &req(RTM_GETADDR, REQ | ACK, 7, &body),
            );
        }
        let mut v4 = ifaddrmsg(AF_INET, 2);
        v4.extend(nla(1, &[10, 9, 0, 2]));
        b.check("addr4 get", true, strict, &req(RTM_GETADDR, REQ, 8, &v4));
    }
    let mut bad = ifaddrmsg(AF_INET6, 0);
    bad[1] = 64;
    bad.extend(nla(
        1,
        &"fd00:9::2".parse::<std::net::Ipv6Addr>().unwrap().octets(),
    ));
    b.check(
        "strict addr6 get bad header",
        true,
        true,
        &req(RTM_GETADDR, REQ, 9, &bad),
    );
}

#[test]
fn netlink_route_dump_matches_the_kernel() {
    let Some(b) = bed("netlink_route_dump_matches_the_kernel") else {
        return;
    };
    for strict in [false, true] {
        for fam in [0, AF_INET, AF_INET6] {
            b.check(
                "route dump",
                false,
                strict,
                &req(RTM_GETROUTE, REQ | DUMP, 1, &rtmsg(fam, 0, 0, 0, 0)),
            );
            for table in [254u8, 255] {
                b.check(
                    "route dump by table",
                    true,
                    strict,
                    &req(RTM_GETROUTE, REQ | DUMP, 2, &rtmsg(fam, 0, 0, table, 0)),
                );
            }
            b.check(
                "route dump, table that does not exist",
                true,
                strict,
                &req(RTM_GETROUTE, REQ | DUMP, 3, &rtmsg(fam, 0, 0, 7, 0)),
            );
            b.check(
                "route dump, cloned",
                true,
                strict,
                &req(RTM_GETROUTE, REQ | DUMP, 4, &rtmsg(fam, 0, 0, 0, 0x200)),
            );
            let mut by_oif = rtmsg(fam, 0, 0, 0, 0);
            by_oif.extend(nla(4, &1u32.to_ne_bytes()));
            b.check(
                "route dump by oif",
                true,
                strict,
                &req(RTM_GETROUTE, REQ | DUMP, 5, &by_oif),
            );
        }
    }
    b.check(
        "strict route dump bad header",
        true,
        true,
        &req(RTM_GETROUTE, REQ | DUMP, 6, &rtmsg(AF_INET, 24, 0, 0, 0)),
    );
    b.check(
        "strict route dump bad flags",
        true,
        true,
        &req(
            RTM_GETROUTE,
            REQ | DUMP,
            7,
            &rtmsg(AF_INET, 0, 0, 0, 0x1000),
        ),
    );
}

fn get4(dst: [u8; 4], src: Option<[u8; 4]>, flags: u32) -> Vec<u8> {
    let mut body = rtmsg(AF_INET, 32, if src.is_some() { 32 } else { 0 }, 0, flags);
    body.extend(nla(1, &dst));
    if let Some(s) = src {
        body.extend(nla(2, &s));
    }
    body
}

fn get6(dst: &str, src: Option<&str>) -> Vec<u8> {
    let d: std::net::Ipv6Addr = dst.parse().unwrap();
    let mut body = rtmsg(AF_INET6, 128, if src.is_some() { 128 } else { 0 }, 0, 0);
    body.extend(nla(1, &d.octets()));
    if let Some(s) = src {
        let s: std::net::Ipv6Addr = s.parse().unwrap();
        body.extend(nla(2, &s.octets()));
    }
    body
}

#[test]
fn netlink_route_get_matches_the_kernel() {
    let Some(b) = bed("netlink_route_get_matches_the_kernel") else {
        return;
    };
    const LOOKUP_TABLE: u32 = 0x1000;
    for strict in [false, true] {
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("via gateway", get4([8, 8, 8, 8], None, LOOKUP_TABLE)),
            ("connected", get4([10, 9, 0, 5], None, 0)),
            ("local", get4([10, 9, 0, 2], None, LOOKUP_TABLE)),
            ("loopback", get4([127, 0, 0, 1], None, 0)),
            ("from", get4([10, 9, 0, 5], Some([10, 9, 0, 2]), 0)),
            (
                "from, via gateway",
                get4([1, 1, 1, 1], Some([10, 9, 0, 2]), 0),
            ),
            (
                "from a foreign address",
                get4([10, 9, 0, 5], Some([10, 7, 0, 1]), 0),
            ),
            ("v6 via gateway", get6("2001:db8::5", None)),
            ("v6 connected", get6("fd00:9::5", None)),
            ("v6 local", get6("fd00:9::2", None)),
            ("v6 loopback", get6("::1", None)),
            ("v6 from", get6("fd00:9::5", Some("fd00:9::2"))),
        ];
        for (what, body) in cases {
            b.check(what, true, strict, &req(RTM_GETROUTE, REQ, 1, &body));
        }
        const FIB_MATCH: u32 = 0x2000;
        for dst in [
            [8, 8, 8, 8],
            [10, 9, 0, 5],
            [10, 9, 0, 2],
            [127, 0, 0, 1],
            [10, 9, 0, 255],
        ] {
            b.check(
                "fibmatch",
                true,
                strict,
                &req(RTM_GETROUTE, REQ, 11, &get4(dst, None, FIB_MATCH)),
            );
        }
        for dst in ["2001:db8::1", "fd00:9::5", "fd00:9::2", "::1"] {
            let mut body = get6(dst, None);
            body[8..12].copy_from_slice(&FIB_MATCH.to_ne_bytes());
            b.check(
                "fibmatch v6",
                true,
                strict,
                &req(RTM_GETROUTE, REQ, 12, &body),
            );
        }
        let mut oif = get4([8, 8, 8, 8], None, 0);
        oif.extend(nla(4, &2u32.to_ne_bytes()));
        b.check(
            "with oif",
            true,
            strict,
            &req(RTM_GETROUTE, REQ | ACK, 2, &oif),
        );
        let mut uid = get4([8, 8, 8, 8], None, 0);
        uid.extend(nla(25, &1000u32.to_ne_bytes()));
        b.check("with uid", true, strict, &req(RTM_GETROUTE, REQ, 3, &uid));
    }
    b.check(
        "short",
        true,
        false,
        &req(RTM_GETROUTE, REQ, 4, &[AF_INET, 0]),
    );
    b.check(
        "family unspec",
        true,
        false,
        &req(RTM_GETROUTE, REQ, 5, &rtmsg(0, 0, 0, 0, 0)),
    );
    for (what, body) in [
        ("v6 strict short", vec![AF_INET6, 0, 0, 0]),
        ("v6 strict bad prefix", rtmsg(AF_INET6, 64, 0, 0, 0)),
        ("v6 strict table", rtmsg(AF_INET6, 0, 0, 254, 0)),
        ("v6 strict flags", rtmsg(AF_INET6, 0, 0, 0, 0x800)),
        ("v4 strict flags", rtmsg(AF_INET, 0, 0, 0, 0x800)),
        (
            "v6 strict attribute",
            [rtmsg(AF_INET6, 0, 0, 0, 0), nla(6, &1u32.to_ne_bytes())].concat(),
        ),
        (
            "v4 strict attribute",
            [rtmsg(AF_INET, 0, 0, 0, 0), nla(6, &1u32.to_ne_bytes())].concat(),
        ),
    ] {
        b.check(what, true, true, &req(RTM_GETROUTE, REQ, 10, &body));
    }
    b.check(
        "strict, bad prefix",
        true,
        true,
        &req(RTM_GETROUTE, REQ, 6, &rtmsg(AF_INET, 24, 0, 0, 0)),
    );

    // A packet arriving on a device (RTA_IIF): delivered, martian, or not forwarded.
    for (dst, src, iif) in [
        ([10, 9, 0, 2], Some([10, 9, 0, 1]), 2u32),
        ([8, 8, 8, 8], Some([10, 9, 0, 1]), 2),
        ([10, 9, 0, 2], Some([10, 9, 0, 2]), 2),
        ([10, 9, 0, 255], Some([10, 9, 0, 1]), 2),
        ([10, 9, 0, 2], None, 2),
        ([127, 0, 0, 1], Some([10, 9, 0, 1]), 2),
        ([10, 9, 0, 2], Some([127, 0, 0, 1]), 2),
        ([10, 9, 0, 2], Some([10, 9, 0, 1]), 1),
        ([10, 9, 0, 2], Some([10, 9, 0, 1]), 9),
    ] {
        let mut body = get4(dst, src, 0);
        body.extend(nla(3, &iif.to_ne_bytes()));
        b.check(
            "input route",
            true,
            false,
            &req(RTM_GETROUTE, REQ, 13, &body),
        );
    }

    for (dst, src, iif) in [
        ("fd00:9::2", Some("fd00:9::1"), 2u32),
        ("2001:db8::1", Some("fd00:9::1"), 2),
        ("fd00:9::2", Some("fd00:9::2"), 2),
        ("fd00:9::2", None, 2),
        ("::1", Some("fd00:9::1"), 2),
        ("fd00:9::2", Some("fd00:9::1"), 1),
        ("fd00:9::2", Some("fd00:9::1"), 9),
    ] {
        let mut body = get6(dst, src);
        body.extend(nla(3, &iif.to_ne_bytes()));
        b.check(
            "input route v6",
            true,
            false,
            &req(RTM_GETROUTE, REQ, 14, &body),
        );
    }

    // Unreachable: the same tables without their default routes.
    b.ns.ip(&["route", "del", "default"]).unwrap();
    b.ns.ip(&["-6", "route", "del", "default"]).unwrap();
    b.stack.remove_route(RouteSpec::default_v4()).unwrap();
    b.stack.remove_route(RouteSpec::default_v6()).unwrap();
    b.check(
        "unreachable",
        true,
        false,
        &req(RTM_GETROUTE, REQ, 7, &get4([8, 8, 8, 8], None, 0)),
    );
    b.check(
        "v6 unreachable",
        true,
        false,
        &req(RTM_GETROUTE, REQ, 8, &get6("2001:db8::5", None)),
    );
    b.check(
        "route dump without defaults",
        false,
        false,
        &req(RTM_GETROUTE, REQ | DUMP, 9, &rtmsg(0, 0, 0, 0, 0)),
    );
}

#[test]
fn netlink_neigh_nsid_and_framing_match_the_kernel() {
    let Some(b) = bed("netlink_neigh_nsid_and_framing_match_the_kernel") else {
        return;
    };
    let ndmsg = [0u8; 12];
    for strict in [false, true] {
        b.check(
            "neigh dump",
            true,
            strict,
            &req(RTM_GETNEIGH, REQ | DUMP, 1, &ndmsg),
        );
        b.check(
            "nsid dump",
            true,
            strict,
            &req(RTM_GETNSID, REQ | DUMP, 2, &[0, 0, 0, 0]),
        );
    }
    let mut bad = ndmsg;
    bad[8] = 2;
    b.check(
        "strict neigh dump bad header",
        true,
        true,
        &req(RTM_GETNEIGH, REQ | DUMP, 3, &bad),
    );
    b.check(
        "nsid get without attributes",
        false,
        false,
        &req(RTM_GETNSID, REQ, 4, &[0, 0, 0, 0]),
    );
    b.check(
        "nsid get, ext ack",
        true,
        false,
        &req(RTM_GETNSID, REQ, 4, &[0, 0, 0, 0]),
    );
    let mut by_dev = ndmsg;
    by_dev[4] = 2;
    b.check(
        "strict neigh dump by ifindex in header",
        true,
        true,
        &req(RTM_GETNEIGH, REQ | DUMP, 3, &by_dev),
    );
    let with_attr = [&ndmsg[..], &nla(1, &[0; 4])].concat();
    b.check(
        "strict neigh dump attribute",
        true,
        true,
        &req(RTM_GETNEIGH, REQ | DUMP, 3, &with_attr),
    );
    for ext_ack in [false, true] {
        b.check(
            "unknown type",
            ext_ack,
            false,
            &req(200, REQ | ACK, 5, &[0; 16]),
        );
        b.check(
            "unknown dump",
            ext_ack,
            false,
            &req(200, REQ | DUMP, 6, &[0; 16]),
        );
        b.check(
            "type 123 (no handler)",
            ext_ack,
            false,
            &req(123, REQ, 7, &[0; 4]),
        );
    }
    b.check(
        "control type acked",
        false,
        false,
        &req(5, REQ | ACK, 8, &[0; 4]),
    );
    b.check(
        "not a request, acked",
        false,
        false,
        &req(RTM_GETLINK, ACK, 9, &ifinfomsg(2)),
    );
    b.check(
        "empty payload, acked",
        false,
        false,
        &req(RTM_GETLINK, REQ | ACK, 10, &[]),
    );
    // Two requests in one datagram: both answered, in order.
    let mut two = req(RTM_GETLINK, REQ | ACK, 11, &[0, 0]);
    two.resize(20, 0);
    two.extend(req(5, REQ | ACK, 12, &[]));
    b.check("two requests", false, false, &two);
    // A capped socket quotes only the request header.
    let k = KernelNl::open(&b.ns, false, false, true);
    let mut opts = Options {
        cap_ack: true,
        portid: k.portid,
        ..Options::default()
    };
    opts.uid = 0;
    let r = Responder::with_options(b.stack.clone(), opts);
    let q = req(RTM_GETLINK, REQ, 13, &ifinfomsg(99));
    assert_same("capped error", &r.handle(&q), &k.request(&q));
}

#[test]
fn netlink_datagram_boundaries_match_the_kernel() {
    let Some(b) = bed("netlink_datagram_boundaries_match_the_kernel") else {
        return;
    };
    let mut two = req(RTM_GETLINK, REQ | ACK, 1, &ifinfomsg(2));
    two.extend(req(RTM_GETROUTE, REQ | DUMP, 2, &rtmsg(0, 0, 0, 0, 0)));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("link dump", req(RTM_GETLINK, REQ | DUMP, 1, &ifinfomsg(0))),
        (
            "link6 dump",
            req(RTM_GETLINK, REQ | DUMP, 1, &ifinfomsg6(0)),
        ),
        (
            "link6 dump and a get",
            [
                req(RTM_GETLINK, REQ | DUMP, 1, &ifinfomsg6(0)),
                req(RTM_GETLINK, REQ | ACK, 2, &ifinfomsg6(2)),
            ]
            .concat(),
        ),
        (
            "addr dump",
            req(RTM_GETADDR, REQ | DUMP, 1, &ifaddrmsg(0, 0)),
        ),
        (
            "route dump",
            req(RTM_GETROUTE, REQ | DUMP, 1, &rtmsg(0, 0, 0, 0, 0)),
        ),
        ("neigh dump", req(RTM_GETNEIGH, REQ | DUMP, 1, &[0; 12])),
        (
            "link get, acked",
            req(RTM_GETLINK, REQ | ACK, 1, &ifinfomsg(1)),
        ),
        ("unknown type", req(200, REQ, 1, &[0; 4])),
        ("a get and a dump", two),
    ];
    for (what, q) in cases {
        let (k, r) = b.pair(false, false);
        let kernel = k.request_datagrams(&q);
        let ours = r.handle_datagrams(&q, 32 * 1024);
        assert_eq!(ours.len(), kernel.len(), "{what}: datagrams");
        for (o, kd) in ours.iter().zip(&kernel) {
            assert_same(what, o, kd);
        }
    }
}

#[test]
fn netlink_rules_and_netconf_match_the_kernel() {
    let Some(b) = bed("netlink_rules_and_netconf_match_the_kernel") else {
        return;
    };
    const RTM_GETRULE: u16 = 34;
    const RTM_GETNETCONF: u16 = 82;
    let rule_hdr = |fam: u8| rtmsg(fam, 0, 0, 0, 0);
    for strict in [false, true] {
        for fam in [0, AF_INET, AF_INET6, 128, 129, 7] {
            b.check(
                "rule dump",
                true,
                strict,
                &req(RTM_GETRULE, REQ | DUMP, 1, &rule_hdr(fam)),
            );
        }
        for fam in [0, AF_INET, AF_INET6] {
            b.check(
                "netconf dump",
                true,
                strict,
                &req(RTM_GETNETCONF, REQ | DUMP, 2, &[fam, 0, 0, 0]),
            );
        }
        for fam in [AF_INET, AF_INET6] {
            for idx in [1i32, 2, -1, -2, 42] {
                let body = [&[fam, 0, 0, 0][..], &nla(1, &idx.to_ne_bytes())].concat();
                b.check(
                    "netconf get",
                    true,
                    strict,
                    &req(RTM_GETNETCONF, REQ | ACK, 3, &body),
                );
            }
            b.check(
                "netconf get, no ifindex",
                true,
                strict,
                &req(RTM_GETNETCONF, REQ, 4, &[fam, 0, 0, 0]),
            );
        }
    }
    let mut bad = rule_hdr(AF_INET);
    bad[4] = 254;
    b.check(
        "strict rule dump bad header",
        true,
        true,
        &req(RTM_GETRULE, REQ | DUMP, 5, &bad),
    );
    let extra = [&rule_hdr(AF_INET)[..], &nla(6, &1u32.to_ne_bytes())].concat();
    b.check(
        "strict rule dump attribute",
        true,
        true,
        &req(RTM_GETRULE, REQ | DUMP, 6, &extra),
    );
    let extra = [&[AF_INET, 0, 0, 0][..], &nla(1, &1i32.to_ne_bytes())].concat();
    b.check(
        "strict netconf dump attribute",
        true,
        true,
        &req(RTM_GETNETCONF, REQ | DUMP, 7, &extra),
    );
}

/// Hex to bytes, for the captured requests below.
fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn netlink_iproute2_requests_match_the_kernel() {
    let Some(b) = bed("netlink_iproute2_requests_match_the_kernel") else {
        return;
    };
    // The bytes iproute2 6.1 sent (strace -e write=all), trailing buffer included:
    // `ip addr show` sends a link dump, then an address dump followed by 128 zero bytes
    // (a header of length 0, which ends the kernel's walk). `ip -6 addr show` sends
    // its link dump with family AF_INET6 (addrconf's inet6_dump_ifinfo answers it).
    let zeros = |n: usize| "00".repeat(n);
    let cases = [
        (
            "ip addr show: links",
            "2800000012000103b9060e6b000000000000000000000000000000000000000008001d0001000000"
                .to_string(),
        ),
        (
            "ip -6 addr show: links",
            "200000001200010393380e6b000000000a000000000000000000000000000000".to_string(),
        ),
        (
            "ip -6 addr show: addresses",
            format!("180000001600010394380e6b000000000a00000000000000{}", zeros(128)),
        ),
        (
            "ip addr show: addresses",
            format!("1800000016000103ba060e6b0000000000000000{}", zeros(132)),
        ),
        (
            "ip -6 route show",
            format!(
                "240000001a000103b9060e6b000000000a000000000000000000000008000f00fe000000{}",
                zeros(120)
            ),
        ),
        (
            "ip route get 127.0.0.1",
            "240000001a000100b9060e6b00000000022000000000000000100000080001007f000001".to_string(),
        ),
        (
            "ip route get: its link lookup",
            "2800000012000100b9060e6b000000000000000001000000000000000000000008001d0009000000"
                .to_string(),
        ),
        (
            "ip rule show",
            "1c00000022000103b9060e6b00000000020000000000000000000000".to_string(),
        ),
        (
            "tc qdisc show",
            "2400000026000103970a0e6b000000000000000000000000000000000000000000000000".to_string(),
        ),
        (
            "ip stats show dev lo group link: its link lookup",
            "3000000012000100960a0e6b000000000000000000000000000000000000000008001d0009000000070003006c6f0000".to_string(),
        ),
        (
            "ip stats show dev lo group link",
            "1c0000005e000100960a0e6b00000000000000000100000001000000".to_string(),
        ),
    ];
    for (what, hex) in cases {
        let q = unhex(&hex);
        // iproute2 asks for strict checking and extended acks.
        b.check(what, true, true, &q);
        b.check(what, false, false, &q);
    }
}

#[test]
fn netlink_libc_and_go_requests_match_the_kernel() {
    let Some(b) = bed("netlink_libc_and_go_requests_match_the_kernel") else {
        return;
    };
    // glibc's getifaddrs: an rtgenmsg and 3 bytes of padding (20-byte message);
    // Go's syscall.NetlinkRIB: the 1-byte rtgenmsg alone (17-byte message).
    for body in [&[0u8, 0, 0, 0][..], &[0u8][..]] {
        for ty in [RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE] {
            b.check("rtgenmsg dump", false, false, &req(ty, REQ | DUMP, 1, body));
        }
    }
    // Go pads its 17-byte message to 20 in the buffer it sends.
    let mut go = req(RTM_GETADDR, REQ | DUMP, 2, &[AF_INET6]);
    go.resize(20, 0);
    b.check("rtgenmsg dump, padded", false, false, &go);
}

#[test]
fn netlink_two_tuns_match_the_kernel() {
    if !support::root::have_root("netlink_two_tuns_match_the_kernel") {
        return;
    }
    let ns = support::kernel::quiet_namespace();
    let l0 = ns.run(|| Link::tun("snl0")).expect("a TUN");
    let l1 = ns.run(|| Link::tun("snl1")).expect("a TUN");
    for args in [
        &["addr", "add", "10.9.0.2/24", "dev", "snl0"][..],
        &["addr", "add", "10.8.0.2/16", "dev", "snl1"],
        &["addr", "add", "10.9.0.9/24", "dev", "snl0"],
        &["-6", "addr", "add", "fd00:9::2/64", "dev", "snl0", "nodad"],
        &["-6", "addr", "add", "fd00:8::2/64", "dev", "snl1", "nodad"],
        &["-6", "addr", "add", "fd00:9::3/64", "dev", "snl0", "nodad"],
        &["link", "set", "snl0", "up"],
        &["link", "set", "snl1", "up"],
        &["route", "add", "default", "via", "10.8.0.1"],
        &[
            "route",
            "add",
            "192.0.2.0/24",
            "via",
            "10.9.0.1",
            "metric",
            "5",
        ],
        &["-6", "route", "add", "default", "via", "fd00:8::1"],
        &["-6", "route", "add", "2001:db8::/32", "dev", "snl0"],
    ] {
        ns.ip(args).unwrap();
    }
    let settled = support::kernel::eventually(std::time::Duration::from_secs(5), || {
        let t = ns.ip(&["-6", "route", "show", "table", "local"]).unwrap();
        t.contains("local fd00:9::3 ") && t.contains("local fd00:8::2 ")
    });
    assert!(settled, "the kernel's IPv6 local routes appear");
    let stack = Stack::new().unwrap();
    let a = stack.add_nic("snl0", l0).unwrap();
    let c = stack.add_nic("snl1", l1).unwrap();
    let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
    stack.add_address(a, ip("10.9.0.2"), 24).unwrap();
    stack.add_address(c, ip("10.8.0.2"), 16).unwrap();
    stack.add_address(a, ip("10.9.0.9"), 24).unwrap();
    stack.add_address(a, ip("fd00:9::2"), 64).unwrap();
    stack.add_address(c, ip("fd00:8::2"), 64).unwrap();
    stack.add_address(a, ip("fd00:9::3"), 64).unwrap();
    stack
        .add_route(RouteSpec::default_v4().via(ip("10.8.0.1")))
        .unwrap();
    stack
        .add_route(
            RouteSpec::new(ip("192.0.2.0"), 24)
                .via(ip("10.9.0.1"))
                .metric(5),
        )
        .unwrap();
    stack
        .add_route(RouteSpec::default_v6().via(ip("fd00:8::1")))
        .unwrap();
    stack
        .add_route(RouteSpec::new(ip("2001:db8::"), 32).dev(a))
        .unwrap();
    let b = Bed { stack, ns };
    for strict in [false, true] {
        b.check(
            "two: links",
            false,
            strict,
            &req(RTM_GETLINK, REQ | DUMP, 1, &ifinfomsg(0)),
        );
        b.check(
            "two: links6",
            false,
            strict,
            &req(RTM_GETLINK, REQ | DUMP, 1, &ifinfomsg6(0)),
        );
        b.check(
            "two: addresses",
            false,
            strict,
            &req(RTM_GETADDR, REQ | DUMP, 2, &ifaddrmsg(0, 0)),
        );
        b.check(
            "two: routes",
            false,
            strict,
            &req(RTM_GETROUTE, REQ | DUMP, 3, &rtmsg(0, 0, 0, 0, 0)),
        );
        for dst in [[192, 0, 2, 7], [10, 8, 3, 3], [10, 9, 0, 9], [1, 2, 3, 4]] {
            b.check(
                "two: lookup",
                true,
                strict,
                &req(RTM_GETROUTE, REQ, 4, &get4(dst, None, 0)),
            );
        }
        for dst in ["2001:db8::1", "fd00:8::7", "fd00:9::3", "2002::1"] {
            b.check(
                "two: lookup v6",
                true,
                strict,
                &req(RTM_GETROUTE, REQ, 5, &get6(dst, None)),
            );
        }
        // Bound to a device (RTA_OIF): only its routes, else on its link.
        for dst in [
            [8, 8, 8, 8],
            [10, 9, 0, 5],
            [10, 9, 0, 2],
            [10, 9, 0, 255],
            [10, 8, 0, 2],
            [127, 0, 0, 1],
            [192, 0, 2, 1],
        ] {
            for oif in [1u32, 2, 3] {
                let mut body = get4(dst, None, 0);
                body.extend(nla(4, &oif.to_ne_bytes()));
                b.check(
                    "two: lookup with oif",
                    true,
                    strict,
                    &req(RTM_GETROUTE, REQ, 6, &body),
                );
            }
        }
        for dst in [
            "2001:db8::1",
            "fd00:9::5",
            "fd00:9::2",
            "fd00:8::9",
            "::1",
            "2002::1",
        ] {
            for oif in [1u32, 2, 3] {
                let mut body = get6(dst, None);
                body.extend(nla(4, &oif.to_ne_bytes()));
                b.check(
                    "two: lookup v6 with oif",
                    true,
                    strict,
                    &req(RTM_GETROUTE, REQ, 7, &body),
                );
            }
        }
    }
}

#[test]
fn netlink_stats_match_the_kernel() {
    let Some(b) = bed("netlink_stats_match_the_kernel") else {
        return;
    };
    const RTM_GETSTATS: u16 = 94;
    let msg = |idx: u32, mask: u32| {
        let mut v = vec![0u8; 4];
        v.extend_from_slice(&idx.to_ne_bytes());
        v.extend_from_slice(&mask.to_ne_bytes());
        v
    };
    for strict in [false, true] {
        for mask in [1u32, 2, 4, 8, 16, 0x1f, 0] {
            b.check(
                "stats dump",
                true,
                strict,
                &req(RTM_GETSTATS, REQ | DUMP, 1, &msg(0, mask)),
            );
        }
        for (idx, mask) in [(2u32, 1u32), (1, 0x1f), (9, 1), (0, 1)] {
            b.check(
                "stats get",
                true,
                strict,
                &req(RTM_GETSTATS, REQ | ACK, 2, &msg(idx, mask)),
            );
        }
    }
    b.check(
        "strict stats dump by index",
        true,
        true,
        &req(RTM_GETSTATS, REQ | DUMP, 3, &msg(2, 1)),
    );
}

#[test]
fn netlink_qdiscs_match_the_kernel() {
    let Some(b) = bed("netlink_qdiscs_match_the_kernel") else {
        return;
    };
    let tcmsg = |ifindex: i32| {
        let mut v = vec![0u8; 4];
        v.extend_from_slice(&ifindex.to_ne_bytes());
        v.extend_from_slice(&[0; 12]);
        v
    };
    for strict in [false, true] {
        b.check(
            "qdisc dump",
            true,
            strict,
            &req(38, REQ | DUMP, 1, &tcmsg(0)),
        );
        b.check(
            "class dump",
            true,
            strict,
            &req(42, REQ | DUMP, 2, &tcmsg(2)),
        );
        b.check(
            "filter dump",
            true,
            strict,
            &req(46, REQ | DUMP, 3, &tcmsg(2)),
        );
    }
}
