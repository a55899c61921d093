//! `Stack`: the handle an embedder holds. One Stack is one network namespace:
//! its own interfaces, addresses, routes, sockets and counters.

use crate::inet::{
    Interface, InterfaceAddr, Route, RouteAnswer, RouteSpec, Snapshot, SocketInfo, Statistics,
};
use crate::link::{Coalescer, Deferred, Link};
use crate::poll::{lock, AfterCall, WakeFd};
use crate::route::AddrView;
use crate::socket::table::Options;
use crate::socket::{Interest, Limits, Readiness, SocketId};
use crate::state::State;
use crate::waiters::{release, Watch};
use crossbeam_channel::{bounded, Sender, TrySendError};
use std::io;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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
    /// The poll thread's other wake-up, for when it waits in poll(2).
    wake_fd: Arc<WakeFd>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// The poll thread's id (0 for a stack without one).
    poll_tid: i32,
}

impl Drop for Shared {
    fn drop(&mut self) {
        stop(self);
    }
}

fn stop(shared: &Shared) {
    let (state, thread) = (&shared.state, &shared.thread);
    let mut s = lock(state);
    s.shutdown = true;
    // Blocked calls return ENETDOWN.
    release(s);
    let _ = shared.wake.try_send(());
    shared.wake_fd.fd.signal();
    let handle = thread.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(h) = handle {
        let _ = h.join();
    }
    // Drop the links now, so TUN devices are gone when this returns; a
    // call driving them (drive.rs), woken by the shutdown, lets them go
    // first. (The device's drop does not wait for it: its waker thread may
    // be waiting on the fd rather than parked, and then ends at once.)
    let mut s = wait_until(state, |s| !s.lease.driven());
    s.nics.clear();
}

/// Until `done` holds for the stack, woken by every release (at most a
/// few seconds, should something be stuck: a device then goes late,
/// nothing worse). Returns the lock.
fn wait_until(state: &Mutex<State>, done: impl Fn(&State) -> bool) -> MutexGuard<'_, State> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut s = lock(state);
    while !done(&s) && Instant::now() < deadline {
        s = crate::waiters::wait(state, s, Watch::Any, Some(deadline), false);
    }
    s
}

impl Stack {
    /// A new stack with `lo` (ifindex 1, 127.0.0.1/8 and ::1/128, up), as a
    /// new Linux network namespace has once lo is up.
    pub fn new() -> io::Result<Stack> {
        let state = Arc::new(Mutex::new(State::new()?));
        let (wake, wake_rx) = bounded(1);
        let wake_fd = Arc::new(WakeFd::new()?);
        let (tid_tx, tid_rx) = bounded(1);
        let thread = {
            let (state, fd) = (state.clone(), wake_fd.clone());
            std::thread::Builder::new()
                .name("sandnet-poll".into())
                .spawn(move || {
                    let _ = tid_tx.send(crate::os::affinity::gettid());
                    crate::poll::run(state, wake_rx, fd)
                })?
        };
        let poll_tid = tid_rx.recv().unwrap_or(0);
        Ok(Stack {
            shared: Arc::new(Shared {
                state,
                wake,
                wake_fd,
                thread: Mutex::new(Some(thread)),
                poll_tid,
            }),
        })
    }

    /// A stack with no poll thread, for fuzzing: nothing moves until the
    /// caller calls `step`, its clock stands still until `advance_clock`, and
    /// its random choices follow `seed`, so that a run can be replayed. A
    /// panic inside `step` reaches the caller (the poll thread would catch it
    /// and stop the stack instead). Blocking socket calls that would have to
    /// wait never return: use nonblocking sockets.
    #[cfg(feature = "fuzzing")]
    #[doc(hidden)]
    pub fn new_manual(seed: u64) -> io::Result<Stack> {
        let mut state = State::with_seed(seed)?;
        state.manual_clock = Some(0);
        let (wake, _) = bounded(1);
        Ok(Stack {
            shared: Arc::new(Shared {
                state: Arc::new(Mutex::new(state)),
                wake,
                wake_fd: Arc::new(WakeFd::new()?),
                thread: Mutex::new(None),
                poll_tid: 0,
            }),
        })
    }

    /// One round of the poll thread, run on the caller's thread: drain the
    /// links, let smoltcp process and emit, route what it emitted.
    #[cfg(feature = "fuzzing")]
    #[doc(hidden)]
    pub fn step(&self) {
        let mut s = lock(&self.shared.state);
        if !s.shutdown {
            crate::poll::step(&mut s);
        }
        release(s);
    }

