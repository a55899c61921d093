//! Every input the fuzzers found a problem with (fuzz/regressions/TARGET/),
//! replayed through the fuzz targets' own harness (fuzz/src/lib.rs, a
//! stack driven by hand), each under a watchdog: it must finish, without a
//! panic, in bounded time.

#[allow(dead_code)]
#[path = "../fuzz/src/lib.rs"]
mod harness;

use std::path::Path;
use std::time::Duration;

/// Far more than any input needs (they run in milliseconds), far less than
/// a hang.
const WATCHDOG: Duration = Duration::from_secs(60);

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    inputs.sort();
    for input in inputs {
        let data = std::fs::read(&input).unwrap();
        let (tx, rx) = crossbeam_channel::bounded(1);
        std::thread::spawn(move || {
            run(&data);
            let _ = tx.send(());
        });
        match rx.recv_timeout(WATCHDOG) {
            Ok(()) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                panic!("{}: panicked (see above)", input.display())
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                panic!("{}: still running after {WATCHDOG:?}", input.display())
            }
        }
    }
}

/// A connection whose peer sent a FIN past the window with a stale ack and
/// then closed its window made smoltcp emit the same ACK on every dispatch;
/// its poll dispatched again for as long as anything was emitted, and the
/// stack's device never ran out of transmit slots: the poll never returned
/// and its packet queue grew without bound (765 MB within 12 s).
#[test]
fn session_findings_finish() {
    replay("session", harness::session);
}

#[test]
fn packet_findings_finish() {
    replay("packet", harness::packet);
}

#[test]
fn netlink_findings_finish() {
    replay("netlink", harness::netlink);
}

/// The netlink seeds are what the fuzzer mutates from: they must reach the
/// answering and changing paths, not stop at the parser. Each request of a
/// seed is answered with data or a zero-error ACK, except the seeds that are
/// wrong on purpose.
#[test]
fn netlink_seeds_are_answered() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/netlink");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let replies = harness::netlink_replies(&std::fs::read(&path).unwrap());
        assert!(!replies.is_empty(), "{name}: no request read");
        for reply in replies {
            if reply.len() < 20 {
                // Nothing to answer: the kernel ignores a datagram shorter than a header.
                assert_eq!(name, "short", "{name}: no answer");
                continue;
            }
            let ty = u16::from_ne_bytes([reply[4], reply[5]]);
            let errno = i32::from_ne_bytes([reply[16], reply[17], reply[18], reply[19]]);
            let refused = ty == 2 && errno != 0;
            let expected = matches!(name.as_str(), "short" | "unknown_type");
            assert_eq!(refused, expected, "{name}: reply type {ty}, error {errno}");
        }
        seen += 1;
    }
    assert!(seen >= 10, "netlink seeds missing from {}", dir.display());
}
