//! What UDP and ping sockets share: a queue of whole datagrams, the bound and
//! connected endpoints, the pending error, and Linux's socket lookup for
//! what ingress hands them.

use super::ports::{as_seen, Binding};
use super::queue::{DatagramQueue, Entry};
use super::table::{Body, SocketId};
use crate::state::State;
use crate::wire::{IpView, PROTO_UDP};
use std::net::{IpAddr, SocketAddr};

/// What one queued datagram costs besides its payload, as Linux's skb
/// truesize charges it: its entry in the queue, twice, since the list of
/// entries grows by doubling.
pub(crate) const DATAGRAM_OVERHEAD: usize = 2 * std::mem::size_of::<Entry>();

enum Outcome {
    Queued,
    /// The socket was shut for reading.
    Ignored,
    /// The socket's queue is full.
    Full,
    /// The stack's buffer budget is spent.
    NoMemory,
}

#[derive(Default)]
pub(crate) struct Dgram {
    /// Bound endpoint (the port is the ping ident for ping sockets), as the
    /// program named it; `None` until bound, explicitly or by a first send.
    pub local: Option<SocketAddr>,
    /// Connected peer, as the program named it.
    pub peer: Option<SocketAddr>,
    pub v6only: bool,
    /// Received datagrams; their payload bytes are what the socket rows show.
    pub rx: DatagramQueue,
    /// What `rx` holds from the allocator as the stack's buffer budget was
    /// last charged with it (`recharge`).
    pub charged: usize,
    /// sk_err: reported once by the next call.
    pub err: Option<i32>,
    /// Datagrams dropped for a full queue (sk_drops).
    pub drops: u64,
    pub shut_rd: bool,
    pub shut_wr: bool,
    /// The program sent since it last took a datagram: it answers what it
    /// receives, or asks and waits for the answer. A receive that then
    /// blocks waits for the next datagram at the devices (drive.rs), as a
    /// TCP connection in pingpong mode does; a socket that only receives
    /// leaves its datagrams to the poll thread, which takes them in while
    /// the program is busy with the ones before.
    pub answering: bool,
}

impl Dgram {
    pub fn binding(&self, v6_socket: bool) -> Binding {
        let ip = self.local.map_or(
            if v6_socket {
                IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
            } else {
                IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
            },
            |l| l.ip(),
        );
        Binding::new(ip, v6_socket, self.v6only)
    }

    /// How well this socket matches a packet from `src` to `dst:port`, as
    /// compute_score ranks them; `None` when it does not match at all.
    fn score(&self, v6_socket: bool, src: SocketAddr, dst: IpAddr, port: u16) -> Option<u32> {
        let local = self.local?;
        if local.port() != port {
            return None;
        }
        let binding = self.binding(v6_socket);
        if !binding.admits(dst) {
            return None;
        }
        let mut score = if v6_socket == dst.is_ipv6() { 2 } else { 1 };
        if binding.is_exact() {
            score += 4;
        }
        if let Some(peer) = self.peer {
            if super::ports::on_wire(peer) != src {
                return None;
            }
            score += 4;
        }
        Some(score)
    }

    /// What the queue holds against its limit: payload and, as Linux's skb
    /// truesize does, what each datagram costs besides, so that a flood of
    /// empty datagrams fills the queue too.
    pub fn rx_charge(&self) -> usize {
        self.rx.bytes() + self.rx.len() * DATAGRAM_OVERHEAD
    }

    /// Brings what the queue has charged to the stack's buffer budget to
    /// what it holds from the allocator now; returns the change (charged
    /// more, given back).
    pub fn recharge(&mut self) -> (usize, usize) {
        let now = self.rx.footprint();
        let before = std::mem::replace(&mut self.charged, now);
        (now.saturating_sub(before), before.saturating_sub(now))
    }

    /// Queues a datagram, or drops and counts it when the queue is full. As
    /// __udp_enqueue_schedule_skb, a datagram is taken while the queue is
    /// within its limit, so the queue may pass it by one datagram (and an
    /// empty queue takes any datagram).
    fn enqueue(&mut self, limit: usize, from: SocketAddr, ttl: u8, payload: &[u8]) -> Outcome {
        if self.shut_rd {
            return Outcome::Ignored;
        }
        if self.rx_charge() > limit {
            self.drops += 1;
            return Outcome::Full;
        }
        self.rx.push(from, ttl, payload);
        Outcome::Queued
    }
}

