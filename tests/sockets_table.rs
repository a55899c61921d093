//! The socket table shows what /proc/net shows at each moment of a
//! connection's life, and counters after a scripted exchange equal the
//! hand-computed values.

mod support;

use sandnet::netstack::inet::{tcp_state, SocketInfo, SocketKind};
use sandnet::netstack::{Limits, PingSocket, Stack, TcpListener, TcpStream, UdpSocket};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::Duration;
use support::kernel::eventually;
use support::pair::{pair, sa, B_V4, B_V6};

const WAIT: Duration = Duration::from_secs(5);

fn row(stack: &Stack, local: SocketAddr, remote: Option<SocketAddr>) -> Option<SocketInfo> {
    stack
        .sockets()
        .into_iter()
        .find(|r| r.local == local && remote.is_none_or(|p| r.remote == p))
}

fn state_of(stack: &Stack, local: SocketAddr, remote: SocketAddr) -> Option<u8> {
    row(stack, local, Some(remote)).map(|r| r.state)
}

#[test]
fn a_connection_shows_every_state_at_the_right_moment() {
    let stack = Stack::new().unwrap();
    let addr = sa("127.0.0.1", 7100);
    let listener = TcpListener::bind(&stack, addr).unwrap();
    let l = row(&stack, addr, None).unwrap();
    assert_eq!(l.kind, SocketKind::Tcp);
    assert_eq!(l.state, tcp_state::LISTEN);
    assert_eq!(l.inode, listener.id().inode());
    assert_eq!((l.tx_queue, l.rx_queue), (128, 0), "backlog, accept queue");

    let client = TcpStream::connect(&stack, addr).unwrap();
    let caddr = client.local_addr().unwrap();
    assert!(eventually(WAIT, || row(&stack, addr, None)
        .unwrap()
        .rx_queue
        == 1));
    let (server, _) = listener.accept().unwrap();
    assert_eq!(state_of(&stack, caddr, addr), Some(tcp_state::ESTABLISHED));
    assert_eq!(state_of(&stack, addr, caddr), Some(tcp_state::ESTABLISHED));
    assert_eq!(
        row(&stack, addr, Some(caddr)).unwrap().inode,
        server.id().inode()
    );
    assert!(
        client.id().inode() > listener.id().inode(),
        "inodes increase"
    );

    // The client closes its half: FIN_WAIT2 here, CLOSE_WAIT there.
    client.shutdown(Shutdown::Write).unwrap();
    assert!(eventually(WAIT, || {
        state_of(&stack, caddr, addr) == Some(tcp_state::FIN_WAIT2)
            && state_of(&stack, addr, caddr) == Some(tcp_state::CLOSE_WAIT)
    }));
    // The server closes too: the client waits in TIME_WAIT, the server's row goes.
    drop(server);
    assert!(eventually(WAIT, || {
        state_of(&stack, caddr, addr) == Some(tcp_state::TIME_WAIT)
            && state_of(&stack, addr, caddr).is_none()
    }));
    // Closed by its owner, the TIME_WAIT connection stays, without an inode.
    drop(client);
    let tw = row(&stack, caddr, Some(addr)).unwrap();
    assert_eq!((tw.state, tw.inode), (tcp_state::TIME_WAIT, 0));
}

#[test]
fn queues_are_real_during_a_transfer() {
    let stack = Stack::new().unwrap();
    // The usual buffer sizes, whatever the budget (the queues below fill them).
    stack
        .set_limits(Limits {
            tcp_recv_buffer_max: 0,
            tcp_send_buffer_max: 0,
            ..stack.limits()
        })
        .unwrap();
    let addr = sa("127.0.0.1", 7101);
    let listener = TcpListener::bind(&stack, addr).unwrap();
    let mut client = TcpStream::connect(&stack, addr).unwrap();
    let (mut server, _) = listener.accept().unwrap();
    let caddr = client.local_addr().unwrap();

    client.write_all(&[7u8; 1000]).unwrap();
    assert!(eventually(WAIT, || row(&stack, addr, Some(caddr))
        .unwrap()
        .rx_queue
        == 1000));

    // Fill the server's window and the client's buffer: bytes wait on both sides.
    client.set_nonblocking(true).unwrap();
    let chunk = [1u8; 16 * 1024];
    let mut written = 1000;
    loop {
        match client.write(&chunk) {
            Ok(n) => written += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(50));
                if client.write(&chunk).is_err() {
                    break;
                }
            }
            Err(e) => panic!("{e}"),
        }
    }
    let limits = stack.limits();
    let (c, s) = (
        row(&stack, caddr, Some(addr)).unwrap(),
        row(&stack, addr, Some(caddr)).unwrap(),
    );
    // Full: the buffer, and the bytes of it held back so that the window
    // never shrinks (at most 1/64 more: netstack's socket/carry.rs).
    let rx = s.rx_queue as usize;
    let carry = limits.tcp_bytes() - limits.tcp_recv_buffer - limits.tcp_send_buffer;
    assert!(
        rx >= limits.tcp_recv_buffer && rx <= limits.tcp_recv_buffer + carry,
        "receiver full: {rx}"
    );
    assert!(c.tx_queue > 0, "sender holds what did not fit: {c:?}");
    assert!(written >= limits.tcp_recv_buffer);

    // UDP: queued datagrams' bytes.
    let u = UdpSocket::bind(&stack, sa("127.0.0.1", 7102)).unwrap();
    let v = UdpSocket::bind(&stack, sa("127.0.0.1", 0)).unwrap();
    v.send_to(b"12345", sa("127.0.0.1", 7102)).unwrap();
    v.send_to(b"678", sa("127.0.0.1", 7102)).unwrap();
    assert!(eventually(WAIT, || row(
        &stack,
        sa("127.0.0.1", 7102),
        None
    )
    .unwrap()
    .rx_queue
        == 8));
    let r = row(&stack, sa("127.0.0.1", 7102), None).unwrap();
    assert_eq!(
        (r.kind, r.state, r.inode),
        (SocketKind::Udp, tcp_state::CLOSE, u.id().inode())
    );
    // Drain to let the connection end in order.
    let mut sink = vec![0u8; 64 * 1024];
    server
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    while server.read(&mut sink).is_ok_and(|n| n > 0) {}
}

