//! Keeps each connection's advertised receive window from shrinking.
//!
//! smoltcp puts its free receive space, shifted right by the window scale,
//! in every ACK, so the right edge it announces is the end of its buffer
//! rounded down by `free mod 2^scale` bytes. Data arriving changes that
//! remainder, and the edge can move left by up to `2^scale - 1` bytes: the
//! window shrinks, which RFC 9293 tells receivers not to do (SHLD-14) and
//! Linux never does. smoltcp then trims a segment that the sender was
//! entitled to send up to the edge announced before, and the few bytes it
//! drops leave a hole that only the retransmission timer repairs, a second
//! later. Two stacks moving data both ways with 256 KiB buffers (scale 3)
//! stalled so in most runs (docs/PERFORMANCE.md).
//!
//! The cure, without changing smoltcp: after ingress and before smoltcp
//! writes its ACKs, every connection whose receive queue is not a whole
//! number of scale units hands the bytes at the head of that queue to a small
//! carry of its own. The queue smoltcp holds is then whole units, and so is
//! its free space (the capacity is whole units too, see `recv_capacity`), and
//! the edge it announces is exactly the head of its queue plus its capacity,
//! which only ever moves right. Reads take the carry first.

use super::set::{SocketHandle, Sockets};
use smoltcp::socket::{tcp, Socket};
use std::collections::{HashMap, VecDeque};

/// The window scale smoltcp derives from a receive buffer's capacity.
fn window_shift(capacity: usize) -> u32 {
    (usize::BITS - capacity.leading_zeros()).saturating_sub(16)
}

/// The receive buffer a connection gets for the requested size: rounded
/// down to whole scale units. Rounding down never changes the scale.
pub(crate) fn recv_capacity(requested: usize) -> usize {
    let unit = 1usize << window_shift(requested);
    requested - requested % unit
}

/// The most bytes one connection's carry holds. An alignment moves less than
/// one unit, and a reader that lets its window close sees about one per
/// segment, so 1/64 of the buffer covers segments down to 64 units (512 bytes
/// at 256 KiB). Past it alignment waits for the program to read, and smoltcp
/// rounds as it would alone. Unscaled buffers never need a carry.
pub(crate) fn carry_limit(recv_capacity: usize) -> usize {
    if window_shift(recv_capacity) == 0 {
        0
    } else {
        recv_capacity / 64
    }
}

/// The carries of the connections that have one, by smoltcp handle.
#[derive(Default)]
pub(crate) struct Carries(HashMap<SocketHandle, VecDeque<u8>>);

impl Carries {
    /// Moves the part of each TCP receive queue that is not whole units into
    /// that connection's carry. Runs between smoltcp's ingress and egress.
    pub fn align(&mut self, sockets: &mut Sockets) {
        let (set, handles) = sockets.smoltcp_and_handles();
        for (smol, socket) in set.iter_mut() {
            let Socket::Tcp(s) = socket else {
                continue;
            };
            let capacity = s.recv_capacity();
            let unit = 1usize << window_shift(capacity);
            let mut extra = s.recv_queue() % unit;
            if extra == 0 {
                continue;
            }
            let limit = carry_limit(capacity);
            let Some(handle) = handles.get(&smol).map(|e| e.handle) else {
                continue;
            };
            let carry = self
                .0
                .entry(handle)
                .or_insert_with(|| VecDeque::with_capacity(limit));
            if carry.len() + extra > limit {
                continue;
            }
            // The queue may wrap in smoltcp's ring: at most two slices.
            while extra > 0 {
                let moved = s.recv(|data| {
                    let n = data.len().min(extra);
                    carry.extend(&data[..n]);
                    (n, n)
                });
                match moved {
                    Ok(n) if n > 0 => extra -= n,
                    _ => break,
                }
            }
        }
    }

    /// Bytes carried for `handle`: received, acknowledged, not yet read.
    pub fn len(&self, handle: SocketHandle) -> usize {
        self.0.get(&handle).map_or(0, VecDeque::len)
    }

    /// Reads carried bytes into `buf`; they come before smoltcp's queue.
    pub fn read(&mut self, handle: SocketHandle, buf: &mut [u8]) -> usize {
        let Some(carry) = self.0.get_mut(&handle) else {
            return 0;
        };
        let n = buf.len().min(carry.len());
        for (dst, src) in buf.iter_mut().zip(carry.drain(..n)) {
            *dst = src;
        }
        n
    }

    /// Forgets a connection's carry (its socket is closed or gone).
    pub fn remove(&mut self, handle: SocketHandle) {
        self.0.remove(&handle);
    }
}

/// Reads from a connection: its carry, then smoltcp's queue.
pub(crate) fn recv(
    carries: &mut Carries,
    handle: SocketHandle,
    sock: &mut tcp::Socket<'_>,
    buf: &mut [u8],
) -> Result<usize, tcp::RecvError> {
    let carried = carries.read(handle, buf);
    if carried == buf.len() || !sock.can_recv() {
        return Ok(carried);
    }
    Ok(carried + sock.recv_slice(&mut buf[carried..])?)
}

/// Reads from a connection in place: `take` gets the bytes at the head of
/// its stream that lie contiguous (the carry's first part if it holds any,
/// else smoltcp's queue's) and consumes as many as it returns.
pub(crate) fn recv_with(
    carries: &mut Carries,
    handle: SocketHandle,
    sock: &mut tcp::Socket<'_>,
    take: impl FnOnce(&[u8]) -> usize,
) -> Result<usize, tcp::RecvError> {
    if let Some(carry) = carries.0.get_mut(&handle).filter(|c| !c.is_empty()) {
        let head = carry.as_slices().0;
        let n = take(head).min(head.len());
        carry.drain(..n);
        return Ok(n);
    }
    sock.recv(|data| {
        let n = take(data).min(data.len());
        (n, n)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_is_whole_units_of_the_same_scale() {
        for requested in [1, 4096, 65535, 65536, 100_000, 131_072, 262_143, 1 << 30] {
            let cap = recv_capacity(requested);
            assert_eq!(window_shift(cap), window_shift(requested), "{requested}");
            assert_eq!(cap % (1 << window_shift(cap)), 0, "{requested}");
            assert!(cap <= requested && requested - cap < 1 << window_shift(requested));
        }
        assert_eq!(window_shift(65535), 0);
        assert_eq!(window_shift(131_072), 2);
        assert_eq!(window_shift(262_144), 3);
        assert_eq!(carry_limit(65535), 0);
        assert_eq!(carry_limit(262_144), 4096);
    }
}
