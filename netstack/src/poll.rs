//! The poll thread: one per stack. It sleeps until a link has a packet, the
//! API side wakes it, or smoltcp's next timer is due; then it moves packets
//! link -> ingress -> smoltcp -> egress -> link under the stack's lock.

use crate::device::Router;
use crate::link::Packet;
use crate::state::State;
use crossbeam_channel::{Receiver, Select};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// Packets taken from one link per round, so that one busy link cannot starve the rest.
const RX_BATCH: usize = 64;

/// How long the timer waits after a round in which a socket repeated a
/// packet (device.rs): at most one copy per socket goes out per pause.
const STALL_PAUSE: Duration = Duration::from_millis(10);

pub(crate) fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // The tables stay consistent between statements, so a panic elsewhere
    // does not leave them half-written; keep serving.
    state.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn run(state: Arc<Mutex<State>>, changed: Arc<Condvar>, wake: Receiver<()>) {
    let mut links: Vec<(u32, Receiver<Packet>)> = Vec::new();
    let mut generation = u64::MAX;
    loop {
        let delay = {
            let mut s = lock(&state);
            if s.shutdown {
                return;
            }
            if s.generation != generation {
                generation = s.generation;
                links = s
                    .nics
                    .values()
                    .map(|n| (n.index, n.link.receiver().clone()))
                    .collect();
            }
            let now = s.now();
            let stalled = std::mem::take(&mut s.stalled);
            let State { iface, sockets, .. } = &mut *s;
            let delay = iface
                .poll_delay(now, sockets)
                .map(|d| Duration::from_micros(d.total_micros()));
            // A socket that repeated itself wants to send again at once, and
            // would again: its timer waits a little (packets and calls do not).
            if stalled {
                delay.map(|d| d.max(STALL_PAUSE))
            } else {
                delay
            }
        };
        let mut sel = Select::new();
        for (_, rx) in &links {
            sel.recv(rx);
        }
        let wake_index = sel.recv(&wake);
        let ready = match delay {
            Some(d) => sel.ready_timeout(d).ok(),
            None => Some(sel.ready()),
        };
        if ready == Some(wake_index)
            && wake.try_recv() == Err(crossbeam_channel::TryRecvError::Disconnected)
        {
            // Every Stack handle is gone.
            return;
        }
        let mut s = lock(&state);
        s.wakeups += 1;
        let stepped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| step(&mut s)));
        if stepped.is_err() {
            // A bug met mid-round: smoltcp's state may be half-updated. Stop
            // this stack (its calls then fail with ENETDOWN instead of
            // hanging) and leave the rest of the process alone.
            s.shutdown = true;
            drop(s);
            changed.notify_all();
            return;
        }
        drop(s);
        changed.notify_all();
    }
}

/// One round: drain the links, let smoltcp process and emit, route what it emitted.
pub(crate) fn step(s: &mut State) {
    let indexes: Vec<u32> = s.nics.keys().copied().collect();
    for ifindex in indexes {
        for _ in 0..RX_BATCH {
            let Some(mut packet) = s.nics.get(&ifindex).and_then(|n| n.link.try_recv()) else {
                break;
            };
            if crate::ingress::accept(s, ifindex, &mut packet) {
                s.ingress.push_back(packet);
            }
        }
    }
    let now = s.now();
    let mtu = s.max_mtu();
    loop {
        {
            let State {
                iface,
                sockets,
                ingress,
                egress,
                stalled,
                ..
            } = &mut *s;
            let mut dev = Router::new(ingress, egress, mtu);
            iface.poll(now, &mut dev, sockets);
            *stalled |= dev.repeated;
        }
        if s.egress.is_empty() {
            break;
        }
        for packet in std::mem::take(&mut s.egress) {
            crate::egress::send(s, packet);
        }
        if s.ingress.is_empty() {
            break;
        }
    }
    crate::socket::observe(s);
}
