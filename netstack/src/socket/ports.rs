//! Local ports: which addresses a bound socket covers, bind conflicts
//! (EADDRINUSE), and ephemeral port choice from Linux's default range.

use super::set::Sockets;
use super::table::{Body, SocketTable};
use crate::error::errno;
use smoltcp::socket::tcp;
use std::io;
use std::net::{IpAddr, SocketAddr};

/// net.ipv4.ip_local_port_range's default.
pub const EPHEMERAL: std::ops::RangeInclusive<u16> = 32768..=60999;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
    Ping,
}

/// What part of one family's addresses a socket is bound to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    Nothing,
    Any,
    Exact(IpAddr),
}

impl Scope {
    fn overlaps(self, other: Scope) -> bool {
        match (self, other) {
            (Scope::Nothing, _) | (_, Scope::Nothing) => false,
            (Scope::Any, _) | (_, Scope::Any) => true,
            (Scope::Exact(a), Scope::Exact(b)) => a == b,
        }
    }

    fn admits(self, addr: IpAddr) -> bool {
        match self {
            Scope::Nothing => false,
            Scope::Any => true,
            Scope::Exact(a) => a == addr,
        }
    }
}

/// The IPv4 and IPv6 destinations a socket bound to `local` takes: an IPv6
/// socket on `::` takes IPv4 too unless v6only, one on `::ffff:a.b.c.d` only
/// that IPv4 address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Binding {
    v4: Scope,
    v6: Scope,
}

impl Binding {
    pub fn new(local: IpAddr, v6_socket: bool, v6only: bool) -> Binding {
        match local {
            IpAddr::V4(a) if a.is_unspecified() => Binding {
                v4: Scope::Any,
                v6: Scope::Nothing,
            },
            IpAddr::V4(_) => Binding {
                v4: Scope::Exact(local),
                v6: Scope::Nothing,
            },
            IpAddr::V6(a) if a.is_unspecified() => Binding {
                v4: if v6only || !v6_socket {
                    Scope::Nothing
                } else {
                    Scope::Any
                },
                v6: Scope::Any,
            },
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => Binding {
                    v4: Scope::Exact(v4.into()),
                    v6: Scope::Nothing,
                },
                None => Binding {
                    v4: Scope::Nothing,
                    v6: Scope::Exact(local),
                },
            },
        }
    }

    pub fn overlaps(&self, other: &Binding) -> bool {
        self.v4.overlaps(other.v4) || self.v6.overlaps(other.v6)
    }

    /// Whether a packet for `dst` may reach this socket.
    pub fn admits(&self, dst: IpAddr) -> bool {
        match dst {
            IpAddr::V4(_) => self.v4.admits(dst),
            IpAddr::V6(_) => self.v6.admits(dst),
        }
    }

    /// Whether the socket is bound to one exact address (scores higher in lookups).
    pub fn is_exact(&self) -> bool {
        matches!(self.v4, Scope::Exact(_)) || matches!(self.v6, Scope::Exact(_))
    }
}

/// One port holder, for conflict checks.
struct Holder {
    port: u16,
    binding: Binding,
    reuse: bool,
    listening: bool,
}

fn tcp_holder(sockets: &Sockets, h: super::set::SocketHandle, reuse: bool) -> Option<Holder> {
    let s = sockets.get::<tcp::Socket>(h);
    let ep = s.local_endpoint()?;
    Some(Holder {
        port: ep.port,
        binding: Binding::new(ep.addr.into(), false, true),
        reuse,
        listening: false,
    })
}

fn holders(table: &SocketTable, sockets: &Sockets, proto: Proto) -> Vec<Holder> {
    let mut v = Vec::new();
    for (_, e) in table.entries() {
        match (&e.body, proto) {
            (Body::Tcp(c), Proto::Tcp) => v.extend(tcp_holder(sockets, c.handle, c.reuse)),
            (Body::Listener(l), Proto::Tcp) => {
                v.push(Holder {
                    port: l.local.port(),
                    binding: Binding::new(l.local.ip(), e.v6, l.v6only),
                    reuse: true,
                    listening: true,
                });
                v.extend(l.children.iter().filter_map(|c| {
                    let s = sockets.get::<tcp::Socket>(c.handle);
                    // A child still listening holds nothing the listener does not.
                    (s.state() != tcp::State::Listen)
                        .then(|| tcp_holder(sockets, c.handle, c.reuse))
                        .flatten()
                }));
            }
            (Body::Udp(d), Proto::Udp) | (Body::Ping(d), Proto::Ping) => {
                if let Some(local) = d.local {
                    v.push(Holder {
                        port: local.port(),
                        binding: d.binding(e.v6),
                        reuse: false,
                        listening: false,
                    });
                }
            }
            _ => {}
        }
    }
    if proto == Proto::Tcp {
        v.extend(
            table
                .orphans
                .iter()
                .filter_map(|o| tcp_holder(sockets, o.handle, o.reuse)),
        );
    }
    v
}

