//! A read that waits for packets waits at the TUN device itself and runs
//! the round that brings them (netstack/src/drive.rs), over a real TUN in
//! a private namespace with the kernel as the peer: the poll thread takes
//! the device back when the program stops reading, does not wake for a
//! reader that waits at the device, and a NIC removed or a stack shut down
//! under such a reader lets the device go at once; a ping socket waits for
//! its replies there too, and a bulk reader runs its transfer's rounds
//! itself, the poll thread left asleep. Needs root: skipped with a reason otherwise, and
//! a failure when skipped under CI=true.

mod support;

use sandnet::netstack::{TcpListener, UdpSocket};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::kernel::*;
use support::packets::icmpv4_echo_request;

/// The tests run one at a time: each counts the rounds of its own stack,
/// and a busy neighbour would only blur what they wait for.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn alone() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

const PORT: u16 = 7;

/// A UDP socket of the stack on `PORT`, and a kernel socket connected to it.
fn udp_pair(bed: &TunBed) -> (UdpSocket, std::net::UdpSocket) {
    let addr = SocketAddr::new(ip(STACK_V4), PORT);
    let server = UdpSocket::bind(&bed.stack, addr).unwrap();
    let client = bed.kernel_udp(SocketAddr::new(ip(KERNEL_V4), 0));
    client.connect(addr).unwrap();
    (server, client)
}

/// Whether the device is gone from the namespace, asked at once (`ip`
/// would take milliseconds).
fn device_gone(bed: &TunBed) -> bool {
    bed.ns
        .run(|| sandnet::netstack::os::if_nametoindex(DEV))
        .is_err()
}

/// A reader blocked in `recv_from` on `server`, long enough to be at the
/// device; it returns what the call returned. A few exchanges first: when
/// a call first takes the device, the poll thread may still be waiting on
/// it too, and takes the next packet in if it is quicker (correct either
/// way; it leaves the device alone from its next round on).
fn blocked_reader(
    server: UdpSocket,
    client: &std::net::UdpSocket,
) -> std::thread::JoinHandle<std::io::Result<usize>> {
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        for _ in 0..10 {
            let (n, from) = server.recv_from(&mut buf)?;
            server.send_to(&buf[..n], from)?;
        }
        server.recv_from(&mut buf).map(|(n, _)| n)
    });
    for i in 0..10u8 {
        client.send(&[i; 16]).unwrap();
        let mut answer = [0u8; 64];
        assert_eq!(client.recv(&mut answer).unwrap(), 16);
    }
    std::thread::sleep(Duration::from_millis(200));
    reader
}

#[test]
fn the_device_goes_back_to_the_poll_thread_when_the_program_stops_reading() {
    let _alone = alone();
    let Some(bed) =
        tun_bed("the_device_goes_back_to_the_poll_thread_when_the_program_stops_reading")
    else {
        return;
    };
    let (server, client) = udp_pair(&bed);
    let n = 200;
    let away = Arc::new(AtomicBool::new(false));
    let echo = {
        let away = away.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            for _ in 0..n {
                let (len, from) = server.recv_from(&mut buf).unwrap();
                server.send_to(&buf[..len], from).unwrap();
            }
            // Busy elsewhere: no call on the stack for two seconds.
            away.store(true, Ordering::SeqCst);
            std::thread::sleep(Duration::from_secs(2));
            away.store(false, Ordering::SeqCst);
        })
    };
    let driven = bed.stack.driven_rounds();
    for i in 0..n {
        client.send(&[i as u8; 64]).unwrap();
        let mut answer = [0u8; 2048];
        assert_eq!(client.recv(&mut answer).unwrap(), 64, "exchange {i}");
    }
    let driven = bed.stack.driven_rounds() - driven;
    assert!(
        driven >= n / 2,
        "the reads waited at the device for {driven} of {n} requests"
    );
    assert!(eventually(Duration::from_secs(5), || away.load(Ordering::SeqCst)));
    // Only a round answers a ping: the poll thread's, once it has taken
    // the device back, while the program is away.
    let ping = bed.kernel_ping_socket(false);
    let to = SocketAddr::new(ip(STACK_V4), 0);
    ping.send_to(&icmpv4_echo_request(0, 1, b"anyone?"), to)
        .unwrap();
    let mut reply = [0u8; 256];
    let answered = ping.recv_from(&mut reply).is_ok();
    let still_away = away.load(Ordering::SeqCst);
    echo.join().unwrap();
    assert!(answered, "no echo reply");
    assert!(
        still_away,
        "the echo reply waited for the program to come back"
    );
}

