//! What both fuzz targets share: a stack driven by hand behind an in-memory
//! link whose other end the fuzzer holds, with sockets open on it, and the
//! packet arithmetic to speak to it (checksums, lengths, a TCP peer).
//!
//! The stack is 10.0.0.2/24 and fd00::2/64 on `eth0`; the fuzzer's end of
//! the wire is 10.0.0.1 and fd00::1, the default gateways. Open on the stack:
//! TCP listeners on [::]:80 (both families) and 10.0.0.2:81, UDP on
//! 0.0.0.0:53 and [::]:53 (v6only), a UDP socket connected to 10.0.0.1:7,
//! ping sockets of both families (the v4 one connected to 10.0.0.1), a TCP
//! connect in progress to 10.0.0.1:9, and one established TCP connection per
//! family (peer port 40000 to port 80), driven through its handshake by
//! `Peer` so that later segments can carry the sequence numbers it expects.

use netstack::{
    Interest, Limits, Link, PingSocket, RouteSpec, Stack, TcpListener, TcpStream, UdpSocket,
};
use std::io::{Read, Write};
use std::net::Shutdown;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

pub const STACK_V4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
pub const PEER_V4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub const STACK_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);
pub const PEER_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
pub const PEER_PORT: u16 = 40000;
pub const LISTEN_PORT: u16 = 80;

pub const TCP_FIN: u8 = 0x01;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;
pub const TCP_PSH: u8 = 0x08;
pub const TCP_ACK: u8 = 0x10;

