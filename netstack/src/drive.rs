//! A blocked read drives the devices itself (leader/follower).
//!
//! A program that answers requests waits in a read for each one. Served by
//! the poll thread alone, every request crosses threads: the poll thread
//! reads it off the TUN device, runs the round and wakes the program's
//! thread, and that wake-up (a futex, and on an idle core the core's own)
//! is what a single-threaded smoltcp loop does not pay. So a read that
//! waits for packets may wait at the devices instead: in ppoll(2) on their
//! fds, reading and running the round itself when a packet comes, and
//! returning with the data on the thread that asked for it. A
//! `Stack::wait` for the readability of such a socket (a runtime's event
//! loop) drives as the read would.
//!
//! A bulk reader gains the same way. Served by the poll thread, a transfer
//! runs on three threads (the peer's, the poll thread, the reader), and on
//! two cores the scheduler puts two of them together, often the reader
//! with the peer; bare smoltcp's loop is one thread. Driving, the reader
//! runs the rounds, and its reads send the window they open themselves
//! (`socket::tcp`), so the poll thread sleeps through the transfer.
//!
//! The poll thread lends the devices for this (`Lease`). While they are
//! lent it leaves them alone, and still runs the rounds that other calls
//! and smoltcp's timers ask for. A call drives only when no other is
//! blocked (the others would wait on its rounds) but for accepts (a server's
//! acceptor thread waits for good; its SYNs may wait a millisecond or two
//! while the program is busy between reads), and only on a stack whose poll
//! thread waits on its links in ppoll(2): TUN devices and pipes, which are
//! "the devices" here. The poll thread takes the devices back when no call
//! has driven for a whole `LEASE_CHECK` (the program is busy elsewhere: the
//! devices then wait at most two periods), or when another call blocks (at
//! once if no call is at the devices, else when the driver's turn ends).
//! A driver that leaves a full batch behind keeps them, its next call
//! reading the rest, unless the program works between its reads (`Away`):
//! the poll thread then takes the packets in while it works.

use crate::link::{Coalescer, Deferred, Input, Packet};
use crate::poll::{lock, Batch};
use crate::state::State;
use crate::waiters::{Wake, Watch};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How often the poll thread looks whether lent devices are still driven.
pub(crate) const LEASE_CHECK: Duration = Duration::from_millis(1);

/// Away from its reads longer than this on average, a program works on
/// what it reads (`Away`).
const WORKING: Duration = Duration::from_micros(10);

/// A single time away counts for at most this: a pause between transfers
/// would otherwise mark a program as working for many reads after.
const AWAY_MAX: Duration = Duration::from_millis(1);

/// How long the program stays away between its TCP reads, on average. A
/// driver that leaves a full batch keeps the devices for a program that
/// reads on at once (the transfer then runs on its thread alone); a
/// program that works on what it reads gives them back, so that the poll
/// thread takes the packets in while it works, and its next read that
/// blocks takes them again. (Kept by a program that works 50 us per 64 KiB
/// read, the devices waited for its work: 0.65-0.77 of the rate the poll
/// thread served it at, docs/PERFORMANCE.md.)
#[derive(Default)]
pub(crate) struct Away {
    /// When the last read returned bytes.
    returned: Option<Instant>,
    /// The average, each new time away weighing an eighth, in ns.
    average_ns: u64,
}

impl Away {
    pub fn read_begins(&mut self, now: Instant) {
        if let Some(returned) = self.returned.take() {
            let away = now.saturating_duration_since(returned).min(AWAY_MAX);
            self.average_ns = self.average_ns - self.average_ns / 8 + away.as_nanos() as u64 / 8;
        }
    }

    pub fn read_returns(&mut self, now: Instant) {
        self.returned = Some(now);
    }

    pub fn working(&self) -> bool {
        self.average_ns > WORKING.as_nanos() as u64
    }
}

