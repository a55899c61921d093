//! Everything a stack keeps, behind the stack's one lock: NICs, addresses,
//! routes, counters, and the smoltcp interface and sockets.

use crate::device::Router;
use crate::error::errno;
use crate::inet::{
    ifa_flags, mask_addr, max_prefix_len, rt_scope, InterfaceAddr, Route, RouteSpec, RouteType,
    Snapshot, Snmp6Stats, SnmpStats, Statistics, RT_TABLE_MAIN,
};
use crate::link::{Link, Packet};
use crate::nic::{valid_name, Nic};
use crate::route::{address_routes, multicast_route, AddrView, RouteTable, IP6_RT_PRIO_USER};
use crate::socket::set::Sockets;
use crate::socket::SocketTable;
use smoltcp::iface::{Config, Interface as SmolIface};
use smoltcp::wire::{HardwareAddress, IpCidr};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// How many addresses one stack holds: smoltcp's compile-time cap, set in
/// .cargo/config.toml.
pub const MAX_ADDRS: usize = 64;
pub const LOOPBACK_INDEX: u32 = 1;

pub(crate) struct State {
    pub nics: BTreeMap<u32, Nic>,
    next_ifindex: u32,
    pub addrs: Vec<InterfaceAddr>,
    pub routes: RouteTable,
    pub snmp: SnmpStats,
    pub snmp6: Snmp6Stats,
    pub iface: SmolIface,
    pub sockets: Sockets,
    /// Received bytes held back from smoltcp's queues so that their windows
    /// never shrink (socket/carry.rs).
    pub carries: crate::socket::carry::Carries,
    /// Connections whose received bytes go to the program in the round
    /// (socket/sink.rs).
    pub sinks: crate::socket::sink::Sinks,
    /// Connections whose send buffers the program fills in the round
    /// (socket/source.rs).
    pub sources: crate::socket::source::Sources,
    /// While the poll thread runs a round: packets for TUN devices, written
    /// after it releases the lock (`Link::send_or_defer`).
    pub tun_out: Option<Vec<crate::link::Deferred>>,
    /// While the poll thread runs a round in ppoll mode: what it read from
    /// the pollable links (TUN devices, pipes) before taking the lock
    /// (`link::Input`), by ifindex. The round then leaves those links alone.
    pub tun_in: Option<Vec<(u32, Packet, bool)>>,
    /// Orders the writes to TUN devices of the poll thread's rounds and of
    /// writes that send on their own thread (`poll::send_here`): taken
    /// before the lock is released, so that packets reach the devices in
    /// the order of the critical sections that emitted them and no
    /// connection's segments are reordered on the wire.
    pub tun_order: std::sync::Arc<std::sync::Mutex<()>>,
    /// When the poll thread wakes by itself (None: only for a packet or a
    /// call), as its timer last said.
    pub poll_deadline: Option<smoltcp::time::Instant>,
    /// What the socket call that holds the lock asks of the poll thread
    /// once it completes; `Stack::after_call` does it and resets it.
    pub after_call: crate::poll::AfterCall,
    /// Who watches the TUN devices: the poll thread, or a call it lent them to.
    pub lease: crate::drive::Lease,
    /// Rounds run by calls that drove the devices.
    pub driven: u64,
    /// How long the program stays away between its TCP reads.
    pub away: crate::drive::Away,
    /// Packets accepted by ingress, waiting for smoltcp.
    pub ingress: VecDeque<Packet>,
    /// Packets smoltcp emitted, waiting to be routed.
    pub egress: Vec<Packet>,
    /// The previous round's emitted packets, emptied: swapped with `egress`
    /// each round so that neither queue is reallocated.
    pub routing: Vec<Packet>,
    /// NIC indexes and their links' kinds, refilled each round (a reused
    /// allocation).
    pub rx_order: Vec<(u32, crate::link::LinkKind)>,
    /// The device's record of what sockets sent in one poll (device.rs),
    /// kept here so that its table is allocated once.
    pub repeats: crate::device::Repeats,
    /// Bumped whenever the set of links changes, so the poll thread re-reads it.
    pub generation: u64,
    /// The generation whose links the poll thread waits on: until it has
    /// caught up, it may still be in poll(2) on a removed device's fd, and
    /// the kernel keeps that device until the call returns.
    pub links_seen: u64,
    /// Socket calls blocked until their socket changes.
    pub waiters: crate::waiters::Waiters,
    pub shutdown: bool,
    /// In the last poll round a socket repeated a packet (device.rs): the
    /// poll thread's timer waits before the next round.
    pub stalled: bool,
    /// Poll-loop iterations: how often the poll thread woke.
    pub wakeups: u64,
    /// When the last round ran (`socket::quickack_after_idle`).
    pub last_round: Option<smoltcp::time::Instant>,
    pub epoch: std::time::Instant,
    /// A stack driven by hand (`Stack::new_manual`) runs on this clock, in
    /// microseconds since `epoch`, instead of the wall clock.
    #[cfg(feature = "fuzzing")]
    pub manual_clock: Option<i64>,
    pub table: SocketTable,
    /// Highest sequence number sent per connection (local, remote), to tell
    /// retransmissions apart.
    pub tcp_sent: HashMap<(SocketAddr, SocketAddr), u32, crate::fasthash::Seeded>,
    /// When orphans that reached FIN_WAIT2 give up waiting for their peer
    /// (stack clock, microseconds), earliest first, with the orphan's close
    /// time to tell it from a later socket in the same slot (track.rs).
    pub fin_timers:
        std::collections::BinaryHeap<std::cmp::Reverse<(i64, crate::socket::SocketHandle, i64)>>,
    /// Rate limits on the ICMP errors the stack sends.
    pub icmp_limit: crate::ratelimit::IcmpLimiter,
    rng: u64,
    ip_id: u16,
}

