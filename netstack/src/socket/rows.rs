//! The socket table as /proc/net/{tcp,udp,raw,icmp}[6] list it.

use super::ports::as_seen;
use super::table::{Body, Child};
use crate::inet::{tcp_state, SocketInfo, SocketKind, TcpDetail};
use crate::state::State;
use smoltcp::socket::tcp::{self, State as T};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

fn linux_state(s: T) -> u8 {
    match s {
        T::Closed => tcp_state::CLOSE,
        T::Listen => tcp_state::LISTEN,
        T::SynSent => tcp_state::SYN_SENT,
        T::SynReceived => tcp_state::SYN_RECV,
        T::Established => tcp_state::ESTABLISHED,
        T::FinWait1 => tcp_state::FIN_WAIT1,
        T::FinWait2 => tcp_state::FIN_WAIT2,
        T::CloseWait => tcp_state::CLOSE_WAIT,
        T::Closing => tcp_state::CLOSING,
        T::LastAck => tcp_state::LAST_ACK,
        T::TimeWait => tcp_state::TIME_WAIT,
    }
}

fn unspecified(v6: bool) -> SocketAddr {
    let ip: IpAddr = if v6 {
        Ipv6Addr::UNSPECIFIED.into()
    } else {
        Ipv4Addr::UNSPECIFIED.into()
    };
    SocketAddr::new(ip, 0)
}

/// What smoltcp lets us know of the timers. smoltcp keeps its RTO and its
/// congestion window private: rto is its initial and minimum (1 s), cwnd
/// Linux's initial window. ato is the delay of the connection's delayed
/// ACKs, also while it ACKs at once at its start (tcp.rs), as Linux shows
/// its ACK timeout in quickack mode too. Of Linux's quick/pingpong column
/// only the pingpong bit is known (set by the caller for the program's
/// connections): Linux's quick count has no counterpart here.
fn detail(s: &tcp::Socket) -> TcpDetail {
    TcpDetail {
        timer: match s.state() {
            T::TimeWait => 3,
            _ if s.send_queue() > 0 => 1,
            _ if s.keep_alive().is_some() => 2,
            _ => 0,
        },
        timer_ticks: 0,
        retransmits: 0,
        probes: 0,
        rto_ticks: 100,
        ato_ticks: s.ack_delay().unwrap_or(super::tcp::ACK_DELAY).millis() / 10,
        quick_pingpong: 0,
        snd_cwnd: 10,
        ssthresh: None,
    }
}

/// `carried`: received bytes held in the connection's carry (carry.rs),
/// which are part of its receive queue.
fn tcp_row(
    s: &tcp::Socket,
    carried: usize,
    v6: bool,
    uid: u32,
    inode: u64,
    known: Option<(SocketAddr, SocketAddr)>,
) -> SocketInfo {
    let endpoints = match (s.local_endpoint(), s.remote_endpoint()) {
        (Some(l), Some(r)) => (
            as_seen(SocketAddr::new(l.addr.into(), l.port), v6),
            as_seen(SocketAddr::new(r.addr.into(), r.port), v6),
        ),
        _ => known.unwrap_or((unspecified(v6), unspecified(v6))),
    };
    SocketInfo {
        kind: SocketKind::Tcp,
        local: endpoints.0,
        remote: endpoints.1,
        protocol: crate::wire::PROTO_TCP,
        state: linux_state(s.state()),
        tx_queue: s.send_queue() as u32,
        rx_queue: (s.recv_queue() + carried) as u32,
        uid,
        inode,
        refcount: if inode == 0 { 3 } else { 1 },
        drops: 0,
        tcp: Some(detail(s)),
    }
}

pub(crate) fn socket_rows(state: &State) -> Vec<SocketInfo> {
    let mut rows = Vec::new();
    let tcp_of = |c: &Child| state.sockets.get::<tcp::Socket>(c.handle);
    for (_, e) in state.table.entries() {
        match &e.body {
            Body::Tcp(c) => {
                let s = state.sockets.get::<tcp::Socket>(c.handle);
                let mut row = tcp_row(
                    s,
                    state.carries.len(c.handle),
                    e.v6,
                    e.uid,
                    e.inode,
                    Some((c.local, c.peer)),
                );
                // Linux's low bit of the quick/pingpong column (tcp.rs).
                if let Some(d) = row.tcp.as_mut() {
                    d.quick_pingpong = u32::from(c.pingpong);
                }
                rows.push(row);
            }
            Body::Listener(l) => {
                let accept_queue = l
                    .children
                    .iter()
                    .filter(|c| super::track::synchronized(tcp_of(c).state()))
                    .count();
                rows.push(SocketInfo {
                    kind: SocketKind::Tcp,
                    local: l.local,
                    remote: unspecified(e.v6),
                    protocol: crate::wire::PROTO_TCP,
                    state: tcp_state::LISTEN,
                    // For a listener Linux prints the accept queue and the backlog.
                    tx_queue: l.backlog as u32,
                    rx_queue: accept_queue as u32,
                    uid: e.uid,
                    inode: e.inode,
                    refcount: 1,
                    drops: 0,
                    tcp: Some(TcpDetail {
                        rto_ticks: 100,
                        snd_cwnd: 10,
                        ssthresh: Some(0),
                        ..TcpDetail::default()
                    }),
                });
                for c in &l.children {
                    let s = tcp_of(c);
                    if s.state() != T::Listen {
                        rows.push(tcp_row(
                            s,
                            state.carries.len(c.handle),
                            c.v6,
                            c.uid,
                            0,
                            None,
                        ));
                    }
                }
            }
            Body::Udp(d) | Body::Ping(d) => {
                let Some(local) = d.local else { continue };
                let ping = matches!(e.body, Body::Ping(_));
                rows.push(SocketInfo {
                    kind: if ping {
                        SocketKind::Ping
                    } else {
                        SocketKind::Udp
                    },
                    local,
                    remote: d.peer.unwrap_or(unspecified(e.v6)),
                    protocol: match (ping, e.v6) {
                        (false, _) => crate::wire::PROTO_UDP,
                        (true, false) => crate::wire::PROTO_ICMP,
                        (true, true) => crate::wire::PROTO_ICMPV6,
                    },
                    state: if d.peer.is_some() {
                        tcp_state::ESTABLISHED
                    } else {
                        tcp_state::CLOSE
                    },
                    tx_queue: 0,
                    rx_queue: d.rx.bytes() as u32,
                    uid: e.uid,
                    inode: e.inode,
                    refcount: 2,
                    drops: d.drops,
                    tcp: None,
                });
            }
        }
    }
    for o in &state.table.orphans {
        let s = tcp_of(o);
        if s.state() != T::Closed {
            rows.push(tcp_row(s, 0, o.v6, o.uid, 0, None));
        }
    }
    rows.sort_by_key(|r| (r.inode == 0, r.inode));
    rows
}
