//! Reads and writes in place (`TcpStream::read_with`, `write_with`): the
//! program's closure fills the send buffer and consumes the receive buffer
//! where they are. Bytes arrive whole and in order across the rings' wraps,
//! whatever the closures take, and what a closure leaves is there for the
//! next read. One call moves all there is: its closure is offered the
//! parts of a wrapped ring (and a carry) in turn.

mod support;

use sandnet::netstack::{Limits, Stack, TcpListener, TcpStream};
use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::Duration;
use support::kernel::eventually;
use support::pair::{connected, pair, sa, A_V4};

/// The byte at stream offset `i`: a pattern that a lost, repeated or
/// reordered byte breaks.
fn byte(i: usize) -> u8 {
    (i % 251) as u8
}

const TOTAL: usize = 3 << 20;

#[test]
fn bytes_written_and_read_in_place_arrive_whole_and_in_order() {
    let (a, b) = pair();
    let listener = TcpListener::bind(&a, sa(A_V4, 9100)).unwrap();
    let writer = std::thread::spawn(move || {
        let c = TcpStream::connect(&b, sa(A_V4, 9100)).unwrap();
        let mut at = 0;
        let mut call = 0;
        while at < TOTAL {
            // Sizes that do not divide the ring, so that fills wrap.
            // A budget for the call, which may offer two slices.
            let limit = [1, 1000, 65_537, 300_000][call % 4];
            call += 1;
            let mut budget = limit;
            let n = c
                .write_with(|free| {
                    let n = free.len().min(budget).min(TOTAL - at);
                    budget -= n;
                    for (k, slot) in free[..n].iter_mut().enumerate() {
                        *slot = byte(at + k);
                    }
                    at += n;
                    n
                })
                .unwrap();
            assert!(n > 0 && n <= limit, "wrote {n} with a limit of {limit}");
        }
        c.shutdown(Shutdown::Write).unwrap();
        (b, c)
    });
    let (conn, _) = listener.accept().unwrap();
    let mut got = 0;
    let mut call = 0;
    loop {
        let limit = [7, 4096, 100_003, usize::MAX][call % 4];
        call += 1;
        let mut budget = limit;
        let n = conn
            .read_with(|data| {
                let n = data.len().min(budget);
                budget -= n;
                for (k, &v) in data[..n].iter().enumerate() {
                    assert_eq!(v, byte(got + k), "byte {}", got + k);
                }
                got += n;
                n
            })
            .unwrap();
        if n == 0 {
            break;
        }
        assert!(n <= limit, "took {n} with a limit of {limit}");
    }
    assert_eq!(got, TOTAL);
    let _ = writer.join().unwrap();
}

#[test]
fn what_a_reader_leaves_is_read_next() {
    let (a, b) = pair();
    let listener = TcpListener::bind(&a, sa(A_V4, 9101)).unwrap();
    let mut c = TcpStream::connect(&b, sa(A_V4, 9101)).unwrap();
    let (mut conn, _) = listener.accept().unwrap();
    c.write_all(b"hello, world").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut first = Vec::new();
    // Wait for all twelve bytes, then take five of them in place.
    let mut peeked = 0;
    while peeked < 12 {
        peeked = conn
            .read_with(|data| {
                if data.len() < 12 {
                    0
                } else {
                    first.extend_from_slice(&data[..5]);
                    5
                }
            })
            .unwrap();
        if peeked == 5 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(first, b"hello");
    let mut rest = String::new();
    conn.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, ", world");
    assert_eq!(conn.read_with(|d| d.len()).unwrap(), 0, "end of stream");
}

/// 256 KiB buffers each way, so that the tests know where the rings wrap.
const RING: usize = 256 << 10;

fn fixed_buffers(stack: &Stack) {
    stack
        .set_limits(Limits {
            tcp_recv_buffer: RING,
            tcp_send_buffer: RING,
            tcp_recv_buffer_max: 0,
            tcp_send_buffer_max: 0,
            ..stack.limits()
        })
        .unwrap();
}

