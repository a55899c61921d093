//! A program that answers requests on its own thread, over a real TUN with
//! the host kernel as the client: its answer goes out on its own thread (a
//! TCP write to an idle connection, any UDP datagram), and its read waits
//! for the request at the device and runs the round that takes it in
//! (TCP in pingpong mode, where the ACK rides on the answer; any datagram:
//! drive.rs). So an exchange costs one round, on the program's thread, and
//! the poll thread next to nothing; before, it cost the poll thread one
//! round and a hand-off, and earlier two or three rounds. Counted in
//! rounds, not timed. Needs root: skipped with a reason otherwise, and a
//! failure when skipped under CI=true.

mod support;

use sandnet::netstack::os::affinity::set_thread_affinity;
use sandnet::netstack::{Interest, Stack, TcpListener, TcpStream, UdpSocket};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;
use support::kernel::*;

const REQUEST: usize = 64;

/// The tests run one at a time: the bulk of one would take the CPU the
/// others' kernel client needs to send its next request before its delayed
/// ACK goes alone (a round more, counted against the stack).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn alone() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// A kernel client connected to a listener of the stack on `port`, and the
/// stack's side of the connection.
fn connected(bed: &TunBed, port: u16) -> (std::net::TcpStream, TcpStream) {
    let addr = SocketAddr::new(ip(STACK_V4), port);
    let listener = TcpListener::bind(&bed.stack, addr).unwrap();
    let client = bed.kernel_connect(addr).unwrap();
    let (conn, _) = listener.accept().unwrap();
    (client, conn)
}

/// The kernel's side: `n` requests, each answered before the next goes.
fn exchanges(client: &mut std::net::TcpStream, n: usize, tag: u8) {
    for i in 0..n {
        let request = [tag.wrapping_add(i as u8); REQUEST];
        client.write_all(&request).unwrap();
        let mut answer = [0u8; REQUEST];
        client.read_exact(&mut answer).unwrap();
        assert_eq!(answer, request, "exchange {i}: the answer differs");
    }
}

/// Rounds per exchange since `before` (`rounds(bed)` then), of the poll
/// thread and of the program's reads at the device.
fn per_exchange(bed: &TunBed, before: (u64, u64), n: usize) -> (f64, f64) {
    let (poll, driven) = rounds(bed);
    let per = |now: u64, then: u64| (now - then) as f64 / n as f64;
    (per(poll, before.0), per(driven, before.1))
}

fn rounds(bed: &TunBed) -> (u64, u64) {
    (bed.stack.wakeups(), bed.stack.driven_rounds())
}

/// One round per exchange, the program's own, and the poll thread seldom.
fn assert_one_round_on_the_programs_thread((poll, driven): (f64, f64)) {
    // A round more for the read, or to send the answer, would make it two
    // or three; the poll thread taking the request in, one and a hand-off.
    assert!(
        poll + driven < 1.5,
        "{poll:.2} poll rounds and {driven:.2} driven per exchange"
    );
    assert!(
        poll < 0.5,
        "{poll:.2} poll rounds per exchange (and {driven:.2} driven)"
    );
}

#[test]
fn a_tcp_exchange_is_one_round_on_the_programs_thread() {
    tcp_exchanges(
        "a_tcp_exchange_is_one_round_on_the_programs_thread",
        Program::Blocking,
    );
}

/// A runtime's event loop: `Stack::wait`, then a nonblocking read. The
/// wait waits at the device as a blocking read does.
#[test]
fn a_tcp_exchange_through_stack_wait_is_one_round_on_the_programs_thread() {
    tcp_exchanges(
        "a_tcp_exchange_through_stack_wait_is_one_round_on_the_programs_thread",
        Program::Waiting,
    );
}

/// The program's thread and the poll thread on one core, as a runtime that
/// places them might: the poll thread then runs only while the program
/// waits at the device, and must not take that as a cue to wake with every
/// exchange (it did, 1.4 poll rounds per exchange).
#[test]
fn a_tcp_exchange_on_the_poll_threads_core_is_one_round_on_the_programs_thread() {
    tcp_exchanges(
        "a_tcp_exchange_on_the_poll_threads_core_is_one_round_on_the_programs_thread",
        Program::OneCore,
    );
}

/// How the program runs.
#[derive(Clone, Copy, PartialEq)]
enum Program {
    /// Blocking reads, on any CPU.
    Blocking,
    /// Blocking reads, on CPU 0 with the poll thread.
    OneCore,
    /// Nonblocking reads after `Stack::wait`, as a runtime's event loop.
    Waiting,
}

/// The program: echoes what it reads until the end of the stream.
fn echo(stack: &Stack, conn: TcpStream, program: Program) -> std::thread::JoinHandle<()> {
    let stack = stack.clone();
    std::thread::spawn(move || {
        if program == Program::OneCore {
            set_thread_affinity(0, &[0]).unwrap();
        }
        if program == Program::Waiting {
            conn.set_nonblocking(true).unwrap();
        }
        let mut conn = conn;
        let mut buf = [0u8; 4096];
        loop {
            if program == Program::Waiting {
                let ready = stack.wait(&[(conn.id(), Interest::READABLE)], None);
                assert_eq!(ready.unwrap().len(), 1);
            }
            match conn.read(&mut buf).unwrap() {
                0 => return,
                n => conn.write_all(&buf[..n]).unwrap(),
            }
        }
    })
}

