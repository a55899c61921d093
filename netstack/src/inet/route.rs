use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const RT_TABLE_MAIN: u32 = 254;
pub const RT_TABLE_LOCAL: u32 = 255;

/// Linux's `RT_SCOPE_*`.
pub mod rt_scope {
    pub const UNIVERSE: u8 = 0;
    pub const LINK: u8 = 253;
    pub const HOST: u8 = 254;
}

/// Linux's `RTPROT_*`: who installed a route.
pub mod rtprot {
    pub const UNSPEC: u8 = 0;
    /// Installed by the stack itself for an address (connected and local routes).
    pub const KERNEL: u8 = 2;
    /// Installed by configuration: what `ip route add` sets when no protocol is named.
    pub const BOOT: u8 = 3;
    pub const STATIC: u8 = 4;
}

/// Linux's `RTN_*` route types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RouteType {
    Unicast = 1,
    Local = 2,
    Broadcast = 3,
    Multicast = 5,
}

/// One entry of a routing table, in Linux's model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub dst: IpAddr,
    pub prefix_len: u8,
    pub gateway: Option<IpAddr>,
    /// Output interface index.
    pub oif: u32,
    /// Priority; lower wins between routes of equal prefix.
    pub metric: u32,
    /// `RT_TABLE_MAIN` or `RT_TABLE_LOCAL`.
    pub table: u32,
    pub kind: RouteType,
    /// `rt_scope::*`.
    pub scope: u8,
    /// `rtprot::*`.
    pub protocol: u8,
    /// Preferred source address (`src` in `ip route`).
    pub prefsrc: Option<IpAddr>,
}

impl Route {
    pub fn family(&self) -> u16 {
        super::family_of(&self.dst)
    }

    pub fn is_ipv4(&self) -> bool {
        self.dst.is_ipv4()
    }

    pub fn contains(&self, addr: IpAddr) -> bool {
        super::prefix_contains(self.dst, self.prefix_len, addr)
    }
}

/// A route to add or remove, as `ip route add|del` takes it. Unset fields take
/// Linux's defaults: the output interface from the gateway's route, metric 0
/// for IPv4 and 1024 for IPv6, protocol `boot`, the main table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteSpec {
    pub dst: IpAddr,
    pub prefix_len: u8,
    pub gateway: Option<IpAddr>,
    pub oif: Option<u32>,
    pub metric: Option<u32>,
    pub prefsrc: Option<IpAddr>,
    pub protocol: u8,
}

impl RouteSpec {
    pub fn new(dst: IpAddr, prefix_len: u8) -> Self {
        RouteSpec {
            dst,
            prefix_len,
            gateway: None,
            oif: None,
            metric: None,
            prefsrc: None,
            protocol: rtprot::BOOT,
        }
    }

    /// `default` (0.0.0.0/0).
    pub fn default_v4() -> Self {
        Self::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0)
    }

    /// `default` (::/0).
    pub fn default_v6() -> Self {
        Self::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0)
    }

    pub fn via(mut self, gateway: IpAddr) -> Self {
        self.gateway = Some(gateway);
        self
    }

    pub fn dev(mut self, ifindex: u32) -> Self {
        self.oif = Some(ifindex);
        self
    }

    pub fn metric(mut self, metric: u32) -> Self {
        self.metric = Some(metric);
        self
    }

    pub fn src(mut self, prefsrc: IpAddr) -> Self {
        self.prefsrc = Some(prefsrc);
        self
    }

    pub fn protocol(mut self, protocol: u8) -> Self {
        self.protocol = protocol;
        self
    }
}

/// What `ip route get DST [from SRC]` answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteAnswer {
    pub dst: IpAddr,
    /// The `from` address of the question, if one was given.
    pub src: Option<IpAddr>,
    pub kind: RouteType,
    /// Output interface. Local destinations leave through `lo`, as on Linux.
    pub oif: u32,
    /// The source address a socket sending to `dst` would use.
    pub prefsrc: IpAddr,
    pub gateway: Option<IpAddr>,
    pub table: u32,
    /// The matched route's metric and protocol (`ip -6 route get` prints them).
    pub metric: u32,
    pub protocol: u8,
}
