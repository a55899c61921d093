//! API misuse, limits and odd requests get Linux's errors, never a panic;
//! readiness, nonblocking mode and timeouts behave as poll(2) and std do.

mod support;

use sandnet::netstack::{Interest, Limits, PingSocket, TcpListener, TcpStream, UdpSocket};
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Shutdown};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::pair::{pair, relayed_pair, sa, A_V4, B_V4};

fn errno<T: std::fmt::Debug>(r: std::io::Result<T>) -> i32 {
    r.unwrap_err().raw_os_error().expect("an errno")
}

#[test]
fn bind_errors_are_linux_errors() {
    let (a, _b) = pair();
    let _l = TcpListener::bind(&a, sa("0.0.0.0", 8000)).unwrap();
    assert_eq!(
        errno(TcpListener::bind(&a, sa("0.0.0.0", 8000))),
        libc::EADDRINUSE
    );
    assert_eq!(
        errno(TcpListener::bind(&a, sa(A_V4, 8000))),
        libc::EADDRINUSE
    );
    assert_eq!(
        errno(TcpListener::bind(&a, sa("::", 8000))),
        libc::EADDRINUSE,
        "dual-stack overlaps"
    );
    let v6only = sandnet::netstack::ListenOptions {
        v6only: true,
        ..Default::default()
    };
    TcpListener::bind_with(&a, sa("::", 8000), v6only).unwrap();
    assert_eq!(
        errno(TcpListener::bind(&a, sa("10.99.0.1", 8001))),
        libc::EADDRNOTAVAIL
    );

    let _u = UdpSocket::bind(&a, sa(A_V4, 5300)).unwrap();
    assert_eq!(
        errno(UdpSocket::bind(&a, sa("0.0.0.0", 5300))),
        libc::EADDRINUSE
    );
    UdpSocket::bind(&a, sa("127.0.0.1", 5300)).unwrap();
    assert_eq!(
        errno(UdpSocket::bind(&a, sa("192.0.2.1", 0))),
        libc::EADDRNOTAVAIL
    );
}

#[test]
fn unreachable_destinations_fail_before_sending() {
    let (a, _b) = pair();
    let sent = a.statistics().dev[&a.ifindex("p0").unwrap()].tx_packets;
    assert_eq!(
        errno(TcpStream::connect(&a, sa("192.0.2.1", 80))),
        libc::ENETUNREACH
    );
    let u = UdpSocket::bind(&a, sa("0.0.0.0", 0)).unwrap();
    assert_eq!(
        errno(u.send_to(b"x", sa("192.0.2.1", 53))),
        libc::ENETUNREACH
    );
    assert_eq!(errno(u.connect(sa("192.0.2.1", 53))), libc::ENETUNREACH);
    assert_eq!(errno(u.send_to(b"x", sa(B_V4, 0))), libc::EINVAL, "port 0");
    assert_eq!(a.statistics().snmp.ip.OutNoRoutes, 3);
    assert_eq!(
        a.statistics().dev[&a.ifindex("p0").unwrap()].tx_packets,
        sent
    );
}

#[test]
fn odd_buffers_and_calls_give_errors_not_panics() {
    let (a, b) = pair();
    // Zero-length reads and writes return at once.
    let l = TcpListener::bind(&b, sa(B_V4, 8100)).unwrap();
    let mut c = TcpStream::connect(&a, sa(B_V4, 8100)).unwrap();
    let (mut s, _) = l.accept().unwrap();
    assert_eq!(c.write(&[]).unwrap(), 0);
    assert_eq!(c.read(&mut []).unwrap(), 0);
    // A huge write is taken in part, then the rest as the reader drains.
    let big = vec![9u8; 8 << 20];
    let n = c.write(&big).unwrap();
    assert!(n > 0 && n < big.len());
    let reader = std::thread::spawn(move || {
        let mut got = 0;
        let mut buf = vec![0u8; 1 << 16];
        while got < 8 << 20 {
            got += s.read(&mut buf).unwrap();
        }
        got
    });
    c.write_all(&big[n..]).unwrap();
    assert_eq!(reader.join().unwrap(), 8 << 20);

    // UDP: too large for any packet, or for the link's MTU (no fragmentation).
    let u = UdpSocket::bind(&a, sa("0.0.0.0", 0)).unwrap();
    assert_eq!(
        errno(u.send_to(&vec![0u8; 70_000], sa(B_V4, 9))),
        libc::EMSGSIZE
    );
    assert_eq!(errno(u.send_to(&[0u8; 2000], sa(B_V4, 9))), libc::EMSGSIZE);
    assert_eq!(errno(u.send(b"x")), libc::EDESTADDRREQ);
    assert_eq!(errno(u.peer_addr()), libc::ENOTCONN);
    assert_eq!(errno(u.shutdown(Shutdown::Both)), libc::ENOTCONN);
    assert_eq!(errno(u.send_to(b"x", sa("::1", 9))), libc::EAFNOSUPPORT);
    assert_eq!(
        errno(u.set_read_timeout(Some(Duration::ZERO))),
        libc::EINVAL
    );

    // Ping sockets send echo requests only.
    let p = PingSocket::new(&a, false).unwrap();
    let dst: IpAddr = B_V4.parse().unwrap();
    assert_eq!(
        errno(p.send_to(&[0, 0, 0, 0, 0, 0, 0, 1], dst)),
        libc::EINVAL
    );
    assert_eq!(errno(p.send_to(&[8, 0, 0], dst)), libc::EINVAL);
    assert_eq!(
        errno(p.send_to(&[8, 1, 0, 0, 0, 0, 0, 1], dst)),
        libc::EINVAL
    );
}

