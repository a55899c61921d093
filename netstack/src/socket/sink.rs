//! Receive sinks: a connection's bytes handed to the program in the round
//! that received them, whichever thread runs it
//! (`TcpStream::set_receive_sink`).
//!
//! A program that reads with `read` or `read_with` runs on a thread of its
//! own. Unless its reads drive the devices (drive.rs; not while another call
//! is blocked on the stack, nor over lo), each round that receives data wakes
//! it, and the window it frees goes out in a later round, which its read has
//! to ask for. Where a window holds few segments (four of 64 KiB in 256 KiB
//! at MTU 65535) the sender waits on that hand-off, and on two cores shared
//! with the sender the hand-off is what kept a receiving stack below a bare
//! smoltcp loop, which consumes in its own thread (docs/PERFORMANCE.md). A
//! sink consumes in the round, after smoltcp has taken in the segments and
//! before it writes its ACKs, so the ACK announces the window the sink freed,
//! with no thread between; lwIP's raw API delivers received data the same way
//! (`tcp_recv`).
//!
//! A sink runs under the stack's lock: it must not block, and it cannot call
//! into a stack (such a call panics instead of deadlocking: into its own
//! stack at once, into another when that one's sink calls back). A panic in
//! a sink resets its connection (the next call reports EIO) and the stack
//! carries on.

use super::carry::Carries;
use super::parts;
use super::set::{SocketHandle, Sockets};
use super::table::SocketTable;
use smoltcp::socket::tcp;

/// A sink: takes the bytes it is given, or the first part of them, and
/// returns how many it took.
pub(crate) type SinkFn = Box<dyn FnMut(&[u8]) -> usize + Send>;

struct Sink {
    handle: SocketHandle,
    take: SinkFn,
}

/// The connections that have a sink. Usually none: a round then pays one
/// emptiness check.
#[derive(Default)]
pub(crate) struct Sinks(Vec<Sink>);

impl Sinks {
    /// Sets the sink of the connection `handle`, replacing the one it had.
    pub fn set(&mut self, handle: SocketHandle, take: SinkFn) {
        self.remove(handle);
        self.0.push(Sink { handle, take });
    }

    /// Whether the connection `handle` has a sink.
    pub fn has(&self, handle: SocketHandle) -> bool {
        self.0.iter().any(|s| s.handle == handle)
    }

    /// Drops the sink of the connection `handle`, if it has one.
    pub fn remove(&mut self, handle: SocketHandle) {
        self.0.retain(|s| s.handle != handle);
    }

    /// Offers each connection with a sink what it has received, once per
    /// round: between smoltcp's ingress and egress, before the carries are
    /// aligned (what a sink takes needs no carry). Bytes a sink leaves stay
    /// queued for `read` and are offered again in the next round.
    pub fn feed(&mut self, table: &mut SocketTable, sockets: &mut Sockets, carries: &mut Carries) {
        if self.0.is_empty() {
            return;
        }
        self.0.retain_mut(|sink| {
            let Some(c) = table.conn_mut(sink.handle) else {
                return false;
            };
            // Not `get_mut` first: that would take a parked connection back
            // into smoltcp's set, and a parked one has received nothing.
            if c.shut_rd
                || (!sockets.get::<tcp::Socket>(sink.handle).can_recv()
                    && carries.len(sink.handle) == 0)
            {
                return true;
            }
            let sock = sockets.get_mut::<tcp::Socket>(sink.handle);
            let mut taken = 0;
            let fed = super::guard::run(|| {
                // What it leaves stays queued: it is full for now.
                taken = parts::recv_parts(carries, sink.handle, sock, &mut sink.take)
                    .map_or(0, |o| o.n);
            });
            if fed.is_err() {
                // What the sink had taken is gone with it: the stream is
                // broken, and what is left of it goes too, so that the next
                // call reports the error rather than bytes after a gap.
                carries.remove(sink.handle);
                while matches!(sock.recv(|d| (d.len(), d.len())), Ok(n) if n > 0) {}
                sock.abort();
                c.err = Some(libc::EIO);
                return false;
            }
            if taken > 0 {
                super::tcp::note_read(c, sock, taken);
            }
            true
        });
    }
}
