//! examples/sandbox_embed runs (no root) and shows what it promises: one
//! connection between two sandboxes, seen from each side in that sandbox's
//! own /proc/net/tcp, with per-stack inodes and counters.

use std::process::Command;

#[test]
fn the_embedding_example_runs_and_shows_both_sides() {
    let out = Command::new(env!("CARGO"))
        .args(["run", "-q", "--example", "sandbox_embed"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("says \"hello from B\""), "{stdout}");
    assert!(stdout.contains("B: A answers \"hello from A\""), "{stdout}");
    let section = |name: &str| -> Vec<Vec<String>> {
        let start = stdout
            .find(&format!("== sandbox {name}: /proc/net/tcp\n"))
            .expect("a tcp section");
        stdout[start..]
            .lines()
            .skip(2)
            .take_while(|l| !l.starts_with("=="))
            .map(|l| l.split_whitespace().map(String::from).collect())
            .collect()
    };
    // 10.0.0.1:8080 is 0100000A:1F90. Each sandbox lists only its own end.
    let (a, b) = (section("A"), section("B"));
    assert_eq!((a.len(), b.len()), (1, 1), "{stdout}");
    assert_eq!(a[0][1], "0100000A:1F90");
    assert_eq!(b[0][2], "0100000A:1F90");
    assert_eq!(
        (&a[0][2], &b[0][1]),
        (&b[0][1], &a[0][2]),
        "the same connection"
    );
    assert_eq!((a[0][3].as_str(), b[0][3].as_str()), ("01", "01"));
    // Inode spaces are per stack: both start at the same number.
    assert_eq!(b[0][9], "10000", "B's first socket");
    assert_eq!(a[0][9], "10001", "A's second socket (after its listener)");
    assert!(stdout.contains("== sandbox A: ip route get 10.0.0.2: dev eth0 src 10.0.0.1\n"));
    assert!(stdout.contains("== sandbox A: Tcp ActiveOpens 0 PassiveOpens 1 "));
    assert!(stdout.contains("== sandbox B: Tcp ActiveOpens 1 PassiveOpens 0 "));
}
