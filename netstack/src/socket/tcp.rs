//! TCP connections, like `std::net::TcpStream`, on smoltcp's TCP.

use super::carry::{self, Carries};
use super::limits::TcpBuffers;
use super::ports::{as_seen, ephemeral, on_wire, Proto};
use super::set::SocketHandle;
use super::table::{Body, Child, SocketId, TcpConn};
use crate::error::errno;
use crate::inet::RouteType;
use crate::poll::AfterCall;
use crate::stack::Stack;
use crate::state::State;
use smoltcp::socket::tcp::{self, State as T};
use smoltcp::wire::IpEndpoint;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr};
use std::task::Poll;
use std::time::{Duration, Instant};

/// How long a connect waits for the handshake when no timeout is given:
/// Linux's with tcp_syn_retries = 6 (1+2+4+8+16+32+64 s).
const SYN_TIMEOUT: Duration = Duration::from_secs(127);

/// Bytes a connection's program reads before its ACKs are delayed: Linux's
/// quickack allows up to 16 segments at a connection's start, whose ACKs let
/// a sender in slow start grow its window at once.
pub(crate) const QUICKACK_BYTES: usize = 16 * 1460;

/// The ACK delay after that (smoltcp's default).
pub(crate) const ACK_DELAY: smoltcp::time::Duration = smoltcp::time::Duration::from_millis(10);

/// A connection that received nothing for this long ACKs at once again:
/// Linux re-enters quickack when data arrives after a gap longer than the
/// retransmission timeout, whose floor (TCP_RTO_MIN) this is. The sender
/// has most likely restarted from a small window (RFC 5681's restart after
/// idle) and waits for those ACKs.
pub(crate) const QUICKACK_IDLE: smoltcp::time::Duration = smoltcp::time::Duration::from_millis(200);

/// The program wrote after reading: it answers what it receives, and its
/// ACKs now wait to ride on its answers (Linux's pingpong mode, entered
/// when a connection sends within the ACK timeout of receiving). Quickack
/// ends: an ACK at once would go alone, a packet more per request.
fn answered(c: &mut TcpConn, sock: &mut tcp::Socket<'static>) {
    c.pingpong = true;
    c.quickack = 0;
    if sock.ack_delay().is_none() {
        sock.set_ack_delay(Some(ACK_DELAY));
    }
}

/// The program took `n` bytes (a read, or a sink in a round): the quickack
/// budget shrinks, and pingpong mode sees a read.
pub(crate) fn note_read(c: &mut TcpConn, sock: &mut tcp::Socket<'static>, n: usize) {
    c.quickack = c.quickack.saturating_sub(n);
    if c.quickack == 0 && sock.ack_delay().is_none() {
        sock.set_ack_delay(Some(ACK_DELAY));
    }
    if n > 0 {
        // Read twice without answering: not pingpong. (Linux leaves it when
        // a delayed ACK had to go out alone.)
        c.pingpong &= !c.read_since_write;
        c.read_since_write = true;
    }
}

/// The program gave the connection bytes to send (a write, or a source in a
/// round): after a read, that answers it.
pub(crate) fn note_write(c: &mut TcpConn, sock: &mut tcp::Socket<'static>) {
    if c.read_since_write {
        answered(c, sock);
    }
    c.read_since_write = false;
}

/// Quickack again for every connection once the stack as a whole ran no
/// round for `QUICKACK_IDLE`: then none of them received anything. Runs
/// before smoltcp takes in the round's segments. Linux's rule is per
/// connection and per segment; without a timestamp per connection (a lookup
/// per segment) the stack gets it from this and from parking
/// (`quickack_unparked`).
pub(crate) fn quickack_after_idle(s: &mut State, now: smoltcp::time::Instant) {
    let idle = s.last_round.is_some_and(|t| now - t >= QUICKACK_IDLE);
    s.last_round = Some(now);
    if !idle {
        return;
    }
    // Parked connections rested at least as long: data that unparks them
    // re-arms them (`quickack_unparked`).
    let State { table, sockets, .. } = s;
    let (set, handles) = sockets.smoltcp_and_handles();
    for (smol, socket) in set.iter_mut() {
        let smoltcp::socket::Socket::Tcp(t) = socket else {
            continue;
        };
        let h = handles.get(&smol).map(|e| e.handle);
        rearm(h.and_then(|h| table.conn_mut(h)), t);
    }
}