#[test]
fn counters_after_a_scripted_exchange_equal_hand_computed_values() {
    let (a, b) = pair();
    let (a0, b0) = (a.statistics(), b.statistics());

    // UDP: two datagrams out, one answer back, one to a closed port.
    let server = UdpSocket::bind(&b, sa("0.0.0.0", 53)).unwrap();
    server.set_read_timeout(Some(WAIT)).unwrap();
    let client = UdpSocket::bind(&a, sa("0.0.0.0", 0)).unwrap();
    client.set_read_timeout(Some(WAIT)).unwrap();
    client.send_to(b"q1", sa(B_V4, 53)).unwrap();
    client.send_to(b"q2", sa(B_V4, 53)).unwrap();
    let mut buf = [0u8; 16];
    let (_, from) = server.recv_from(&mut buf).unwrap();
    server.recv_from(&mut buf).unwrap();
    server.send_to(b"a1", from).unwrap();
    client.recv_from(&mut buf).unwrap();
    let closed = UdpSocket::bind(&a, sa("0.0.0.0", 0)).unwrap();
    closed.set_read_timeout(Some(WAIT)).unwrap();
    closed.connect(sa(B_V4, 9)).unwrap();
    closed.send(b"x").unwrap();
    assert_eq!(
        closed.recv(&mut buf).unwrap_err().raw_os_error(),
        Some(libc::ECONNREFUSED)
    );
    // One IPv6 datagram (v6only: a dual-stack [::]:53 would clash with 0.0.0.0:53, as on Linux).
    let s6 = UdpSocket::bind_with(&b, sa("::", 53), true).unwrap();
    s6.set_read_timeout(Some(WAIT)).unwrap();
    UdpSocket::bind(&a, sa("::", 0))
        .unwrap()
        .send_to(b"q6", sa(B_V6, 53))
        .unwrap();
    s6.recv_from(&mut buf).unwrap();

    // ICMP: two pings.
    let p = PingSocket::new(&a, false).unwrap();
    p.set_read_timeout(Some(WAIT)).unwrap();
    for seq in 1..=2u8 {
        p.send_to(&[8, 0, 0, 0, 0, 0, 0, seq], B_V4.parse().unwrap())
            .unwrap();
        p.recv_from(&mut buf).unwrap();
    }

    // TCP: one refused, one completed and closed in order, one reset.
    let refused = TcpStream::connect(&a, sa(B_V4, 1)).unwrap_err();
    assert_eq!(refused.raw_os_error(), Some(libc::ECONNREFUSED));
    let listener = TcpListener::bind(&b, sa(B_V4, 80)).unwrap();
    let mut c = TcpStream::connect(&a, sa(B_V4, 80)).unwrap();
    let (mut s, _) = listener.accept().unwrap();
    assert_eq!(a.statistics().snmp.tcp.CurrEstab, 1);
    assert_eq!(b.statistics().snmp.tcp.CurrEstab, 1);
    c.write_all(b"GET").unwrap();
    s.read_exact(&mut buf[..3]).unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!(s.read(&mut buf).unwrap(), 0);
    drop(s);
    assert_eq!(c.read(&mut buf).unwrap(), 0);
    drop(c);
    let c = TcpStream::connect(&a, sa(B_V4, 80)).unwrap();
    let (mut s, _) = listener.accept().unwrap();
    s.write_all(b"unread").unwrap();
    assert!(eventually(WAIT, || row(&a, c.local_addr().unwrap(), None)
        .is_some_and(|r| r.rx_queue == 6)));
    drop(c); // unread data: a RST, not a FIN
    assert_eq!(
        s.read(&mut buf).unwrap_err().raw_os_error(),
        Some(libc::ECONNRESET)
    );
    assert!(eventually(WAIT, || a.statistics().snmp.tcp.CurrEstab == 0
        && b.statistics().snmp.tcp.CurrEstab == 0));

    // Let the last segments land before reading counters on both sides.
    assert!(eventually(WAIT, || {
        let (x, y) = (a.statistics().snmp.tcp, b.statistics().snmp.tcp);
        x.OutSegs - a0.snmp.tcp.OutSegs == y.InSegs - b0.snmp.tcp.InSegs
            && y.OutSegs - b0.snmp.tcp.OutSegs == x.InSegs - a0.snmp.tcp.InSegs
    }));
    let (a1, b1) = (a.statistics(), b.statistics());
    let d = |x: u64, y: u64| x - y;
    // UDP, as udp_recvmsg / udp_send_skb / __udp4_lib_rcv count.
    assert_eq!(d(a1.snmp.udp.OutDatagrams, a0.snmp.udp.OutDatagrams), 3);
    assert_eq!(d(a1.snmp.udp.InDatagrams, a0.snmp.udp.InDatagrams), 1);
    assert_eq!(d(b1.snmp.udp.InDatagrams, b0.snmp.udp.InDatagrams), 2);
    assert_eq!(d(b1.snmp.udp.OutDatagrams, b0.snmp.udp.OutDatagrams), 1);
    assert_eq!(d(b1.snmp.udp.NoPorts, b0.snmp.udp.NoPorts), 1);
    assert_eq!(
        d(b1.snmp6.udp6.Udp6InDatagrams, b0.snmp6.udp6.Udp6InDatagrams),
        1
    );
    assert_eq!(
        d(
            a1.snmp6.udp6.Udp6OutDatagrams,
            a0.snmp6.udp6.Udp6OutDatagrams
        ),
        1
    );
    assert_eq!(a1.snmp.udp.InErrors + b1.snmp.udp.InErrors, 0);
    // ICMP: the pings and the port unreachable.
    assert_eq!(d(a1.snmp.icmp.OutEchos, a0.snmp.icmp.OutEchos), 2);
    assert_eq!(d(a1.snmp.icmp.InEchoReps, a0.snmp.icmp.InEchoReps), 2);
    assert_eq!(d(b1.snmp.icmp.InEchos, b0.snmp.icmp.InEchos), 2);
    assert_eq!(d(b1.snmp.icmp.OutEchoReps, b0.snmp.icmp.OutEchoReps), 2);
    assert_eq!(
        d(b1.snmp.icmp.OutDestUnreachs, b0.snmp.icmp.OutDestUnreachs),
        1
    );
    assert_eq!(
        d(a1.snmp.icmp.InDestUnreachs, a0.snmp.icmp.InDestUnreachs),
        1
    );
    assert_eq!(d(a1.snmp.icmp.OutMsgs, a0.snmp.icmp.OutMsgs), 2);
    assert_eq!(d(a1.snmp.icmp.InMsgs, a0.snmp.icmp.InMsgs), 3);
    // TCP: three opens, one refused, one reset each side.
    let (ta, tb) = (a1.snmp.tcp, b1.snmp.tcp);
    assert_eq!(ta.ActiveOpens - a0.snmp.tcp.ActiveOpens, 3);
    assert_eq!(tb.PassiveOpens - b0.snmp.tcp.PassiveOpens, 2);
    assert_eq!(ta.AttemptFails - a0.snmp.tcp.AttemptFails, 1);
    assert_eq!(tb.AttemptFails - b0.snmp.tcp.AttemptFails, 0);
    assert_eq!(ta.EstabResets - a0.snmp.tcp.EstabResets, 1, "aborted");
    assert_eq!(tb.EstabResets - b0.snmp.tcp.EstabResets, 1, "reset by peer");
    assert_eq!(ta.OutRsts - a0.snmp.tcp.OutRsts, 1, "the abort");
    assert_eq!(tb.OutRsts - b0.snmp.tcp.OutRsts, 1, "the refusal");
    assert_eq!(
        a1.snmp.tcp_ext.TCPAbortOnClose - a0.snmp.tcp_ext.TCPAbortOnClose,
        1
    );
    assert_eq!((ta.CurrEstab, tb.CurrEstab), (0, 0));
    // A lossless link: what one sent the other received, nothing resent.
    assert_eq!(
        ta.OutSegs - a0.snmp.tcp.OutSegs,
        tb.InSegs - b0.snmp.tcp.InSegs
    );
    assert_eq!(
        tb.OutSegs - b0.snmp.tcp.OutSegs,
        ta.InSegs - a0.snmp.tcp.InSegs
    );
    assert_eq!(ta.RetransSegs + tb.RetransSegs, 0);
    assert_eq!(ta.InErrs + tb.InErrs, 0);
}
