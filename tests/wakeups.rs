//! A blocked socket call wakes when its own socket changes, not when any
//! other does (as Linux wakes one socket's wait queue): a thread blocked on
//! an idle connection sleeps through a bulk transfer on another, and a
//! reader through what its own socket sends. And every blocked call wakes
//! when the stack shuts down.

use sandnet::netstack::{Stack, TcpListener, TcpStream, UdpSocket};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::Duration;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The voluntary context switches of thread `tid` of this process so far:
/// one per sleep, so one per wake-up of a blocked call.
fn sleeps(tid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

/// Starts `f` on a thread that reports its tid first, and waits until the
/// thread has been asleep in `f` for a while.
fn blocked<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> (i32, std::thread::JoinHandle<T>) {
    let (tx, rx) = mpsc::channel();
    let h = std::thread::spawn(move || {
        tx.send(sandnet::netstack::os::affinity::gettid()).unwrap();
        f()
    });
    let tid = rx.recv().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    (tid, h)
}

fn bulk(stack: &Stack, addr: SocketAddr, bytes: usize) {
    let listener = TcpListener::bind(stack, addr).unwrap();
    let sink = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 64 << 10];
        let mut total = 0;
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            total += n;
        }
        total
    });
    let mut c = TcpStream::connect(stack, addr).unwrap();
    let chunk = vec![7u8; 64 << 10];
    for _ in 0..bytes / chunk.len() {
        c.write_all(&chunk).unwrap();
    }
    c.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(sink.join().unwrap(), bytes);
}

#[test]
fn calls_blocked_on_idle_sockets_sleep_through_traffic_on_others() {
    let stack = Stack::new().unwrap();
    // An idle connection with a blocked reader.
    let listener = TcpListener::bind(&stack, sa("127.0.0.1:7001")).unwrap();
    let mut idle_client = TcpStream::connect(&stack, sa("127.0.0.1:7001")).unwrap();
    let (mut idle_server, _) = listener.accept().unwrap();
    let (reader_tid, reader) = blocked(move || {
        let mut b = [0u8; 16];
        idle_server.read(&mut b).map(|n| b[..n].to_vec())
    });
    // A blocked accept on a listener nobody connects to (yet).
    let quiet = TcpListener::bind(&stack, sa("127.0.0.1:7002")).unwrap();
    let (accept_tid, acceptor) = blocked(move || quiet.accept().map(|(_, peer)| peer));
    // A blocked UDP receive.
    let udp = UdpSocket::bind(&stack, sa("127.0.0.1:7003")).unwrap();
    let (udp_tid, receiver) = blocked(move || {
        let mut b = [0u8; 16];
        udp.recv_from(&mut b).map(|(n, _)| b[..n].to_vec())
    });

    let before = [sleeps(reader_tid), sleeps(accept_tid), sleeps(udp_tid)];
    bulk(&stack, sa("127.0.0.1:7010"), 16 << 20);
    let after = [sleeps(reader_tid), sleeps(accept_tid), sleeps(udp_tid)];
    for (who, (b, a)) in ["read", "accept", "recv_from"]
        .iter()
        .zip(before.iter().zip(after.iter()))
    {
        // Thousands of poll rounds ran; a waiter woken by each would show
        // about as many sleeps.
        assert!(
            a - b <= 2,
            "the blocked {who} woke {} times for another connection's traffic",
            a - b
        );
    }

    // Each still wakes for its own socket.
    idle_client.write_all(b"hello").unwrap();
    assert_eq!(reader.join().unwrap().unwrap(), b"hello");
    let c = TcpStream::connect(&stack, sa("127.0.0.1:7002")).unwrap();
    assert_eq!(acceptor.join().unwrap().unwrap(), c.local_addr().unwrap());
    let sender = UdpSocket::bind(&stack, sa("127.0.0.1:0")).unwrap();
    sender.send_to(b"ping", sa("127.0.0.1:7003")).unwrap();
    assert_eq!(receiver.join().unwrap().unwrap(), b"ping");
}

#[test]
fn shutting_the_stack_down_wakes_blocked_calls() {
    let stack = Stack::new().unwrap();
    let listener = TcpListener::bind(&stack, sa("127.0.0.1:7001")).unwrap();
    let _client = TcpStream::connect(&stack, sa("127.0.0.1:7001")).unwrap();
    let (mut server, _) = listener.accept().unwrap();
    let (_, reader) = blocked(move || {
        let mut b = [0u8; 16];
        server.read(&mut b)
    });
    let (_, acceptor) = blocked(move || listener.accept().map(|_| ()));
    stack.shutdown();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let r = (reader.join().unwrap(), acceptor.join().unwrap());
        let _ = tx.send(r);
    });
    let (read, accept) = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("blocked calls still blocked 10 s after shutdown");
    assert_eq!(read.unwrap_err().raw_os_error(), Some(libc::ENETDOWN));
    assert_eq!(accept.unwrap_err().raw_os_error(), Some(libc::ENETDOWN));
}

#[test]
fn a_blocked_reader_sleeps_while_its_own_socket_sends() {
    let stack = Stack::new().unwrap();
    let listener = TcpListener::bind(&stack, sa("127.0.0.1:7030")).unwrap();
    let client = std::sync::Arc::new(TcpStream::connect(&stack, sa("127.0.0.1:7030")).unwrap());
    let (mut server, _) = listener.accept().unwrap();
    // One thread reads the client socket (nothing comes until the end) ...
    let (reader_tid, reader) = blocked({
        let client = client.clone();
        move || {
            let mut b = [0u8; 16];
            (&*client).read(&mut b).map(|n| b[..n].to_vec())
        }
    });
    // ... while this one sends 16 MiB from it.
    let sink = std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 << 10];
        let mut total = 0;
        while total < 16 << 20 {
            total += server.read(&mut buf).unwrap();
        }
        server.write_all(b"done").unwrap();
        server
    });
    let before = sleeps(reader_tid);
    let chunk = vec![3u8; 64 << 10];
    for _ in 0..256 {
        (&*client).write_all(&chunk).unwrap();
    }
    let after = sleeps(reader_tid);
    assert!(
        after - before <= 2,
        "the blocked reader woke {} times for what its socket sent",
        after - before
    );
    let _server = sink.join().unwrap();
    assert_eq!(reader.join().unwrap().unwrap(), b"done");
}
