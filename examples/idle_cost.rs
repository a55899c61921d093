//! Measures what an idle stack costs: its poll thread's CPU time, context
//! switches and wake-ups over a quiet period, with an idle TCP connection
//! open over lo. (An idle stack runs no rounds, so it does not scan for idle
//! connections to park either: parking pays off while other traffic runs.)
//!
//!     cargo run --release --example idle_cost -- 10

use sandnet::netstack::{Link, Stack, TcpListener, TcpStream};
use std::io::{Read, Write};
use std::time::Duration;

fn poll_thread_stat() -> Option<(u64, u64)> {
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let dir = task.ok()?.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim() != "sandnet-poll" {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
        let after = stat.rsplit_once(')')?.1;
        let f: Vec<&str> = after.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of stat (11 and 12 after the comm).
        let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
        let status = std::fs::read_to_string(dir.join("status")).ok()?;
        let switches = status
            .lines()
            .filter(|l| l.contains("ctxt_switches"))
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum();
        return Some((ticks, switches));
    }
    None
}

fn main() {
    let secs: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let stack = Stack::new().expect("a stack");
    let (link, _far) = Link::pipe();
    let p = stack.add_nic("p0", link).expect("a NIC");
    stack
        .add_address(p, "10.0.0.2".parse().unwrap(), 24)
        .expect("an address");
    let at = "127.0.0.1:7".parse().unwrap();
    let listener = TcpListener::bind(&stack, at).expect("a listener");
    let mut client = TcpStream::connect(&stack, at).expect("a connection");
    let (mut server, _) = listener.accept().expect("accepted");
    // Some traffic first: its timers (delayed ACKs) run out before the
    // quiet period starts.
    let mut byte = [0u8; 1];
    for _ in 0..3 {
        client.write_all(b"x").expect("a write");
        server.read_exact(&mut byte).expect("a read");
    }
    std::thread::sleep(Duration::from_millis(500));
    let (t0, c0) = poll_thread_stat().expect("the poll thread");
    let w0 = stack.wakeups();
    std::thread::sleep(Duration::from_secs(secs));
    let (t1, c1) = poll_thread_stat().expect("the poll thread");
    let w1 = stack.wakeups();
    println!(
        "idle {secs} s, one idle connection open: poll thread CPU {} ticks (1/100 s), {} context switches, {} wake-ups",
        t1 - t0,
        c1 - c0,
        w1 - w0
    );
}