/// Quickack again for one connection, unless it is in pingpong mode (as
/// Linux, where pingpong overrides quickack). `c`: None for a connection
/// that is not the program's (not yet accepted, or closed).
fn rearm(c: Option<&mut TcpConn>, sock: &mut tcp::Socket<'static>) {
    match c {
        Some(c) if c.pingpong => {}
        Some(c) => {
            c.quickack = QUICKACK_BYTES;
            sock.set_ack_delay(None);
        }
        None => sock.set_ack_delay(None),
    }
}

/// Data arrived for connection `h`, just unparked, parked `since`: a
/// connection is parked once idle for a scan period while the stack is
/// busy, so a long enough rest there is a rest of the connection's own.
pub(crate) fn quickack_unparked(s: &mut State, h: SocketHandle, since: smoltcp::time::Instant) {
    if s.now() - since < QUICKACK_IDLE {
        return;
    }
    let State { table, sockets, .. } = s;
    rearm(table.conn_mut(h), sockets.get_mut::<tcp::Socket>(h));
}

pub(crate) fn new_tcp_socket(
    buffers: TcpBuffers,
    congestion: super::CongestionControl,
) -> tcp::Socket<'static> {
    // vec! of zeroes is calloc: pages the connection never fills are never touched.
    let mut s = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0u8; buffers.recv]),
        tcp::SocketBuffer::new(vec![0u8; buffers.send]),
    );
    // Every segment is ACKed at once until the program has read
    // QUICKACK_BYTES (read_inner), as Linux's quickack does while a
    // connection starts. smoltcp alone would wait its ACK delay here: the
    // window update that a read should send cannot fire before its first
    // ACK, because it compares against its SYN's unscaled window as if it
    // were scaled. Where one segment fills the first window (MTU 65535), the
    // sender of every connection waited 10 ms (docs/PERFORMANCE.md, "Knobs").
    s.set_ack_delay(None);
    s.set_congestion_control(congestion.smoltcp());
    s
}

/// A TCP connection, like `std::net::TcpStream`. Dropping it closes it: with
/// a FIN, or with a RST when received data was left unread, as Linux does.
pub struct TcpStream {
    stack: Stack,
    id: SocketId,
}

fn conn(s: &mut State, id: SocketId) -> io::Result<&mut TcpConn> {
    match &mut s.table.get_mut(id)?.body {
        Body::Tcp(c) => Ok(c),
        _ => Err(errno(libc::ENOTSOCK)),
    }
}

/// The socket and its table row at once.
fn parts(s: &mut State, id: SocketId) -> io::Result<(&mut TcpConn, &mut tcp::Socket<'static>)> {
    parts_and_carries(s, id).map(|(c, sock, _)| (c, sock))
}

/// `parts`, and the carries that reads take from first.
fn parts_and_carries(
    s: &mut State,
    id: SocketId,
) -> io::Result<(&mut TcpConn, &mut tcp::Socket<'static>, &mut Carries)> {
    let State {
        table,
        sockets,
        carries,
        ..
    } = s;
    let Body::Tcp(c) = &mut table.get_mut(id)?.body else {
        return Err(errno(libc::ENOTSOCK));
    };
    let sock = sockets.get_mut::<tcp::Socket>(c.handle);
    Ok((c, sock, carries))
}

