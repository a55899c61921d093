//! Packet and byte throughput through the whole stack (sockets, poll thread,
//! smoltcp, links), between two stacks on an in-memory link and inside one
//! stack over lo; smoltcp's own loopback benchmark as the in-memory
//! reference; and, as root, against the host kernel over a TUN device in a
//! private network namespace, and the cost of one empty TUN read by read(2)
//! and by readv(2).
//!
//!     cargo bench --bench throughput

#[allow(dead_code)]
#[path = "../examples/tun_bench/kernel.rs"]
mod kernel;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use sandnet::netstack::os::netns::NetNs;
use sandnet::netstack::{Limits, Link, PingSocket, Stack, TcpListener, TcpStream, UdpSocket};
use std::io::{Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const BULK: usize = 64 << 20;

fn pair() -> (Stack, Stack) {
    pair_with_mtu(1500)
}

fn pair_with_mtu(mtu: u32) -> (Stack, Stack) {
    let (la, lb) = Link::pipe();
    let (a, b) = (Stack::new().unwrap(), Stack::new().unwrap());
    let ia = a.add_nic("p0", la).unwrap();
    let ib = b.add_nic("p0", lb).unwrap();
    a.set_mtu(ia, mtu).unwrap();
    b.set_mtu(ib, mtu).unwrap();
    a.add_address(ia, "10.1.0.1".parse().unwrap(), 24).unwrap();
    b.add_address(ib, "10.1.0.2".parse().unwrap(), 24).unwrap();
    (a, b)
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Moves `BULK` bytes from `client` to a server at `addr` on `server`, once.
fn bulk_once(client: &Stack, server: &Stack, addr: SocketAddr) {
    let listener = TcpListener::bind(server, addr).unwrap();
    let sink = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 256 << 10];
        let mut total = 0;
        loop {
            let n = s.read(&mut buf).unwrap();
            if n == 0 {
                return total;
            }
            total += n;
        }
    });
    let mut c = TcpStream::connect(client, addr).unwrap();
    let chunk = vec![0x5au8; 256 << 10];
    let mut left = BULK;
    while left > 0 {
        let n = left.min(chunk.len());
        c.write_all(&chunk[..n]).unwrap();
        left -= n;
    }
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!(sink.join().unwrap(), BULK);
}

/// `bulk_once` with the program reading and writing in place
/// (`TcpStream::read_with`, `write_with`): the reader consumes the received
/// bytes where they are, as smoltcp's loopback benchmark does, and the
/// writer fills the send buffer where it is (smoltcp's leaves it as it was).
fn bulk_in_place_once(client: &Stack, server: &Stack, addr: SocketAddr) {
    let listener = TcpListener::bind(server, addr).unwrap();
    let sink = std::thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        let mut total = 0;
        loop {
            let n = s.read_with(|data| data.len()).unwrap();
            if n == 0 {
                return total;
            }
            total += n;
        }
    });
    write_in_place(&TcpStream::connect(client, addr).unwrap());
    assert_eq!(sink.join().unwrap(), BULK);
}

/// Writes `BULK` bytes on `c` in place, filling its send buffer where it
/// is, then shuts its sending side.
fn write_in_place(c: &TcpStream) {
    let mut left = BULK;
    while left > 0 {
        // Offered the free space part by part: the count goes down in the
        // closure.
        c.write_with(|free| {
            let n = free.len().min(left);
            free[..n].fill(0x5a);
            left -= n;
            n
        })
        .unwrap();
    }
    c.shutdown(Shutdown::Write).unwrap();
}

/// Accepts one connection on a thread and counts what it receives through a
/// receive sink (bytes that came before the sink was set are read), to the
/// end of the stream.
fn receive_into_sink(listener: TcpListener) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        let total = Arc::new(AtomicUsize::new(0));
        let counted = total.clone();
        s.set_receive_sink(move |data| {
            counted.fetch_add(data.len(), Ordering::Relaxed);
            data.len()
        })
        .unwrap();
        let mut buf = [0u8; 4096];
        let mut read = 0;
        loop {
            match (&s).read(&mut buf).unwrap() {
                0 => return read + total.load(Ordering::Relaxed),
                n => read += n,
            }
        }
    })
}

