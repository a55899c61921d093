//! INTERIM: a minimal NETLINK_ROUTE responder, until the `netlink` crate's
//! full responder is plugged in (it implements [`NetlinkService`] and is
//! handed to the supervisor as a [`crate::service::ServiceFactory`]).
//!
//! It answers only what the runner's own tests need:
//! - `RTM_GETLINK` (dump, or one interface by index or IFLA_IFNAME) from
//!   `Stack::interfaces()`, as `RTM_NEWLINK` messages with the attributes
//!   `ip link` prints;
//! - `RTM_GETADDR` dumps (all families, or the one asked for) from
//!   `Stack::interface_addrs()`, as `RTM_NEWADDR` messages, so `ip addr` works;
//! - `RTM_GETROUTE` dumps from `Stack::route_table()`, as `RTM_NEWROUTE`
//!   messages (main table, then local), so `ip route` works (`ip route get`,
//!   a non-dump request, is refused);
//! - every other request type with `NLMSG_ERROR` -EOPNOTSUPP (the original
//!   message appended, as the kernel does without NETLINK_CAP_ACK);
//! - `NLM_F_ACK` on a successful non-dump request with an ack.

use crate::service::{align4, messages, NetlinkService, NLMSG_DONE, NLMSG_ERROR, NLM_F_MULTI};
use netstack::inet::iff;
use netstack::{Interface, InterfaceAddr, Route, Stack};
use std::net::IpAddr;

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_CAPPED: u16 = 0x100;
const NLMSG_MIN_TYPE: u16 = 0x10;
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;

const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;

const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
const RTA_PREFSRC: u16 = 7;
const RTA_TABLE: u16 = 15;
const RTA_PREF: u16 = 20;
/// ICMPV6_ROUTER_PREF_MEDIUM, what `ip -6 route` prints as `pref medium`.
const PREF_MEDIUM: u8 = 0;

const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_LABEL: u16 = 3;
const IFA_CACHEINFO: u16 = 6;
const IFA_FLAGS: u16 = 8;

const IFLA_ADDRESS: u16 = 1;
const IFLA_BROADCAST: u16 = 2;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_QDISC: u16 = 6;
const IFLA_TXQLEN: u16 = 13;
const IFLA_OPERSTATE: u16 = 16;
const IFLA_LINKMODE: u16 = 17;
const IFLA_GROUP: u16 = 27;
const IFLA_PROMISCUITY: u16 = 30;
const IFLA_NUM_TX_QUEUES: u16 = 31;
const IFLA_NUM_RX_QUEUES: u16 = 32;
const IFLA_CARRIER: u16 = 33;

const IF_OPER_UNKNOWN: u8 = 0;
const IF_OPER_DOWN: u8 = 2;

/// The interim responder for one socket.
pub struct InterimRtnetlink {
    stack: Stack,
    port_id: u32,
}

impl InterimRtnetlink {
    pub fn new(stack: Stack, port_id: u32) -> Self {
        InterimRtnetlink { stack, port_id }
    }
}

/// A message under construction: header, then payload; the length is fixed at the end.
struct Msg(Vec<u8>);

impl Msg {
    fn new(ty: u16, flags: u16, seq: u32, pid: u32) -> Msg {
        let mut v = Vec::with_capacity(256);
        v.extend(0u32.to_ne_bytes());
        v.extend(ty.to_ne_bytes());
        v.extend(flags.to_ne_bytes());
        v.extend(seq.to_ne_bytes());
        v.extend(pid.to_ne_bytes());
        Msg(v)
    }

    fn attr(&mut self, ty: u16, data: &[u8]) {
        let len = 4 + data.len();
        self.0.extend((len as u16).to_ne_bytes());
        self.0.extend(ty.to_ne_bytes());
        self.0.extend_from_slice(data);
        self.0.resize(align4(self.0.len()), 0);
    }

    fn finish(mut self, out: &mut Vec<u8>) {
        let len = self.0.len() as u32;
        self.0[0..4].copy_from_slice(&len.to_ne_bytes());
        out.extend_from_slice(&self.0);
        out.resize(align4(out.len()), 0);
    }
}