/// The pollable links of one set (TUN devices, pipes), as the poll thread
/// waits on them.
pub(crate) struct Devices {
    /// The set of links (`State::generation`) they belong to.
    pub generation: u64,
    pub fds: Vec<RawFd>,
    inputs: Vec<(u32, Input)>,
    /// Held by whoever reads the devices, from the first read until the
    /// round that admits the packets holds the stack's lock: two readers
    /// must not reorder a connection's segments.
    pub reading: Mutex<()>,
}

/// A packet read off a device: ifindex, the packet, whether the link
/// vouches for its checksum.
pub(crate) type Inbound = (u32, Packet, bool);

impl Devices {
    pub fn new(generation: u64, fds: Vec<RawFd>, inputs: Vec<(u32, Input)>) -> Devices {
        Devices {
            generation,
            fds,
            inputs,
            reading: Mutex::new(()),
        }
    }

    /// Reads a batch (`poll::Batch`) from each device into `inbox` (hold
    /// `reading`); returns whether one gave a full batch.
    pub fn read(&self, inbox: &mut Vec<Inbound>) -> bool {
        let mut full = false;
        for (ifindex, input) in &self.inputs {
            let mut batch = Batch::of(input.kind());
            loop {
                if batch.full() {
                    full = true;
                    break;
                }
                let Some((packet, vouched)) = input.try_recv() else {
                    break;
                };
                batch.add(&packet);
                inbox.push((*ifindex, packet, vouched));
            }
        }
        full
    }

    /// Before a sleep on `fds`: arms the pipes' bells, and returns true
    /// (`disarm` follows the sleep). False, with none armed: a link holds
    /// packets already, so do not sleep but read them. (Looked at before
    /// arming too: an armed bell costs a sender an eventfd write, and a
    /// busy receiver finds packets waiting most of the time.)
    pub fn arm(&self) -> bool {
        if self.pipes_fill_soon() {
            return false;
        }
        // Every bell is armed, whatever the first ones hold.
        let queued = self
            .inputs
            .iter()
            .fold(false, |queued, (_, input)| input.arm() | queued);
        if queued {
            self.disarm(false);
        }
        !queued
    }

    /// Whether a pipe holds packets, or gets some within a few microseconds
    /// (`backoff`): the peer of a pipe is a stack in this process, whose
    /// next packet is often on its way, and a sleep and its wake-up cost
    /// more than that. (crossbeam's blocking receive, which pipes' waiters
    /// used before, looks the same way before it parks.)
    fn pipes_fill_soon(&self) -> bool {
        self.inputs.iter().any(|(_, input)| input.is_pipe())
            && crate::backoff::until(|| self.inputs.iter().any(|(_, input)| input.queued()))
    }

    /// After the sleep on `fds` that `arm` allowed (`slept`: false if it
    /// did not happen after all).
    pub fn disarm(&self, slept: bool) {
        for (_, input) in &self.inputs {
            input.disarm(slept);
        }
    }

    pub fn lock_reading(&self) -> MutexGuard<'_, ()> {
        self.reading.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Who watches the devices: the poll thread, or the calls it lent them to.
#[derive(Default)]
pub(crate) struct Lease {
    /// The devices the poll thread waits on now (None: it waits some other
    /// way, and nothing can be lent).
    devices: Option<Arc<Devices>>,
    lent: bool,
    /// The call driving now, with the generation of the devices it holds.
    driver: Option<(Arc<Wake>, u64)>,
    /// Turns at the devices so far, and as the poll thread last saw them.
    drives: u64,
    drives_seen: u64,
    /// The poll thread sleeps on its timer alone until the driver leaves.
    poll_waits: bool,
}

impl Lease {
    /// The poll thread waits on `devices` from now on (or on no devices);
    /// a lease ends.
    pub fn publish(&mut self, devices: Option<Arc<Devices>>) {
        self.devices = devices;
        self.lent = false;
    }

