//! Idle connections leave smoltcp's poll (netstack/src/socket/set.rs) and
//! come back, with nothing lost, when a segment or a call concerns them:
//! data both ways (including data that arrived before parking and was not
//! read), a reader blocked on a parked connection, FINs, IPv4 and IPv6,
//! TIME_WAIT timers.

mod support;

use sandnet::netstack::{Stack, TcpListener, TcpStream, UdpSocket};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};
use support::pair::{pair, sa, B_V4, B_V6};

/// Runs poll rounds on `stacks` (a datagram each stack sends itself) until
/// `done`, or panics after 10 s. A stack scans for idle connections once a
/// second, during rounds, and parks one unchanged between two scans.
fn rounds_until(stacks: &[&Stack], mut done: impl FnMut() -> bool, what: &str) {
    let ticks: Vec<(UdpSocket, SocketAddr)> = stacks
        .iter()
        .map(|s| {
            let u = UdpSocket::bind(s, sa("127.0.0.1", 0)).unwrap();
            let me = u.local_addr().unwrap();
            (u, me)
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 4];
    while !done() {
        assert!(
            Instant::now() < deadline,
            "{what}: not within 10 s (parked: {:?})",
            stacks
                .iter()
                .map(|s| s.parked_connections())
                .collect::<Vec<_>>()
        );
        for (u, me) in &ticks {
            u.send_to(b"tick", *me).unwrap();
            u.recv_from(&mut buf).unwrap();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn connections(a: &Stack, b: &Stack, at: SocketAddr, n: usize) -> Vec<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind(b, at).unwrap();
    (0..n)
        .map(|_| {
            let c = TcpStream::connect(a, at).unwrap();
            let (s, _) = listener.accept().unwrap();
            (c, s)
        })
        .collect()
}

#[test]
fn parked_connections_carry_data_both_ways_afterwards() {
    let (a, b) = pair();
    // Enough that the parked outnumber the rest, so that smoltcp's set is
    // rebuilt without their empty slots (`Sockets::compact`).
    let mut conns = connections(&a, &b, sa(B_V4, 6000), 40);
    conns.extend(connections(&a, &b, sa(B_V6, 6001), 40));
    // Unread data in some receive queues, which parking must keep.
    for (i, (c, _)) in conns.iter_mut().enumerate().step_by(2) {
        c.write_all(format!("early {i}").as_bytes()).unwrap();
    }
    rounds_until(
        &[&a, &b],
        || a.parked_connections() == 80 && b.parked_connections() == 80,
        "all 80 connections parked on both stacks",
    );

    // A reader blocked on a parked connection wakes for its data.
    let (mut last_client, mut last_server) = conns.pop().unwrap();
    let blocked = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        let n = last_server.read(&mut buf).unwrap();
        (buf[..n].to_vec(), last_server)
    });
    std::thread::sleep(Duration::from_millis(200));

    for (i, (c, s)) in conns.iter_mut().enumerate() {
        let mut buf = [0u8; 64];
        if i % 2 == 0 {
            let early = format!("early {i}");
            s.read_exact(&mut buf[..early.len()]).unwrap();
            assert_eq!(&buf[..early.len()], early.as_bytes());
        }
        let there = format!("to server {i}");
        c.write_all(there.as_bytes()).unwrap();
        s.read_exact(&mut buf[..there.len()]).unwrap();
        assert_eq!(&buf[..there.len()], there.as_bytes());
        let back = format!("to client {i}");
        s.write_all(back.as_bytes()).unwrap();
        c.read_exact(&mut buf[..back.len()]).unwrap();
        assert_eq!(&buf[..back.len()], back.as_bytes());
    }
    // Nothing was written to the blocked reader's connection yet: its
    // client may be parked on a, and the write brings it back.
    last_client.write_all(b"wake").unwrap();
    let (got, mut server) = blocked.join().unwrap();
    assert_eq!(got, b"wake");

    // A FIN reaches a parked peer.
    rounds_until(&[&a, &b], || b.parked_connections() > 0, "parking again");
    last_client.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    server.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
}

/// Linux's TCP_TIME_WAIT in /proc/net/tcp's `st` column.
const TIME_WAIT: u8 = 6;

#[test]
fn parked_time_wait_sockets_still_expire_on_time() {
    let (a, b) = pair();
    let conns = connections(&a, &b, sa(B_V4, 6100), 4);
    // The client closes first, so a holds the TIME_WAIT sockets.
    for (c, s) in conns {
        drop(c);
        let mut s = s;
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap();
    }
    let time_wait = |s: &Stack| s.sockets().iter().filter(|r| r.state == TIME_WAIT).count();
    rounds_until(&[&a], || time_wait(&a) == 4, "4 connections in TIME_WAIT");
    rounds_until(&[&a], || a.parked_connections() == 4, "TIME_WAIT parked");
    // Nothing touches them now: only their timer (smoltcp's 10 s) brings
    // them back to be closed and freed.
    let deadline = Instant::now() + Duration::from_secs(20);
    while time_wait(&a) > 0 {
        assert!(
            Instant::now() < deadline,
            "TIME_WAIT sockets outlived their timer: {} left, {} parked",
            time_wait(&a),
            a.parked_connections()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(a.parked_connections(), 0);
}
