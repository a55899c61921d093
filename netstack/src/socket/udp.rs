//! UDP sockets, like `std::net::UdpSocket`; and the datagram operations
//! ping sockets share with them.

use super::build;
use super::dgram::Dgram;
use super::ports::{check_bind, check_local, ephemeral, on_wire, ping_ident, Binding, Proto};
use super::table::{Body, SocketId};
use crate::error::errno;
use crate::stack::Stack;
use crate::state::State;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr};
use std::task::Poll;
use std::time::Duration;

/// Which of the two datagram kinds an operation is for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Udp,
    Ping,
}

fn dgram(s: &mut State, id: SocketId, kind: Kind) -> io::Result<(bool, &mut Dgram)> {
    let e = s.table.get_mut(id)?;
    let v6 = e.v6;
    match (&mut e.body, kind) {
        (Body::Udp(d), Kind::Udp) | (Body::Ping(d), Kind::Ping) => Ok((v6, d)),
        _ => Err(errno(libc::ENOTSOCK)),
    }
}

fn unspecified(v6: bool) -> IpAddr {
    if v6 {
        Ipv6Addr::UNSPECIFIED.into()
    } else {
        Ipv4Addr::UNSPECIFIED.into()
    }
}

pub(crate) fn open(stack: &Stack, v6: bool, kind: Kind) -> io::Result<SocketId> {
    stack.with(|s| {
        let body = match kind {
            Kind::Udp => Body::Udp(Dgram::default()),
            Kind::Ping => Body::Ping(Dgram::default()),
        };
        s.table.insert(v6, body)
    })
}

/// bind(2). Port 0 picks one (an ephemeral port, or for ping the next ident).
pub(crate) fn bind(s: &mut State, id: SocketId, kind: Kind, addr: SocketAddr) -> io::Result<()> {
    let (v6, d) = dgram(s, id, kind)?;
    if d.local.is_some() {
        return Err(errno(libc::EINVAL));
    }
    if v6 != addr.is_ipv6() {
        return Err(errno(libc::EAFNOSUPPORT));
    }
    let v6only = d.v6only;
    check_local(s, addr.ip())?;
    let binding = Binding::new(addr.ip(), v6, v6only);
    let proto = match kind {
        Kind::Udp => Proto::Udp,
        Kind::Ping => Proto::Ping,
    };
    let port = match (addr.port(), kind) {
        (0, Kind::Udp) => {
            let seed = s.random_u32();
            ephemeral(&s.table, &s.sockets, proto, seed)
        }?,
        (0, Kind::Ping) => ping_ident(&mut s.table, &s.sockets)?,
        (p, _) => p,
    };
    check_bind(&s.table, &s.sockets, proto, port, &binding, false)?;
    dgram(s, id, kind)?.1.local = Some(SocketAddr::new(addr.ip(), port));
    Ok(())
}

fn autobind(s: &mut State, id: SocketId, kind: Kind) -> io::Result<SocketAddr> {
    let (v6, d) = dgram(s, id, kind)?;
    if let Some(l) = d.local {
        return Ok(l);
    }
    bind(s, id, kind, SocketAddr::new(unspecified(v6), 0))?;
    let (_, d) = dgram(s, id, kind)?;
    d.local.ok_or_else(|| errno(libc::EINVAL))
}

/// The wire destination for what a socket names, with Linux's family rules.
fn destination(v6: bool, v6only: bool, addr: SocketAddr) -> io::Result<SocketAddr> {
    if !v6 && addr.is_ipv6() {
        return Err(errno(libc::EAFNOSUPPORT));
    }
    let wire = on_wire(addr);
    if v6only && wire.is_ipv4() {
        return Err(errno(libc::ENETUNREACH));
    }
    Ok(wire)
}

/// The source address for `dst`: the bound one, or the route's preferred
/// source (what connect(2) fixes and `ping` learns with getsockname).
fn source(s: &mut State, local: SocketAddr, dst: IpAddr) -> io::Result<IpAddr> {
    let bound = on_wire(local).ip();
    if !bound.is_unspecified() && bound.is_ipv4() != dst.is_ipv4() {
        return Err(errno(libc::ENETUNREACH));
    }
    let from = (!bound.is_unspecified()).then_some(bound);
    match s.routes.route_get(dst, from, &*s) {
        Ok(r) => Ok(from.unwrap_or(r.prefsrc)),
        Err(e) => {
            if dst.is_ipv4() {
                s.snmp.ip.OutNoRoutes += 1;
            }
            Err(e)
        }
    }
}

