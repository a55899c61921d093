//! sandnet-run: runs an unmodified program with a sandnet [`netstack::Stack`]
//! as its view of the network.
//!
//! - **/proc/net**: the child enters a private mount namespace in which
//!   /proc/net is a symlink to a directory the runner keeps current with
//!   `procnet::write_dir` (at start, then every `--refresh-ms`).
//! - **NETLINK_ROUTE**: the child runs under a seccomp filter whose
//!   user-notification listener the runner holds; the runner emulates the
//!   program's NETLINK_ROUTE sockets ([`supervisor`]) and answers their
//!   requests with a [`service::NetlinkService`] per socket.
//!
//! docs/RUNNER.md describes what is trapped and the limits.

pub mod config;
pub mod ifioctl;
pub mod os;
pub mod rtnetlink;
pub mod service;
mod supervisor;

use config::Config;
use os::spawn::{STAGE_MOUNT, STAGE_READY, STAGE_SECCOMP};
use service::ServiceFactory;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Exit status for the runner's own failures (usage, not root, no seccomp
/// user notification, a bad configuration), as `env` and container runners use.
pub const EXIT_RUNNER: i32 = 125;
/// The command was found but could not be executed.
pub const EXIT_CANNOT_EXEC: i32 = 126;
/// The command was not found, as a shell reports it.
pub const EXIT_NOT_FOUND: i32 = 127;

pub const USAGE: &str = "usage: sandnet-run [--config FILE] [--nic IF] [--addr IF=ADDR/PLEN] \
[--route \"DST|default [via GW] [dev IF] [metric N] [src ADDR]\"] [--mtu IF=N] \
[--refresh-ms N] -- COMMAND [ARGS...]";

/// What the command line asks for.
#[derive(Debug)]
pub struct Options {
    pub config: Config,
    pub refresh: Duration,
    pub command: Vec<String>,
}

/// Parses the arguments after the program name.
pub fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut config = Config::default();
    let mut refresh = Duration::from_millis(1000);
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "--" {
            i += 1;
            break;
        }
        if !a.starts_with("--") {
            break;
        }
        if a == "--help" || a == "-h" {
            return Err(USAGE.to_string());
        }
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if matches!(f, "--config" | "--refresh-ms") => (f, Some(v.to_string())),
            _ => (a, None),
        };
        let value = match inline {
            Some(v) => v,
            None => {
                i += 1;
                args.get(i)
                    .cloned()
                    .ok_or_else(|| format!("{flag} needs a value"))?
            }
        };
        let r = match flag {
            "--config" => std::fs::read_to_string(&value)
                .map_err(|e| format!("--config {value}: {e}"))
                .and_then(|t| Config::parse(&t).map_err(|e| format!("--config {value}: {e}")))
                .map(|c| config.stmts.extend(c.stmts)),
            "--addr" => config.add_addr_flag(&value).map_err(|e| e.0),
            "--route" => config.add_route_flag(&value).map_err(|e| e.0),
            "--mtu" => config.add_mtu_flag(&value).map_err(|e| e.0),
            "--nic" => config.add_nic_flag(&value).map_err(|e| e.0),
            "--refresh-ms" => value
                .parse::<u64>()
                .ok()
                .filter(|&ms| ms > 0)
                .map(|ms| refresh = Duration::from_millis(ms))
                .ok_or_else(|| format!("--refresh-ms {value:?}: expected a positive number")),
            _ => Err(format!("unknown option {flag}\n{USAGE}")),
        };
        r?;
        i += 1;
    }
    let command = args[i..].to_vec();
    if command.is_empty() {
        return Err(format!("no command given\n{USAGE}"));
    }
    Ok(Options {
        config,
        refresh,
        command,
    })
}

/// A directory the runner owns for one run: `net/` (the rendered files) and
/// `net-link` (the symlink mounted over /proc/net). Removed on drop.
struct RunDir {
    root: PathBuf,
}

