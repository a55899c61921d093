//! One packet from the wire, any protocol, to a stack with listening TCP,
//! bound and connected UDP, ping sockets, a connect in progress and an
//! established connection per family. The first byte says which lengths and
//! checksums to repair (bits 0-2, see `Fix`) and whether to let timers run
//! afterwards (bit 3); the rest is the packet.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sandnet_fuzz::packet(data));
