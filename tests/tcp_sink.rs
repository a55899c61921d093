//! Receive sinks (`TcpStream::set_receive_sink`): the poll thread hands a
//! connection's bytes to the program in the round that received them. Every
//! byte arrives once and in order, whether the sink takes it or leaves it
//! for `read`; the end of the stream still reaches `read`; a sink set late
//! gets what was already queued; and a sink that panics, or calls into its
//! stack, costs its own connection and nothing else.

mod support;

use sandnet::netstack::{TcpListener, TcpStream};
use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::data::{send_stream, Digest};
use support::kernel::{eventually, tun_bed, STACK_V4};
use support::pair::{connected, pair, relayed_pair, sa, still_serves};

/// What a sink has taken so far: the bytes and their digest.
#[derive(Default)]
struct Taken {
    bytes: usize,
    digest: Digest,
}

/// A sink that takes everything into `taken`.
fn taking_all(taken: &Arc<Mutex<Taken>>) -> impl FnMut(&[u8]) -> usize + Send + 'static {
    let taken = taken.clone();
    move |data| {
        let mut t = taken.lock().unwrap();
        t.bytes += data.len();
        t.digest.update(data);
        data.len()
    }
}

/// Gives `server` a sink that takes everything, runs `send` (which sends
/// `total` bytes from the peer, ends the stream and returns their digest)
/// on a thread, and checks that the sink got exactly those bytes and that
/// read, with nothing left to it, returns the end of the stream.
fn sink_takes_all(
    server: &TcpStream,
    total: usize,
    send: impl FnOnce(usize) -> u64 + Send + 'static,
) {
    let taken = Arc::new(Mutex::new(Taken::default()));
    server.set_receive_sink(taking_all(&taken)).unwrap();
    let writer = std::thread::spawn(move || send(total));
    assert_eq!((&*server).read(&mut [0u8; 64]).unwrap(), 0);
    let sent = writer.join().unwrap();
    let t = taken.lock().unwrap();
    assert_eq!(t.bytes, total);
    assert_eq!(
        t.digest.value(),
        sent,
        "the sink's bytes differ from those sent"
    );
}

#[test]
fn a_sink_gets_every_byte_in_order_and_read_sees_the_end() {
    let (a, b) = pair();
    let (server, client) = connected(&a, &b, 9200);
    sink_takes_all(&server, 8 << 20, move |total| {
        let digest = send_stream(&client, 7, total).unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        digest
    });
}

/// The point of a sink: it consumes before the round's ACKs go out, so
/// every ACK announces the whole buffer, and no window update has to follow.
#[test]
fn every_ack_of_a_sink_connection_announces_the_whole_window() {
    // The TCP window field of each segment from `a` that is not a SYN.
    let windows = Arc::new(Mutex::new(Vec::new()));
    let seen = windows.clone();
    let (a, b, _relay) = relayed_pair(move |from_a, p| {
        let ihl = usize::from(p[0] & 0x0f) * 4;
        if from_a && p[0] >> 4 == 4 && p[9] == 6 && p.len() >= ihl + 20 {
            let tcp = &p[ihl..];
            if tcp[13] & 0x02 == 0 {
                seen.lock()
                    .unwrap()
                    .push(u16::from_be_bytes([tcp[14], tcp[15]]));
            }
        }
        true
    });
    let (server, client) = connected(&a, &b, 9207);
    let taken = Arc::new(Mutex::new(Taken::default()));
    server.set_receive_sink(taking_all(&taken)).unwrap();
    const TOTAL: usize = 4 << 20;
    let writer = std::thread::spawn(move || {
        send_stream(&client, 3, TOTAL).unwrap();
        client.shutdown(Shutdown::Write).unwrap();
    });
    assert_eq!((&server).read(&mut [0u8; 16]).unwrap(), 0);
    writer.join().unwrap();
    assert_eq!(taken.lock().unwrap().bytes, TOTAL);
    let w = windows.lock().unwrap();
    assert!(w.len() > 20, "{} segments from the receiver", w.len());
    let full = w[0];
    let smaller = w.iter().filter(|&&x| x != full).count();
    assert_eq!(
        smaller,
        0,
        "{smaller} of {} ACKs announced less than {full}",
        w.len()
    );
}

#[test]
fn what_a_sink_leaves_is_read_in_order() {
    let (a, b) = pair();
    let (server, client) = connected(&a, &b, 9201);
    const TOTAL: usize = 4 << 20;
    fn byte(i: usize) -> u8 {
        (i % 251) as u8
    }
    // The stream offset that the next byte taken, by either, must have.
    // Both the sink and read_with's closure run under the stack's lock, so
    // they take turns.
    let next = Arc::new(Mutex::new((0usize, 0usize, 0usize))); // (offset, by sink, by read)
    fn check(next: &Mutex<(usize, usize, usize)>, data: &[u8], by_sink: bool) {
        let mut n = next.lock().unwrap();
        for (k, &v) in data.iter().enumerate() {
            assert_eq!(v, byte(n.0 + k), "byte {} out of order", n.0 + k);
        }
        n.0 += data.len();
        if by_sink {
            n.1 += data.len();
        } else {
            n.2 += data.len();
        }
    }
    let sink_next = next.clone();
    server
        .set_receive_sink(move |data| {
            // The first half of what is offered; the rest waits for read.
            let k = data.len() / 2;
            check(&sink_next, &data[..k], true);
            k
        })
        .unwrap();
    let writer = std::thread::spawn(move || {
        let mut c = client;
        let chunk: Vec<u8> = (0..TOTAL).map(byte).collect();
        for part in chunk.chunks(100_003) {
            c.write_all(part).unwrap();
        }
        c.shutdown(Shutdown::Write).unwrap();
    });
    loop {
        let n = server
            .read_with(|data| {
                check(&next, data, false);
                data.len()
            })
            .unwrap();
        if n == 0 {
            break;
        }
    }
    writer.join().unwrap();
    let (offset, by_sink, by_read) = *next.lock().unwrap();
    assert_eq!(offset, TOTAL);
    assert!(by_sink > 0 && by_read > 0, "sink {by_sink}, read {by_read}");
}