    /// What the poll thread's next sleep watches. None: the devices (they
    /// are not lent, or no call drove them for a whole period and they are
    /// taken back now). Some(cap): not the devices, sleeping at most `cap`
    /// (None: its timer alone; one call has been at the devices for a
    /// whole period, waiting for a packet, and wakes it when it leaves).
    ///
    /// While calls keep driving, the poll thread looks once a period and
    /// no more: a program's exchanges do not wake it. (Woken by every
    /// driver that leaves, it would run beside each answer, and on a core
    /// it shares with the program, wake with every exchange.)
    pub fn for_poll_thread(&mut self) -> Option<Option<Duration>> {
        self.poll_waits = false;
        if !self.lent {
            return None;
        }
        let moved = self.drives != self.drives_seen;
        self.drives_seen = self.drives;
        match (moved, self.driver.is_some()) {
            (true, _) => Some(Some(LEASE_CHECK)),
            (false, true) => {
                self.poll_waits = true;
                Some(None)
            }
            (false, false) => {
                self.lent = false;
                None
            }
        }
    }

    /// The driver, if one holds devices older than `generation` (a NIC
    /// went since), to be woken: its turn ends, and it lets them go.
    pub fn stale_driver(&self, generation: u64) -> Option<Arc<Wake>> {
        match &self.driver {
            Some((wake, g)) if *g < generation => Some(wake.clone()),
            _ => None,
        }
    }

    /// The devices go back to the poll thread if they are lent and no call
    /// is at them now (a call is about to wait on the poll thread's rounds).
    /// Returns whether the poll thread must be woken for it.
    pub fn take_back(&mut self) -> bool {
        let idle = self.lent && self.driver.is_none();
        if idle {
            self.lent = false;
        }
        idle
    }

    /// Whether the devices are lent to calls that drive them.
    pub fn lent(&self) -> bool {
        self.lent
    }

    /// Whether a call is at the devices now.
    pub fn driven(&self) -> bool {
        self.driver.is_some()
    }

