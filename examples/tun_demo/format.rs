//! tun_demo's output in the formats of the tools people know: `ping`
//! (iputils) and `ip route get` (iproute2), plus the live status line.

use sandnet::netstack::inet::{tcp_state, DevStats, SocketInfo, SocketKind, RT_TABLE_MAIN};
use sandnet::netstack::{RouteAnswer, RouteType};
use std::io;
use std::net::IpAddr;
use std::time::Duration;

/// ping's first line: `PING 10.233.0.1 (10.233.0.1) 56(84) bytes of data.`
/// (`56 data bytes` for IPv6, as ping prints it there).
pub fn ping_header(dst: IpAddr, data_len: usize) -> String {
    match dst {
        IpAddr::V4(_) => format!(
            "PING {dst} ({dst}) {data_len}({}) bytes of data.",
            data_len + 28
        ),
        IpAddr::V6(_) => format!("PING {dst} ({dst}) {data_len} data bytes"),
    }
}

/// A round-trip time as ping prints it: three digits after the point under
/// 1 ms, then fewer as it grows (iputils' precision steps).
pub fn rtt(t: Duration) -> String {
    let us = t.as_micros();
    if us >= 100_000 - 50 {
        format!("{}", (us + 500) / 1000)
    } else if us >= 10_000 - 5 {
        let tenths = (us + 50) / 100;
        format!("{}.{}", tenths / 10, tenths % 10)
    } else if us >= 1000 {
        let hundredths = (us + 5) / 10;
        format!("{}.{:02}", hundredths / 100, hundredths % 100)
    } else {
        format!("{}.{:03}", us / 1000, us % 1000)
    }
}

/// `64 bytes from 10.233.0.1: icmp_seq=1 ttl=64 time=0.123 ms`
pub fn ping_reply(bytes: usize, from: IpAddr, seq: u16, ttl: u8, t: Duration) -> String {
    format!(
        "{bytes} bytes from {from}: icmp_seq={seq} ttl={ttl} time={} ms",
        rtt(t)
    )
}

/// ping's closing lines.
pub fn ping_summary(dst: IpAddr, sent: u32, rtts: &[Duration], elapsed: Duration) -> String {
    let received = rtts.len() as u32;
    let loss = if sent == 0 {
        0.0
    } else {
        f64::from(sent - received) * 100.0 / f64::from(sent)
    };
    let mut s = format!(
        "--- {dst} ping statistics ---\n\
         {sent} packets transmitted, {received} received, {}% packet loss, time {}ms\n",
        percent(loss),
        elapsed.as_millis()
    );
    if !rtts.is_empty() {
        let us: Vec<f64> = rtts.iter().map(|t| t.as_micros() as f64).collect();
        let n = us.len() as f64;
        let min = us.iter().cloned().fold(f64::INFINITY, f64::min);
        let max = us.iter().cloned().fold(0.0, f64::max);
        let avg = us.iter().sum::<f64>() / n;
        let mdev = (us.iter().map(|x| x * x).sum::<f64>() / n - avg * avg)
            .max(0.0)
            .sqrt();
        let ms = |x: f64| format!("{:.3}", x / 1000.0);
        s.push_str(&format!(
            "rtt min/avg/max/mdev = {}/{}/{}/{} ms\n",
            ms(min),
            ms(avg),
            ms(max),
            ms(mdev)
        ));
    }
    s
}

/// A percentage as C's `%g` prints it (six significant digits, no trailing zeros).
fn percent(p: f64) -> String {
    let digits = if p >= 100.0 {
        3
    } else if p >= 10.0 {
        4
    } else {
        5
    };
    let s = format!("{p:.digits$}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// iproute2's name for a route protocol (rtnl_rtprot_n2a).
fn proto_name(p: u8) -> String {
    match p {
        0 => "unspec".into(),
        1 => "redirect".into(),
        2 => "kernel".into(),
        3 => "boot".into(),
        4 => "static".into(),
        n => n.to_string(),
    }
}

/// What `ip route get DST [from SRC]` prints for `a` (as the kernel answers
/// it for a process of `uid`). IPv4 answers come from the route cache and
/// have a second, `cache` line; IPv6 answers name the route's metric and
/// preference.
pub fn route_get(a: &RouteAnswer, dev: &str, uid: u32) -> String {
    let mut s = String::new();
    match a.kind {
        RouteType::Unicast => {}
        RouteType::Local => s.push_str("local "),
        RouteType::Broadcast => s.push_str("broadcast "),
        RouteType::Multicast => s.push_str("multicast "),
    }
    s.push_str(&a.dst.to_string());
    if a.dst.is_ipv4() {
        if let Some(src) = a.src {
            s.push_str(&format!(" from {src}"));
        }
        if let Some(gw) = a.gateway {
            s.push_str(&format!(" via {gw}"));
        }
        s.push_str(&format!(" dev {dev}"));
        if a.src.is_none() {
            s.push_str(&format!(" src {}", a.prefsrc));
        }
        let flags = match a.kind {
            RouteType::Unicast => "",
            RouteType::Local => "<local> ",
            RouteType::Broadcast => "<local,brd> ",
            RouteType::Multicast => "<mc> ",
        };
        s.push_str(&format!(" uid {uid} \n    cache {flags}\n"));
    } else {
        let from = a.src.map_or("::".to_string(), |f| f.to_string());
        s.push_str(&format!(" from {from}"));
        if let Some(gw) = a.gateway {
            s.push_str(&format!(" via {gw}"));
        }
        s.push_str(&format!(" dev {dev}"));
        match a.table {
            RT_TABLE_MAIN => {}
            255 => s.push_str(" table local"),
            t => s.push_str(&format!(" table {t}")),
        }
        if a.protocol != 3 {
            s.push_str(&format!(" proto {}", proto_name(a.protocol)));
        }
        s.push_str(&format!(
            " src {} metric {} pref medium\n",
            a.prefsrc, a.metric
        ));
    }
    s
}

/// What `ip route get` prints when the kernel refuses: `RTNETLINK answers:`
/// and the error's text.
pub fn route_get_error(err: &io::Error) -> String {
    let text = err.to_string();
    let text = match text.find(" (os error") {
        Some(i) => &text[..i],
        None => &text,
    };
    format!("RTNETLINK answers: {text}\n")
}

/// Bytes in the largest unit that keeps a number of at least 1 (B, KiB, MiB, GiB).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// TCP connections that are open: established or closing, not listeners
/// and not TIME_WAIT leftovers.
pub fn open_connections(sockets: &[SocketInfo]) -> usize {
    sockets
        .iter()
        .filter(|s| {
            s.kind == SocketKind::Tcp
                && !matches!(
                    s.state,
                    tcp_state::LISTEN | tcp_state::TIME_WAIT | tcp_state::CLOSE
                )
        })
        .count()
}

/// The live status line.
pub fn status(dev: &str, d: &DevStats, open: usize, up: Duration) -> String {
    let s = if open == 1 { "" } else { "s" };
    format!(
        "[{}s] {dev}: rx {} packets ({}), tx {} packets ({}); {open} open TCP connection{s}",
        up.as_secs(),
        d.rx_packets,
        bytes(d.rx_bytes),
        d.tx_packets,
        bytes(d.tx_bytes),
    )
}
