//! The stack's sockets with the host kernel as the peer, over a TUN in a
//! private network namespace (root only; see support/kernel.rs).

mod support;

use sandnet::netstack::{PingSocket, TcpListener, TcpStream, UdpSocket};
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr};
use std::time::Duration;
use support::data::{recv_stream, send_stream};
use support::kernel::{ip, tun_bed, KERNEL_V4, KERNEL_V6, STACK_V4, STACK_V6};

const BULK: usize = 64 << 20;

/// The kernel queues what every TUN injects on one per-CPU backlog
/// (netdev_max_backlog) shared by all namespaces: a 64 MiB transfer in one
/// test can make the kernel drop another test's single ping. These tests
/// therefore run one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn sa(addr: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip(addr), port)
}

/// Sends `BULK` bytes each way at once over a connected pair of streams and
/// checks both directions' digests.
fn both_ways<A, B>(a: A, b: B)
where
    A: ShutWrite + Send + Sync + 'static,
    B: ShutWrite + Send + Sync + 'static,
    for<'x> &'x A: Read + Write,
    for<'x> &'x B: Read + Write,
{
    let a = std::sync::Arc::new(a);
    let b = std::sync::Arc::new(b);
    let (a2, b2) = (a.clone(), b.clone());
    let a_reader = std::thread::spawn(move || recv_stream(&*a2).unwrap());
    let b_reader = std::thread::spawn(move || recv_stream(&*b2).unwrap());
    let (a3, b3) = (a.clone(), b.clone());
    let a_writer = std::thread::spawn(move || send_stream(&*a3, 1, BULK).unwrap());
    let b_writer = std::thread::spawn(move || send_stream(&*b3, 2, BULK).unwrap());
    let sent_a = a_writer.join().unwrap();
    let sent_b = b_writer.join().unwrap();
    // Both writers are done: end both directions.
    a.shut_write();
    b.shut_write();
    let (n_b, got_b) = b_reader.join().unwrap();
    let (n_a, got_a) = a_reader.join().unwrap();
    assert_eq!((n_b, got_b), (BULK, sent_a), "a -> b intact");
    assert_eq!((n_a, got_a), (BULK, sent_b), "b -> a intact");
}

/// shutdown(Write) on either kind of stream.
trait ShutWrite {
    fn shut_write(&self);
}

impl ShutWrite for TcpStream {
    fn shut_write(&self) {
        self.shutdown(Shutdown::Write).unwrap();
    }
}

impl ShutWrite for std::net::TcpStream {
    fn shut_write(&self) {
        self.shutdown(Shutdown::Write).unwrap();
    }
}

#[test]
fn stack_client_moves_64_mib_both_ways_with_a_kernel_server() {
    let _serial = serial();
    let Some(bed) = tun_bed("stack_client_moves_64_mib_both_ways_with_a_kernel_server") else {
        return;
    };
    let listener = bed.kernel_listen(sa(KERNEL_V4, 5001));
    let server = std::thread::spawn(move || listener.accept().unwrap().0);
    let client = TcpStream::connect(&bed.stack, sa(KERNEL_V4, 5001)).unwrap();
    assert_eq!(client.local_addr().unwrap().ip(), ip(STACK_V4));
    let server = server.join().unwrap();
    assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
    both_ways(client, server);
}

#[test]
fn kernel_client_moves_64_mib_both_ways_with_a_stack_server_over_ipv6() {
    let _serial = serial();
    let Some(bed) = tun_bed("kernel_client_moves_64_mib_both_ways_with_a_stack_server_over_ipv6")
    else {
        return;
    };
    let listener = TcpListener::bind(&bed.stack, sa("::", 5002)).unwrap();
    let stack_side = std::thread::spawn(move || listener.accept().unwrap());
    let client = bed.kernel_connect(sa(STACK_V6, 5002)).unwrap();
    let (server, peer) = stack_side.join().unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    assert_eq!(server.local_addr().unwrap(), sa(STACK_V6, 5002));
    both_ways(server, client);
}

