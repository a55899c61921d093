//! Embedding sandnet in a sandbox runtime: one `Stack` per sandbox.
//!
//! ```text
//! cargo run --example sandbox_embed      # no root, nothing leaves the process
//! ```
//!
//! Two sandboxes, "A" and "B", each get their own stack, joined by an
//! in-memory link (`Link::pipe`) where a runtime would put a TUN device or
//! its own switch. A serves TCP, B connects and they exchange a message.
//! Then each prints what a guest would see in /proc/net/tcp and
//! /proc/net/route, and its `ip route get` of the other: the stacks share
//! nothing (tables, socket inodes and counters are per stack, as per Linux
//! network namespace).

use sandnet::netstack::{Link, RouteSpec, Stack, TcpListener, TcpStream};
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};

/// A sandbox's stack with one NIC, `eth0`, on `link`, and a default route.
fn sandbox(link: Link, addr: &str, gateway: &str) -> io::Result<Stack> {
    let ip = |s: &str| s.parse::<IpAddr>().expect("an address");
    let stack = Stack::new()?; // has `lo` already, as a new namespace does
    let eth0 = stack.add_nic("eth0", link)?;
    stack.add_address(eth0, ip(addr), 24)?;
    stack.add_route(RouteSpec::default_v4().via(ip(gateway)))?;
    Ok(stack)
}

fn main() -> io::Result<()> {
    let (a_end, b_end) = Link::pipe();
    let a = sandbox(a_end, "10.0.0.1", "10.0.0.254")?;
    let b = sandbox(b_end, "10.0.0.2", "10.0.0.254")?;

    // Sandbox A: a TCP server, with the std::net-like API.
    let listener = TcpListener::bind(&a, "10.0.0.1:8080".parse().unwrap())?;
    let server = std::thread::spawn(move || -> io::Result<TcpStream> {
        let (mut conn, peer) = listener.accept()?;
        let mut buf = [0u8; 64];
        let n = conn.read(&mut buf)?;
        println!("A: {peer} says {:?}", String::from_utf8_lossy(&buf[..n]));
        conn.write_all(b"hello from A")?;
        Ok(conn)
    });

    // Sandbox B: a client.
    let mut client = TcpStream::connect(&b, "10.0.0.1:8080".parse().unwrap())?;
    client.write_all(b"hello from B")?;
    let mut buf = [0u8; 64];
    let n = client.read(&mut buf)?;
    println!("B: A answers {:?}", String::from_utf8_lossy(&buf[..n]));
    let _server_side = server.join().expect("server thread")?;

    // What each guest sees: the same connection from its own side, with
    // its own inode numbers, routes and counters.
    for (name, stack, other) in [("A", &a, "10.0.0.2"), ("B", &b, "10.0.0.1")] {
        let snap = stack.snapshot();
        println!("\n== sandbox {name}: /proc/net/tcp");
        print!("{}", sandnet::procnet::render("tcp", &snap).unwrap());
        println!("== sandbox {name}: /proc/net/route");
        print!("{}", sandnet::procnet::render("route", &snap).unwrap());
        let r = stack.route_get(other.parse().unwrap(), None)?;
        let dev = snap.interfaces.iter().find(|i| i.index == r.oif).unwrap();
        println!(
            "== sandbox {name}: ip route get {other}: dev {} src {}",
            dev.name, r.prefsrc
        );
        let tcp = &snap.stats.snmp.tcp;
        println!(
            "== sandbox {name}: Tcp ActiveOpens {} PassiveOpens {} InSegs {} OutSegs {}",
            tcp.ActiveOpens, tcp.PassiveOpens, tcp.InSegs, tcp.OutSegs
        );
    }
    let server: SocketAddr = "10.0.0.1:8080".parse().unwrap();
    assert_eq!(client.peer_addr()?, server);
    Ok(())
}
