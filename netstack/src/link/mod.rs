//! Link endpoints: where packets enter and leave a stack. Every link is a pair
//! of packet queues: a receiver the poll thread waits on, and a transmit side
//! that never blocks. The link counts what crosses it, as a driver fills
//! /proc/net/dev.

mod coalesce;
mod counters;
mod loopback;
mod pipe;
pub(crate) mod pool;
mod tun;
pub(crate) mod vnet;

pub(crate) use coalesce::Coalescer;
pub use counters::LinkCounters;
pub(crate) use pipe::Bell;
pub use tun::TunInfo;
pub(crate) use vnet::VnetHdr;

use crate::inet::{arphrd, iff, DevStats};
use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::io;
use std::sync::Arc;
use std::time::Duration;

/// How many packets a link queue holds before it drops (a NIC ring's worth).
pub const LINK_QUEUE_LEN: usize = 4096;

/// A packet on a link: raw IP, no link header.
pub type Packet = Vec<u8>;

/// What a link looks like to `ip link`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkKind {
    Loopback,
    Tun,
    Pipe,
}

impl LinkKind {
    pub(crate) fn link_type(self) -> u16 {
        match self {
            LinkKind::Loopback => arphrd::LOOPBACK,
            LinkKind::Tun | LinkKind::Pipe => arphrd::NONE,
        }
    }

    /// Flags a NIC of this kind carries besides UP/RUNNING, as Linux sets them.
    pub(crate) fn base_flags(self) -> u32 {
        match self {
            LinkKind::Loopback => iff::LOOPBACK,
            LinkKind::Tun | LinkKind::Pipe => iff::POINTOPOINT | iff::NOARP | iff::MULTICAST,
        }
    }

    pub(crate) fn default_mtu(self) -> u32 {
        match self {
            LinkKind::Loopback => 65536,
            LinkKind::Tun | LinkKind::Pipe => 1500,
        }
    }

    pub(crate) fn tx_queue_len(self) -> u32 {
        match self {
            LinkKind::Loopback => 1000,
            LinkKind::Tun | LinkKind::Pipe => 500,
        }
    }
}

/// A packet on a queue link, and whether a stack's egress sent it: then
/// its checksums were written by the stack itself, and the receiving stack
/// need not verify them (a packet sent with `Link::send` is verified).
pub(crate) type Frame = (Packet, bool);

/// The transmit half of a link.
pub(crate) enum LinkTx {
    /// A queue, and the bell of the end that receives it (a pipe's).
    Channel(Sender<Frame>, Option<Arc<Bell>>),
    Tun(Arc<tun::TunDevice>),
}

/// The receive half of a link.
pub(crate) enum LinkRx {
    /// Packets queued by the other end (a pipe, lo), and the bell that end
    /// rings (a pipe's: lo's packets are queued by its own stack's rounds).
    Queue(Receiver<Frame>, Option<Arc<Bell>>),
    /// A device the stack reads itself; its waker says when it has packets.
    /// Shared with the poll thread, which reads it without the stack's lock
    /// (`Input`).
    Tun(Arc<tun::TunRx>),
}

/// What the poll thread sleeps on for one link.
pub(crate) enum Waitable {
    Queue(Receiver<Frame>),
    Tun(Receiver<()>),
}

/// One end of a link. Give it to `Stack::add_nic`, or, for a pipe end, drive
/// it directly with `send` and `recv_timeout` (tests and benchmarks do).
pub struct Link {
    kind: LinkKind,
    // Dropped before `_reader`: a TUN waker ends when its rearm channel closes.
    rx: LinkRx,
    tx: LinkTx,
    counters: Arc<LinkCounters>,
    /// Keeps a TUN reader thread alive for as long as the link lives.
    _reader: Option<tun::TunReader>,
}

impl Link {
    /// Two connected in-memory ends: what one sends, the other receives.
    pub fn pipe() -> (Link, Link) {
        pipe::pair()
    }

    /// `pipe`, with each direction holding at most `packets` packets (at
    /// least 1) instead of [`LINK_QUEUE_LEN`]: a shorter queue drops sooner,
    /// and costs less to create (each slot is allocated up front).
    pub fn pipe_with_queue(packets: usize) -> (Link, Link) {
        pipe::pair_with_queue(packets.max(1))
    }

    /// `pipe` as it is made when the process has no descriptors left for
    /// the eventfds of its bells: its stacks wait on the queues in their
    /// poll threads, and no read drives it. For tests of that path.
    #[cfg(feature = "fuzzing")]
    #[doc(hidden)]
    pub fn pipe_without_bells() -> (Link, Link) {
        pipe::pair_with_bells(LINK_QUEUE_LEN, false)
    }

    /// A Linux TUN device (IFF_TUN | IFF_NO_PI) named `name`, created in the
    /// calling thread's network namespace. Needs CAP_NET_ADMIN. The device goes
    /// away when the link is dropped.
    ///
    /// The device carries offloads (IFF_VNET_HDR, TUNSETOFFLOAD with checksum
    /// and TCP segmentation): TCP moves in segments of up to 64 KiB whatever
    /// the MTU, which the kernel cuts to the MTU only if it forwards them.
    pub fn tun(name: &str) -> io::Result<Link> {
        tun::open(name, true)
    }