impl AddrView for State {
    fn addrs(&self) -> &[InterfaceAddr] {
        &self.addrs
    }

    fn is_up(&self, ifindex: u32) -> bool {
        self.nics.get(&ifindex).is_some_and(|n| n.up)
    }
}

impl State {
    pub fn new() -> io::Result<State> {
        State::with_seed(random_seed())
    }

    /// A stack whose random choices (ISNs, ephemeral ports, IP ids) all follow `seed`.
    pub fn with_seed(seed: u64) -> io::Result<State> {
        let mut ingress = VecDeque::new();
        let mut egress = Vec::new();
        let mut config = Config::new(HardwareAddress::Ip);
        config.random_seed = seed;
        let epoch = std::time::Instant::now();
        let iface = {
            let mut sent = crate::device::Repeats::new(0);
            let mut dev = Router::new(&mut ingress, &mut egress, &mut sent, 65535);
            SmolIface::new(config, &mut dev, smoltcp::time::Instant::from_micros(0))
        };
        let mut state = State {
            nics: BTreeMap::new(),
            next_ifindex: LOOPBACK_INDEX,
            addrs: Vec::new(),
            routes: RouteTable::default(),
            snmp: SnmpStats::default(),
            snmp6: Snmp6Stats::default(),
            iface,
            sockets: Sockets::new(),
            carries: Default::default(),
            sinks: Default::default(),
            sources: Default::default(),
            tun_out: None,
            tun_in: None,
            tun_order: Default::default(),
            poll_deadline: None,
            lease: Default::default(),
            away: Default::default(),
            driven: 0,
            after_call: Default::default(),
            ingress,
            egress,
            routing: Vec::new(),
            rx_order: Vec::new(),
            repeats: crate::device::Repeats::new(seed.rotate_left(17)),
            generation: 0,
            links_seen: 0,
            waiters: Default::default(),
            shutdown: false,
            stalled: false,
            wakeups: 0,
            last_round: None,
            epoch,
            #[cfg(feature = "fuzzing")]
            manual_clock: None,
            table: SocketTable::new(crate::os::geteuid()),
            tcp_sent: HashMap::with_hasher(crate::fasthash::Seeded::new(seed.rotate_left(41))),
            fin_timers: std::collections::BinaryHeap::new(),
            icmp_limit: Default::default(),
            rng: seed | 1,
            ip_id: seed as u16,
        };
        // smoltcp's own routing only has to consider every destination reachable;
        // the stack's table decides where each packet really goes.
        let routes = state.iface.routes_mut();
        let _ = routes.add_default_ipv4_route(Ipv4Addr::new(0, 0, 0, 1));
        let _ = routes.add_default_ipv6_route(Ipv6Addr::LOCALHOST);
        let lo = state.add_nic("lo", Link::loopback())?;
        state.add_address(lo, IpAddr::V4(Ipv4Addr::LOCALHOST), 8)?;
        state.add_address(lo, IpAddr::V6(Ipv6Addr::LOCALHOST), 128)?;
        Ok(state)
    }

