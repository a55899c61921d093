//! The routing tables (main and local), longest-prefix lookup, source address
//! selection, and `route_get`, following what Linux answers for the same table.

use crate::error::errno;
use crate::inet::{
    common_prefix_len, mask_addr, rt_scope, rtprot, InterfaceAddr, Route, RouteAnswer, RouteType,
    RT_TABLE_LOCAL, RT_TABLE_MAIN,
};
use std::cell::Cell;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Default metric of IPv6 routes added without one (IP6_RT_PRIO_USER).
pub const IP6_RT_PRIO_USER: u32 = 1024;
/// Metric of the kernel's own IPv6 prefix and multicast routes (IP6_RT_PRIO_ADDRCONF).
pub const IP6_RT_PRIO_ADDRCONF: u32 = 256;

/// What the route lookup needs to know about interfaces and their addresses.
pub trait AddrView {
    /// Addresses of every interface, by ifindex then in the order added.
    fn addrs(&self) -> &[InterfaceAddr];
    /// Whether the interface exists and is up.
    fn is_up(&self, ifindex: u32) -> bool;
    fn loopback_index(&self) -> u32 {
        1
    }
}

#[derive(Clone, Debug, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
    /// Bumped by every change that can change a lookup's answer: of the
    /// routes here, and of the interfaces' existence or state (`invalidate`).
    generation: u64,
    /// The last few `lookup` answers: every packet in and out is looked up,
    /// mostly for the same few destinations, and a scan of the table was 4%
    /// of the poll thread's time in bulk transfers.
    cache: Cell<[Option<Cached>; CACHED]>,
    next: Cell<usize>,
}

/// How many `lookup` answers are kept: a connection's two directions look up
/// two destinations (the peer out, the stack's own address in).
const CACHED: usize = 4;

#[derive(Clone, Copy, Debug)]
struct Cached {
    dst: IpAddr,
    generation: u64,
    /// Index into `routes`; None: no route.
    index: Option<usize>,
}

impl RouteTable {
    /// Routes in the order `ip route show table all` lists them: main before
    /// local, IPv4 before IPv6, then by destination, longer prefix first, then metric.
    pub fn sorted(&self) -> Vec<Route> {
        let mut v = self.routes.clone();
        v.sort_by(|a, b| {
            let key = |r: &Route| {
                (
                    r.table,
                    !r.is_ipv4(),
                    addr_key(r.dst),
                    std::cmp::Reverse(r.prefix_len),
                    r.metric,
                )
            };
            key(a).cmp(&key(b))
        });
        v
    }

    /// Inserts a route; EEXIST if one with the same table, destination, prefix
    /// and metric is there already (the kernel's NLM_F_EXCL check).
    pub fn insert(&mut self, route: Route) -> io::Result<()> {
        let clash = self.routes.iter().any(|r| {
            r.table == route.table && r.dst == route.dst && r.prefix_len == route.prefix_len && r.metric == route.metric
                // The local table holds one ff00::/8 per interface.
                && (r.kind != RouteType::Multicast || r.oif == route.oif)
        });
        if clash {
            return Err(errno(libc::EEXIST));
        }
        self.routes.push(route);
        self.invalidate();
        Ok(())
    }

    /// Removes the first route that matches `want` on every field `want` sets.
    pub fn remove_matching(&mut self, matches: impl Fn(&Route) -> bool) -> io::Result<Route> {
        match self.routes.iter().position(matches) {
            Some(i) => {
                self.invalidate();
                Ok(self.routes.remove(i))
            }
            None => Err(errno(libc::ESRCH)),
        }
    }

    pub fn retain(&mut self, keep: impl FnMut(&Route) -> bool) {
        self.routes.retain(keep);
        self.invalidate();
    }

    /// Forgets every cached lookup: the routes changed, or an interface
    /// came, went, or went up or down.
    pub fn invalidate(&mut self) {
        self.generation += 1;
    }

