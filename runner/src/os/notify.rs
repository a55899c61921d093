//! The supervisor's side of seccomp user notification: the ioctls on the
//! listener fd (seccomp_unotify(2)).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

/// One trapped system call.
#[derive(Clone, Copy, Debug)]
pub struct Notif {
    pub id: u64,
    /// The calling thread's id (in the supervisor's pid namespace).
    pub pid: u32,
    pub nr: i64,
    pub args: [u64; 6],
}

fn ioctl<T>(fd: BorrowedFd<'_>, req: libc::Ioctl, arg: *mut T) -> io::Result<libc::c_int> {
    // SAFETY: every caller passes a pointer to a live value of the type the
    // request expects (seccomp_notif, seccomp_notif_resp, u64 or
    // seccomp_notif_addfd), as the kernel's uapi defines each request.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), req, arg) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Receives the next notification (blocks unless the listener is readable).
/// ENOENT means the target died meanwhile: callers retry.
pub fn recv(listener: BorrowedFd<'_>) -> io::Result<Notif> {
    // SAFETY: seccomp_notif is plain data; the kernel requires it zeroed.
    let mut n: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_RECV, &mut n)?;
    Ok(Notif {
        id: n.id,
        pid: n.pid,
        nr: n.data.nr as i64,
        args: n.data.args,
    })
}

/// Whether the notification `id` is still pending (its thread alive and
/// still in the call): checked after reading the target's memory and
/// before acting on what was read.
pub fn id_valid(listener: BorrowedFd<'_>, id: u64) -> bool {
    let mut id = id;
    ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_ID_VALID, &mut id).is_ok()
}

fn send(listener: BorrowedFd<'_>, id: u64, val: i64, error: i32, flags: u32) -> io::Result<()> {
    let mut resp = libc::seccomp_notif_resp {
        id,
        val,
        error,
        flags,
    };
    ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp).map(|_| ())
}

/// The call returns `val`.
pub fn reply(listener: BorrowedFd<'_>, id: u64, val: i64) -> io::Result<()> {
    send(listener, id, val, 0, 0)
}

/// The call fails with `errno`.
pub fn fail(listener: BorrowedFd<'_>, id: u64, errno: i32) -> io::Result<()> {
    send(listener, id, 0, -errno, 0)
}

/// The kernel runs the call as if it had not been trapped.
pub fn continue_call(listener: BorrowedFd<'_>, id: u64) -> io::Result<()> {
    send(
        listener,
        id,
        0,
        0,
        libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
    )
}

/// Installs a copy of our `src` as fd `newfd` in the target and, atomically,
/// answers the call with that fd number (SECCOMP_ADDFD_FLAG_SETFD | SEND).
pub fn add_fd_and_reply(
    listener: BorrowedFd<'_>,
    id: u64,
    src: RawFd,
    newfd: u32,
    cloexec: bool,
) -> io::Result<i32> {
    let mut addfd = libc::seccomp_notif_addfd {
        id,
        flags: (libc::SECCOMP_ADDFD_FLAG_SETFD | libc::SECCOMP_ADDFD_FLAG_SEND) as u32,
        srcfd: src as u32,
        newfd,
        newfd_flags: if cloexec { libc::O_CLOEXEC as u32 } else { 0 },
    };
    ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_ADDFD, &mut addfd)
}
