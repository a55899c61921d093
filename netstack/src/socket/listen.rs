//! TCP listeners. smoltcp has no accept queue: a listening smoltcp socket
//! becomes the connection. So a listener here is a table entry, and for each
//! incoming SYN ingress makes a smoltcp socket listening on exactly the
//! SYN's destination, up to the backlog, which then completes the handshake
//! as the new connection. That gives Linux's backlog, lets simultaneous SYNs
//! all succeed, keeps `0.0.0.0` from taking IPv6 (and `::` from taking IPv4
//! when v6only), and costs nothing while no one connects.

use super::ports::{as_seen, check_bind, check_local, ephemeral, Binding, Proto};
use super::table::{Body, Child, Listener, SocketId, TcpConn};
use super::tcp::{new_tcp_socket, TcpStream, QUICKACK_BYTES};
use super::track::synchronized;
use crate::error::errno;
use crate::stack::Stack;
use crate::state::State;
use crate::wire::IpView;
use smoltcp::socket::tcp::{self, State as T};
use smoltcp::wire::IpListenEndpoint;
use std::io;
use std::net::SocketAddr;
use std::task::Poll;
use std::time::Duration;

/// How a listener is made: `listen(2)`'s backlog, and IPV6_V6ONLY.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListenOptions {
    pub backlog: usize,
    pub v6only: bool,
}

impl Default for ListenOptions {
    fn default() -> Self {
        ListenOptions {
            backlog: 128,
            v6only: false,
        }
    }
}

/// A TCP socket listening for connections, like `std::net::TcpListener`.
pub struct TcpListener {
    stack: Stack,
    id: SocketId,
}

impl TcpListener {
    /// Binds and listens with the default backlog (128). Port 0 picks an
    /// ephemeral port. SO_REUSEADDR is on, as std sets it.
    pub fn bind(stack: &Stack, addr: SocketAddr) -> io::Result<TcpListener> {
        Self::bind_with(stack, addr, ListenOptions::default())
    }

    pub fn bind_with(
        stack: &Stack,
        addr: SocketAddr,
        opts: ListenOptions,
    ) -> io::Result<TcpListener> {
        let v6 = addr.is_ipv6();
        let id = stack.with(|s| {
            s.table.has_room()?;
            check_local(s, addr.ip())?;
            let binding = Binding::new(addr.ip(), v6, opts.v6only);
            let port = match addr.port() {
                0 => {
                    let seed = s.random_u32();
                    ephemeral(&s.table, &s.sockets, Proto::Tcp, seed)
                }?,
                p => p,
            };
            check_bind(&s.table, &s.sockets, Proto::Tcp, port, &binding, true)?;
            let backlog = opts.backlog.clamp(1, s.table.limits.max_backlog);
            s.table.insert(
                v6,
                Body::Listener(Listener {
                    local: SocketAddr::new(addr.ip(), port),
                    v6only: opts.v6only,
                    backlog,
                    children: Vec::new(),
                }),
            )
        })?;
        Ok(TcpListener {
            stack: stack.clone(),
            id,
        })
    }

    pub fn id(&self) -> SocketId {
        self.id
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stack.read(|s| match &s.table.get(self.id)?.body {
            Body::Listener(l) => Ok(l.local),
            _ => Err(errno(libc::EBADF)),
        })
    }

    /// Takes the oldest established connection, waiting for one unless nonblocking.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let id = self.id;
        let (conn, peer) = self.stack.blocking(
            id,
            super::Interest::READABLE,
            |o| o.read_timeout,
            io::ErrorKind::WouldBlock,
            |s| match take_established(s, id) {
                Ok(Some(accepted)) => Poll::Ready(Ok(accepted)),
                Ok(None) => Poll::Pending,
                Err(e) => Poll::Ready(Err(e)),
            },
        )?;
        Ok((TcpStream::from_parts(&self.stack, conn), peer))
    }

    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.stack.with(|s| {
            s.table.get_mut(self.id)?.opts.nonblocking = nonblocking;
            Ok(())
        })
    }

    /// Bounds how long `accept` waits (WouldBlock after it).
    pub fn set_accept_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        if timeout == Some(Duration::ZERO) {
            return Err(errno(libc::EINVAL));
        }
        self.stack.with(|s| {
            s.table.get_mut(self.id)?.opts.read_timeout = timeout;
            Ok(())
        })
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        let id = self.id;
        let _ = self.stack.with(|s| close_listener(s, id));
    }
}

