//! Packet and byte throughput through the whole stack (sockets, poll thread,
//! smoltcp, links), between two stacks on an in-memory link and inside one
//! stack over lo.
//!
//!     cargo bench --bench throughput

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sandnet::netstack::{Link, PingSocket, Stack, TcpListener, TcpStream, UdpSocket};
use std::io::{Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr};
use std::time::Duration;

const BULK: usize = 64 << 20;

fn pair() -> (Stack, Stack) {
    let (la, lb) = Link::pipe();
    let (a, b) = (Stack::new().unwrap(), Stack::new().unwrap());
    let ia = a.add_nic("p0", la).unwrap();
    let ib = b.add_nic("p0", lb).unwrap();
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

fn tcp_bulk(c: &mut Criterion) {
    let mut g = c.benchmark_group("tcp_bulk");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Bytes(BULK as u64));
    let (a, b) = pair();
    let mut port = 10_000;
    g.bench_function("pipe_64MiB", |bench| {
        bench.iter(|| {
            port += 1;
            bulk_once(&a, &b, sa(&format!("10.1.0.2:{port}")));
        })
    });
    let one = Stack::new().unwrap();
    g.bench_function("loopback_64MiB", |bench| {
        bench.iter(|| {
            port += 1;
            bulk_once(&one, &one, sa(&format!("127.0.0.1:{port}")));
        })
    });
    g.finish();
}

fn tcp_request_response(c: &mut Criterion) {
    let (a, b) = pair();
    let listener = TcpListener::bind(&b, sa("10.1.0.2:7")).unwrap();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_nodelay(true).unwrap();
        let mut buf = [0u8; 64];
        while s.read_exact(&mut buf).is_ok() {
            s.write_all(&buf).unwrap();
        }
    });
    let mut c_ = TcpStream::connect(&a, sa("10.1.0.2:7")).unwrap();
    c_.set_nodelay(true).unwrap();
    let mut buf = [7u8; 64];
    c.bench_function("tcp_rr_64B_pipe", |bench| {
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

criterion_group!(
    benches,
    tcp_bulk,
    tcp_request_response,
    udp_datagrams,
    icmp_echo
);
criterion_main!(benches);
