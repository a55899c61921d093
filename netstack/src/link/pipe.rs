//! In-memory links: two ends, each direction a bounded queue with a bell.
//!
//! The bell is an eventfd that the sending end writes when it queues a
//! packet while the receiving end sleeps, so that whoever waits for that end
//! (its stack's poll thread, or a blocked call that drives the stack's links:
//! drive.rs) waits for it in ppoll(2), beside TUN devices, as it waits for
//! them. A busy receiver costs a sender nothing but two atomic operations;
//! a sleeping one, one eventfd write per sleep, whatever the packets queued.

use super::{Frame, Link, LinkCounters, LinkKind, LinkRx, LinkTx, LINK_QUEUE_LEN};
use crate::os::EventFd;
use crossbeam_channel::{bounded, Receiver};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// The receiving end's wake-up for one direction of a pipe.
///
/// `sleepers` and the queue are a Dekker pair: a sender queues its packet,
/// then reads `sleepers`; a receiver counts itself in, then looks at the
/// queue (SeqCst, with a fence between each side's two steps). So either the
/// receiver sees the packet and does not sleep, or the sender sees it about
/// to sleep and writes the eventfd: no packet waits for a sleeper that was
/// not woken. `rung` keeps the senders to one write per sleep.
pub(crate) struct Bell {
    fd: EventFd,
    sleepers: AtomicUsize,
    rung: AtomicBool,
}

impl Bell {
    fn new() -> Option<Arc<Bell>> {
        let fd = EventFd::new().ok()?;
        Some(Arc::new(Bell {
            fd,
            sleepers: AtomicUsize::new(0),
            rung: AtomicBool::new(false),
        }))
    }

    /// A packet was queued: wakes the receiver if it sleeps (or is about
    /// to), unless the bell rang for that sleep already.
    pub(super) fn ring(&self) {
        fence(Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) > 0 && !self.rung.swap(true, Ordering::SeqCst) {
            self.fd.signal();
        }
    }

    /// Before a sleep on `fd`: the receiver counts itself in. Returns
    /// whether `rx` holds packets already: then it must not sleep. Either
    /// way `disarm` follows.
    pub(crate) fn arm(&self, rx: &Receiver<Frame>) -> bool {
        self.rung.store(false, Ordering::SeqCst);
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        !rx.is_empty()
    }

    /// After the sleep (`slept`), or instead of it: counts the receiver
    /// out, clears what the bell wrote, and lets it ring again. (A write that
    /// lands after this, from a sender that saw the sleep coming, ends the
    /// next sleep at once, and that one's `disarm` clears it.) Another
    /// receiver may still sleep on the bell (the poll thread, until it sees
    /// that a call drives the links): the next packet must write the eventfd
    /// for it, and one queued before this returns is the caller's to read,
    /// which it does next.
    pub(crate) fn disarm(&self, slept: bool) {
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
        if slept {
            self.fd.drain();
        }
        self.rung.store(false, Ordering::SeqCst);
    }

    pub(crate) fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

pub(super) fn pair() -> (Link, Link) {
    pair_with_queue(LINK_QUEUE_LEN)
}

pub(super) fn pair_with_queue(len: usize) -> (Link, Link) {
    pair_with_bells(len, true)
}

/// A pair whose directions have bells if `bells` and eventfds can be made.
pub(super) fn pair_with_bells(len: usize, bells: bool) -> (Link, Link) {
    let (a_tx, b_rx) = bounded(len);
    let (b_tx, a_rx) = bounded(len);
    // Without an eventfd (the process is out of descriptors) a pipe still
    // works: its stack's poll thread then waits on the queues themselves
    // (tests/drive_pipe.rs, `Link::pipe_without_bells`).
    let bell = || if bells { Bell::new() } else { None };
    let (to_a, to_b) = (bell(), bell());
    let end = |rx, tx, in_bell: Option<Arc<Bell>>, out_bell| Link {
        kind: LinkKind::Pipe,
        rx: LinkRx::Queue(rx, in_bell),
        tx: LinkTx::Channel(tx, out_bell),
        counters: Arc::new(LinkCounters::default()),
        _reader: None,
    };
    (
        end(a_rx, a_tx, to_a.clone(), to_b.clone()),
        end(b_rx, b_tx, to_b, to_a),
    )
}

#[cfg(test)]
mod tests {
    use super::super::Link;
    use std::time::Duration;

