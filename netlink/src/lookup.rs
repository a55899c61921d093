//! Route lookups the stack's `route_get` does not make itself: bound to a
//! device (RTA_OIF; `ip_route_output_key_hash_rcu`, `ip6_route_output`) and
//! the FIB entry behind an answer (RTM_F_FIB_MATCH). Pure: table data in,
//! answers out.

use crate::addr;
use crate::error::Failure;
use netstack::inet::{Snapshot, RT_TABLE_LOCAL, RT_TABLE_MAIN};
use std::net::{IpAddr, Ipv4Addr};

/// An IPv4 lookup bound to a device (RTA_OIF, no `from`), as
/// `ip_route_output_key_hash_rcu` makes it: only routes through that device
/// count (a local route's device is its address's); when none holds the
/// destination, the kernel assumes it is on the device's link.
pub(crate) fn bound_lookup_v4(
    snap: &Snapshot,
    dst: IpAddr,
    oif: u32,
) -> Result<netstack::inet::RouteAnswer, Failure> {
    use netstack::inet::{rt_scope, RouteAnswer, RouteType};
    let iface = snap
        .interfaces
        .iter()
        .find(|i| i.index == oif)
        .ok_or(Failure::new(libc::ENODEV))?;
    if !iface.is_up() {
        return Err(Failure::new(libc::ENETUNREACH));
    }
    let lo = snap
        .interfaces
        .iter()
        .find(|i| i.is_loopback())
        .map_or(1, |i| i.index);
    let route = snap
        .routes
        .iter()
        .filter(|r| r.is_ipv4() && r.oif == oif && r.contains(dst))
        .max_by(|a, b| {
            a.prefix_len
                .cmp(&b.prefix_len)
                .then(b.metric.cmp(&a.metric))
        });
    let (kind, out, gateway, prefsrc, metric, protocol) = match route {
        Some(r) if r.kind == RouteType::Local => (
            RouteType::Local,
            lo,
            None,
            r.prefsrc.unwrap_or(dst),
            r.metric,
            r.protocol,
        ),
        Some(r) => {
            let scope = if r.gateway.is_some() {
                rt_scope::LINK
            } else {
                rt_scope::HOST
            };
            let src = r
                .prefsrc
                .or_else(|| select_v4(snap, oif, Some(r.gateway.unwrap_or(dst)), scope));
            (
                r.kind,
                oif,
                r.gateway,
                src.unwrap_or(unspecified_v4()),
                r.metric,
                r.protocol,
            )
        }
        None => (
            RouteType::Unicast,
            oif,
            None,
            select_v4(snap, oif, None, rt_scope::LINK).unwrap_or(unspecified_v4()),
            0,
            0,
        ),
    };
    Ok(RouteAnswer {
        dst,
        src: None,
        kind,
        oif: out,
        prefsrc,
        gateway,
        table: RT_TABLE_MAIN,
        metric,
        protocol,
    })
}