fn cstr_attr(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

fn newlink(i: &Interface, flags: u16, seq: u32, pid: u32, out: &mut Vec<u8>) {
    let mut m = Msg::new(RTM_NEWLINK, flags, seq, pid);
    let mut ifflags = i.flags;
    if ifflags & iff::RUNNING != 0 {
        ifflags |= iff::LOWER_UP;
    }
    m.0.push(libc::AF_UNSPEC as u8);
    m.0.push(0);
    m.0.extend(i.link_type.to_ne_bytes());
    m.0.extend((i.index as i32).to_ne_bytes());
    m.0.extend(ifflags.to_ne_bytes());
    m.0.extend(0u32.to_ne_bytes()); // ifi_change
    m.attr(IFLA_IFNAME, &cstr_attr(&i.name));
    m.attr(IFLA_TXQLEN, &i.tx_queue_len.to_ne_bytes());
    let oper = if i.is_up() {
        IF_OPER_UNKNOWN
    } else {
        IF_OPER_DOWN
    };
    m.attr(IFLA_OPERSTATE, &[oper]);
    m.attr(IFLA_LINKMODE, &[0]);
    m.attr(IFLA_MTU, &i.mtu.to_ne_bytes());
    m.attr(IFLA_GROUP, &0u32.to_ne_bytes());
    m.attr(IFLA_PROMISCUITY, &0u32.to_ne_bytes());
    m.attr(IFLA_NUM_TX_QUEUES, &1u32.to_ne_bytes());
    m.attr(IFLA_NUM_RX_QUEUES, &1u32.to_ne_bytes());
    m.attr(IFLA_CARRIER, &[u8::from(i.is_up())]);
    m.attr(IFLA_QDISC, &cstr_attr("noqueue"));
    if let Some(hw) = &i.hw_addr {
        m.attr(IFLA_ADDRESS, hw);
        m.attr(IFLA_BROADCAST, &vec![0u8; hw.len()]);
    }
    m.finish(out);
}

fn ip_bytes(a: &IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(v) => v.octets().to_vec(),
        IpAddr::V6(v) => v.octets().to_vec(),
    }
}

/// RTM_NEWADDR for one address, with the attributes in the kernel's order
/// (inet_fill_ifaddr / inet6_fill_ifaddr); lifetimes are forever.
fn newaddr(a: &InterfaceAddr, flags: u16, seq: u32, pid: u32, out: &mut Vec<u8>) {
    let mut m = Msg::new(RTM_NEWADDR, flags, seq, pid);
    let family = if a.addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    m.0.push(family as u8);
    m.0.push(a.prefix_len);
    m.0.push(a.flags as u8);
    m.0.push(a.scope);
    m.0.extend(a.ifindex.to_ne_bytes());
    let addr = ip_bytes(&a.addr);
    let mut cache = Vec::with_capacity(16);
    cache.extend(u32::MAX.to_ne_bytes()); // ifa_prefered
    cache.extend(u32::MAX.to_ne_bytes()); // ifa_valid
    cache.extend(0u32.to_ne_bytes()); // cstamp
    cache.extend(0u32.to_ne_bytes()); // tstamp
    if a.addr.is_ipv4() {
        m.attr(IFA_ADDRESS, &addr);
        m.attr(IFA_LOCAL, &addr);
        // Linux has IFA_BROADCAST only when one was given (`ip addr add ...
        // brd`); the stack's configuration has no way to give one.
        m.attr(IFA_LABEL, &cstr_attr(&a.label));
        m.attr(IFA_FLAGS, &a.flags.to_ne_bytes());
        m.attr(IFA_CACHEINFO, &cache);
    } else {
        m.attr(IFA_ADDRESS, &addr);
        m.attr(IFA_CACHEINFO, &cache);
        m.attr(IFA_FLAGS, &a.flags.to_ne_bytes());
    }
    m.finish(out);
}

