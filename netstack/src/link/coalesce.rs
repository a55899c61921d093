//! TCP segmentation offload on the way out: consecutive segments of one
//! connection that a poll round emits for an offloading TUN device are
//! written as one GSO packet, which the host kernel delivers whole to a
//! local socket (or cuts back into the same segments if it forwards it).
//!
//! smoltcp still emits segments of the peer's MSS, so the peer's MSS, the
//! ACK rules that depend on it and Nagle's algorithm are all as without
//! offloads; what is saved is the device write and the kernel's receive
//! path per segment, which cost more than anything else at a 1500-byte MTU.
//! Segments merge only when nothing but their lengths, sequence numbers,
//! IPv4 identification, checksums and PSH/FIN differ, each follows the last
//! byte of the one before, and all but the last are full (`gso_size`).

use super::vnet::{self, VnetHdr};
use super::{pool, Deferred, Packet};
use crate::wire;

/// At most this many connections' merges are open at once; one more
/// writes the oldest.
const OPEN_MAX: usize = 64;
/// The largest merged IP packet (IPv4's total length is 16 bits).
const MERGED_MAX: usize = 65_535;
const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const URG: u8 = 0x20;
const ECE: u8 = 0x40;
const CWR: u8 = 0x80;

/// Where packets go: a device that may take offloads.
pub(crate) trait Target {
    fn same(&self, other: &Self) -> bool;
    fn offloads(&self) -> bool;
}

impl Target for Deferred {
    fn same(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.dev, &other.dev)
    }

    fn offloads(&self) -> bool {
        self.dev.offload()
    }
}

/// Merges the TUN packets of a round; keeps its buffers between rounds.
pub(crate) struct Coalescer<T> {
    open: Vec<Merge<T>>,
}

impl<T> Default for Coalescer<T> {
    fn default() -> Self {
        Coalescer { open: Vec::new() }
    }
}

/// One connection's segments so far.
struct Merge<T> {
    to: T,
    /// The first segment, then (once a second joins) all of them.
    packet: Packet,
    hdr: VnetHdr,
    seg: Segment,
    /// Payload bytes of the first segment: every other but the last has as many.
    per: usize,
    next_seq: u32,
    segments: usize,
    /// The last segment was short, or carried FIN: nothing may follow.
    closed: bool,
}

/// Where a TCP segment's parts lie.
#[derive(Clone, Copy)]
struct Segment {
    v4: bool,
    /// Offset of the TCP header.
    tcp: usize,
    /// IP and TCP headers together.
    headers: usize,
}

impl Segment {
    /// A segment that may merge: TCP over IPv4 without options or IPv6
    /// without extension headers, carrying data, without SYN, RST, URG or
    /// ECN flags, whose pseudo-header checksum the device completes.
    fn of(p: &[u8], hdr: &VnetHdr) -> Option<Segment> {
        if hdr.flags != vnet::F_NEEDS_CSUM || hdr.gso_type != vnet::GSO_NONE {
            return None;
        }
        let (v4, tcp) = match p.first()? >> 4 {
            4 if p.len() >= 40 && p[0] & 0x0f == 5 && p[9] == wire::PROTO_TCP => (true, 20),
            6 if p.len() >= 60 && p[6] == wire::PROTO_TCP => (false, 40),
            _ => return None,
        };
        if v4 && u16::from_be_bytes([p[6], p[7]]) & 0x3fff != 0 {
            return None;
        }
        let headers = tcp + usize::from(p[tcp + 12] >> 4) * 4;
        let flags = p[tcp + 13];
        if headers < tcp + 20 || headers >= p.len() || flags & (SYN | RST | URG | ECE | CWR) != 0 {
            return None;
        }
        Some(Segment { v4, tcp, headers })
    }

    fn seq(&self, p: &[u8]) -> u32 {
        let t = self.tcp;
        u32::from_be_bytes([p[t + 4], p[t + 5], p[t + 6], p[t + 7]])
    }

