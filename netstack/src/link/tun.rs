//! The TUN link: a reader thread moves packets from the device into the link's
//! queue; writes go straight to the device. The OS calls live in `crate::os`.

use super::{Link, LinkCounters, LinkKind, LinkTx, Packet, LINK_QUEUE_LEN};
use crate::os::{EventFd, Readiness};
use crossbeam_channel::{bounded, Sender, TrySendError};
use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::thread::JoinHandle;
use tun_tap::{Iface, Mode};

/// Largest packet a TUN read can return (IPv4's and IPv6's 16-bit payload lengths).
const MAX_PACKET: usize = 65_535 + 40;

/// The kernel's view of the device behind a TUN link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TunInfo {
    /// The name the kernel gave it (a `%d` in the requested name is filled in).
    pub name: String,
    /// Its ifindex in the namespace it was created in.
    pub os_ifindex: u32,
}

pub(crate) struct TunDevice {
    iface: Iface,
    info: TunInfo,
}

impl TunDevice {
    pub(super) fn write(&self, packet: &[u8]) -> io::Result<()> {
        let n = self.iface.send(packet)?;
        if n == packet.len() {
            Ok(())
        } else {
            Err(io::Error::from_raw_os_error(libc::EIO))
        }
    }

    pub(super) fn info(&self) -> TunInfo {
        self.info.clone()
    }
}

/// Stops and joins the reader thread when the link is dropped, so that the
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

pub(super) fn open(name: &str) -> io::Result<Link> {
    if name.is_empty() || name.len() > 15 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let iface = Iface::without_packet_info(name, Mode::Tun)?;
    let info = TunInfo {
        name: iface.name().to_string(),
        os_ifindex: crate::os::if_nametoindex(iface.name())?,
    };
    crate::os::set_nonblocking(iface.as_raw_fd())?;
    let device = Arc::new(TunDevice { iface, info });
    let counters = Arc::new(LinkCounters::default());
    let stop = Arc::new(EventFd::new()?);
    let (tx, rx) = bounded(LINK_QUEUE_LEN);
    let thread = {
        let (device, counters, stop) = (device.clone(), counters.clone(), stop.clone());
        std::thread::Builder::new()
            .name(format!("sandnet-tun-{}", device.info.name))
            .spawn(move || read_loop(&device, &counters, &stop, &tx))?
    };
    Ok(Link {
        kind: LinkKind::Tun,
        rx,
        tx: LinkTx::Tun(device),
        counters,
        _reader: Some(TunReader {
            stop,
            thread: Some(thread),
        }),
    })
}

/// How many packets the reader takes in a row before it looks at the stop
/// signal again (a flood must not keep it from stopping).
const READ_BURST: usize = 64;

/// Reads until stopped. The descriptor is non-blocking: the reader drains
/// what the device holds and sleeps in poll(2) only when it is empty, so a
/// burst costs one read per packet, not a poll and a read. The receive
/// counters are taken by the stack when it takes a packet from the queue;
/// what the queue cannot hold is rx_fifo here.
fn read_loop(device: &TunDevice, counters: &LinkCounters, stop: &EventFd, tx: &Sender<Packet>) {
    let mut buf = vec![0u8; MAX_PACKET];
    let fd = device.iface.as_raw_fd();
    let mut burst = READ_BURST;
    loop {
        if burst == READ_BURST {
            burst = 0;
            match crate::os::wait_readable(fd, stop.as_raw_fd()) {
                Ok(Readiness::Stop) => return,
                Ok(Readiness::Readable) => {}
                Err(_) => return,
            }
        }
        let n = match device.iface.recv(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                burst = READ_BURST;
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => {
                counters.add(|s| &mut s.rx_errs, 1);
                burst = READ_BURST;
                continue;
            }
        };
        burst += 1;
        match tx.try_send(super::pool::copy_of(&buf[..n])) {
            Ok(()) => {}
            Err(TrySendError::Full(p)) => {
                super::pool::recycle(p);
                counters.add(|s| &mut s.rx_fifo, 1)
            }
            Err(TrySendError::Disconnected(_)) => return,
        }
    }
}
