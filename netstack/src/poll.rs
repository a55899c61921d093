//! The poll thread: one per stack. It sleeps until a link has a packet, the
//! API side wakes it, or smoltcp's next timer is due; then it moves packets
//! link -> ingress -> smoltcp -> egress -> link under the stack's lock.

use crate::device::Router;
use crate::drive::{Devices, Inbound};
use crate::link::{Coalescer, Deferred, Input, LinkKind, Packet, Waitable};
use crate::os::EventFd;
use crate::state::State;
use crate::waiters::release;
use crossbeam_channel::{Receiver, Select};
use smoltcp::iface::{PollIngressSingleResult, PollResult};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Packets taken from one link per round, so that one busy link cannot starve the rest.
pub(crate) const RX_BATCH: usize = 64;

/// Bytes taken from one device (a TUN device or a pipe, not lo) per round,
/// at most (the packet that crosses it is the last). The round copies each
/// packet's payload into its socket's buffer after the last read: a batch
/// that outgrows a core's cache (64 packets of 64 KiB are 4 MiB; this
/// machine's L2 is 1 MiB) is copied out of memory again, and the next one is
/// read into cold buffers. Bare smoltcp reads each packet into the buffer the
/// previous one left warm. Taken with the pool's last-freed-first order
/// (link/pool.rs), `Read` inbound with 1 MiB buffers gained 0.97 to 1.11 in
/// five sets of 201 rounds, 1.06 in the median set (docs/PERFORMANCE.md);
/// 128 KiB and 512 KiB gained less.
pub(crate) const RX_BATCH_BYTES: usize = 256 << 10;

/// What a round has taken from one link: full at `RX_BATCH` packets or, from
/// a device, `RX_BATCH_BYTES` bytes. lo's packets are the stack's own,
/// written by the round before: a cap on their bytes only adds rounds (bulk
/// over lo made 0.94 of the rate without it, docs/PERFORMANCE.md).
pub(crate) struct Batch {
    packets: usize,
    bytes: usize,
    byte_cap: usize,
}

impl Batch {
    pub fn of(kind: LinkKind) -> Batch {
        let byte_cap = match kind {
            LinkKind::Loopback => usize::MAX,
            _ => RX_BATCH_BYTES,
        };
        Batch {
            packets: 0,
            bytes: 0,
            byte_cap,
        }
    }

    pub fn full(&self) -> bool {
        self.packets >= RX_BATCH || self.bytes >= self.byte_cap
    }

    pub fn add(&mut self, packet: &[u8]) {
        self.packets += 1;
        self.bytes += packet.len();
    }
}

/// How long the timer waits after a round in which a socket repeated a
/// packet (device.rs): at most one copy per socket goes out per pause.
const STALL_PAUSE: Duration = Duration::from_millis(10);

/// How long the poll thread may sleep before smoltcp's next timer (None: no
/// timer pending).
fn timer(s: &mut State) -> Option<Duration> {
    let now = s.now();
    let stalled = std::mem::take(&mut s.stalled);
    let fin = crate::socket::next_fin_timeout(s)
        .map(|at| Duration::from_micros(at.saturating_sub(now.total_micros()).max(0) as u64));
    let State { iface, sockets, .. } = s;
    let delay = sockets
        .poll_delay(iface, now)
        .map(|d| Duration::from_micros(d.total_micros()));
    let delay = delay.into_iter().chain(fin).min();
    // A socket that repeated itself wants to send again at once, and would
    // again: its timer waits a little (packets and calls do not).
    let delay = if stalled {
        delay.map(|d| d.max(STALL_PAUSE))
    } else {
        delay
    };
    s.poll_deadline =
        delay.map(|d| now + smoltcp::time::Duration::from_micros(d.as_micros() as u64));
    delay
}

