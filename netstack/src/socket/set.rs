//! smoltcp's socket set, with idle connections parked outside it.
//!
//! smoltcp visits every socket of its set in each poll, emits at most one
//! segment per socket per visit, and looks for the socket of each arriving
//! segment by asking every socket in turn. A round that sends N segments
//! thus visits every other socket N times: with 1000 idle connections a
//! transfer fell from 1.2 GiB/s to 50 MiB/s (docs/PERFORMANCE.md). Linux
//! finds a socket by hash and runs only the sockets that have work.
//!
//! Here a connection that stayed unchanged for a scan period, with nothing
//! to send or acknowledge and no timer due within the next period (an idle
//! connection has none; TIME_WAIT and keepalive have one far off), leaves
//! smoltcp's set and waits in `Slot::Parked`. It goes back when a segment
//! for its 4-tuple arrives, when a call touches it (`get_mut`), when its
//! timer is due, or when the addresses change (smoltcp then checks each
//! socket's source address). smoltcp's handle changes on the way back, so
//! the stack holds its own `SocketHandle`, which does not.

use crate::fasthash::FastHasher;
use slab::Slab;
use smoltcp::iface::{Interface, SocketHandle as SmolHandle, SocketSet};
use smoltcp::socket::{tcp, AnySocket, Socket};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::IpEndpoint;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::BuildHasherDefault;

/// How long a connection stays unchanged before it is parked. Short, so
/// that a burst of new connections leaves smoltcp's set soon (each one
/// costs every round while it is in): with 3000-4000 connections opened one
/// after another, a connection took about 1 ms to set up with a 1 s period,
/// 0.35-0.45 ms with 100 ms, and 0.25-0.36 ms with this one. The scan costs
/// the active sockets once per period, and only while rounds run.
const SCAN_PERIOD: Duration = Duration::from_millis(25);

/// A socket of the stack, whether smoltcp polls it now or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct SocketHandle(usize);

enum Slot {
    Active(SmolHandle),
    Parked {
        socket: Box<Socket<'static>>,
        /// When smoltcp wants it polled again, if ever.
        until: Option<Instant>,
        /// When it was parked.
        since: Instant,
    },
}

/// What must stay the same between two scans for a connection to be parked.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Quiet {
    state: tcp::State,
    recv: usize,
}

/// What the stack keeps about a socket in smoltcp's set.
pub(crate) struct InSet {
    pub handle: SocketHandle,
    /// The TCP state `states_changed` last saw (None: not looked at yet).
    seen: Option<tcp::State>,
}

pub(crate) struct Sockets {
    set: SocketSet<'static>,
    slots: Slab<Slot>,
    /// Each socket in `set`, by smoltcp's handle.
    back: HandleMap<SmolHandle, InSet>,
    /// Parked sockets by (local, remote) endpoint.
    by_tuple: HashMap<(IpEndpoint, IpEndpoint), SocketHandle>,
    parked: usize,
    /// Empty slots in `set`: smoltcp's storage never shrinks, every poll
    /// steps over its empty slots, and `add` fills the first one.
    holes: usize,
    /// The timers of parked sockets, earliest first. An entry whose socket
    /// went back early stays until it reaches the top (then it is skipped).
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Connections that were parkable at the last scan, as they were then.
    quiet: HandleMap<SocketHandle, Quiet>,
    /// A one-socket set in which smoltcp tells whether a socket has a timer
    /// or anything to send (it answers that only for a set).
    probe: SocketSet<'static>,
    next_scan: Option<Instant>,
    /// The stack asked to look at every socket again (`look_again`).
    dirty: bool,
    /// The sockets `state_changes` found changed (kept for its buffer).
    changed: Vec<SocketHandle>,
}

/// A map keyed by socket handles: small integers the stack and smoltcp
/// hand out themselves, never values a peer chooses, so the fast hash needs
/// no key, and costs a fraction of SipHash, which `state_changes` would pay
/// per socket per round.
pub type HandleMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// What `Sockets::state_changes` found.
pub enum StateChanges {
    /// No TCP socket changed state.
    None,
    /// These did (sorted); no other socket can have.
    Some(Vec<SocketHandle>),
    /// Look at every socket.
    All,
}

impl Sockets {
    pub fn new() -> Sockets {
        Sockets {
            set: SocketSet::new(Vec::new()),
            slots: Slab::new(),
            back: HandleMap::default(),
            by_tuple: HashMap::new(),
            parked: 0,
            holes: 0,
            timers: BinaryHeap::new(),
            quiet: HandleMap::default(),
            probe: SocketSet::new(Vec::new()),
            next_scan: None,
            dirty: false,
            changed: Vec::new(),
        }
    }

