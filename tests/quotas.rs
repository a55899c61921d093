//! Quotas: a guest that opens sockets in a loop, or connections until its
//! buffer budget is spent, gets EMFILE or ENOBUFS, never more memory; other
//! stacks in the same process are unaffected; what it frees it can take
//! again. The listen backlog is clamped to the stack's cap.

mod support;

use sandnet::netstack::{
    Limits, Link, ListenOptions, PingSocket, Stack, TcpListener, TcpStream, UdpSocket,
};
use std::io::{Read, Write};
use std::time::Duration;
use support::kernel::eventually;
use support::pair::{pair, sa, A_V4, B_V4};

fn errno(e: &std::io::Error) -> i32 {
    e.raw_os_error().expect("an errno")
}

/// Held only to keep the sockets open.
#[allow(dead_code)]
enum Held {
    Udp(UdpSocket),
    Listener(TcpListener),
    Ping(PingSocket),
}

/// Opens sockets of every kind in turn until the stack refuses; returns
/// them and the error.
fn open_until_refused(s: &Stack) -> (Vec<Held>, std::io::Error) {
    let mut held = Vec::new();
    for i in 0.. {
        let r = match i % 3 {
            0 => UdpSocket::bind(s, sa("0.0.0.0", 0)).map(Held::Udp),
            1 => TcpListener::bind(s, sa("0.0.0.0", 0)).map(Held::Listener),
            _ => PingSocket::new(s, i % 2 == 0).map(Held::Ping),
        };
        match r {
            Ok(h) => held.push(h),
            Err(e) => return (held, e),
        }
        assert!(i < 100_000, "the stack never refused");
    }
    unreachable!()
}

#[test]
fn a_socket_loop_gets_emfile_and_leaves_other_stacks_alone() {
    let guest = Stack::new().unwrap();
    let max = guest.limits().max_sockets;
    let (held, e) = open_until_refused(&guest);
    assert_eq!(errno(&e), libc::EMFILE);
    assert_eq!(held.len(), max, "exactly the limit");
    assert_eq!(
        errno(&TcpStream::connect(&guest, sa("127.0.0.1", 1)).unwrap_err()),
        libc::EMFILE
    );
    // Every bound socket is listed; an unbound ping socket is not, as Linux
    // does not hash it.
    let bound = held.iter().filter(|h| !matches!(h, Held::Ping(_))).count();
    assert_eq!(guest.sockets().len(), bound);

    // Two other stacks in the process still open sockets and talk.
    let (a, b) = pair();
    let l = TcpListener::bind(&a, sa(A_V4, 9000)).unwrap();
    let mut c = TcpStream::connect(&b, sa(A_V4, 9000)).unwrap();
    let (mut s, _) = l.accept().unwrap();
    c.write_all(b"unaffected").unwrap();
    let mut buf = [0u8; 10];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"unaffected");

    // What the guest frees it can take again.
    drop(held);
    assert!(eventually(Duration::from_secs(5), || guest
        .sockets()
        .is_empty()));
    let (again, e) = open_until_refused(&guest);
    assert_eq!((again.len(), errno(&e)), (max, libc::EMFILE));
}

#[test]
fn connections_past_the_buffer_budget_get_enobufs() {
    let (a, b) = pair();
    let per_conn = Limits::default().tcp_bytes();
    b.set_limits(Limits {
        max_buffer_bytes: 8 * per_conn,
        // Every connection the usual size, so that 8 fit.
        tcp_recv_buffer_max: 0,
        tcp_send_buffer_max: 0,
        ..Limits::default()
    })
    .unwrap();
    // Connections to an address nobody on the wire has: they stay in
    // SYN_SENT, holding their reservations, and one that is dropped is
    // closed at once. (An established one would linger as an orphan until
    // its peer closed too.)
    let nobody = sa("10.1.0.99", 9100);
    let mut conns = Vec::new();
    let err = loop {
        match TcpStream::connect_nonblocking(&b, nobody) {
            Ok(c) => conns.push(c),
            Err(e) => break e,
        }
        assert!(conns.len() <= 8, "the budget holds 8 connections");
    };
    assert_eq!(errno(&err), libc::ENOBUFS);
    assert_eq!(conns.len(), 8);
    // UDP needs no reservation: the stack is not out of sockets.
    UdpSocket::bind(&b, sa(B_V4, 0)).unwrap();
    // A stream that goes gives its reservation back.
    drop(conns.pop());
    assert!(eventually(Duration::from_secs(5), || {
        match TcpStream::connect_nonblocking(&b, nobody) {
            Ok(c) => {
                conns.push(c);
                true
            }
            Err(e) => {
                assert_eq!(errno(&e), libc::ENOBUFS);
                false
            }
        }
    }));
    // The other side of the wire was never limited.
    assert_eq!(a.limits(), Limits::default());
}