/// An IPv6 lookup bound to a device: the longest prefix through it (local
/// table first; a local route's device is its address's), else ENETUNREACH
/// (IPv6 assumes no on-link destination). The source: the destination if it
/// is one of the stack's addresses, else the unbound lookup's when it leaves
/// through the same device, else the device's global address sharing the
/// longest prefix with the destination (RFC 6724 rules 1, 5 and 8).
pub(crate) fn bound_lookup_v6(
    snap: &Snapshot,
    dst: IpAddr,
    oif: u32,
    unbound: Option<netstack::inet::RouteAnswer>,
) -> Result<netstack::inet::RouteAnswer, Failure> {
    use netstack::inet::{RouteAnswer, RouteType};
    if !snap.interfaces.iter().any(|i| i.index == oif && i.is_up()) {
        return Err(Failure::new(libc::ENETUNREACH));
    }
    let lo = snap
        .interfaces
        .iter()
        .find(|i| i.is_loopback())
        .map_or(1, |i| i.index);
    let pick = |table: u32| {
        snap.routes
            .iter()
            .filter(|r| r.dst.is_ipv6() && r.table == table && r.oif == oif && r.contains(dst))
            .max_by(|a, b| {
                a.prefix_len
                    .cmp(&b.prefix_len)
                    .then(b.metric.cmp(&a.metric))
            })
    };
    let r = pick(RT_TABLE_LOCAL)
        .or_else(|| pick(RT_TABLE_MAIN))
        .ok_or(Failure::new(libc::ENETUNREACH))?;
    if r.kind == RouteType::Local {
        return Ok(RouteAnswer {
            dst,
            src: None,
            kind: r.kind,
            oif: lo,
            prefsrc: r.prefsrc.unwrap_or(dst),
            gateway: None,
            table: r.table,
            metric: r.metric,
            protocol: r.protocol,
        });
    }
    let prefsrc = match (r.prefsrc, unbound) {
        (Some(p), _) => p,
        // RFC 6724 rule 1: the destination itself, when it is one of ours.
        // (Loopback and link-local destinations only look at the device's addresses.)
        (None, _)
            if !dst.is_loopback()
                && !matches!(dst, IpAddr::V6(d) if d.segments()[0] & 0xffc0 == 0xfe80)
                && snap.addrs.iter().any(|a| a.addr == dst) =>
        {
            dst
        }
        (None, Some(u)) if u.oif == oif => u.prefsrc,
        _ => snap
            .addrs
            .iter()
            .filter(|a| a.ifindex == oif && a.addr.is_ipv6() && a.scope == 0)
            .max_by_key(|a| netstack::inet::common_prefix_len(a.addr, dst))
            .map(|a| a.addr)
            .ok_or(Failure::new(libc::EADDRNOTAVAIL))?,
    };
    Ok(RouteAnswer {
        dst,
        src: None,
        kind: r.kind,
        oif,
        prefsrc,
        gateway: r.gateway,
        table: r.table,
        metric: r.metric,
        protocol: r.protocol,
    })
}

fn unspecified_v4() -> IpAddr {
    IpAddr::V4(Ipv4Addr::UNSPECIFIED)
}

/// `inet_select_addr`: a primary address of `dev` no narrower than `scope`,
/// preferring one whose subnet holds `toward`; else the first primary of
/// any device that is neither link- nor narrower-scoped.
fn select_v4(snap: &Snapshot, dev: u32, toward: Option<IpAddr>, scope: u8) -> Option<IpAddr> {
    let primaries = |i: u32| {
        let mine: Vec<_> = snap
            .addrs
            .iter()
            .filter(|a| a.ifindex == i && a.addr.is_ipv4())
            .collect();
        addr::ipv4_dev_order(&mine)
            .into_iter()
            .filter(|a| !a.is_secondary())
            .collect::<Vec<_>>()
    };
    let on_dev: Vec<_> = primaries(dev)
        .into_iter()
        .filter(|a| a.scope <= scope)
        .collect();
    if let Some(t) = toward {
        if let Some(a) = on_dev
            .iter()
            .find(|a| netstack::inet::prefix_contains(a.addr, a.prefix_len, t))
        {
            return Some(a.addr);
        }
    }
    if let Some(a) = on_dev.first() {
        return Some(a.addr);
    }
    snap.interfaces.iter().find_map(|i| {
        primaries(i.index)
            .into_iter()
            .find(|a| a.scope != netstack::inet::rt_scope::LINK && a.scope <= scope)
            .map(|a| a.addr)
    })
}