/// connect(2): fixes the peer, and the local address and port as the route picks them.
pub(crate) fn connect(s: &mut State, id: SocketId, kind: Kind, addr: SocketAddr) -> io::Result<()> {
    let (v6, d) = dgram(s, id, kind)?;
    let dst = destination(v6, d.v6only, addr)?;
    let local = autobind(s, id, kind)?;
    let src = source(s, local, dst.ip())?;
    let (v6, d) = dgram(s, id, kind)?;
    if on_wire(local).ip().is_unspecified() {
        d.local = Some(super::ports::as_seen(
            SocketAddr::new(src, local.port()),
            v6,
        ));
    }
    d.peer = Some(addr);
    d.shut_rd = false;
    d.shut_wr = false;
    Ok(())
}

pub(crate) fn send_to(
    s: &mut State,
    id: SocketId,
    kind: Kind,
    buf: &[u8],
    to: Option<SocketAddr>,
) -> io::Result<usize> {
    let (v6, d) = dgram(s, id, kind)?;
    if let Some(e) = d.err.take() {
        return Err(errno(e));
    }
    if d.shut_wr {
        return Err(errno(libc::EPIPE));
    }
    let Some(to) = to.or(d.peer) else {
        return Err(errno(libc::EDESTADDRREQ));
    };
    let dst = destination(v6, d.v6only, to)?;
    if kind == Kind::Udp && dst.port() == 0 {
        return Err(errno(libc::EINVAL));
    }
    if kind == Kind::Ping {
        check_echo_request(buf, dst.is_ipv4())?;
    }
    if buf.len() > build::max_udp_payload(dst.is_ipv4()) {
        return Err(errno(libc::EMSGSIZE));
    }
    let local = autobind(s, id, kind)?;
    let src = source(s, local, dst.ip())?;
    let ip_id = s.next_ip_id();
    let packet = match kind {
        Kind::Udp => build::udp(SocketAddr::new(src, local.port()), dst, buf, ip_id),
        Kind::Ping => build::icmp_echo(src, dst.ip(), buf, local.port(), ip_id),
    };
    // sandnet does not fragment: a datagram larger than the route's MTU fails
    // as with IP_PMTUDISC_DO.
    let mtu = s
        .routes
        .lookup(dst.ip(), &*s)
        .and_then(|r| s.nics.get(&r.oif))
        .map_or(usize::MAX, |n| n.mtu as usize);
    if packet.len() > mtu && !s.is_local(dst.ip()) {
        return Err(errno(libc::EMSGSIZE));
    }
    // Sent on this thread: a round is needed only for what it left to one
    // (a datagram to the stack's own address waits on lo).
    crate::egress::send(s, packet);
    s.after_call = crate::poll::AfterCall::RoundIfQueued;
    if let Ok((_, d)) = dgram(s, id, kind) {
        d.answering = true;
    }
    Ok(buf.len())
}

/// Ping sockets send echo requests only (ping_common_sendmsg).
fn check_echo_request(buf: &[u8], v4: bool) -> io::Result<()> {
    let echo = if v4 { 8 } else { 128 };
    if buf.len() < 8 || buf[0] != echo || buf[1] != 0 {
        return Err(errno(libc::EINVAL));
    }
    Ok(())
}

/// One datagram into `buf` (truncated if longer, as Linux without MSG_TRUNC).
pub(crate) fn recv_from(
    s: &mut State,
    id: SocketId,
    kind: Kind,
    buf: &mut [u8],
    peek: bool,
) -> Poll<io::Result<(usize, SocketAddr, u8)>> {
    let (v6, d) = match dgram(s, id, kind) {
        Ok(x) => x,
        Err(e) => return Poll::Ready(Err(e)),
    };
    let taken = if peek {
        d.rx.peek_into(buf)
    } else {
        d.rx.pop_into(buf)
    };
    if taken.is_some() && !peek {
        d.answering = false;
    }
    // An emptied queue gives memory back (`DatagramQueue::pop_into`); only
    // a datagram taken frees any, so the release below is the taken path's.
    let (_, freed) = d.recharge();
    if let Some((super::queue::Entry { from, ttl, .. }, n)) = taken {
        s.table.release(freed);
        // Taking a datagram leaves nothing for a round to do.
        s.after_call = crate::poll::AfterCall::RoundIfQueued;
        if kind == Kind::Udp && !peek {
            // udp_recvmsg counts a datagram when the program reads it.
            if on_wire(from).is_ipv4() {
                s.snmp.udp.InDatagrams += 1;
            } else {
                s.snmp6.udp6.Udp6InDatagrams += 1;
            }
        }
        return Poll::Ready(Ok((n, from, ttl)));
    }
    if let Some(e) = d.err.take() {
        return Poll::Ready(Err(errno(e)));
    }
    if d.shut_rd {
        return Poll::Ready(Ok((0, SocketAddr::new(unspecified(v6), 0), 0)));
    }
    Poll::Pending
}

pub(crate) fn close(s: &mut State, id: SocketId) {
    if let Ok(e) = s.table.remove(id) {
        if let Body::Udp(d) | Body::Ping(d) = e.body {
            s.table.release(d.charged);
        }
    }
}

