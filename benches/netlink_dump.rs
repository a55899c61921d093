//! What answering NETLINK_ROUTE requests costs: a link dump, a route dump at
//! 10 and 1000 routes, an address dump, and a route lookup, each from a live
//! stack (table copy included).
//!
//!     cargo bench --bench netlink_dump

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use sandnet::netlink::nlmsg::{Header, NLM_F_DUMP, NLM_F_REQUEST};
use sandnet::netlink::Responder;
use sandnet::netstack::{Link, RouteSpec, Stack};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

fn req(ty: u16, flags: u16, body: &[u8]) -> Vec<u8> {
    let mut v = Header {
        len: (16 + body.len()) as u32,
        ty,
        flags,
        seq: 1,
        pid: 0,
    }
    .to_bytes()
    .to_vec();
    v.extend_from_slice(body);
    v
}

fn stack(routes: usize) -> (Stack, Link) {
    let stack = Stack::new().unwrap();
    let (a, far) = Link::pipe();
    let i = stack.add_nic("eth0", a).unwrap();
    stack
        .add_address(i, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 24)
        .unwrap();
    stack
        .add_address(i, "fd00::2".parse().unwrap(), 64)
        .unwrap();
    for n in 0..routes {
        let dst = IpAddr::V4(Ipv4Addr::new(
            172,
            16 + (n >> 16) as u8,
            (n >> 8) as u8,
            n as u8,
        ));
        stack
            .add_route(RouteSpec::new(dst, 32).via(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))))
            .unwrap();
    }
    (stack, far)
}

fn bench(c: &mut Criterion) {
    let dump = NLM_F_REQUEST | NLM_F_DUMP;
    let mut g = c.benchmark_group("netlink");
    g.measurement_time(Duration::from_secs(3));
    let (s, _far) = stack(10);
    let r = Responder::new(s);
    g.bench_function("link dump (lo + 1 TUN)", |b| {
        b.iter(|| r.handle(&req(18, dump, &[0; 16])))
    });
    g.bench_function("address dump (4 addresses)", |b| {
        b.iter(|| r.handle(&req(22, dump, &[0; 8])))
    });
    let mut get = vec![2, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    get.extend_from_slice(&[8, 0, 1, 0, 8, 8, 8, 8]);
    g.bench_function("route lookup", |b| {
        b.iter(|| r.handle(&req(26, NLM_F_REQUEST, &get)))
    });
    for n in [10usize, 1000] {
        let (s, _far) = stack(n);
        let r = Responder::new(s);
        g.bench_with_input(BenchmarkId::new("route dump", n), &n, |b, _| {
            b.iter(|| r.handle(&req(26, dump, &[0; 12])))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
