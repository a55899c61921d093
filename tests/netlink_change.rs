//! Requests that change the stack, against the kernel: each request goes to
//! a kernel NETLINK_ROUTE socket in a namespace and to the responder of a
//! stack configured like that namespace; the replies (acks, errors with
//! their extended-ack texts) must be equal byte for byte, and so must the
//! dumps and gets that show the state afterwards (masked as in
//! `support::nl::mask`).

mod support;

use sandnet::netlink::{Options, Responder};
use sandnet::netstack::os::netns::NetNs;
use sandnet::netstack::{Link, Stack};
use std::time::{Duration, Instant};
use support::nl::consts::*;
use support::nl::{assert_same, ifaddrmsg, ifinfomsg, mask, nla, req, rtmsg, KernelNl};

const DEV: &str = "snl1";

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
    ns.ip(&["addr", "add", "10.9.0.2/24", "dev", DEV]).unwrap();
    ns.ip(&["link", "set", DEV, "up"]).unwrap();
    let stack = Stack::new().unwrap();
    let i = stack.add_nic(DEV, link).unwrap();
    stack
        .add_address(i, "10.9.0.2".parse().unwrap(), 24)
        .unwrap();
    Some(Bed { stack, ns })
}

impl Bed {
    fn pair(&self, ext_ack: bool) -> (KernelNl, Responder) {
        let k = KernelNl::open(&self.ns, ext_ack, true, false);
        let opts = Options {
            ext_ack,
            strict_check: true,
            portid: k.portid,
            link: sandnet::netlink::LinkExtras {
                default_qdisc: std::fs::read_to_string("/proc/sys/net/core/default_qdisc")
                    .map(|s| s.trim().to_string())
                    .unwrap_or_else(|_| "pfifo_fast".into()),
            },
            ..Options::default()
        };
        (k, Responder::with_options(self.stack.clone(), opts))
    }

    /// The same request to both; their replies must match.
    fn both(&self, what: &str, ext_ack: bool, request: &[u8]) {
        let (k, r) = self.pair(ext_ack);
        let kernel = k.request(request);
        let ours = r.handle(request);
        assert_same(what, &ours, &kernel);
    }