    /// The route Linux would pick for `dst`: the local table first, then main;
    /// in each, the longest prefix, then the lowest metric, then the oldest.
    /// Routes through interfaces that are down are skipped.
    pub fn lookup(&self, dst: IpAddr, view: &impl AddrView) -> Option<&Route> {
        let mut cache = self.cache.get();
        let hit = cache
            .iter()
            .flatten()
            .find(|c| c.dst == dst && c.generation == self.generation);
        if let Some(c) = hit {
            return c.index.and_then(|i| self.routes.get(i));
        }
        let index = self.best(dst, view, |_| true);
        let slot = self.next.get();
        cache[slot] = Some(Cached {
            dst,
            generation: self.generation,
            index,
        });
        self.cache.set(cache);
        self.next.set((slot + 1) % CACHED);
        index.and_then(|i| self.routes.get(i))
    }

    /// `lookup` among the routes `eligible` admits (not cached).
    pub fn lookup_where(
        &self,
        dst: IpAddr,
        view: &impl AddrView,
        eligible: impl Fn(&Route) -> bool,
    ) -> Option<&Route> {
        self.best(dst, view, eligible)
            .and_then(|i| self.routes.get(i))
    }

    /// The index of the route `lookup_where` answers.
    fn best(
        &self,
        dst: IpAddr,
        view: &impl AddrView,
        eligible: impl Fn(&Route) -> bool,
    ) -> Option<usize> {
        for table in [RT_TABLE_LOCAL, RT_TABLE_MAIN] {
            let best = self
                .routes
                .iter()
                .enumerate()
                .filter(|(_, r)| {
                    r.table == table && r.contains(dst) && view.is_up(r.oif) && eligible(r)
                })
                .min_by_key(|(_, r)| (std::cmp::Reverse(r.prefix_len), r.metric));
            if let Some((i, _)) = best {
                return Some(i);
            }
        }
        None
    }

    /// `ip route get DST [from SRC]`.
    pub fn route_get(
        &self,
        dst: IpAddr,
        src: Option<IpAddr>,
        view: &impl AddrView,
    ) -> io::Result<RouteAnswer> {
        if src.is_some_and(|s| s.is_ipv4() != dst.is_ipv4()) {
            return Err(errno(libc::EINVAL));
        }
        match dst {
            IpAddr::V4(d) => self.route_get_v4(d, src, view),
            IpAddr::V6(d) => self.route_get_v6(d, src, view),
        }
    }

    fn route_get_v4(
        &self,
        dst: Ipv4Addr,
        src: Option<IpAddr>,
        view: &impl AddrView,
    ) -> io::Result<RouteAnswer> {
        // ip_route_output_key_hash_rcu: a source must be a usable local address.
        if let Some(IpAddr::V4(s)) = src {
            if s.is_multicast() || s.is_broadcast() || s.is_unspecified() {
                return Err(errno(libc::EINVAL));
            }
            if !view.addrs().iter().any(|a| a.addr == IpAddr::V4(s)) {
                return Err(errno(libc::ENETUNREACH));
            }
        }
        let route = self
            .lookup(IpAddr::V4(dst), view)
            .ok_or_else(|| errno(libc::ENETUNREACH))?;
        let lo = view.loopback_index();
        if let Some(IpAddr::V4(s)) = src {
            // __mkroute_output: a loopback source may not leave through a real device.
            if s.is_loopback() && route.kind != RouteType::Local && route.oif != lo {
                return Err(errno(libc::EINVAL));
            }
        }
        let mut kind = route.kind;
        let mut gateway = route.gateway;
        if dst.is_broadcast() {
            kind = RouteType::Broadcast;
            gateway = None;
        } else if dst.is_multicast() {
            kind = RouteType::Multicast;
            gateway = None;
        }
        let (oif, prefsrc) = if kind == RouteType::Local {
            (lo, route.prefsrc.unwrap_or(IpAddr::V4(dst)))
        } else {
            let scope = if route.gateway.is_some() {
                rt_scope::LINK
            } else {
                rt_scope::HOST
            };
            let toward = route.gateway.unwrap_or(IpAddr::V4(dst));
            let chosen = route
                .prefsrc
                .or_else(|| select_source_v4(route.oif, toward, scope, view));
            (route.oif, chosen.ok_or_else(|| errno(libc::EINVAL))?)
        };
        Ok(RouteAnswer {
            dst: IpAddr::V4(dst),
            src,
            kind,
            oif,
            prefsrc: src.unwrap_or(prefsrc),
            gateway,
            table: if route.table == RT_TABLE_LOCAL && kind == RouteType::Local {
                RT_TABLE_LOCAL
            } else {
                RT_TABLE_MAIN
            },
            metric: route.metric,
            protocol: route.protocol,
        })
    }

