//! "Something changed": how blocked socket calls learn that the poll thread
//! or another call moved their socket on. A condvar that skips the wake-up
//! system call when nobody waits, which is most poll rounds under load.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, MutexGuard};
use std::time::Duration;

#[derive(Default)]
pub(crate) struct Changed {
    cv: Condvar,
    /// Threads inside `wait`. Raised under the state lock before waiting, so
    /// a notifier that changed the state under that lock and reads it after
    /// unlocking cannot miss a waiter that saw the old state.
    waiters: AtomicUsize,
}

impl Changed {
    pub fn notify(&self) {
        if self.waiters.load(Ordering::SeqCst) > 0 {
            self.cv.notify_all();
        }
    }

    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let guard = self.cv.wait(guard).unwrap_or_else(|e| e.into_inner());
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        guard
    }

    pub fn wait_timeout<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> MutexGuard<'a, T> {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let (guard, _) = self
            .cv
            .wait_timeout(guard, timeout)
            .unwrap_or_else(|e| e.into_inner());
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        guard
    }
}
