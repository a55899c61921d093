//! Requests that change the stack: addresses (inet_rtm_newaddr,
//! inet_rtm_deladdr, inet6_rtm_newaddr, inet6_rtm_deladdr), routes
//! (inet_rtm_newroute/delroute, inet6_rtm_newroute/delroute) and links
//! (rtnl_newlink/rtnl_setlink: up, down, MTU; rtnl_dellink). The checks the
//! kernel makes before touching its tables are made here, with its errno and,
//! for IPv4, its extended-ack text; the stack's own checks give the rest.

use crate::addr::{IFA_ADDRESS, IFA_LABEL, IFA_LOCAL};
use crate::error::Failure;
use crate::link::{IFLA_ALT_IFNAME, IFLA_EXT_MASK, IFLA_IFNAME, IFLA_MTU};
use crate::nlmsg::{u32_at, Attr, Attrs, Message, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};
use crate::responder::{
    RTM_DELADDR, RTM_DELLINK, RTM_DELROUTE, RTM_NEWADDR, RTM_NEWLINK, RTM_NEWROUTE, RTM_SETLINK,
};
use crate::route::{RTA_DST, RTA_GATEWAY, RTA_OIF, RTA_PREFSRC, RTA_PRIORITY, RTA_TABLE};
use netstack::inet::{iff, mask_addr, RouteSpec, RT_TABLE_MAIN};
use netstack::Stack;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const AF_INET: u8 = libc::AF_INET as u8;
const AF_INET6: u8 = libc::AF_INET6 as u8;
const RTN_UNSPEC: u8 = 0;
/// `__nlmsg_parse`'s text for a message shorter than its family header.
pub(crate) const SHORT: &str = "Invalid header length";
const V6_NO_DEV: &str = "ipv6: Unable to find the interface";
const RTN_UNICAST: u8 = 1;

fn errno(e: io::Error) -> Failure {
    Failure::new(e.raw_os_error().unwrap_or(libc::EINVAL))
}

fn einval(msg: &'static str) -> Failure {
    Failure::with_msg(libc::EINVAL, msg)
}

fn addr_attr(a: Attr<'_>, v4: bool) -> Result<IpAddr, Failure> {
    if v4 {
        let b: [u8; 4] = a
            .value
            .get(..4)
            .and_then(|s| s.try_into().ok())
            .ok_or(Failure::new(libc::ERANGE))?;
        Ok(IpAddr::V4(Ipv4Addr::from(b)))
    } else {
        let b: [u8; 16] = a
            .value
            .get(..16)
            .and_then(|s| s.try_into().ok())
            .ok_or(Failure::new(libc::EINVAL))?;
        Ok(IpAddr::V6(Ipv6Addr::from(b)))
    }
}

/// Answers one request that changes the stack, or EOPNOTSUPP for a type or
/// family the kernel has no handler for.
pub fn apply(stack: &Stack, m: &Message<'_>, family: u8) -> Result<(), Failure> {
    match (m.header.ty, family) {
        (RTM_NEWADDR, AF_INET | AF_INET6) => new_addr(stack, m, family == AF_INET),
        (RTM_DELADDR, AF_INET | AF_INET6) => del_addr(stack, m, family == AF_INET),
        (RTM_NEWROUTE, AF_INET | AF_INET6) => new_route(stack, m, family == AF_INET),
        (RTM_DELROUTE, AF_INET | AF_INET6) => del_route(stack, m, family == AF_INET),
        (RTM_NEWLINK | RTM_SETLINK, _) => set_link(stack, m),
        (RTM_DELLINK, _) => del_link(stack, m),
        _ => Err(Failure::new(libc::EOPNOTSUPP)),
    }
}

// ---- addresses ----

struct AddrReq<'a> {
    prefix_len: u8,
    ifindex: u32,
    attrs: Attrs<'a>,
}

fn addr_req<'a>(m: &Message<'a>) -> Result<AddrReq<'a>, Failure> {
    let p = m.payload;
    if p.len() < 8 {
        return Err(einval(SHORT));
    }
    Ok(AddrReq {
        prefix_len: p[1],
        ifindex: u32_at(p, 4).unwrap_or(0),
        attrs: Attrs::parse(&p[8..]),
    })
}

