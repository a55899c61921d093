use crate::inet::DevStats;
use std::sync::Mutex;

/// A link's /proc/net/dev row. Written by the poll thread and, for TUN, by the
/// reader thread that counts what it had to drop; read by snapshots.
#[derive(Default)]
pub struct LinkCounters {
    stats: Mutex<DevStats>,
}

impl LinkCounters {
    pub fn count_rx(&self, bytes: u64) {
        let mut s = self.lock();
        s.rx_packets += 1;
        s.rx_bytes += bytes;
    }

    pub fn count_tx(&self, bytes: u64) {
        let mut s = self.lock();
        s.tx_packets += 1;
        s.tx_bytes += bytes;
    }

    /// Adds `n` to one counter, chosen by a field accessor.
    pub fn add(&self, field: impl FnOnce(&mut DevStats) -> &mut u64, n: u64) {
        let mut s = self.lock();
        let f = field(&mut s);
        *f = f.saturating_add(n);
    }

    pub fn snapshot(&self) -> DevStats {
        *self.lock()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DevStats> {
        // A poisoned counter lock still holds valid integers.
        self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }
}
