//! The TUN link: the stack reads and writes the device directly (it is
//! non-blocking); a waker thread tells the poll thread when an empty device
//! has packets again. The OS calls live in `crate::os`.
//!
//! By default the device carries offloads (a virtio-net header per packet,
//! `vnet.rs`): the host kernel sends TCP as segments of up to 64 KiB whose
//! checksums it vouches for, and takes the same from the stack, so that a
//! 1500-byte MTU costs the stack no more per byte than a 64 KiB one.

use super::vnet::VnetHdr;
use super::{Link, LinkCounters, LinkKind, LinkRx, LinkTx, Packet};
use crate::os::tun::{MOVED_MAX, VNET_HDR_LEN};
use crate::os::{EventFd, Readiness};
use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Largest packet a TUN read can return (IPv4's and IPv6's 16-bit payload lengths).
const MAX_PACKET: usize = 65_535 + 40;

/// Small packets in a row after which the next is expected small too.
const SMALL_RUN: u32 = 8;

/// The kernel's view of the device behind a TUN link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TunInfo {
    /// The name the kernel gave it (a `%d` in the requested name is filled in).
    pub name: String,
    /// Its ifindex in the namespace it was created in.
    pub os_ifindex: u32,
}

pub(crate) struct TunDevice {
    fd: OwnedFd,
    info: TunInfo,
    /// Packets carry a virtio-net header, and the device takes offloads.
    offload: bool,
}

impl TunDevice {
    /// Writes one packet; `hdr` is what the kernel should do with it (on a
    /// device without offloads it must ask for nothing).
    pub(super) fn write(&self, packet: &[u8], hdr: &VnetHdr) -> io::Result<()> {
        let bytes = hdr.bytes();
        let head = if self.offload {
            Some(&bytes)
        } else if *hdr == VnetHdr::default() {
            None
        } else {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        };
        let n = crate::os::tun::write_packet(self.fd.as_raw_fd(), head, packet)?;
        if n == packet.len() {
            Ok(())
        } else {
            Err(io::Error::from_raw_os_error(libc::EIO))
        }
    }

    pub(super) fn info(&self) -> TunInfo {
        self.info.clone()
    }

    pub(super) fn offload(&self) -> bool {
        self.offload
    }
}

/// The receive side of a TUN link. The stack reads the device itself, in
/// its poll round, as many packets as are there: no thread hand-off per
/// packet. A waker thread only watches for readability while the device is
/// empty, signals `ready` once, and sleeps until the reader has drained the
/// device again (`rearm`).
pub(crate) struct TunRx {
    device: Arc<TunDevice>,
    ready: Receiver<()>,
    rearm: Sender<()>,
    /// The poll thread waits on the device fd itself (poll(2)): the waker
    /// thread is left parked, not rearmed.
    polled: AtomicBool,
    /// How many packets in a row, up to `SMALL_RUN`, were small enough to be
    /// read with their header and moved (`os::tun::MOVED_MAX`). After that
    /// many the next is read that way too; one large packet ends the run.
    /// (A bulk sender's segments come with small ones between them, a tail
    /// left by each write: guessing from the last packet alone would move
    /// the large one after each.)
    small_run: AtomicU32,
}

impl TunRx {
    pub(super) fn ready(&self) -> &Receiver<()> {
        &self.ready
    }

    pub(super) fn fd(&self) -> RawFd {
        self.device.fd.as_raw_fd()
    }

    /// Whether the poll thread waits on the fd itself. Leaving that mode
    /// rearms the waker, which then signals `ready` for the next packet.
    pub(super) fn set_polled(&self, on: bool) {
        if self.polled.swap(on, Ordering::Relaxed) == on {
            return;
        }
        if on {
            // The waker stays parked from now on; a signal it gave before is spent.
            let _ = self.ready.try_recv();
        } else {
            let _ = self.rearm.try_send(());
        }
    }