    /// The set to give smoltcp's poll: the sockets that are not parked.
    pub fn smoltcp(&mut self) -> &mut SocketSet<'static> {
        &mut self.set
    }

    /// smoltcp's set, and what the stack keeps about each socket in it.
    pub fn smoltcp_and_handles(
        &mut self,
    ) -> (&mut SocketSet<'static>, &HandleMap<SmolHandle, InSet>) {
        (&mut self.set, &self.back)
    }

    /// Like smoltcp's `get`, it panics on a handle that is gone or of
    /// another type: both are bugs of the stack, not of its input.
    pub fn get<T: AnySocket<'static>>(&self, h: SocketHandle) -> &T {
        match &self.slots[h.0] {
            Slot::Active(s) => self.set.get(*s),
            Slot::Parked { socket, .. } => {
                T::downcast(socket).expect("handle refers to a socket of a wrong type")
            }
        }
    }

    /// The socket, back in smoltcp's set if it was parked: whoever changes
    /// it may give smoltcp something to send.
    pub fn get_mut<T: AnySocket<'static>>(&mut self, h: SocketHandle) -> &mut T {
        let s = self.unpark(h);
        self.set.get_mut(s)
    }

    pub fn add<T: AnySocket<'static>>(&mut self, socket: T) -> SocketHandle {
        let h = SocketHandle(self.slots.insert(Slot::Active(SmolHandle::default())));
        self.slots[h.0] = Slot::Active(self.add_to_set(socket, h));
        h
    }

    pub fn remove(&mut self, h: SocketHandle) -> Socket<'static> {
        let s = self.unpark(h);
        self.slots.remove(h.0);
        self.quiet.remove(&h);
        self.remove_from_set(s)
    }

    /// Puts socket `h` into smoltcp's set (the caller records where).
    fn add_to_set<T: AnySocket<'static>>(&mut self, socket: T, h: SocketHandle) -> SmolHandle {
        self.holes = self.holes.saturating_sub(1);
        let s = self.set.add(socket);
        self.back.insert(
            s,
            InSet {
                handle: h,
                seen: None,
            },
        );
        s
    }

    fn remove_from_set(&mut self, s: SmolHandle) -> Socket<'static> {
        self.holes += 1;
        self.back.remove(&s);
        self.set.remove(s)
    }

    /// Which TCP sockets may have changed state since the last call: those
    /// in smoltcp's set whose state differs from what the last call saw (a
    /// socket that just came into the set counts as changed), or all when
    /// `look_again` asked. Parked sockets cannot change. The stack's pass
    /// over its table (`observe`) looks only at these, so a round costs the
    /// active sockets, not every open one. Give the list back with
    /// `reuse_changes`, so that its buffer is not allocated per round.
    pub fn state_changes(&mut self) -> StateChanges {
        let all = std::mem::take(&mut self.dirty);
        let mut changed = std::mem::take(&mut self.changed);
        changed.clear();
        for (h, s) in self.set.iter() {
            let Some(t) = tcp::Socket::downcast(s) else {
                continue;
            };
            if let Some(e) = self.back.get_mut(&h) {
                if e.seen != Some(t.state()) {
                    e.seen = Some(t.state());
                    changed.push(e.handle);
                }
            }
        }
        if all {
            self.changed = changed;
            StateChanges::All
        } else if changed.is_empty() {
            self.changed = changed;
            StateChanges::None
        } else {
            changed.sort_unstable();
            StateChanges::Some(changed)
        }
    }

    /// Returns the list `state_changes` handed out, for its buffer.
    pub fn reuse_changes(&mut self, list: Vec<SocketHandle>) {
        self.changed = list;
    }

    /// Makes the next `state_changes` ask for every socket (something is
    /// still pending).
    pub fn look_again(&mut self) {
        self.dirty = true;
    }

    /// Moves the sockets of `set` into a new set without holes, once holes
    /// outnumber them (parking leaves one per parked connection).
    fn compact(&mut self) {
        let active = self.slots.len() - self.parked;
        if self.holes <= 64 || self.holes <= active {
            return;
        }
        let mut old = std::mem::replace(&mut self.set, SocketSet::new(Vec::with_capacity(active)));
        // Every socket comes back unseen, so the next `state_changes` names it.
        self.back.clear();
        for (i, slot) in self.slots.iter_mut() {
            if let Slot::Active(s) = slot {
                *s = self.set.add(old.remove(*s));
                let handle = SocketHandle(i);
                self.back.insert(*s, InSet { handle, seen: None });
            }
        }
        self.holes = 0;
    }

    /// Every socket, parked ones included.
    pub fn iter(&self) -> impl Iterator<Item = &Socket<'static>> {
        self.slots.iter().map(|(_, slot)| match slot {
            Slot::Active(s) => self.set.get::<Socket>(*s),
            Slot::Parked { socket, .. } => socket,
        })
    }

    /// Connections parked now.
    pub fn parked(&self) -> usize {
        self.parked
    }

    /// Puts a parked socket back into smoltcp's set; returns its handle there.
    fn unpark(&mut self, h: SocketHandle) -> SmolHandle {
        let socket =
            match std::mem::replace(&mut self.slots[h.0], Slot::Active(SmolHandle::default())) {
                Slot::Active(s) => {
                    self.slots[h.0] = Slot::Active(s);
                    return s;
                }
                Slot::Parked { socket, .. } => *socket,
            };
        if let Socket::Tcp(t) = &socket {
            if let (Some(l), Some(r)) = (t.local_endpoint(), t.remote_endpoint()) {
                self.by_tuple.remove(&(l, r));
            }
        }
        let s = self.add_to_set(socket, h);
        self.slots[h.0] = Slot::Active(s);
        self.parked -= 1;
        s
    }

    /// A segment from `remote` to `local` arrived: its connection, if parked,
    /// goes back before smoltcp looks for it. Returns it and when it was
    /// parked.
    pub fn unpark_tuple(
        &mut self,
        local: IpEndpoint,
        remote: IpEndpoint,
    ) -> Option<(SocketHandle, Instant)> {
        if self.parked == 0 {
            return None;
        }
        let h = *self.by_tuple.get(&(local, remote))?;
        let since = match &self.slots[h.0] {
            Slot::Parked { since, .. } => *since,
            Slot::Active(_) => return None,
        };
        self.unpark(h);
        Some((h, since))
    }

    pub fn unpark_all(&mut self) {
        if self.parked == 0 {
            return;
        }
        let parked: Vec<SocketHandle> = self
            .slots
            .iter()
            .filter(|(_, slot)| matches!(slot, Slot::Parked { .. }))
            .map(|(i, _)| SocketHandle(i))
            .collect();
        for h in parked {
            self.unpark(h);
        }
    }

    /// Once per scan period: parks the connections that were parkable at the
    /// last scan and have not changed since.
    pub fn park_idle(&mut self, iface: &mut Interface, now: Instant) {
        if self.next_scan.is_some_and(|t| now < t) {
            return;
        }
        self.next_scan = Some(now + SCAN_PERIOD);
        let seen = std::mem::take(&mut self.quiet);
        let active: Vec<(SocketHandle, SmolHandle)> = self
            .slots
            .iter()
            .filter_map(|(i, slot)| match slot {
                Slot::Active(s) => Some((SocketHandle(i), *s)),
                Slot::Parked { .. } => None,
            })
            .collect();
        for (h, s) in active {
            let Some(t) = tcp::Socket::downcast(self.set.get::<Socket>(s)) else {
                continue;
            };
            let parkable = matches!(
                t.state(),
                tcp::State::Established
                    | tcp::State::CloseWait
                    | tcp::State::FinWait2
                    | tcp::State::TimeWait
            ) && t.send_queue() == 0;
            if !parkable {
                continue;
            }
            let quiet = Quiet {
                state: t.state(),
                recv: t.recv_queue(),
            };
            if seen.get(&h) != Some(&quiet) {
                self.quiet.insert(h, quiet);
                continue;
            }
            // Unchanged for a whole period: park it, unless smoltcp wants
            // to poll it soon (an ACK, a window update, a near timer).
            let socket = self.remove_from_set(s);
            let p = self.probe.add(socket);
            let until = iface.poll_at(now, &self.probe);
            let socket = self.probe.remove(p);
            let wants_poll = until.is_some_and(|t| t < now + SCAN_PERIOD);
            let tuple = match &socket {
                Socket::Tcp(t) => t.local_endpoint().zip(t.remote_endpoint()),
                _ => None,
            };
            match tuple {
                Some(tuple) if !wants_poll => {
                    self.by_tuple.insert(tuple, h);
                    if let Some(t) = until {
                        self.timers.push(Reverse((t, h.0)));
                    }
                    self.slots[h.0] = Slot::Parked {
                        socket: Box::new(socket),
                        until,
                        since: now,
                    };
                    self.parked += 1;
                }
                _ => {
                    self.slots[h.0] = Slot::Active(self.add_to_set(socket, h));
                    self.quiet.insert(h, quiet);
                }
            }
        }
        self.compact();
    }

    /// The earliest timer of a parked socket, dropping entries of sockets
    /// that went back early.
    fn next_due(&mut self) -> Option<Instant> {
        while let Some(&Reverse((t, i))) = self.timers.peek() {
            match self.slots.get(i) {
                Some(Slot::Parked { until, .. }) if *until == Some(t) => return Some(t),
                _ => {
                    self.timers.pop();
                }
            }
        }
        None
    }

    /// Puts back the parked sockets whose timer is due, before smoltcp polls.
    pub fn unpark_due(&mut self, now: Instant) {
        while let Some(t) = self.next_due() {
            if t > now {
                break;
            }
            if let Some(Reverse((_, i))) = self.timers.pop() {
                self.unpark(SocketHandle(i));
            }
        }
    }

    /// How long until smoltcp or a parked socket's timer wants a poll (None:
    /// neither has a timer).
    pub fn poll_delay(&mut self, iface: &mut Interface, now: Instant) -> Option<Duration> {
        let smoltcp = iface.poll_delay(now, &self.set);
        let parked = self
            .next_due()
            .map(|t| if t > now { t - now } else { Duration::ZERO });
        match (smoltcp, parked) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
