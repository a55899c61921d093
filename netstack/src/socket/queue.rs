//! A datagram socket's receive queue: whole datagrams in arrival order, their
//! payloads back to back in one ring of bytes. Queueing a datagram copies its
//! payload into the ring, and reading it copies it out, so the steady path
//! allocates nothing per datagram: the ring and the list of entries grow to
//! the most the queue has held (bounded by the socket's limit), and give
//! back what is past `KEPT_BYTES` and `KEPT_ENTRIES` when the queue empties,
//! so a socket flooded once does not hold a flood's memory for good. They
//! grow by doubling, as a `Vec` does, but here explicitly, so that what a
//! datagram will cost the allocator is known before it is queued
//! (`growth_for`): the stack's buffer budget is charged with what the queue
//! holds from the allocator (`footprint`), not with its payload alone.

use std::collections::VecDeque;
use std::net::SocketAddr;

/// Ring capacity an empty queue keeps: enough for a burst of some twenty
/// 1500-byte datagrams without growing again. It stays charged to the
/// stack's buffer budget.
const KEPT_BYTES: usize = 32 << 10;
/// Entries an empty queue keeps room for.
const KEPT_ENTRIES: usize = 256;

/// One queued datagram, its payload aside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The sender, as the socket reports it (IPv4 mapped for AF_INET6 sockets).
    pub from: SocketAddr,
    /// The TTL or hop limit it arrived with (IP_RECVTTL, IPV6_RECVHOPLIMIT).
    pub ttl: u8,
    /// Payload bytes.
    pub len: usize,
}

#[derive(Default)]
pub(crate) struct DatagramQueue {
    entries: VecDeque<Entry>,
    bytes: VecDeque<u8>,
}

impl DatagramQueue {
    /// Datagrams queued.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Payload bytes queued.
    pub fn bytes(&self) -> usize {
        self.bytes.len()
    }

    /// Bytes the queue holds from the allocator: the ring's capacity and the
    /// list of entries', whatever they hold now.
    pub fn footprint(&self) -> usize {
        self.bytes.capacity() + self.entries.capacity() * std::mem::size_of::<Entry>()
    }

    /// How much `footprint` grows if a datagram of `payload` bytes is queued.
    pub fn growth_for(&self, payload: usize) -> usize {
        let ring = grown(self.bytes.capacity(), self.bytes.len() + payload) - self.bytes.capacity();
        let list = grown(self.entries.capacity(), self.entries.len() + 1) - self.entries.capacity();
        ring + list * std::mem::size_of::<Entry>()
    }

    pub fn push(&mut self, from: SocketAddr, ttl: u8, payload: &[u8]) {
        let ring = grown(self.bytes.capacity(), self.bytes.len() + payload.len());
        self.bytes.reserve_exact(ring - self.bytes.len());
        let list = grown(self.entries.capacity(), self.entries.len() + 1);
        self.entries.reserve_exact(list - self.entries.len());
        self.bytes.extend(payload);
        self.entries.push_back(Entry {
            from,
            ttl,
            len: payload.len(),
        });
    }

    /// Copies the first datagram's payload into `buf` (as much as fits)
    /// and leaves it queued. Returns it and the bytes copied.
    pub fn peek_into(&self, buf: &mut [u8]) -> Option<(Entry, usize)> {
        let entry = *self.entries.front()?;
        let n = entry.len.min(buf.len());
        let (a, b) = self.bytes.as_slices();
        let from_a = n.min(a.len());
        buf[..from_a].copy_from_slice(&a[..from_a]);
        buf[from_a..n].copy_from_slice(&b[..n - from_a]);
        Some((entry, n))
    }

    /// As `peek_into`, and takes the datagram off the queue: what did not
    /// fit in `buf` is discarded.
    pub fn pop_into(&mut self, buf: &mut [u8]) -> Option<(Entry, usize)> {
        let (entry, n) = self.peek_into(buf)?;
        self.entries.pop_front();
        self.bytes.drain(..entry.len);
        if self.entries.is_empty() {
            self.bytes.shrink_to(KEPT_BYTES);
            self.entries.shrink_to(KEPT_ENTRIES);
        }
        Some((entry, n))
    }
}

