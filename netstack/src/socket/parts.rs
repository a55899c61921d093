//! A connection's received bytes and free send space, offered part by part.
//!
//! Both are rings in smoltcp, and the head of the received stream may sit in
//! the connection's carry (carry.rs), so what a program can take at once lies
//! in up to three contiguous parts, and the space it can fill in two. Sinks,
//! sources, `read_with` and `write_with` offer the parts in turn, so that one
//! call, and so one hand-off between threads, moves all there is. Offered one
//! part per call, a reader in place made about one call in three for the few
//! bytes of a carry or the end of the ring (docs/PERFORMANCE.md).

use super::carry::{self, Carries};
use super::set::SocketHandle;
use smoltcp::socket::tcp;

/// What a closure did with the parts it was offered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Offered {
    /// Bytes it took (or filled).
    pub n: usize,
    /// It took less than a part it was offered: it is full (or, filling,
    /// has nothing more) for now, and was not offered the rest.
    pub short: bool,
}

/// Offers `take` the bytes at the head of the stream of connection `handle`
/// (its carry, then smoltcp's queue), part by part, until it takes less than
/// it is given or none are left. An error only if the first part fails.
pub(crate) fn recv_parts(
    carries: &mut Carries,
    handle: SocketHandle,
    sock: &mut tcp::Socket<'_>,
    mut take: impl FnMut(&[u8]) -> usize,
) -> Result<Offered, tcp::RecvError> {
    in_turn(|| {
        if !sock.can_recv() && carries.len(handle) == 0 {
            return None;
        }
        let mut offered = 0;
        let taken = carry::recv_with(carries, handle, sock, |data| {
            offered = data.len();
            take(data)
        });
        Some(taken.map(|n| (offered, n)))
    })
}

/// Offers `fill` the free space of a connection's send buffer, part by
/// part, until it fills less than it is given or the buffer is full; what
/// it fills is sent. An error only if the first part fails.
pub(crate) fn send_parts(
    sock: &mut tcp::Socket<'_>,
    mut fill: impl FnMut(&mut [u8]) -> usize,
) -> Result<Offered, tcp::SendError> {
    in_turn(|| {
        if !sock.can_send() {
            return None;
        }
        let mut offered = 0;
        let filled = sock.send(|free| {
            offered = free.len();
            let n = fill(free).min(free.len());
            (n, n)
        });
        Some(filled.map(|n| (offered, n)))
    })
}

/// Runs `part` while it has a part to offer (it returns None when it has
/// not) and the closure behind it took all of the last one; `part` returns
/// the size of the part it offered and what was taken of it.
fn in_turn<E>(mut part: impl FnMut() -> Option<Result<(usize, usize), E>>) -> Result<Offered, E> {
    let mut done = Offered::default();
    while let Some(result) = part() {
        let (offered, n) = match result {
            Ok(r) => r,
            Err(e) if done.n == 0 => return Err(e),
            Err(_) => break,
        };
        done.n += n;
        if n < offered || offered == 0 {
            done.short = n < offered;
            break;
        }
    }
    Ok(done)
}
