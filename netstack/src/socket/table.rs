//! The socket table: ids, inode numbers, owners, options, and what each
//! socket is. Sockets reach smoltcp only through the handles kept here.

use super::dgram::Dgram;
use super::limits::Limits;
use super::set::{HandleMap, SocketHandle};
use crate::error::errno;
use slab::Slab;
use smoltcp::socket::tcp;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// Names one socket of one stack. A closed socket's id stays invalid even
/// when its slot is reused (EBADF), since the inode differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SocketId {
    pub(crate) index: usize,
    pub(crate) inode: u64,
}

impl SocketId {
    /// The socket's inode number, as /proc/net and /proc/PID/fd show it.
    pub fn inode(&self) -> u64 {
        self.inode
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Options {
    pub nonblocking: bool,
    pub read_timeout: Option<Duration>,
    pub write_timeout: Option<Duration>,
}

pub(crate) struct Entry {
    pub inode: u64,
    pub uid: u32,
    /// An AF_INET6 socket (which may carry IPv4 as mapped addresses).
    pub v6: bool,
    pub opts: Options,
    pub body: Body,
}

impl Entry {
    pub fn is_listener(&self) -> bool {
        matches!(self.body, Body::Listener(_))
    }
}

pub(crate) enum Body {
    Tcp(TcpConn),
    Listener(Listener),
    Udp(Dgram),
    Ping(Dgram),
}

/// A TCP connection owned by the program.
pub(crate) struct TcpConn {
    pub handle: SocketHandle,
    /// The state `observe` saw last, to count transitions.
    pub last: tcp::State,
    /// The error the next call reports (sk_err): ECONNREFUSED, ECONNRESET, ETIMEDOUT.
    pub err: Option<i32>,
    pub shut_rd: bool,
    /// SO_REUSEADDR, inherited from the listener for accepted connections.
    pub reuse: bool,
    /// Endpoints as the program sees them (IPv4 mapped on AF_INET6 sockets);
    /// kept because smoltcp forgets them once a connection is reset.
    pub local: SocketAddr,
    pub peer: SocketAddr,
    /// Bytes the program reads before the connection's ACKs are delayed
    /// (tcp.rs, `QUICKACK_BYTES`).
    pub quickack: usize,
    /// The program read since it last wrote: a write now answers it.
    pub read_since_write: bool,
    /// Linux's pingpong mode: the program answers what it receives, so its
    /// ACKs wait to ride on the answers instead of going at once (tcp.rs).
    pub pingpong: bool,
}

/// A connection that is not the program's (yet or any more): an embryonic or
/// not yet accepted one under a listener, or one closed and lingering.
pub(crate) struct Child {
    pub handle: SocketHandle,
    pub last: tcp::State,
    pub uid: u32,
    pub reuse: bool,
    /// Of an AF_INET6 socket (an IPv4 connection then shows in tcp6, mapped).
    pub v6: bool,
    /// When its SYN arrived (stack clock, microseconds).
    pub born: i64,
}

pub(crate) struct Listener {
    pub local: SocketAddr,
    pub v6only: bool,
    pub backlog: usize,
    /// smoltcp sockets made for incoming SYNs, oldest first.
    pub children: Vec<Child>,
}

pub(crate) struct SocketTable {
    entries: Slab<Entry>,
    /// The slot of each program-owned TCP connection, by its socket, and
    /// the slots of the listeners: a round's state changes and a SYN's
    /// listener are found without a walk over every socket (with
    /// thousands of connections open, that walk was the largest cost of
    /// making one more). Kept by `insert` and `remove`, the only places an
    /// entry comes or goes; a body never changes kind, nor a connection its
    /// socket.
    conns: HandleMap<SocketHandle, usize>,
    listeners: Vec<usize>,
    next_inode: u64,
    /// Closed by the program, still finishing (FIN_WAIT, TIME_WAIT, ...).
    pub orphans: Vec<Child>,
    pub limits: Limits,
    /// Bytes of buffer memory held now.
    pub buffer_bytes: usize,
    /// Owner of sockets made from now on.
    pub uid: u32,
    /// Congestion control of connections made from now on.
    pub congestion: super::CongestionControl,
    /// Where the next automatic ping ident search starts (ping_port_rover).
    pub ping_rover: u16,
}

impl SocketTable {
    pub fn new(uid: u32) -> SocketTable {
        SocketTable {
            entries: Slab::new(),
            conns: HandleMap::default(),
            listeners: Vec::new(),
            // Low inode numbers belong to the pseudo filesystem itself.
            next_inode: 10_000,
            orphans: Vec::new(),
            limits: Limits::default(),
            buffer_bytes: 0,
            uid,
            congestion: super::CongestionControl::default(),
            ping_rover: 0,
        }
    }

    pub fn insert(&mut self, v6: bool, body: Body) -> io::Result<SocketId> {
        if self.entries.len() >= self.limits.max_sockets {
            return Err(errno(libc::EMFILE));
        }
        let inode = self.next_inode;
        self.next_inode += 1;
        let index = self.entries.vacant_key();
        match &body {
            Body::Tcp(c) => {
                self.conns.insert(c.handle, index);
            }
            Body::Listener(_) => self.listeners.push(index),
            Body::Udp(_) | Body::Ping(_) => {}
        }
        self.entries.insert(Entry {
            inode,
            uid: self.uid,
            v6,
            opts: Options::default(),
            body,
        });
        Ok(SocketId { index, inode })
    }

    /// Whether one more socket fits (checked before work that is hard to undo).
    pub fn has_room(&self) -> io::Result<()> {
        if self.entries.len() >= self.limits.max_sockets {
            return Err(errno(libc::EMFILE));
        }
        Ok(())
    }

    pub fn get(&self, id: SocketId) -> io::Result<&Entry> {
        self.entries
            .get(id.index)
            .filter(|e| e.inode == id.inode)
            .ok_or_else(|| errno(libc::EBADF))
    }

    pub fn get_mut(&mut self, id: SocketId) -> io::Result<&mut Entry> {
        self.entries
            .get_mut(id.index)
            .filter(|e| e.inode == id.inode)
            .ok_or_else(|| errno(libc::EBADF))
    }

    pub fn remove(&mut self, id: SocketId) -> io::Result<Entry> {
        self.get(id)?;
        let e = self.entries.remove(id.index);
        match &e.body {
            Body::Tcp(c) => {
                self.conns.remove(&c.handle);
            }
            Body::Listener(_) => self.listeners.retain(|&i| i != id.index),
            Body::Udp(_) | Body::Ping(_) => {}
        }
        Ok(e)
    }

    /// Debug builds (the tests, the fuzz harness) check the indexes
    /// against the table after every change of state.
    #[cfg(debug_assertions)]
    pub fn check_indexes(&self) {
        let mut conns = 0;
        let mut listeners = 0;
        for (index, e) in self.entries.iter() {
            match &e.body {
                Body::Tcp(c) => {
                    conns += 1;
                    assert_eq!(self.conns.get(&c.handle), Some(&index), "conn index");
                }
                Body::Listener(_) => {
                    listeners += 1;
                    assert!(self.listeners.contains(&index), "listener index");
                }
                Body::Udp(_) | Body::Ping(_) => {}
            }
        }
        assert_eq!(self.conns.len(), conns, "stale conn index entries");
        assert_eq!(
            self.listeners.len(),
            listeners,
            "stale listener index entries"
        );
    }

    /// The program's connection on socket `h`, if it is one.
    pub fn conn_mut(&mut self, h: SocketHandle) -> Option<&mut TcpConn> {
        let index = *self.conns.get(&h)?;
        match &mut self.entries.get_mut(index)?.body {
            Body::Tcp(c) if c.handle == h => Some(c),
            _ => None,
        }
    }

    /// The listeners, with their ids.
    pub fn listeners(&self) -> impl Iterator<Item = (SocketId, &Entry, &Listener)> {
        self.listeners.iter().filter_map(|&index| {
            let e = self.entries.get(index)?;
            match &e.body {
                Body::Listener(l) => Some((
                    SocketId {
                        index,
                        inode: e.inode,
                    },
                    e,
                    l,
                )),
                _ => None,
            }
        })
    }

    pub fn for_each_listener_mut(&mut self, mut f: impl FnMut(&mut Listener)) {
        for &index in &self.listeners {
            if let Some(Entry {
                body: Body::Listener(l),
                ..
            }) = self.entries.get_mut(index)
            {
                f(l);
            }
        }
    }

    pub fn entries(&self) -> impl Iterator<Item = (SocketId, &Entry)> {
        self.entries.iter().map(|(index, e)| {
            (
                SocketId {
                    index,
                    inode: e.inode,
                },
                e,
            )
        })
    }

    pub fn entries_mut(&mut self) -> impl Iterator<Item = &mut Entry> {
        self.entries.iter_mut().map(|(_, e)| e)
    }

    /// Takes `bytes` of the buffer budget, or fails with ENOBUFS.
    pub fn reserve(&mut self, bytes: usize) -> io::Result<()> {
        if self.buffer_bytes + bytes > self.limits.max_buffer_bytes {
            return Err(errno(libc::ENOBUFS));
        }
        self.buffer_bytes += bytes;
        Ok(())
    }

    pub fn release(&mut self, bytes: usize) {
        self.buffer_bytes = self.buffer_bytes.saturating_sub(bytes);
    }
}