    /// The next packet, if the device holds one, and whether the kernel
    /// vouches for its TCP or UDP checksum. When it is empty, the waker is
    /// rearmed.
    pub(super) fn try_recv(&self, counters: &LinkCounters) -> Option<(Packet, bool)> {
        let polled = self.polled.load(Ordering::Relaxed);
        if !polled {
            // The readiness signal is spent by reading; reading to the end rearms it.
            let _ = self.ready.try_recv();
        }
        let run = self.small_run.load(Ordering::Relaxed);
        loop {
            // Straight into a pooled buffer that holds any packet: no copy.
            // The buffer is back in the pool by the end of the round (ingress
            // copies what it keeps), so its size costs little.
            let mut packet = super::pool::empty(MAX_PACKET);
            let mut hdr = [0; VNET_HDR_LEN];
            let head = self.device.offload.then_some(&mut hdr);
            match crate::os::tun::read_packet(self.fd(), head, &mut packet, run >= SMALL_RUN) {
                Ok(len) => {
                    let next = if len <= MOVED_MAX {
                        (run + 1).min(SMALL_RUN)
                    } else {
                        0
                    };
                    if next != run {
                        self.small_run.store(next, Ordering::Relaxed);
                    }
                    return Some((packet, VnetHdr::parse(&hdr).checksum_vouched()));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                    super::pool::recycle(packet);
                    continue;
                }
                Err(e) => {
                    super::pool::recycle(packet);
                    if e.kind() != io::ErrorKind::WouldBlock {
                        counters.add(|s| &mut s.rx_errs, 1);
                    }
                    if !polled {
                        let _ = self.rearm.try_send(());
                    }
                    return None;
                }
            }
        }
    }

    pub(super) fn recv_timeout(
        &self,
        timeout: Duration,
        counters: &LinkCounters,
    ) -> Option<(Packet, bool)> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(p) = self.try_recv(counters) {
                return Some(p);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            self.ready.recv_timeout(left).ok()?;
        }
    }
}

/// Stops and joins the waker thread when the link is dropped, so that the
/// device's fd is closed (and the device removed) by the time drop returns.
pub(super) struct TunReader {
    stop: Arc<EventFd>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for TunReader {
    fn drop(&mut self) {
        self.stop.signal();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub(super) fn open(name: &str, offload: bool) -> io::Result<Link> {
    // os::tun::open refuses a name the kernel would (EINVAL).
    let (fd, name) = crate::os::tun::open(name, offload)?;
    let info = TunInfo {
        os_ifindex: crate::os::if_nametoindex(&name)?,
        name,
    };
    let device = Arc::new(TunDevice { fd, info, offload });
    let counters = Arc::new(LinkCounters::default());
    let stop = Arc::new(EventFd::new()?);
    let (ready_tx, ready_rx) = bounded(1);
    let (rearm_tx, rearm_rx) = bounded(1);
    let thread = {
        let (device, stop) = (device.clone(), stop.clone());
        std::thread::Builder::new()
            .name(format!("sandnet-tun-{}", device.info.name))
            .spawn(move || wake_loop(&device, &stop, &ready_tx, &rearm_rx))?
    };
    Ok(Link {
        kind: LinkKind::Tun,
        rx: LinkRx::Tun(Arc::new(TunRx {
            device: device.clone(),
            ready: ready_rx,
            rearm: rearm_tx,
            polled: AtomicBool::new(false),
            small_run: AtomicU32::new(0),
        })),
        tx: LinkTx::Tun(device),
        counters,
        _reader: Some(TunReader {
            stop,
            thread: Some(thread),
        }),
    })
}

/// Until stopped (or the link is gone): wait for the device to hold a
/// packet, say so once, and wait for the stack to have read it empty.
fn wake_loop(device: &TunDevice, stop: &EventFd, ready: &Sender<()>, rearm: &Receiver<()>) {
    let fd = device.fd.as_raw_fd();
    loop {
        match crate::os::wait_readable(fd, stop.as_raw_fd()) {
            Ok(Readiness::Readable) => {}
            Ok(Readiness::Stop) | Err(_) => return,
        }
        if let Err(TrySendError::Disconnected(())) = ready.try_send(()) {
            return;
        }
        if rearm.recv().is_err() {
            return;
        }
    }
}
