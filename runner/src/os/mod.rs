//! The thin OS layer: the only `unsafe` in sandnet-run. Each function wraps
//! one or two system calls and turns failure into an `io::Error`. Functions
//! the child calls between fork and exec allocate nothing (noted on each).

pub mod mem;
pub mod notify;
pub mod seccomp;
pub mod spawn;

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// A connected AF_UNIX SOCK_SEQPACKET pair (close-on-exec).
pub fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: socketpair writes two descriptors into the live two-element array.
    check(unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    })?;
    // SAFETY: both descriptors were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Sends one byte. Allocates nothing.
pub fn send_byte(sock: RawFd, byte: u8) -> io::Result<()> {
    // SAFETY: sends one byte from a live local.
    let n = unsafe {
        libc::send(
            sock,
            (&byte as *const u8).cast(),
            1,
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Receives and discards one message, if one is queued.
pub fn drain_byte(sock: RawFd) {
    let mut b = [0u8; 16];
    // SAFETY: receives into a live 16-byte buffer; a failure (nothing queued) is ignored.
    unsafe { libc::recv(sock, b.as_mut_ptr().cast(), b.len(), libc::MSG_DONTWAIT) };
}

/// Control-message buffer for one fd, aligned for cmsghdr.
#[repr(C, align(8))]
struct CmsgBuf([u8; 24]);

/// Sends `fd` over the unix socket `sock` with SCM_RIGHTS, with the one-byte
/// payload `tag`. Allocates nothing.
pub fn send_fd(sock: RawFd, fd: RawFd, tag: u8) -> io::Result<()> {
    let mut byte = tag;
    let mut iov = libc::iovec {
        iov_base: (&mut byte as *mut u8).cast(),
        iov_len: 1,
    };
    let mut cbuf = CmsgBuf([0; 24]);
    // SAFETY: msghdr is plain data; the fields used are set below.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.0.as_mut_ptr().cast();
    // SAFETY: CMSG_SPACE only computes a size.
    msg.msg_controllen = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as _;
    // SAFETY: msg_control points at `cbuf`, large enough for one cmsghdr and
    // one int (CMSG_SPACE(4) = 24 on 64-bit), so CMSG_FIRSTHDR is non-null and
    // CMSG_DATA stays inside it.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<RawFd>(), fd);
    }
    // SAFETY: `msg` points to live `iov`, `byte` and `cbuf`.
    let n = unsafe { libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Receives one message without waiting: its first byte and the fd it
/// carried, if any. None when nothing is queued.
pub fn recv_tagged(sock: RawFd) -> Option<(u8, Option<OwnedFd>)> {
    let mut byte = 0u8;
    let mut iov = libc::iovec {
        iov_base: (&mut byte as *mut u8).cast(),
        iov_len: 1,
    };
    let mut cbuf = CmsgBuf([0; 24]);
    // SAFETY: msghdr is plain data; the fields used are set below.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.0.as_mut_ptr().cast();
    msg.msg_controllen = cbuf.0.len() as _;
    // SAFETY: `msg` points to live `iov`, `byte` and `cbuf` of the lengths given.
    let n = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC) };
    if n <= 0 {
        return None;
    }
    let mut fd = None;
    // SAFETY: the kernel filled msg_control/msg_controllen; the CMSG macros
    // walk only within them, and an SCM_RIGHTS message carries one int here.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        if !c.is_null() && (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS
        {
            let raw = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<RawFd>());
            fd = Some(OwnedFd::from_raw_fd(raw));
        }
    }
    Some((byte, fd))
}

/// Sets O_NONBLOCK on the open file description behind `fd`.
pub fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: F_GETFL/F_SETFL take no pointers.
    let fl = check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) })?;
    // SAFETY: as above.
    check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK) })?;
    Ok(())
}

/// A pidfd for our child `pid` (readable once it has exited).
pub fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open(pid, 0) takes no pointers; the result is checked.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a descriptor the kernel just returned, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// poll(2) on `fds` ((fd, events) pairs); returns each one's revents.
/// An interrupted wait returns all zeros.
pub fn poll(fds: &[(RawFd, i16)], timeout_ms: i32) -> io::Result<Vec<i16>> {
    let mut p: Vec<libc::pollfd> = fds
        .iter()
        .map(|&(fd, events)| libc::pollfd {
            fd,
            events,
            revents: 0,
        })
        .collect();
    // SAFETY: `p` is a live array of pollfd, and its length is passed.
    let r = unsafe { libc::poll(p.as_mut_ptr(), p.len() as libc::nfds_t, timeout_ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(vec![0; fds.len()]);
        }
        return Err(e);
    }
    Ok(p.iter().map(|x| x.revents).collect())
}

