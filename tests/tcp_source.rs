//! Send sources (`TcpStream::set_send_source`): the poll thread fills a
//! connection's send buffer from the program's closure in the round whose
//! ACKs made room. Every byte the source writes arrives once and in order,
//! after what `write` queued before; a source that pauses is asked again
//! when resumed; and a source that panics, or calls into its stack, costs
//! its own connection and nothing else.

mod support;

use sandnet::netstack::{Stack, TcpStream};
use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::sync::mpsc;
use std::time::Duration;
use support::data::{recv_stream, Digest};
use support::kernel::{tun_bed, KERNEL_V4};
use support::pair::{connected, pair, sa, still_serves};

/// The byte at stream offset `i`.
fn byte(i: usize) -> u8 {
    (i % 251) as u8
}

/// Gives `c` a source that writes `total` bytes of the pattern, in
/// whatever pieces it is offered, waits until it has, and ends the stream.
/// Returns the digest of what it wrote.
fn source_sends(c: &TcpStream, total: usize) -> u64 {
    let (done, all_given) = mpsc::channel();
    let mut at = 0;
    let mut digest = Digest::default();
    c.set_send_source(move |free| {
        let n = free.len().min(total - at);
        for (k, slot) in free[..n].iter_mut().enumerate() {
            *slot = byte(at + k);
        }
        digest.update(&free[..n]);
        at += n;
        if at == total && n > 0 {
            done.send(digest.value()).unwrap();
        }
        n
    })
    .unwrap();
    let digest = all_given.recv_timeout(Duration::from_secs(60)).unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    digest
}

#[test]
fn a_sources_bytes_arrive_whole_and_in_order() {
    let (a, b) = pair();
    let (server, client) = connected(&a, &b, 9300);
    let reader = std::thread::spawn(move || recv_stream(&client).unwrap());
    let sent = source_sends(&server, 8 << 20);
    let (got, digest) = reader.join().unwrap();
    assert_eq!(got, 8 << 20);
    assert_eq!(digest, sent, "the peer's bytes differ from the source's");
}

#[test]
fn written_bytes_go_first_and_a_paused_source_goes_on_when_resumed() {
    let (a, b) = pair();
    let (server, mut client) = connected(&a, &b, 9301);
    (&server).write_all(b"head:").unwrap();
    // 1000 bytes, then nothing until resumed, then 500 more.
    let (asked, asked_rx) = mpsc::channel();
    let mut given = 0usize;
    let mut limit = 1000;
    let (more, more_rx) = mpsc::channel::<usize>();
    server
        .set_send_source(move |free| {
            if let Ok(l) = more_rx.try_recv() {
                limit = l;
            }
            let n = free.len().min(limit - given);
            for (k, slot) in free[..n].iter_mut().enumerate() {
                *slot = byte(given + k);
            }
            given += n;
            let _ = asked.send(given);
            n
        })
        .unwrap();
    let mut buf = vec![0u8; 1005];
    client.read_exact(&mut buf).unwrap();
    assert_eq!(&buf[..5], b"head:");
    assert!(buf[5..].iter().enumerate().all(|(i, &v)| v == byte(i)));
    // Paused: it gave less than it was offered and is not asked again,
    // though rounds run for the connection (the peer sends it bytes).
    while asked_rx.try_recv().is_ok() {}
    client.write_all(b"poke").unwrap();
    let mut poke = [0u8; 4];
    (&server).read_exact(&mut poke).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        asked_rx.try_recv().is_err(),
        "a paused source was asked again"
    );
    more.send(1500).unwrap();
    server.resume_send_source().unwrap();
    let mut rest = vec![0u8; 500];
    client.read_exact(&mut rest).unwrap();
    assert!(rest.iter().enumerate().all(|(i, &v)| v == byte(1000 + i)));
}

/// A connection whose source failed: the program's next call reports EIO,
/// the peer sees a reset, and the stack serves a new connection.
fn assert_reset_and_stack_serves(
    a: &Stack,
    b: &Stack,
    server: &TcpStream,
    mut client: TcpStream,
    port: u16,
) {
    client
        // Generous: a panic's backtrace, printed on the poll thread under
        // the stack's lock, takes seconds under ThreadSanitizer.
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut buf = [0u8; 16];
    let peer = loop {
        // Whatever the source wrote before it failed may come first.
        match client.read(&mut buf) {
            Ok(n) if n > 0 => continue,
            other => break other,
        }
    };
    assert!(
        matches!(&peer, Err(e) if e.kind() == ErrorKind::ConnectionReset),
        "the peer saw {peer:?}"
    );
    let err = (&*server).write(b"x").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EIO), "{err}");
    still_serves(a, b, port);
}

#[test]
fn a_source_that_panics_resets_its_connection_only() {
    let (a, b) = pair();
    let (server, client) = connected(&a, &b, 9302);
    server
        .set_send_source(|_free| panic!("a source that fails"))
        .unwrap();
    assert_reset_and_stack_serves(&a, &b, &server, client, 9303);
}

#[test]
fn a_source_that_calls_its_stack_resets_its_connection_instead_of_deadlocking() {
    let (a, b) = pair();
    let (server, client) = connected(&a, &b, 9304);
    let stack = a.clone();
    server
        .set_send_source(move |_free| {
            let _ = stack.interfaces();
            0
        })
        .unwrap();
    assert_reset_and_stack_serves(&a, &b, &server, client, 9305);
}

/// Over a TUN device, to the kernel's TCP: its bytes equal the source's.
#[test]
fn a_source_sends_to_a_kernel_receiver_over_tun() {
    let Some(bed) = tun_bed("a_source_sends_to_a_kernel_receiver_over_tun") else {
        return;
    };
    let listener = bed.kernel_listen(sa(KERNEL_V4, 5200));
    let reader = std::thread::spawn(move || recv_stream(listener.accept().unwrap().0).unwrap());
    let c = TcpStream::connect(&bed.stack, sa(KERNEL_V4, 5200)).unwrap();
    let sent = source_sends(&c, 32 << 20);
    let (got, digest) = reader.join().unwrap();
    assert_eq!(got, 32 << 20);
    assert_eq!(digest, sent);
}