    /// xorshift64: ephemeral ports need to be hard to guess, not cryptographic.
    pub fn random_u32(&mut self) -> u32 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        (x >> 32) as u32
    }

    pub fn next_ip_id(&mut self) -> u16 {
        self.ip_id = self.ip_id.wrapping_add(1);
        self.ip_id
    }

    /// Whether `addr` is one of the stack's own addresses (or loopback).
    pub fn is_local(&self, addr: IpAddr) -> bool {
        addr.is_loopback() || self.addrs.iter().any(|a| a.addr == addr)
    }

    pub fn now(&self) -> smoltcp::time::Instant {
        #[cfg(feature = "fuzzing")]
        if let Some(micros) = self.manual_clock {
            return smoltcp::time::Instant::from_micros(micros);
        }
        smoltcp::time::Instant::from_micros(self.epoch.elapsed().as_micros() as i64)
    }

    fn nic(&self, ifindex: u32) -> io::Result<&Nic> {
        self.nics.get(&ifindex).ok_or_else(|| errno(libc::ENODEV))
    }

    fn nic_mut(&mut self, ifindex: u32) -> io::Result<&mut Nic> {
        self.nics
            .get_mut(&ifindex)
            .ok_or_else(|| errno(libc::ENODEV))
    }

    /// Largest MTU of the NICs that are up: what smoltcp may emit at most.
    pub fn max_mtu(&self) -> usize {
        self.nics
            .values()
            .filter(|n| n.up)
            .map(|n| n.mtu as usize)
            .max()
            .unwrap_or(1500)
            // lo's 65536 cannot be one IP packet.
            .min(65535)
    }

    pub fn add_nic(&mut self, name: &str, link: Link) -> io::Result<u32> {
        if !valid_name(name) {
            return Err(errno(libc::EINVAL));
        }
        if self.nics.values().any(|n| n.name == name) {
            return Err(errno(libc::EEXIST));
        }
        let index = self.next_ifindex;
        self.next_ifindex += 1;
        let mtu = link.kind().default_mtu();
        self.nics.insert(
            index,
            Nic {
                index,
                name: name.to_string(),
                up: false,
                mtu,
                link,
            },
        );
        self.generation += 1;
        self.set_up(index, true)?;
        Ok(index)
    }

    /// Detaches a NIC and hands it back: the caller drops it (its link, a
    /// TUN device with it) once no round is still writing to it.
    pub fn remove_nic(&mut self, ifindex: u32) -> io::Result<Nic> {
        if self.nic(ifindex)?.is_loopback() {
            return Err(errno(libc::EOPNOTSUPP));
        }
        self.routes.retain(|r| r.oif != ifindex);
        self.addrs.retain(|a| a.ifindex != ifindex);
        let nic = self.nics.remove(&ifindex).ok_or(errno(libc::ENODEV))?;
        self.routes.invalidate();
        self.generation += 1;
        self.sync_smoltcp_addrs();
        Ok(nic)
    }

    /// Up: the NIC's address routes (and ff00::/8) come back. Down: every
    /// route through it goes, as Linux flushes them, except the IPv4 local
    /// routes of its addresses (fib_sync_down_dev skips host-scope nexthops:
    /// the addresses stay local); addresses stay.
    pub fn set_up(&mut self, ifindex: u32, up: bool) -> io::Result<()> {
        let nic = self.nic_mut(ifindex)?;
        if nic.up == up {
            return Ok(());
        }
        nic.up = up;
        let is_loopback = nic.is_loopback();
        self.routes.invalidate();
        if up {
            if !is_loopback {
                self.routes.insert(multicast_route(ifindex))?;
            }
            let addrs: Vec<InterfaceAddr> = self
                .addrs
                .iter()
                .filter(|a| a.ifindex == ifindex)
                .cloned()
                .collect();
            for a in &addrs {
                self.install_address_routes(a, is_loopback);
            }
        } else {
            self.routes.retain(|r| {
                r.oif != ifindex
                    || (r.is_ipv4()
                        && r.table == crate::inet::RT_TABLE_LOCAL
                        && r.kind == RouteType::Local)
            });
        }
        Ok(())
    }

    pub fn set_mtu(&mut self, ifindex: u32, mtu: u32) -> io::Result<()> {
        let nic = self.nic_mut(ifindex)?;
        // Linux's limits: at least IPv4's minimum of 68; at most what the link type allows.
        let max = if nic.is_loopback() { 65536 } else { 65535 };
        if !(68..=max).contains(&mtu) {
            return Err(errno(libc::EINVAL));
        }
        nic.mtu = mtu;
        Ok(())
    }

    fn primary_v4(&self, ifindex: u32, addr: IpAddr, prefix_len: u8) -> Option<IpAddr> {
        self.addrs
            .iter()
            .find(|a| {
                a.ifindex == ifindex
                    && a.addr.is_ipv4()
                    && !a.is_secondary()
                    && a.prefix_len == prefix_len
                    && mask_addr(a.addr, prefix_len) == mask_addr(addr, prefix_len)
            })
            .map(|a| a.addr)
    }

    pub fn add_address(&mut self, ifindex: u32, addr: IpAddr, prefix_len: u8) -> io::Result<()> {
        let nic = self.nic(ifindex)?;
        let (is_loopback, up, label) = (nic.is_loopback(), nic.up, nic.name.clone());
        if prefix_len > max_prefix_len(&addr) || !usable_address(&addr) {
            return Err(errno(libc::EINVAL));
        }
        if self
            .addrs
            .iter()
            .any(|a| a.ifindex == ifindex && a.addr == addr)
        {
            return Err(errno(libc::EEXIST));
        }
        if self.addrs.len() >= MAX_ADDRS {
            return Err(errno(libc::ENOSPC));
        }
        let primary = if addr.is_ipv4() {
            self.primary_v4(ifindex, addr, prefix_len)
        } else {
            None
        };
        let mut flags = ifa_flags::PERMANENT;
        if primary.is_some() {
            flags |= ifa_flags::SECONDARY;
        }
        // Linux runs no DAD on a loopback device and leaves its addresses
        // (::1 among them) PERMANENT only; elsewhere sandnet's addresses are
        // as the kernel's added with `nodad`.
        if addr.is_ipv6() && !is_loopback {
            flags |= ifa_flags::NODAD;
        }
        let scope = match addr {
            IpAddr::V4(a) if a.is_loopback() => rt_scope::HOST,
            IpAddr::V6(a) if a.is_loopback() => rt_scope::HOST,
            IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80 => rt_scope::LINK,
            _ => rt_scope::UNIVERSE,
        };
        let entry = InterfaceAddr {
            ifindex,
            addr,
            prefix_len,
            flags,
            scope,
            label,
        };
        if up {
            self.install_address_routes(&entry, is_loopback);
        }
        self.addrs.push(entry);
        self.sync_smoltcp_addrs();
        Ok(())
    }

    fn install_address_routes(&mut self, a: &InterfaceAddr, is_loopback: bool) {
        let primary = if a.is_secondary() {
            self.primary_v4(a.ifindex, a.addr, a.prefix_len)
        } else {
            None
        };
        for r in address_routes(a, primary, is_loopback) {
            // Two NICs may hold the same prefix; Linux keeps the first route.
            let _ = self.routes.insert(r);
        }
    }

    /// Removes an address, its routes, and (as Linux does without
    /// promote_secondaries) the secondaries of a removed primary.
    pub fn remove_address(&mut self, ifindex: u32, addr: IpAddr, prefix_len: u8) -> io::Result<()> {
        self.nic(ifindex)?;
        let pos = self
            .addrs
            .iter()
            .position(|a| a.ifindex == ifindex && a.addr == addr && a.prefix_len == prefix_len)
            .ok_or_else(|| errno(libc::EADDRNOTAVAIL))?;
        let removed = self.addrs.remove(pos);
        let mut gone = vec![removed.clone()];
        if removed.addr.is_ipv4() && !removed.is_secondary() {
            let net = mask_addr(removed.addr, removed.prefix_len);
            let (secondaries, keep): (Vec<_>, Vec<_>) = self.addrs.drain(..).partition(|a| {
                a.ifindex == ifindex
                    && a.is_secondary()
                    && a.prefix_len == removed.prefix_len
                    && mask_addr(a.addr, a.prefix_len) == net
            });
            self.addrs = keep;
            gone.extend(secondaries);
        }
        // A route another address of the NIC still brings stays (an IPv6 prefix
        // route shared by two addresses, as check_cleanup_prefix_route keeps it).
        let still: Vec<Route> = self
            .addrs
            .iter()
            .filter(|a| a.ifindex == ifindex)
            .flat_map(|a| {
                address_routes(a, None, true)
                    .into_iter()
                    .chain(address_routes(a, None, false))
            })
            .collect();
        for a in &gone {
            let owned = address_routes(a, None, true)
                .into_iter()
                .chain(address_routes(a, None, false))
                .filter(|o| {
                    !still.iter().any(|k| {
                        k.dst == o.dst && k.prefix_len == o.prefix_len && k.table == o.table
                    })
                });
            let owned: Vec<Route> = owned.collect();
            self.routes.retain(|r| {
                !(r.oif == ifindex
                    && r.protocol == crate::inet::rtprot::KERNEL
                    && owned.iter().any(|o| {
                        o.dst == r.dst && o.prefix_len == r.prefix_len && o.table == r.table
                    }))
            });
        }
        self.sync_smoltcp_addrs();
        Ok(())
    }

    pub fn add_route(&mut self, spec: &RouteSpec) -> io::Result<()> {
        if spec.prefix_len > max_prefix_len(&spec.dst) {
            return Err(errno(libc::EINVAL));
        }
        if spec
            .gateway
            .is_some_and(|g| g.is_ipv4() != spec.dst.is_ipv4())
            || spec
                .prefsrc
                .is_some_and(|s| s.is_ipv4() != spec.dst.is_ipv4())
        {
            return Err(errno(libc::EINVAL));
        }
        if let Some(oif) = spec.oif {
            self.nic(oif)?;
        }
        let (oif, scope) = match spec.gateway {
            Some(gw) => (self.gateway_oif(gw, spec.oif)?, rt_scope::UNIVERSE),
            None => (spec.oif.ok_or_else(|| errno(libc::EINVAL))?, rt_scope::LINK),
        };
        if let Some(src) = spec.prefsrc {
            // fib_create_info: a preferred source must be one of the stack's addresses.
            if !self.addrs.iter().any(|a| a.addr == src) {
                return Err(errno(libc::EINVAL));
            }
        }
        let metric = match (spec.metric, spec.dst) {
            (Some(m), IpAddr::V4(_)) => m,
            (None, IpAddr::V4(_)) => 0,
            (Some(0) | None, IpAddr::V6(_)) => IP6_RT_PRIO_USER,
            (Some(m), IpAddr::V6(_)) => m,
        };
        self.routes.insert(Route {
            dst: mask_addr(spec.dst, spec.prefix_len),
            prefix_len: spec.prefix_len,
            gateway: spec.gateway,
            oif,
            metric,
            table: RT_TABLE_MAIN,
            kind: RouteType::Unicast,
            scope: if spec.dst.is_ipv6() {
                rt_scope::UNIVERSE
            } else {
                scope
            },
            protocol: spec.protocol,
            prefsrc: spec.prefsrc,
        })
    }

    /// The interface a gateway is reached through: fib_check_nh_v4_gw (IPv4:
    /// ENETUNREACH when no route, EINVAL when the route is not unicast or local)
    /// and ip6_validate_gw (IPv6: EHOSTUNREACH).
    fn gateway_oif(&self, gw: IpAddr, oif: Option<u32>) -> io::Result<u32> {
        let unreachable = if gw.is_ipv4() {
            libc::ENETUNREACH
        } else {
            libc::EHOSTUNREACH
        };
        // fib_check_nh_v4_gw looks the gateway up at link scope or narrower:
        // it must be on a connected prefix, not behind another gateway.
        let route = self
            .routes
            .lookup_where(gw, self, |r| gw.is_ipv6() || r.scope >= rt_scope::LINK)
            .ok_or_else(|| errno(unreachable))?;
        match (gw, route.kind) {
            (IpAddr::V4(_), RouteType::Unicast | RouteType::Local) => {}
            (IpAddr::V4(_), _) => return Err(errno(libc::EINVAL)),
            (IpAddr::V6(_), RouteType::Unicast) if route.gateway.is_none() => {}
            (IpAddr::V6(_), _) => return Err(errno(libc::EHOSTUNREACH)),
        }
        let via = route.oif;
        match oif {
            Some(o) if o != via && route.kind != RouteType::Local => Err(errno(unreachable)),
            Some(o) => Ok(o),
            None => Ok(via),
        }
    }

    pub fn remove_route(&mut self, spec: &RouteSpec) -> io::Result<()> {
        let dst = mask_addr(spec.dst, spec.prefix_len);
        self.routes
            .remove_matching(|r| {
                r.table == RT_TABLE_MAIN
                    && r.dst == dst
                    && r.prefix_len == spec.prefix_len
                    && spec.gateway.is_none_or(|g| r.gateway == Some(g))
                    && spec.oif.is_none_or(|o| r.oif == o)
                    && spec.metric.is_none_or(|m| r.metric == m)
            })
            .map(|_| ())
    }

    /// smoltcp accepts packets for the stack's addresses; keep its list equal to ours.
    fn sync_smoltcp_addrs(&mut self) {
        let addrs: Vec<IpCidr> = self
            .addrs
            .iter()
            .map(|a| IpCidr::new(a.addr.into(), a.prefix_len))
            .collect();
        // smoltcp resets a connection whose source address went: it must see them all.
        self.sockets.unpark_all();
        self.iface.update_ip_addrs(|v| {
            v.clear();
            for c in addrs {
                // MAX_ADDRS equals smoltcp's capacity, checked before adding.
                let _ = v.push(c);
            }
        });
    }

    pub fn statistics(&self) -> Statistics {
        let mut snmp = self.snmp.clone();
        snmp.tcp.CurrEstab = crate::socket::curr_estab(self);
        let mut snmp6 = self.snmp6;
        crate::stats::fold_icmp_msg(&mut snmp, &mut snmp6);
        Statistics {
            dev: self
                .nics
                .values()
                .map(|n| (n.index, n.link.stats()))
                .collect(),
            snmp,
            snmp6,
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        let mut addrs = self.addrs.clone();
        addrs.sort_by_key(|a| a.ifindex);
        Snapshot {
            interfaces: self.nics.values().map(Nic::interface).collect(),
            addrs,
            routes: self.routes.sorted(),
            stats: self.statistics(),
            sockets: crate::socket::socket_rows(self),
            foreign: Vec::new(),
        }
    }
}

/// Addresses Linux would refuse or that cannot be a host's own: unspecified,
/// multicast, and IPv4's limited broadcast. (Linux accepts the IPv4 ones;
/// sandnet refuses them, since no socket could use them.)
fn usable_address(addr: &IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => !a.is_unspecified() && !a.is_multicast() && !a.is_broadcast(),
        IpAddr::V6(a) => !a.is_unspecified() && !a.is_multicast(),
    }
}

fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}