    fn route_get_v6(
        &self,
        dst: Ipv6Addr,
        src: Option<IpAddr>,
        view: &impl AddrView,
    ) -> io::Result<RouteAnswer> {
        let route = self
            .lookup(IpAddr::V6(dst), view)
            .ok_or_else(|| errno(libc::ENETUNREACH))?;
        let lo = view.loopback_index();
        let oif = if route.kind == RouteType::Local {
            lo
        } else {
            route.oif
        };
        // Linux reports the selected source even when `from` is given.
        let prefsrc = match route.prefsrc {
            Some(p) => p,
            None if route.kind == RouteType::Local => IpAddr::V6(dst),
            None => IpAddr::V6(
                select_source_v6(dst, route.oif, view).ok_or_else(|| errno(libc::EADDRNOTAVAIL))?,
            ),
        };
        Ok(RouteAnswer {
            dst: IpAddr::V6(dst),
            src,
            kind: route.kind,
            oif,
            prefsrc,
            gateway: route.gateway,
            table: route.table,
            metric: route.metric,
            protocol: route.protocol,
        })
    }
}

fn addr_key(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(a) => u32::from(a).into(),
        IpAddr::V6(a) => a.into(),
    }
}

/// inet_select_addr: on `oif`, the first primary address whose subnet holds
/// `toward`, else its first primary address; failing both, the first primary
/// address of any other interface that is neither link- nor wider-scoped than
/// `scope` allows.
pub fn select_source_v4(
    oif: u32,
    toward: IpAddr,
    scope: u8,
    view: &impl AddrView,
) -> Option<IpAddr> {
    let primary_v4 = |a: &&InterfaceAddr| a.addr.is_ipv4() && !a.is_secondary() && a.scope <= scope;
    let on_dev: Vec<&InterfaceAddr> = view
        .addrs()
        .iter()
        .filter(|a| a.ifindex == oif)
        .filter(primary_v4)
        .collect();
    if let Some(a) = on_dev
        .iter()
        .find(|a| mask_addr(a.addr, a.prefix_len) == mask_addr(toward, a.prefix_len))
    {
        return Some(a.addr);
    }
    if let Some(a) = on_dev.first() {
        return Some(a.addr);
    }
    view.addrs()
        .iter()
        .filter(primary_v4)
        .find(|a| a.ifindex != oif && a.scope != rt_scope::LINK)
        .map(|a| a.addr)
}

/// IPv6 address scope as RFC 4007 numbers it (and Linux's __ipv6_addr_type).
fn scope_v6(a: &Ipv6Addr) -> u8 {
    let seg = a.segments();
    if a.is_multicast() {
        return (seg[0] & 0x000f) as u8;
    }
    if a.is_loopback() {
        1
    } else if seg[0] & 0xffc0 == 0xfe80 {
        2
    } else if seg[0] & 0xffc0 == 0xfec0 {
        5
    } else {
        14
    }
}