/// What a socket call that completed asks of the poll thread (`Stack::after_call`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum AfterCall {
    /// A round, which sends what the call made ready.
    #[default]
    Round,
    /// Nothing, unless a round has something to do before the poll thread
    /// wakes by itself (`due_before_poll_thread`): a read of a connection
    /// whose ACKs ride on the program's answers (pingpong), which a window
    /// update alone would need a round for.
    RoundIfDue,
    /// Nothing, unless a packet waits in a queue that only a round drains
    /// (`queued_for_round`): a datagram taken or sent (UDP and ping sockets
    /// are the stack's own and send on the caller's thread; a datagram to
    /// the stack's own address waits on lo). smoltcp's timers cannot have
    /// moved, so they are not looked at.
    RoundIfQueued,
    /// The call's own thread sends what it queued (`send_here`): a write to
    /// a connection with nothing unsent or unacknowledged, or a read that
    /// opened a window while reads drive the devices (drive.rs).
    SendHere,
}

/// Sends on the caller's thread what its write queued, instead of waking
/// the poll thread to send it: a program that answers a request pays no
/// hand-off for the answer (and, as its read waits for the next request at
/// the devices, drive.rs, none per exchange; it paid three). Only for a
/// write to an idle connection: in a bulk transfer the poll thread's
/// sending runs beside the program's copies, and halved `Write`'s rate
/// outbound when the writer sent (docs/PERFORMANCE.md).
///
/// smoltcp's egress runs here as in a round, after the carries are aligned
/// (so that no window shrinks); packets for TUN devices are left in `out`,
/// for the caller to write after the lock is released, in order
/// (`State::tun_order`). Returns whether the poll thread must still run: a
/// socket repeated itself, a packet went to a queue that only a round
/// drains (lo), or smoltcp has a timer due before the poll thread wakes by
/// itself (the retransmission timer that the segments armed, on a stack
/// that had none).
pub(crate) fn send_here(s: &mut State, out: &mut Vec<Deferred>) -> bool {
    let now = s.now();
    let mtu = s.max_mtu();
    s.tun_out = Some(std::mem::take(out));
    let repeated = {
        let State {
            iface,
            sockets,
            carries,
            ingress,
            egress,
            repeats,
            ..
        } = &mut *s;
        let mut dev = Router::new(ingress, egress, repeats, mtu);
        emit(iface, &mut dev, sockets, carries, now);
        dev.repeated
    };
    s.stalled |= repeated;
    route_emitted(s);
    *out = s.tun_out.take().unwrap_or_default();
    repeated || due_before_poll_thread(s)
}