impl RunDir {
    fn create() -> io::Result<RunDir> {
        let root = std::env::temp_dir().join(format!("sandnet-run.{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("net"))?;
        std::os::unix::fs::symlink(root.join("net"), root.join("net-link"))?;
        Ok(RunDir { root })
    }

    fn net(&self) -> PathBuf {
        self.root.join("net")
    }

    fn link(&self) -> PathBuf {
        self.root.join("net-link")
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn fail(code: i32, msg: impl std::fmt::Display) -> i32 {
    eprintln!("sandnet-run: {msg}");
    code
}

/// The service every socket gets: the `netlink` crate's responder.
pub fn netlink_factory(stack: netstack::Stack) -> ServiceFactory {
    rtnetlink::factory(stack)
}

/// Runs the command line `args` (without the program name); returns the
/// exit status for the runner: the command's, or one of the `EXIT_*`.
pub fn main_with_args(args: &[String]) -> i32 {
    let opts = match parse_args(args) {
        Ok(o) => o,
        Err(e) if e == USAGE => {
            println!("{USAGE}");
            return 0;
        }
        Err(e) => return fail(EXIT_RUNNER, e),
    };
    if os::geteuid() != 0 {
        return fail(
            EXIT_RUNNER,
            "needs root (CAP_SYS_ADMIN for the private mount namespace and the seccomp listener)",
        );
    }
    if !os::seccomp::user_notif_available() {
        return fail(
            EXIT_RUNNER,
            "seccomp user notification is unavailable in this kernel (needs Linux 5.14 or later)",
        );
    }
    let (stack, _peers) = match opts.config.build() {
        Ok(s) => s,
        Err(e) => return fail(EXIT_RUNNER, format!("configuration: {e}")),
    };
    match run(&stack, netlink_factory(stack.clone()), &opts) {
        Ok(code) => code,
        Err((code, msg)) => fail(code, msg),
    }
}

fn cpath(p: &Path) -> Result<CString, (i32, String)> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| (EXIT_RUNNER, format!("bad path {p:?}")))
}

/// Runs the command with `stack` shown and `factory` answering netlink.
pub fn run(
    stack: &netstack::Stack,
    factory: ServiceFactory,
    opts: &Options,
) -> Result<i32, (i32, String)> {
    let runner = |e: io::Error, what: &str| (EXIT_RUNNER, format!("{what}: {e}"));
    let dir = RunDir::create().map_err(|e| runner(e, "temporary directory"))?;
    procnet::write_dir(dir.net(), &stack.snapshot()).map_err(|e| runner(e, "writing /proc/net"))?;
    let (ours, theirs) = os::seqpacket_pair().map_err(|e| runner(e, "socketpair"))?;
    let mut cmd = Command::new(&opts.command[0]);
    cmd.args(&opts.command[1..]);
    let spawned = os::spawn::spawn_confined(
        &mut cmd,
        cpath(&dir.link())?,
        os::seccomp::filter(),
        theirs.as_raw_fd(),
    );
    drop(theirs);
    let mut stage = 0u8;
    let mut listener: Option<OwnedFd> = None;
    while let Some((tag, fd)) = os::recv_tagged(ours.as_raw_fd()) {
        stage = tag;
        if fd.is_some() {
            listener = fd;
        }
    }
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            let name = &opts.command[0];
            return Err(match stage {
                STAGE_MOUNT => runner(e, "cannot show the stack as /proc/net (mount namespace)"),
                STAGE_SECCOMP => runner(e, "cannot install the seccomp filter"),
                _ if e.kind() == io::ErrorKind::NotFound => {
                    (EXIT_NOT_FOUND, format!("{name}: command not found"))
                }
                _ => (EXIT_CANNOT_EXEC, format!("{name}: {e}")),
            });
        }
    };
    let Some(listener) = listener.filter(|_| stage == STAGE_READY) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err((
            EXIT_RUNNER,
            "the child did not hand over its seccomp listener".into(),
        ));
    };
    let signals = os::forward_signals().map_err(|e| runner(e, "signal handlers"))?;
    let pidfd = os::pidfd_open(child.id()).map_err(|e| runner(e, "pidfd_open"))?;
    let mut sup = supervisor::Supervisor::new(listener, factory, stack.clone());
    let mut listening = true;
    let mut last = Instant::now();
    loop {
        let timeout = opts.refresh.saturating_sub(last.elapsed());
        let mut fds = vec![
            (pidfd.as_raw_fd(), libc::POLLIN),
            (signals.as_raw_fd(), libc::POLLIN),
        ];
        if listening {
            fds.push((sup.listener().as_raw_fd(), libc::POLLIN));
        }
        let rev = os::poll(&fds, timeout.as_millis().min(i32::MAX as u128) as i32)
            .map_err(|e| runner(e, "poll"))?;
        if rev[1] != 0 {
            for s in os::read_signals(signals.as_fd()) {
                os::kill(child.id(), s);
            }
        }
        if listening && rev[2] & libc::POLLIN != 0 {
            if let Ok(n) = os::notify::recv(sup.listener()) {
                sup.handle(n);
            }
            // A change made over netlink shows in /proc/net at once, as in Linux.
            if sup.take_tables_changed() {
                let _ = procnet::write_dir(dir.net(), &stack.snapshot());
            }
        } else if listening && rev[2] & (libc::POLLHUP | libc::POLLERR) != 0 {
            listening = false;
        }
        if rev[0] != 0 {
            break;
        }
        if last.elapsed() >= opts.refresh {
            sup.collect_closed();
            let _ = procnet::write_dir(dir.net(), &stack.snapshot());
            last = Instant::now();
        }
    }
    let status = child.wait().map_err(|e| runner(e, "wait"))?;
    Ok(status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}
