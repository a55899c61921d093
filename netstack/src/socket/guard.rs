//! Running a program's closure on the poll thread, under the stack's lock
//! (receive sinks, send sources): a panic in it is caught and handed back,
//! and a call from it into a stack panics instead of deadlocking.

use std::cell::Cell;

thread_local! {
    /// This thread is running a program's closure under a stack's lock.
    static IN_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

/// Panics if a sink or source on this thread calls into a stack: its own
/// stack's lock is held, so the call would deadlock, and two stacks whose
/// closures call each other would too. The panic fails the closure's
/// connection instead. `poll::lock` asks.
pub(crate) fn assert_not_in_callback() {
    if IN_CALLBACK.get() {
        panic!(
            "a receive sink or send source called into a stack; they run under the stack's lock"
        );
    }
}

/// Runs `f`, a program's closure, catching its panic.
pub(crate) fn run<R>(f: impl FnOnce() -> R) -> std::thread::Result<R> {
    IN_CALLBACK.set(true);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    IN_CALLBACK.set(false);
    r
}
