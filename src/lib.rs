//! sandnet: a small, sandboxed, userspace network stack.
//!
//! - [`netstack`]: the stack (smoltcp behind Linux-like interface, address,
//!   route and counter tables), with TUN, loopback and in-memory links.
//! - [`procnet`]: those tables rendered as Linux's /proc/net files.

pub use netstack;
pub use procnet;
