//! Send sources: a connection's send buffer filled by the program on the
//! poll thread, in the round whose ACKs made room (`TcpStream::set_send_source`).
//!
//! The mirror of a receive sink (sink.rs). A program writing on its own
//! thread is woken when ACKs free its send buffer, fills it, and wakes the
//! poll thread to send what it wrote: where a window holds few segments the
//! receiver waits on that hand-off. A source is asked for bytes in the round,
//! after smoltcp has taken in the ACKs and before it sends, so the room the
//! ACKs made is filled and sent in the same round. lwIP's `tcp_sent`
//! callback, which a program answers with `tcp_write`, is the model.
//!
//! A source that fills less than it is offered has nothing more for now: it
//! is asked again after the program calls `resume_send_source`. It runs
//! under the stack's lock, as a sink does (guard.rs).

use super::set::{SocketHandle, Sockets};
use super::table::SocketTable;
use smoltcp::socket::tcp;

/// A source: writes bytes at the start of the space it is given and
/// returns how many.
pub(crate) type SourceFn = Box<dyn FnMut(&mut [u8]) -> usize + Send>;

struct Source {
    handle: SocketHandle,
    fill: SourceFn,
    /// It filled less than it was offered: not asked again until resumed.
    paused: bool,
}

/// The connections that have a source. Usually none: a round then pays one
/// emptiness check.
#[derive(Default)]
pub(crate) struct Sources(Vec<Source>);

impl Sources {
    /// Sets the source of the connection `handle`, replacing the one it had.
    pub fn set(&mut self, handle: SocketHandle, fill: SourceFn) {
        self.remove(handle);
        self.0.push(Source {
            handle,
            fill,
            paused: false,
        });
    }

    /// Drops the source of the connection `handle`, if it has one.
    pub fn remove(&mut self, handle: SocketHandle) {
        self.0.retain(|s| s.handle != handle);
    }

    /// Asks `handle`'s source for bytes again in the next round.
    pub fn resume(&mut self, handle: SocketHandle) {
        for s in self.0.iter_mut().filter(|s| s.handle == handle) {
            s.paused = false;
        }
    }

    /// Fills each connection's send buffer from its source, once per round:
    /// between smoltcp's ingress (whose ACKs make room) and its egress.
    pub fn fill(&mut self, table: &mut SocketTable, sockets: &mut Sockets) {
        if self.0.is_empty() {
            return;
        }
        self.0.retain_mut(|source| {
            let Some(c) = table.conn_mut(source.handle) else {
                return false;
            };
            if source.paused {
                return true;
            }
            // Not `get_mut` first: that would take a parked connection back
            // into smoltcp's set. A connection with room to fill and a source
            // that is not paused is not parked for long: it sends.
            let s = sockets.get::<tcp::Socket>(source.handle);
            if !s.may_send() || s.send_queue() == s.send_capacity() {
                return true;
            }
            let sock = sockets.get_mut::<tcp::Socket>(source.handle);
            let mut filled = 0;
            let run = super::guard::run(|| {
                if let Ok(o) = super::parts::send_parts(sock, &mut source.fill) {
                    filled = o.n;
                    // Less than it could: nothing more for now.
                    source.paused = o.short;
                }
            });
            if run.is_err() {
                // What it wrote may be half a message: the stream is broken.
                sock.abort();
                c.err = Some(libc::EIO);
                return false;
            }
            if filled > 0 {
                super::tcp::note_write(c, sock);
            }
            true
        });
    }
}