/// The window scale a SYN announces, which follows its receive buffer.
fn syn_window_shift(p: &[u8]) -> Option<u8> {
    let tcp = &p[usize::from(p[0] & 0x0f) * 4..];
    let mut options = &tcp[20..usize::from(tcp[12] >> 4) * 4];
    while let [kind, rest @ ..] = options {
        match kind {
            0 => return None,
            1 => options = rest,
            3 => return rest.get(1).copied(),
            _ => options = &options[usize::from(*rest.first()?).max(2)..],
        }
    }
    None
}

#[test]
fn connections_get_the_larger_buffers_while_the_budget_is_mostly_free() {
    let stack = Stack::new().unwrap();
    let (ours, wire) = Link::pipe();
    let nic = stack.add_nic("p0", ours).unwrap();
    stack
        .add_address(nic, "10.3.0.1".parse().unwrap(), 24)
        .unwrap();
    let large = Limits {
        tcp_recv_buffer: 1 << 20,
        tcp_send_buffer: 1 << 20,
        ..Limits::default()
    }
    .tcp_bytes();
    let usual = Limits::default().tcp_bytes();
    // One large connection fills the quarter; the rest takes 12 usual ones.
    stack
        .set_limits(Limits {
            max_buffer_bytes: 4 * large,
            ..Limits::default()
        })
        .unwrap();
    assert_eq!(3 * large / usual, 12);
    let nobody = sa("10.3.0.99", 80);
    let mut conns = Vec::new();
    let mut shifts = Vec::new();
    let err = loop {
        match TcpStream::connect_nonblocking(&stack, nobody) {
            Ok(c) => conns.push(c),
            Err(e) => break e,
        }
        let syn = std::iter::from_fn(|| wire.recv_timeout(Duration::from_secs(5)))
            .find(|p| p[0] >> 4 == 4 && p[9] == 6)
            .expect("a SYN");
        shifts.push(syn_window_shift(&syn).expect("a window scale option"));
        assert!(conns.len() <= 13);
    };
    assert_eq!(errno(&err), libc::ENOBUFS);
    // 1 MiB is scaled by 2^5, 256 KiB by 2^3.
    assert_eq!(shifts, [5, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3]);
    // With all of them gone, a new one is large again (once the closed ones
    // have given their reservations back: a usual one may come first).
    conns.clear();
    let large_again = eventually(Duration::from_secs(5), || {
        let Ok(c) = TcpStream::connect_nonblocking(&stack, nobody) else {
            return false;
        };
        let syn = std::iter::from_fn(|| wire.recv_timeout(Duration::from_secs(5)))
            .find(|p| p[0] >> 4 == 4 && p[9] == 6 && p[33] == 0x02)
            .expect("a SYN");
        drop(c);
        syn_window_shift(&syn) == Some(5)
    });
    assert!(large_again);
}

#[test]
fn the_listen_backlog_is_clamped_to_the_stack_cap() {
    let s = Stack::new().unwrap();
    s.set_limits(Limits {
        max_backlog: 32,
        ..Limits::default()
    })
    .unwrap();
    let opts = ListenOptions {
        backlog: 1 << 20,
        v6only: false,
    };
    let _l = TcpListener::bind_with(&s, sa("127.0.0.1", 9200), opts).unwrap();
    let row = s
        .sockets()
        .into_iter()
        .find(|r| r.local.port() == 9200)
        .unwrap();
    assert_eq!(row.tx_queue, 32, "a listener's row shows its backlog");
}