/// `bulk_in_place_once` with the receiver's bytes going to a sink that the
/// poll thread calls in the round (`TcpStream::set_receive_sink`): the
/// receiving program needs no thread of its own, as smoltcp's loop needs none.
fn bulk_sink_once(client: &Stack, server: &Stack, addr: SocketAddr) {
    let sink = receive_into_sink(TcpListener::bind(server, addr).unwrap());
    write_in_place(&TcpStream::connect(client, addr).unwrap());
    assert_eq!(sink.join().unwrap(), BULK);
}

/// `bulk_sink_once` with the sender's bytes coming from a source that the
/// poll thread asks in the round (`TcpStream::set_send_source`): no program
/// thread takes part in the transfer, as in smoltcp's loop.
fn bulk_sink_source_once(client: &Stack, server: &Stack, addr: SocketAddr) {
    let sink = receive_into_sink(TcpListener::bind(server, addr).unwrap());
    let c = TcpStream::connect(client, addr).unwrap();
    let (done, all_given) = std::sync::mpsc::channel();
    let mut left = BULK;
    c.set_send_source(move |free| {
        let n = free.len().min(left);
        free[..n].fill(0x5a);
        left -= n;
        if left == 0 && n > 0 {
            let _ = done.send(());
        }
        n
    })
    .unwrap();
    all_given.recv().unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!(sink.join().unwrap(), BULK);
}

/// A transfer inside one fresh stack over lo, 127.0.0.1 to itself, moved by
/// `once`; the stack is returned so that its teardown is not timed.
fn loopback(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    once: fn(&Stack, &Stack, SocketAddr),
) {
    g.bench_function(name, |bench| {
        bench.iter_batched(
            || Stack::new().unwrap(),
            |one| {
                once(&one, &one, sa("127.0.0.1:10000"));
                one
            },
            BatchSize::PerIteration,
        )
    });
}