/// RTM_NEWROUTE for one route, with the attributes of the kernel's
/// fib_dump_info (IPv4) and rt6_fill_node (IPv6).
fn newroute(r: &Route, flags: u16, seq: u32, pid: u32, out: &mut Vec<u8>) {
    let mut m = Msg::new(RTM_NEWROUTE, flags, seq, pid);
    let v4 = r.dst.is_ipv4();
    m.0.push(if v4 { libc::AF_INET } else { libc::AF_INET6 } as u8);
    m.0.push(r.prefix_len);
    m.0.push(0); // rtm_src_len
    m.0.push(0); // rtm_tos
                 // rtm_table: RT_TABLE_COMPAT (252) for ids that do not fit; RTA_TABLE has the id.
    m.0.push(u8::try_from(r.table).unwrap_or(252));
    m.0.push(r.protocol);
    m.0.push(r.scope);
    m.0.push(r.kind as u8);
    m.0.extend(0u32.to_ne_bytes()); // rtm_flags
    m.attr(RTA_TABLE, &r.table.to_ne_bytes());
    if r.prefix_len > 0 {
        m.attr(RTA_DST, &ip_bytes(&r.dst));
    }
    if v4 {
        if r.metric != 0 {
            m.attr(RTA_PRIORITY, &r.metric.to_ne_bytes());
        }
        if let Some(src) = &r.prefsrc {
            m.attr(RTA_PREFSRC, &ip_bytes(src));
        }
    } else {
        if let Some(src) = &r.prefsrc {
            m.attr(RTA_PREFSRC, &ip_bytes(src));
        }
        m.attr(RTA_PRIORITY, &r.metric.to_ne_bytes());
    }
    if let Some(gw) = &r.gateway {
        m.attr(RTA_GATEWAY, &ip_bytes(gw));
    }
    m.attr(RTA_OIF, &r.oif.to_ne_bytes());
    if !v4 {
        m.attr(RTA_PREF, &[PREF_MEDIUM]);
    }
    m.finish(out);
}

/// The order of the kernel's walk of an IPv6 routing table (as procnet's
/// ipv6_route): a radix-tree node after both its subtrees (more specific
/// prefixes first, a 0 bit before a 1 bit), one node's routes by metric.
/// Equal for IPv4 routes, which keep the stack's order.
fn fib6_order(a: &Route, b: &Route) -> std::cmp::Ordering {
    let (IpAddr::V6(da), IpAddr::V6(db)) = (a.dst, b.dst) else {
        return std::cmp::Ordering::Equal;
    };
    let n = u32::from(a.prefix_len.min(b.prefix_len).min(128));
    let top = |x: std::net::Ipv6Addr| {
        if n == 0 {
            0
        } else {
            u128::from(x) >> (128 - n)
        }
    };
    top(da)
        .cmp(&top(db))
        .then(b.prefix_len.cmp(&a.prefix_len))
        .then(a.metric.cmp(&b.metric))
}

/// NLMSG_ERROR for `req` (an ack when `errno` is 0).
fn error(req: &[u8], errno: i32, pid: u32, out: &mut Vec<u8>) {
    let seq = u32::from_ne_bytes(req[8..12].try_into().unwrap());
    let capped = errno == 0;
    let mut m = Msg::new(NLMSG_ERROR, if capped { NLM_F_CAPPED } else { 0 }, seq, pid);
    m.0.extend((-errno).to_ne_bytes());
    if capped {
        m.0.extend_from_slice(&req[..16]);
    } else {
        m.0.extend_from_slice(req);
    }
    m.finish(out);
}

/// The IFLA_IFNAME attribute of a GETLINK request, if any.
fn ifname_attr(req: &[u8]) -> Option<String> {
    let mut a = req.get(32..)?;
    while a.len() >= 4 {
        let len = u16::from_ne_bytes([a[0], a[1]]) as usize;
        let ty = u16::from_ne_bytes([a[2], a[3]]) & 0x3fff;
        if len < 4 || len > a.len() {
            return None;
        }
        if ty == IFLA_IFNAME {
            let v = &a[4..len];
            let v = v.split(|&b| b == 0).next().unwrap_or(v);
            return Some(String::from_utf8_lossy(v).into_owned());
        }
        a = &a[align4(len).min(a.len())..];
    }
    None
}

