//! Starting the program confined: between fork and exec the child enters a
//! private mount namespace showing the runner's directory as /proc/net,
//! installs the seccomp filter, and hands the listener to the runner over a
//! unix socket. It reports each stage first (one tagged message), so that a
//! failed spawn says which step failed.

use std::ffi::CString;
use std::io;
use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

/// The child is about to enter the mount namespace.
pub const STAGE_MOUNT: u8 = 1;
/// The child is about to install the seccomp filter.
pub const STAGE_SECCOMP: u8 = 2;
/// The message carrying the listener fd: everything before exec succeeded.
pub const STAGE_READY: u8 = 3;

/// Spawns `cmd` confined. `link` is the symlink to mount over /proc/net,
/// `prog` the seccomp filter, `status` the child's end of the runner's
/// SOCK_SEQPACKET pair.
pub fn spawn_confined(
    cmd: &mut Command,
    link: CString,
    prog: Vec<libc::sock_filter>,
    status: RawFd,
) -> io::Result<Child> {
    let setup = move || -> io::Result<()> {
        super::send_byte(status, STAGE_MOUNT)?;
        netstack::os::mountns::show_as_proc_net(&link)?;
        super::send_byte(status, STAGE_SECCOMP)?;
        let listener = super::seccomp::install(&prog)?;
        super::send_fd(
            status,
            std::os::fd::AsRawFd::as_raw_fd(&listener),
            STAGE_READY,
        )?;
        drop(listener);
        Ok(())
    };
    // SAFETY: the closure runs in the forked child before exec. It only makes
    // system calls (send, unshare, mount, open_tree, move_mount, seccomp,
    // sendmsg, close) on data prepared before the fork, and allocates nothing.
    unsafe { cmd.pre_exec(setup) };
    cmd.spawn()
}