    /// `tun`, without offloads: every packet the device carries fits its MTU
    /// and has its checksums written, as a plain TUN device's.
    pub fn tun_without_offloads(name: &str) -> io::Result<Link> {
        tun::open(name, false)
    }

    /// Whether the link takes checksum and segmentation offloads (a TUN
    /// link opened with them).
    pub fn offloads(&self) -> bool {
        match &self.tx {
            LinkTx::Tun(dev) => dev.offload(),
            LinkTx::Channel(..) => false,
        }
    }

    pub(crate) fn loopback() -> Link {
        loopback::new()
    }

    pub fn kind(&self) -> LinkKind {
        self.kind
    }

    /// The OS device behind a TUN link (its kernel name and ifindex).
    pub fn tun_info(&self) -> Option<TunInfo> {
        match &self.tx {
            LinkTx::Tun(dev) => Some(dev.info()),
            LinkTx::Channel(..) => None,
        }
    }

    /// Sends one packet. A full queue or a failed device write is counted
    /// (tx_drop, tx_errs) and reported, never a panic.
    pub fn send(&self, packet: &[u8]) -> io::Result<()> {
        self.send_frame(pool::copy_of(packet), VnetHdr::default(), false)
    }

    /// `send_owned`, except that a packet for a TUN device is put in `later`
    /// to be written once the stack's lock is released: the write runs the
    /// host kernel's receive path for it, which other threads need not wait on.
    pub(crate) fn send_or_defer(&self, packet: Packet, hdr: VnetHdr, later: &mut Vec<Deferred>) {
        match &self.tx {
            LinkTx::Tun(dev) => later.push(Deferred {
                dev: dev.clone(),
                counters: self.counters.clone(),
                packet,
                hdr,
            }),
            LinkTx::Channel(..) => {
                // A full queue is counted by the link.
                let _ = self.send_owned(packet, hdr);
            }
        }
    }

    /// Sends one packet from a stack's egress; `hdr` asks an offloading TUN
    /// device to complete its checksum or cut it into segments (other links
    /// carry none).
    pub(crate) fn send_owned(&self, packet: Packet, hdr: VnetHdr) -> io::Result<()> {
        self.send_frame(packet, hdr, true)
    }

    fn send_frame(&self, packet: Packet, hdr: VnetHdr, from_stack: bool) -> io::Result<()> {
        let len = packet.len() as u64;
        let result = match &self.tx {
            LinkTx::Channel(tx, bell) => match tx.try_send((packet, from_stack)) {
                Ok(()) => {
                    if let Some(bell) = bell {
                        bell.ring();
                    }
                    Ok(())
                }
                Err(TrySendError::Full((p, _))) => {
                    pool::recycle(p);
                    self.counters.add(|s| &mut s.tx_drop, 1);
                    return Err(io::Error::from_raw_os_error(libc::ENOBUFS));
                }
                Err(TrySendError::Disconnected(_)) => {
                    Err(io::Error::from_raw_os_error(libc::ENOTCONN))
                }
            },
            LinkTx::Tun(dev) => return write_tun(dev, &self.counters, packet, &hdr),
        };
        match result {
            Ok(()) => self.counters.count_tx(len),
            Err(_) => self.counters.add(|s| &mut s.tx_errs, 1),
        }
        result
    }

