//! A private Linux network namespace served by one dedicated thread.
//!
//! Namespaces belong to threads, so a `NetNs` keeps a thread that unshared its
//! network namespace and runs closures there: devices it creates (TUN), sockets
//! it opens and processes it spawns (`ip`) all live in the namespace. Sockets
//! keep their namespace when handed to other threads. The namespace disappears
//! when the thread ends and the last socket and device in it are closed; no
//! name is registered, so nothing is left behind if a test fails.

use crossbeam_channel::{unbounded, Sender};
use std::io;
use std::process::{Command, Output};
use std::thread::JoinHandle;

type Job = Box<dyn FnOnce() + Send>;

pub struct NetNs {
    jobs: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl NetNs {
    /// Creates the namespace (needs CAP_SYS_ADMIN) with `lo` up.
    pub fn new() -> io::Result<NetNs> {
        let (jobs, rx) = unbounded::<Job>();
        let (ready_tx, ready_rx) = crossbeam_channel::bounded::<io::Result<()>>(1);
        let thread = std::thread::Builder::new()
            .name("sandnet-netns".into())
            .spawn(move || {
                // SAFETY: unshare takes only flags; it changes the namespace of this thread alone.
                let r = unsafe { libc::unshare(libc::CLONE_NEWNET) };
                if r != 0 {
                    let _ = ready_tx.send(Err(io::Error::last_os_error()));
                    return;
                }
                let _ = ready_tx.send(Ok(()));
                for job in rx {
                    job();
                }
            })?;
        ready_rx
            .recv()
            .map_err(|_| io::Error::other("netns thread ended"))??;
        let ns = NetNs {
            jobs: Some(jobs),
            thread: Some(thread),
        };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Runs `f` on the namespace's thread and returns its result.
    pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        self.jobs
            .as_ref()
            .expect("jobs sender lives until drop")
            .send(job)
            .expect("netns thread alive");
        rx.recv().expect("netns job panicked")
    }

    /// Runs a command inside the namespace and returns its output.
    pub fn command(&self, program: &str, args: &[&str]) -> io::Result<Output> {
        let program = program.to_string();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        self.run(move || Command::new(program).args(args).output())
    }

    /// Runs `ip ARGS...` in the namespace; a non-zero exit is an error carrying stderr.
    pub fn ip(&self, args: &[&str]) -> io::Result<String> {
        let out = self.command("ip", args)?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "ip {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Reads a file as seen from inside the namespace. `/proc/net/...` is read
    /// through /proc/thread-self/net, since /proc/net follows the process's
    /// main thread, which stays outside.
    pub fn read_file(&self, path: &str) -> io::Result<String> {
        let path = match path.strip_prefix("/proc/net/") {
            Some(rest) => format!("/proc/thread-self/net/{rest}"),
            None => path.to_string(),
        };
        self.run(move || std::fs::read_to_string(path))
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