/// Each transfer gets new stacks: a stack keeps every closed connection for
/// TIME_WAIT, and until it parks them (after a second unchanged) smoltcp
/// visits each in every poll, so a stack reused across hundreds of
/// iterations would measure its backlog of closed connections as much as
/// the transfer (`bulk_cost`'s IDLE argument measures that cost on its own).
fn tcp_bulk(c: &mut Criterion) {
    let mut g = c.benchmark_group("tcp_bulk");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Bytes(BULK as u64));
    let addr = sa("10.1.0.2:10000");
    // The stacks are returned so that their teardown is not timed.
    g.bench_function("pipe_64MiB", |bench| {
        bench.iter_batched(
            pair,
            |(a, b)| {
                bulk_once(&a, &b, addr);
                (a, b)
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("pipe_mtu65535_64MiB", |bench| {
        bench.iter_batched(
            || pair_with_mtu(65535),
            |(a, b)| {
                bulk_once(&a, &b, addr);
                (a, b)
            },
            BatchSize::PerIteration,
        )
    });
    loopback(&mut g, "loopback_64MiB", bulk_once);
    loopback(&mut g, "loopback_in_place_64MiB", bulk_in_place_once);
    loopback(&mut g, "loopback_sink_64MiB", bulk_sink_once);
    loopback(&mut g, "loopback_sink_source_64MiB", bulk_sink_source_once);
    // The same with 256 KiB buffers, what a connection gets once a quarter of
    // the stack's buffer budget is reserved (an empty stack gives 1 MiB): each
    // hand-off between the writer, the poll thread and the reader carries a
    // quarter as much (docs/PERFORMANCE-LOG.md, "In memory, the first tables").
    g.bench_function("loopback_256KiB_buffers_64MiB", |bench| {
        bench.iter_batched(
            || {
                let one = Stack::new().unwrap();
                one.set_limits(Limits {
                    tcp_recv_buffer_max: 0,
                    tcp_send_buffer_max: 0,
                    ..one.limits()
                })
                .unwrap();
                one
            },
            |one| {
                bulk_once(&one, &one, sa("127.0.0.1:10000"));
                one
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

/// smoltcp's examples/loopback_benchmark.rs as it ships (two sockets with
/// 64 KiB buffers on one interface over its Loopback device, one thread),
/// except the IP medium: the in-memory ceiling for smoltcp itself.
fn smoltcp_loopback_once() {
    smoltcp_loopback_with(65536, false)
}

/// The same with `buffer` bytes per socket buffer; with `copy`, the loop's
/// program copies what it receives into a 256 KiB buffer of its own and
/// sends from one, as `bulk_once`'s reader and writer do through `Read`
/// and `Write` (the reference for `loopback_64MiB`).
fn smoltcp_loopback_with(buffer: usize, copy: bool) {
    use smoltcp::iface::{Config, Interface, SocketSet};
    use smoltcp::phy::{Loopback, Medium};
    use smoltcp::socket::tcp;
    use smoltcp::time::Instant;
    use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};

    let mut device = Loopback::new(Medium::Ip);
    let mut iface = Interface::new(
        Config::new(HardwareAddress::Ip),
        &mut device,
        Instant::now(),
    );
    iface.update_ip_addrs(|a| {
        a.push(IpCidr::new(IpAddress::v4(127, 0, 0, 1), 8)).unwrap();
    });
    let socket = || {
        let mut s = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; buffer]),
            tcp::SocketBuffer::new(vec![0; buffer]),
        );
        // As it ships: without the Reno and Cubic features that this
        // workspace enables for sandnet, smoltcp has no congestion control.
        s.set_congestion_control(tcp::CongestionControl::None);
        s
    };
    let mut sockets = SocketSet::new(vec![]);
    let server = sockets.add(socket());
    let client = sockets.add(socket());
    sockets.get_mut::<tcp::Socket>(server).listen(1234).unwrap();
    let cx = iface.context();
    sockets
        .get_mut::<tcp::Socket>(client)
        .connect(cx, (IpAddress::v4(127, 0, 0, 1), 1234), 65000)
        .unwrap();
    let (mut sent, mut received) = (0, 0);
    let mut program = vec![0x5au8; 256 << 10];
    while received < BULK {
        iface.poll(Instant::now(), &mut device, &mut sockets);
        let s = sockets.get_mut::<tcp::Socket>(server);
        while s.can_recv() {
            received += if copy {
                s.recv_slice(&mut program).unwrap()
            } else {
                s.recv(|b| (b.len(), b.len())).unwrap()
            };
        }
        let c = sockets.get_mut::<tcp::Socket>(client);
        while sent < BULK && c.can_send() {
            let want = BULK - sent;
            sent += if copy {
                c.send_slice(&program[..want.min(program.len())]).unwrap()
            } else {
                c.send(|b| {
                    let n = b.len().min(want);
                    (n, n)
                })
                .unwrap()
            };
        }
    }
}

fn smoltcp_reference(c: &mut Criterion) {
    let mut g = c.benchmark_group("tcp_bulk");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Bytes(BULK as u64));
    g.bench_function("smoltcp_loopback_64MiB", |bench| {
        bench.iter(smoltcp_loopback_once)
    });
    // With the buffers `loopback_64MiB`'s connection gets: the same loop
    // then pays the first touch of 1 MiB buffers and copies that no longer
    // stay in the core's cache.
    g.bench_function("smoltcp_loopback_1MiB_buffers_64MiB", |bench| {
        bench.iter(|| smoltcp_loopback_with(1 << 20, false))
    });
    // With the copies a program behind Read and Write makes, and the
    // buffers `loopback_64MiB`'s connection gets.
    g.bench_function("smoltcp_loopback_copy_1MiB_buffers_64MiB", |bench| {
        bench.iter(|| smoltcp_loopback_with(1 << 20, true))
    });
    g.finish();
}

/// A sandnet stack behind a TUN device in a private namespace; the kernel at
/// 10.80.0.1, the stack at 10.80.0.2.
struct TunPeer {
    stack: Stack,
    ns: NetNs,
}

fn tun_peer() -> Option<TunPeer> {
    if sandnet::netstack::os::geteuid() != 0 || !std::path::Path::new("/dev/net/tun").exists() {
        eprintln!("SKIPPED tun benchmarks: they need root and /dev/net/tun (a TUN device in a private network namespace)");
        return None;
    }
    let ns = NetNs::new().unwrap();
    let link = ns.run(|| Link::tun("sn0")).unwrap();
    ns.ip(&["addr", "add", "10.80.0.1/24", "dev", "sn0"])
        .unwrap();
    ns.ip(&["link", "set", "sn0", "up"]).unwrap();
    ns.run(|| std::fs::write("/proc/sys/net/ipv4/ping_group_range", "0 2147483647"))
        .unwrap();
    let stack = Stack::new().unwrap();
    let nic = stack.add_nic("sn0", link).unwrap();
    stack
        .add_address(nic, "10.80.0.2".parse().unwrap(), 24)
        .unwrap();
    Some(TunPeer { stack, ns })
}

fn tun(c: &mut Criterion) {
    let Some(peer) = tun_peer() else { return };
    let mut g = c.benchmark_group("tun");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Bytes(BULK as u64));
    let mut port = 20_000;
    g.bench_function("kernel_to_stack_64MiB", |bench| {
        bench.iter(|| {
            port += 1;
            let addr = sa(&format!("10.80.0.2:{port}"));
            let listener = TcpListener::bind(&peer.stack, addr).unwrap();
            let conn = kernel::connect(&peer.ns, addr);
            let sender = std::thread::spawn(move || kernel::send_all(conn, BULK as u64));
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = vec![0u8; 256 << 10];
            let mut got = 0;
            while got < BULK {
                let n = s.read(&mut buf).unwrap();
                assert!(n > 0, "stream ended after {got} bytes");
                got += n;
            }
            sender.join().unwrap().unwrap();
        })
    });
    g.bench_function("stack_to_kernel_64MiB", |bench| {
        bench.iter(|| {
            port += 1;
            let addr = sa(&format!("10.80.0.1:{port}"));
            let listener = kernel::listen(&peer.ns, addr);
            let sink = std::thread::spawn(move || kernel::drain(listener.accept().unwrap().0));
            let mut c = TcpStream::connect(&peer.stack, addr).unwrap();
            let chunk = vec![0x5au8; 256 << 10];
            let mut left = BULK;
            while left > 0 {
                let n = left.min(chunk.len());
                c.write_all(&chunk[..n]).unwrap();
                left -= n;
            }
            c.shutdown(Shutdown::Write).unwrap();
            assert_eq!(sink.join().unwrap().unwrap(), BULK as u64);
        })
    });
    g.finish();

    // The kernel pings the stack: ICMP echo through the TUN and the stack's
    // automatic echo reply.
    let ping = peer
        .ns
        .run(|| {
            socket2::Socket::new(
                socket2::Domain::IPV4,
                socket2::Type::DGRAM,
                Some(socket2::Protocol::ICMPV4),
            )
            .map(std::net::UdpSocket::from)
        })
        .unwrap();
    ping.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    ping.connect(sa("10.80.0.2:0")).unwrap();
    let mut seq = 0u16;
    let mut buf = [0u8; 128];
    c.bench_function("tun/kernel_ping_round_trip", |bench| {
        bench.iter(|| {
            seq = seq.wrapping_add(1);
            let mut m = [0u8; 64];
            m[0] = 8;
            m[6..8].copy_from_slice(&seq.to_be_bytes());
            ping.send(&m).unwrap();
            // A reply to an earlier, timed-out request is skipped.
            loop {
                let n = ping.recv(&mut buf).unwrap();
                if n >= 8 && buf[6..8] == seq.to_be_bytes() {
                    break;
                }
            }
        })
    });
}

/// 64-byte request and response between two stacks over an in-memory
/// link, and between two threads of one program over the stack's lo.
fn tcp_request_response(c: &mut Criterion) {
    let (a, b) = pair();
    rr(c, "tcp_rr_64B_pipe", &a, &b, sa("10.1.0.2:7"));
    let one = Stack::new().unwrap();
    rr(c, "tcp_rr_64B_lo", &one, &one, sa("127.0.0.1:7"));
}

fn rr(c: &mut Criterion, name: &str, client: &Stack, server: &Stack, addr: SocketAddr) {
    let listener = TcpListener::bind(server, addr).unwrap();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_nodelay(true).unwrap();
        let mut buf = [0u8; 64];
        while s.read_exact(&mut buf).is_ok() {
            s.write_all(&buf).unwrap();
        }
    });
    let mut c_ = TcpStream::connect(client, addr).unwrap();
    c_.set_nodelay(true).unwrap();
    let mut buf = [7u8; 64];
    c.bench_function(name, |bench| {
        bench.iter(|| {
            c_.write_all(&buf).unwrap();
            c_.read_exact(&mut buf).unwrap();
        })
    });
}