#[test]
fn a_read_waiting_at_the_device_leaves_the_poll_thread_asleep() {
    let _alone = alone();
    let Some(bed) = tun_bed("a_read_waiting_at_the_device_leaves_the_poll_thread_asleep") else {
        return;
    };
    let (server, client) = udp_pair(&bed);
    let reader = blocked_reader(server, &client);
    let (wakeups, driven) = (bed.stack.wakeups(), bed.stack.driven_rounds());
    std::thread::sleep(Duration::from_millis(500));
    let woke = bed.stack.wakeups() - wakeups;
    // A poll thread that looked at the lease every period while the reader
    // waits would have woken about 500 times. (A stray packet from the
    // kernel's own IPv6 may wake it once or twice.)
    assert!(woke <= 20, "the poll thread woke {woke} times in 500 ms");
    client.send(b"done").unwrap();
    assert_eq!(reader.join().unwrap().unwrap(), 4);
    assert!(
        bed.stack.driven_rounds() > driven,
        "the reader's own round took the datagram in"
    );
}

#[test]
fn a_nic_removed_under_a_read_at_its_device_goes_at_once() {
    let _alone = alone();
    let Some(bed) = tun_bed("a_nic_removed_under_a_read_at_its_device_goes_at_once") else {
        return;
    };
    let (server, client) = udp_pair(&bed);
    let reader = blocked_reader(server, &client);
    bed.stack.remove_nic(bed.ifindex).unwrap();
    let gone = device_gone(&bed);
    // The reader waits on, now as any blocked call, until the stack stops.
    bed.stack.shutdown();
    let r = reader.join().unwrap();
    assert!(gone, "the TUN device is gone when remove_nic returns");
    assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::ENETDOWN));
}

#[test]
fn a_stack_shut_down_under_a_read_at_its_device_lets_the_device_go() {
    let _alone = alone();
    let Some(bed) = tun_bed("a_stack_shut_down_under_a_read_at_its_device_lets_the_device_go")
    else {
        return;
    };
    let (server, client) = udp_pair(&bed);
    let reader = blocked_reader(server, &client);
    bed.stack.shutdown();
    let gone = device_gone(&bed);
    let r = reader.join().unwrap();
    assert!(gone, "the TUN device is gone when shutdown returns");
    assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::ENETDOWN));
}

/// A ping socket's receive waits for the kernel's echo reply at the
/// device, as `ping` in a sandbox does: each reply is taken in by the
/// reader's own round, and the poll thread is left out.
#[test]
fn a_ping_sockets_reply_is_taken_in_by_the_reader() {
    let _alone = alone();
    let Some(bed) = tun_bed("a_ping_sockets_reply_is_taken_in_by_the_reader") else {
        return;
    };
    let ping = sandnet::netstack::PingSocket::new(&bed.stack, false).unwrap();
    ping.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let echo = |seq: u16| {
        ping.send_to(&icmpv4_echo_request(0, seq, b"sandnet"), ip(KERNEL_V4))
            .unwrap();
        let mut reply = [0u8; 256];
        let (n, from) = ping.recv_from(&mut reply).unwrap();
        assert_eq!((reply[0], from), (0, ip(KERNEL_V4)), "echo {seq}");
        assert_eq!(&reply[8..n], b"sandnet");
    };
    (0..10).for_each(echo);
    let (wakeups, driven) = (bed.stack.wakeups(), bed.stack.driven_rounds());
    let n = 200;
    (10..10 + n).for_each(echo);
    let woke = bed.stack.wakeups() - wakeups;
    let driven = bed.stack.driven_rounds() - driven;
    assert!(
        driven >= u64::from(n) / 2,
        "{driven} of {n} replies were taken in by the reader"
    );
    assert!(
        woke < u64::from(n) / 2,
        "the poll thread woke {woke} times for {n} echoes"
    );
}

/// Time on a CPU so far, in nanoseconds, of the threads of this process
/// that `which` picks by name (/proc/self/task/*/comm), or of the calling
/// thread (None).
fn cpu_ns(which: Option<&str>) -> u64 {
    let read = |dir: &std::path::Path| -> u64 {
        std::fs::read_to_string(dir.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    let Some(name) = which else {
        return read(std::path::Path::new("/proc/thread-self"));
    };
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim_end() == name)
        })
        .map(|t| read(&t.path()))
        .sum()
}

