//! Readiness, as poll(2) reports it, for building epoll on a stack.

use super::table::{Body, SocketId};
use super::track::synchronized;
use crate::state::State;
use smoltcp::socket::tcp::{self, State as T};
use std::io;

/// What a waiter asks about. Errors and hang-ups are always reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Interest {
    pub readable: bool,
    pub writable: bool,
}

impl Interest {
    pub const READABLE: Interest = Interest {
        readable: true,
        writable: false,
    };
    pub const WRITABLE: Interest = Interest {
        readable: false,
        writable: true,
    };
    pub const BOTH: Interest = Interest {
        readable: true,
        writable: true,
    };
}

/// POLLIN, POLLOUT, POLLHUP and POLLERR of one socket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Readiness {
    /// A read or accept would not block.
    pub readable: bool,
    /// A write would not block.
    pub writable: bool,
    /// Both directions are finished (or the connection is gone).
    pub hangup: bool,
    /// An error is pending (read it with `take_error`).
    pub error: bool,
}

/// Whether a call that waits for `interest` on `id` waits for what packets
/// alone will bring, so that it may drive the devices (drive.rs): a read
/// of a TCP connection (a request for a program that answers what it
/// reads, the next segments for a bulk reader), or of a datagram socket
/// that sent since its last datagram (`Dgram::answering`). Not a read of a
/// connection with a receive sink: the sink takes the bytes in whichever
/// round brings them, so the read waits for the end of the stream alone,
/// and the poll thread's rounds cost it less than the read's turns.
pub(crate) fn waits_for_packets(state: &State, id: SocketId, interest: Interest) -> bool {
    if !interest.readable {
        return false;
    }
    match state.table.get(id).map(|e| &e.body) {
        Ok(Body::Tcp(c)) => !state.sinks.has(c.handle),
        Ok(Body::Udp(d) | Body::Ping(d)) => d.answering,
        _ => false,
    }
}

impl Readiness {
    pub fn matches(&self, interest: Interest) -> bool {
        (interest.readable && self.readable)
            || (interest.writable && self.writable)
            || self.hangup
            || self.error
    }
}

pub(crate) fn readiness(state: &State, id: SocketId) -> io::Result<Readiness> {
    let e = state.table.get(id)?;
    Ok(match &e.body {
        Body::Tcp(c) => {
            let s = state.sockets.get::<tcp::Socket>(c.handle);
            let connecting = matches!(s.state(), T::SynSent | T::SynReceived);
            let closed = s.state() == T::Closed;
            Readiness {
                readable: !connecting
                    && (s.can_recv()
                        || state.carries.len(c.handle) > 0
                        || !s.may_recv()
                        || c.shut_rd),
                writable: !connecting && (s.can_send() || !s.may_send()),
                hangup: closed || (!s.may_recv() && !s.may_send() && !connecting),
                error: c.err.is_some(),
            }
        }
        Body::Listener(l) => Readiness {
            readable: l
                .children
                .iter()
                .any(|c| synchronized(state.sockets.get::<tcp::Socket>(c.handle).state())),
            ..Readiness::default()
        },
        Body::Udp(d) | Body::Ping(d) => Readiness {
            readable: !d.rx.is_empty() || d.shut_rd || d.err.is_some(),
            writable: true,
            hangup: d.shut_rd && d.shut_wr,
            error: d.err.is_some(),
        },
    })
}

/// Everything a blocked call on a socket decides by, for what it waits for
/// (`interest`): when its mark is unchanged, the call would wait again
/// (waiters.rs). A reader is not woken by its socket's send queue, nor a
/// writer by its receive queue.
///
/// Linux wakes a blocked writer only once its free send buffer is half what
/// it holds (sk_stream_write_space), and tcp_poll reports writable only
/// then. Tried here, it cost throughput: with a fixed 256 KiB buffer (Linux
/// grows its own to megabytes) a writer woken late leaves less data in
/// flight, and `tun_bench sandnet out` fell from a median 291 to 217 MiB/s
/// over 7 alternating runs. So a writer wakes for any free space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mark {
    Gone,
    Tcp {
        state: T,
        /// Receive queue and carry, for a reader (0 otherwise).
        recv: usize,
        carry: usize,
        /// Send queue, for a writer (0 otherwise).
        send: usize,
        err: Option<i32>,
        shut_rd: bool,
    },
    Listener {
        children: usize,
        established: usize,
    },
    Dgram {
        queued: usize,
        err: Option<i32>,
        shut_rd: bool,
        shut_wr: bool,
    },
}

pub(crate) fn mark(state: &State, id: SocketId, interest: Interest) -> Mark {
    let Ok(e) = state.table.get(id) else {
        return Mark::Gone;
    };
    match &e.body {
        Body::Tcp(c) => {
            let s = state.sockets.get::<tcp::Socket>(c.handle);
            let reading = interest.readable;
            Mark::Tcp {
                state: s.state(),
                recv: if reading { s.recv_queue() } else { 0 },
                carry: if reading {
                    state.carries.len(c.handle)
                } else {
                    0
                },
                send: if interest.writable { s.send_queue() } else { 0 },
                err: c.err,
                shut_rd: c.shut_rd,
            }
        }
        Body::Listener(l) => Mark::Listener {
            children: l.children.len(),
            established: l
                .children
                .iter()
                .filter(|c| synchronized(state.sockets.get::<tcp::Socket>(c.handle).state()))
                .count(),
        },
        Body::Udp(d) | Body::Ping(d) => Mark::Dgram {
            queued: d.rx.len(),
            err: d.err,
            shut_rd: d.shut_rd,
            shut_wr: d.shut_wr,
        },
    }
}