    /// A driver ends its turn; `hand_back`: the devices go back to the
    /// poll thread. Returns whether the poll thread must be woken for it.
    fn leave(&mut self, hand_back: bool) -> bool {
        self.driver = None;
        if hand_back {
            self.lent = false;
        }
        std::mem::take(&mut self.poll_waits) || hand_back
    }
}

/// A call's turn at the devices (`take`).
pub(crate) struct Driving {
    devices: Arc<Devices>,
    wake: Arc<Wake>,
}

/// The devices for a call that is about to wait for packets, if it may
/// drive them: they are the current set's, no other call drives them or
/// is blocked (but for accepts), and the thread has an eventfd to be woken by.
pub(crate) fn take(s: &mut State) -> Option<Driving> {
    let devices = s.lease.devices.as_ref()?;
    if devices.generation != s.generation
        || s.lease.driver.is_some()
        || s.waiters.wait_for_more_than_accepts(&s.table)
    {
        return None;
    }
    let devices = devices.clone();
    let wake = crate::waiters::driver_wake()?;
    let lease = &mut s.lease;
    lease.lent = true;
    lease.drives += 1;
    lease.driver = Some((wake.clone(), devices.generation));
    Some(Driving { devices, wake })
}

/// One turn at the devices: waits in ppoll(2) on them, and on the call's
/// wake-up (its socket changed some other way: the poll thread took the
/// packet first, another thread closed it), until one is ready or
/// `deadline` passes; then reads what came and runs the round. Returns the
/// lock again, for the call to look at its socket, and whether the poll
/// thread must be woken (the devices go back to it, it waits for this turn
/// to end, or a round has something due before it wakes by itself).
pub(crate) fn turn<'a>(
    state: &'a Mutex<State>,
    mut s: MutexGuard<'a, State>,
    watch: Watch,
    deadline: Option<Instant>,
    driving: Driving,
) -> (MutexGuard<'a, State>, bool) {
    thread_local! {
        // Reused: a turn allocates nothing.
        static BUFFERS: std::cell::RefCell<(Vec<Inbound>, Vec<Deferred>, Coalescer<Deferred>)> =
            std::cell::RefCell::new(Default::default());
    }
    let Driving { devices, wake } = driving;
    let key = crate::waiters::register(&mut s, watch, &wake);
    drop(s);
    if let Some(fd) = wake.fd().filter(|_| devices.arm()) {
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        // An error ends the turn early; the call looks again. A signal that
        // comes after this (a change meanwhile) ends the next turn at once,
        // which drains it: one read(2) per signal, not per turn.
        if let Ok(true) = crate::os::poll_readable(&devices.fds, fd.as_raw_fd(), timeout) {
            fd.drain();
        }
        devices.disarm(true);
    }
    let mut wake_poll = BUFFERS.with(|cell| {
        let mut cell = cell.borrow_mut();
        let (inbox, out, coalescer) = &mut *cell;
        let reading = devices.lock_reading();
        // A full batch leaves packets behind: the driver's next call reads
        // them, unless the program works between its reads (`Away`). (Handed
        // back to the poll thread always, a bulk reader's segments ran on two
        // threads again: docs/PERFORMANCE.md.)
        let full = devices.read(inbox);
        let mut s = lock(state);
        drop(reading);
        // Let go of the devices before the turn ends: a NIC removed
        // meanwhile waits for that (`Stack::remove_nic`).
        drop(devices);
        crate::waiters::unregister(&mut s, key, &wake);
        let hand_back =
            (full && s.away.working()) || s.waiters.wait_for_more_than_accepts(&s.table);
        let wake_poll = s.lease.leave(hand_back);
        if inbox.is_empty() || s.shutdown {
            // A stack shut down meanwhile runs no more rounds.
            for (_, packet, _) in inbox.drain(..) {
                crate::link::pool::recycle(packet);
            }
            crate::waiters::release(s);
            return wake_poll;
        }
        s.driven += 1;
        let again = crate::poll::round_locked(s, out, coalescer, Some(inbox));
        wake_poll || again != Some(false)
    });
    let mut s = lock(state);
    wake_poll |= crate::poll::due_before_poll_thread(&mut s);
    (s, wake_poll)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `n` times, each after `away` outside the stack.
    fn reads(a: &mut Away, t: &mut Instant, n: usize, away: Duration) {
        for _ in 0..n {
            *t += away;
            a.read_begins(*t);
            a.read_returns(*t);
        }
    }

    #[test]
    fn a_program_that_works_between_reads_is_told_from_one_that_reads_on() {
        let mut a = Away::default();
        let mut t = Instant::now();
        reads(&mut a, &mut t, 100, Duration::from_micros(1));
        assert!(!a.working(), "reading on at once");
        reads(&mut a, &mut t, 20, Duration::from_micros(50));
        assert!(a.working(), "50 us of work per read");
        reads(&mut a, &mut t, 30, Duration::ZERO);
        assert!(!a.working(), "back to reading at once");
    }

    #[test]
    fn a_pause_between_transfers_weighs_no_more_than_a_millisecond() {
        let mut a = Away::default();
        let mut t = Instant::now();
        reads(&mut a, &mut t, 2, Duration::from_secs(10));
        assert_eq!(a.average_ns, 125_000, "an eighth of 1 ms");
        // 1 ms / 8 = 125 us, under 10 us after 20 reads at once (7/8 each).
        reads(&mut a, &mut t, 20, Duration::ZERO);
        assert!(!a.working(), "the pause still counts: {} ns", a.average_ns);
    }

    #[test]
    fn the_first_read_has_no_time_away() {
        let mut a = Away::default();
        a.read_begins(Instant::now() + Duration::from_secs(1));
        assert_eq!(a.average_ns, 0);
    }
}