    /// Receives one packet, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Packet> {
        let packet = match &self.rx {
            LinkRx::Queue(rx, _) => rx.recv_timeout(timeout).ok()?.0,
            LinkRx::Tun(rx) => rx.recv_timeout(timeout, &self.counters)?.0,
        };
        self.counters.count_rx(packet.len() as u64);
        Some(packet)
    }

    /// Receives one packet if one is waiting, without waiting.
    pub fn try_recv(&self) -> Option<Packet> {
        self.recv_now().map(|(p, _)| p)
    }

    /// `try_recv`, with whether the link vouches for the packet's TCP or
    /// UDP checksum: an offloading TUN device's kernel may, and a queue
    /// link does for what another stack's egress sent.
    pub(crate) fn recv_now(&self) -> Option<(Packet, bool)> {
        let (packet, vouched) = match &self.rx {
            LinkRx::Queue(rx, _) => rx.try_recv().ok()?,
            LinkRx::Tun(rx) => rx.try_recv(&self.counters)?,
        };
        self.counters.count_rx(packet.len() as u64);
        Some((packet, vouched))
    }

    /// Whether a thread can wait for this link in ppoll(2) and read it
    /// without the stack's lock (`input`): a TUN device, or a pipe end with
    /// its bell.
    pub(crate) fn pollable(&self) -> bool {
        matches!(&self.rx, LinkRx::Tun(_) | LinkRx::Queue(_, Some(_)))
    }

    /// The fd a pollable link is waited on by, for a poll thread that waits
    /// in ppoll(2), switching a TUN link to that mode (`on`) or back.
    pub(crate) fn set_polled(&self, on: bool) -> Option<std::os::fd::RawFd> {
        match &self.rx {
            LinkRx::Tun(rx) => {
                rx.set_polled(on);
                Some(rx.fd())
            }
            LinkRx::Queue(_, bell) => bell.as_ref().map(|b| b.fd()),
        }
    }

    /// Whether packets wait in a queue that the stack's rounds read
    /// themselves (lo's, or a pipe's without a bell). Pollable links are
    /// read before the round (`input`) and say so by waking their waiter.
    pub(crate) fn has_queued(&self) -> bool {
        match &self.rx {
            LinkRx::Queue(rx, None) => !rx.is_empty(),
            LinkRx::Queue(_, Some(_)) | LinkRx::Tun(_) => false,
        }
    }

    /// For a pollable link: a reader that needs no lock on the stack, for
    /// the poll thread, or a call that drives the links, to read it before
    /// taking the lock.
    pub(crate) fn input(&self) -> Option<Input> {
        let source = match &self.rx {
            LinkRx::Tun(rx) => Source::Tun(rx.clone()),
            LinkRx::Queue(rx, Some(bell)) => Source::Pipe(rx.clone(), bell.clone()),
            LinkRx::Queue(_, None) => return None,
        };
        Some(Input {
            kind: self.kind,
            source,
            counters: self.counters.clone(),
        })
    }

    /// A pipe end's queue and bell (tests of the bell).
    #[cfg(test)]
    pub(crate) fn pipe_input(&self) -> Option<(Receiver<Frame>, Arc<Bell>)> {
        match &self.rx {
            LinkRx::Queue(rx, Some(bell)) => Some((rx.clone(), bell.clone())),
            _ => None,
        }
    }

    pub(crate) fn waitable(&self) -> Waitable {
        match &self.rx {
            LinkRx::Queue(rx, _) => Waitable::Queue(rx.clone()),
            LinkRx::Tun(rx) => Waitable::Tun(rx.ready().clone()),
        }
    }

    /// This end's /proc/net/dev counters.
    pub fn stats(&self) -> DevStats {
        self.counters.snapshot()
    }

    pub(crate) fn counters(&self) -> &LinkCounters {
        &self.counters
    }
}

/// A packet held for a TUN device until the stack's lock is released
/// (`Link::send_or_defer`).
pub(crate) struct Deferred {
    dev: Arc<tun::TunDevice>,
    counters: Arc<LinkCounters>,
    packet: Packet,
    hdr: VnetHdr,
}

impl Deferred {
    /// Writes it; a failed write is counted (tx_errs), as `Link::send` counts.
    pub(crate) fn write(self) {
        let _ = write_tun(&self.dev, &self.counters, self.packet, &self.hdr);
    }
}

fn write_tun(
    dev: &tun::TunDevice,
    counters: &LinkCounters,
    packet: Packet,
    hdr: &VnetHdr,
) -> io::Result<()> {
    let len = packet.len() as u64;
    let result = dev.write(&packet, hdr);
    pool::recycle(packet);
    match result {
        Ok(()) => counters.count_tx(len),
        Err(_) => counters.add(|s| &mut s.tx_errs, 1),
    }
    result
}

/// Reads a pollable link as `Link::try_recv` does, without the stack's lock.
/// The poll thread holds one per such link while it waits in ppoll(2), and
/// drops it before it takes up a new set of links (so a removed device goes).
pub(crate) struct Input {
    kind: LinkKind,
    source: Source,
    counters: Arc<LinkCounters>,
}

enum Source {
    Tun(Arc<tun::TunRx>),
    Pipe(Receiver<Frame>, Arc<Bell>),
}

impl Input {
    /// As `Link::recv_now`.
    pub(crate) fn try_recv(&self) -> Option<(Packet, bool)> {
        let (packet, vouched) = match &self.source {
            Source::Tun(rx) => rx.try_recv(&self.counters)?,
            Source::Pipe(rx, _) => rx.try_recv().ok()?,
        };
        self.counters.count_rx(packet.len() as u64);
        Some((packet, vouched))
    }

    /// Before a sleep in ppoll(2) on the link's fd: a pipe's bell is armed
    /// (`Bell::arm`). Returns whether packets wait already, so that the
    /// sleep must not begin. `disarm` follows either way. (A TUN device's
    /// fd is readable for as long as it holds packets.)
    pub(crate) fn arm(&self) -> bool {
        match &self.source {
            Source::Tun(_) => false,
            Source::Pipe(rx, bell) => bell.arm(rx),
        }
    }

    pub(crate) fn kind(&self) -> LinkKind {
        self.kind
    }

    pub(crate) fn is_pipe(&self) -> bool {
        matches!(self.source, Source::Pipe(..))
    }

    /// Whether a pipe holds packets (a TUN device: false; its fd says).
    pub(crate) fn queued(&self) -> bool {
        match &self.source {
            Source::Tun(_) => false,
            Source::Pipe(rx, _) => !rx.is_empty(),
        }
    }

    /// After the sleep (`slept`), or instead of it.
    pub(crate) fn disarm(&self, slept: bool) {
        if let Source::Pipe(_, bell) = &self.source {
            bell.disarm(slept);
        }
    }
}