/// close(2) on a listener: connections not yet accepted are reset, as Linux does.
fn close_listener(s: &mut State, id: SocketId) -> io::Result<()> {
    let Body::Listener(l) = s.table.remove(id)?.body else {
        return Err(errno(libc::EBADF));
    };
    for child in l.children {
        let sock = s.sockets.get_mut::<tcp::Socket>(child.handle);
        if sock.state() == T::Listen {
            super::track::remove_tcp(s, child.handle);
        } else {
            sock.abort();
            s.table.orphans.push(child);
        }
    }
    Ok(())
}

/// The oldest child past its handshake, moved into the table as a connection.
fn take_established(s: &mut State, id: SocketId) -> io::Result<Option<(SocketId, SocketAddr)>> {
    let entry = s.table.get(id)?;
    let (v6, uid) = (entry.v6, entry.uid);
    let Body::Listener(l) = &entry.body else {
        return Err(errno(libc::EINVAL));
    };
    let Some(pos) = l
        .children
        .iter()
        .position(|c| synchronized(s.sockets.get::<tcp::Socket>(c.handle).state()))
    else {
        return Ok(None);
    };
    s.table.has_room()?;
    let Ok(entry) = s.table.get_mut(id) else {
        return Ok(None);
    };
    let Body::Listener(l) = &mut entry.body else {
        return Ok(None);
    };
    let child = l.children.remove(pos);
    let sock = s.sockets.get::<tcp::Socket>(child.handle);
    let (Some(local), Some(remote)) = (sock.local_endpoint(), sock.remote_endpoint()) else {
        return Ok(None);
    };
    let local = as_seen(SocketAddr::new(local.addr.into(), local.port), v6);
    let peer = as_seen(SocketAddr::new(remote.addr.into(), remote.port), v6);
    let conn = s.table.insert(
        v6,
        Body::Tcp(TcpConn {
            handle: child.handle,
            last: child.last,
            err: None,
            shut_rd: false,
            reuse: true,
            local,
            peer,
            quickack: QUICKACK_BYTES,
            read_since_write: false,
            pingpong: false,
        }),
    )?;
    s.table.get_mut(conn)?.uid = uid;
    Ok(Some((conn, peer)))
}

/// ingress: a SYN (without ACK) passed its checks. Makes a socket for it if a
/// listener takes it (one per SYN: several may arrive in one batch); returns false to drop it silently (backlog full, out of
/// memory), as Linux drops rather than refuses.
pub(crate) fn on_syn(state: &mut State, v: &IpView, segment: &[u8]) -> bool {
    let sport = u16::from_be_bytes([segment[0], segment[1]]);
    let dport = u16::from_be_bytes([segment[2], segment[3]]);
    let (src, dst) = (SocketAddr::new(v.src, sport), SocketAddr::new(v.dst, dport));
    // A retransmitted SYN, or one for a connection that exists: smoltcp's.
    let known = state.sockets.iter().any(|s| {
        smoltcp::socket::AnySocket::downcast(s).is_some_and(|s: &tcp::Socket| {
            let (l, r) = (s.local_endpoint(), s.remote_endpoint());
            l.is_some_and(|l| SocketAddr::new(l.addr.into(), l.port) == dst)
                && r.is_some_and(|r| SocketAddr::new(r.addr.into(), r.port) == src)
        })
    });
    if known {
        return true;
    }
    let best = state
        .table
        .listeners()
        .filter(|(_, _, l)| l.local.port() == dport)
        .filter_map(|(id, e, l)| {
            let b = Binding::new(l.local.ip(), e.v6, l.v6only);
            b.admits(v.dst).then_some((b.is_exact(), id))
        })
        .max_by_key(|(exact, _)| *exact)
        .map(|(_, id)| id);
    let Some(id) = best else {
        // Nobody listens: smoltcp answers with RST, as Linux does.
        return true;
    };
    if !make_room(state, id) {
        return false;
    }
    let limits = state.table.limits;
    let congestion = state.table.congestion;
    let born = state.now().total_micros();
    let buffers = limits.tcp_buffers(state.table.buffer_bytes);
    let budget_ok = state.table.buffer_bytes + buffers.bytes() <= limits.max_buffer_bytes;
    let State {
        table,
        sockets,
        snmp,
        ..
    } = &mut *state;
    let Ok(entry) = table.get_mut(id) else {
        return true;
    };
    let (uid, v6) = (entry.uid, entry.v6);
    let Body::Listener(l) = &mut entry.body else {
        return true;
    };
    if !budget_ok {
        snmp.tcp_ext.ListenDrops += 1;
        return false;
    }
    let mut sock = new_tcp_socket(buffers, congestion);
    // A half-open connection whose peer never completes the handshake goes
    // after Linux's SYN-ACK retries; `observe` lifts this once it is established.
    sock.set_timeout(Some(SYN_RECV_TIMEOUT));
    let endpoint = IpListenEndpoint {
        addr: Some(v.dst.into()),
        port: dport,
    };
    if sock.listen(endpoint).is_err() {
        return true;
    }
    l.children.push(Child {
        handle: sockets.add(sock),
        last: T::Listen,
        uid,
        reuse: true,
        v6,
        born,
    });
    table.buffer_bytes += buffers.bytes();
    true
}