/// A copy of the target process's descriptor `targetfd` (the same open file
/// description), through a pidfd of the process `tgid` (pidfd_getfd, Linux 5.6).
pub fn fd_of_process(tgid: u32, targetfd: u32) -> io::Result<OwnedFd> {
    let pidfd = pidfd_open(tgid)?;
    // SAFETY: pidfd_getfd(pidfd, fd, 0) takes no pointers; the result is checked.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_pidfd_getfd,
            pidfd.as_raw_fd(),
            targetfd as libc::c_int,
            0,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a descriptor the kernel just returned, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Whether the other end of the connected socket `fd` has gone (every
/// descriptor of it closed): POLLHUP, without waiting.
pub fn hung_up(fd: BorrowedFd<'_>) -> bool {
    poll(&[(fd.as_raw_fd(), 0)], 0).is_ok_and(|r| r[0] & libc::POLLHUP != 0)
}

/// The effective uid of this process.
pub fn geteuid() -> u32 {
    // SAFETY: geteuid has no arguments and cannot fail.
    unsafe { libc::geteuid() }
}

/// The write end of the signal pipe, for the handler (-1 before setup).
static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_forwarded_signal(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    _context: *mut libc::c_void,
) {
    // SIGINT and SIGQUIT from the terminal (si_code SI_KERNEL) reach the
    // command directly, being in the same process group: forwarded only when
    // a process sent them (si_code <= 0: SI_USER, SI_QUEUE, SI_TKILL).
    // SAFETY: the kernel passes a valid siginfo_t for an SA_SIGINFO handler;
    // reading its si_code field is a plain load.
    let from_process = info.is_null() || unsafe { (*info).si_code } <= 0;
    if (signal == libc::SIGINT || signal == libc::SIGQUIT) && !from_process {
        return;
    }
    let fd = SIGNAL_PIPE.load(Ordering::Relaxed);
    let byte = signal as u8;
    // SAFETY: write(2) is async-signal-safe; it writes one byte from a live
    // local to the pipe (nonblocking: a full pipe drops the byte, harmlessly,
    // since bytes are already waiting).
    unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
}

/// The signals the runner passes on to its command.
const FORWARDED: [libc::c_int; 6] = [
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

/// From now on SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2, and SIGINT and SIGQUIT
/// sent by a process (not by the terminal, which sends them to the command
/// as well), do not end the runner: each becomes one byte (the signal
/// number) readable from the returned pipe, for the runner to forward.
pub fn forward_signals() -> io::Result<OwnedFd> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 writes two descriptors into the live two-element array.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) })?;
    // SAFETY: both descriptors were just created and are owned by nobody else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // The write end lives as long as the process: the handler may run at any time.
    SIGNAL_PIPE.store(write.into_raw_fd(), Ordering::Relaxed);
    for signal in FORWARDED {
        // SAFETY: sigaction is plain old data; all-zero is a valid value (an
        // empty mask, no flags), filled in below.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_forwarded_signal
            as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void)
            as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART | libc::SA_SIGINFO;
        // SAFETY: `action` is live and initialized; the handler only reads
        // its siginfo and writes to a pipe.
        check(unsafe { libc::sigaction(signal, &action, std::ptr::null_mut()) })?;
    }
    Ok(read)
}

/// Reads the signals queued on the pipe of [`forward_signals`].
pub fn read_signals(pipe: BorrowedFd<'_>) -> Vec<i32> {
    let mut b = [0u8; 16];
    // SAFETY: reads into a live 16-byte buffer; the pipe is nonblocking.
    let n = unsafe { libc::read(pipe.as_raw_fd(), b.as_mut_ptr().cast(), b.len()) };
    b[..n.max(0) as usize].iter().map(|&s| s as i32).collect()
}

/// Sends `signal` to process `pid` (our child, not yet reaped, so the pid is still its own).
pub fn kill(pid: u32, signal: i32) {
    // SAFETY: kill takes no pointers; a failure (already exited) is ignored.
    unsafe { libc::kill(pid as libc::pid_t, signal) };
}