#[test]
fn limits_give_emfile_and_enobufs() {
    let (a, b) = pair();
    a.set_limits(Limits {
        max_sockets: 3,
        ..Limits::default()
    })
    .unwrap();
    let s1 = UdpSocket::bind(&a, sa("0.0.0.0", 0)).unwrap();
    let _s2 = UdpSocket::bind(&a, sa("0.0.0.0", 0)).unwrap();
    let _l = TcpListener::bind(&a, sa("0.0.0.0", 8200)).unwrap();
    assert_eq!(errno(UdpSocket::bind(&a, sa("0.0.0.0", 0))), libc::EMFILE);
    assert_eq!(errno(TcpStream::connect(&a, sa(B_V4, 1))), libc::EMFILE);
    drop(s1);
    UdpSocket::bind(&a, sa("0.0.0.0", 0)).unwrap();

    let small = Limits {
        max_buffer_bytes: 100_000,
        ..Limits::default()
    };
    b.set_limits(small).unwrap();
    let _bl = TcpListener::bind(&b, sa(B_V4, 8201)).unwrap();
    assert_eq!(errno(TcpStream::connect(&b, sa(B_V4, 8201))), libc::ENOBUFS);
    assert_eq!(
        errno(a.set_limits(Limits {
            max_backlog: 0,
            ..Limits::default()
        })),
        libc::EINVAL
    );

    // A full datagram queue drops and counts, never grows.
    let tiny = Limits {
        dgram_recv_buffer: 10,
        ..Limits::default()
    };
    b.set_limits(tiny).unwrap();
    let r = UdpSocket::bind(&b, sa(B_V4, 5400)).unwrap();
    let w = UdpSocket::bind(&a, sa("0.0.0.0", 0)).unwrap();
    for _ in 0..3 {
        w.send_to(b"12345678", sa(B_V4, 5400)).unwrap();
    }
    assert!(support::kernel::eventually(Duration::from_secs(5), || {
        b.statistics().snmp.udp.RcvbufErrors == 2
    }));
    assert_eq!(b.statistics().snmp.udp.InErrors, 2);
    let drops = b
        .sockets()
        .into_iter()
        .find(|x| x.local == sa(B_V4, 5400))
        .unwrap()
        .drops;
    assert_eq!(drops, 2);
    let mut buf = [0u8; 16];
    r.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(r.recv(&mut buf).unwrap(), 8);
}

