//! The statistics the benchmark scripts print their verdicts with
//! (benches/stats.awk): medians, and the bootstrap interval that says whether
//! a ratio is above 1 or only noise. Run through the system's awk, as
//! compare.sh and rounds.sh run them. awks differ in their random numbers, so
//! the intervals are checked for what holds in any of them, not for digits.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// Evaluates `expr` (awk, over stats.awk's functions) on each line of
/// `input`; returns the printed lines. The program goes in a file of its own,
/// as the scripts give theirs: not every awk takes one with -e.
fn awk(expr: &str, input: &str) -> Vec<String> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/stats.awk");
    let prog = std::env::temp_dir().join(format!(
        "sandnet-stats-{}-{}.awk",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&prog, format!("{{ print {expr} }}\n")).unwrap();
    let mut child = Command::new("awk")
        .args(["-f", script, "-f"])
        .arg(&prog)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run awk");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let _ = std::fs::remove_file(&prog);
    assert!(out.status.success(), "awk failed on {expr}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn numbers(line: &str) -> Vec<f64> {
    line.split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect()
}

#[test]
fn medians_of_odd_even_and_empty_lists() {
    let out = awk(
        "median($0)",
        "3 1 2\n4 1 3 2\n10 9 8 7 6 5 4 3 2 1 0\n0.97 1.02 0.88 1.3\n\n",
    );
    assert_eq!(out, ["2", "2.5", "5", "0.995", "0"]);
}

#[test]
fn the_interval_holds_the_median_within_the_values() {
    // Ratios of 41 rounds, spread as this machine spreads them.
    let ratios: Vec<f64> = (0..41)
        .map(|i| 1.0 + 0.3 * (((i * 37) % 41) as f64 / 40.0 - 0.5))
        .collect();
    let list: Vec<String> = ratios.iter().map(|r| format!("{r:.4}")).collect();
    let out = awk("median($0), interval($0)", &(list.join(" ") + "\n"));
    let v = numbers(&out[0]);
    let (median, lo, hi) = (v[0], v[1], v[2]);
    let (min, max) = (0.85, 1.15);
    assert!(lo <= median && median <= hi, "{out:?}");
    assert!(lo >= min - 1e-9 && hi <= max + 1e-9, "{out:?}");
    // The median of 41 resampled values moves far less than the values do.
    assert!(hi - lo < 0.5 * (max - min), "{out:?}");
    assert!(hi - lo > 0.0, "{out:?}");
}

#[test]
fn a_shift_shows_as_an_interval_clear_of_one() {
    let above: Vec<String> = (0..31)
        .map(|i| format!("{:.3}", 1.10 + 0.02 * ((i % 7) as f64 - 3.0)))
        .collect();
    let v = numbers(&awk("interval($0)", &(above.join(" ") + "\n"))[0]);
    assert!(v[0] > 1.0, "{v:?}");
    // Constant ratios: nothing to resample into anything else.
    let same = vec!["0.95"; 20].join(" ");
    assert_eq!(
        numbers(&awk("interval($0)", &(same + "\n"))[0]),
        [0.95, 0.95]
    );
}

#[test]
fn too_few_rounds_give_no_interval() {
    let out = awk(
        "\"[\" interval($0) \"] \" with_interval($0)",
        "1.1 0.9 1.0 1.2\n\n",
    );
    assert_eq!(out, ["[] 1.05", "[] -"]);
}

#[test]
fn the_same_rounds_give_the_same_interval() {
    let list = "1.02 0.91 1.13 0.97 1.05 0.88 1.21 0.99 1.01 0.94 1.07\n";
    let a = awk("with_interval($0)", list);
    let b = awk("with_interval($0)", list);
    assert_eq!(a, b);
    assert!(a[0].starts_with("1.01 ("), "{a:?}");
}