fn udp_datagrams(c: &mut Criterion) {
    let mut g = c.benchmark_group("udp_datagrams");
    let (a, b) = pair();
    let rx = UdpSocket::bind(&b, sa("10.1.0.2:9000")).unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let tx = UdpSocket::bind(&a, sa("0.0.0.0:0")).unwrap();
    tx.connect(sa("10.1.0.2:9000")).unwrap();
    // A burst the receiver's queue holds whole, so none is dropped.
    const BURST: u64 = 100;
    for size in [64usize, 1400] {
        g.throughput(Throughput::Elements(BURST));
        let data = vec![1u8; size];
        let mut buf = vec![0u8; 2048];
        g.bench_with_input(BenchmarkId::from_parameter(size), &size, |bench, _| {
            bench.iter(|| {
                for _ in 0..BURST {
                    tx.send(&data).unwrap();
                }
                for _ in 0..BURST {
                    rx.recv(&mut buf).unwrap();
                }
            })
        });
    }
    g.finish();
}

fn icmp_echo(c: &mut Criterion) {
    let (a, _b) = pair();
    let p = PingSocket::new(&a, false).unwrap();
    p.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let dst: IpAddr = "10.1.0.2".parse().unwrap();
    let mut seq = 0u16;
    let mut buf = [0u8; 128];
    c.bench_function("icmp_echo_round_trip_pipe", |bench| {
        bench.iter(|| {
            seq = seq.wrapping_add(1);
            let mut m = vec![8, 0, 0, 0, 0, 0];
            m.extend_from_slice(&seq.to_be_bytes());
            m.extend_from_slice(&[0u8; 56]);
            p.send_to(&m, dst).unwrap();
            p.recv_from(&mut buf).unwrap();
        })
    });
}

