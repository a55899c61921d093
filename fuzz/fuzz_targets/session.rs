//! A sequence of events against a stack with open sockets and established
//! connections: packets from the wire (raw, or TCP segments of a connection
//! with sequence numbers relative to what the stack expects), application
//! calls (write, read, shutdown, close, send, accept, new connections) and
//! the clock moving on. The input is records of [op, len, len bytes].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sandnet_fuzz::session(data));
