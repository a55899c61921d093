//! Unmodified tools read procnet's files as they read the kernel's: net-tools
//! (`route`, `netstat`), busybox (`route -n`, `netstat`) and iproute2's `ss`,
//! run in the same namespace once on the kernel's /proc/net and once on a
//! directory procnet rendered from the stack for the same state (shown as
//! /proc/net through a private mount namespace; `ss` through PROC_ROOT).
//! Both sides hold the same real sockets (`ProcnetBed::open_sockets`, which
//! gives the kernel's client the stack's ephemeral port), so the socket
//! listings need no mask. Their outputs must be equal. The rendered snapshot
//! carries the kernel's own counters (read just before), so `netstat -s` and
//! `netstat -i` compare whole; `route -A inet6` masks only its Ref column
//! (the kernel's internal reference counts), and socket listings compare as
//! sorted lines (the kernel's hash order).
//! Needs root: skipped with a reason otherwise, a failure under CI=true.

mod support;

use sandnet::netstack::os::mountns::with_proc_net;
use std::path::PathBuf;
use std::process::Command;
use support::procnet_bed::{build, DEV};
use support::root::have_root;

fn have_tools(test: &str) -> bool {
    let missing: Vec<&str> = ["route", "netstat", "busybox", "ss"]
        .into_iter()
        .filter(|t| {
            !std::env::var_os("PATH")
                .map(|p| std::env::split_paths(&p).any(|d| d.join(t).is_file()))
                .unwrap_or(false)
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: missing {missing:?}, and CI=true forbids skipping (.ci/run installs them)");
    }
    eprintln!("SKIPPED {test}: missing {missing:?} (apt-get install net-tools busybox iproute2)");
    false
}

struct Out {
    status: i32,
    stdout: String,
    stderr: String,
}

fn out(o: std::process::Output) -> Out {
    Out {
        status: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn argv(cmd: &str) -> (String, Vec<String>) {
    let mut it = cmd.split(' ').map(String::from);
    (it.next().unwrap(), it.collect())
}

/// `route -A inet6`'s Ref column (5th) holds the kernel's reference counts.
fn mask_ref(text: &str) -> String {
    text.lines()
        .map(|l| {
            let mut f: Vec<&str> = l.split_whitespace().collect();
            if f.len() == 7 && f[4].parse::<u32>().is_ok() {
                f[4] = "*";
            }
            f.join(" ") + "\n"
        })
        .collect()
}

#[test]
fn tools_read_procnet_files_as_they_read_the_kernels() {
    let test = "tools_read_procnet_files_as_they_read_the_kernels";
    if !have_root(test) || !have_tools(test) {
        return;
    }
    let mut bed = build();
    bed.open_sockets();
    let mut snap = bed.stack.snapshot();
    snap.stats = support::kernel_stats::read(&bed.ns, &[(1, "lo"), (2, DEV)]);

    let root: PathBuf = std::env::temp_dir().join(format!("procnet-tools-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let net = root.join("proc/net");
    procnet::write_dir(&net, &snap).unwrap();
    let link = root.join("net-link");

    let tools = [
        "route -n",
        "route -A inet6 -n",
        "netstat -rn",
        "netstat -tuan",
        "netstat -s",
        "netstat -i",
        // Plain `busybox route` would resolve names: no DNS queries from tests.
        "busybox route -n",
        "busybox netstat -tuan",
    ];
    let mut failures = Vec::new();
    for cmd in tools {
        let (prog, args) = argv(cmd);
        let (p, a) = (prog.clone(), args.clone());
        let kernel = out(bed
            .ns
            .run(move || Command::new(p).args(a).output())
            .unwrap());
        let (n, l) = (net.clone(), link.clone());
        let ours = out(bed
            .ns
            .run(move || with_proc_net(&n, &l, || Command::new(prog).args(args).output()))
            .expect("a private mount namespace showing the rendered /proc/net")
            .unwrap());
        compare(cmd, &kernel, &ours, &mut failures);
    }
    // ss reads $PROC_ROOT/net/* instead of asking the kernel over netlink.
    let ss = |proc_root: PathBuf| {
        out(bed
            .ns
            .run(move || {
                Command::new("ss")
                    .arg("-tuan")
                    .env("PROC_ROOT", proc_root)
                    .output()
            })
            .unwrap())
    };
    let kernel = ss(PathBuf::from("/proc"));
    let ours = ss(root.join("proc"));
    compare("ss -tuan (PROC_ROOT)", &kernel, &ours, &mut failures);
    assert_eq!(
        ours.stdout.lines().count(),
        7,
        "ss lists the 6 TCP/UDP sockets:\n{}",
        ours.stdout
    );
    let _ = std::fs::remove_dir_all(&root);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Socket listings follow the order of the kernel's connection hash, which
/// depends on a per-boot secret: compared as sorted lines.
fn sorted(text: &str) -> String {
    let mut v: Vec<&str> = text.split_inclusive('\n').collect();
    v.sort();
    v.concat()
}

fn compare(cmd: &str, kernel: &Out, ours: &Out, failures: &mut Vec<String>) {
    let (k, o) = if cmd.starts_with("route -A inet6") {
        (mask_ref(&kernel.stdout), mask_ref(&ours.stdout))
    } else if cmd.contains("-tuan") {
        (sorted(&kernel.stdout), sorted(&ours.stdout))
    } else {
        (kernel.stdout.clone(), ours.stdout.clone())
    };
    assert!(
        kernel.status == 0 && !kernel.stdout.is_empty(),
        "{cmd} on the kernel's files: {}\n{}",
        kernel.status,
        kernel.stderr
    );
    if kernel.status != ours.status || k != o || kernel.stderr != ours.stderr {
        failures.push(format!(
            "{cmd}: differs\n--- kernel ({}) {}\n{}--- procnet ({}) {}\n{}",
            kernel.status, kernel.stderr, kernel.stdout, ours.status, ours.stderr, ours.stdout
        ));
    }
}
