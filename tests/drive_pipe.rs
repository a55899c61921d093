//! Two stacks over an in-memory pipe serve request/response as they do over a
//! TUN device: a read that waits for the next request waits at the pipe and
//! runs the round that takes it in (drive.rs; a pipe's bell is its eventfd),
//! so an exchange crosses no poll thread. Counted in rounds, not timed, and
//! with read timeouts, so that a packet left waiting for a sleeper that was
//! not woken fails the test instead of hanging it. A socket that only
//! receives leaves its datagrams to the poll thread.

mod support;

use sandnet::netstack::{Link, Stack, TcpStream, UdpSocket};
use std::io::{Read, Write};
use std::thread::JoinHandle;
use std::time::Duration;
use support::pair::*;

const EXCHANGES: usize = 20_000;
const PATIENCE: Duration = Duration::from_secs(5);

fn rounds(s: &Stack) -> (u64, u64) {
    (s.wakeups(), s.driven_rounds())
}

/// Runs `exchange` 100 times to settle (past quickack, into pingpong mode),
/// then `EXCHANGES` times, and checks that both sides took their messages
/// in on the program's threads: each side's reads drove a round per
/// exchange, and its poll thread looked in seldom (once a millisecond).
fn assert_exchanges_drive(server: &Stack, client: &Stack, mut exchange: impl FnMut(usize)) {
    for i in 0..100 {
        exchange(i);
    }
    let before = [rounds(server), rounds(client)];
    for i in 0..EXCHANGES {
        exchange(i);
    }
    for ((side, stack), before) in [("server", server), ("client", client)]
        .into_iter()
        .zip(before)
    {
        let (poll, driven) = rounds(stack);
        let per = |now: u64, then: u64| (now - then) as f64 / EXCHANGES as f64;
        let (poll, driven) = (per(poll, before.0), per(driven, before.1));
        assert!(
            poll < 0.5 && driven > 0.5,
            "{side}: {poll:.2} poll rounds and {driven:.2} driven per exchange"
        );
    }
}

fn patient(s: &TcpStream) {
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.set_nodelay(true).unwrap();
}

/// A connection from `b` to an echo server on `a` that answers 64 bytes
/// at a time: the client, and the server's thread, which ends when the
/// client goes.
fn tcp_echo(a: &Stack, b: &Stack) -> (TcpStream, JoinHandle<()>) {
    let (mut server, client) = connected(a, b, 7);
    patient(&server);
    patient(&client);
    let echo = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        while server.read_exact(&mut buf).is_ok() {
            server.write_all(&buf).unwrap();
        }
    });
    (client, echo)
}

fn tcp_exchange(client: &mut TcpStream, i: usize) {
    let request = [i as u8; 64];
    client.write_all(&request).unwrap();
    let mut answer = [0u8; 64];
    client
        .read_exact(&mut answer)
        .unwrap_or_else(|e| panic!("exchange {i}: {e}"));
    assert_eq!(answer, request);
}

/// A UDP client on `b`, connected to a server on `a` that echoes `count`
/// datagrams, then returns its socket.
fn udp_echo(a: &Stack, b: &Stack, count: usize) -> (UdpSocket, JoinHandle<UdpSocket>) {
    let server = UdpSocket::bind(a, sa(A_V4, 9)).unwrap();
    let client = UdpSocket::bind(b, sa(B_V4, 0)).unwrap();
    client.connect(sa(A_V4, 9)).unwrap();
    for s in [&server, &client] {
        s.set_read_timeout(Some(PATIENCE)).unwrap();
    }
    let echo = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        for _ in 0..count {
            let (n, from) = server.recv_from(&mut buf).unwrap();
            server.send_to(&buf[..n], from).unwrap();
        }
        server
    });
    (client, echo)
}

fn udp_exchange(client: &UdpSocket, i: usize) {
    let mut buf = [0u8; 64];
    client.send(&(i as u32).to_be_bytes()).unwrap();
    let n = client
        .recv(&mut buf)
        .unwrap_or_else(|e| panic!("exchange {i}: {e}"));
    assert_eq!(buf[..n], (i as u32).to_be_bytes());
}

#[test]
fn a_tcp_exchange_between_two_stacks_runs_on_the_programs_threads() {
    let (a, b) = pair();
    let (mut client, echo) = tcp_echo(&a, &b);
    assert_exchanges_drive(&a, &b, |i| tcp_exchange(&mut client, i));
    drop(client);
    echo.join().unwrap();
}

#[test]
fn a_datagram_socket_drives_only_while_it_answers() {
    let (a, b) = pair();
    let (client, echo) = udp_echo(&a, &b, EXCHANGES + 100);
    assert_exchanges_drive(&a, &b, |i| udp_exchange(&client, i));
    let server = echo.join().unwrap();
    let mut buf = [0u8; 64];

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

/// A pipe whose bells could not be made (the process out of descriptors)
/// still carries both ways: its stacks wait on its queues in their poll
/// threads, as every pipe stack did before bells, and no read drives. A
/// packet left waiting for a poll thread that was not woken fails the test
/// (the accept of the first connection has no timeout: a watchdog).
#[test]
fn a_pipe_without_bells_is_served_by_the_poll_threads() {
    let (done_tx, done) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (a, b) = pair_on(Link::pipe_without_bells());
        let (mut client, echo) = tcp_echo(&a, &b);
        for i in 0..2000 {
            tcp_exchange(&mut client, i);
        }
        drop(client);
        echo.join().unwrap();
        let (client, echo) = udp_echo(&a, &b, 2000);
        for i in 0..2000 {
            udp_exchange(&client, i);
        }
        echo.join().unwrap();
        let _ = done_tx.send([rounds(&a), rounds(&b)]);
    });
    let sides = done
        .recv_timeout(Duration::from_secs(60))
        .expect("the exchanges over a pipe without bells finished within 60 s");
    for (side, (poll, driven)) in ["server", "client"].into_iter().zip(sides) {
        assert_eq!(driven, 0, "{side}: a read drove a pipe without bells");
        assert!(
            poll >= 4000,
            "{side}: {poll} poll rounds for 4000 exchanges"
        );
    }
}