/// The Internet checksum over several pieces, as one byte stream.
pub fn checksum(chunks: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    let mut odd: Option<u8> = None;
    for chunk in chunks {
        for &b in *chunk {
            match odd.take() {
                Some(hi) => sum += u32::from(u16::from_be_bytes([hi, b])),
                None => odd = Some(b),
            }
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
    }
    if let Some(hi) = odd {
        sum += u32::from(u16::from_be_bytes([hi, 0]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Which fields `fixup` repairs.
#[derive(Clone, Copy, Debug)]
pub struct Fix {
    pub lengths: bool,
    pub ip_checksum: bool,
    pub l4_checksum: bool,
}

impl Fix {
    pub fn from_bits(b: u8) -> Fix {
        Fix {
            lengths: b & 1 != 0,
            ip_checksum: b & 2 != 0,
            l4_checksum: b & 4 != 0,
        }
    }
}

/// Makes a mutated packet's lengths and checksums right where it can (so
/// that the fuzzer reaches past validation), leaving everything else as it
/// is. Anything it cannot parse it leaves alone.
pub fn fixup(p: &mut [u8], fix: Fix) {
    match p.first().map(|b| b >> 4) {
        Some(4) => fixup_v4(p, fix),
        Some(6) => fixup_v6(p, fix),
        _ => {}
    }
}

fn fixup_v4(p: &mut [u8], fix: Fix) {
    let ihl = usize::from(p[0] & 0x0f) * 4;
    if ihl < 20 || p.len() < ihl {
        return;
    }
    if fix.lengths {
        let total = p.len().min(65535) as u16;
        p[2..4].copy_from_slice(&total.to_be_bytes());
    }
    if fix.ip_checksum {
        p[10..12].copy_from_slice(&[0, 0]);
        let c = checksum(&[&p[..ihl]]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
    }
    let total = usize::from(u16::from_be_bytes([p[2], p[3]])).min(p.len());
    if total < ihl {
        return;
    }
    let proto = p[9];
    let mut pseudo = [0u8; 12];
    pseudo[..4].copy_from_slice(&p[12..16]);
    pseudo[4..8].copy_from_slice(&p[16..20]);
    pseudo[9] = proto;
    fixup_l4(&mut p[ihl..total], proto, &pseudo, fix, true);
}

fn fixup_v6(p: &mut [u8], fix: Fix) {
    if p.len() < 40 {
        return;
    }
    if fix.lengths {
        let len = (p.len() - 40).min(65535) as u16;
        p[4..6].copy_from_slice(&len.to_be_bytes());
    }
    let total = (40 + usize::from(u16::from_be_bytes([p[4], p[5]]))).min(p.len());
    let proto = p[6];
    let mut pseudo = [0u8; 40];
    pseudo[..32].copy_from_slice(&p[8..40]);
    pseudo[39] = proto;
    let l4 = &mut p[40..total];
    let len = (l4.len() as u32).to_be_bytes();
    pseudo[32..36].copy_from_slice(&len);
    fixup_l4(l4, proto, &pseudo, fix, false);
}

/// Repairs a TCP, UDP, ICMP or ICMPv6 header's length and checksum.
/// An IPv4 pseudo-header gets its length filled here.
fn fixup_l4(l4: &mut [u8], proto: u8, pseudo: &[u8], fix: Fix, v4: bool) {
    let len = l4.len().min(65535) as u16;
    let mut pseudo = pseudo.to_vec();
    if v4 {
        pseudo[10..12].copy_from_slice(&len.to_be_bytes());
    }
    let at = match proto {
        6 if l4.len() >= 20 => 16,
        17 if l4.len() >= 8 => {
            if fix.lengths {
                l4[4..6].copy_from_slice(&len.to_be_bytes());
            }
            6
        }
        1 | 58 if l4.len() >= 4 => 2,
        _ => return,
    };
    if !fix.l4_checksum {
        return;
    }
    l4[at..at + 2].copy_from_slice(&[0, 0]);
    let c = if proto == 1 {
        checksum(&[l4])
    } else {
        checksum(&[&pseudo, l4])
    };
    l4[at..at + 2].copy_from_slice(&c.to_be_bytes());
}

/// An IPv4 or IPv6 packet with correct lengths and checksums.
pub fn ip_packet(src: IpAddr, dst: IpAddr, proto: u8, ttl: u8, l4: &[u8]) -> Vec<u8> {
    let mut p = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut h = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, ttl, proto, 0, 0];
            h.extend_from_slice(&s.octets());
            h.extend_from_slice(&d.octets());
            h
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let mut h = vec![0x60, 0, 0, 0, 0, 0, proto, ttl];
            h.extend_from_slice(&s.octets());
            h.extend_from_slice(&d.octets());
            h
        }
        _ => Vec::new(),
    };
    p.extend_from_slice(l4);
    fixup(
        &mut p,
        Fix {
            lengths: true,
            ip_checksum: true,
            l4_checksum: true,
        },
    );
    p
}

/// A TCP header (no checksum yet; `ip_packet` fills it).
#[allow(clippy::too_many_arguments)]
pub fn tcp_segment(
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    options: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    let opt_len = options.len().min(40) & !3;
    let mut t = Vec::with_capacity(20 + opt_len + payload.len());
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.push((((20 + opt_len) / 4) as u8) << 4);
    t.push(flags);
    t.extend_from_slice(&window.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 0]);
    t.extend_from_slice(&options[..opt_len]);
    t.extend_from_slice(payload);
    t
}

/// What the fuzzer's end knows of one TCP connection to the stack.
#[derive(Clone, Copy, Debug)]
pub struct Peer {
    pub v6: bool,
    pub port: u16,
    /// Next sequence number the peer sends.
    pub snd_nxt: u32,
    /// Next sequence number the peer expects from the stack.
    pub rcv_nxt: u32,
}

impl Peer {
    pub fn addrs(&self) -> (IpAddr, IpAddr) {
        if self.v6 {
            (IpAddr::V6(PEER_V6), IpAddr::V6(STACK_V6))
        } else {
            (IpAddr::V4(PEER_V4), IpAddr::V4(STACK_V4))
        }
    }

    /// A segment of this connection; sequence and ack numbers are offsets
    /// from what the stack expects and has sent.
    pub fn segment(
        &self,
        flags: u8,
        seq_off: i32,
        ack_off: i32,
        window: u16,
        opts: &[u8],
        data: &[u8],
    ) -> Vec<u8> {
        let (src, dst) = self.addrs();
        let t = tcp_segment(
            self.port,
            LISTEN_PORT,
            self.snd_nxt.wrapping_add(seq_off as u32),
            self.rcv_nxt.wrapping_add(ack_off as u32),
            flags,
            window,
            opts,
            data,
        );
        ip_packet(src, dst, 6, 64, &t)
    }

    /// Learns from a segment the stack sent on this connection: the peer
    /// then acknowledges everything the stack has sent.
    pub fn saw(&mut self, packet: &[u8]) {
        let Some((src_port, dst_port, seg)) = tcp_of(packet, self.v6) else {
            return;
        };
        if src_port != LISTEN_PORT || dst_port != self.port || seg.len() < 20 {
            return;
        }
        let seq = u32::from_be_bytes([seg[4], seg[5], seg[6], seg[7]]);
        let flags = seg[13];
        let hlen = usize::from(seg[12] >> 4) * 4;
        let data = seg.len().saturating_sub(hlen) as u32;
        let end = seq
            .wrapping_add(data)
            .wrapping_add(u32::from(flags & (TCP_SYN | TCP_FIN) != 0));
        if (end.wrapping_sub(self.rcv_nxt) as i32) > 0 {
            self.rcv_nxt = end;
        }
    }
}

/// The TCP segment of a packet the stack emitted, with its ports.
fn tcp_of(packet: &[u8], v6: bool) -> Option<(u16, u16, &[u8])> {
    let seg = if v6 {
        if packet.len() < 40 || packet[0] >> 4 != 6 || packet[6] != 6 {
            return None;
        }
        &packet[40..]
    } else {
        if packet.len() < 20 || packet[0] >> 4 != 4 || packet[9] != 6 {
            return None;
        }
        let ihl = usize::from(packet[0] & 0x0f) * 4;
        packet.get(ihl..)?
    };
    if seg.len() < 20 {
        return None;
    }
    Some((
        u16::from_be_bytes([seg[0], seg[1]]),
        u16::from_be_bytes([seg[2], seg[3]]),
        seg,
    ))
}

/// The stack under fuzzing and every socket open on it.
pub struct Bed {
    pub stack: Stack,
    /// The fuzzer's end of the stack's `eth0`.
    pub wire: Link,
    pub listener: TcpListener,
    pub listener4: TcpListener,
    pub udp4: UdpSocket,
    pub udp6: UdpSocket,
    pub udp_connected: UdpSocket,
    pub ping4: PingSocket,
    pub ping6: PingSocket,
    pub connecting: TcpStream,
    /// The accepted end of each established connection, and what its peer knows.
    pub conns: Vec<(TcpStream, Peer)>,
    /// Everything the stack has emitted since the last `step`.
    pub emitted: Vec<Vec<u8>>,
}

fn sa(ip: IpAddr, port: u16) -> SocketAddr {
    SocketAddr::new(ip, port)
}

impl Bed {
    pub fn new() -> Bed {
        let stack = Stack::new_manual(0x5eed).expect("a stack");
        // Small buffers: cheap to set up per input, and full windows are
        // reached within one input. The receive buffer is just past 64 KiB,
        // so that its window is scaled and the carry that keeps it from
        // shrinking (netstack's socket/carry.rs) is in play.
        stack
            .set_limits(Limits {
                max_sockets: 64,
                max_buffer_bytes: 4 << 20,
                tcp_recv_buffer: 70_000,
                tcp_send_buffer: 8192,
                // Twice as large while a quarter of the budget is free (six
                // connections): both sizes, and the switch between them.
                tcp_recv_buffer_max: 140_000,
                tcp_send_buffer_max: 16384,
                dgram_recv_buffer: 16384,
                max_backlog: 4,
                fin_timeout: std::time::Duration::from_secs(60),
            })
            .unwrap();
        // A short queue: its slots are allocated per input, and a full
        // queue is a path worth reaching.
        let (ours, wire) = Link::pipe_with_queue(256);
        let eth0 = stack.add_nic("eth0", ours).unwrap();
        stack.add_address(eth0, IpAddr::V4(STACK_V4), 24).unwrap();
        stack.add_address(eth0, IpAddr::V6(STACK_V6), 64).unwrap();
        stack
            .add_route(RouteSpec::default_v4().via(IpAddr::V4(PEER_V4)))
            .unwrap();
        stack
            .add_route(RouteSpec::default_v6().via(IpAddr::V6(PEER_V6)))
            .unwrap();
        let any6 = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
        let any4 = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        let listener = TcpListener::bind(&stack, sa(any6, LISTEN_PORT)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let listener4 = TcpListener::bind(&stack, sa(IpAddr::V4(STACK_V4), 81)).unwrap();
        listener4.set_nonblocking(true).unwrap();
        let udp4 = UdpSocket::bind(&stack, sa(any4, 53)).unwrap();
        let udp6 = UdpSocket::bind_with(&stack, sa(any6, 53), true).unwrap();
        let udp_connected = UdpSocket::bind(&stack, sa(any4, 0)).unwrap();
        udp_connected.connect(sa(IpAddr::V4(PEER_V4), 7)).unwrap();
        for u in [&udp4, &udp6, &udp_connected] {
            u.set_nonblocking(true).unwrap();
        }
        let ping4 = PingSocket::new(&stack, false).unwrap();
        ping4.connect(IpAddr::V4(PEER_V4)).unwrap();
        ping4.set_nonblocking(true).unwrap();
        let ping6 = PingSocket::new(&stack, true).unwrap();
        ping6.bind(sa(any6, 0)).unwrap();
        ping6.set_nonblocking(true).unwrap();
        let connecting =
            TcpStream::connect_nonblocking(&stack, sa(IpAddr::V4(PEER_V4), 9)).unwrap();
        let mut bed = Bed {
            stack,
            wire,
            listener,
            listener4,
            udp4,
            udp6,
            udp_connected,
            ping4,
            ping6,
            connecting,
            conns: Vec::new(),
            emitted: Vec::new(),
        };
        bed.step();
        for v6 in [false, true] {
            if let Some(c) = bed.handshake(v6, PEER_PORT) {
                bed.conns.push(c);
            }
        }
        assert_eq!(bed.conns.len(), 2, "the bed's handshakes complete");
        bed.emitted.clear();
        bed
    }

    /// Delivers a packet to the stack's NIC (not yet processed: see `step`).
    pub fn inject(&self, packet: &[u8]) {
        let _ = self.wire.send(packet);
    }

    /// One poll round; collects what the stack emitted and lets each
    /// connection's peer learn from it.
    pub fn step(&mut self) {
        self.stack.step();
        while let Some(p) = self.wire.try_recv() {
            for (_, peer) in &mut self.conns {
                peer.saw(&p);
            }
            // Bounded: the fuzzer only needs the latest packets.
            if self.emitted.len() < 256 {
                self.emitted.push(p);
            }
        }
    }

    /// Connects from the fuzzer's end to the listener and accepts.
    pub fn handshake(&mut self, v6: bool, port: u16) -> Option<(TcpStream, Peer)> {
        let mut peer = Peer {
            v6,
            port,
            snd_nxt: 1000,
            rcv_nxt: 0,
        };
        // MSS 1400, window scale 7, SACK permitted, timestamps.
        let opts = [
            2, 4, 0x05, 0x78, 1, 3, 3, 7, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0,
        ];
        let syn = peer.segment(TCP_SYN, 0, 0, 65535, &opts, &[]);
        self.emitted.clear();
        self.inject(&syn);
        self.step();
        let synack = self.emitted.iter().find_map(|p| {
            let (sp, dp, seg) = tcp_of(p, v6)?;
            (sp == LISTEN_PORT && dp == port && seg[13] & (TCP_SYN | TCP_ACK) == TCP_SYN | TCP_ACK)
                .then(|| u32::from_be_bytes([seg[4], seg[5], seg[6], seg[7]]))
        })?;
        peer.snd_nxt = peer.snd_nxt.wrapping_add(1);
        peer.rcv_nxt = synack.wrapping_add(1);
        let ack = peer.segment(TCP_ACK, 0, 0, 512, &[], &[]);
        self.inject(&ack);
        self.step();
        let (stream, _) = self.listener.accept().ok()?;
        stream.set_nonblocking(true).ok()?;
        Some((stream, peer))
    }

    /// Reads everything each socket has queued, nonblocking, and checks
    /// that the tables can still be read and rendered.
    pub fn drain_and_check(&mut self) {
        let mut buf = [0u8; 2048];
        for (s, _) in &self.conns {
            let mut r: &TcpStream = s;
            while matches!(r.read(&mut buf), Ok(n) if n > 0) {}
        }
        for u in [&self.udp4, &self.udp6, &self.udp_connected] {
            while u.recv_from(&mut buf).is_ok() {}
        }
        for p in [&self.ping4, &self.ping6] {
            while p.recv_from(&mut buf).is_ok() {}
        }
        let _ = self.connecting.take_error();
        // Readiness of every socket, as a runtime's epoll would ask.
        let mut ids = vec![
            self.listener.id(),
            self.listener4.id(),
            self.udp4.id(),
            self.udp6.id(),
            self.udp_connected.id(),
            self.ping4.id(),
            self.ping6.id(),
            self.connecting.id(),
        ];
        ids.extend(self.conns.iter().map(|(s, _)| s.id()));
        let interests: Vec<_> = ids.into_iter().map(|id| (id, Interest::BOTH)).collect();
        let _ = self.stack.wait(&interests, Some(std::time::Duration::ZERO));
        let snap = self.stack.snapshot();
        // The files whose rows depend on socket state (the counter files are
        // fixed text around numbers, and would dominate the run time).
        for name in ["tcp", "tcp6", "udp", "udp6", "icmp", "icmp6"] {
            let _ = procnet::render(name, &snap);
        }
        let _ = self.stack.sockets();
    }

    /// Writes application data on connection `i`, nonblocking.
    pub fn app_write(&self, i: usize, data: &[u8]) {
        if let Some((s, _)) = self.conns.get(i) {
            let mut w: &TcpStream = s;
            let _ = w.write(data);
        }
    }
}

impl Default for Bed {
    fn default() -> Self {
        Bed::new()
    }
}

const MAX_CONNS: usize = 8;

fn u16_at(d: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([
        d.get(i).copied().unwrap_or(0),
        d.get(i + 1).copied().unwrap_or(0),
    ])
}

/// The `session` target: records of `[op, len, len bytes]` (see
/// fuzz_targets/session.rs), against a fresh bed.
pub fn session(data: &[u8]) {
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
                // Byte 3: bit 0 writes in place; bits 1-2, when not zero,
                // first give the connection a congestion control; bit 3 a
                // send source that fills at most the length per call (less
                // than it is offered pauses it), bit 4 resumes it, bit 5
                // removes it.
                let n = usize::from(u16_at(d, 1));
                let mode = d.get(3).copied().unwrap_or(0);
                if let Some((s, _)) = bed.conns.get(conn) {
                    if mode & 8 != 0 {
                        let _ = s.set_send_source(move |free| {
                            let k = free.len().min(n);
                            free[..k].fill(0x5b);
                            k
                        });
                    }
                    if mode & 16 != 0 {
                        let _ = s.resume_send_source();
                    }
                    if mode & 32 != 0 {
                        let _ = s.clear_send_source();
                    }
                    use netstack::CongestionControl as Cc;
                    let cc = match (mode >> 1) & 3 {
                        1 => Some(Cc::Cubic),
                        2 => Some(Cc::Reno),
                        3 => Some(Cc::None),
                        _ => None,
                    };
                    if let Some(cc) = cc {
                        let _ = s.set_congestion_control(cc);
                    }
                    if mode & 1 != 0 {
                        let mut left = n;
                        let _ = s.write_with(|free| {
                            let k = free.len().min(left);
                            free[..k].fill(0x5a);
                            left -= k;
                            k
                        });
                    } else {
                        bed.app_write(conn, &vec![0x5a; n]);
                    }
                }
            }
            4 => {
                // Byte 3, bit 0: read in place, taking at most the length;
                // bit 1: a receive sink that takes at most the length per
                // call from now on (0: none, so the bytes wait for a read);
                // bit 2: no sink any more; bit 3: the sink asks for what it
                // left. Then the read.
                if let Some((s, _)) = bed.conns.get(conn) {
                    let n = usize::from(u16_at(d, 1)).min(65536);
                    let mode = d.get(3).copied().unwrap_or(0);
                    if mode & 2 != 0 {
                        let _ = s.set_receive_sink(move |data| data.len().min(n));
                    }
                    if mode & 4 != 0 {
                        let _ = s.clear_receive_sink();
                    }
                    if mode & 8 != 0 {
                        let _ = s.resume_receive_sink();
                    }
                    if mode & 1 != 0 {
                        let mut left = n;
                        let _ = s.read_with(|data| {
                            let k = data.len().min(left);
                            left -= k;
                            k
                        });
                    } else {
                        let mut buf = vec![0u8; n];
                        let mut r: &netstack::TcpStream = s;
                        let _ = r.read(&mut buf);
                    }
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
}

/// The `packet` target: a control byte (bits 0-2: `Fix`; bit 3: let timers
/// run), then one packet, against a fresh bed.
pub fn packet(data: &[u8]) {
    let Some((&control, packet)) = data.split_first() else {
        return;
    };
    let mut bed = Bed::new();
    let mut packet = packet.to_vec();
    fixup(&mut packet, Fix::from_bits(control));
    bed.inject(&packet);
    bed.step();
    if control & 8 != 0 {
        bed.stack.advance_clock(3_000_000);
        bed.step();
    }
    bed.drain_and_check();
}

mod rtnetlink;
pub use self::rtnetlink::{netlink, netlink_replies};