impl NetlinkService for InterimRtnetlink {
    fn request(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let pid = self.port_id;
        for (ty, flags, m) in messages(bytes) {
            if m.len() < 16 {
                break;
            }
            let seq = u32::from_ne_bytes(m[8..12].try_into().unwrap());
            if flags & NLM_F_REQUEST == 0 || ty < NLMSG_MIN_TYPE {
                if flags & NLM_F_ACK != 0 {
                    error(m, 0, pid, &mut out);
                }
                continue;
            }
            match ty {
                RTM_GETLINK if flags & NLM_F_DUMP != 0 => {
                    for i in self.stack.interfaces() {
                        newlink(&i, NLM_F_MULTI, seq, pid, &mut out);
                    }
                    let mut done = Msg::new(NLMSG_DONE, NLM_F_MULTI, seq, pid);
                    done.0.extend(0i32.to_ne_bytes());
                    done.finish(&mut out);
                }
                RTM_GETADDR if flags & NLM_F_DUMP != 0 => {
                    let family = m.get(16).copied().unwrap_or(0) as i32;
                    let mut addrs = self.stack.interface_addrs();
                    // The kernel dumps family by family: IPv4, then IPv6.
                    addrs.sort_by_key(|a| a.addr.is_ipv6());
                    for a in addrs {
                        let f = if a.addr.is_ipv4() {
                            libc::AF_INET
                        } else {
                            libc::AF_INET6
                        };
                        if family == libc::AF_UNSPEC || family == f {
                            newaddr(&a, NLM_F_MULTI, seq, pid, &mut out);
                        }
                    }
                    let mut done = Msg::new(NLMSG_DONE, NLM_F_MULTI, seq, pid);
                    done.0.extend(0i32.to_ne_bytes());
                    done.finish(&mut out);
                }
                RTM_GETROUTE if flags & NLM_F_DUMP != 0 => {
                    let family = m.get(16).copied().unwrap_or(0) as i32;
                    let mut routes = self.stack.route_table();
                    // The kernel dumps IPv4 then IPv6; each family's tables by
                    // id (main, 254, then local, 255); IPv4 routes in the
                    // stack's order (the kernel's trie order), IPv6 ones in
                    // the order of the kernel's fib6 walk.
                    routes.sort_by(|a, b| {
                        (a.dst.is_ipv6(), a.table)
                            .cmp(&(b.dst.is_ipv6(), b.table))
                            .then_with(|| fib6_order(a, b))
                    });
                    for r in routes {
                        let f = if r.dst.is_ipv4() {
                            libc::AF_INET
                        } else {
                            libc::AF_INET6
                        };
                        if family == libc::AF_UNSPEC || family == f {
                            newroute(&r, NLM_F_MULTI, seq, pid, &mut out);
                        }
                    }
                    let mut done = Msg::new(NLMSG_DONE, NLM_F_MULTI, seq, pid);
                    done.0.extend(0i32.to_ne_bytes());
                    done.finish(&mut out);
                }
                RTM_GETLINK => {
                    let index = m
                        .get(20..24)
                        .map(|b| i32::from_ne_bytes(b.try_into().unwrap()))
                        .unwrap_or(0);
                    let name = ifname_attr(m);
                    let found = self.stack.interfaces().into_iter().find(|i| {
                        (index > 0 && i.index == index as u32)
                            || (index <= 0 && name.as_deref() == Some(i.name.as_str()))
                    });
                    match found {
                        Some(i) => {
                            newlink(&i, 0, seq, pid, &mut out);
                            if flags & NLM_F_ACK != 0 {
                                error(m, 0, pid, &mut out);
                            }
                        }
                        None => error(m, libc::ENODEV, pid, &mut out),
                    }
                }
                _ => error(m, libc::EOPNOTSUPP, pid, &mut out),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn getlink_dump(seq: u32) -> Vec<u8> {
        let mut m = Msg::new(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq, 0);
        m.0.extend([0u8; 16]);
        let mut out = Vec::new();
        m.finish(&mut out);
        out
    }

    #[test]
    fn getlink_dump_lists_every_interface_then_done() {
        let stack = Stack::new().unwrap();
        let mut s = InterimRtnetlink::new(stack, 4242);
        let reply = s.request(&getlink_dump(7));
        let msgs = messages(&reply);
        assert_eq!(msgs.len(), 2, "lo, then DONE");
        assert_eq!(msgs[0].0, RTM_NEWLINK);
        assert_eq!(msgs[1].0, NLMSG_DONE);
        for (_, _, m) in &msgs {
            assert_eq!(&m[8..12], &7u32.to_ne_bytes(), "seq echoed");
            assert_eq!(&m[12..16], &4242u32.to_ne_bytes(), "port id");
        }
        assert_eq!(ifname_attr(msgs[0].2).as_deref(), Some("lo"));
    }

    #[test]
    fn anything_else_is_eopnotsupp_with_the_request_appended() {
        let stack = Stack::new().unwrap();
        let mut s = InterimRtnetlink::new(stack, 1);
        let mut req = getlink_dump(3);
        req[4..6].copy_from_slice(&24u16.to_ne_bytes()); // RTM_NEWROUTE
        let reply = s.request(&req);
        assert_eq!(reply.len(), 16 + 4 + req.len());
        assert_eq!(&reply[16..20], &(-libc::EOPNOTSUPP).to_ne_bytes());
        assert_eq!(&reply[20..], &req[..]);
    }
}
