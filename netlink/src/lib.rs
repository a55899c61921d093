//! A NETLINK_ROUTE responder: takes the bytes a program sends on a
//! NETLINK_ROUTE socket and returns the bytes Linux 6.18 would send back,
//! answered from a sandnet `Stack`'s tables.
//!
//! - [`nlmsg`]: message and attribute framing (parsing is bounds-checked throughout).
//! - [`error`]: NLMSG_ERROR (acks, errors, extended-ack texts) and NLMSG_DONE.
//! - [`link`], [`addr`], [`route`], [`rule`], [`netconf`], [`stats`], [`tc`]: pure encoders, table rows in, messages out,
//!   with the kernel's attribute order.
//! - [`responder`]: the glue to a `Stack`: dispatch, request checks, filters.
//!
//! See docs/NETLINK.md for what is answered and how it is checked against the kernel.

pub mod addr;
mod change;
pub mod error;
pub mod link;
mod lookup;
pub mod netconf;
pub mod nlmsg;
pub mod responder;
pub mod route;
pub mod rule;
pub mod stats;
pub mod tc;

pub use link::LinkExtras;
pub use responder::{Options, Responder};