/// The queues of the connection of `stack` on local port `port`:
/// (send, receive).
fn queues(stack: &Stack, port: u16) -> (u32, u32) {
    stack
        .sockets()
        .iter()
        .find(|s| s.local.port() == port && s.remote.port() != 0)
        .map_or((u32::MAX, u32::MAX), |s| (s.tx_queue, s.rx_queue))
}

#[test]
fn one_read_in_place_takes_the_whole_queue_across_the_wrap() {
    let (a, b) = pair();
    fixed_buffers(&a);
    let (conn, mut c) = connected(&a, &b, 9102);
    // Odd sizes: the head of the ring moves off its start and off the
    // window's scale units (a carry), and the second batch wraps.
    let (first, second) = (150_001, 200_003);
    let data: Vec<u8> = (0..first + second).map(byte).collect();
    c.write_all(&data[..first]).unwrap();
    // Where the next byte taken is in the stream.
    let got = std::cell::Cell::new(0);
    let take = |part: &[u8]| {
        let at = got.get();
        assert!(part == &data[at..at + part.len()], "bytes {at}..");
        got.set(at + part.len());
        part.len()
    };
    while got.get() < first && conn.read_with(take).unwrap() > 0 {}
    assert_eq!(got.get(), first);
    c.write_all(&data[first..]).unwrap();
    assert!(
        eventually(Duration::from_secs(10), || queues(&a, 9102).1 as usize
            == second),
        "the second batch queued: {:?}",
        queues(&a, 9102)
    );
    let mut parts = Vec::new();
    let n = conn
        .read_with(|part| {
            parts.push(part.len());
            take(part)
        })
        .unwrap();
    assert_eq!(n, second, "one call, parts {parts:?}");
    assert!(parts.len() >= 2, "the ring wrapped: parts {parts:?}");
    assert_eq!(got.get(), first + second);
}

#[test]
fn one_write_in_place_fills_the_whole_free_space_across_the_wrap() {
    let (a, b) = pair();
    fixed_buffers(&b);
    // A receiver that holds 64 KiB and does not read yet: the sender's
    // queue keeps the rest, its head 64 KiB into the ring.
    let window = 64 << 10;
    a.set_limits(Limits {
        tcp_recv_buffer: window,
        tcp_recv_buffer_max: 0,
        ..a.limits()
    })
    .unwrap();
    let (mut conn, c) = connected(&a, &b, 9103);
    let port = c.local_addr().unwrap().port();
    let first = 150_001;
    let mut at = 0;
    let mut fill = |free: &mut [u8], limit: usize| {
        let n = free.len().min(limit.saturating_sub(at));
        for (k, slot) in free[..n].iter_mut().enumerate() {
            *slot = byte(at + k);
        }
        at += n;
        n
    };
    assert_eq!(c.write_with(|free| fill(free, first)).unwrap(), first);
    // Settled: the receiver is full, and the sender has its ACK for every
    // byte the receiver holds.
    let settled = || {
        let (sent, held) = (queues(&b, port).0, queues(&a, 9103).1);
        held as usize >= window && (sent + held) as usize == first
    };
    assert!(
        eventually(Duration::from_secs(10), settled),
        "sender's queue {:?}, receiver's {:?}",
        queues(&b, port),
        queues(&a, 9103)
    );
    let free = RING - queues(&b, port).0 as usize;
    let total = first + free;
    let mut parts = Vec::new();
    let n = c
        .write_with(|free| {
            parts.push(free.len());
            fill(free, usize::MAX)
        })
        .unwrap();
    assert_eq!(
        n, free,
        "one call fills all the free space, parts {parts:?}"
    );
    assert_eq!(parts.len(), 2, "the free space wrapped: parts {parts:?}");
    c.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    conn.read_to_end(&mut got).unwrap();
    assert_eq!(got.len(), total);
    assert!(got.iter().enumerate().all(|(i, &v)| v == byte(i)));
}
