//! The poll thread's CPUs (`Stack::set_poll_thread_affinity`): the kernel
//! sees the set, the stack goes on serving on it, and bad sets are EINVAL.
//! One test, so that this binary has one poll thread to find by name.

use sandnet::netstack::{Stack, TcpListener, TcpStream};
use std::io::{Read, Write};

/// The CPUs the kernel lets the task named `comm` of this process use, from
/// /proc/self/task/*/status ("Cpus_allowed_list:\t0-1,3").
fn allowed(comm: &str) -> Vec<usize> {
    let mut found = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = task.unwrap().path();
        if std::fs::read_to_string(dir.join("comm"))
            .unwrap_or_default()
            .trim()
            != comm
        {
            continue;
        }
        let status = std::fs::read_to_string(dir.join("status")).unwrap();
        let list = status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
            .unwrap()
            .trim();
        let mut cpus = Vec::new();
        for range in list.split(',') {
            let (a, b) = range.split_once('-').unwrap_or((range, range));
            cpus.extend(a.parse::<usize>().unwrap()..=b.parse::<usize>().unwrap());
        }
        found.push(cpus);
    }
    assert_eq!(found.len(), 1, "one {comm} thread");
    found.pop().unwrap()
}

#[test]
fn the_poll_thread_runs_where_it_is_told_and_still_serves() {
    let stack = Stack::new().unwrap();
    let all = allowed("sandnet-poll");
    assert_eq!(stack.poll_thread_affinity().unwrap(), all);
    let last = *all.last().unwrap();

    stack.set_poll_thread_affinity(&[last]).unwrap();
    assert_eq!(allowed("sandnet-poll"), [last]);
    assert_eq!(stack.poll_thread_affinity().unwrap(), [last]);

    // It still moves bytes, from there.
    let listener = TcpListener::bind(&stack, "127.0.0.1:7000".parse().unwrap()).unwrap();
    let mut c = TcpStream::connect(&stack, "127.0.0.1:7000".parse().unwrap()).unwrap();
    let (mut s, _) = listener.accept().unwrap();
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let writer = {
        let data = data.clone();
        std::thread::spawn(move || c.write_all(&data).unwrap())
    };
    let mut got = vec![0u8; data.len()];
    s.read_exact(&mut got).unwrap();
    writer.join().unwrap();
    assert!(got == data);

    for bad in [&[][..], &[1 << 20]] {
        let e = stack.set_poll_thread_affinity(bad).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{bad:?}");
    }
    assert_eq!(
        allowed("sandnet-poll"),
        [last],
        "a refused set changes nothing"
    );

    stack.set_poll_thread_affinity(&all).unwrap();
    assert_eq!(allowed("sandnet-poll"), all);

    // Once the thread is gone its id may name another thread: refused.
    stack.shutdown();
    let e = stack.set_poll_thread_affinity(&all).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENETDOWN));
    assert_eq!(
        stack.poll_thread_affinity().unwrap_err().raw_os_error(),
        Some(libc::ENETDOWN)
    );
}