/// The label of RFC 6724's default policy table, as Linux's ip6addrlbl has it.
fn label_v6(a: &Ipv6Addr) -> u8 {
    const TABLE: &[(u128, u8, u8)] = &[
        (0x0000_0000_0000_0000_0000_0000_0000_0001, 128, 0),
        (0x0000_0000_0000_0000_0000_ffff_0000_0000, 96, 4),
        (0x0000_0000_0000_0000_0000_0000_0000_0000, 96, 3),
        (0x2001_0000_0000_0000_0000_0000_0000_0000, 32, 6),
        (0x2001_0010_0000_0000_0000_0000_0000_0000, 28, 7),
        (0x2001_0020_0000_0000_0000_0000_0000_0000, 28, 7),
        (0x2002_0000_0000_0000_0000_0000_0000_0000, 16, 2),
        (0x3ffe_0000_0000_0000_0000_0000_0000_0000, 16, 12),
        (0xfc00_0000_0000_0000_0000_0000_0000_0000, 7, 5),
        (0xfec0_0000_0000_0000_0000_0000_0000_0000, 10, 11),
    ];
    let v = u128::from(*a);
    TABLE
        .iter()
        .filter(|(net, len, _)| {
            let mask = if *len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(*len))
            };
            v & mask == *net
        })
        .max_by_key(|(_, len, _)| *len)
        .map_or(1, |(_, _, label)| *label)
}

/// ipv6_dev_get_saddr, RFC 6724 rules 1, 2, 5, 6 and 8 (sandnet has no
/// deprecated, home or temporary addresses, so rules 3, 4 and 7 never decide).
pub fn select_source_v6(dst: Ipv6Addr, oif: u32, view: &impl AddrView) -> Option<Ipv6Addr> {
    let dst_scope = scope_v6(&dst);
    let dst_label = label_v6(&dst);
    // Link- and interface-scoped destinations take a source from the outgoing interface only.
    let only_oif = dst_scope <= 2;
    // Linux walks devices in ifindex order and, within one, newer addresses of
    // a scope first; the first best candidate wins.
    view.addrs()
        .iter()
        .enumerate()
        .filter_map(|(pos, a)| match a.addr {
            IpAddr::V6(v6) if (!only_oif || a.ifindex == oif) && view.is_up(a.ifindex) => {
                let sx = scope_v6(&v6);
                let rank = (
                    v6 == dst,
                    // Rule 2: the smallest scope that still reaches dst; below it, the largest.
                    if sx >= dst_scope {
                        (1, u8::MAX - sx)
                    } else {
                        (0, sx)
                    },
                    a.ifindex == oif,
                    label_v6(&v6) == dst_label,
                    common_prefix_len(IpAddr::V6(v6), IpAddr::V6(dst)).min(a.prefix_len),
                    std::cmp::Reverse(a.ifindex),
                    pos,
                );
                Some((rank, v6))
            }
            _ => None,
        })
        .max_by(|x, y| x.0.cmp(&y.0))
        .map(|(_, a)| a)
}

/// The routes Linux installs for an address: a connected prefix route in main
/// (IPv4 and IPv6), and in local the address itself plus, for IPv4, the subnet
/// broadcast and, on loopback, the whole prefix as local.
pub fn address_routes(a: &InterfaceAddr, primary: Option<IpAddr>, is_loopback: bool) -> Vec<Route> {
    let mut out = Vec::new();
    let net = mask_addr(a.addr, a.prefix_len);
    match a.addr {
        IpAddr::V4(_) => {
            let src = Some(primary.unwrap_or(a.addr));
            let kernel = |dst, prefix_len, table, kind, scope| Route {
                dst,
                prefix_len,
                gateway: None,
                oif: a.ifindex,
                metric: 0,
                table,
                kind,
                scope,
                protocol: rtprot::KERNEL,
                prefsrc: src,
            };
            out.push(kernel(
                a.addr,
                32,
                RT_TABLE_LOCAL,
                RouteType::Local,
                rt_scope::HOST,
            ));
            if a.prefix_len < 32 && !a.is_secondary() {
                if is_loopback {
                    out.push(kernel(
                        net,
                        a.prefix_len,
                        RT_TABLE_LOCAL,
                        RouteType::Local,
                        rt_scope::HOST,
                    ));
                } else {
                    out.push(kernel(
                        net,
                        a.prefix_len,
                        RT_TABLE_MAIN,
                        RouteType::Unicast,
                        rt_scope::LINK,
                    ));
                }
            }
            if let (Some(brd), false) = (a.broadcast(), a.is_secondary()) {
                out.push(kernel(
                    brd,
                    32,
                    RT_TABLE_LOCAL,
                    RouteType::Broadcast,
                    rt_scope::LINK,
                ));
            }
        }
        IpAddr::V6(_) => {
            out.push(Route {
                dst: a.addr,
                prefix_len: 128,
                gateway: None,
                oif: a.ifindex,
                metric: 0,
                table: RT_TABLE_LOCAL,
                kind: RouteType::Local,
                scope: rt_scope::UNIVERSE,
                protocol: rtprot::KERNEL,
                prefsrc: None,
            });
            if a.prefix_len < 128 {
                out.push(Route {
                    dst: net,
                    prefix_len: a.prefix_len,
                    gateway: None,
                    oif: a.ifindex,
                    metric: IP6_RT_PRIO_ADDRCONF,
                    table: RT_TABLE_MAIN,
                    kind: RouteType::Unicast,
                    scope: rt_scope::UNIVERSE,
                    protocol: rtprot::KERNEL,
                    prefsrc: None,
                });
            }
        }
    }
    out
}