#[test]
fn nonblocking_timeouts_and_readiness() {
    let (a, b) = pair();
    let l = TcpListener::bind(&b, sa(B_V4, 8300)).unwrap();
    l.set_nonblocking(true).unwrap();
    assert_eq!(l.accept().unwrap_err().kind(), ErrorKind::WouldBlock);
    let u = UdpSocket::bind(&b, sa(B_V4, 5500)).unwrap();
    u.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(u.recv(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);

    // wait(): nothing ready, then the socket that got data, then the listener.
    let interests = [(u.id(), Interest::READABLE), (l.id(), Interest::READABLE)];
    assert!(b
        .wait(&interests, Some(Duration::from_millis(20)))
        .unwrap()
        .is_empty());
    let w = UdpSocket::bind(&a, sa("0.0.0.0", 0)).unwrap();
    w.send_to(b"wake", sa(B_V4, 5500)).unwrap();
    let ready = b.wait(&interests, Some(Duration::from_secs(5))).unwrap();
    assert_eq!(ready.len(), 1);
    assert_eq!(ready[0].0, u.id());
    assert!(ready[0].1.readable);
    let c = TcpStream::connect(&a, sa(B_V4, 8300)).unwrap();
    let ready = b
        .wait(
            &[(l.id(), Interest::READABLE)],
            Some(Duration::from_secs(5)),
        )
        .unwrap();
    assert_eq!(ready.len(), 1);
    let (s, _) = l.accept().unwrap();
    let w_ready = a.wait(&[(c.id(), Interest::WRITABLE)], None).unwrap();
    assert!(w_ready[0].1.writable && !w_ready[0].1.readable);
    drop(s);
    let hup = a
        .wait(
            &[(c.id(), Interest::READABLE)],
            Some(Duration::from_secs(5)),
        )
        .unwrap();
    assert!(hup[0].1.readable, "EOF is readable");

    // A closed socket's id is stale.
    let stale = w.id();
    drop(w);
    assert_eq!(
        errno(a.wait(&[(stale, Interest::READABLE)], None)),
        libc::EBADF
    );
}

#[test]
fn unanswered_syns_time_out_and_losses_are_retransmitted() {
    // Everything a sends is lost: connect gives up with ETIMEDOUT.
    let (a, _b, _relay) = relayed_pair(|from_a, _| !from_a);
    let err =
        TcpStream::connect_timeout(&a, &sa(B_V4, 80), Duration::from_millis(1500)).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ETIMEDOUT));
    let t = a.statistics().snmp.tcp;
    assert_eq!(
        (t.ActiveOpens, t.AttemptFails, t.OutRsts),
        (1, 1, 0),
        "no RST, as Linux"
    );
    assert!(t.RetransSegs >= 1, "the SYN was sent again: {t:?}");

    // One data segment lost: it is sent again and the data arrives whole.
    let data_segments = Arc::new(AtomicUsize::new(0));
    let seen = data_segments.clone();
    let (a, b, _relay) = relayed_pair(move |from_a, p| {
        let tcp_with_data = from_a && p[9] == 6 && p.len() > 20 + 20 + 12;
        !(tcp_with_data && seen.fetch_add(1, Ordering::SeqCst) == 0)
    });
    let l = TcpListener::bind(&b, sa(B_V4, 80)).unwrap();
    let mut c = TcpStream::connect(&a, sa(B_V4, 80)).unwrap();
    let (mut s, _) = l.accept().unwrap();
    c.write_all(b"lost once, then delivered").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 25];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"lost once, then delivered");
    assert!(data_segments.load(Ordering::SeqCst) >= 2);
    assert_eq!(a.statistics().snmp.tcp.RetransSegs, 1);
}

#[test]
fn a_stopped_stack_answers_enetdown() {
    let (a, _b) = pair();
    let u = UdpSocket::bind(&a, sa("0.0.0.0", 0)).unwrap();
    let l = TcpListener::bind(&a, sa("0.0.0.0", 8400)).unwrap();
    a.shutdown();
    assert_eq!(errno(u.send_to(b"x", sa(B_V4, 9))), libc::ENETDOWN);
    assert_eq!(errno(l.accept()), libc::ENETDOWN);
    assert_eq!(errno(TcpStream::connect(&a, sa(B_V4, 9))), libc::ENETDOWN);
    let mut buf = [0u8; 4];
    assert_eq!(errno(u.recv(&mut buf)), libc::ENETDOWN);
    drop(u);
    drop(l);
}