/// The cost of one TUN read that finds the device empty (each exchange of
/// request/response makes one), by read(2) with the virtio-net header in the
/// packet's buffer against readv(2) with it apart (`os::tun::MOVED_MAX`): the
/// difference is the kernel's import of the iovec array.
fn tun_device(c: &mut Criterion) {
    use sandnet::netstack::os::tun::{self, VNET_HDR_LEN};
    use std::os::fd::AsRawFd;
    if sandnet::netstack::os::geteuid() != 0 || !std::path::Path::new("/dev/net/tun").exists() {
        eprintln!("SKIPPED tun_device benchmarks: they need root and /dev/net/tun (a TUN device in a private network namespace)");
        return;
    }
    let ns = NetNs::new().unwrap();
    // Down, so that nothing (IPv6's router solicitations) ever arrives.
    let (fd, _) = ns.run(|| tun::open("snrd0", true)).unwrap();
    let mut g = c.benchmark_group("tun_device");
    for (name, small) in [("read_empty_read", true), ("read_empty_readv", false)] {
        let mut buf = Vec::with_capacity(65_575);
        let mut hdr = [0u8; VNET_HDR_LEN];
        g.bench_function(name, |bench| {
            bench.iter(|| {
                let e = tun::read_packet(fd.as_raw_fd(), Some(&mut hdr), &mut buf, small);
                assert_eq!(e.unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
            })
        });
    }
    g.finish();
    drop(fd);
    drop(ns);
}

criterion_group!(
    benches,
    tcp_bulk,
    smoltcp_reference,
    tcp_request_response,
    udp_datagrams,
    icmp_echo,
    tun,
    tun_device
);
criterion_main!(benches);