/// The table entry behind a lookup's answer: the longest prefix holding the
/// destination with the answer's type, gateway and metric (IPv6: in the
/// answer's table). IPv4 shows it in table main, as the merged local/main
/// table answers (`fib_dump_info` with the table the lookup found it in).
pub(crate) fn fib_match(
    routes: &[netstack::inet::Route],
    a: &netstack::inet::RouteAnswer,
) -> Option<netstack::inet::Route> {
    let v4 = a.dst.is_ipv4();
    let mut best = routes
        .iter()
        .filter(|r| {
            r.dst.is_ipv4() == v4
                && r.contains(a.dst)
                && r.gateway == a.gateway
                && r.metric == a.metric
                && (v4 || r.table == a.table)
                && (r.kind == a.kind || v4 && r.kind == netstack::inet::RouteType::Unicast)
        })
        .max_by_key(|r| (r.prefix_len, r.kind == a.kind))?
        .clone();
    if v4 {
        best.table = RT_TABLE_MAIN;
    }
    Some(best)
}

/// What an IPv4 packet from `src` arriving on `iif` for `dst` meets
/// (`ip_route_input_slow`): martian sources and destinations are EINVAL,
/// local and broadcast destinations are delivered, and everything else would
/// be forwarded, which sandnet (like a host with ip_forward 0) does not:
/// EHOSTUNREACH.
pub(crate) fn input_lookup_v4(
    snap: &Snapshot,
    dst: IpAddr,
    src: Option<IpAddr>,
    iif: u32,
) -> Result<netstack::inet::RouteType, Failure> {
    use netstack::inet::RouteType;
    let iface = snap
        .interfaces
        .iter()
        .find(|i| i.index == iif)
        .ok_or(Failure::new(libc::ENODEV))?;
    let from_lo = iface.is_loopback();
    let (IpAddr::V4(d), Some(IpAddr::V4(s))) = (dst, src) else {
        return Err(Failure::new(libc::EINVAL));
    };
    let martian_src = s.is_unspecified()
        || s.is_multicast()
        || s.is_broadcast()
        || (!from_lo && s.is_loopback())
        || (!from_lo && snap.addrs.iter().any(|a| a.addr == IpAddr::V4(s)));
    if martian_src || (!from_lo && d.is_loopback()) || d.is_unspecified() {
        return Err(Failure::new(libc::EINVAL));
    }
    let local = snap
        .routes
        .iter()
        .filter(|r| {
            r.is_ipv4()
                && r.table == RT_TABLE_LOCAL
                && matches!(r.kind, RouteType::Local | RouteType::Broadcast)
                && r.contains(dst)
        })
        .max_by_key(|r| r.prefix_len);
    match local {
        Some(r) => Ok(r.kind),
        None => Err(Failure::new(libc::EHOSTUNREACH)),
    }
}

/// What an IPv6 packet arriving on `iif` for `dst` meets, as the kernel's
/// route query answers it (`ip6_route_input_lookup`): the table's route,
/// except that ::1 is local only to packets from lo (from elsewhere it takes
/// the main table's route).
pub(crate) fn input_lookup_v6(
    snap: &Snapshot,
    dst: IpAddr,
    iif: u32,
    table_answer: Result<netstack::inet::RouteAnswer, Failure>,
) -> Result<netstack::inet::RouteAnswer, Failure> {
    use netstack::inet::RouteAnswer;
    let iface = snap
        .interfaces
        .iter()
        .find(|i| i.index == iif)
        .ok_or(Failure::new(libc::ENODEV))?;
    if !dst.is_loopback() || iface.is_loopback() {
        return table_answer;
    }
    let r = snap
        .routes
        .iter()
        .filter(|r| r.dst.is_ipv6() && r.table == RT_TABLE_MAIN && r.contains(dst))
        .max_by(|a, b| {
            a.prefix_len
                .cmp(&b.prefix_len)
                .then(b.metric.cmp(&a.metric))
        })
        .ok_or(Failure::new(libc::ENETUNREACH))?;
    Ok(RouteAnswer {
        dst,
        src: None,
        kind: r.kind,
        oif: r.oif,
        prefsrc: dst,
        gateway: r.gateway,
        table: r.table,
        metric: r.metric,
        protocol: r.protocol,
    })
}