/// connect(2)'s first half: route, source, port, SYN. Returns the new socket.
fn start_connect(s: &mut State, addr: SocketAddr) -> io::Result<SocketId> {
    let v6 = addr.is_ipv6();
    s.table.has_room()?;
    let mut dst = on_wire(addr);
    if dst.ip().is_unspecified() {
        // Connecting to INADDR_ANY reaches the host itself.
        dst.set_ip(match dst.ip() {
            IpAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
            IpAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
        });
    }
    if dst.port() == 0 {
        return Err(errno(libc::ECONNREFUSED));
    }
    let route = match s.routes.route_get(dst.ip(), None, &*s) {
        Ok(r) => r,
        Err(e) => {
            if dst.is_ipv4() {
                s.snmp.ip.OutNoRoutes += 1;
            }
            return Err(e);
        }
    };
    if matches!(route.kind, RouteType::Broadcast | RouteType::Multicast) || dst.ip().is_multicast()
    {
        return Err(errno(libc::ENETUNREACH));
    }
    let port = {
        let seed = s.random_u32();
        ephemeral(&s.table, &s.sockets, Proto::Tcp, seed)
    }?;
    let buffers = s.table.limits.tcp_buffers(s.table.buffer_bytes);
    s.table.reserve(buffers.bytes())?;
    let mut sock = new_tcp_socket(buffers, s.table.congestion);
    let local = SocketAddr::new(route.prefsrc, port);
    let connected = sock.connect(
        s.iface.context(),
        IpEndpoint::new(dst.ip().into(), dst.port()),
        IpEndpoint::new(local.ip().into(), port),
    );
    if connected.is_err() {
        s.table.release(buffers.bytes());
        return Err(errno(libc::EINVAL));
    }
    let handle = s.sockets.add(sock);
    let body = Body::Tcp(TcpConn {
        handle,
        last: T::SynSent,
        err: None,
        shut_rd: false,
        reuse: false,
        local: as_seen(local, v6),
        peer: as_seen(dst, v6),
        quickack: QUICKACK_BYTES,
        read_since_write: false,
        pingpong: false,
    });
    match s.table.insert(v6, body) {
        Ok(id) => {
            // tcp_connect: counted when the SYN is queued.
            s.snmp.tcp.ActiveOpens += 1;
            Ok(id)
        }
        Err(e) => {
            super::track::remove_tcp(s, handle);
            Err(e)
        }
    }
}

impl TcpStream {
    /// Connects, waiting for the handshake as long as Linux would (about two
    /// minutes of SYN retries). IPv4-mapped IPv6 addresses connect over IPv4.
    pub fn connect(stack: &Stack, addr: SocketAddr) -> io::Result<TcpStream> {
        Self::connect_inner(stack, addr, SYN_TIMEOUT)
    }

