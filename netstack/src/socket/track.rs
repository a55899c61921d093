//! What the stack learns by watching its TCP sockets change state after each
//! poll round and socket call: Linux's TCP counters, the error a connection
//! reports (sk_err), and freeing connections nobody holds any more.

use super::set::{SocketHandle, StateChanges};
use super::table::{Body, Child, TcpConn};
use crate::state::State;
use crate::wire::IpView;
use smoltcp::socket::tcp::{self, State as T};
use std::cmp::Reverse;
use std::collections::hash_map::Entry;
use std::net::SocketAddr;

/// States in which the connection is synchronized (past the handshake).
pub(crate) fn synchronized(s: T) -> bool {
    !matches!(s, T::Closed | T::Listen | T::SynSent | T::SynReceived)
}

/// Counts one state change as tcp_set_state, tcp_done and tcp_check_req do.
fn count(state: &mut State, from: T, to: T, passive: bool) {
    let tcp = &mut state.snmp.tcp;
    match (from, to) {
        // tcp_done on a connection that never synchronized; tcp_check_req on
        // a RST to an embryonic one (which smoltcp turns back into LISTEN).
        (T::SynSent | T::SynReceived, T::Closed) => tcp.AttemptFails += 1,
        (T::SynReceived, T::Listen) => {
            tcp.AttemptFails += 1;
            state.snmp.tcp_ext.EmbryonicRsts += 1;
        }
        (T::Established | T::CloseWait, T::Closed) => tcp.EstabResets += 1,
        _ => {}
    }
    // tcp_create_openreq_child: the handshake of an incoming connection completed.
    if passive && matches!(from, T::Listen | T::SynReceived) && synchronized(to) {
        state.snmp.tcp.PassiveOpens += 1;
    }
}

/// The error a connection reports after closing in a way its owner did not ask for.
fn close_error(from: T) -> Option<i32> {
    match from {
        T::SynSent => Some(libc::ECONNREFUSED),
        T::SynReceived | T::Established | T::FinWait1 | T::FinWait2 | T::CloseWait | T::Closing => {
            Some(libc::ECONNRESET)
        }
        _ => None,
    }
}

/// Whether smoltcp is done with a socket: closed, and no RST left to send.
fn finished(sockets: &super::set::Sockets, h: SocketHandle) -> bool {
    let s = sockets.get::<tcp::Socket>(h);
    s.state() == T::Closed && s.local_endpoint().is_none()
}

/// Runs after every poll round; looks at the sockets whose state may have
/// changed (`Sockets::state_changes`), and at nothing when none did.
pub(crate) fn observe(state: &mut State) {
    #[cfg(debug_assertions)]
    state.table.check_indexes();
    let only = match state.sockets.state_changes() {
        StateChanges::None => return,
        StateChanges::All => None,
        StateChanges::Some(list) => Some(list),
    };
    // Whether socket `h` may have changed (its state is then read).
    let may_have = |h: &SocketHandle| only.as_ref().is_none_or(|l| l.binary_search(h).is_ok());
    let mut changes: Vec<(T, T, bool)> = Vec::new();
    let mut fin_wait2: Vec<(SocketHandle, i64)> = Vec::new();
    {
        let State { table, sockets, .. } = &mut *state;
        let mut conn = |c: &mut TcpConn| {
            let now = sockets.get::<tcp::Socket>(c.handle).state();
            if now != c.last {
                if now == T::Closed && c.err.is_none() {
                    c.err = close_error(c.last);
                }
                changes.push((c.last, now, false));
                c.last = now;
            }
        };
        // The program's connections: the changed ones, found by their
        // socket, or every one.
        match &only {
            Some(list) => {
                for &h in list {
                    if let Some(c) = table.conn_mut(h) {
                        conn(c);
                    }
                }
            }
            None => {
                for e in table.entries_mut() {
                    if let Body::Tcp(c) = &mut e.body {
                        conn(c);
                    }
                }
            }
        }
        table.for_each_listener_mut(|l| {
            for child in l.children.iter_mut().filter(|c| may_have(&c.handle)) {
                let now = sockets.get::<tcp::Socket>(child.handle).state();
                if now != child.last {
                    if synchronized(now) && !synchronized(child.last) {
                        // Past the handshake: no more half-open timeout.
                        sockets
                            .get_mut::<tcp::Socket>(child.handle)
                            .set_timeout(None);
                    }
                    changes.push((child.last, now, true));
                    child.last = now;
                }
            }
        });
        for o in table.orphans.iter_mut().filter(|o| may_have(&o.handle)) {
            let now = sockets.get::<tcp::Socket>(o.handle).state();
            if now != o.last {
                if now == T::FinWait2 {
                    fin_wait2.push((o.handle, o.born));
                }
                changes.push((o.last, now, false));
                o.last = now;
            }
        }
    }
    if let Some(list) = only {
        state.sockets.reuse_changes(list);
    }
    let deadline = state.now().total_micros()
        + i64::try_from(state.table.limits.fin_timeout.as_micros()).unwrap_or(i64::MAX / 2);
    for (h, born) in fin_wait2 {
        state.fin_timers.push(Reverse((deadline, h, born)));
    }
    for (from, to, passive) in changes {
        count(state, from, to, passive);
    }
    reap(state);
}