/// The capacity a buffer of `capacity` grows to when it must hold `needed`:
/// itself if it does; else twice itself, or `needed` if that is more, and at
/// least 64.
fn grown(capacity: usize, needed: usize) -> usize {
    if needed <= capacity {
        capacity
    } else {
        needed.max(2 * capacity).max(64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(port: u16) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 1], port))
    }

    #[test]
    fn datagrams_come_out_whole_and_in_order_across_the_rings_end() {
        let mut q = DatagramQueue::default();
        let mut buf = [0u8; 300];
        // Lengths that do not divide the ring's capacity, so that payloads
        // wrap around its end.
        for round in 0..200usize {
            let len = (round * 37) % 251;
            let a: Vec<u8> = (0..len).map(|i| (i + round) as u8).collect();
            let b: Vec<u8> = (0..len / 2).map(|i| (i * 3 + round) as u8).collect();
            q.push(from(1), 64, &a);
            q.push(from(2), 63, &b);
            assert_eq!((q.len(), q.bytes()), (2, a.len() + b.len()));
            let (e, n) = q.peek_into(&mut buf).unwrap();
            assert_eq!(
                (e, n),
                (
                    Entry {
                        from: from(1),
                        ttl: 64,
                        len
                    },
                    len
                )
            );
            assert_eq!(buf[..n], a[..]);
            assert_eq!(q.pop_into(&mut buf).unwrap().1, len);
            assert_eq!(buf[..len], a[..]);
            let (e, n) = q.pop_into(&mut buf).unwrap();
            assert_eq!((e.from, e.ttl, n), (from(2), 63, b.len()));
            assert_eq!(buf[..n], b[..]);
            assert!(q.is_empty());
            assert_eq!(q.bytes(), 0);
        }
        assert!(q.pop_into(&mut buf).is_none());
    }

    #[test]
    fn a_datagram_longer_than_the_buffer_is_cut_and_its_rest_discarded() {
        let mut q = DatagramQueue::default();
        q.push(from(1), 64, &[1; 100]);
        q.push(from(2), 64, &[2; 10]);
        let mut small = [0u8; 30];
        assert_eq!(q.peek_into(&mut small).unwrap().1, 30);
        let (e, n) = q.pop_into(&mut small).unwrap();
        assert_eq!((e.len, n), (100, 30));
        assert_eq!(small, [1; 30]);
        let (e, n) = q.pop_into(&mut small).unwrap();
        assert_eq!((e.from, n), (from(2), 10));
        assert_eq!(small[..10], [2; 10]);
    }

    #[test]
    fn empty_datagrams_are_datagrams() {
        let mut q = DatagramQueue::default();
        q.push(from(1), 1, &[]);
        assert_eq!((q.len(), q.bytes()), (1, 0));
        assert_eq!(q.pop_into(&mut []).unwrap().1, 0);
        assert!(q.is_empty());
    }

    #[test]
    fn the_growth_foretold_is_the_growth_made() {
        let mut q = DatagramQueue::default();
        for i in 0..3000usize {
            let payload = vec![0u8; (i * 97) % 1500];
            let (before, growth) = (q.footprint(), q.growth_for(payload.len()));
            q.push(from(1), 64, &payload);
            assert_eq!(q.footprint(), before + growth, "datagram {i}");
            if i % 3 == 0 {
                q.pop_into(&mut [0u8; 1500]);
            }
        }
    }

    #[test]
    fn an_emptied_queue_gives_back_a_floods_memory() {
        let mut q = DatagramQueue::default();
        for _ in 0..4000 {
            q.push(from(1), 64, &[0; 1000]);
        }
        let mut buf = [0u8; 1000];
        while q.pop_into(&mut buf).is_some() {}
        assert!(
            q.bytes.capacity() <= 2 * KEPT_BYTES,
            "{}",
            q.bytes.capacity()
        );
        assert!(q.entries.capacity() <= 2 * KEPT_ENTRIES);
    }
}
