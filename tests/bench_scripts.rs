//! The benchmark scripts' own logic, without root or a TUN device: the
//! statistics they print their verdicts with (benches/stats.awk: medians, and
//! the bootstrap interval that says whether a ratio is above 1 or only noise),
//! run through the system's awk as compare.sh and rounds.sh run them, and
//! rounds.sh itself with stand-in commands for tun_bench. awks differ in their
//! random numbers, so intervals are checked for what holds in any of them,
//! not for digits.

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

/// Runs benches/rounds.sh with `args`; returns its exit code, standard
/// output and standard error.
fn rounds(args: &[&str], raw: Option<&std::path::Path>) -> (i32, String, String) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/rounds.sh");
    let mut cmd = Command::new("bash");
    cmd.arg(script).args(args);
    if let Some(raw) = raw {
        cmd.env("RAW", raw);
    }
    let out = cmd.output().expect("run rounds.sh");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn rounds_alternate_and_compare_each_variant_with_the_first() {
    let raw = std::env::temp_dir().join(format!("sandnet-rounds-{}.raw", std::process::id()));
    let (code, out, err) = rounds(
        &[
            "6",
            "before=echo before in MiB/s=200.0 cpu_s_per_GiB=0.80",
            "after=echo after in MiB/s=300.0 cpu_s_per_GiB=0.60",
        ],
        Some(&raw),
    );
    assert_eq!(code, 0, "{err}");
    let row = |label: &str| {
        out.lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no {label} row in {out}"))
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(row("before")[1..5], ["200.0", "0.80", "0", "-"]);
    // 1.50 in every round: the interval cannot be anything else.
    assert_eq!(
        row("after")[1..6],
        ["300.0", "0.60", "0", "1.50", "(1.50-1.50)"]
    );
    // Every run kept, in alternating order: the first variant leads the odd rounds.
    let lines: Vec<String> = std::fs::read_to_string(&raw)
        .unwrap()
        .lines()
        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .collect();
    let _ = std::fs::remove_file(&raw);
    assert_eq!(lines.len(), 12);
    assert_eq!(lines[..4], ["1 before", "1 after", "2 after", "2 before"]);
}

#[test]
fn rounds_compare_round_trips_as_they_compare_bytes() {
    let (code, out, err) = rounds(
        &[
            "5",
            "kernel=echo kernel rr rt/s=40000 us_p50=25.0 cpu_us_per_rt=30.00",
            "stack=echo stack rr rt/s=20000 us_p50=50.0 cpu_us_per_rt=60.00",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let header = out
        .lines()
        .find(|l| l.starts_with("variant"))
        .unwrap_or_else(|| panic!("no header in {out}"));
    assert!(
        header.contains("rt/s") && header.contains("CPU us/rt"),
        "{header}"
    );
    let stack: Vec<&str> = out
        .lines()
        .find(|l| l.starts_with("stack"))
        .unwrap_or_else(|| panic!("no stack row in {out}"))
        .split_whitespace()
        .collect();
    assert_eq!(
        stack[1..6],
        ["20000.0", "60.00", "0", "0.50", "(0.50-0.50)"]
    );
}

#[test]
fn rounds_refuses_what_it_cannot_run() {
    // Too few variants: the usage, from the script's own header.
    let (code, _, err) = rounds(&["3", "a=true"], None);
    assert_eq!(code, 2);
    assert!(err.contains("alternating rounds"), "{err}");
    let (code, _, err) = rounds(&["three", "a=true", "b=true"], None);
    assert_eq!(code, 2);
    assert!(err.contains("ROUNDS is a count"), "{err}");
    let (code, _, err) = rounds(&["3", "a=true", "no-label"], None);
    assert_eq!(code, 2);
    assert!(err.contains("LABEL=COMMAND"), "{err}");
    // A run that fails stops the rounds rather than leave a hole in them.
    let (code, _, err) = rounds(&["3", "a=echo MiB/s=1 cpu_s_per_GiB=1", "b=false"], None);
    assert_eq!(code, 1);
    assert!(err.contains("round 1, b failed"), "{err}");
}