    #[test]
    fn a_short_queue_drops_and_counts_past_its_length() {
        let (a, b) = Link::pipe_with_queue(2);
        assert!(a.send(&[1]).is_ok() && a.send(&[2]).is_ok());
        let e = a.send(&[3]).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOBUFS));
        assert_eq!(a.stats().tx_drop, 1);
        assert_eq!(b.try_recv().as_deref(), Some(&[1u8][..]));
        assert!(a.send(&[4]).is_ok(), "room again once one is taken");
        assert_eq!(
            Link::pipe_with_queue(0).0.send(&[0]).map_err(|_| ()),
            Ok(()),
            "at least 1"
        );
    }

    /// Whether `fd` is readable within `ms` milliseconds.
    fn readable(fd: std::os::fd::RawFd, ms: u64) -> bool {
        crate::os::poll_readable(&[], fd, Some(Duration::from_millis(ms))).unwrap()
    }

    #[test]
    fn the_bell_wakes_a_sleeper_once_and_a_busy_receiver_never() {
        let (a, b) = Link::pipe();
        let (rx, bell) = b.pipe_input().expect("a pipe end has a bell");
        a.send(&[1]).unwrap();
        assert!(!readable(bell.fd(), 0), "no sleeper: no write");
        assert!(bell.arm(&rx), "a packet waits: no sleep");
        bell.disarm(false);
        assert!(b.try_recv().is_some());
        assert!(!bell.arm(&rx), "nothing queued: sleep");
        a.send(&[2]).unwrap();
        a.send(&[3]).unwrap();
        assert!(readable(bell.fd(), 1000), "the first packet rings");
        bell.disarm(true);
        assert!(!readable(bell.fd(), 0), "disarming clears it");
        assert!(b.try_recv().is_some() && b.try_recv().is_some());
        assert!(!bell.arm(&rx));
        a.send(&[4]).unwrap();
        assert!(readable(bell.fd(), 1000), "rings again for the next sleep");
        bell.disarm(true);
    }

    #[test]
    fn a_receiver_that_wakes_first_leaves_the_bell_ringing_for_one_still_asleep() {
        let (a, b) = Link::pipe();
        let (rx, bell) = b.pipe_input().unwrap();
        // Two receivers asleep on one bell (the poll thread, and a call that
        // has just taken the links).
        assert!(!bell.arm(&rx) && !bell.arm(&rx));
        a.send(&[1]).unwrap();
        assert!(readable(bell.fd(), 1000));
        // The first awake clears the eventfd and reads the packet.
        bell.disarm(true);
        assert!(b.try_recv().is_some());
        // The next packet wakes the other.
        a.send(&[2]).unwrap();
        assert!(
            readable(bell.fd(), 1000),
            "the second sleeper is left asleep"
        );
        bell.disarm(true);
    }

    #[test]
    fn senders_on_many_threads_never_leave_a_sleeper_asleep() {
        let (a, b) = Link::pipe();
        let a = std::sync::Arc::new(a);
        let (rx, bell) = b.pipe_input().unwrap();
        const EACH: usize = 2000;
        let senders: Vec<_> = (0..3)
            .map(|_| {
                let a = a.clone();
                std::thread::spawn(move || {
                    for i in 0..EACH {
                        while a.send(&[i as u8]).is_err() {
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        let mut got = 0;
        while got < 3 * EACH {
            let queued = bell.arm(&rx);
            if !queued {
                // A lost wake-up shows as this wait running out.
                assert!(readable(bell.fd(), 5000), "asleep with {got} received");
            }
            bell.disarm(!queued);
            while b.try_recv().is_some() {
                got += 1;
            }
        }
        for s in senders {
            s.join().unwrap();
        }
    }
}
