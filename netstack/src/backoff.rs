//! A short look before a sleep: when what a thread waits for is most often
//! a few microseconds away (a peer stack in the same process, a round
//! already running), looking a few times costs less than sleeping and being
//! woken. The steps are crossbeam's `Backoff`: spin 1, 2, 4 ... 64 times,
//! then yield the CPU, ten steps in all, a few microseconds. Never longer:
//! on two cores a longer spin takes the time of the threads that would
//! bring what it waits for (docs/PERFORMANCE.md).

/// Looks at `done` between the steps; returns whether it held.
pub(crate) fn until(done: impl Fn() -> bool) -> bool {
    for step in 0..10u32 {
        if done() {
            return true;
        }
        if step <= 6 {
            for _ in 0..1u32 << step {
                std::hint::spin_loop();
            }
        } else {
            std::thread::yield_now();
        }
    }
    done()
}
