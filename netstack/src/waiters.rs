//! Blocked socket calls, and waking exactly the ones whose socket changed.
//!
//! A call that must wait notes what its sockets look like (a `Mark` each:
//! state, queue lengths, pending error), registers under the stack's lock and
//! parks. Whoever changes the stack (a poll round, another call) releases the
//! lock through `release`, which compares each waiter's marks with the
//! sockets as they are now and wakes only the waiters whose marks differ, as
//! Linux wakes a socket's own wait queue rather than every sleeper. One
//! condvar for all calls woke every blocked thread after every round: with
//! many idle connections each round paid a wake-up per thread, and under
//! load the woken threads fought the poll thread for the lock.
//!
//! A mark holds every input of the blocked call's decision, so an unchanged
//! mark means the call would still wait: nothing is lost by not waking it.

use crate::os::EventFd;
use crate::socket::table::SocketTable;
use crate::socket::{mark, Interest, Mark, SocketId};
use crate::state::State;
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::Thread;
use std::time::Instant;

/// What a waiter waits for.
pub(crate) enum Watch {
    /// A change to one socket, in what `Interest` asks about.
    One(SocketId, Interest, Mark),
    /// A change to any of these sockets.
    Many(Vec<(SocketId, Interest, Mark)>),
    /// Anything: woken by every release (the poll thread's progress).
    Any,
}

impl Watch {
    pub fn one(s: &State, id: SocketId, interest: Interest) -> Watch {
        Watch::One(id, interest, mark(s, id, interest))
    }

    pub fn many(s: &State, interests: &[(SocketId, Interest)]) -> Watch {
        Watch::Many(
            interests
                .iter()
                .map(|&(id, i)| (id, i, mark(s, id, i)))
                .collect(),
        )
    }

    fn changed(&self, s: &State) -> bool {
        match self {
            Watch::One(id, i, m) => mark(s, *id, *i) != *m,
            Watch::Many(marks) => marks.iter().any(|(id, i, m)| mark(s, *id, *i) != *m),
            Watch::Any => true,
        }
    }
}

/// A thread's own wake-up, reused for every wait of that thread (a wait
/// allocates nothing).
pub(crate) struct Wake {
    thread: Thread,
    /// For a call that drives the devices while it waits (drive.rs): it
    /// sleeps in ppoll(2), which this eventfd ends; others park.
    fd: Option<EventFd>,
    /// Set, under the stack's lock, by the release that removed the entry.
    woken: AtomicBool,
}

impl Wake {
    pub fn signal(&self) {
        match &self.fd {
            Some(fd) => fd.signal(),
            None => self.thread.unpark(),
        }
    }

    /// The eventfd of a driving thread's wake-up.
    pub fn fd(&self) -> Option<&EventFd> {
        self.fd.as_ref()
    }

    /// Ready for another wait (a driver's, which `register` does not
    /// reset). Its eventfd is drained by the wait that finds it signaled.
    pub fn reset(&self) {
        self.woken.store(false, Ordering::Relaxed);
    }
}

struct Entry {
    key: u64,
    watch: Watch,
    wake: Arc<Wake>,
}

/// The blocked calls of one stack. Lives in `State`, so that registering and
/// checking happen under the lock that orders every change.
#[derive(Default)]
pub(crate) struct Waiters {
    entries: Vec<Entry>,
    next_key: u64,
}

thread_local! {
    static OWN: Arc<Wake> = Arc::new(Wake {
        thread: std::thread::current(),
        fd: None,
        woken: AtomicBool::new(false),
    });
    /// The thread's wake-up while it drives (None if no eventfd could be made).
    static DRIVER: Option<Arc<Wake>> = EventFd::new().ok().map(|fd| {
        Arc::new(Wake {
            thread: std::thread::current(),
            fd: Some(fd),
            woken: AtomicBool::new(false),
        })
    });
    /// The wake-ups a release collected, sent once the lock is released.
    static WOKEN: RefCell<Vec<Arc<Wake>>> = const { RefCell::new(Vec::new()) };
}

