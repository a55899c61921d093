//! Two stacks over an in-memory pipe serve request/response as they do over a
//! TUN device: a read that waits for the next request waits at the pipe and
//! runs the round that takes it in (drive.rs; a pipe's bell is its eventfd),
//! so an exchange crosses no poll thread. Counted in rounds, not timed, and
//! with read timeouts, so that a packet left waiting for a sleeper that was
//! not woken fails the test instead of hanging it. A socket that only
//! receives leaves its datagrams to the poll thread.

mod support;

use sandnet::netstack::{Stack, TcpStream, UdpSocket};
use std::io::{Read, Write};
use std::time::Duration;
use support::pair::*;

const EXCHANGES: usize = 20_000;
const PATIENCE: Duration = Duration::from_secs(5);

fn rounds(s: &Stack) -> (u64, u64) {
    (s.wakeups(), s.driven_rounds())
}

/// Poll-thread rounds and driven rounds per exchange since `before`.
fn per_exchange(s: &Stack, before: (u64, u64), n: usize) -> (f64, f64) {
    let (poll, driven) = rounds(s);
    (
        (poll - before.0) as f64 / n as f64,
        (driven - before.1) as f64 / n as f64,
    )
}

fn patient(s: &TcpStream) {
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.set_nodelay(true).unwrap();
}

#[test]
fn a_tcp_exchange_between_two_stacks_runs_on_the_programs_threads() {
    let (a, b) = pair();
    let (mut server, mut client) = connected(&a, &b, 7);
    patient(&server);
    patient(&client);
    let echo = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        while server.read_exact(&mut buf).is_ok() {
            server.write_all(&buf).unwrap();
        }
    });
    let exchange = |client: &mut TcpStream, i: usize| {
        let request = [i as u8; 64];
        client.write_all(&request).unwrap();
        let mut answer = [0u8; 64];
        client
            .read_exact(&mut answer)
            .unwrap_or_else(|e| panic!("exchange {i}: {e}"));
        assert_eq!(answer, request);
    };
    // Past quickack and into pingpong mode on both ends.
    for i in 0..100 {
        exchange(&mut client, i);
    }
    let (before_a, before_b) = (rounds(&a), rounds(&b));
    for i in 0..EXCHANGES {
        exchange(&mut client, i);
    }
    let (poll_a, driven_a) = per_exchange(&a, before_a, EXCHANGES);
    let (poll_b, driven_b) = per_exchange(&b, before_b, EXCHANGES);
    drop(client);
    echo.join().unwrap();
    // Each request and each answer is taken in by the read waiting for it;
    // the poll threads look in once a millisecond.
    for (side, poll, driven) in [("server", poll_a, driven_a), ("client", poll_b, driven_b)] {
        assert!(
            poll < 0.5 && driven > 0.5,
            "{side}: {poll:.2} poll rounds and {driven:.2} driven per exchange"
        );
    }
}

#[test]
fn a_datagram_socket_drives_only_while_it_answers() {
    let (a, b) = pair();
    let server = UdpSocket::bind(&a, sa(A_V4, 9)).unwrap();
    let client = UdpSocket::bind(&b, sa(B_V4, 0)).unwrap();
    client.connect(sa(A_V4, 9)).unwrap();
    for s in [&server, &client] {
        s.set_read_timeout(Some(PATIENCE)).unwrap();
    }
    let echo = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        for _ in 0..EXCHANGES + 100 {
            let (n, from) = server.recv_from(&mut buf).unwrap();
            server.send_to(&buf[..n], from).unwrap();
        }
        server
    });
    let mut buf = [0u8; 64];
    let exchange = |buf: &mut [u8; 64], i: usize| {
        client.send(&(i as u32).to_be_bytes()).unwrap();
        let n = client
            .recv(buf)
            .unwrap_or_else(|e| panic!("exchange {i}: {e}"));
        assert_eq!(buf[..n], (i as u32).to_be_bytes());
    };
    for i in 0..100 {
        exchange(&mut buf, i);
    }
    let (before_a, before_b) = (rounds(&a), rounds(&b));
    for i in 0..EXCHANGES {
        exchange(&mut buf, i);
    }
    let (poll_a, driven_a) = per_exchange(&a, before_a, EXCHANGES);
    let (poll_b, driven_b) = per_exchange(&b, before_b, EXCHANGES);
    let server = echo.join().unwrap();
    for (side, poll, driven) in [("server", poll_a, driven_a), ("client", poll_b, driven_b)] {
        assert!(
            poll < 0.5 && driven > 0.5,
            "{side}: {poll:.2} poll rounds and {driven:.2} driven per exchange"
        );
    }

    // A socket that only receives: its datagrams are the poll thread's to
    // take in, while the program is busy with the ones before.
    let before = rounds(&a);
    for burst in 0..100u32 {
        for i in 0..50u32 {
            client.send(&(burst * 50 + i).to_be_bytes()).unwrap();
        }
        for i in 0..50u32 {
            let n = server.recv(&mut buf).unwrap();
            assert_eq!(buf[..n], (burst * 50 + i).to_be_bytes());
        }
    }
    // Only its first receive drives: it answered last.
    let (_, driven) = rounds(&a);
    assert!(
        driven - before.1 <= 2,
        "a receive-only socket drove {} rounds in 100 bursts",
        driven - before.1
    );
}