    /// Whether two segments' headers agree but for what merging rewrites.
    fn same_headers(&self, a: &[u8], b: &[u8]) -> bool {
        let ip = if self.v4 {
            a[..2] == b[..2] && a[6..10] == b[6..10] && a[12..20] == b[12..20]
        } else {
            a[..4] == b[..4] && a[6..40] == b[6..40]
        };
        let t = self.tcp;
        ip && a[t..t + 4] == b[t..t + 4]
            && a[t + 8..t + 13] == b[t + 8..t + 13]
            && a[t + 13] & !(PSH | FIN) == b[t + 13] & !(PSH | FIN)
            && a[t + 14..t + 16] == b[t + 14..t + 16]
            && a[t + 18..self.headers] == b[t + 18..self.headers]
    }

    /// The same connection (addresses and ports), whatever else differs.
    fn same_flow(a: &[u8], b: &[u8]) -> bool {
        let flow = |p: &[u8]| -> Option<(bool, usize)> {
            match p.first()? >> 4 {
                4 if p.len() >= 24 && p[9] == wire::PROTO_TCP => {
                    Some((true, usize::from(p[0] & 0x0f) * 4))
                }
                6 if p.len() >= 44 && p[6] == wire::PROTO_TCP => Some((false, 40)),
                _ => None,
            }
        };
        match (flow(a), flow(b)) {
            (Some((true, ta)), Some((true, tb))) => {
                a.len() >= ta + 4
                    && b.len() >= tb + 4
                    && a[12..20] == b[12..20]
                    && a[ta..ta + 4] == b[tb..tb + 4]
            }
            (Some((false, _)), Some((false, _))) => a[8..44] == b[8..44],
            _ => false,
        }
    }
}

impl Coalescer<Deferred> {
    /// Writes `out` (emptied) to its devices, merging what may merge.
    pub(crate) fn write_all(&mut self, out: &mut Vec<Deferred>) {
        let items = out.drain(..).map(|mut d| {
            let packet = std::mem::take(&mut d.packet);
            let hdr = d.hdr;
            (d, packet, hdr)
        });
        self.run(items, |mut d, packet, hdr| {
            d.packet = packet;
            d.hdr = hdr;
            d.write();
        });
    }
}

impl<T: Target> Coalescer<T> {
    /// Hands each packet of `items` to `emit`, in order, except that the
    /// segments of a connection that merge go as one packet once its next
    /// packet cannot join them (or at the end). A packet that cannot merge
    /// still goes after the merged segments of its own connection, so that
    /// no connection's packets are reordered.
    pub(crate) fn run(
        &mut self,
        items: impl Iterator<Item = (T, Packet, VnetHdr)>,
        mut emit: impl FnMut(T, Packet, VnetHdr),
    ) {
        for (to, packet, hdr) in items {
            let seg = to.offloads().then(|| Segment::of(&packet, &hdr)).flatten();
            let at = self
                .open
                .iter()
                .position(|m| m.to.same(&to) && Segment::same_flow(&m.packet, &packet));
            match (seg, at) {
                (Some(seg), Some(i)) if self.open[i].takes(&seg, &packet) => {
                    self.open[i].append(&seg, packet);
                }
                (seg, at) => {
                    if let Some(i) = at {
                        self.open.remove(i).emit(&mut emit);
                    }
                    match seg {
                        Some(seg) => {
                            if self.open.len() >= OPEN_MAX {
                                self.open.remove(0).emit(&mut emit);
                            }
                            self.open.push(Merge::start(to, packet, hdr, seg));
                        }
                        None => emit(to, packet, hdr),
                    }
                }
            }
        }
        for m in self.open.drain(..) {
            m.emit(&mut emit);
        }
    }
}

impl<T> Merge<T> {
    fn start(to: T, packet: Packet, hdr: VnetHdr, seg: Segment) -> Merge<T> {
        let per = packet.len() - seg.headers;
        let flags = packet[seg.tcp + 13];
        Merge {
            next_seq: seg.seq(&packet).wrapping_add(per as u32),
            closed: flags & FIN != 0,
            to,
            packet,
            hdr,
            seg,
            per,
            segments: 1,
        }
    }