    /// Moves a `new_manual` stack's clock forward, so that timers fire at the next `step`.
    #[cfg(feature = "fuzzing")]
    #[doc(hidden)]
    pub fn advance_clock(&self, micros: u64) {
        let mut s = lock(&self.shared.state);
        if let Some(now) = &mut s.manual_clock {
            *now = now.saturating_add(micros.min(i64::MAX as u64) as i64);
        }
    }

    /// When smoltcp next wants a `step` for its timers, in microseconds from
    /// now (None: no timer pending).
    #[cfg(feature = "fuzzing")]
    #[doc(hidden)]
    pub fn poll_delay(&self) -> Option<u64> {
        let mut s = lock(&self.shared.state);
        let now = s.now();
        let State { iface, sockets, .. } = &mut *s;
        sockets.poll_delay(iface, now).map(|d| d.total_micros())
    }

    /// Runs a change under the lock, then lets the poll thread and any
    /// blocked socket call see it.
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut State) -> io::Result<T>) -> io::Result<T> {
        let mut s = lock(&self.shared.state);
        if s.shutdown {
            return Err(io::Error::from_raw_os_error(libc::ENETDOWN));
        }
        let r = f(&mut s);
        self.after_call(s);
        r
    }

    pub(crate) fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&lock(&self.shared.state))
    }

    /// A socket call that may have to wait: `f` runs under the lock until it
    /// is ready, each time something changed, until `deadline` (then
    /// `on_timeout`). A nonblocking socket gets WouldBlock instead of waiting.
    pub(crate) fn blocking<T>(
        &self,
        id: SocketId,
        interest: Interest,
        timeout: impl Fn(&Options) -> Option<Duration>,
        on_timeout: io::ErrorKind,
        mut f: impl FnMut(&mut State) -> Poll<io::Result<T>>,
    ) -> io::Result<T> {
        let mut s = lock(&self.shared.state);
        let (nonblocking, deadline) = {
            let opts = s.table.get(id)?.opts;
            (opts.nonblocking, timeout(&opts).map(|t| Instant::now() + t))
        };
        loop {
            if s.shutdown {
                return Err(io::Error::from_raw_os_error(libc::ENETDOWN));
            }
            if let Poll::Ready(r) = f(&mut s) {
                self.after_call(s);
                return r;
            }
            if nonblocking {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(on_timeout.into());
            }
            let watch = Watch::one(&s, id, interest);
            let for_packets = crate::socket::waits_for_packets(&s, id, interest);
            s = self.block(s, watch, deadline, for_packets);
        }
    }

    /// A blocked call waits until its watch changes. One that waits for
    /// what packets will bring (`for_packets`) waits at the devices, and
    /// returns with them without a hand-off (drive.rs), if it may drive
    /// them now. Any other parks (`waiters::wait`); the devices, if lent to
    /// calls that drive them and none is at them now, go back to the poll
    /// thread first: this call waits on its rounds.
    fn block<'a>(
        &'a self,
        mut s: MutexGuard<'a, State>,
        watch: Watch,
        deadline: Option<Instant>,
        for_packets: bool,
    ) -> MutexGuard<'a, State> {
        if let Some(driving) = for_packets.then(|| crate::drive::take(&mut s)).flatten() {
            let (s, wake_poll) =
                crate::drive::turn(&self.shared.state, s, watch, deadline, driving);
            if wake_poll {
                self.wake();
            }
            return s;
        }
        if s.lease.take_back() {
            self.wake();
        }
        // A wait for what packets will bring that cannot drive (lo's
        // packets are the stack's own rounds', or another call is blocked)
        // is most often answered by a round already under way.
        crate::waiters::wait(&self.shared.state, s, watch, deadline, for_packets)
    }

    /// Releases the lock after a call, and has done what the call asked
    /// (`State::after_call`): by default a round of the poll thread, which
    /// sends what the call made ready.
    fn after_call(&self, mut s: MutexGuard<'_, State>) {
        let after = std::mem::take(&mut s.after_call);
        // A stack driven by hand (no poll thread) sends in its steps.
        let threaded = self.shared.poll_tid != 0;
        match after {
            AfterCall::SendHere if threaded => self.send_here(s),
            AfterCall::RoundIfDue if threaded && !crate::poll::due_before_poll_thread(&mut s) => {
                release(s)
            }
            AfterCall::RoundIfQueued if threaded && !crate::poll::queued_for_round(&s) => {
                release(s)
            }
            _ => {
                release(s);
                self.wake();
            }
        }
    }

    /// Sends what a write queued, on this thread (`poll::send_here`), then
    /// releases the lock and writes the packets for TUN devices.
    fn send_here(&self, mut s: MutexGuard<'_, State>) {
        thread_local! {
            // Reused: a write allocates nothing.
            static OUT: std::cell::RefCell<(Vec<Deferred>, Coalescer<Deferred>)> =
                std::cell::RefCell::new((Vec::new(), Coalescer::default()));
        }
        OUT.with(|cell| {
            let mut cell = cell.borrow_mut();
            let (out, coalescer) = &mut *cell;
            let wake = crate::poll::send_here(&mut s, out);
            crate::poll::release_and_write(s, out, coalescer);
            if wake {
                self.wake();
            }
        });
    }

    /// Waits until one of the sockets is ready for what it is asked about
    /// (errors and hang-ups are always reported, as epoll does), or until the
    /// timeout passes; returns the ready ones, possibly none. A runtime builds
    /// epoll or poll(2) on this.
    pub fn wait(
        &self,
        interests: &[(SocketId, Interest)],
        timeout: Option<Duration>,
    ) -> io::Result<Vec<(SocketId, Readiness)>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut s = lock(&self.shared.state);
        loop {
            let mut ready = Vec::new();
            for &(id, interest) in interests {
                let r = crate::socket::readiness(&s, id)?;
                if r.matches(interest) {
                    ready.push((id, r));
                }
            }
            if !ready.is_empty() || s.shutdown || deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(ready);
            }
            let watch = Watch::many(&s, interests);
            // Waiting for a request, as a read does, it waits at the devices.
            let for_packets = interests
                .iter()
                .any(|&(id, i)| crate::socket::waits_for_packets(&s, id, i));
            s = self.block(s, watch, deadline, for_packets);
        }
    }

    /// Connections parked now: idle ones that smoltcp's poll skips until a
    /// segment or a call concerns them (socket/set.rs).
    pub fn parked_connections(&self) -> usize {
        self.read(|s| s.sockets.parked())
    }

    /// The socket table, as /proc/net's socket files list it.
    pub fn sockets(&self) -> Vec<SocketInfo> {
        self.read(crate::socket::socket_rows)
    }

    /// Replaces the stack's limits. Sockets and buffers already held stay;
    /// new ones are checked against the new limits.
    pub fn set_limits(&self, limits: Limits) -> io::Result<()> {
        if limits.max_backlog == 0 || limits.tcp_recv_buffer == 0 || limits.tcp_send_buffer == 0 {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        self.with(|s| {
            s.table.limits = limits;
            Ok(())
        })
    }

    pub fn limits(&self) -> Limits {
        self.read(|s| s.table.limits)
    }

    /// The congestion control of TCP connections made from now on, made
    /// or accepted (net.ipv4.tcp_congestion_control; default Cubic, as
    /// Linux's). `TcpStream::set_congestion_control` changes one connection.
    pub fn set_tcp_congestion_control(&self, cc: crate::CongestionControl) {
        let _ = self.with(|s| {
            s.table.congestion = cc;
            Ok(())
        });
    }

    pub fn tcp_congestion_control(&self) -> crate::CongestionControl {
        self.read(|s| s.table.congestion)
    }

    /// The owner uid of sockets created from now on (default: the process's euid).
    pub fn set_socket_uid(&self, uid: u32) {
        let _ = self.with(|s| {
            s.table.uid = uid;
            Ok(())
        });
    }

    /// Changes the owner uid of one socket, as the embedding runtime knows it.
    pub fn set_socket_owner(&self, id: SocketId, uid: u32) -> io::Result<()> {
        self.with(|s| {
            s.table.get_mut(id)?.uid = uid;
            Ok(())
        })
    }

    pub(crate) fn wake(&self) {
        match self.shared.wake.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) | Err(TrySendError::Disconnected(())) => {}
        }
        self.shared.wake_fd.wake();
    }

    /// Attaches a link as a new interface, up, and returns its ifindex
    /// (assigned increasing from 2, never reused, as Linux does).
    pub fn add_nic(&self, name: &str, link: Link) -> io::Result<u32> {
        self.with(|s| s.add_nic(name, link))
    }

    /// Detaches an interface with its addresses and routes. `lo` cannot go (EOPNOTSUPP).
    pub fn remove_nic(&self, ifindex: u32) -> io::Result<()> {
        let (nic, order, driver) = self.with(|s| {
            let nic = s.remove_nic(ifindex)?;
            Ok((nic, s.tun_order.clone(), s.lease.stale_driver(s.generation)))
        })?;
        // A call driving the devices (drive.rs) holds them until its turn
        // ends: end it now (`wait_links_seen` waits for it).
        if let Some(driver) = driver {
            driver.signal();
        }
        // A TUN device goes when its fd is closed (when `nic` drops) and no
        // call is using it. The poll thread may be in a poll(2) watching it,
        // or writing a round's packets to it (after the round released the
        // lock); once it has moved on to the new set of links it is done
        // with both. A write that sent on its own thread may be writing to
        // it too: that ends before the order of writes is free again.
        self.wait_links_seen();
        drop(order.lock().unwrap_or_else(|e| e.into_inner()));
        drop(nic);
        Ok(())
    }

    /// Until the poll thread waits on the current set of links, and no
    /// call drives an older set's devices (drive.rs).
    fn wait_links_seen(&self) {
        let threaded = self
            .shared
            .thread
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some();
        if !threaded {
            return;
        }
        drop(wait_until(&self.shared.state, |s| {
            s.shutdown
                || (s.links_seen >= s.generation && s.lease.stale_driver(s.generation).is_none())
        }));
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

    /// Lets the stack's poll thread run only on `cpus` (sched_setaffinity),
    /// as a NIC's interrupts are steered. On a machine whose cores the
    /// stack shares with its peer, the poll thread beside the threads of the
    /// program it serves keeps its hand-offs to them on one core and the
    /// peer's core free: with 256 KiB buffers at MTU 65535, a program
    /// reading in place on its own thread went from 0.83x bare smoltcp's
    /// loop to parity with it pinned the same way; with 1 MiB buffers the
    /// measurements disagreed (docs/PERFORMANCE.md). The program's own
    /// threads are the caller's to place. EINVAL for an empty set or no
    /// usable CPU in it, EOPNOTSUPP for a stack without a poll thread,
    /// ENETDOWN once the stack is shut down.
    pub fn set_poll_thread_affinity(&self, cpus: &[usize]) -> io::Result<()> {
        self.on_poll_thread(|tid| crate::os::affinity::set_thread_affinity(tid, cpus))
    }

    /// The CPUs the stack's poll thread may run on.
    pub fn poll_thread_affinity(&self) -> io::Result<Vec<usize>> {
        self.on_poll_thread(crate::os::affinity::thread_affinity)
    }

    /// Runs `f` with the poll thread's id while that thread is alive: it
    /// ends only once the stack is shut down, which happens under the lock
    /// held here, so the id cannot meanwhile name a newer thread of the
    /// process. ENETDOWN after a shutdown.
    fn on_poll_thread<T>(&self, f: impl FnOnce(i32) -> io::Result<T>) -> io::Result<T> {
        if self.shared.poll_tid == 0 {
            return Err(io::Error::from_raw_os_error(libc::EOPNOTSUPP));
        }
        let s = lock(&self.shared.state);
        if s.shutdown {
            return Err(io::Error::from_raw_os_error(libc::ENETDOWN));
        }
        // A thread that ended without a shutdown would be a bug; it is
        // checked for too. (The handle's lock is only ever held for a
        // moment, never while waiting on the state's.)
        let thread = self.shared.thread.lock().unwrap_or_else(|e| e.into_inner());
        if thread.as_ref().is_none_or(|t| t.is_finished()) {
            return Err(io::Error::from_raw_os_error(libc::ENETDOWN));
        }
        drop(thread);
        // Still under the state's lock (`s` lives to the end): the thread
        // cannot see a shutdown and end meanwhile.
        f(self.shared.poll_tid)
    }

    /// How many times the poll thread has woken so far (an idle stack with no
    /// timer pending does not wake at all).
    pub fn wakeups(&self) -> u64 {
        self.read(|s| s.wakeups)
    }

    /// How many rounds blocked reads have run so far, driving the TUN
    /// devices on their own threads instead of the poll thread.
    pub fn driven_rounds(&self) -> u64 {
        self.read(|s| s.driven)
    }

    /// Stops the poll thread and releases every link. Later calls that change
    /// the stack fail with ENETDOWN.
    pub fn shutdown(&self) {
        stop(&self.shared);
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
