//! A bare smoltcp poll loop on a TUN device: smoltcp's own TunTapInterface,
//! one thread, one socket, no locks, no API layer, as smoltcp's benchmark
//! example drives it. The ceiling of a smoltcp design on this link.
//!
//! With `copy`, the loop's program copies what it receives into a buffer of
//! its own and sends from one (`recv_slice`, `send_slice`, `--program-chunk`
//! bytes at a time, 64 KiB unless told), as a program behind `Read` and
//! `Write` does: the reference for sandnet's `Read`/`Write` modes, which pay
//! the same copies.

use super::kernel;
use super::rr;
use super::{Dir, Measured};
use sandnet::netstack::os::netns::NetNs;
use smoltcp::iface::{Config, Interface, SocketSet};
use smoltcp::phy::{self, Medium, TunTapInterface};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};
use std::io;
use std::net::TcpListener;
use std::os::fd::AsRawFd;

const KERNEL: &str = "10.78.0.1";
const STACK: &str = "10.78.0.2";

/// `mib` MiB in direction `dir`, or round trips, socket buffers of `buffer` bytes.
pub fn run(mib: u64, mtu: u32, buffer: usize, dir: Dir, copy: bool) -> io::Result<Measured> {
    let ns = NetNs::new()?;
    // A persistent device configured first, so that smoltcp reads the MTU when it attaches.
    ns.ip(&["tuntap", "add", "dev", "sb0", "mode", "tun"])?;
    ns.ip(&["addr", "add", &format!("{KERNEL}/24"), "dev", "sb0"])?;
    ns.ip(&["link", "set", "sb0", "mtu", &mtu.to_string(), "up"])?;
    // TunTapInterface is not Send: the whole loop runs on the namespace's thread.
    ns.run(move || in_namespace(mib, buffer, dir, copy))
}