    fn takes(&self, seg: &Segment, p: &[u8]) -> bool {
        let data = p.len() - seg.headers;
        !self.closed
            && seg.v4 == self.seg.v4
            && seg.headers == self.seg.headers
            && data <= self.per
            && self.packet.len() + data <= MERGED_MAX
            && seg.seq(p) == self.next_seq
            && self.seg.same_headers(&self.packet, p)
    }

    fn append(&mut self, seg: &Segment, p: Packet) {
        if self.segments == 1 {
            let mut big = pool::empty(MERGED_MAX);
            big.extend_from_slice(&self.packet);
            pool::recycle(std::mem::replace(&mut self.packet, big));
        }
        let data = p.len() - seg.headers;
        let flags = p[seg.tcp + 13];
        self.packet.extend_from_slice(&p[seg.headers..]);
        // The last segment's PSH and FIN; the device clears them on the others.
        let t = self.seg.tcp + 13;
        self.packet[t] = (self.packet[t] & !(PSH | FIN)) | (flags & (PSH | FIN));
        self.next_seq = self.next_seq.wrapping_add(data as u32);
        self.closed = data < self.per || flags & FIN != 0;
        self.segments += 1;
        pool::recycle(p);
    }

    fn emit(mut self, emit: &mut impl FnMut(T, Packet, VnetHdr)) {
        if self.segments > 1 {
            let p = &mut self.packet;
            wire::set_ip_length(p, self.seg.v4);
            if let Some(v) = wire::view(p) {
                wire::fill_pseudo_checksum(p, &v);
            }
            self.hdr.gso_type = if self.seg.v4 {
                vnet::GSO_TCPV4
            } else {
                vnet::GSO_TCPV6
            };
            self.hdr.gso_size = self.per as u16;
            self.hdr.hdr_len = self.seg.headers as u16;
        }
        emit(self.to, self.packet, self.hdr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A device by number; device 9 takes no offloads.
    impl Target for u8 {
        fn same(&self, other: &Self) -> bool {
            self == other
        }

        fn offloads(&self) -> bool {
            *self != 9
        }
    }

    /// What egress hands an offloading device: an IPv4 TCP segment from
    /// 10.0.0.1:`sport` to 10.0.0.2:80 with ACK and `flags`, the pseudo
    /// checksum written and NEEDS_CSUM asked.
    fn seg(sport: u16, seq: u32, flags: u8, data: &[u8]) -> (Packet, VnetHdr) {
        let mut p = wire::testing::tcp_v4(sport, 80, seq, 0x10 | flags, data);
        let v = wire::view(&p).unwrap();
        let at = wire::fill_pseudo_checksum(&mut p, &v).unwrap();
        let hdr = VnetHdr {
            flags: vnet::F_NEEDS_CSUM,
            csum_start: 20,
            csum_offset: (at - 20) as u16,
            ..VnetHdr::default()
        };
        (p, hdr)
    }

    fn run(items: Vec<(u8, (Packet, VnetHdr))>) -> Vec<(u8, Packet, VnetHdr)> {
        let mut c = Coalescer::default();
        let mut out = Vec::new();
        c.run(items.into_iter().map(|(d, (p, h))| (d, p, h)), |d, p, h| {
            out.push((d, p, h))
        });
        out
    }

    fn seq_of(p: &[u8]) -> u32 {
        u32::from_be_bytes([p[24], p[25], p[26], p[27]])
    }

    #[test]
    fn consecutive_full_segments_go_as_one_gso_packet() {
        let out = run(vec![
            (1, seg(1000, 100, 0, &[1; 500])),
            (1, seg(1000, 600, 0, &[2; 500])),
            (1, seg(1000, 1100, PSH, &[3; 200])),
        ]);
        assert_eq!(out.len(), 1);
        let (_, p, h) = &out[0];
        assert_eq!(p.len(), 40 + 1200);
        assert_eq!(u16::from_be_bytes([p[2], p[3]]), 1240, "IP length");
        assert!(wire::plain_checksum_ok(&p[..20]), "IP checksum");
        assert_eq!(seq_of(p), 100);
        assert_eq!(p[33], 0x10 | PSH, "the last segment's PSH");
        assert_eq!(&p[40..540], &[1; 500][..]);
        assert_eq!(&p[1040..], &[3; 200][..]);
        assert_eq!(h.gso_type, vnet::GSO_TCPV4);
        assert_eq!((h.gso_size, h.hdr_len), (500, 40));
        assert_eq!(
            (h.flags, h.csum_start, h.csum_offset),
            (vnet::F_NEEDS_CSUM, 20, 16)
        );
        // The pseudo-header sum for the merged length, for the kernel to complete.
        let v = wire::view(p).unwrap();
        let mut expect = p.clone();
        wire::fill_pseudo_checksum(&mut expect, &v);
        assert_eq!(p[36..38], expect[36..38]);
        let (alone, _) = seg(1000, 100, 0, &[1; 500]);
        assert_ne!(p[36..38], alone[36..38], "not the first segment's sum");
    }

    #[test]
    fn what_cannot_merge_goes_alone_and_in_order() {
        let out = run(vec![
            (1, seg(1000, 100, 0, &[1; 500])),
            // A gap: a retransmission or a lost emit.
            (1, seg(1000, 700, 0, &[1; 500])),
            // After a short segment nothing more joins.
            (1, seg(1000, 1200, 0, &[1; 100])),
            (1, seg(1000, 1300, 0, &[1; 100])),
            // A pure ACK of the same connection flushes it first.
            (1, seg(1000, 1400, 0, &[])),
            // Another device, and one without offloads.
            (2, seg(1000, 1400, 0, &[1; 500])),
            (9, seg(1000, 1900, 0, &[1; 500])),
            (9, seg(1000, 2400, 0, &[1; 500])),
        ]);
        let seqs: Vec<(u8, u32, usize)> = out
            .iter()
            .map(|(d, p, _)| (*d, seq_of(p), p.len() - 40))
            .collect();
        assert_eq!(
            seqs,
            vec![
                (1, 100, 500),
                (1, 700, 600),
                (1, 1300, 100),
                (1, 1400, 0),
                (9, 1900, 500),
                (9, 2400, 500),
                (2, 1400, 500),
            ]
        );
        assert!(out.iter().all(
            |(_, _, h)| h.gso_type == vnet::GSO_NONE || (h.gso_size == 500 && h.hdr_len == 40)
        ));
    }

    #[test]
    fn connections_merge_apart_and_fin_ends_a_merge() {
        let out = run(vec![
            (1, seg(1000, 100, 0, &[1; 500])),
            (1, seg(2000, 900, 0, &[2; 500])),
            (1, seg(1000, 600, 0, &[1; 500])),
            (1, seg(2000, 1400, FIN, &[2; 500])),
            (1, seg(2000, 1901, 0, &[2; 500])),
        ]);
        let got: Vec<(u16, u32, usize, u8)> = out
            .iter()
            .map(|(_, p, _)| {
                (
                    u16::from_be_bytes([p[20], p[21]]),
                    seq_of(p),
                    p.len() - 40,
                    p[33],
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (2000, 900, 1000, 0x10 | FIN),
                (1000, 100, 1000, 0x10),
                (2000, 1901, 500, 0x10),
            ]
        );
    }

    #[test]
    fn a_merge_stops_short_of_64_kib() {
        let items = (0..50u32)
            .map(|i| (1, seg(1000, i * 1400, 0, &[0; 1400])))
            .collect();
        let out = run(items);
        assert!(out.iter().all(|(_, p, _)| p.len() <= MERGED_MAX));
        assert_eq!(
            out.iter().map(|(_, p, _)| p.len() - 40).sum::<usize>(),
            50 * 1400
        );
        assert_eq!(out.len(), 2);
    }
}