/// A server's acceptor waits for good, and must not stop its
/// connections' reads from waiting at the device (they did not drive at
/// all while any other call was blocked). Its SYN is still served.
#[test]
fn a_server_waiting_to_accept_leaves_an_exchange_one_round_on_the_programs_thread() {
    let _alone = alone();
    let Some(bed) =
        tun_bed("a_server_waiting_to_accept_leaves_an_exchange_one_round_on_the_programs_thread")
    else {
        return;
    };
    let addr = SocketAddr::new(ip(STACK_V4), 8);
    let listener = TcpListener::bind(&bed.stack, addr).unwrap();
    let mut client = bed.kernel_connect(addr).unwrap();
    client.set_nodelay(true).unwrap();
    let (conn, _) = listener.accept().unwrap();
    let acceptor = std::thread::spawn(move || listener.accept().map(|_| ()));
    let echo = echo(&bed.stack, conn, Program::Blocking);
    exchanges(&mut client, 100, 0);
    let before = rounds(&bed);
    let n = 2000;
    exchanges(&mut client, n, 100);
    let per = per_exchange(&bed, before, n);
    let second = bed.kernel_connect(addr);
    let accepted = acceptor.join().unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();
    echo.join().unwrap();
    assert_one_round_on_the_programs_thread(per);
    assert!(second.is_ok() && accepted.is_ok(), "the second connection");
}

fn tcp_exchanges(test: &str, program: Program) {
    let _alone = alone();
    let Some(bed) = tun_bed(test) else {
        return;
    };
    if program == Program::OneCore {
        bed.stack.set_poll_thread_affinity(&[0]).unwrap();
    }
    let (mut client, conn) = connected(&bed, 7);
    client.set_nodelay(true).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let echo = echo(&bed.stack, conn, program);
    // Past quickack and into pingpong first.
    exchanges(&mut client, 100, 0);
    let before = rounds(&bed);
    let n = 2000;
    exchanges(&mut client, n, 100);
    let per = per_exchange(&bed, before, n);
    client.shutdown(std::net::Shutdown::Write).unwrap();
    echo.join().unwrap();
    assert_one_round_on_the_programs_thread(per);
    let tcp = bed.stack.statistics().snmp.tcp;
    assert_eq!(tcp.RetransSegs, 0, "retransmitted: {tcp:?}");
}

#[test]
fn answers_and_bulk_on_one_connection_arrive_in_order() {
    let _alone = alone();
    let Some(bed) = tun_bed("answers_and_bulk_on_one_connection_arrive_in_order") else {
        return;
    };
    let (mut client, conn) = connected(&bed, 9);
    // The program alternates short writes after a pause (the connection
    // idle: sent on its own thread) with bursts larger than a window (sent
    // by the poll thread as ACKs make room), a pattern of bytes throughout.
    let rounds = 60usize;
    let burst = 300 * 1024;
    let writer = std::thread::spawn(move || {
        let mut conn = conn;
        let mut at = 0u64;
        let chunk = |len: usize, at: &mut u64| -> Vec<u8> {
            let v: Vec<u8> = (0..len).map(|i| ((*at + i as u64) % 251) as u8).collect();
            *at += len as u64;
            v
        };
        for _ in 0..rounds {
            std::thread::sleep(Duration::from_millis(2));
            conn.write_all(&chunk(100, &mut at)).unwrap();
            conn.write_all(&chunk(burst, &mut at)).unwrap();
        }
        conn.shutdown(std::net::Shutdown::Write).unwrap();
        at
    });
    let mut got = Vec::new();
    client.read_to_end(&mut got).unwrap();
    let sent = writer.join().unwrap();
    assert_eq!(got.len() as u64, sent);
    if let Some(i) = (0..got.len()).find(|&i| got[i] != (i % 251) as u8) {
        panic!("byte {i} of {sent} is wrong");
    }
    // The kernel received nothing out of order, and nothing was resent.
    let netstat = bed.ns.read_file("/proc/net/netstat").unwrap();
    let lines: Vec<&str> = netstat.lines().collect();
    let names = lines[0].split_whitespace();
    let values = lines[1].split_whitespace();
    let ofo: u64 = names
        .zip(values)
        .find(|(n, _)| *n == "TCPOFOQueue")
        .map(|(_, v)| v.parse().unwrap())
        .expect("TcpExt TCPOFOQueue");
    assert_eq!(ofo, 0, "segments out of order at the kernel");
    let tcp = bed.stack.statistics().snmp.tcp;
    assert_eq!(tcp.RetransSegs, 0, "retransmitted: {tcp:?}");
}

#[test]
fn a_datagram_exchange_is_one_round_on_the_programs_thread() {
    let _alone = alone();
    let Some(bed) = tun_bed("a_datagram_exchange_is_one_round_on_the_programs_thread") else {
        return;
    };
    let addr = SocketAddr::new(ip(STACK_V4), 53);
    let server = UdpSocket::bind(&bed.stack, addr).unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let echo = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        loop {
            let (n, from) = server.recv_from(&mut buf).unwrap();
            if n == 0 {
                return;
            }
            server.send_to(&buf[..n], from).unwrap();
        }
    });
    let client = bed.kernel_udp(SocketAddr::new(ip(KERNEL_V4), 0));
    client.connect(addr).unwrap();
    let exchange = |i: usize| {
        let request = [i as u8; REQUEST];
        client.send(&request).unwrap();
        let mut answer = [0u8; 2048];
        let n = client.recv(&mut answer).unwrap();
        assert_eq!(answer[..n], request, "exchange {i}: the answer differs");
    };
    (0..100).for_each(exchange);
    let before = rounds(&bed);
    let n = 2000;
    (100..100 + n).for_each(exchange);
    let per = per_exchange(&bed, before, n);
    client.send(&[]).unwrap();
    echo.join().unwrap();
    assert_one_round_on_the_programs_thread(per);
}