#[test]
fn a_hundred_kernel_clients_at_once_are_all_served() {
    let _serial = serial();
    let Some(bed) = tun_bed("a_hundred_kernel_clients_at_once_are_all_served") else {
        return;
    };
    let listener = TcpListener::bind(&bed.stack, sa("0.0.0.0", 5003)).unwrap();
    let server = std::thread::spawn(move || {
        let mut handlers = Vec::new();
        for _ in 0..100 {
            let (mut s, _) = listener.accept().unwrap();
            handlers.push(std::thread::spawn(move || {
                let mut buf = [0u8; 64];
                let n = s.read(&mut buf).unwrap();
                s.write_all(&buf[..n]).unwrap();
            }));
        }
        for h in handlers {
            h.join().unwrap();
        }
    });
    // Make every socket first, then connect them all at the same moment.
    let sockets: Vec<_> = (0..100)
        .map(|_| bed.kernel_socket(false, socket2::Type::STREAM))
        .collect();
    let start = std::sync::Arc::new(std::sync::Barrier::new(100));
    let clients: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                s.connect(&sa(STACK_V4, 5003).into()).unwrap();
                let mut s: std::net::TcpStream = s.into();
                let msg = format!("client {i}");
                s.write_all(msg.as_bytes()).unwrap();
                let mut buf = vec![0u8; msg.len()];
                s.read_exact(&mut buf).unwrap();
                assert_eq!(buf, msg.as_bytes());
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    server.join().unwrap();
    assert_eq!(bed.stack.statistics().snmp.tcp.PassiveOpens, 100);
}

#[test]
fn a_reset_answer_is_connection_refused() {
    let _serial = serial();
    let Some(bed) = tun_bed("a_reset_answer_is_connection_refused") else {
        return;
    };
    let before = bed.stack.statistics().snmp.tcp;
    let err = TcpStream::connect(&bed.stack, sa(KERNEL_V4, 5999)).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ECONNREFUSED));
    let err = TcpStream::connect(&bed.stack, sa(KERNEL_V6, 5999)).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ECONNREFUSED));
    let after = bed.stack.statistics().snmp.tcp;
    assert_eq!(after.ActiveOpens - before.ActiveOpens, 2);
    assert_eq!(after.AttemptFails - before.AttemptFails, 2);
    assert_eq!(after.InSegs - before.InSegs, 2, "two RSTs in");
    assert_eq!(after.OutSegs - before.OutSegs, 2, "two SYNs out");
}

#[test]
fn half_close_works_both_ways() {
    let _serial = serial();
    let Some(bed) = tun_bed("half_close_works_both_ways") else {
        return;
    };
    // The stack closes first: the kernel still answers after reading EOF.
    let listener = bed.kernel_listen(sa(KERNEL_V4, 5004));
    let kernel = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        s.write_all(b"reply after your FIN").unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        got
    });
    let mut c = TcpStream::connect(&bed.stack, sa(KERNEL_V4, 5004)).unwrap();
    c.write_all(b"request").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!(
        c.write(b"more").unwrap_err().raw_os_error(),
        Some(libc::EPIPE)
    );
    let mut reply = Vec::new();
    c.read_to_end(&mut reply).unwrap();
    assert_eq!(reply, b"reply after your FIN");
    assert_eq!(kernel.join().unwrap(), b"request");

    // The kernel closes first: the stack answers after reading EOF.
    let listener = TcpListener::bind(&bed.stack, sa(STACK_V4, 5005)).unwrap();
    let stack_side = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        s.write_all(b"stack reply").unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        got
    });
    let mut k = bed.kernel_connect(sa(STACK_V4, 5005)).unwrap();
    k.write_all(b"kernel request").unwrap();
    k.shutdown(Shutdown::Write).unwrap();
    let mut reply = Vec::new();
    k.read_to_end(&mut reply).unwrap();
    assert_eq!(reply, b"stack reply");
    assert_eq!(stack_side.join().unwrap(), b"kernel request");
}