#[test]
fn an_orphan_whose_peer_never_closes_is_reset_after_the_fin_timeout() {
    let (a, b) = pair();
    // Room for one connection's buffers.
    b.set_limits(Limits {
        fin_timeout: Duration::from_secs(1),
        max_buffer_bytes: Limits::default().tcp_bytes(),
        ..Limits::default()
    })
    .unwrap();
    // A listener that never accepts: its connection answers our FIN with an
    // ACK and never sends its own.
    let _l = TcpListener::bind(&a, sa(A_V4, 9200)).unwrap();
    let c = TcpStream::connect(&b, sa(A_V4, 9200)).unwrap();
    let local = c.local_addr().unwrap();
    let state = || {
        b.sockets()
            .into_iter()
            .find(|r| r.local == local)
            .map(|r| r.state)
    };
    drop(c);
    assert!(
        eventually(Duration::from_secs(5), || state()
            == Some(sandnet::netstack::inet::tcp_state::FIN_WAIT2)),
        "the closed connection waits in FIN_WAIT2"
    );
    // Its buffers are still held.
    let nobody = sa("10.1.0.99", 9200);
    let e = TcpStream::connect_nonblocking(&b, nobody).unwrap_err();
    assert_eq!(errno(&e), libc::ENOBUFS);
    // Then it gives up, as Linux does after tcp_fin_timeout, and its
    // buffers go back to the budget.
    assert!(
        eventually(Duration::from_secs(5), || state().is_none()),
        "still {:?}",
        state()
    );
    TcpStream::connect_nonblocking(&b, nobody).unwrap();
}

/// A datagram queue is charged to the stack's buffer budget with the memory
/// it holds, not with its payload alone: a socket whose own limit is larger
/// than the budget stops taking datagrams where its ring would outgrow the
/// budget (the rest are MemErrors), and gives the budget back when read.
#[test]
fn a_datagram_queue_is_charged_the_memory_it_holds() {
    let (a, b) = pair();
    let budget = 100_000;
    b.set_limits(Limits {
        max_buffer_bytes: budget,
        dgram_recv_buffer: 1 << 20,
        ..Limits::default()
    })
    .unwrap();
    let dst = sa(B_V4, 5600);
    let r = UdpSocket::bind(&b, dst).unwrap();
    let w = UdpSocket::bind(&a, sa("0.0.0.0", 0)).unwrap();
    let queued = || {
        b.sockets()
            .into_iter()
            .find(|x| x.local == dst)
            .map_or(0, |x| x.rx_queue as u64)
    };
    let mem_errors = || b.statistics().snmp.udp.MemErrors;
    // One at a time, so that none is lost before the socket decides.
    for i in 1..=150u64 {
        w.send_to(&[7u8; 1000], dst).unwrap();
        assert!(
            eventually(Duration::from_secs(5), || queued() / 1000 + mem_errors()
                == i),
            "datagram {i} neither queued nor counted"
        );
    }
    // The ring doubles from the first datagram's size: 64 000 bytes fit the
    // budget, 128 000 would not. Counted by payload alone, the budget would
    // have let 100 datagrams in, in a ring of 128 000.
    assert_eq!(queued(), 64_000, "the payload of the datagrams taken");
    assert_eq!(mem_errors(), 86);
    let mut buf = [0u8; 1500];
    r.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for _ in 0..64 {
        assert_eq!(r.recv(&mut buf).unwrap(), 1000);
    }
    // Read empty, the queue keeps 32 KiB and gives the rest back: there is
    // room for more again.
    w.send_to(&[7u8; 1000], dst).unwrap();
    assert_eq!(r.recv(&mut buf).unwrap(), 1000);
    assert_eq!(mem_errors(), 86);
}