/// Resets the orphans whose wait in FIN_WAIT2 has run out, as Linux's
/// keepalive timer does past tcp_fin_timeout: smoltcp would wait for the
/// peer's FIN for ever. The reset socket is freed by the next `observe`.
pub(crate) fn expire_fin_wait2(state: &mut State) {
    let now = state.now().total_micros();
    while let Some(&Reverse((at, h, born))) = state.fin_timers.peek() {
        if at > now {
            break;
        }
        state.fin_timers.pop();
        let waiting = state
            .table
            .orphans
            .iter()
            .any(|o| o.handle == h && o.born == born && o.last == T::FinWait2);
        if waiting {
            state.sockets.get_mut::<tcp::Socket>(h).abort();
        }
    }
}

/// When the next orphan in FIN_WAIT2 gives up (stack clock, microseconds).
pub(crate) fn next_fin_timeout(state: &State) -> Option<i64> {
    state.fin_timers.peek().map(|Reverse((at, _, _))| *at)
}

/// Frees orphans and children smoltcp is done with.
fn reap(state: &mut State) {
    let mut gone: Vec<SocketHandle> = Vec::new();
    // A closed socket with a RST still to send is freed once it is sent,
    // which changes no state: look again after the next round.
    let mut unfinished = false;
    {
        let State { table, sockets, .. } = &mut *state;
        let mut dead = |c: &Child| {
            let closed = c.last == T::Closed;
            let done = closed && finished(sockets, c.handle);
            unfinished |= closed && !done;
            done
        };
        table.orphans.retain(|o| {
            let d = dead(o);
            if d {
                gone.push(o.handle);
            }
            !d
        });
        table.for_each_listener_mut(|l| {
            // Ingress is drained by now: a child still listening got no
            // SYN (smoltcp refused it) or was reset back; it is not needed.
            l.children.retain(|c| {
                let d = dead(c) || c.last == T::Listen;
                if d {
                    gone.push(c.handle);
                }
                !d
            });
        });
    }
    if unfinished {
        state.sockets.look_again();
    }
    for h in gone {
        remove_tcp(state, h);
    }
}

/// Takes a TCP socket out of smoltcp and gives its buffers back to the budget.
pub(crate) fn remove_tcp(state: &mut State, h: SocketHandle) {
    let sock = state.sockets.get::<tcp::Socket>(h);
    let bytes = super::limits::tcp_bytes(sock.recv_capacity(), sock.send_capacity());
    if let (Some(l), Some(r)) = (sock.local_endpoint(), sock.remote_endpoint()) {
        let key = (
            SocketAddr::new(l.addr.into(), l.port),
            SocketAddr::new(r.addr.into(), r.port),
        );
        state.tcp_sent.remove(&key);
    }
    state.sockets.remove(h);
    state.carries.remove(h);
    state.sinks.remove(h);
    state.sources.remove(h);
    state.table.release(bytes);
}

/// Forgets the send record of connections that no longer exist, so the map
/// cannot grow past the live connections.
fn prune_sent(state: &mut State) {
    if state.tcp_sent.len() <= 2 * state.sockets.iter().count() + 16 {
        return;
    }
    let live: std::collections::HashSet<(SocketAddr, SocketAddr)> = state
        .sockets
        .iter()
        .filter_map(|s| {
            let s = tcp::Socket::downcast(s)?;
            let (l, r) = (s.local_endpoint()?, s.remote_endpoint()?);
            Some((
                SocketAddr::new(l.addr.into(), l.port),
                SocketAddr::new(r.addr.into(), r.port),
            ))
        })
        .collect();
    state.tcp_sent.retain(|k, _| live.contains(k));
}

use smoltcp::socket::AnySocket;

/// egress: whether a TCP segment the stack sends repeats sequence space it
/// sent before (RetransSegs). Pure ACKs and RSTs occupy none.
pub(crate) fn retransmitted(state: &mut State, v: &IpView, segment: &[u8]) -> bool {
    if segment.len() < 20 {
        return false;
    }
    let flags = segment[13];
    let doff = usize::from(segment[12] >> 4) * 4;
    let data = segment.len().saturating_sub(doff) as u32;
    let len = data + u32::from(flags & 0x02 != 0) + u32::from(flags & 0x01 != 0);
    if len == 0 || flags & 0x04 != 0 {
        return false;
    }
    let seq = u32::from_be_bytes([segment[4], segment[5], segment[6], segment[7]]);
    let end = seq.wrapping_add(len);
    let key = (
        SocketAddr::new(v.src, u16::from_be_bytes([segment[0], segment[1]])),
        SocketAddr::new(v.dst, u16::from_be_bytes([segment[2], segment[3]])),
    );
    match state.tcp_sent.entry(key) {
        Entry::Occupied(mut high) => {
            // Ending at or before the highest byte sent: sent before.
            let again = (high.get().wrapping_sub(end) as i32) >= 0;
            if !again {
                high.insert(end);
            }
            again
        }
        Entry::Vacant(slot) => {
            slot.insert(end);
            // Only a new connection can grow the map: prune then, not per segment.
            prune_sent(state);
            false
        }
    }
}

/// Connections in ESTABLISHED or CLOSE_WAIT: Linux's CurrEstab gauge.
pub(crate) fn curr_estab(state: &State) -> u64 {
    state
        .sockets
        .iter()
        .filter_map(tcp::Socket::downcast)
        .filter(|s| matches!(s.state(), T::Established | T::CloseWait))
        .count() as u64
}