fn new_addr(stack: &Stack, m: &Message<'_>, v4: bool) -> Result<(), Failure> {
    let r = addr_req(m)?;
    let flags = m.header.flags;
    let addr = if v4 {
        // rtm_to_ifaddr
        if r.prefix_len > 32 {
            return Err(einval("ipv4: Invalid prefix length"));
        }
        let local = r
            .attrs
            .get(IFA_LOCAL)
            .ok_or(einval("ipv4: Local address is not supplied"))?;
        let local = addr_attr(local, true)?;
        if let Some(a) = r.attrs.get(IFA_ADDRESS) {
            if addr_attr(a, true)? != local {
                // A point-to-point peer address is not modelled.
                return Err(Failure::new(libc::EOPNOTSUPP));
            }
        }
        if !stack.interfaces().iter().any(|i| i.index == r.ifindex) {
            return Err(Failure::with_msg(libc::ENODEV, "ipv4: Device not found"));
        }
        local
    } else {
        // inet6_rtm_newaddr: extract_addr takes IFA_LOCAL, else IFA_ADDRESS.
        let a = r
            .attrs
            .get(IFA_LOCAL)
            .or(r.attrs.get(IFA_ADDRESS))
            .ok_or(Failure::new(libc::EINVAL))?;
        if r.prefix_len > 128 {
            return Err(einval("ipv6: Invalid prefix length"));
        }
        if !stack.interfaces().iter().any(|i| i.index == r.ifindex) {
            return Err(Failure::with_msg(libc::ENODEV, V6_NO_DEV));
        }
        addr_attr(a, false)?
    };
    unmodelled_addr_options(m, &r)?;
    let exists = stack
        .interface_addrs()
        .iter()
        .any(|a| a.ifindex == r.ifindex && a.addr == addr && (!v4 || a.prefix_len == r.prefix_len));
    if exists {
        // An existing address is only updated (its lifetimes; sandnet's are
        // all permanent) by NLM_F_REPLACE without NLM_F_EXCL.
        if flags & NLM_F_EXCL != 0 || flags & NLM_F_REPLACE == 0 {
            return Err(if v4 {
                Failure::with_msg(libc::EEXIST, "ipv4: Address already assigned")
            } else {
                Failure::with_msg(libc::EEXIST, "ipv6: address already assigned")
            });
        }
        return Ok(());
    }
    stack
        .add_address(r.ifindex, addr, r.prefix_len)
        .map_err(errno)
}

/// Address options that would make the kernel's state differ from what the
/// stack can hold: refused (EOPNOTSUPP) rather than silently dropped. A
/// broadcast address or a label are accepted (dumps show none and the
/// device's name).
fn unmodelled_addr_options(m: &Message<'_>, r: &AddrReq<'_>) -> Result<(), Failure> {
    const IFA_CACHEINFO: u16 = 6;
    const IFA_FLAGS: u16 = 8;
    const IFA_RT_PRIORITY: u16 = 9;
    // NODAD and PERMANENT are what every sandnet address has; OPTIMISTIC and
    // HOMEADDRESS change nothing sandnet shows.
    const HARMLESS: u32 = 0x02 | 0x80 | 0x04 | 0x10;
    let mut flags = u32::from(m.payload[2]);
    if let Some(a) = r.attrs.get(IFA_FLAGS) {
        flags = a.u32()?;
    }
    if flags & !HARMLESS != 0 || r.attrs.get(IFA_RT_PRIORITY).is_some() {
        // e.g. IFA_F_NOPREFIXROUTE, IFA_F_MANAGETEMPADDR, a prefix route metric.
        return Err(Failure::new(libc::EOPNOTSUPP));
    }
    if let Some(ci) = r.attrs.get(IFA_CACHEINFO) {
        // struct ifa_cacheinfo: preferred and valid lifetimes first; only "forever" is modelled.
        let preferred = u32_at(ci.value, 0).ok_or(Failure::new(libc::EINVAL))?;
        let valid = u32_at(ci.value, 4).ok_or(Failure::new(libc::EINVAL))?;
        if preferred != u32::MAX || valid != u32::MAX {
            return Err(Failure::new(libc::EOPNOTSUPP));
        }
    }
    Ok(())
}