/// A DNS query for `name` (type A, class IN), id 0x5a17.
fn dns_query(name: &str) -> Vec<u8> {
    let mut q = vec![0x5a, 0x17, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

#[test]
fn udp_dns_query_to_a_kernel_server_and_its_answer() {
    let _serial = serial();
    let Some(bed) = tun_bed("udp_dns_query_to_a_kernel_server_and_its_answer") else {
        return;
    };
    let server = bed.kernel_udp(sa(KERNEL_V4, 53));
    let s = UdpSocket::bind(&bed.stack, sa("0.0.0.0", 0)).unwrap();
    s.connect(sa(KERNEL_V4, 53)).unwrap();
    let route = bed.stack.route_get(ip(KERNEL_V4), None).unwrap();
    let local = s.local_addr().unwrap();
    assert_eq!(
        local.ip(),
        route.prefsrc,
        "local_addr is route_get's source"
    );
    assert!((32768..=60999).contains(&local.port()), "{local}");

    let query = dns_query("sandnet.test");
    s.send(&query).unwrap();
    let mut buf = [0u8; 512];
    let (n, from) = server.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], &query[..], "the query arrives whole");
    assert_eq!(from, local, "from the address local_addr reported");
    // Answer: same id, QR set, one A record 10.9.0.53.
    let mut answer = buf[..n].to_vec();
    answer[2] |= 0x80;
    answer[7] = 1;
    answer.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 9, 0, 53]);
    server.send_to(&answer, from).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let n = s.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], &answer[..]);
    assert_eq!(bed.stack.statistics().snmp.udp.InDatagrams, 1);
    assert_eq!(bed.stack.statistics().snmp.udp.OutDatagrams, 1);
}

#[test]
fn a_kernel_datagram_to_a_closed_stack_port_is_refused() {
    let _serial = serial();
    let Some(bed) = tun_bed("a_kernel_datagram_to_a_closed_stack_port_is_refused") else {
        return;
    };
    let before = bed.stack.statistics();
    let k = bed.kernel_udp(sa(KERNEL_V4, 0));
    k.connect(sa(STACK_V4, 4444)).unwrap();
    k.send(b"anyone?").unwrap();
    let mut buf = [0u8; 16];
    let err = k.recv(&mut buf).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    let after = bed.stack.statistics();
    assert_eq!(after.snmp.udp.NoPorts, before.snmp.udp.NoPorts + 1);
    assert_eq!(
        after.snmp.icmp.OutDestUnreachs,
        before.snmp.icmp.OutDestUnreachs + 1
    );

    // And the other way: the stack's connected socket learns ECONNREFUSED.
    let s = UdpSocket::bind(&bed.stack, sa("0.0.0.0", 0)).unwrap();
    s.connect(sa(KERNEL_V4, 4445)).unwrap();
    s.send(b"anyone?").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let err = s.recv(&mut buf).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ECONNREFUSED));
}

fn ping(bed: &support::kernel::TunBed, dst: IpAddr) {
    let v6 = dst.is_ipv6();
    let p = PingSocket::new(&bed.stack, v6).unwrap();
    p.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for seq in 1..=3u16 {
        let mut msg = vec![if v6 { 128 } else { 8 }, 0, 0, 0, 0, 0];
        msg.extend_from_slice(&seq.to_be_bytes());
        msg.extend_from_slice(b"sandnet ping payload");
        p.send_to(&msg, dst).unwrap();
        let mut buf = [0u8; 128];
        let (n, from) = p.recv_from(&mut buf).unwrap();
        assert_eq!(from, dst);
        assert_eq!(buf[0], if v6 { 129 } else { 0 }, "an echo reply");
        let ident = p.local_addr().unwrap().port();
        assert_eq!(u16::from_be_bytes([buf[4], buf[5]]), ident);
        assert_eq!(u16::from_be_bytes([buf[6], buf[7]]), seq);
        assert_eq!(&buf[8..n], b"sandnet ping payload");
    }
}

#[test]
fn the_stack_pings_the_kernel_v4_and_v6() {
    let _serial = serial();
    let Some(bed) = tun_bed("the_stack_pings_the_kernel_v4_and_v6") else {
        return;
    };
    ping(&bed, ip(KERNEL_V4));
    ping(&bed, ip(KERNEL_V6));
    let s = bed.stack.statistics();
    assert_eq!(s.snmp.icmp.OutEchos, 3);
    assert_eq!(s.snmp.icmp.InEchoReps, 3);
    assert_eq!(s.snmp6.icmp6.Icmp6OutEchos, 3);
    assert_eq!(s.snmp6.icmp6.Icmp6InEchoReplies, 3);
}