/// Delivers a datagram, which arrived in the packet `v`, to the sockets that
/// take it. Returns how many took it (0: nobody listens).
pub(crate) fn deliver(
    state: &mut State,
    ping: bool,
    src: SocketAddr,
    v: &IpView,
    port: u16,
    data: &[u8],
    broadcast: bool,
) -> usize {
    let takers = state
        .table
        .entries()
        .filter_map(|(id, e)| match (&e.body, ping) {
            (Body::Udp(d), false) | (Body::Ping(d), true) => {
                d.score(e.v6, src, v.dst, port).map(|s| (s, id))
            }
            _ => None,
        });
    if broadcast {
        let ids: Vec<SocketId> = takers.map(|(_, id)| id).collect();
        for &id in &ids {
            deliver_to(state, id, ping, src, v, data);
        }
        ids.len()
    } else {
        // The best score wins; among equals, the oldest socket.
        match takers.min_by_key(|(score, _)| std::cmp::Reverse(*score)) {
            Some((_, id)) => {
                deliver_to(state, id, ping, src, v, data);
                1
            }
            None => 0,
        }
    }
}

/// Queues one datagram on one socket, counting a drop where Linux does.
fn deliver_to(
    state: &mut State,
    id: SocketId,
    ping: bool,
    src: SocketAddr,
    v: &IpView,
    data: &[u8],
) {
    let limit = state.table.limits.dgram_recv_buffer;
    let v4 = v.dst.is_ipv4();
    let budget_left = state
        .table
        .limits
        .max_buffer_bytes
        .saturating_sub(state.table.buffer_bytes);
    let Ok(entry) = state.table.get_mut(id) else {
        return;
    };
    let v6 = entry.v6;
    let (Body::Udp(d) | Body::Ping(d)) = &mut entry.body else {
        return;
    };
    // The budget pays for the memory a datagram makes the queue take, which
    // is none while the queue has room.
    let outcome = if d.rx.growth_for(data.len()) > budget_left {
        d.drops += 1;
        Outcome::NoMemory
    } else {
        d.enqueue(limit, as_seen(src, v6), v.ttl, data)
    };
    let (more, _) = d.recharge();
    state.table.buffer_bytes += more;
    match outcome {
        Outcome::Queued | Outcome::Ignored => {}
        // __udp_queue_rcv_skb: a full socket is RcvbufErrors, the stack's
        // memory limit MemErrors; both are InErrors. Ping sockets count nothing.
        Outcome::Full | Outcome::NoMemory if ping => {}
        Outcome::Full if v4 => {
            state.snmp.udp.RcvbufErrors += 1;
            state.snmp.udp.InErrors += 1;
        }
        Outcome::Full => {
            state.snmp6.udp6.Udp6RcvbufErrors += 1;
            state.snmp6.udp6.Udp6InErrors += 1;
        }
        Outcome::NoMemory if v4 => {
            state.snmp.udp.MemErrors += 1;
            state.snmp.udp.InErrors += 1;
        }
        Outcome::NoMemory => {
            state.snmp6.udp6.Udp6MemErrors += 1;
            state.snmp6.udp6.Udp6InErrors += 1;
        }
    }
}

/// ingress: a UDP datagram that passed its checks. Returns whether a socket
/// took it; if not, the caller counts NoPorts and smoltcp answers port
/// unreachable.
pub(crate) fn deliver_udp(state: &mut State, v: &IpView, datagram: &[u8], broadcast: bool) -> bool {
    let sport = u16::from_be_bytes([datagram[0], datagram[1]]);
    let dport = u16::from_be_bytes([datagram[2], datagram[3]]);
    let src = SocketAddr::new(v.src, sport);
    deliver(state, false, src, v, dport, &datagram[8..], broadcast) > 0
}

/// ingress: an ICMP error quoting a datagram one of our sockets sent. As
/// Linux without IP_RECVERR, only a hard error on a connected socket is
/// reported (sk_err), by the socket's next call.
pub(crate) fn deliver_icmp_error(state: &mut State, quoted: &[u8], err: i32, hard: bool) {
    if !hard {
        return;
    }
    let Some(q) = crate::wire::view(quoted) else {
        return;
    };
    let l4 = &quoted[q.payload_start.min(quoted.len())..];
    if l4.len() < 8 {
        return;
    }
    let ping = q.proto != PROTO_UDP;
    if ping && !matches!(q.proto, crate::wire::PROTO_ICMP | crate::wire::PROTO_ICMPV6) {
        return;
    }
    // What we sent: from our port (or ident) to the peer's.
    let (local_port, peer) = if ping {
        (
            u16::from_be_bytes([l4[4], l4[5]]),
            SocketAddr::new(q.dst, 0),
        )
    } else {
        (
            u16::from_be_bytes([l4[0], l4[1]]),
            SocketAddr::new(q.dst, u16::from_be_bytes([l4[2], l4[3]])),
        )
    };
    for e in state.table.entries_mut() {
        let d = match (&mut e.body, ping) {
            (Body::Udp(d), false) | (Body::Ping(d), true) => d,
            _ => continue,
        };
        let (Some(local), Some(p)) = (d.local, d.peer) else {
            continue;
        };
        let p = super::ports::on_wire(p);
        let peer_matches = if ping { p.ip() == peer.ip() } else { p == peer };
        if local.port() == local_port && peer_matches {
            d.err = Some(err);
        }
    }
}