impl Waiters {
    /// Moves the entries whose watch changed (all of them once the stack is
    /// shut down) to `woken`, marking them woken.
    fn collect(&mut self, s: &State, woken: &mut Vec<Arc<Wake>>) {
        let mut i = 0;
        while i < self.entries.len() {
            if s.shutdown || self.entries[i].watch.changed(s) {
                let e = self.entries.swap_remove(i);
                e.wake.woken.store(true, Ordering::Release);
                woken.push(e.wake);
            } else {
                i += 1;
            }
        }
    }
}

/// Unlocks the stack, then wakes the blocked calls whose sockets the holder
/// changed (the wake-up system calls happen outside the lock).
pub(crate) fn release(mut s: MutexGuard<'_, State>) {
    if s.waiters.entries.is_empty() {
        return;
    }
    WOKEN.with(|woken| {
        // Nothing below calls back into a release: the borrow is free.
        let mut woken = woken.borrow_mut();
        collect_into(&mut s, &mut woken);
        drop(s);
        for w in woken.drain(..) {
            w.signal();
        }
    });
}

fn collect_into(s: &mut State, woken: &mut Vec<Arc<Wake>>) {
    let mut waiters = std::mem::take(&mut s.waiters);
    waiters.collect(s, woken);
    s.waiters = waiters;
}

/// Waits, with the lock released, until a release finds `watch` changed or
/// `deadline` passes; returns the lock again either way (the caller looks
/// at the stack once more and decides). `soon`: the change is likely within
/// microseconds (a request/response wait whose answer a round is already
/// making), so the wait looks a few times, spinning then yielding, before
/// it parks. (Every wait looking so took the cores a bulk reader's
/// producers need: docs/PERFORMANCE.md.)
pub(crate) fn wait<'a>(
    state: &'a Mutex<State>,
    mut s: MutexGuard<'a, State>,
    watch: Watch,
    deadline: Option<Instant>,
    soon: bool,
) -> MutexGuard<'a, State> {
    let wake = OWN.with(Arc::clone);
    wake.woken.store(false, Ordering::Relaxed);
    let key = register(&mut s, watch, &wake);
    drop(s);
    if soon {
        crate::backoff::until(|| wake.woken.load(Ordering::Acquire));
    }
    // park() may return spuriously, or for an unpark meant for an earlier
    // wait of this thread: only the flag says this wait is over.
    while !wake.woken.load(Ordering::Acquire) {
        match deadline {
            None => std::thread::park(),
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    break;
                }
                std::thread::park_timeout(d - now);
            }
        }
    }
    let mut s = crate::poll::lock(state);
    unregister(&mut s, key, &wake);
    s
}

/// Adds a waiter: the next release that finds `watch` changed sets
/// `wake`'s flag and signals it. Returns its key, for `unregister`.
pub(crate) fn register(s: &mut State, watch: Watch, wake: &Arc<Wake>) -> u64 {
    let key = s.waiters.next_key;
    s.waiters.next_key += 1;
    s.waiters.entries.push(Entry {
        key,
        watch,
        wake: wake.clone(),
    });
    key
}

/// Removes a waiter that no release has removed (it timed out, or ended
/// another way).
pub(crate) fn unregister(s: &mut State, key: u64, wake: &Wake) {
    if !wake.woken.load(Ordering::Acquire) {
        s.waiters.entries.retain(|e| e.key != key);
    }
}

/// This thread's wake-up for driving (drive.rs), reset for a new wait.
pub(crate) fn driver_wake() -> Option<Arc<Wake>> {
    DRIVER.with(|w| w.clone()).inspect(|w| w.reset())
}

impl Waiters {
    /// Whether a call is blocked for anything but a connection to accept
    /// (drive.rs: a call drives the devices only while none is; an
    /// acceptor may wait a millisecond or two for its SYN).
    pub fn wait_for_more_than_accepts(&self, table: &SocketTable) -> bool {
        self.entries.iter().any(|e| match &e.watch {
            Watch::One(id, _, _) => !table.get(*id).is_ok_and(|e| e.is_listener()),
            Watch::Many(_) | Watch::Any => true,
        })
    }
}
