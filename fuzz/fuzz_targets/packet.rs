//! One packet from the wire, any protocol, to a stack with listening TCP,
//! bound and connected UDP, ping sockets, a connect in progress and an
//! established connection per family. The first byte says which lengths and
//! checksums to repair (bits 0-2, see `Fix`) and whether to let timers run
//! afterwards (bit 3); the rest is the packet.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sandnet_fuzz::{fixup, Bed, Fix};

fuzz_target!(|data: &[u8]| {
    let Some((&control, packet)) = data.split_first() else {
        return;
    };
    let mut bed = Bed::new();
    let mut packet = packet.to_vec();
    fixup(&mut packet, Fix::from_bits(control));
    bed.inject(&packet);
    bed.step();
    if control & 8 != 0 {
        bed.stack.advance_clock(3_000_000);
        bed.step();
    }
    bed.drain_and_check();
});