/// How long a connection may stay half-open: Linux's tcp_synack_retries (5)
/// SYN-ACKs, 1 + 2 + 4 + 8 + 16 + 32 s apart.
pub(crate) const SYN_RECV_TIMEOUT: smoltcp::time::Duration = smoltcp::time::Duration::from_secs(63);

/// A half-open connection younger than this is not dropped to make room for
/// a new SYN: its peer's ACK may be on its way (smoltcp's minimum RTO).
pub(crate) const YOUNG: smoltcp::time::Duration = smoltcp::time::Duration::from_millis(200);

/// Before a listener takes a new SYN: whether its backlog has room. Every
/// child counts (half-open, or established and waiting for accept), as
/// Linux's request and accept queues share the backlog. When it is full:
/// - of established connections nobody accepts: the SYN is dropped, counted
///   as ListenOverflows and ListenDrops (Linux's accept queue full);
/// - otherwise the oldest half-open child at least `YOUNG` old is dropped to
///   make room; with none that old, the new SYN is. Either is counted as
///   ListenDrops and TCPReqQFullDrop, which Linux counts when its request
///   queue is full. Linux drops the new SYN and relies on SYN cookies to keep
///   serving; smoltcp has no cookies, and always dropping the new SYN would
///   leave a listener flooded with spoofed SYNs refusing everyone for as long
///   as the half-open connections last (63 s). Handshakes younger than
///   `YOUNG` are left to complete (a genuine client's ACK may be in flight),
///   as Linux once kept its "young" requests when pruning.
fn make_room(state: &mut State, id: SocketId) -> bool {
    let Ok(Body::Listener(l)) = state.table.get(id).map(|e| &e.body) else {
        return true;
    };
    if l.children.len() < l.backlog {
        return true;
    }
    let backlog = l.backlog;
    let now = state.now().total_micros();
    let states: Vec<(T, i64)> = l
        .children
        .iter()
        .map(|c| {
            (
                state.sockets.get::<tcp::Socket>(c.handle).state(),
                now - c.born,
            )
        })
        .collect();
    let ext = &mut state.snmp.tcp_ext;
    ext.ListenDrops += 1;
    if states.iter().filter(|(s, _)| synchronized(*s)).count() >= backlog {
        ext.ListenOverflows += 1;
        return false;
    }
    ext.TCPReqQFullDrop += 1;
    // Children still listening were made for SYNs of this same round, not yet
    // answered: those SYNs are the newest, so they are not the ones to go.
    let Some(pos) = states
        .iter()
        .position(|&(s, age)| s == T::SynReceived && age >= YOUNG.total_micros() as i64)
    else {
        return false;
    };
    let Ok(Body::Listener(l)) = state.table.get_mut(id).map(|e| &mut e.body) else {
        return false;
    };
    let child = l.children.remove(pos);
    super::track::remove_tcp(state, child.handle);
    true
}

impl std::fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpListener")
            .field("inode", &self.id.inode)
            .finish()
    }
}