/// What a bulk transfer read through `Read` cost each side.
struct BulkRead {
    /// CPU time of the poll thread and of the reader, in ns.
    poll: u64,
    reader: u64,
    /// Rounds run by the reader, and by the poll thread.
    driven: u64,
    polled: u64,
}

/// The kernel sends 64 MiB to a connection of the stack, which reads it
/// with `Read` in 64 KiB reads, spinning for `work` after each.
fn bulk_read(test: &str, work: Duration) -> Option<BulkRead> {
    let _alone = alone();
    let bed = tun_bed(test)?;
    let addr = SocketAddr::new(ip(STACK_V4), 5001);
    let listener = TcpListener::bind(&bed.stack, addr).unwrap();
    let len = 64 << 20;
    let client = bed.kernel_connect(addr).unwrap();
    let (conn, _) = listener.accept().unwrap();
    // The same block over and over, counted, not checked: the stack's work
    // stays most of what both ends do (a generated stream and its digest
    // would be most of it in a debug build). The bytes themselves are
    // checked by every other transfer test.
    let sender = std::thread::spawn(move || {
        let mut client = client;
        let block = [0x5a_u8; 64 << 10];
        for _ in 0..len / block.len() {
            client.write_all(&block)?;
        }
        client.shutdown(std::net::Shutdown::Write)?;
        std::io::Result::Ok(len)
    });
    let mut buf = vec![0u8; 64 << 10];
    let mut got = 0;
    let before = BulkRead {
        poll: cpu_ns(Some("sandnet-poll")),
        reader: cpu_ns(None),
        driven: bed.stack.driven_rounds(),
        polled: bed.stack.wakeups(),
    };
    loop {
        match (&conn).read(&mut buf).unwrap() {
            0 => break,
            n => got += n,
        }
        let t = std::time::Instant::now();
        while t.elapsed() < work {}
    }
    let cost = BulkRead {
        poll: cpu_ns(Some("sandnet-poll")) - before.poll,
        reader: cpu_ns(None) - before.reader,
        driven: bed.stack.driven_rounds() - before.driven,
        polled: bed.stack.wakeups() - before.polled,
    };
    assert_eq!(got, sender.join().unwrap().unwrap());
    Some(cost)
}

/// A program reading a bulk transfer through `Read` waits at the device
/// and runs the rounds that bring its segments, and each read sends the
/// window it opened: the transfer runs on the reader's thread, as bare
/// smoltcp's loop runs on its one, and the poll thread sleeps through it
/// but for a look at the lease each `LEASE_CHECK`. (When the poll thread
/// took the device back after each full batch, or ran a round for each
/// read's window, it spent about as much CPU as the reader:
/// docs/PERFORMANCE.md.)
#[test]
fn a_bulk_reader_runs_the_transfers_rounds_itself() {
    let Some(c) = bulk_read(
        "a_bulk_reader_runs_the_transfers_rounds_itself",
        Duration::ZERO,
    ) else {
        return;
    };
    assert!(
        c.poll * 4 < c.reader,
        "the poll thread ran {} ms beside the reader's {} ms ({} rounds driven)",
        c.poll / 1_000_000,
        c.reader / 1_000_000,
        c.driven
    );
}

/// A program that works between its reads (here 50 us per 64 KiB read,
/// five times a debug build's round) hands the device back after a full
/// batch: the poll thread takes the packets in while the program works,
/// and runs most of the rounds. (Kept by the reader, the device waited for
/// its work: a quarter slower, docs/PERFORMANCE.md.)
#[test]
fn a_reader_that_works_between_reads_leaves_the_packets_to_the_poll_thread() {
    let Some(c) = bulk_read(
        "a_reader_that_works_between_reads_leaves_the_packets_to_the_poll_thread",
        Duration::from_micros(50),
    ) else {
        return;
    };
    eprintln!(
        "DBG poll={} reader={} driven={} polled={}",
        c.poll, c.reader, c.driven, c.polled
    );
    assert!(
        c.polled > c.driven,
        "the poll thread ran {} rounds, the reader {}",
        c.polled,
        c.driven
    );
}
