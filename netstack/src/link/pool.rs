//! Packet buffers recycled across the process, so that the steady packet path
//! (smoltcp emits, a link carries, a stack consumes) does not allocate. A
//! buffer freed by one stack is reused by any other: a pipe moves buffers
//! from the sender's side to the receiver's, so per-stack pools would drain.
//!
//! Bounded: a pool holds at most its capacity of idle buffers, and the rest
//! are freed, so the memory it keeps is at most SMALL_IDLE * SMALL_CAPACITY +
//! LARGE_IDLE * LARGE_CAPACITY (8 MiB + 16 MiB) however many packets were ever
//! in flight.
//!
//! Last freed, first reused: the buffer a round has just emptied is still in
//! the cache, and the next device read writes into it instead of into one
//! that a queue would hand out after cycling through every idle buffer (up
//! to 16 MiB of them). With rounds that read at most `poll::RX_BATCH_BYTES`,
//! a bulk transfer's packets then stay in a core's cache from the device
//! read to the copy into the socket (docs/PERFORMANCE.md).

use super::Packet;
use std::sync::{Mutex, OnceLock};

/// Enough for a 1500-byte MTU packet; most links carry these.
const SMALL_CAPACITY: usize = 2048;
const SMALL_IDLE: usize = 4096;
/// IPv4's and IPv6's largest packet (64 KiB MTU links).
const LARGE_CAPACITY: usize = 65_535 + 40;
const LARGE_IDLE: usize = 256;

/// Idle buffers of one size, the most recently freed on top.
struct Class {
    idle: Mutex<Vec<Packet>>,
    limit: usize,
}

impl Class {
    fn new(limit: usize) -> Class {
        Class {
            // Never grown: recycling allocates nothing.
            idle: Mutex::new(Vec::with_capacity(limit)),
            limit,
        }
    }

    fn take(&self) -> Option<Packet> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    fn put(&self, packet: Packet) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < self.limit {
            idle.push(packet);
        }
    }
}

struct Pool {
    small: Class,
    large: Class,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        small: Class::new(SMALL_IDLE),
        large: Class::new(LARGE_IDLE),
    })
}

/// The head of a reused buffer that `for_writing` zeroes: more than any
/// headers smoltcp writes (IPv6, a hop-by-hop header, TCP with options, ICMP).
const ZEROED_HEAD: usize = 256;

/// A buffer that can hold `len` bytes without growing, as it was last used:
/// its length and bytes are those of the packet it last held.
fn reused(len: usize) -> Packet {
    let p = pool();
    let (class, capacity) = if len <= SMALL_CAPACITY {
        (&p.small, SMALL_CAPACITY)
    } else {
        (&p.large, LARGE_CAPACITY.max(len))
    };
    class.take().unwrap_or_else(|| Vec::with_capacity(capacity))
}

/// An empty buffer that can hold `len` bytes without growing.
pub(crate) fn empty(len: usize) -> Packet {
    let mut b = reused(len);
    b.clear();
    b
}

/// A packet of `len` bytes for smoltcp to write into. Its first
/// `ZEROED_HEAD` bytes are zero; past them are the bytes of the packet the
/// buffer last held, which smoltcp overwrites: everything it writes there is
/// payload, copied in whole. Zeroing all of it cost 6% of the poll thread's
/// time in bulk transfers at MTU 65535 (docs/PERFORMANCE.md).
pub(crate) fn for_writing(len: usize) -> Packet {
    let mut b = reused(len);
    b.truncate(len);
    let head = b.len().min(ZEROED_HEAD);
    b[..head].fill(0);
    b.resize(len, 0);
    b
}

/// A packet holding a copy of `bytes`.
pub(crate) fn copy_of(bytes: &[u8]) -> Packet {
    let mut b = empty(bytes.len());
    b.extend_from_slice(bytes);
    b
}

/// Returns a packet's buffer for reuse (or frees it when the pool is full).
pub(crate) fn recycle(packet: Packet) {
    let p = pool();
    let class = match packet.capacity() {
        c if c >= LARGE_CAPACITY => &p.large,
        c if (SMALL_CAPACITY..2 * SMALL_CAPACITY).contains(&c) => &p.small,
        // Odd sizes (a caller's own Vec) are not worth keeping.
        _ => return,
    };
    class.put(packet);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_with_their_capacity() {
        let a = for_writing(1500);
        assert_eq!(a.len(), 1500);
        assert!(a[..ZEROED_HEAD].iter().all(|&b| b == 0));
        let ptr = a.as_ptr();
        recycle(a);
        // Other tests share the pool: find ours among whatever it holds.
        let mut seen = Vec::new();
        let mut found = false;
        for _ in 0..SMALL_IDLE {
            let b = copy_of(&[1, 2, 3]);
            assert_eq!(b, [1, 2, 3]);
            found |= b.as_ptr() == ptr;
            seen.push(b);
            if found {
                break;
            }
        }
        assert!(found, "a recycled buffer is reused");
    }

    #[test]
    fn the_buffer_freed_last_is_reused_first_and_idle_ones_are_bounded() {
        // A class of its own: the process's pool is shared by parallel tests.
        let class = Class::new(2);
        let (a, b, c) = (copy_of(&[1]), copy_of(&[2]), copy_of(&[3]));
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        class.put(a);
        class.put(b);
        class.put(c); // past the limit: freed
        assert_eq!(class.take().map(|p| p.as_ptr()), Some(pb));
        assert_eq!(class.take().map(|p| p.as_ptr()), Some(pa));
        assert!(class.take().is_none());
    }

    #[test]
    fn large_packets_get_large_buffers() {
        let b = for_writing(60_000);
        assert_eq!(b.len(), 60_000);
        assert!(b.capacity() >= LARGE_CAPACITY);
        recycle(b);
        let odd = Vec::with_capacity(10);
        recycle(odd); // dropped, not pooled
    }

    #[test]
    fn a_reused_buffer_has_the_length_asked_and_a_zeroed_head() {
        for len in [0, 10, ZEROED_HEAD, 1400, SMALL_CAPACITY, 3000, 65_535] {
            // A dirty buffer of the class goes in first; other tests share
            // the pool, so whatever comes out must pass too.
            let mut dirty = empty(len);
            dirty.resize(dirty.capacity(), 0xee);
            recycle(dirty);
            let b = for_writing(len);
            assert_eq!(b.len(), len);
            assert!(b[..len.min(ZEROED_HEAD)].iter().all(|&x| x == 0), "{len}");
        }
    }
}