#[test]
fn a_sink_set_late_gets_what_was_queued_and_clearing_it_gives_bytes_back_to_read() {
    let (a, b) = pair();
    let (server, mut client) = connected(&a, &b, 9202);
    client.write_all(&[1u8; 3000]).unwrap();
    // Queued before there is a sink: readable, and nothing else will come.
    assert!(eventually(Duration::from_secs(10), || {
        a.sockets().iter().any(|s| s.rx_queue == 3000)
    }));
    let taken = Arc::new(Mutex::new(Taken::default()));
    server.set_receive_sink(taking_all(&taken)).unwrap();
    assert!(
        eventually(Duration::from_secs(10), || taken.lock().unwrap().bytes
            == 3000),
        "the sink did not get the bytes queued before it was set"
    );
    server.clear_receive_sink().unwrap();
    client.write_all(&[2u8; 500]).unwrap();
    let mut buf = [0u8; 1000];
    let mut got = 0;
    while got < 500 {
        let n = (&server).read(&mut buf[got..]).unwrap();
        assert!(n > 0);
        got += n;
    }
    assert_eq!(&buf[..500], &[2u8; 500][..]);
    assert_eq!(
        taken.lock().unwrap().bytes,
        3000,
        "the cleared sink still took bytes"
    );
}

#[test]
fn a_full_sink_resumed_gets_what_it_left() {
    let (a, b) = pair();
    let (server, mut client) = connected(&a, &b, 9208);
    let full = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let taken = Arc::new(Mutex::new(Taken::default()));
    let (is_full, mut take) = (full.clone(), taking_all(&taken));
    server
        .set_receive_sink(move |data| {
            if is_full.load(std::sync::atomic::Ordering::Relaxed) {
                0
            } else {
                take(data)
            }
        })
        .unwrap();
    client.write_all(&[7u8; 1000]).unwrap();
    // Left queued: the peer has nothing more to send, so no round would
    // offer them again on its own.
    assert!(eventually(Duration::from_secs(10), || {
        a.sockets().iter().any(|s| s.rx_queue == 1000)
    }));
    full.store(false, std::sync::atomic::Ordering::Relaxed);
    server.resume_receive_sink().unwrap();
    assert!(
        eventually(Duration::from_secs(10), || taken.lock().unwrap().bytes
            == 1000),
        "the resumed sink did not get the bytes it had left"
    );
}

/// A connection whose sink failed: the program's next read reports EIO,
/// the peer sees a reset, and the stack serves a new connection.
fn assert_reset_and_stack_serves(
    a: &sandnet::netstack::Stack,
    b: &sandnet::netstack::Stack,
    server: &TcpStream,
    mut client: TcpStream,
    port: u16,
) {
    let mut buf = [0u8; 16];
    let err = (&*server).read(&mut buf).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EIO), "{err}");
    client
        // Generous: a panic's backtrace, printed on the poll thread under
        // the stack's lock, takes seconds under ThreadSanitizer.
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let peer = client.read(&mut buf);
    assert!(
        matches!(&peer, Err(e) if e.kind() == ErrorKind::ConnectionReset),
        "the peer saw {peer:?}"
    );
    still_serves(a, b, port);
}

#[test]
fn a_sink_that_panics_resets_its_connection_only() {
    let (a, b) = pair();
    let (server, mut client) = connected(&a, &b, 9203);
    server
        .set_receive_sink(|_data| panic!("a sink that fails"))
        .unwrap();
    client.write_all(b"hello").unwrap();
    assert_reset_and_stack_serves(&a, &b, &server, client, 9204);
}

#[test]
fn a_sink_that_calls_its_stack_resets_its_connection_instead_of_deadlocking() {
    let (a, b) = pair();
    let (server, mut client) = connected(&a, &b, 9205);
    let stack = a.clone();
    server
        .set_receive_sink(move |data| {
            // Its own stack's lock is held: this call panics.
            let _ = stack.interfaces();
            data.len()
        })
        .unwrap();
    client.write_all(b"hello").unwrap();
    assert_reset_and_stack_serves(&a, &b, &server, client, 9206);
}

/// Over a TUN device, with the kernel's TCP sending: the sink's bytes
/// equal the kernel's, and read sees the end of the stream. That read does
/// not drive the device (netstack/src/drive.rs): the sink takes the bytes
/// in the poll thread's rounds, which cost less than a read's turns (the
/// sink's rate 0.91 of that with the reads driving, docs/PERFORMANCE.md).
#[test]
fn a_sink_receives_a_kernel_senders_bytes_over_tun() {
    let Some(bed) = tun_bed("a_sink_receives_a_kernel_senders_bytes_over_tun") else {
        return;
    };
    let listener = TcpListener::bind(&bed.stack, sa("0.0.0.0", 5100)).unwrap();
    let accepted = std::thread::spawn(move || listener.accept().unwrap().0);
    let client = bed.kernel_connect(sa(STACK_V4, 5100)).unwrap();
    let server = accepted.join().unwrap();
    let driven = bed.stack.driven_rounds();
    sink_takes_all(&server, 32 << 20, move |total| {
        let digest = send_stream(&client, 11, total).unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        digest
    });
    assert_eq!(
        bed.stack.driven_rounds(),
        driven,
        "the read waiting for the end of a sink's stream ran rounds"
    );
}
