//! SIGINT and SIGTERM turned into a flag a program polls, for a clean
//! shutdown on Ctrl-C: the handler only stores to an atomic, which is
//! async-signal-safe.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_signal: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Installs the handler for SIGINT and SIGTERM (for the whole process). From
/// then on those signals no longer end the process: `interrupted` reports them.
pub fn catch_interrupts() -> io::Result<()> {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: sigaction is plain old data; all-zero is a valid value (an
        // empty mask, no flags), filled in below.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // Restart interrupted system calls: the program polls the flag.
        action.sa_flags = libc::SA_RESTART;
        // SAFETY: `action` is live and initialized, the old action is not
        // asked for (null), and the handler only touches an atomic.
        let r = unsafe { libc::sigaction(signal, &action, std::ptr::null_mut()) };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Whether SIGINT or SIGTERM arrived since `catch_interrupts`.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}