/// The ff00::/8 multicast route Linux puts in the local table for every
/// non-loopback interface that is up.
pub fn multicast_route(ifindex: u32) -> Route {
    Route {
        dst: IpAddr::V6(Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0)),
        prefix_len: 8,
        gateway: None,
        oif: ifindex,
        metric: IP6_RT_PRIO_ADDRCONF,
        table: RT_TABLE_LOCAL,
        kind: RouteType::Multicast,
        scope: rt_scope::UNIVERSE,
        protocol: rtprot::KERNEL,
        prefsrc: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// Interfaces 1-9 exist; those in `down` are down.
    struct View {
        down: RefCell<Vec<u32>>,
    }

    impl AddrView for View {
        fn addrs(&self) -> &[InterfaceAddr] {
            &[]
        }

        fn is_up(&self, ifindex: u32) -> bool {
            (1..10).contains(&ifindex) && !self.down.borrow().contains(&ifindex)
        }
    }

    fn route(dst: &str, prefix_len: u8, oif: u32) -> Route {
        Route {
            dst: dst.parse().unwrap(),
            prefix_len,
            gateway: None,
            oif,
            metric: 0,
            table: RT_TABLE_MAIN,
            kind: RouteType::Unicast,
            scope: rt_scope::LINK,
            protocol: rtprot::KERNEL,
            prefsrc: None,
        }
    }

    #[test]
    fn cached_lookups_follow_every_change() {
        let view = View {
            down: RefCell::new(Vec::new()),
        };
        let mut t = RouteTable::default();
        let dst: IpAddr = "10.0.0.5".parse().unwrap();
        let oif = |t: &RouteTable| t.lookup(dst, &view).map(|r| r.oif);
        assert_eq!(oif(&t), None);
        t.insert(route("10.0.0.0", 8, 2)).unwrap();
        assert_eq!(oif(&t), Some(2));
        assert_eq!(oif(&t), Some(2), "from the cache");
        t.insert(route("10.0.0.0", 24, 3)).unwrap();
        assert_eq!(oif(&t), Some(3), "a longer prefix added");
        // Other destinations come and go through the cache's few slots.
        for i in 0..2 * CACHED as u8 {
            let other = IpAddr::from([10, 1, 0, i]);
            assert_eq!(t.lookup(other, &view).map(|r| r.oif), Some(2));
        }
        view.down.borrow_mut().push(3);
        t.invalidate();
        assert_eq!(oif(&t), Some(2), "its interface went down");
        t.retain(|r| r.oif != 2);
        assert_eq!(oif(&t), None, "the rest removed");
        view.down.borrow_mut().clear();
        t.invalidate();
        assert_eq!(oif(&t), Some(3), "back up");
        t.remove_matching(|r| r.prefix_len == 24).unwrap();
        assert_eq!(oif(&t), None);
    }
}