fn del_addr(stack: &Stack, m: &Message<'_>, v4: bool) -> Result<(), Failure> {
    let r = addr_req(m)?;
    let addrs = stack.interface_addrs();
    let found = if v4 {
        // inet_rtm_deladdr: the first address matching every attribute given.
        if !stack.interfaces().iter().any(|i| i.index == r.ifindex) {
            return Err(Failure::with_msg(libc::ENODEV, "ipv4: Device not found"));
        }
        let local = r
            .attrs
            .get(IFA_LOCAL)
            .map(|a| addr_attr(a, true))
            .transpose()?;
        let address = r
            .attrs
            .get(IFA_ADDRESS)
            .map(|a| addr_attr(a, true))
            .transpose()?;
        let label = r.attrs.get(IFA_LABEL).map(|a| a.str().to_vec());
        addrs.into_iter().find(|a| {
            a.ifindex == r.ifindex
                && a.addr.is_ipv4()
                && local.is_none_or(|l| a.addr == l)
                && label
                    .as_ref()
                    .is_none_or(|l| a.label.as_bytes() == l.as_slice())
                && address.is_none_or(|x| {
                    a.prefix_len == r.prefix_len
                        && mask_addr(x, a.prefix_len) == mask_addr(a.addr, a.prefix_len)
                })
        })
    } else {
        // inet6_addr_del
        let a = r
            .attrs
            .get(IFA_LOCAL)
            .or(r.attrs.get(IFA_ADDRESS))
            .ok_or(Failure::new(libc::EINVAL))?;
        let pfx = addr_attr(a, false)?;
        if r.prefix_len > 128 {
            return Err(einval("ipv6: Invalid prefix length"));
        }
        if !stack.interfaces().iter().any(|i| i.index == r.ifindex) {
            return Err(Failure::with_msg(libc::ENODEV, V6_NO_DEV));
        }
        addrs
            .into_iter()
            .find(|a| a.ifindex == r.ifindex && a.addr == pfx && a.prefix_len == r.prefix_len)
    };
    let Some(a) = found else {
        return Err(if v4 {
            Failure::with_msg(libc::EADDRNOTAVAIL, "ipv4: Address not found")
        } else {
            Failure::with_msg(libc::EADDRNOTAVAIL, "ipv6: address not found")
        });
    };
    stack
        .remove_address(a.ifindex, a.addr, a.prefix_len)
        .map_err(errno)
}

// ---- routes ----

struct RouteReq {
    spec: RouteSpec,
    table: u32,
    kind: u8,
}

/// rtm_to_fib_config / rtm_to_fib6_config, for what sandnet models: unicast
/// routes of the main table with destination, gateway, device, metric and
/// preferred source.
fn route_req(m: &Message<'_>, v4: bool) -> Result<RouteReq, Failure> {
    let p = m.payload;
    if p.len() < 12 {
        return Err(einval(SHORT));
    }
    let (dst_len, src_len, tos) = (p[1], p[2], p[3]);
    let attrs = Attrs::parse(&p[12..]);
    if v4 && tos & 0x3 != 0 {
        return Err(einval("Invalid dsfield (tos): ECN bits must be 0"));
    }
    let max = if v4 { 32 } else { 128 };
    if dst_len > max || src_len > max {
        return Err(if v4 {
            einval("Invalid prefix length")
        } else {
            Failure::new(libc::EINVAL)
        });
    }
    let unspecified = if v4 {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    } else {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    };
    let dst = match attrs.get(RTA_DST) {
        Some(a) => addr_attr(a, v4)?,
        None => unspecified,
    };
    let mut spec = RouteSpec::new(dst, dst_len).protocol(p[5]);
    if let Some(a) = attrs.get(RTA_GATEWAY) {
        spec = spec.via(addr_attr(a, v4)?);
    }
    if let Some(a) = attrs.get(RTA_OIF) {
        spec = spec.dev(a.u32()?);
    }
    if let Some(a) = attrs.get(RTA_PRIORITY) {
        spec = spec.metric(a.u32()?);
    }
    if let Some(a) = attrs.get(RTA_PREFSRC) {
        spec = spec.src(addr_attr(a, v4)?);
    }
    let mut table = u32::from(p[4]);
    if let Some(a) = attrs.get(RTA_TABLE) {
        table = a.u32()?;
    }
    if table == 0 {
        table = RT_TABLE_MAIN;
    }
    Ok(RouteReq {
        spec,
        table,
        kind: p[7],
    })
}

