//! NETLINK_ROUTE requests against the responder over a small stack: a control
//! byte (socket options, length repair), then records of [len, len bytes],
//! each one request. See `src/netlink.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sandnet_fuzz::netlink(data));