#[test]
fn a_nonblocking_connect_turns_writable_or_reports_its_error() {
    let (a, b) = pair();
    let l = TcpListener::bind(&b, sa(B_V4, 8500)).unwrap();
    let mut c = TcpStream::connect_nonblocking(&a, sa(B_V4, 8500)).unwrap();
    let ready = a
        .wait(
            &[(c.id(), Interest::WRITABLE)],
            Some(Duration::from_secs(5)),
        )
        .unwrap();
    assert!(ready[0].1.writable && !ready[0].1.error);
    let (mut s, _) = l.accept().unwrap();
    c.write_all(b"hi").unwrap();
    let mut buf = [0u8; 2];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(c.read(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);

    let refused = TcpStream::connect_nonblocking(&a, sa(B_V4, 8501)).unwrap();
    let ready = a
        .wait(
            &[(refused.id(), Interest::WRITABLE)],
            Some(Duration::from_secs(5)),
        )
        .unwrap();
    assert!(ready[0].1.error && ready[0].1.hangup);
    let err = refused.take_error().unwrap().unwrap();
    assert_eq!(err.raw_os_error(), Some(libc::ECONNREFUSED));
}

/// Calls in the wrong state, on stale handles, and with arguments out of
/// range: each gets the error Linux gives (docs/RELIABILITY.md's matrix).
#[test]
fn wrong_state_stale_ids_and_bad_arguments_get_errors() {
    let (a, b) = pair();
    // Streams: not yet connected, shut, and gone.
    let pending = TcpStream::connect_nonblocking(&a, sa("10.1.0.77", 80)).unwrap();
    assert_eq!(errno(pending.shutdown(Shutdown::Write)), libc::ENOTCONN);
    assert_eq!(
        (&pending).write(b"x").unwrap_err().kind(),
        ErrorKind::WouldBlock,
        "a write before the handshake waits (nonblocking: WouldBlock)"
    );
    let l = TcpListener::bind(&b, sa(B_V4, 8600)).unwrap();
    let mut c = TcpStream::connect(&a, sa(B_V4, 8600)).unwrap();
    let (s, _) = l.accept().unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!(errno(c.write(b"after shutdown")), libc::EPIPE);
    c.shutdown(Shutdown::Read).unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(c.read(&mut buf).unwrap(), 0, "reads after SHUT_RD end");
    drop(s);
    assert_eq!(
        errno(TcpStream::connect_timeout(
            &a,
            &sa(B_V4, 8600),
            Duration::ZERO
        )),
        libc::EINVAL
    );
    assert_eq!(
        errno(l.set_accept_timeout(Some(Duration::ZERO))),
        libc::EINVAL
    );

    // A stale id: the socket is gone, its id refers to nothing.
    let u = UdpSocket::bind(&a, sa("0.0.0.0", 0)).unwrap();
    let stale = u.id();
    drop(u);
    assert_eq!(errno(a.set_socket_owner(stale, 1000)), libc::EBADF);
    assert_eq!(
        errno(a.wait(&[(stale, Interest::READABLE)], Some(Duration::ZERO))),
        libc::EBADF
    );
    // A new socket in the same slot does not answer to the old id.
    let _u2 = UdpSocket::bind(&a, sa("0.0.0.0", 0)).unwrap();
    assert_eq!(errno(a.set_socket_owner(stale, 1000)), libc::EBADF);

    // Ping sockets: the other family's address, and ping to a port.
    let p = PingSocket::new(&a, false).unwrap();
    assert_eq!(
        errno(p.send_to(&[8, 0, 0, 0, 0, 0, 0, 1], "::1".parse().unwrap())),
        libc::EAFNOSUPPORT
    );

    // Limits: zero-sized buffers or backlog.
    for bad in [
        Limits {
            tcp_recv_buffer: 0,
            ..Limits::default()
        },
        Limits {
            tcp_send_buffer: 0,
            ..Limits::default()
        },
    ] {
        assert_eq!(errno(a.set_limits(bad)), libc::EINVAL);
    }

    // Interfaces: lo cannot go, names must be valid and unique, MTUs in range.
    assert_eq!(errno(a.remove_nic(1)), libc::EOPNOTSUPP);
    assert_eq!(errno(a.remove_nic(99)), libc::ENODEV);
    let (l1, _l2) = sandnet::netstack::Link::pipe();
    assert_eq!(errno(a.add_nic("p0", l1)), libc::EEXIST);
    let (l3, _l4) = sandnet::netstack::Link::pipe();
    assert_eq!(
        errno(a.add_nic("a name longer than IFNAMSIZ", l3)),
        libc::EINVAL
    );
    let p0 = a.ifindex("p0").unwrap();
    assert_eq!(errno(a.set_mtu(p0, 67)), libc::EINVAL);
    assert_eq!(errno(a.set_mtu(p0, 65536)), libc::EINVAL);
    assert_eq!(
        errno(a.add_address(p0, "10.5.0.1".parse().unwrap(), 33)),
        libc::EINVAL
    );
    assert_eq!(
        errno(a.add_address(p0, "224.0.0.5".parse().unwrap(), 24)),
        libc::EINVAL
    );
    assert_eq!(
        errno(a.remove_address(p0, "10.5.0.1".parse().unwrap(), 24)),
        libc::EADDRNOTAVAIL
    );
}
