//! Packet buffers are reused from packet to packet, and smoltcp writes each
//! outgoing packet into one without zeroing it first (only the headers' room
//! is zeroed). Nothing of a buffer's last packet may reach the wire in the
//! next: here the buffer pool is filled with junk first, then every TCP
//! segment of a transfer is checked on its way between two stacks.

use sandnet::netstack::{Link, Stack, TcpListener, TcpStream};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const PAYLOAD: u8 = 0x5a;
const JUNK: u8 = 0xee;
const TOTAL: usize = 8 << 20;

/// What the relay saw of the data direction: segments with payload, those
/// of them longer than 60 000 bytes, and the first bad segment's fault.
#[derive(Default)]
struct Seen {
    data_segments: usize,
    large_segments: usize,
    fault: Option<String>,
}

/// Checks one IPv4 TCP packet from the sending stack.
fn check(p: &[u8], seen: &mut Seen) {
    if p.len() < 20 || p[0] >> 4 != 4 || p[9] != 6 {
        return;
    }
    let ihl = usize::from(p[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
    let fault = if total != p.len() {
        Some(format!("IP length {total}, packet {} bytes", p.len()))
    } else {
        let doff = usize::from(p[ihl + 12] >> 4) * 4;
        let payload = &p[ihl + doff..];
        if !payload.is_empty() {
            seen.data_segments += 1;
            if payload.len() > 60_000 {
                seen.large_segments += 1;
            }
        }
        payload.iter().position(|&b| b != PAYLOAD).map(|at| {
            format!(
                "payload byte {at} of {} is {:#x}",
                payload.len(),
                payload[at]
            )
        })
    };
    if seen.fault.is_none() {
        seen.fault = fault;
    }
}

#[test]
fn segments_carry_nothing_of_a_buffers_last_packet() {
    let (a, b) = (Stack::new().unwrap(), Stack::new().unwrap());
    let mut far = Vec::new();
    for (stack, addr) in [(&a, "10.9.0.1"), (&b, "10.9.0.2")] {
        let (near, other) = Link::pipe();
        let i = stack.add_nic("p0", near).unwrap();
        stack.set_mtu(i, 65535).unwrap();
        stack.add_address(i, addr.parse().unwrap(), 24).unwrap();
        far.push(other);
    }
    // IP version 14: each stack drops these, and their buffers go back to
    // the pool full of junk.
    let junk = vec![JUNK; 65_000];
    for _ in 0..50 {
        let _ = far[0].send(&junk);
        let _ = far[1].send(&junk);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let relay = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut seen = Seen::default();
            while !stop.load(Ordering::Relaxed) {
                let mut moved = false;
                while let Some(p) = far[0].try_recv() {
                    check(&p, &mut seen);
                    let _ = far[1].send(&p);
                    // More junk for the pool as the transfer runs.
                    let _ = far[0].send(&junk);
                    moved = true;
                }
                while let Some(p) = far[1].try_recv() {
                    let _ = far[0].send(&p);
                    moved = true;
                }
                if !moved {
                    std::thread::yield_now();
                }
            }
            seen
        })
    };

    let listener = TcpListener::bind(&b, "10.9.0.2:9".parse().unwrap()).unwrap();
    let sink = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        got
    });
    let mut c = TcpStream::connect(&a, "10.9.0.2:9".parse().unwrap()).unwrap();
    c.write_all(&vec![PAYLOAD; TOTAL]).unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let got = sink.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    let seen = relay.join().unwrap();

    assert_eq!(got.len(), TOTAL);
    assert!(
        got.iter().all(|&b| b == PAYLOAD),
        "the stream arrives intact"
    );
    assert_eq!(seen.fault, None, "a segment carried stale bytes");
    assert!(seen.data_segments > 0 && seen.large_segments > 0);
}
