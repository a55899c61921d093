//! Reads and writes in place (`TcpStream::read_with`, `write_with`): the
//! program's closure fills the send buffer and consumes the receive buffer
//! where they are. Bytes arrive whole and in order across the rings' wraps,
//! whatever the closures take, and what a closure leaves is there for the
//! next read.

mod support;

use sandnet::netstack::{TcpListener, TcpStream};
use std::io::{Read, Write};
use std::net::Shutdown;
use support::pair::{pair, sa, A_V4};

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