    /// The state shown by `request` matches, allowing the kernel up to two
    /// seconds for what it does from work queues (IPv6 routes of an address).
    fn same_state(&self, what: &str, request: &[u8]) {
        let (k, r) = self.pair(false);
        let start = Instant::now();
        loop {
            let kernel = k.request(request);
            let ours = r.handle(request);
            if mask(&kernel) == mask(&ours) || start.elapsed() > Duration::from_secs(2) {
                assert_same(what, &ours, &kernel);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn all_state(&self, what: &str) {
        self.same_state(what, &req(RTM_GETLINK, REQ | DUMP, 90, &ifinfomsg(0)));
        self.same_state(what, &req(RTM_GETADDR, REQ | DUMP, 91, &ifaddrmsg(0, 0)));
        self.same_state(
            what,
            &req(RTM_GETROUTE, REQ | DUMP, 92, &rtmsg(0, 0, 0, 0, 0)),
        );
    }
}

fn addr4(ty: u16, flags: u16, a: [u8; 4], len: u8, index: u32) -> Vec<u8> {
    let mut body = ifaddrmsg(AF_INET, index);
    body[1] = len;
    body.extend(nla(2, &a)); // IFA_LOCAL
    body.extend(nla(1, &a)); // IFA_ADDRESS
    req(ty, flags, 1, &body)
}

fn addr6(ty: u16, flags: u16, a: &str, len: u8, index: u32) -> Vec<u8> {
    let a: std::net::Ipv6Addr = a.parse().unwrap();
    let mut body = ifaddrmsg(AF_INET6, index);
    body[1] = len;
    body.extend(nla(1, &a.octets())); // IFA_ADDRESS
    body.extend(nla(8, &2u32.to_ne_bytes())); // IFA_FLAGS: NODAD
    req(ty, flags, 2, &body)
}

/// What `ip route add|del` sends: protocol boot, unicast; scope link for a
/// route through a device only.
fn route4(ty: u16, flags: u16, dst: [u8; 4], len: u8, gw: Option<[u8; 4]>, oif: u32) -> Vec<u8> {
    let mut body = rtmsg(AF_INET, len, 0, 254, 0);
    if ty == RTM_NEWROUTE {
        body[5] = 3;
        body[6] = if gw.is_some() { 0 } else { 253 };
        body[7] = 1;
    }
    body.extend(nla(1, &dst));
    if let Some(g) = gw {
        body.extend(nla(5, &g));
    }
    if oif != 0 {
        body.extend(nla(4, &oif.to_ne_bytes()));
    }
    req(ty, flags, 3, &body)
}

fn route6(ty: u16, flags: u16, dst: &str, len: u8, gw: Option<&str>) -> Vec<u8> {
    let d: std::net::Ipv6Addr = dst.parse().unwrap();
    let mut body = rtmsg(AF_INET6, len, 0, 254, 0);
    if ty == RTM_NEWROUTE {
        body[5] = 3;
        body[7] = 1;
    }
    body.extend(nla(1, &d.octets()));
    if let Some(g) = gw {
        let g: std::net::Ipv6Addr = g.parse().unwrap();
        body.extend(nla(5, &g.octets()));
    }
    req(ty, flags, 4, &body)
}

#[test]
fn netlink_address_changes_match_the_kernel() {
    let Some(b) = bed("netlink_address_changes_match_the_kernel") else {
        return;
    };
    let new = REQ | ACK | CREATE | EXCL;
    b.both(
        "add v4",
        true,
        &addr4(RTM_NEWADDR, new, [10, 9, 0, 7], 24, 2),
    );
    b.all_state("after add v4 (a secondary)");
    b.both(
        "add v4 again",
        true,
        &addr4(RTM_NEWADDR, new, [10, 9, 0, 7], 24, 2),
    );
    b.both(
        "add v4, no device",
        true,
        &addr4(RTM_NEWADDR, new, [10, 9, 1, 7], 24, 99),
    );
    b.both(
        "add v4, prefix 33",
        true,
        &addr4(RTM_NEWADDR, new, [10, 9, 1, 7], 33, 2),
    );
    let mut no_local = ifaddrmsg(AF_INET, 2);
    no_local[1] = 24;
    b.both(
        "add v4, no IFA_LOCAL",
        true,
        &req(RTM_NEWADDR, new, 5, &no_local),
    );
    b.both(
        "add v4, short",
        true,
        &req(RTM_NEWADDR, new, 6, &[AF_INET, 24]),
    );
    b.both(
        "add v4, other subnet",
        true,
        &addr4(RTM_NEWADDR, new, [192, 0, 2, 1], 28, 2),
    );
    b.all_state("after a second primary");
    b.both(
        "delete v4",
        true,
        &addr4(RTM_DELADDR, REQ | ACK, [10, 9, 0, 7], 24, 2),
    );
    b.both(
        "delete v4 again",
        true,
        &addr4(RTM_DELADDR, REQ | ACK, [10, 9, 0, 7], 24, 2),
    );
    b.both(
        "delete v4, no device",
        true,
        &addr4(RTM_DELADDR, REQ | ACK, [10, 9, 0, 7], 24, 99),
    );
    b.all_state("after delete v4");

    b.both(
        "add v6",
        false,
        &addr6(RTM_NEWADDR, new, "fd00:9::2", 64, 2),
    );
    b.both(
        "add v6 second",
        false,
        &addr6(RTM_NEWADDR, new, "fd00:9::7", 64, 2),
    );
    b.all_state("after add v6");
    b.both(
        "add v6 again",
        true,
        &addr6(RTM_NEWADDR, new, "fd00:9::7", 64, 2),
    );
    b.both(
        "add v6, no device",
        true,
        &addr6(RTM_NEWADDR, new, "fd00:9::8", 64, 99),
    );
    b.both(
        "delete v6",
        false,
        &addr6(RTM_DELADDR, REQ | ACK, "fd00:9::7", 64, 2),
    );
    b.both(
        "delete v6 again",
        true,
        &addr6(RTM_DELADDR, REQ | ACK, "fd00:9::7", 64, 2),
    );
    b.both(
        "delete v6, wrong prefix",
        true,
        &addr6(RTM_DELADDR, REQ | ACK, "fd00:9::2", 60, 2),
    );
    b.all_state("after delete v6");
}

#[test]
fn netlink_route_changes_match_the_kernel() {
    let Some(b) = bed("netlink_route_changes_match_the_kernel") else {
        return;
    };
    b.both(
        "add v6 address",
        false,
        &addr6(RTM_NEWADDR, REQ | ACK | CREATE | EXCL, "fd00:9::2", 64, 2),
    );
    let new = REQ | ACK | CREATE | EXCL;
    b.both(
        "add via",
        true,
        &route4(
            RTM_NEWROUTE,
            new,
            [192, 0, 2, 0],
            24,
            Some([10, 9, 0, 1]),
            0,
        ),
    );
    b.both(
        "add dev",
        true,
        &route4(RTM_NEWROUTE, new, [198, 51, 100, 0], 24, None, 2),
    );
    // Same prefix, several metrics, added out of order.
    for metric in [50u32, 10, 30] {
        let mut q = route4(RTM_NEWROUTE, new, [203, 0, 113, 0], 24, None, 2);
        let extra = nla(6, &metric.to_ne_bytes());
        q.extend_from_slice(&extra);
        let len = q.len() as u32;
        q[..4].copy_from_slice(&len.to_ne_bytes());
        b.both("add with metric", true, &q);
    }
    b.both(
        "add default",
        true,
        &route4(RTM_NEWROUTE, new, [0, 0, 0, 0], 0, Some([10, 9, 0, 1]), 0),
    );
    b.all_state("after adding routes");
    b.both(
        "add via again",
        true,
        &route4(
            RTM_NEWROUTE,
            new,
            [192, 0, 2, 0],
            24,
            Some([10, 9, 0, 1]),
            0,
        ),
    );
    b.both(
        "add with host bits",
        true,
        &route4(
            RTM_NEWROUTE,
            new,
            [192, 0, 3, 1],
            24,
            Some([10, 9, 0, 1]),
            0,
        ),
    );
    b.both(
        "add without NLM_F_CREATE",
        true,
        &route4(
            RTM_NEWROUTE,
            REQ | ACK,
            [192, 0, 4, 0],
            24,
            Some([10, 9, 0, 1]),
            0,
        ),
    );
    b.both(
        "add, neither device nor gateway",
        true,
        &route4(RTM_NEWROUTE, new, [192, 0, 8, 0], 24, None, 0),
    );
    b.both(
        "add, prefix 33",
        true,
        &route4(RTM_NEWROUTE, new, [192, 0, 8, 0], 33, None, 2),
    );
    b.both(
        "add, no device",
        false,
        &route4(RTM_NEWROUTE, new, [192, 0, 5, 0], 24, None, 99),
    );
    b.both(
        "add, gateway unreachable",
        true,
        &route4(
            RTM_NEWROUTE,
            new,
            [192, 0, 6, 0],
            24,
            Some([10, 99, 0, 1]),
            0,
        ),
    );
    b.both(
        "delete",
        true,
        &route4(RTM_DELROUTE, REQ | ACK, [192, 0, 2, 0], 24, None, 0),
    );
    b.both(
        "delete again",
        true,
        &route4(RTM_DELROUTE, REQ | ACK, [192, 0, 2, 0], 24, None, 0),
    );
    b.all_state("after delete");

    b.both(
        "add v6 via",
        false,
        &route6(RTM_NEWROUTE, new, "2001:db8::", 32, Some("fd00:9::1")),
    );
    for metric in [2000u32, 1500, 1800] {
        let mut q = route6(RTM_NEWROUTE, new, "2001:db8:5::", 48, Some("fd00:9::1"));
        q.extend_from_slice(&nla(6, &metric.to_ne_bytes()));
        let len = q.len() as u32;
        q[..4].copy_from_slice(&len.to_ne_bytes());
        b.both("add v6 with metric", false, &q);
    }
    b.both(
        "add v6 default",
        false,
        &route6(RTM_NEWROUTE, new, "::", 0, Some("fd00:9::1")),
    );
    b.all_state("after adding v6 routes");
    b.both(
        "add v6 via again",
        false,
        &route6(RTM_NEWROUTE, new, "2001:db8::", 32, Some("fd00:9::1")),
    );
    b.both(
        "add v6, gateway unreachable",
        false,
        &route6(RTM_NEWROUTE, new, "2001:db9::", 32, Some("fd00:7::1")),
    );
    b.both(
        "delete v6",
        false,
        &route6(RTM_DELROUTE, REQ | ACK, "2001:db8::", 32, None),
    );
    b.both(
        "delete v6 again",
        false,
        &route6(RTM_DELROUTE, REQ | ACK, "2001:db8::", 32, None),
    );
    b.all_state("after deleting v6");
}

fn link_msg(ty: u16, flags: u16, index: i32, ifi_flags: u32, change: u32, attrs: &[u8]) -> Vec<u8> {
    let mut body = ifinfomsg(index);
    body[8..12].copy_from_slice(&ifi_flags.to_ne_bytes());
    body[12..16].copy_from_slice(&change.to_ne_bytes());
    body.extend_from_slice(attrs);
    req(ty, flags, 7, &body)
}

#[test]
fn netlink_link_changes_match_the_kernel() {
    let Some(b) = bed("netlink_link_changes_match_the_kernel") else {
        return;
    };
    let mtu = |m: u32| nla(4, &m.to_ne_bytes());
    b.both(
        "mtu 1400",
        true,
        &link_msg(RTM_NEWLINK, REQ | ACK, 2, 0, 0, &mtu(1400)),
    );
    b.all_state("after mtu 1400");
    b.both(
        "mtu 70000",
        true,
        &link_msg(RTM_SETLINK, REQ | ACK, 2, 0, 0, &mtu(70000)),
    );
    b.both(
        "mtu 20",
        true,
        &link_msg(RTM_SETLINK, REQ | ACK, 2, 0, 0, &mtu(20)),
    );
    b.both(
        "set down",
        true,
        &link_msg(RTM_SETLINK, REQ | ACK, 2, 0, 1, &[]),
    );
    b.all_state("after down");
    b.both(
        "set up",
        true,
        &link_msg(RTM_NEWLINK, REQ | ACK, 2, 1, 1, &[]),
    );
    b.all_state("after up");
    let name = nla(3, b"snl1\0");
    b.both(
        "mtu by name",
        true,
        &link_msg(
            RTM_NEWLINK,
            REQ | ACK,
            0,
            0,
            0,
            &[name.clone(), mtu(1280)].concat(),
        ),
    );
    b.all_state("after mtu 1280 by name");
    b.both(
        "no such device",
        true,
        &link_msg(RTM_SETLINK, REQ | ACK, 42, 0, 0, &mtu(1400)),
    );
    let other = nla(3, b"snlX\0");
    b.both(
        "newlink, no device",
        true,
        &link_msg(RTM_NEWLINK, REQ | ACK, 0, 0, 0, &other),
    );
    b.both(
        "newlink, create",
        true,
        &link_msg(RTM_NEWLINK, REQ | ACK | CREATE, 0, 0, 0, &other),
    );
    b.both(
        "newlink, exclusive",
        true,
        &link_msg(RTM_NEWLINK, REQ | ACK | CREATE | EXCL, 2, 0, 0, &[]),
    );
    b.both(
        "setlink, neither index nor name",
        true,
        &link_msg(RTM_SETLINK, REQ | ACK, 0, 0, 0, &[]),
    );
}

#[test]
fn netlink_loopback_down_and_up() {
    let Some(b) = bed("netlink_loopback_down_and_up") else {
        return;
    };
    b.both(
        "lo down",
        true,
        &link_msg(RTM_SETLINK, REQ | ACK, 1, 0, 1, &[]),
    );
    // Linux also removes ::1 while lo is down (keep_addr_on_down=0); the stack
    // keeps its IPv6 addresses (docs/NETLINK.md), so only IPv4 is compared here.
    b.same_state(
        "after lo down",
        &req(RTM_GETLINK, REQ | DUMP, 90, &ifinfomsg(0)),
    );
    b.same_state(
        "after lo down",
        &req(RTM_GETADDR, REQ | DUMP, 91, &ifaddrmsg(AF_INET, 0)),
    );
    b.same_state(
        "after lo down",
        &req(RTM_GETROUTE, REQ | DUMP, 92, &rtmsg(AF_INET, 0, 0, 0, 0)),
    );
    b.both(
        "lo up",
        true,
        &link_msg(RTM_SETLINK, REQ | ACK, 1, 1, 1, &[]),
    );
    b.all_state("after lo up");
}
