//! The thin OS layer: the only place with `unsafe`. Each call wraps one
//! system call and turns its failure into an `io::Error`.

pub mod affinity;
pub mod ifconfig;
pub mod mountns;
pub mod netns;
pub mod packet;
pub mod signal;
pub mod tun;

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// An eventfd used to wake a thread blocked in `poll`.
pub struct EventFd {
    fd: OwnedFd,
}

impl EventFd {
    pub fn new() -> io::Result<Self> {
        // SAFETY: eventfd takes no pointers; a negative return is checked below.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a freshly created descriptor that nothing else owns.
        Ok(EventFd {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Resets the counter, so that `poll` blocks on it again.
    pub fn drain(&self) {
        let mut v: u64 = 0;
        // SAFETY: reads at most 8 bytes into a live u64 from a descriptor we
        // own; it is non-blocking, and EAGAIN (counter already 0) is fine.
        unsafe { libc::read(self.fd.as_raw_fd(), (&mut v as *mut u64).cast(), 8) };
    }

    pub fn signal(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to a descriptor we own. A failed
        // write means the counter is already non-zero, which wakes readers too.
        unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }
}

impl AsRawFd for EventFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

pub enum Readiness {
    Readable,
    Stop,
}

/// Blocks until `fd` is readable or `stop` is signalled (stop wins).
pub fn wait_readable(fd: RawFd, stop: RawFd) -> io::Result<Readiness> {
    let mut fds = [
        libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: stop,
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    loop {
        // SAFETY: `fds` is a live array of two pollfd structs, and its length is passed.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if fds[1].revents != 0 {
            return Ok(Readiness::Stop);
        }
        if fds[0].revents & (libc::POLLERR | libc::POLLNVAL) != 0 {
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        if fds[0].revents != 0 {
            return Ok(Readiness::Readable);
        }
    }
}

/// Blocks until one of `fds` or `wake` is readable (or in error), or
/// `timeout` passes (None: no timeout). A signal interrupting the wait
/// counts as a return. Returns whether `wake` is readable: only then does
/// its counter need a read to clear it.
pub fn poll_readable(
    fds: &[RawFd],
    wake: RawFd,
    timeout: Option<std::time::Duration>,
) -> io::Result<bool> {
    let entry = |fd: RawFd| libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let all = || fds.iter().copied().chain(std::iter::once(wake));
    // The usual few fds (a stack's TUN devices and its wake-up) go on the
    // stack: the poll loop calls this every round.
    let mut small = [entry(-1); 8];
    let mut large = Vec::new();
    let pfds: &mut [libc::pollfd] = if fds.len() < small.len() {
        for (p, fd) in small.iter_mut().zip(all()) {
            *p = entry(fd);
        }
        &mut small[..fds.len() + 1]
    } else {
        large.extend(all().map(entry));
        &mut large
    };
    let ts = timeout.map(|t| libc::timespec {
        tv_sec: t.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: t.subsec_nanos() as libc::c_long,
    });
    let tsp = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `pfds` is a live array whose length is passed; `tsp` is null or
    // points at a timespec that outlives the call; no signal mask is passed.
    let r = unsafe {
        libc::ppoll(
            pfds.as_mut_ptr(),
            pfds.len() as libc::nfds_t,
            tsp,
            std::ptr::null(),
        )
    };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
        return Ok(false);
    }
    Ok(pfds.last().is_some_and(|p| p.revents != 0))
}

/// One read(2) into the free capacity of `buf`, whose length grows by the
/// bytes read: a packet lands in its final buffer, without a copy or the
/// zeroing of a buffer first. Returns the bytes read.
pub fn read_to_spare(fd: RawFd, buf: &mut Vec<u8>) -> io::Result<usize> {
    let spare = buf.spare_capacity_mut();
    // SAFETY: the spare capacity is writable memory of `spare.len()` bytes
    // that outlives the call, and read(2) writes at most that many.
    let n = unsafe { libc::read(fd, spare.as_mut_ptr().cast(), spare.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = n as usize;
    // SAFETY: the kernel initialised the first `n` bytes of the spare
    // capacity (n <= its length), which lie within the allocation.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}

/// Puts a descriptor in non-blocking mode.
pub fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_GETFL and F_SETFL take and return plain integers; errors are checked.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The kernel's ifindex of a device in the calling thread's namespace.
pub fn if_nametoindex(name: &str) -> io::Result<u32> {
    let c = CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    let index = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if index == 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(index)
    }
}

/// The effective uid of this process.
pub fn geteuid() -> u32 {
    // SAFETY: geteuid has no arguments and cannot fail.
    unsafe { libc::geteuid() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// A wait over `n` eventfds (the last of them the wake-up) returns for
    /// the one signaled, wherever it sits, and tells whether it was the
    /// wake-up: few fds go in the array on the stack, more in a Vec.
    fn wakes_for_any_of(n: usize) {
        let fds: Vec<EventFd> = (0..n).map(|_| EventFd::new().unwrap()).collect();
        let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
        let (others, wake) = (&raw[..n - 1], raw[n - 1]);
        for signaled in [0, n / 2, n - 1] {
            fds[signaled].signal();
            let start = Instant::now();
            let woke = poll_readable(others, wake, Some(Duration::from_secs(10))).unwrap();
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "{n} fds: the wait did not see fd {signaled}"
            );
            assert_eq!(woke, signaled == n - 1, "{n} fds, fd {signaled} signaled");
            fds[signaled].drain();
        }
        // Nothing signaled: the timeout ends the wait.
        let start = Instant::now();
        assert!(!poll_readable(others, wake, Some(Duration::from_millis(20))).unwrap());
        assert!(start.elapsed() >= Duration::from_millis(20));
    }

    #[test]
    fn poll_readable_few_fds() {
        wakes_for_any_of(1);
        wakes_for_any_of(8);
    }

    #[test]
    fn poll_readable_many_fds() {
        wakes_for_any_of(9);
        wakes_for_any_of(40);
    }
}