    pub fn connect_timeout(
        stack: &Stack,
        addr: &SocketAddr,
        timeout: Duration,
    ) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(errno(libc::EINVAL));
        }
        Self::connect_inner(stack, *addr, timeout)
    }

    fn connect_inner(stack: &Stack, addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        let id = stack.with(|s| start_connect(s, addr))?;
        // From here the stream owns the socket: dropping it cleans up.
        let stream = TcpStream {
            stack: stack.clone(),
            id,
        };
        let r = stack.blocking(
            id,
            super::Interest::WRITABLE,
            |_| Some(timeout),
            io::ErrorKind::TimedOut,
            |s| {
                let (c, sock) = match parts(s, id) {
                    Ok(p) => p,
                    Err(e) => return Poll::Ready(Err(e)),
                };
                match sock.state() {
                    T::SynSent | T::SynReceived => Poll::Pending,
                    T::Closed => {
                        Poll::Ready(Err(errno(c.err.take().unwrap_or(libc::ECONNREFUSED))))
                    }
                    _ => Poll::Ready(Ok(())),
                }
            },
        );
        match r {
            Ok(()) => Ok(stream),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                // tcp_write_err: the connection is dropped without a RST, and
                // counted as a failed attempt (tcp_done in SYN_SENT).
                let _ = stack.with(|s| {
                    let Body::Tcp(c) = s.table.remove(id)?.body else {
                        return Ok(());
                    };
                    super::track::remove_tcp(s, c.handle);
                    s.snmp.tcp.AttemptFails += 1;
                    Ok(())
                });
                Err(errno(libc::ETIMEDOUT))
            }
            Err(e) => Err(e),
        }
    }

    /// connect(2) on a nonblocking socket: returns once the SYN is queued
    /// (Linux's EINPROGRESS); the stream turns writable when connected, or
    /// reports the failure through `take_error` and readiness. The stream
    /// stays nonblocking. Unlike Linux there is no give-up time: smoltcp
    /// retries the SYN until the stream is dropped.
    pub fn connect_nonblocking(stack: &Stack, addr: SocketAddr) -> io::Result<TcpStream> {
        let id = stack.with(|s| {
            let id = start_connect(s, addr)?;
            s.table.get_mut(id)?.opts.nonblocking = true;
            Ok(id)
        })?;
        Ok(TcpStream {
            stack: stack.clone(),
            id,
        })
    }

    pub(crate) fn from_parts(stack: &Stack, id: SocketId) -> TcpStream {
        TcpStream {
            stack: stack.clone(),
            id,
        }
    }

    pub fn id(&self) -> SocketId {
        self.id
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stack.with(|s| Ok(conn(s, self.id)?.local))
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stack.with(|s| {
            let (c, sock) = parts(s, self.id)?;
            if sock.state() == T::Closed {
                return Err(errno(libc::ENOTCONN));
            }
            Ok(c.peer)
        })
    }

    /// Shutdown(Write) sends a FIN once queued data is out; Shutdown(Read)
    /// makes reads return 0 from now on.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.stack.with(|s| {
            let (c, sock) = parts(s, self.id)?;
            if matches!(sock.state(), T::Closed | T::SynSent) {
                return Err(errno(libc::ENOTCONN));
            }
            if matches!(how, Shutdown::Read | Shutdown::Both) {
                c.shut_rd = true;
            }
            if matches!(how, Shutdown::Write | Shutdown::Both) {
                sock.close();
            }
            Ok(())
        })
    }

    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.stack.with(|s| {
            parts(s, self.id)?.1.set_nagle_enabled(!nodelay);
            Ok(())
        })
    }

    pub fn nodelay(&self) -> io::Result<bool> {
        self.stack
            .with(|s| Ok(!parts(s, self.id)?.1.nagle_enabled()))
    }

    /// The connection's congestion control from now on (TCP_CONGESTION).
    /// The new algorithm starts afresh, from its initial window.
    pub fn set_congestion_control(&self, cc: super::CongestionControl) -> io::Result<()> {
        self.stack.with(|s| {
            parts(s, self.id)?.1.set_congestion_control(cc.smoltcp());
            Ok(())
        })
    }

    pub fn congestion_control(&self) -> io::Result<super::CongestionControl> {
        self.stack.with(|s| {
            Ok(super::CongestionControl::from_smoltcp(
                parts(s, self.id)?.1.congestion_control(),
            ))
        })
    }

    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_opt(timeout, |o, t| o.read_timeout = t)
    }

    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_opt(timeout, |o, t| o.write_timeout = t)
    }

    fn set_opt(
        &self,
        timeout: Option<Duration>,
        set: impl FnOnce(&mut super::table::Options, Option<Duration>),
    ) -> io::Result<()> {
        if timeout == Some(Duration::ZERO) {
            // std's rule: a zero timeout is an error, not "forever".
            return Err(errno(libc::EINVAL));
        }
        self.stack.with(|s| {
            set(&mut s.table.get_mut(self.id)?.opts, timeout);
            Ok(())
        })
    }

    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        self.stack
            .with(|s| Ok(s.table.get(self.id)?.opts.read_timeout))
    }

    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        self.stack
            .with(|s| Ok(s.table.get(self.id)?.opts.write_timeout))
    }

    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.stack.with(|s| {
            s.table.get_mut(self.id)?.opts.nonblocking = nonblocking;
            Ok(())
        })
    }

    /// SO_ERROR: the pending error, cleared by reading it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.stack
            .with(|s| Ok(conn(s, self.id)?.err.take().map(errno)))
    }

    /// From now on, hands the connection's received bytes to `sink` as they
    /// arrive, in the round that received them (the poll thread's, or that
    /// of a blocked read of this stack's that drives its devices):
    /// after the round has taken its segments in and before it sends its
    /// ACKs, which then announce the window `sink` freed. `sink` gets the
    /// bytes at the head of the stream (in up to three contiguous parts per
    /// round) and returns how many it took; what it leaves stays queued, is
    /// offered again in the next round (a sink that was full asks for one
    /// with `resume_receive_sink` once it has room), and is what `read`
    /// returns. With a sink that takes everything, `read` waits for the end
    /// of the stream and returns 0 there, or reports the connection's error.
    ///
    /// A program on its own thread, reading with `read` or `read_with`,
    /// costs a wake-up of that thread per round and a round more for the
    /// window it frees, unless its reads drive the devices (no other call
    /// blocked on the stack, and not over lo); this costs neither, whoever
    /// else waits (docs/PERFORMANCE.md). `sink`
    /// runs under the stack's lock, as `read_with`'s `take` does: it must
    /// not block, and a call from it into a stack, this one or another,
    /// panics (into its own it would deadlock, and two stacks whose sinks
    /// call each other would). A panic in `sink` resets the connection; the
    /// next call reports EIO. To move the bytes on, queue them to a thread
    /// of the program's own.
    pub fn set_receive_sink(
        &self,
        sink: impl FnMut(&[u8]) -> usize + Send + 'static,
    ) -> io::Result<()> {
        // The stack's wake-up after the call runs a round: bytes already
        // queued go to the sink at once.
        self.on_conn(|s, h| s.sinks.set(h, Box::new(sink)))
    }

    /// Offers what the connection has queued to its receive sink again, in a
    /// round now: for a sink that left bytes because it was full, once it
    /// has room. (Without it they wait for the next round, which may not
    /// come while the peer has nothing more to send.)
    pub fn resume_receive_sink(&self) -> io::Result<()> {
        // The stack's wake-up after the call runs the round.
        self.on_conn(|_, _| {})
    }

    /// Removes the connection's receive sink: received bytes wait for `read`
    /// again.
    pub fn clear_receive_sink(&self) -> io::Result<()> {
        self.on_conn(|s, h| s.sinks.remove(h))
    }

    /// From now on, fills the connection's send buffer from `source` on the
    /// stack's poll thread, in each round that has room for it: after the
    /// round has taken in the ACKs that made room, and before it sends, so
    /// what `source` writes goes out in that round. `source` gets the free
    /// space (in up to two contiguous parts per round), writes bytes at its
    /// start and returns how many. Returning less than it was given means it
    /// has nothing more for now: it is asked again once the program calls
    /// `resume_send_source`. The program ends the stream with `shutdown`,
    /// as ever; `write` still works, its bytes queued in call order.
    ///
    /// A program writing on its own thread is woken when ACKs make room and
    /// then wakes the poll thread to send what it wrote; this costs neither
    /// (docs/PERFORMANCE.md). `source` runs under the stack's lock, as a
    /// receive sink does, with the same rules: it must not block, a call
    /// from it into a stack panics, and a panic in it resets the connection
    /// (the next call reports EIO).
    pub fn set_send_source(
        &self,
        source: impl FnMut(&mut [u8]) -> usize + Send + 'static,
    ) -> io::Result<()> {
        // The stack's wake-up after the call runs a round, which asks it.
        self.on_conn(|s, h| s.sources.set(h, Box::new(source)))
    }

    /// Asks the connection's send source for bytes again, in the next round
    /// (after it returned less than it was offered).
    pub fn resume_send_source(&self) -> io::Result<()> {
        self.on_conn(|s, h| s.sources.resume(h))
    }

    /// Removes the connection's send source.
    pub fn clear_send_source(&self) -> io::Result<()> {
        self.on_conn(|s, h| s.sources.remove(h))
    }

    /// Runs `f` on the stack's state and the connection's handle, under the
    /// lock; the stack's wake-up after it runs a round.
    fn on_conn(&self, f: impl FnOnce(&mut State, SocketHandle)) -> io::Result<()> {
        let id = self.id;
        self.stack.with(|s| {
            let handle = conn(s, id)?.handle;
            f(s, handle);
            Ok(())
        })
    }

    /// Reads in place: waits as `read` does, then calls `take` with the
    /// received bytes at the head of the stream, and consumes as many as it
    /// returns. They may lie in up to three contiguous parts (the buffer is
    /// a ring), offered in order, each while `take` took all of the one
    /// before: a `take` that caps what it takes counts across its calls (as
    /// one that copies does with its offset). Returns the count consumed; 0
    /// is the end of the stream (or a `take` that consumed nothing). `take`
    /// runs under the stack's lock: it should copy the bytes to where they
    /// go and return, without blocking or calling the stack. A runtime that
    /// copies into its guest's memory so makes one copy instead of two
    /// (gVisor's endpoints read into an io.Writer for the same reason).
    pub fn read_with(&self, mut take: impl FnMut(&[u8]) -> usize) -> io::Result<usize> {
        self.read_by(|carries, h, sock| {
            super::parts::recv_parts(carries, h, sock, &mut take).map(|o| o.n)
        })
    }

    fn read_inner(&self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.read_by(|carries, h, sock| carry::recv(carries, h, sock, buf))
    }

    /// What `read` and `read_with` share: waits until the connection has
    /// bytes to read, has ended or has failed, then reads with `recv`, once.
    fn read_by(
        &self,
        mut recv: impl FnMut(
            &mut Carries,
            SocketHandle,
            &mut tcp::Socket<'static>,
        ) -> Result<usize, tcp::RecvError>,
    ) -> io::Result<usize> {
        let id = self.id;
        let mut first = true;
        self.stack.blocking(
            id,
            super::Interest::READABLE,
            |o| o.read_timeout,
            io::ErrorKind::WouldBlock,
            |s| {
                if std::mem::take(&mut first) {
                    s.away.read_begins(Instant::now());
                }
                let (c, sock, carries) = match parts_and_carries(s, id) {
                    Ok(p) => p,
                    Err(e) => return Poll::Ready(Err(e)),
                };
                if c.shut_rd {
                    return Poll::Ready(Ok(0));
                }
                if sock.can_recv() || carries.len(c.handle) > 0 {
                    let n = recv(carries, c.handle, sock);
                    if let Ok(n) = n {
                        note_read(c, sock, n);
                        if c.pingpong {
                            // Its ACK rides on the program's answer: the
                            // poll thread need not run for the read.
                            s.after_call = AfterCall::RoundIfDue;
                        } else if s.lease.lent() {
                            // Reads drive the devices: the window the read
                            // opened goes out from here, as a round of
                            // theirs would send it, and the poll thread
                            // sleeps on (drive.rs).
                            s.after_call = AfterCall::SendHere;
                        }
                        s.away.read_returns(Instant::now());
                    }
                    return Poll::Ready(n.map_err(|_| errno(libc::EIO)));
                }
                match sock.state() {
                    T::SynSent | T::SynReceived => Poll::Pending,
                    _ if sock.may_recv() => Poll::Pending,
                    // End of stream: the peer's FIN, or a reset reported once.
                    _ => Poll::Ready(c.err.take().map_or(Ok(0), |e| Err(errno(e)))),
                }
            },
        )
    }

    /// Writes in place: waits as `write` does, then calls `fill` with the
    /// free space of the send buffer; the first bytes of each part, as many
    /// as `fill` returns, are then sent. The space may lie in two contiguous
    /// parts (the buffer is a ring), offered in order, the second only if
    /// `fill` filled all of the first (a `fill` that caps what it writes
    /// counts across its calls). Returns the count filled. `fill` runs under
    /// the stack's lock, as `read_with`'s `take` does.
    pub fn write_with(&self, mut fill: impl FnMut(&mut [u8]) -> usize) -> io::Result<usize> {
        self.write_by(|sock| super::parts::send_parts(sock, &mut fill).map(|o| o.n))
    }

    fn write_inner(&self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.write_by(|sock| sock.send_slice(buf))
    }

    /// What `write` and `write_with` share: waits until the connection can
    /// take bytes or has failed, then writes with `send`, once.
    fn write_by(
        &self,
        mut send: impl FnMut(&mut tcp::Socket<'static>) -> Result<usize, tcp::SendError>,
    ) -> io::Result<usize> {
        let id = self.id;
        self.stack.blocking(
            id,
            super::Interest::WRITABLE,
            |o| o.write_timeout,
            io::ErrorKind::WouldBlock,
            |s| {
                let (c, sock) = match parts(s, id) {
                    Ok(p) => p,
                    Err(e) => return Poll::Ready(Err(e)),
                };
                if let Some(e) = c.err.take() {
                    return Poll::Ready(Err(errno(e)));
                }
                match sock.state() {
                    T::SynSent | T::SynReceived => return Poll::Pending,
                    _ if !sock.may_send() => return Poll::Ready(Err(errno(libc::EPIPE))),
                    _ => {}
                }
                if !sock.can_send() {
                    return Poll::Pending;
                }
                // Nothing unsent or unacknowledged: an answer, or the first
                // bytes after a pause, which go out on this thread.
                let idle = sock.send_queue() == 0;
                let n = send(sock).map_err(|_| errno(libc::EPIPE));
                if matches!(n, Ok(n) if n > 0) {
                    note_write(c, sock);
                    if idle {
                        s.after_call = AfterCall::SendHere;
                    }
                }
                Poll::Ready(n)
            },
        )
    }
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_inner(buf)
    }
}