/// The shared surface of UDP and ping sockets.
pub(crate) struct DgramHandle {
    pub stack: Stack,
    pub id: SocketId,
    pub kind: Kind,
}

impl DgramHandle {
    pub fn op<T>(
        &self,
        f: impl FnOnce(&mut State, SocketId, Kind) -> io::Result<T>,
    ) -> io::Result<T> {
        self.stack.with(|s| f(s, self.id, self.kind))
    }

    /// One datagram: its length, sender, and the TTL or hop limit it arrived with.
    pub fn recv_from(&self, buf: &mut [u8], peek: bool) -> io::Result<(usize, SocketAddr, u8)> {
        let (id, kind) = (self.id, self.kind);
        self.stack.blocking(
            id,
            super::Interest::READABLE,
            |o| o.read_timeout,
            io::ErrorKind::WouldBlock,
            |s| recv_from(s, id, kind, buf, peek),
        )
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.op(|s, id, kind| {
            let (v6, d) = dgram(s, id, kind)?;
            Ok(d.local.unwrap_or(SocketAddr::new(unspecified(v6), 0)))
        })
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.op(|s, id, kind| {
            dgram(s, id, kind)?
                .1
                .peer
                .ok_or_else(|| errno(libc::ENOTCONN))
        })
    }

    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.op(|s, id, kind| {
            let (_, d) = dgram(s, id, kind)?;
            if d.peer.is_none() {
                return Err(errno(libc::ENOTCONN));
            }
            if matches!(how, Shutdown::Read | Shutdown::Both) {
                d.shut_rd = true;
            }
            if matches!(how, Shutdown::Write | Shutdown::Both) {
                d.shut_wr = true;
            }
            Ok(())
        })
    }

    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.op(|s, id, kind| Ok(dgram(s, id, kind)?.1.err.take().map(errno)))
    }

    pub fn set_timeout(&self, read: bool, timeout: Option<Duration>) -> io::Result<()> {
        if timeout == Some(Duration::ZERO) {
            return Err(errno(libc::EINVAL));
        }
        self.op(|s, id, _| {
            let o = &mut s.table.get_mut(id)?.opts;
            if read {
                o.read_timeout = timeout;
            } else {
                o.write_timeout = timeout;
            }
            Ok(())
        })
    }

    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.op(|s, id, _| {
            s.table.get_mut(id)?.opts.nonblocking = nonblocking;
            Ok(())
        })
    }
}

impl Drop for DgramHandle {
    fn drop(&mut self) {
        let _ = self.op(|s, id, _| {
            close(s, id);
            Ok(())
        });
    }
}

/// A UDP socket, like `std::net::UdpSocket`.
pub struct UdpSocket {
    inner: DgramHandle,
}

impl UdpSocket {
    /// Binds to `addr` (port 0: an ephemeral port). The address must be
    /// unspecified or one of the stack's (EADDRNOTAVAIL).
    pub fn bind(stack: &Stack, addr: SocketAddr) -> io::Result<UdpSocket> {
        Self::bind_with(stack, addr, false)
    }

    /// `bind` with IPV6_V6ONLY set as given (IPv6 sockets only).
    pub fn bind_with(stack: &Stack, addr: SocketAddr, v6only: bool) -> io::Result<UdpSocket> {
        let id = open(stack, addr.is_ipv6(), Kind::Udp)?;
        let inner = DgramHandle {
            stack: stack.clone(),
            id,
            kind: Kind::Udp,
        };
        inner.op(|s, id, kind| {
            dgram(s, id, kind)?.1.v6only = v6only && addr.is_ipv6();
            bind(s, id, kind, addr)
        })?;
        Ok(UdpSocket { inner })
    }

    pub fn id(&self) -> SocketId {
        self.inner.id
    }

    /// Fixes the peer: only its datagrams are received from now on, and the
    /// local address becomes the source the route picks for it.
    pub fn connect(&self, addr: SocketAddr) -> io::Result<()> {
        self.inner.op(|s, id, kind| connect(s, id, kind, addr))
    }

    pub fn send_to(&self, buf: &[u8], addr: SocketAddr) -> io::Result<usize> {
        self.inner
            .op(|s, id, kind| send_to(s, id, kind, buf, Some(addr)))
    }

    /// Sends to the connected peer (EDESTADDRREQ when not connected).
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.op(|s, id, kind| send_to(s, id, kind, buf, None))
    }

    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.recv_from(buf, false).map(|(n, a, _)| (n, a))
    }

    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.recv_from(buf, true).map(|(n, a, _)| (n, a))
    }

    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv_from(buf).map(|(n, _)| n)
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }

    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.shutdown(how)
    }

    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.take_error()
    }

    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.inner.set_timeout(true, timeout)
    }

    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.inner.set_timeout(false, timeout)
    }

    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.inner.set_nonblocking(nonblocking)
    }
}

impl std::fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpSocket")
            .field("inode", &self.inner.id.inode)
            .finish()
    }
}
