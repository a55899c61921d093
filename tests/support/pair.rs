//! Two stacks joined by an in-memory link: 10.1.0.1/24 + fd00:1::1/64 on
//! `a`, 10.1.0.2/24 + fd00:1::2/64 on `b`. Nothing leaves the process.

use sandnet::netstack::{Link, Stack, TcpListener, TcpStream};
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub const A_V4: &str = "10.1.0.1";
pub const B_V4: &str = "10.1.0.2";
pub const A_V6: &str = "fd00:1::1";
pub const B_V6: &str = "fd00:1::2";

pub fn sa(addr: &str, port: u16) -> SocketAddr {
    SocketAddr::new(addr.parse().unwrap(), port)
}

/// A connection from `b` to a listener on `a` at `A_V4:port`: (the
/// accepted end on `a`, the connecting end on `b`).
pub fn connected(a: &Stack, b: &Stack, port: u16) -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind(a, sa(A_V4, port)).unwrap();
    let b = b.clone();
    let client = std::thread::spawn(move || TcpStream::connect(&b, sa(A_V4, port)).unwrap());
    let (server, _) = listener.accept().unwrap();
    (server, client.join().unwrap())
}

/// A new connection on `port` carries bytes: the stacks still serve.
pub fn still_serves(a: &Stack, b: &Stack, port: u16) {
    let (mut s, mut c) = connected(a, b, port);
    c.write_all(b"still here").unwrap();
    let mut got = [0u8; 10];
    s.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"still here");
}

fn configure(stack: &Stack, link: Link, v4: &str, v6: &str) -> u32 {
    let ifindex = stack.add_nic("p0", link).unwrap();
    stack
        .add_address(ifindex, v4.parse::<IpAddr>().unwrap(), 24)
        .unwrap();
    stack
        .add_address(ifindex, v6.parse::<IpAddr>().unwrap(), 64)
        .unwrap();
    ifindex
}

/// Two stacks on one pipe.
pub fn pair() -> (Stack, Stack) {
    pair_on(Link::pipe())
}

/// Two stacks on the two ends of a link.
pub fn pair_on((la, lb): (Link, Link)) -> (Stack, Stack) {
    let (a, b) = (Stack::new().unwrap(), Stack::new().unwrap());
    configure(&a, la, A_V4, A_V6);
    configure(&b, lb, B_V4, B_V6);
    (a, b)
}

/// Two stacks with the test in the middle: every packet passes `keep`,
/// which sees (from_a, packet) and may drop it by returning false.
pub struct Relay {
    /// The wire's end facing `a`: what is sent on it arrives at `a`.
    to_a: Arc<Link>,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Relay {
    /// Puts a packet on the wire towards `a`, as if a third host sent it.
    pub fn inject_to_a(&self, packet: &[u8]) {
        let _ = self.to_a.send(packet);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

pub fn relayed_pair(
    keep: impl FnMut(bool, &[u8]) -> bool + Send + 'static,
) -> (Stack, Stack, Relay) {
    let (la, a_wire) = Link::pipe();
    let (lb, b_wire) = Link::pipe();
    let (a, b) = (Stack::new().unwrap(), Stack::new().unwrap());
    configure(&a, la, A_V4, A_V6);
    configure(&b, lb, B_V4, B_V6);
    let stop = Arc::new(AtomicBool::new(false));
    let keep = Arc::new(std::sync::Mutex::new(keep));
    let (a_wire, b_wire) = (Arc::new(a_wire), Arc::new(b_wire));
    let mut threads = Vec::new();
    let to_a = a_wire.clone();
    for from_a in [true, false] {
        let (src, dst) = if from_a {
            (a_wire.clone(), b_wire.clone())
        } else {
            (b_wire.clone(), a_wire.clone())
        };
        let (stop, keep) = (stop.clone(), keep.clone());
        threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Some(p) = src.recv_timeout(Duration::from_millis(20)) {
                    if (keep.lock().unwrap())(from_a, &p) {
                        let _ = dst.send(&p);
                    }
                }
            }
        }));
    }
    (
        a,
        b,
        Relay {
            to_a,
            stop,
            threads,
        },
    )
}