/// EADDRINUSE when a socket already holds `port` on an overlapping address,
/// as inet_csk_bind_conflict decides: SO_REUSEADDR on both sides lets a
/// socket share a port with anything but a listener.
pub fn check_bind(
    table: &SocketTable,
    sockets: &Sockets,
    proto: Proto,
    port: u16,
    binding: &Binding,
    reuse: bool,
) -> io::Result<()> {
    let clash = holders(table, sockets, proto).into_iter().any(|h| {
        h.port == port && h.binding.overlaps(binding) && (!reuse || !h.reuse || h.listening)
    });
    if clash {
        Err(errno(libc::EADDRINUSE))
    } else {
        Ok(())
    }
}

/// A free port from the ephemeral range, starting at a random offset; one no
/// socket of `proto` holds on any address. EADDRNOTAVAIL when all are taken,
/// as connect(2) reports.
pub fn ephemeral(
    table: &SocketTable,
    sockets: &Sockets,
    proto: Proto,
    seed: u32,
) -> io::Result<u16> {
    let used = PortSet::of(holders(table, sockets, proto));
    let (lo, hi) = (*EPHEMERAL.start(), *EPHEMERAL.end());
    let span = u32::from(hi - lo) + 1;
    (0..span)
        .map(|i| lo + ((seed.wrapping_add(i)) % span) as u16)
        .find(|&p| !used.contains(p))
        .ok_or_else(|| errno(libc::EADDRNOTAVAIL))
}

/// The ports some holder has: a bit per port. Filling a hash set of them
/// was 8% of the time a connect took with 3000 connections open.
struct PortSet(Box<[u64; 1024]>);

impl PortSet {
    fn of(holders: Vec<Holder>) -> PortSet {
        let mut bits = Box::new([0u64; 1024]);
        for h in holders {
            bits[usize::from(h.port >> 6)] |= 1 << (h.port & 63);
        }
        PortSet(bits)
    }

    fn contains(&self, port: u16) -> bool {
        self.0[usize::from(port >> 6)] & (1 << (port & 63)) != 0
    }
}

/// The next free ping ident after the rover, skipping zero (ping_get_port).
pub fn ping_ident(table: &mut SocketTable, sockets: &Sockets) -> io::Result<u16> {
    let used = PortSet::of(holders(table, sockets, Proto::Ping));
    let mut ident = table.ping_rover;
    for _ in 0..u16::MAX {
        ident = ident.wrapping_add(1);
        if ident != 0 && !used.contains(ident) {
            table.ping_rover = ident;
            return Ok(ident);
        }
    }
    Err(errno(libc::EAGAIN))
}

/// The address a socket may bind: unspecified, or the stack's own (which
/// includes all of 127.0.0.0/8, as Linux's local table does).
pub(crate) fn check_local(state: &crate::state::State, ip: IpAddr) -> io::Result<()> {
    let wire = on_wire(SocketAddr::new(ip, 0)).ip();
    if wire.is_unspecified() || state.is_local(wire) {
        Ok(())
    } else {
        Err(errno(libc::EADDRNOTAVAIL))
    }
}

/// The local endpoint as an AF_INET6 socket reports it: IPv4 as mapped.
pub fn as_seen(addr: SocketAddr, v6_socket: bool) -> SocketAddr {
    match (addr, v6_socket) {
        (SocketAddr::V4(a), true) => SocketAddr::new(IpAddr::V6(a.ip().to_ipv6_mapped()), a.port()),
        _ => addr,
    }
}

/// The address a packet carries for what a socket names: `::ffff:a.b.c.d` is IPv4.
pub fn on_wire(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(a) => match a.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), a.port()),
            None => addr,
        },
        _ => addr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_set_holds_exactly_its_ports() {
        let ports = [0u16, 1, 63, 64, 1000, 32768, 65535];
        let holders = ports
            .iter()
            .map(|&port| Holder {
                port,
                binding: Binding::new(IpAddr::from([0, 0, 0, 0]), false, true),
                reuse: false,
                listening: false,
            })
            .collect();
        let set = PortSet::of(holders);
        for p in 0..=u16::MAX {
            assert_eq!(set.contains(p), ports.contains(&p), "port {p}");
        }
    }
}