/// Whether a round has something to do before the poll thread wakes by
/// itself (`State::poll_deadline`, which its timer set before it slept): a
/// packet waits in a queue that only a round drains (lo's), or smoltcp has
/// a timer due.
pub(crate) fn due_before_poll_thread(s: &mut State) -> bool {
    if queued_for_round(s) {
        return true;
    }
    let now = s.now();
    let State {
        iface,
        sockets,
        poll_deadline,
        ..
    } = s;
    let next = sockets.poll_delay(iface, now).map(|d| now + d);
    match (next, *poll_deadline) {
        (Some(at), Some(deadline)) => at < deadline,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// Whether a packet waits in a queue that only a round drains: smoltcp's
/// ingress, or a link's (lo's).
pub(crate) fn queued_for_round(s: &State) -> bool {
    !s.ingress.is_empty() || s.nics.values().any(|n| n.link.has_queued())
}

/// smoltcp's egress, for every socket, once the carries have aligned the
/// receive queues: the windows it announces then never shrink
/// (socket/carry.rs).
fn emit(
    iface: &mut smoltcp::iface::Interface,
    dev: &mut Router,
    sockets: &mut crate::socket::set::Sockets,
    carries: &mut crate::socket::carry::Carries,
    now: smoltcp::time::Instant,
) {
    carries.align(sockets);
    while iface.poll_egress(now, dev, sockets.smoltcp()) != PollResult::None {}
}

/// Routes what smoltcp emitted (`State::egress`).
fn route_emitted(s: &mut State) {
    let mut routing = std::mem::take(&mut s.routing);
    std::mem::swap(&mut routing, &mut s.egress);
    for packet in routing.drain(..) {
        crate::egress::send(s, packet);
    }
    s.routing = routing;
}

pub(crate) fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    crate::socket::guard::assert_not_in_callback();
    // The tables stay consistent between statements, so a panic elsewhere
    // does not leave them half-written; keep serving.
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// The poll thread's wake-up when it waits in poll(2) on TUN devices
/// rather than in a crossbeam Select (socket calls signal it only then).
///
/// Most wake-ups come from a call that a round has just made ready, while
/// the poll thread is still busy with that round's writes: those need no
/// eventfd write (and the poll thread no poll(2) and read to clear it), only
/// a flag that it looks at before it sleeps. `pending` and `sleeping` are a
/// Dekker pair: a waker sets `pending` then reads `sleeping`, the poll
/// thread sets `sleeping` then reads `pending` (all SeqCst), so at least one
/// of them sees the other's store and no wake-up is lost.
pub(crate) struct WakeFd {
    pub fd: EventFd,
    polled: AtomicBool,
    /// The poll thread is in poll(2), or about to be: wake-ups signal `fd`.
    sleeping: AtomicBool,
    /// A wake-up came since the poll thread last looked.
    pending: AtomicBool,
}

impl WakeFd {
    pub fn new() -> std::io::Result<WakeFd> {
        Ok(WakeFd {
            fd: EventFd::new()?,
            polled: AtomicBool::new(false),
            sleeping: AtomicBool::new(false),
            pending: AtomicBool::new(false),
        })
    }

    pub fn wake(&self) {
        if self.polled.load(Ordering::Acquire) {
            self.pending.store(true, Ordering::SeqCst);
            if self.sleeping.load(Ordering::SeqCst) {
                self.fd.signal();
            }
        }
    }

    /// Waits in poll(2) on `fds` (the links) and the wake-up for at most
    /// `delay`, unless a wake-up is pending; then takes the pending wake-up,
    /// whichever way it came: the round that follows answers it.
    fn sleep(&self, fds: &[RawFd], delay: Option<Duration>) {
        self.sleeping.store(true, Ordering::SeqCst);
        if !self.pending.load(Ordering::SeqCst) {
            match crate::os::poll_readable(fds, self.fd.as_raw_fd(), delay) {
                // A waker that saw `sleeping` may have signaled the fd after
                // a round had begun for it: this poll(2) then returned at
                // once, and the read clears it.
                Ok(true) => self.fd.drain(),
                Ok(false) => {}
                Err(_) => {
                    // Not expected for live fds; keep serving on the timer alone.
                    std::thread::sleep(delay.unwrap_or(STALL_PAUSE).min(STALL_PAUSE));
                    self.fd.drain();
                }
            }
        }
        self.sleeping.store(false, Ordering::SeqCst);
        self.take_pending();
    }

    /// Clears the pending wake-up. Acquire: the round that follows sees
    /// what the waker did before it woke the poll thread.
    fn take_pending(&self) {
        self.pending.swap(false, Ordering::AcqRel);
    }
}

/// Whether the poll thread can wait in poll(2) on `links`: every one is a
/// TUN device, a pipe with its bell, or lo (whose packets only the stack
/// itself queues, in a round, and which the round after takes), and at
/// least one is not lo.
fn pollable(s: &State) -> bool {
    s.nics
        .values()
        .all(|n| n.link.pollable() || n.link.kind() == LinkKind::Loopback)
        && s.nics.values().any(|n| n.link.pollable())
}

pub(crate) fn run(state: Arc<Mutex<State>>, wake: Receiver<()>, wake_fd: Arc<WakeFd>) {
    loop {
        // The set of links changes rarely: one Select per set, reused every
        // round (building it allocates).
        let (links, generation) = {
            let mut s = lock(&state);
            if s.shutdown {
                return;
            }
            if pollable(&s) {
                drop(s);
                if run_polled(&state, &wake, &wake_fd) {
                    return;
                }
                continue;
            }
            for n in s.nics.values() {
                n.link.set_polled(false);
            }
            wake_fd.polled.store(false, Ordering::Release);
            let links: Vec<Waitable> = s.nics.values().map(|n| n.link.waitable()).collect();
            s.links_seen = s.generation;
            let generation = s.generation;
            // `Stack::remove_nic` waits for this.
            release(s);
            (links, generation)
        };
        let mut sel = Select::new();
        for w in &links {
            match w {
                Waitable::Queue(rx) => sel.recv(rx),
                Waitable::Tun(rx) => sel.recv(rx),
            };
        }
        // A round that left packets on a link runs again without sleeping.
        let mut more = false;
        let mut out = Vec::new();
        let mut coalescer = Coalescer::default();
        let wake_index = sel.recv(&wake);
        loop {
            let delay = {
                let mut s = lock(&state);
                if s.shutdown {
                    return;
                }
                if s.generation != generation {
                    break;
                }
                timer(&mut s)
            };
            let ready = match delay {
                _ if more => sel.try_ready().ok(),
                Some(d) => sel.ready_timeout(d).ok(),
                None => Some(sel.ready()),
            };
            if ready == Some(wake_index)
                && wake.try_recv() == Err(crossbeam_channel::TryRecvError::Disconnected)
            {
                // Every Stack handle is gone.
                return;
            }
            match round(&state, &mut out, &mut coalescer, None, None) {
                Some(again) => more = again,
                None => return,
            }
        }
    }
}

/// The poll thread of a stack whose links are TUN devices, pipes and lo: it
/// waits in poll(2) on the devices' fds (a pipe's is its bell) and its
/// wake-up eventfd, so that a packet wakes it directly (no waker thread and
/// hand-off per burst, as smoltcp's own poll loop), and can lend them to a
/// call that drives them (drive.rs). Returns true when the stack is gone,
/// false when its set of links changed.
fn run_polled(state: &Mutex<State>, wake: &Receiver<()>, wake_fd: &WakeFd) -> bool {
    let devices = {
        let mut s = lock(state);
        let fds: Vec<RawFd> = s
            .nics
            .values()
            .filter_map(|n| n.link.set_polled(true))
            .collect();
        let inputs: Vec<(u32, Input)> = s
            .nics
            .iter()
            .filter_map(|(&i, n)| Some((i, n.link.input()?)))
            .collect();
        s.links_seen = s.generation;
        let devices = Arc::new(Devices::new(s.generation, fds, inputs));
        s.lease.publish(Some(devices.clone()));
        // `Stack::remove_nic` waits for this.
        release(s);
        devices
    };
    wake_fd.polled.store(true, Ordering::Release);
    // A wake-up sent on the channel before the switch is not lost: one round now.
    let mut more = true;
    let mut out = Vec::new();
    let mut coalescer = Coalescer::default();
    let mut inbox = Vec::new();
    loop {
        let (delay, watch_devices) = {
            let mut s = lock(state);
            if s.shutdown || s.generation != devices.generation {
                s.lease.publish(None);
                return s.shutdown;
            }
            let delay = timer(&mut s);
            match s.lease.for_poll_thread() {
                None => (delay, true),
                // Lent to the calls that drive them (drive.rs).
                Some(cap) => (cap_timer(&mut s, delay, cap), false),
            }
        };
        if more {
            wake_fd.take_pending();
        } else if !watch_devices {
            wake_fd.sleep(&[], delay);
        } else if devices.arm() {
            wake_fd.sleep(&devices.fds, delay);
            devices.disarm(true);
        } else {
            wake_fd.take_pending();
        }
        if wake.try_recv() == Err(crossbeam_channel::TryRecvError::Disconnected) {
            // Every Stack handle is gone.
            return true;
        }
        // Read the devices before taking the lock: each read copies a
        // packet out of the kernel (segmenting its GSO packets), and socket
        // calls need not wait for that.
        let mut full = false;
        let mut reading = None;
        if watch_devices {
            let guard = devices.lock_reading();
            full = devices.read(&mut inbox);
            reading = Some(guard);
        }
        match round(state, &mut out, &mut coalescer, Some(&mut inbox), reading) {
            Some(again) => more = again || full,
            None => return true,
        }
    }
}

/// The poll thread's sleep while it has lent the devices: its timer's,
/// but at most `cap`, when it looks at the lease again.
fn cap_timer(s: &mut State, delay: Option<Duration>, cap: Option<Duration>) -> Option<Duration> {
    let Some(cap) = cap else {
        return delay;
    };
    if delay.is_some_and(|d| d <= cap) {
        return delay;
    }
    s.poll_deadline = Some(s.now() + smoltcp::time::Duration::from_micros(cap.as_micros() as u64));
    Some(cap)
}

/// One round on the poll thread, then a word to blocked calls. Returns
/// whether to run again without sleeping (a link still holds packets: one
/// gave a full batch, or lo holds what this round sent to it), or None when
/// the round met a bug: smoltcp's state may be half-updated, so the stack
/// stops (its calls then fail with ENETDOWN instead of hanging) and the rest
/// of the process carries on.
///
/// What the round emits for TUN devices is written after the lock is
/// released (`out` is the caller's, reused): a write runs the host kernel's
/// receive path for the packet, and socket calls need not wait for it.
/// (A NIC removed meanwhile keeps its device until they are out:
/// `Stack::remove_nic` waits for the poll thread to move on.) `inbox`, in
/// ppoll mode, holds what was read from the TUN devices before the lock was
/// taken, for the same reason; the round then does not read them itself.
fn round(
    state: &Mutex<State>,
    out: &mut Vec<Deferred>,
    coalescer: &mut Coalescer<Deferred>,
    inbox: Option<&mut Vec<Inbound>>,
    reading: Option<MutexGuard<'_, ()>>,
) -> Option<bool> {
    let mut s = lock(state);
    // The packets read are admitted under this lock, before another reader's.
    drop(reading);
    s.wakeups += 1;
    round_locked(s, out, coalescer, inbox)
}

/// A round under the lock already held (the poll thread's, or a call's
/// that drives the devices: drive.rs); as `round`.
pub(crate) fn round_locked(
    mut s: MutexGuard<'_, State>,
    out: &mut Vec<Deferred>,
    coalescer: &mut Coalescer<Deferred>,
    inbox: Option<&mut Vec<Inbound>>,
) -> Option<bool> {
    s.tun_out = Some(std::mem::take(out));
    let mut inbox = inbox;
    if let Some(inbox) = inbox.as_mut() {
        s.tun_in = Some(std::mem::take(*inbox));
    }
    let again = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| step(&mut s))) {
        Ok(full) => Some(full || s.nics.values().any(|n| n.link.has_queued())),
        Err(_) => {
            s.shutdown = true;
            None
        }
    };
    *out = s.tun_out.take().unwrap_or_default();
    if let Some(inbox) = inbox {
        *inbox = s.tun_in.take().unwrap_or_default();
    }
    release_and_write(s, out, coalescer);
    again
}