impl Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_inner(buf)
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_inner(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_inner(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        let id = self.id;
        let _ = self.stack.with(|s| close(s, id));
    }
}

/// close(2): the connection lingers as an orphan until it has finished.
fn close(s: &mut State, id: SocketId) -> io::Result<()> {
    let entry = s.table.remove(id)?;
    let Body::Tcp(c) = entry.body else {
        return Err(errno(libc::ENOTSOCK));
    };
    let carried = s.carries.len(c.handle);
    s.carries.remove(c.handle);
    s.sinks.remove(c.handle);
    s.sources.remove(c.handle);
    let sock = s.sockets.get_mut::<tcp::Socket>(c.handle);
    if sock.state() == T::Closed && sock.local_endpoint().is_none() {
        super::track::remove_tcp(s, c.handle);
        return Ok(());
    }
    if sock.recv_queue() + carried > 0 && sock.state() != T::Closed {
        // tcp_close with unread data: reset instead of a FIN.
        sock.abort();
        s.snmp.tcp_ext.TCPAbortOnClose += 1;
    } else {
        sock.close();
    }
    s.table.orphans.push(Child {
        handle: c.handle,
        last: c.last,
        uid: entry.uid,
        reuse: c.reuse,
        v6: entry.v6,
        born: s.now().total_micros(),
    });
    Ok(())
}

impl std::fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpStream")
            .field("inode", &self.id.inode)
            .finish()
    }
}
