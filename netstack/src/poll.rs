//! The poll thread: one per stack. It sleeps until a link has a packet, the
//! API side wakes it, or smoltcp's next timer is due; then it moves packets
//! link -> ingress -> smoltcp -> egress -> link under the stack's lock.

use crate::changed::Changed;
use crate::device::Router;
use crate::link::Waitable;
use crate::state::State;
use crossbeam_channel::{Receiver, Select};
use std::sync::{Arc, Mutex, MutexGuard};
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

pub(crate) fn run(state: Arc<Mutex<State>>, changed: Arc<Changed>, wake: Receiver<()>) {
    loop {
        // The set of links changes rarely: one Select per set, reused every
        // round (building it allocates).
        let (links, generation) = {
            let s = lock(&state);
            if s.shutdown {
                return;
            }
            let links: Vec<Waitable> = s.nics.values().map(|n| n.link.waitable()).collect();
            (links, s.generation)
        };
        let mut sel = Select::new();
        for w in &links {
            match w {
                Waitable::Queue(rx) => sel.recv(rx),
                Waitable::Tun(rx) => sel.recv(rx),
            };
        }
        // A round that left packets on a link runs again without sleeping.
        let mut more = false;
        let wake_index = sel.recv(&wake);
        loop {
            let delay = {
                let mut s = lock(&state);
                if s.shutdown {
                    return;
                }
                if s.generation != generation {
                    break;
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
            let ready = match delay {
                _ if more => sel.try_ready().ok(),
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
            more = matches!(stepped, Ok(true));
            if stepped.is_err() {
                // A bug met mid-round: smoltcp's state may be half-updated. Stop
                // this stack (its calls then fail with ENETDOWN instead of
                // hanging) and leave the rest of the process alone.
                s.shutdown = true;
                drop(s);
                changed.notify();
                return;
            }
            drop(s);
            changed.notify();
        }
    }
}

/// One round: drain the links, let smoltcp process and emit, route what it
/// emitted. Returns whether a link still holds packets (it gave a full batch).
pub(crate) fn step(s: &mut State) -> bool {
    let mut more = false;
    let mut order = std::mem::take(&mut s.rx_order);
    order.clear();
    order.extend(s.nics.keys().copied());
    for &ifindex in &order {
        for taken in 0..=RX_BATCH {
            if taken == RX_BATCH {
                more = true;
                break;
            }
            let Some(mut packet) = s.nics.get(&ifindex).and_then(|n| n.link.try_recv()) else {
                break;
            };
            if crate::ingress::accept(s, ifindex, &mut packet) {
                s.ingress.push_back(packet);
            } else {
                crate::link::pool::recycle(packet);
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
                sent_hashes,
                ..
            } = &mut *s;
            let mut dev = Router::new(ingress, egress, sent_hashes, mtu);
            iface.poll(now, &mut dev, sockets);
            *stalled |= dev.repeated;
        }
        if s.egress.is_empty() {
            break;
        }
        let mut routing = std::mem::take(&mut s.routing);
        std::mem::swap(&mut routing, &mut s.egress);
        for packet in routing.drain(..) {
            crate::egress::send(s, packet);
        }
        s.routing = routing;
        if s.ingress.is_empty() {
            break;
        }
    }
    s.rx_order = order;
    crate::socket::observe(s);
    more
}
