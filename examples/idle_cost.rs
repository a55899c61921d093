//! Measures what an idle stack costs: its poll thread's CPU time, context
//! switches and wake-ups over a quiet period.
//!
//!     cargo run --release --example idle_cost -- 10

use sandnet::netstack::{Link, Stack};
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
    std::thread::sleep(Duration::from_millis(200));
    let (t0, c0) = poll_thread_stat().expect("the poll thread");
    let w0 = stack.wakeups();
    std::thread::sleep(Duration::from_secs(secs));
    let (t1, c1) = poll_thread_stat().expect("the poll thread");
    let w1 = stack.wakeups();
    println!(
        "idle {secs} s: poll thread CPU {} ticks (1/100 s), {} context switches, {} wake-ups",
        t1 - t0,
        c1 - c0,
        w1 - w0
    );
}