fn new_route(stack: &Stack, m: &Message<'_>, v4: bool) -> Result<(), Failure> {
    let r = route_req(m, v4)?;
    // Only unicast routes of the main table are modelled, and only what a
    // RouteSpec holds: source routes, `onlink`, metrics, multipath, nexthop
    // objects, encapsulation, expiry, preference and the rest are refused
    // rather than dropped.
    if r.table != RT_TABLE_MAIN || !(r.kind == RTN_UNICAST || (!v4 && r.kind == RTN_UNSPEC)) {
        return Err(Failure::new(libc::EOPNOTSUPP));
    }
    const RTNH_F_ONLINK: u32 = 4;
    let p = m.payload;
    let attrs = Attrs::parse(&p[12..]);
    let known = [
        RTA_DST,
        RTA_OIF,
        RTA_GATEWAY,
        RTA_PRIORITY,
        RTA_PREFSRC,
        RTA_TABLE,
    ];
    let pref_medium = |a: &Attr<'_>| a.ty == crate::route::RTA_PREF && a.value.first() == Some(&0);
    if p[2] != 0
        || u32_at(p, 8).unwrap_or(0) & RTNH_F_ONLINK != 0
        || attrs
            .list
            .iter()
            .any(|a| !known.contains(&a.ty) && !pref_medium(a))
    {
        return Err(Failure::new(libc::EOPNOTSUPP));
    }
    if v4 && mask_addr(r.spec.dst, r.spec.prefix_len) != r.spec.dst {
        // fib_table_insert
        return Err(einval("Invalid prefix for given prefix length"));
    }
    if let Some(oif) = r.spec.oif {
        if !stack.interfaces().iter().any(|i| i.index == oif) {
            return Err(Failure::new(libc::ENODEV));
        }
    }
    let exists = stack.route_table().iter().any(|x| {
        x.table == RT_TABLE_MAIN
            && x.dst == mask_addr(r.spec.dst, r.spec.prefix_len)
            && x.prefix_len == r.spec.prefix_len
            && x.metric == r.spec.metric.unwrap_or(if v4 { 0 } else { 1024 })
    });
    if exists && m.header.flags & NLM_F_REPLACE != 0 && m.header.flags & NLM_F_EXCL == 0 {
        // Replacing a route is not modelled.
        return Err(Failure::new(libc::EOPNOTSUPP));
    }
    if v4 && !exists && m.header.flags & NLM_F_CREATE == 0 {
        // fib_table_insert: a new route needs NLM_F_CREATE.
        return Err(Failure::new(libc::ENOENT));
    }
    if v4 && r.spec.gateway.is_none() && r.spec.oif.is_none() {
        // fib_check_nh: a nexthop without gateway needs a device.
        return Err(Failure::new(libc::ENODEV));
    }
    let via = r.spec.gateway.is_some();
    stack.add_route(r.spec).map_err(|e| {
        let f = errno(e);
        if v4 && via && f.errno == libc::ENETUNREACH {
            // fib_check_nh_v4_gw
            Failure::with_msg(f.errno, "Nexthop has invalid gateway")
        } else {
            f
        }
    })
}

fn del_route(stack: &Stack, m: &Message<'_>, v4: bool) -> Result<(), Failure> {
    let r = route_req(m, v4)?;
    if r.table != RT_TABLE_MAIN {
        return Err(if r.table == netstack::inet::RT_TABLE_LOCAL {
            Failure::new(libc::EOPNOTSUPP)
        } else if v4 {
            Failure::with_msg(libc::ESRCH, "FIB table does not exist")
        } else {
            Failure::new(libc::ESRCH)
        });
    }
    stack.remove_route(r.spec).map_err(errno)
}

