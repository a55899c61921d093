//! Many threads on one stack at once, for a bounded time: TCP clients that
//! connect, send, read their echo back and close; the echo server's threads;
//! UDP senders and a receiver; threads that open and drop sockets; readers
//! of every table (snapshot, procnet, statistics, the socket list). The test
//! fails on a panic anywhere, on a deadlock (a watchdog bounds the whole
//! run), and on any byte not accounted for: every TCP byte sent comes back
//! intact, and every UDP datagram sent is either received or counted as
//! dropped. No thread sanitizer is used (it needs a nightly toolchain).

mod support;

use sandnet::netstack::{Stack, TcpListener, TcpStream, UdpSocket};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::data::Digest;
use support::pair::{pair, sa, A_V4};

const RUN: Duration = Duration::from_secs(3);
/// The whole run, threads joined, must end within this (else: a deadlock).
const WATCHDOG: Duration = Duration::from_secs(60);
const CLIENTS: usize = 6;
const UDP_SENDERS: usize = 2;

fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Echoes each accepted connection in its own thread until `stop`.
fn echo_server(a: &Stack, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    let listener = TcpListener::bind(a, sa(A_V4, 7000)).unwrap();
    listener
        .set_accept_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    std::thread::spawn(move || {
        let mut handlers = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let Ok((mut s, _)) = listener.accept() else {
                continue;
            };
            handlers.push(std::thread::spawn(move || {
                s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                let mut buf = vec![0u8; 8192];
                loop {
                    match s.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => s.write_all(&buf[..n]).unwrap(),
                        Err(e) => panic!("echo read: {e}"),
                    }
                }
            }));
        }
        for h in handlers {
            h.join().unwrap();
        }
    })
}

/// Connects, sends a message of varying size, reads the echo, closes; until
/// `stop`. Returns (connections, bytes echoed).
fn client(b: Stack, id: u64, stop: Arc<AtomicBool>) -> (u64, u64) {
    let (mut conns, mut bytes) = (0, 0);
    while !stop.load(Ordering::Relaxed) {
        let c = Arc::new(
            TcpStream::connect_timeout(&b, &sa(A_V4, 7000), Duration::from_secs(10))
                .expect("connect"),
        );
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let len = 1 + (id as usize * 7919 + conns as usize * 104_729) % (256 << 10);
        let msg = pattern(id << 32 | conns, len);
        // One thread writes while this one reads, as a real client would.
        let writer = {
            let (c, msg) = (c.clone(), msg.clone());
            std::thread::spawn(move || {
                (&*c).write_all(&msg).unwrap();
                c.shutdown(std::net::Shutdown::Write).unwrap();
            })
        };
        let mut got = Vec::with_capacity(len);
        if let Err(e) = (&*c).read_to_end(&mut got) {
            panic!(
                "client {id} conn {conns} ({len} bytes, got {}): {e}",
                got.len()
            );
        }
        writer.join().unwrap();
        let (mut d1, mut d2) = (Digest::default(), Digest::default());
        d1.update(&msg);
        d2.update(&got);
        assert_eq!(
            (got.len(), d2.value()),
            (len, d1.value()),
            "client {id} conn {conns}"
        );
        conns += 1;
        bytes += len as u64;
    }
    (conns, bytes)
}

#[test]
fn many_threads_on_one_stack_lose_nothing_and_never_block_forever() {
    let (done_tx, done_rx) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        run();
        let _ = done_tx.send(());
    });
    match done_rx.recv_timeout(WATCHDOG) {
        Ok(()) => {}
        Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
            panic!("the stress run panicked (see above)")
        }
        Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
            panic!("the stress run did not finish in {WATCHDOG:?}: a deadlock")
        }
    }
}

