//! ICMP echo ("ping") sockets, as Linux's SOCK_DGRAM with IPPROTO_ICMP or
//! IPPROTO_ICMPV6: the program writes an echo request (type, code, checksum,
//! ident, sequence, data), the socket's port is the ident, and the program
//! reads the matching echo replies, ICMP header first.

use super::dgram::deliver;
use super::table::SocketId;
use super::udp::{bind, connect, open, send_to, DgramHandle, Kind};
use crate::stack::Stack;
use crate::state::State;
use crate::wire::IpView;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

pub struct PingSocket {
    inner: DgramHandle,
}

impl PingSocket {
    /// An unbound ping socket of `addr`'s family; it takes an ident on the
    /// first send, or bind it to choose one.
    pub fn new(stack: &Stack, ipv6: bool) -> io::Result<PingSocket> {
        let id = open(stack, ipv6, Kind::Ping)?;
        Ok(PingSocket {
            inner: DgramHandle {
                stack: stack.clone(),
                id,
                kind: Kind::Ping,
            },
        })
    }

    /// Binds the local address and ident (the port; 0 picks a free ident).
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        self.inner.op(|s, id, kind| bind(s, id, kind, addr))
    }

    pub fn connect(&self, addr: IpAddr) -> io::Result<()> {
        self.inner
            .op(|s, id, kind| connect(s, id, kind, SocketAddr::new(addr, 0)))
    }

    pub fn id(&self) -> SocketId {
        self.inner.id
    }

    /// Sends an echo request (EINVAL for anything else); the ident is replaced
    /// by the socket's and the checksum computed.
    pub fn send_to(&self, message: &[u8], addr: IpAddr) -> io::Result<usize> {
        self.inner
            .op(|s, id, kind| send_to(s, id, kind, message, Some(SocketAddr::new(addr, 0))))
    }

    pub fn send(&self, message: &[u8]) -> io::Result<usize> {
        self.inner
            .op(|s, id, kind| send_to(s, id, kind, message, None))
    }

    /// One echo reply, ICMP header first, and who sent it.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, IpAddr)> {
        self.inner
            .recv_from(buf, false)
            .map(|(n, a, _)| (n, a.ip()))
    }

    /// As `recv_from`, with the TTL (IPv4) or hop limit (IPv6) the reply
    /// arrived with, as ping reads it with IP_RECVTTL or IPV6_RECVHOPLIMIT.
    pub fn recv_with_ttl(&self, buf: &mut [u8]) -> io::Result<(usize, IpAddr, u8)> {
        self.inner
            .recv_from(buf, false)
            .map(|(n, a, ttl)| (n, a.ip(), ttl))
    }

    /// The bound address, whose port is the ident.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.take_error()
    }

    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.inner.set_timeout(true, timeout)
    }

    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.inner.set_nonblocking(nonblocking)
    }
}

/// ingress: an echo reply; returns whether a ping socket took it.
pub(crate) fn deliver_echo_reply(state: &mut State, v: &IpView, message: &[u8]) -> bool {
    if message.len() < 8 {
        return false;
    }
    let ident = u16::from_be_bytes([message[4], message[5]]);
    // The ident plays the port on both sides: the socket matches on it.
    let src = SocketAddr::new(v.src, 0);
    deliver(state, true, src, v, ident, message, false) > 0
}

impl std::fmt::Debug for PingSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PingSocket")
            .field("inode", &self.inner.id.inode)
            .finish()
    }
}