// ---- links ----

fn find_link(stack: &Stack, p: &[u8], attrs: &Attrs<'_>) -> Result<u32, Failure> {
    let index = u32_at(p, 4).unwrap_or(0) as i32;
    let ifaces = stack.interfaces();
    if index > 0 {
        return ifaces
            .iter()
            .find(|i| i.index == index as u32)
            .map(|i| i.index)
            .ok_or(Failure::new(libc::ENODEV));
    }
    let Some(name) = attrs.get(IFLA_IFNAME).or(attrs.get(IFLA_ALT_IFNAME)) else {
        return Err(Failure::new(libc::EINVAL));
    };
    ifaces
        .iter()
        .find(|i| i.name.as_bytes() == name.str())
        .map(|i| i.index)
        .ok_or(Failure::new(libc::ENODEV))
}

/// rtnl_setlink, and rtnl_newlink on an existing device: the MTU and the UP
/// flag. Creating devices, renaming them and every other attribute are not
/// modelled (EOPNOTSUPP).
fn set_link(stack: &Stack, m: &Message<'_>) -> Result<(), Failure> {
    let p = m.payload;
    if p.len() < 16 {
        return Err(einval(SHORT));
    }
    let attrs = Attrs::parse(&p[16..]);
    let new = m.header.ty == RTM_NEWLINK;
    let index = match find_link(stack, p, &attrs) {
        Ok(i) => i,
        Err(f) if new && (f.errno == libc::ENODEV || f.errno == libc::EINVAL) => {
            // rtnl_newlink without a device: creating one needs NLM_F_CREATE
            // and a kind sandnet cannot make.
            return Err(if m.header.flags & NLM_F_CREATE == 0 {
                Failure::new(libc::ENODEV)
            } else {
                Failure::with_msg(libc::EOPNOTSUPP, "Unknown device type")
            });
        }
        Err(f) => return Err(f),
    };
    if new {
        if m.header.flags & NLM_F_EXCL != 0 {
            return Err(Failure::new(libc::EEXIST));
        }
        if m.header.flags & NLM_F_REPLACE != 0 {
            return Err(Failure::new(libc::EOPNOTSUPP));
        }
    }
    let iface = stack
        .interfaces()
        .into_iter()
        .find(|i| i.index == index)
        .ok_or(Failure::new(libc::ENODEV))?;
    for a in &attrs.list {
        match a.ty {
            IFLA_MTU | IFLA_EXT_MASK => {}
            IFLA_IFNAME if a.str() == iface.name.as_bytes() => {}
            _ => return Err(Failure::new(libc::EOPNOTSUPP)),
        }
    }
    // do_setlink: the MTU first, then the flags.
    if let Some(a) = attrs.get(IFLA_MTU) {
        let mtu = a.u32()?;
        if !iface.is_loopback() {
            // dev_validate_mtu, with a TUN's limits.
            if mtu < 68 {
                return Err(einval("mtu less than device minimum"));
            }
            if mtu > 65535 {
                return Err(einval("mtu greater than device maximum"));
            }
        }
        if mtu != iface.mtu {
            stack.set_mtu(index, mtu).map_err(errno)?;
        }
    }
    let (flags, change) = (u32_at(p, 8).unwrap_or(0), u32_at(p, 12).unwrap_or(0));
    if flags != 0 || change != 0 {
        // rtnl_dev_combine_flags: ifi_change 0 means every flag.
        let mask = if change == 0 { u32::MAX } else { change };
        let want = (flags & mask) | (iface.flags & !mask);
        let up = want & iff::UP != 0;
        if up != iface.is_up() {
            if up {
                stack.set_up(index).map_err(errno)?;
            } else {
                stack.set_down(index).map_err(errno)?;
            }
        }
    }
    Ok(())
}

fn del_link(stack: &Stack, m: &Message<'_>) -> Result<(), Failure> {
    let p = m.payload;
    if p.len() < 16 {
        return Err(einval(SHORT));
    }
    let attrs = Attrs::parse(&p[16..]);
    let index = find_link(stack, p, &attrs)?;
    stack.remove_nic(index).map_err(errno)
}
