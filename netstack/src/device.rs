//! The smoltcp device of a stack. One smoltcp interface carries every address
//! of every NIC; this device hands it the packets the NICs accepted and
//! collects what it emits, which the stack then routes to a NIC by its own
//! table. That keeps routing (and `route_get`) in one place that behaves as
//! Linux does, instead of smoltcp's per-interface model.

use crate::fasthash::Seeded;
use crate::link::Packet;
use smoltcp::phy::{self, Checksum, ChecksumCapabilities, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use std::collections::hash_map::{Entry, HashMap};
use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};

/// Packets smoltcp may emit in one `poll` (replies to received packets aside).
pub(crate) const MAX_EGRESS_PER_POLL: usize = 1024;

/// Bytes of a packet compared to tell a repeat: IPv6's header and TCP's
/// with its longest options.
const HEADERS: usize = 40 + 60;

pub(crate) struct Router<'a> {
    pub ingress: &'a mut VecDeque<Packet>,
    pub egress: &'a mut Vec<Packet>,
    pub mtu: usize,
    /// What sockets emitted in this poll (replies to received packets
    /// aside), to notice a socket repeating itself. Borrowed from the stack
    /// and emptied here, so that it is not allocated per poll.
    pub sent: &'a mut Repeats,
    /// A socket emitted a packet identical to one it emitted earlier in
    /// this poll: smoltcp is stuck wanting to send (see `transmit`).
    pub repeated: bool,
}

impl Router<'_> {
    pub fn new<'a>(
        ingress: &'a mut VecDeque<Packet>,
        egress: &'a mut Vec<Packet>,
        sent: &'a mut Repeats,
        mtu: usize,
    ) -> Router<'a> {
        sent.clear();
        Router {
            ingress,
            egress,
            mtu,
            sent,
            repeated: false,
        }
    }
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
        Some((
            RxToken(packet),
            TxToken {
                egress: self.egress,
                sent: None,
            },
        ))
    }

    fn transmit(&mut self, _now: Instant) -> Option<TxToken<'_>> {
        // A real NIC's transmit ring is finite, and smoltcp relies on that:
        // its poll dispatches every socket again for as long as any emitted
        // something, so a socket that keeps emitting would never let it
        // return. Past this many packets per poll, the device is exhausted
        // until the next round. It is exhausted at once when a socket
        // repeats a packet it sent in this poll: smoltcp then wants to send
        // on every dispatch without making progress (a FIN it will not put
        // in a zero window), and would fill the ring with copies.
        if self.repeated || self.egress.len() >= MAX_EGRESS_PER_POLL {
            return None;
        }
        Some(TxToken {
            egress: self.egress,
            sent: Some((&mut *self.sent, &mut self.repeated)),
        })
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
/// does), so smoltcp verifies none. It computes only the small ones (IPv4
/// header, ICMP): TCP and UDP checksums are written per NIC on output
/// (`egress`), where lo needs none and an offloading TUN device completes
/// them itself.
pub(crate) fn checksum_caps() -> ChecksumCapabilities {
    let mut c = ChecksumCapabilities::default();
    c.ipv4 = Checksum::Tx;
    c.udp = Checksum::None;
    c.tcp = Checksum::None;
    c.icmpv4 = Checksum::Tx;
    c.icmpv6 = Checksum::Tx;
    c
}

pub(crate) struct RxToken(Packet);

impl phy::RxToken for RxToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let r = f(&self.0);
        crate::link::pool::recycle(self.0);
        r
    }
}

/// The packets sockets emitted in one poll, by a keyed hash of their length
/// and headers, each with its place in the egress queue, where a match is
/// confirmed byte for byte: a false match would drop a packet.
pub(crate) struct Repeats {
    seed: Seeded,
    seen: HashMap<u64, usize, Seeded>,
}

impl Repeats {
    pub fn new(seed: u64) -> Repeats {
        let seed = Seeded::new(seed);
        Repeats {
            seed,
            seen: HashMap::with_hasher(seed),
        }
    }

