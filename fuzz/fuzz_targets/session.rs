//! A sequence of events against a stack with open sockets and established
//! connections: packets from the wire (raw, or TCP segments of a connection
//! with sequence numbers relative to what the stack expects), application
//! calls (write, read, shutdown, close, send, accept, new connections) and
//! the clock moving on. The input is records of [op, len, len bytes].
#![no_main]

use libfuzzer_sys::fuzz_target;
use sandnet_fuzz::{fixup, Bed, Fix, PEER_V4, PEER_V6};
use std::io::Read;
use std::net::{IpAddr, Shutdown, SocketAddr};

const MAX_CONNS: usize = 8;

fn u16_at(d: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([
        d.get(i).copied().unwrap_or(0),
        d.get(i + 1).copied().unwrap_or(0),
    ])
}

fuzz_target!(|data: &[u8]| {
    let mut bed = Bed::new();
    let mut rest = data;
    let mut next_port = 41000u16;
    let mut records = 0;
    while rest.len() >= 2 && records < 256 {
        records += 1;
        let (op, len) = (rest[0], usize::from(rest[1]));
        let len = len.min(rest.len() - 2);
        let d = &rest[2..2 + len];
        rest = &rest[2 + len..];
        let conn = usize::from(d.first().copied().unwrap_or(0)) % bed.conns.len().max(1);
        match op % 12 {
            0 => {
                // A raw packet: control byte, then the packet.
                if let Some((&control, p)) = d.split_first() {
                    let mut p = p.to_vec();
                    fixup(&mut p, Fix::from_bits(control));
                    bed.inject(&p);
                }
            }
            1 | 2 => {
                // A segment on connection `conn`: flags, seq and ack offsets,
                // window, option length, options, then payload.
                if let Some((_, peer)) = bed.conns.get(conn) {
                    let flags = d.get(1).copied().unwrap_or(0x10);
                    let seq_off = i32::from(u16_at(d, 2) as i16);
                    let ack_off = i32::from(u16_at(d, 4) as i16);
                    let window = u16_at(d, 6);
                    let opt_len = usize::from(d.get(8).copied().unwrap_or(0)) % 41;
                    let body = d.get(9..).unwrap_or_default();
                    let (opts, payload) = body.split_at(opt_len.min(body.len()));
                    // op 2 sends the payload repeated, for segments larger than a record.
                    let payload = if op % 12 == 2 {
                        payload.repeat(1 + usize::from(window >> 12))
                    } else {
                        payload.to_vec()
                    };
                    let seg = peer.segment(flags, seq_off, ack_off, window, opts, &payload);
                    bed.inject(&seg);
                    // A peer that sent data moves on past it.
                    if flags & 0x04 == 0 && seq_off == 0 {
                        let (_, peer) = &mut bed.conns[conn];
                        let syn_fin = u32::from(flags & 0x03 != 0);
                        peer.snd_nxt = peer.snd_nxt.wrapping_add(payload.len() as u32 + syn_fin);
                    }
                }
            }
            3 => {
                let n = usize::from(u16_at(d, 1));
                bed.app_write(conn, &vec![0x5a; n]);
            }
            4 => {
                if let Some((s, _)) = bed.conns.get(conn) {
                    let mut buf = vec![0u8; usize::from(u16_at(d, 1)).min(65536)];
                    let mut r: &netstack::TcpStream = s;
                    let _ = r.read(&mut buf);
                }
            }
            5 => {
                if let Some((s, _)) = bed.conns.get(conn) {
                    let how = match d.get(1).copied().unwrap_or(0) % 3 {
                        0 => Shutdown::Read,
                        1 => Shutdown::Write,
                        _ => Shutdown::Both,
                    };
                    let _ = s.shutdown(how);
                }
            }
            6 => {
                if conn < bed.conns.len() {
                    // Closing drops the stream; the connection finishes as an orphan.
                    bed.conns.remove(conn);
                }
            }
            7 => {
                let ms = u64::from(u16_at(d, 0)) * 16;
                bed.stack.advance_clock(ms * 1000);
            }
            8 => {
                let payload = d.get(1..).unwrap_or_default();
                let _ = bed
                    .udp4
                    .send_to(payload, SocketAddr::new(IpAddr::V4(PEER_V4), 53));
                let _ = bed
                    .udp6
                    .send_to(payload, SocketAddr::new(IpAddr::V6(PEER_V6), 53));
                let _ = bed.udp_connected.send(payload);
            }
            9 => {
                let payload = d.get(1..).unwrap_or_default();
                let _ = bed.ping4.send(payload);
                let _ = bed.ping6.send_to(payload, IpAddr::V6(PEER_V6));
            }
            10 => {
                while bed.listener.accept().is_ok() {}
                while bed.listener4.accept().is_ok() {}
            }
            _ => {
                if bed.conns.len() < MAX_CONNS {
                    let v6 = d.first().copied().unwrap_or(0) & 1 != 0;
                    next_port = next_port.wrapping_add(1);
                    if let Some(c) = bed.handshake(v6, next_port) {
                        bed.conns.push(c);
                    }
                }
            }
        }
        bed.step();
    }
    bed.drain_and_check();
    // Let every timer run out: retransmissions, FIN_WAIT and TIME_WAIT.
    for _ in 0..32 {
        let Some(delay) = bed.stack.poll_delay() else {
            break;
        };
        bed.stack.advance_clock(delay.max(1000));
        bed.step();
    }
    bed.drain_and_check();
});
