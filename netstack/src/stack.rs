//! `Stack`: the handle an embedder holds. One Stack is one network namespace:
//! its own interfaces, addresses, routes, sockets and counters.

use crate::inet::{Interface, InterfaceAddr, Route, RouteAnswer, RouteSpec, Snapshot, Statistics};
use crate::link::Link;
use crate::poll::lock;
use crate::route::AddrView;
use crate::state::State;
use crossbeam_channel::{bounded, Sender, TrySendError};
use std::io;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// A userspace network stack. Cheap to clone; every clone is the same stack.
/// Dropping the last clone (or calling `shutdown`) stops its poll thread and
/// releases its links, TUN devices included.
#[derive(Clone)]
pub struct Stack {
    shared: Arc<Shared>,
}

struct Shared {
    state: Arc<Mutex<State>>,
    wake: Sender<()>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        stop(&self.state, &self.wake, &self.thread);
    }
}

fn stop(state: &Mutex<State>, wake: &Sender<()>, thread: &Mutex<Option<JoinHandle<()>>>) {
    lock(state).shutdown = true;
    let _ = wake.try_send(());
    let handle = thread.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(h) = handle {
        let _ = h.join();
    }
    // Drop the links now, so TUN devices are gone when this returns.
    lock(state).nics.clear();
}

impl Stack {
    /// A new stack with `lo` (ifindex 1, 127.0.0.1/8 and ::1/128, up), as a
    /// new Linux network namespace has once lo is up.
    pub fn new() -> io::Result<Stack> {
        let state = Arc::new(Mutex::new(State::new()?));
        let (wake, wake_rx) = bounded(1);
        let thread = {
            let state = state.clone();
            std::thread::Builder::new()
                .name("sandnet-poll".into())
                .spawn(move || crate::poll::run(state, wake_rx))?
        };
        Ok(Stack {
            shared: Arc::new(Shared {
                state,
                wake,
                thread: Mutex::new(Some(thread)),
            }),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> io::Result<T>) -> io::Result<T> {
        let mut s = lock(&self.shared.state);
        if s.shutdown {
            return Err(io::Error::from_raw_os_error(libc::ENETDOWN));
        }
        let r = f(&mut s);
        drop(s);
        self.wake();
        r
    }

    fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&lock(&self.shared.state))
    }

    pub(crate) fn wake(&self) {
        match self.shared.wake.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) | Err(TrySendError::Disconnected(())) => {}
        }
    }

    /// Attaches a link as a new interface, up, and returns its ifindex
    /// (assigned increasing from 2, never reused, as Linux does).
    pub fn add_nic(&self, name: &str, link: Link) -> io::Result<u32> {
        self.with(|s| s.add_nic(name, link))
    }

    /// Detaches an interface with its addresses and routes. `lo` cannot go (EOPNOTSUPP).
    pub fn remove_nic(&self, ifindex: u32) -> io::Result<()> {
        self.with(|s| s.remove_nic(ifindex))
    }

    pub fn set_mtu(&self, ifindex: u32, mtu: u32) -> io::Result<()> {
        self.with(|s| s.set_mtu(ifindex, mtu))
    }

    pub fn set_up(&self, ifindex: u32) -> io::Result<()> {
        self.with(|s| s.set_up(ifindex, true))
    }

    /// Takes an interface down: it stops receiving and sending, and every route
    /// through it is flushed (its address routes return with `set_up`).
    pub fn set_down(&self, ifindex: u32) -> io::Result<()> {
        self.with(|s| s.set_up(ifindex, false))
    }

    /// The ifindex of the interface called `name`.
    pub fn ifindex(&self, name: &str) -> Option<u32> {
        self.read(|s| s.nics.values().find(|n| n.name == name).map(|n| n.index))
    }

    /// `ip addr add ADDR/PREFIX dev IFINDEX`, with the routes Linux adds for it.
    /// Errors: ENODEV (no such interface), EINVAL (prefix out of range;
    /// unspecified, multicast or broadcast address), EEXIST (already on this
    /// interface), ENOSPC (the stack's address table is full).
    pub fn add_address(&self, ifindex: u32, addr: IpAddr, prefix_len: u8) -> io::Result<()> {
        self.with(|s| s.add_address(ifindex, addr, prefix_len))
    }

    /// `ip addr del`: EADDRNOTAVAIL if the interface has no such address.
    pub fn remove_address(&self, ifindex: u32, addr: IpAddr, prefix_len: u8) -> io::Result<()> {
        self.with(|s| s.remove_address(ifindex, addr, prefix_len))
    }

    /// `ip route add`: EEXIST, ENETUNREACH (IPv4 gateway with no route),
    /// EHOSTUNREACH (IPv6 gateway not on a connected prefix), EINVAL, ENODEV.
    pub fn add_route(&self, spec: RouteSpec) -> io::Result<()> {
        self.with(|s| s.add_route(&spec))
    }

    /// `ip route del`: ESRCH when no main-table route matches.
    pub fn remove_route(&self, spec: RouteSpec) -> io::Result<()> {
        self.with(|s| s.remove_route(&spec))
    }

    /// Interfaces, by ifindex.
    pub fn interfaces(&self) -> Vec<Interface> {
        self.read(|s| s.nics.values().map(crate::nic::Nic::interface).collect())
    }

    /// Addresses, by ifindex, each interface's in the order they were added.
    pub fn interface_addrs(&self) -> Vec<InterfaceAddr> {
        self.read(|s| {
            let mut v = s.addrs().to_vec();
            v.sort_by_key(|a| a.ifindex);
            v
        })
    }

    /// Both tables (main and local), as `ip route show table all` lists them.
    pub fn route_table(&self) -> Vec<Route> {
        self.read(|s| s.routes.sorted())
    }

    /// What `ip route get DST [from SRC]` answers for this stack's tables;
    /// ENETUNREACH when nothing matches.
    pub fn route_get(&self, dst: IpAddr, src: Option<IpAddr>) -> io::Result<RouteAnswer> {
        self.read(|s| s.routes.route_get(dst, src, s))
    }

    pub fn statistics(&self) -> Statistics {
        self.read(State::statistics)
    }

    /// Every table, copied under one lock.
    pub fn snapshot(&self) -> Snapshot {
        self.read(State::snapshot)
    }

    /// How many times the poll thread has woken so far (an idle stack with no
    /// timer pending does not wake at all).
    pub fn wakeups(&self) -> u64 {
        self.read(|s| s.wakeups)
    }

    /// Stops the poll thread and releases every link. Later calls that change
    /// the stack fail with ENETDOWN.
    pub fn shutdown(&self) {
        stop(&self.shared.state, &self.shared.wake, &self.shared.thread);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn stack_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<super::Stack>();
    }
}
