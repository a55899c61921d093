//! The smoltcp device of a stack. One smoltcp interface carries every address
//! of every NIC; this device hands it the packets the NICs accepted and
//! collects what it emits, which the stack then routes to a NIC by its own
//! table. That keeps routing (and `route_get`) in one place that behaves as
//! Linux does, instead of smoltcp's per-interface model.

use crate::link::Packet;
use smoltcp::phy::{self, Checksum, ChecksumCapabilities, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use std::collections::VecDeque;

/// Packets smoltcp may emit in one `poll` (replies to received packets aside).
pub(crate) const MAX_EGRESS_PER_POLL: usize = 1024;

pub(crate) struct Router<'a> {
    pub ingress: &'a mut VecDeque<Packet>,
    pub egress: &'a mut Vec<Packet>,
    pub mtu: usize,
}

impl phy::Device for Router<'_> {
    type RxToken<'b>
        = RxToken
    where
        Self: 'b;
    type TxToken<'b>
        = TxToken<'b>
    where
        Self: 'b;

    fn receive(&mut self, _now: Instant) -> Option<(RxToken, TxToken<'_>)> {
        let packet = self.ingress.pop_front()?;
        Some((RxToken(packet), TxToken(self.egress)))
    }

    fn transmit(&mut self, _now: Instant) -> Option<TxToken<'_>> {
        // A real NIC's transmit ring is finite, and smoltcp relies on that:
        // its poll dispatches every socket again for as long as any emitted
        // something, so a socket that keeps emitting would never let it
        // return. Past this many packets per poll, the device is exhausted
        // until the next round.
        (self.egress.len() < MAX_EGRESS_PER_POLL).then_some(TxToken(self.egress))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = self.mtu;
        caps.checksum = checksum_caps();
        caps
    }
}

/// Ingress already verified every checksum (to count errors where Linux
/// does), so smoltcp only computes them on transmit.
pub(crate) fn checksum_caps() -> ChecksumCapabilities {
    let mut c = ChecksumCapabilities::default();
    c.ipv4 = Checksum::Tx;
    c.udp = Checksum::Tx;
    c.tcp = Checksum::Tx;
    c.icmpv4 = Checksum::Tx;
    c.icmpv6 = Checksum::Tx;
    c
}

pub(crate) struct RxToken(Packet);

impl phy::RxToken for RxToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

pub(crate) struct TxToken<'a>(&'a mut Vec<Packet>);

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut packet = vec![0u8; len];
        let r = f(&mut packet);
        self.0.push(packet);
        r
    }
}
