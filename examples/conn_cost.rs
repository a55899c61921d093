//! What it costs to open one more TCP connection as more stay open: two
//! stacks over an in-memory pipe, connections opened one after another
//! (connect, accept) and all held open, with the time per connection over
//! each block of 500. Every connection in smoltcp's socket set costs every
//! poll round; a stack parks idle ones outside it (socket/set.rs), so the
//! cost should level off rather than grow with the count.
//!
//!     cargo run --release --example conn_cost -- [CONNECTIONS=4000]

use sandnet::netstack::{Limits, Link, Stack, TcpListener, TcpStream};
use std::time::Instant;

const BLOCK: usize = 500;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(4000);
    let (la, lb) = Link::pipe();
    let (a, b) = (Stack::new()?, Stack::new()?);
    for (stack, link, addr) in [(&a, la, "10.1.0.1"), (&b, lb, "10.1.0.2")] {
        let nic = stack.add_nic("p0", link)?;
        stack.add_address(nic, addr.parse()?, 24)?;
        // Small buffers: the point is the count, not the memory.
        stack.set_limits(Limits {
            max_sockets: 2 * n + 16,
            tcp_recv_buffer: 4096,
            tcp_send_buffer: 4096,
            tcp_recv_buffer_max: 0,
            tcp_send_buffer_max: 0,
            ..stack.limits()
        })?;
    }
    let at: std::net::SocketAddr = "10.1.0.2:7000".parse()?;
    let listener = TcpListener::bind(&b, at)?;
    let mut held = Vec::with_capacity(n);
    let mut block = Instant::now();
    for i in 1..=n {
        let c = TcpStream::connect(&a, at)?;
        let (s, _) = listener.accept()?;
        held.push((c, s));
        if i % BLOCK == 0 || i == n {
            let size = if i % BLOCK == 0 { BLOCK } else { i % BLOCK };
            println!(
                "{i} open: {:.0} us per connection over the last {size}, {} parked",
                block.elapsed().as_secs_f64() * 1e6 / size as f64,
                a.parked_connections(),
            );
            block = Instant::now();
        }
    }
    Ok(())
}