fn run() {
    let (a, b) = pair();
    let stop = Arc::new(AtomicBool::new(false));
    // The server outlives the clients: closing a listener resets the
    // connections it has not accepted yet, as Linux does.
    let server_stop = Arc::new(AtomicBool::new(false));
    let server = echo_server(&a, server_stop.clone());
    let mut clients = Vec::new();
    for id in 0..CLIENTS as u64 {
        let (b, stop) = (b.clone(), stop.clone());
        clients.push(std::thread::spawn(move || client(b, id, stop)));
    }

    // UDP over b's loopback, so that nothing else shares its queue: every
    // datagram sent is received, or counted as a socket or link drop.
    let receiver = UdpSocket::bind(&b, sa("127.0.0.1", 5000)).unwrap();
    receiver
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let sent = Arc::new(AtomicU64::new(0));
    let mut senders = Vec::new();
    for i in 0..UDP_SENDERS {
        let (b, stop, sent) = (b.clone(), stop.clone(), sent.clone());
        senders.push(std::thread::spawn(move || {
            let u = UdpSocket::bind(&b, sa("127.0.0.1", 0)).unwrap();
            let msg = vec![i as u8; 200 + 300 * i];
            while !stop.load(Ordering::Relaxed) {
                match u.send_to(&msg, sa("127.0.0.1", 5000)) {
                    Ok(_) => {
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => assert_eq!(e.raw_os_error(), Some(libc::ENOBUFS), "{e}"),
                }
            }
        }));
    }
    let udp_reader = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut got = 0u64;
            let mut buf = [0u8; 2048];
            loop {
                match receiver.recv_from(&mut buf) {
                    Ok(_) => got += 1,
                    // Quiet for 100 ms after the senders stopped: all in.
                    Err(_) if stop.load(Ordering::Relaxed) => return got,
                    Err(_) => {}
                }
            }
        })
    };

    // Sockets opened and dropped as fast as possible, of every kind.
    let churn = {
        let (a, stop) = (a.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let l = TcpListener::bind(&a, sa("0.0.0.0", 0)).unwrap();
                let u = UdpSocket::bind(&a, sa("0.0.0.0", 0)).unwrap();
                let p = sandnet::netstack::PingSocket::new(&a, n & 1 == 0).unwrap();
                drop((l, u, p));
                n += 1;
            }
            n
        })
    };
    // Readers of every table, on both stacks.
    let mut readers = Vec::new();
    for s in [a.clone(), b.clone()] {
        let stop = stop.clone();
        readers.push(std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let snap = s.snapshot();
                for (name, _) in sandnet::procnet::FILES {
                    assert!(sandnet::procnet::render(name, &snap).is_some());
                }
                let _ = s.statistics();
                let _ = s.sockets();
                let _ = s.route_get("10.1.0.2".parse().unwrap(), None);
                n += 1;
            }
            n
        }));
    }

    let start = Instant::now();
    std::thread::sleep(RUN);
    stop.store(true, Ordering::Relaxed);
    let mut conns = 0;
    let mut bytes = 0;
    for c in clients {
        let (n, b) = c.join().unwrap();
        conns += n;
        bytes += b;
    }
    for s in senders {
        s.join().unwrap();
    }
    server_stop.store(true, Ordering::Relaxed);
    let received = udp_reader.join().unwrap();
    let churned = churn.join().unwrap();
    let reads: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
    server.join().unwrap();
    let secs = start.elapsed().as_secs_f64();

    let st = b.statistics();
    let lo = st.dev[&1];
    let dropped = st.snmp.udp.RcvbufErrors + st.snmp.udp.MemErrors + lo.tx_drop;
    let sent = sent.load(Ordering::Relaxed);
    println!(
        "{secs:.1} s: {conns} TCP connections echoed {bytes} bytes intact; UDP sent {sent}, \
         received {received}, dropped and counted {dropped}; {churned} socket churn rounds; \
         {reads} table reads"
    );
    assert!(
        conns >= CLIENTS as u64,
        "every client completed a connection"
    );
    assert_eq!(
        sent,
        received + dropped,
        "every datagram is received or counted"
    );
    assert!(received > 0);
}
