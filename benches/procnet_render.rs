//! What rendering costs as tables grow: /proc/net/tcp at 10, 1k and 10k
//! sockets, and route and ipv6_route at 10 to 10k routes. Rendering should
//! grow linearly with rows (route sorts: n log n).
//!
//!     cargo bench --bench procnet_render

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sandnet::netstack::inet::{
    iff, rt_scope, rtprot, tcp_state, Interface, Route, RouteType, SocketInfo, SocketKind,
    TcpDetail, RT_TABLE_MAIN,
};
use sandnet::netstack::Snapshot;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

fn base() -> Snapshot {
    Snapshot {
        interfaces: vec![
            Interface {
                index: 1,
                name: "lo".into(),
                flags: iff::UP | iff::LOOPBACK | iff::RUNNING,
                mtu: 65536,
                link_type: 772,
                hw_addr: Some(vec![0; 6]),
                tx_queue_len: 1000,
                vnet_hdr: false,
            },
            Interface {
                index: 2,
                name: "eth0".into(),
                flags: iff::UP | iff::RUNNING | iff::NOARP,
                mtu: 1500,
                link_type: 65534,
                hw_addr: None,
                tx_queue_len: 500,
                vnet_hdr: false,
            },
        ],
        ..Snapshot::default()
    }
}

fn with_sockets(n: usize) -> Snapshot {
    let mut snap = base();
    snap.sockets = (0..n)
        .map(|i| {
            let listen = i % 10 == 0;
            SocketInfo {
                kind: SocketKind::Tcp,
                local: SocketAddr::new(
                    IpAddr::V4(Ipv4Addr::new(10, 0, (i >> 8) as u8, i as u8)),
                    if listen {
                        8080
                    } else {
                        40000 + (i % 20000) as u16
                    },
                ),
                remote: if listen {
                    SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0)
                } else {
                    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 1, 0, 1)), 443)
                },
                protocol: 6,
                state: if listen {
                    tcp_state::LISTEN
                } else {
                    tcp_state::ESTABLISHED
                },
                tx_queue: i as u32,
                rx_queue: (i * 3) as u32,
                uid: 1000,
                inode: 100_000 + i as u64,
                refcount: 2,
                drops: 0,
                tcp: Some(TcpDetail {
                    rto_ticks: 20,
                    ato_ticks: 4,
                    snd_cwnd: 10,
                    ..TcpDetail::default()
                }),
            }
        })
        .collect();
    snap
}

fn with_routes(n: usize) -> Snapshot {
    let mut snap = base();
    let route = |dst: IpAddr, prefix_len: u8, i: usize| Route {
        dst,
        prefix_len,
        gateway: None,
        oif: 2,
        metric: (i % 7) as u32,
        table: RT_TABLE_MAIN,
        kind: RouteType::Unicast,
        scope: rt_scope::UNIVERSE,
        protocol: rtprot::BOOT,
        prefsrc: None,
    };
    // Half IPv4, half IPv6, in reverse order so the renderers' sorts work.
    snap.routes = (0..n)
        .rev()
        .map(|i| {
            if i % 2 == 0 {
                route(
                    IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (i as u32) << 8)),
                    24,
                    i,
                )
            } else {
                let a = Ipv6Addr::from(0xfd00_u128 << 112 | (i as u128) << 64);
                route(IpAddr::V6(a), 64, i)
            }
        })
        .collect();
    snap
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("tcp");
    g.measurement_time(Duration::from_secs(3));
    for n in [10usize, 1_000, 10_000] {
        let snap = with_sockets(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &snap, |b, snap| {
            let mut out = String::new();
            b.iter(|| {
                out.clear();
                procnet::render_tcp(snap, &mut out);
                out.len()
            })
        });
    }
    g.finish();
    for (name, f) in [
        ("route", procnet::render_route as procnet::Renderer),
        ("ipv6_route", procnet::render_ipv6_route),
    ] {
        let mut g = c.benchmark_group(name);
        g.measurement_time(Duration::from_secs(3));
        for n in [10usize, 100, 1_000, 10_000] {
            let snap = with_routes(n);
            g.throughput(Throughput::Elements(n as u64));
            g.bench_with_input(BenchmarkId::from_parameter(n), &snap, |b, snap| {
                let mut out = String::new();
                b.iter(|| {
                    out.clear();
                    f(snap, &mut out);
                    out.len()
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
