//! sandnet: a small, sandboxed, userspace network stack.
//!
//! - [`netstack`]: the stack (smoltcp behind Linux-like interface, address,
//!   route and counter tables), with TUN, loopback and in-memory links.
//! - [`procnet`]: those tables rendered as Linux's /proc/net files.
//! - [`netlink`]: a NETLINK_ROUTE responder answering from those tables with
//!   the bytes Linux sends.

pub use netlink;
pub use netstack;
pub use procnet;

/// README.md's Rust blocks, compiled and run as doc tests so that the
/// README's example cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