fn in_namespace(mib: u64, buffer: usize, dir: Dir, copy: bool) -> io::Result<Measured> {
    kernel::pin_program()?;
    let mut dev = TunTapInterface::new("sb0", Medium::Ip)?;
    let fd = dev.as_raw_fd();
    let mut config = Config::new(HardwareAddress::Ip);
    config.random_seed = 0x5eed;
    let mut iface = Interface::new(config, &mut dev, Instant::now());
    iface.update_ip_addrs(|a| {
        a.push(IpCidr::new(STACK.parse::<IpAddress>().unwrap(), 24))
            .unwrap();
    });
    let mut socket = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; buffer]),
        tcp::SocketBuffer::new(vec![0; buffer]),
    );
    // smoltcp as it ships: the congestion controller its default features
    // give. (This workspace enables Reno and Cubic for sandnet, which would
    // make Cubic smoltcp's default here too.)
    socket.set_congestion_control(tcp::CongestionControl::None);
    let mut sockets = SocketSet::new(vec![]);
    let handle = sockets.add(socket);
    let total = mib << 20;

    match dir {
        Dir::In => {
            sockets.get_mut::<tcp::Socket>(handle).listen(5001).unwrap();
            let addr = format!("{STACK}:5001").parse().unwrap();
            let start = std::time::Instant::now();
            // Threads start in the namespace of the thread that spawns them.
            let sender = kernel::spawn(move || kernel::send_all(kernel::connect_here(addr), total));
            let mut got = 0u64;
            let mut program = vec![0u8; kernel::program_chunk()];
            while got < total {
                iface.poll(Instant::now(), &mut dev, &mut sockets);
                let s = sockets.get_mut::<tcp::Socket>(handle);
                let mut progressed = false;
                while s.can_recv() {
                    got += if copy {
                        s.recv_slice(&mut program).unwrap()
                    } else {
                        s.recv(|b| (b.len(), b.len())).unwrap()
                    } as u64;
                    kernel::work();
                    progressed = true;
                }
                if !progressed {
                    phy::wait(fd, iface.poll_delay(Instant::now(), &sockets))?;
                }
            }
            let end = std::time::Instant::now();
            // Let the kernel's FIN and our ACKs finish so the sender returns.
            sockets.get_mut::<tcp::Socket>(handle).close();
            while !sender.is_finished() {
                iface.poll(Instant::now(), &mut dev, &mut sockets);
                phy::wait(fd, Some(smoltcp::time::Duration::from_millis(1)))?;
            }
            sender.join().expect("kernel sender")?;
            Ok(Measured::Bytes(total as f64 / (end - start).as_secs_f64()))
        }
        Dir::Out => {
            let listener = TcpListener::bind(format!("{KERNEL}:5001"))?;
            let receiver = kernel::spawn(move || -> io::Result<(u64, std::time::Instant)> {
                let (s, _) = listener.accept()?;
                let got = kernel::drain(s)?;
                Ok((got, std::time::Instant::now()))
            });
            let start = std::time::Instant::now();
            let remote = (KERNEL.parse::<IpAddress>().unwrap(), 5001);
            sockets
                .get_mut::<tcp::Socket>(handle)
                .connect(iface.context(), remote, 40000)
                .unwrap();
            let mut sent = 0u64;
            let mut closed = false;
            let program = vec![0x5au8; kernel::program_chunk()];
            while !receiver.is_finished() {
                iface.poll(Instant::now(), &mut dev, &mut sockets);
                let s = sockets.get_mut::<tcp::Socket>(handle);
                let mut progressed = false;
                while sent < total && s.can_send() {
                    let want = (total - sent) as usize;
                    sent += if copy {
                        s.send_slice(&program[..want.min(program.len())]).unwrap()
                    } else {
                        s.send(|b| {
                            let n = b.len().min(want);
                            (n, n)
                        })
                        .unwrap()
                    } as u64;
                    progressed = true;
                }
                if sent == total && !closed {
                    s.close();
                    closed = true;
                }
                if !progressed {
                    phy::wait(fd, iface.poll_delay(Instant::now(), &sockets))?;
                }
            }
            let (got, end) = receiver.join().expect("kernel receiver")?;
            if got != total {
                return Err(io::Error::other(format!("received {got} of {total} bytes")));
            }
            Ok(Measured::Bytes(total as f64 / (end - start).as_secs_f64()))
        }
        Dir::Rr { round_trips } => {
            sockets.get_mut::<tcp::Socket>(handle).listen(5001).unwrap();
            let addr = format!("{STACK}:5001").parse().unwrap();
            let client = kernel::spawn(move || rr::client(kernel::connect_here(addr), round_trips));
            // The program echoes through a buffer of its own, as a program
            // behind `Read` and `Write` does.
            let mut program = [0u8; 4096];
            let mut echoed = 0u64;
            let mut closed = false;
            while !client.is_finished() {
                iface.poll(Instant::now(), &mut dev, &mut sockets);
                let s = sockets.get_mut::<tcp::Socket>(handle);
                let mut progressed = false;
                // Echo only what the send buffer takes whole (it has room
                // for far more than one request in flight).
                while s.can_recv() && s.send_capacity() - s.send_queue() >= program.len() {
                    let n = s.recv_slice(&mut program).unwrap();
                    s.send_slice(&program[..n]).unwrap();
                    echoed += n as u64;
                    progressed = true;
                }
                if s.state() == tcp::State::CloseWait && !closed {
                    // The client's end of stream: end ours.
                    s.close();
                    closed = true;
                }
                if !progressed {
                    phy::wait(fd, iface.poll_delay(Instant::now(), &sockets))?;
                }
            }
            let stats = client.join().expect("kernel client")?;
            // Every request was answered before the client finished.
            rr::echoed_all(echoed, round_trips)?;
            Ok(Measured::RoundTrips(stats))
        }
        Dir::UdpRr { round_trips } => {
            let udp = smoltcp::socket::udp::Socket::new(
                smoltcp::socket::udp::PacketBuffer::new(
                    vec![smoltcp::socket::udp::PacketMetadata::EMPTY; 64],
                    vec![0; 65536],
                ),
                smoltcp::socket::udp::PacketBuffer::new(
                    vec![smoltcp::socket::udp::PacketMetadata::EMPTY; 64],
                    vec![0; 65536],
                ),
            );
            let h = sockets.add(udp);
            sockets
                .get_mut::<smoltcp::socket::udp::Socket>(h)
                .bind(5001)
                .unwrap();
            let addr: std::net::SocketAddr = format!("{STACK}:5001").parse().unwrap();
            let client = kernel::spawn(move || rr::udp_client(rr::udp_connect(addr)?, round_trips));
            let mut program = [0u8; 2048];
            let mut answered = 0u64;
            let mut done = false;
            // A client that gave up (a lost datagram) sends no end.
            while !done && !client.is_finished() {
                iface.poll(Instant::now(), &mut dev, &mut sockets);
                let s = sockets.get_mut::<smoltcp::socket::udp::Socket>(h);
                let mut progressed = false;
                while s.can_recv() && s.can_send() {
                    let (n, meta) = s.recv_slice(&mut program).unwrap();
                    if n == 0 {
                        done = true;
                        break;
                    }
                    s.send_slice(&program[..n], meta.endpoint).unwrap();
                    answered += 1;
                    progressed = true;
                }
                if !progressed && !done {
                    phy::wait(fd, iface.poll_delay(Instant::now(), &sockets))?;
                }
            }
            let stats = client.join().expect("kernel client")?;
            rr::udp_echoed_all(answered, round_trips, stats.lost)?;
            Ok(Measured::RoundTrips(stats))
        }
    }
}