    /// Forgets the packets of the last poll.
    fn clear(&mut self) {
        self.seen.clear();
    }

    /// Whether `packet` repeats one in `egress` noted before; if not, notes
    /// it as the next packet of `egress`.
    fn repeats(&mut self, packet: &[u8], egress: &[Packet]) -> bool {
        // The headers (IPv6 and TCP with options) and the length tell a
        // repeat; the payload need not be compared.
        let head = &packet[..packet.len().min(HEADERS)];
        let mut h = self.seed.build_hasher();
        h.write_usize(packet.len());
        h.write(head);
        match self.seen.entry(h.finish()) {
            Entry::Occupied(mut e) => {
                let same = egress
                    .get(*e.get())
                    .is_some_and(|p| p.len() == packet.len() && p.starts_with(head));
                if !same {
                    e.insert(egress.len());
                }
                same
            }
            Entry::Vacant(e) => {
                e.insert(egress.len());
                false
            }
        }
    }
}

pub(crate) struct TxToken<'a> {
    egress: &'a mut Vec<Packet>,
    /// For packets a socket sends on its own: what was sent in this poll,
    /// and where to note a repeat.
    sent: Option<(&'a mut Repeats, &'a mut bool)>,
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut packet = crate::link::pool::for_writing(len);
        let r = f(&mut packet);
        if let Some((sent, repeated)) = self.sent {
            if sent.repeats(&packet, self.egress) {
                // The copy goes nowhere; the one already queued is enough.
                *repeated = true;
                crate::link::pool::recycle(packet);
                return r;
            }
        }
        self.egress.push(packet);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smoltcp::phy::{Device, TxToken as _};

    fn emit(dev: &mut Router, byte: u8) -> bool {
        match dev.transmit(Instant::from_micros(0)) {
            Some(t) => {
                t.consume(4, |b| b.fill(byte));
                true
            }
            None => false,
        }
    }

    #[test]
    fn a_repeated_packet_exhausts_the_device_for_the_rest_of_the_poll() {
        let (mut ingress, mut egress) = (VecDeque::new(), Vec::new());
        let mut sent = Repeats::new(0);
        let mut dev = Router::new(&mut ingress, &mut egress, &mut sent, 1500);
        assert!(emit(&mut dev, 1) && emit(&mut dev, 2));
        assert!(emit(&mut dev, 1), "the token is given; its copy is dropped");
        assert!(dev.repeated);
        assert!(!emit(&mut dev, 3), "exhausted until the next poll");
        assert_eq!(egress, vec![vec![1; 4], vec![2; 4]]);
    }

    #[test]
    fn a_hash_match_is_a_repeat_only_if_the_bytes_match() {
        let mut r = Repeats::new(3);
        let egress = vec![vec![1u8; 40]];
        // As if [2; 40] hashed like the different packet queued at 0.
        let mut h = r.seed.build_hasher();
        h.write_usize(40);
        h.write(&[2u8; 40]);
        let key = h.finish();
        r.seen.insert(key, 0);
        assert!(!r.repeats(&[2u8; 40], &egress));
        assert_eq!(r.seen[&key], 1, "noted as the next packet instead");
    }

    #[test]
    fn replies_may_repeat_and_the_ring_is_finite() {
        let (mut ingress, mut egress) = (VecDeque::new(), Vec::new());
        ingress.extend([vec![0u8], vec![0u8]]);
        let mut sent = Repeats::new(0);
        let mut dev = Router::new(&mut ingress, &mut egress, &mut sent, 1500);
        // Two identical duplicate ACKs in reply to two segments are fine.
        for _ in 0..2 {
            let (_, tx) = dev.receive(Instant::from_micros(0)).unwrap();
            tx.consume(4, |b| b.fill(9));
        }
        assert!(!dev.repeated);
        let mut n = 0;
        while emit(&mut dev, 0) && n < 10 * MAX_EGRESS_PER_POLL {
            // Distinct packets: only the ring's size stops them.
            dev.sent.clear();
            n += 1;
        }
        assert_eq!(n, MAX_EGRESS_PER_POLL - 2);
    }
}