/// Releases the lock, then writes `out` (emptied) to its TUN devices. The
/// order of writes (`State::tun_order`) is taken before the lock is
/// released, so that the devices get the packets of rounds and of calls
/// that send themselves in the order they were emitted.
pub(crate) fn release_and_write(
    s: MutexGuard<'_, State>,
    out: &mut Vec<Deferred>,
    coalescer: &mut Coalescer<Deferred>,
) {
    let order = s.tun_order.clone();
    let in_order = order.lock().unwrap_or_else(|e| e.into_inner());
    release(s);
    // Consecutive segments of a connection go as one packet where the
    // device takes offloads (link/coalesce.rs).
    coalescer.write_all(out);
    drop(in_order);
}

/// A packet from NIC `ifindex`: queued for smoltcp if ingress accepts it,
/// back to the pool otherwise. `vouched`: the link vouches for its TCP or
/// UDP checksum.
fn admit(s: &mut State, ifindex: u32, mut packet: Packet, vouched: bool) {
    if crate::ingress::accept(s, ifindex, &mut packet, vouched) {
        s.ingress.push_back(packet);
    } else {
        crate::link::pool::recycle(packet);
    }
}

/// One round: drain the links, let smoltcp process and emit, route what it
/// emitted. Returns whether a link still holds packets (it gave a full batch).
pub(crate) fn step(s: &mut State) -> bool {
    let mut more = false;
    // What the poll thread read from TUN devices before taking the lock.
    let read_before = s.tun_in.is_some();
    if let Some(mut inbox) = s.tun_in.take() {
        for (ifindex, packet, vouched) in inbox.drain(..) {
            // The NIC may have gone since (its packets go with it).
            if s.nics.contains_key(&ifindex) {
                admit(s, ifindex, packet, vouched);
            } else {
                crate::link::pool::recycle(packet);
            }
        }
        s.tun_in = Some(inbox);
    }
    let mut order = std::mem::take(&mut s.rx_order);
    order.clear();
    order.extend(
        s.nics
            .iter()
            .filter(|(_, n)| !(read_before && n.link.pollable()))
            .map(|(i, n)| (*i, n.link.kind())),
    );
    for &(ifindex, kind) in &order {
        let mut batch = Batch::of(kind);
        loop {
            if batch.full() {
                more = true;
                break;
            }
            let Some((packet, vouched)) = s.nics.get(&ifindex).and_then(|n| n.link.recv_now())
            else {
                break;
            };
            batch.add(&packet);
            admit(s, ifindex, packet, vouched);
        }
    }
    let now = s.now();
    let mtu = s.max_mtu();
    s.sockets.unpark_due(now);
    crate::socket::expire_fin_wait2(s);
    crate::socket::quickack_after_idle(s, now);
    loop {
        {
            let State {
                iface,
                sockets,
                carries,
                sinks,
                sources,
                table,
                ingress,
                egress,
                stalled,
                repeats,
                ..
            } = &mut *s;
            let mut dev = Router::new(ingress, egress, repeats, mtu);
            // smoltcp's poll, split where the receive queues have all their
            // data and no ACK has been written yet: the carries align them
            // so that no window shrinks (socket/carry.rs).
            iface.poll_maintenance(now);
            while iface.poll_ingress_single(now, &mut dev, sockets.smoltcp())
                != PollIngressSingleResult::None
            {}
            sinks.feed(table, sockets, carries);
            sources.fill(table, sockets);
            emit(iface, &mut dev, sockets, carries, now);
            *stalled |= dev.repeated;
        }
        if s.egress.is_empty() {
            break;
        }
        route_emitted(s);
        if s.ingress.is_empty() {
            break;
        }
    }
    s.rx_order = order;
    crate::socket::observe(s);
    let State { iface, sockets, .. } = &mut *s;
    sockets.park_idle(iface, now);
    more
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;
    use std::time::Instant;

    /// Every wake-up is followed by a round, whether the poll thread was in
    /// poll(2) (the eventfd) or busy (the pending flag): a lost one would
    /// leave the waker waiting out the 10 s bound. The poll thread here sleeps
    /// with no timeout, so nothing but the wake-up ends a sleep.
    #[test]
    fn no_wake_up_is_lost() {
        let wake = Arc::new(WakeFd::new().unwrap());
        wake.polled.store(true, Ordering::Release);
        let rounds = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let poller = {
            let (wake, rounds, stop) = (wake.clone(), rounds.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Acquire) {
                    wake.sleep(&[], None);
                    // A round, sometimes long enough for the next wake-up
                    // to find the thread busy.
                    let n = rounds.fetch_add(1, Ordering::AcqRel);
                    if n % 3 == 0 {
                        std::thread::yield_now();
                    }
                }
            })
        };
        for i in 0..20_000 {
            // A round ends after this wake-up. (It may be one that had
            // begun before it; then the wake-up is still pending, and the
            // next sleep returns at once.)
            let seen = rounds.load(Ordering::Acquire);
            wake.wake();
            let start = Instant::now();
            while rounds.load(Ordering::Acquire) == seen {
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "wake-up {i} lost: no round followed it"
                );
                if i % 2 == 0 {
                    std::thread::yield_now();
                }
            }
        }
        stop.store(true, Ordering::Release);
        wake.wake();
        poller.join().unwrap();
    }
}
