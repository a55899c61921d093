//! procnet: a stack's tables as the Linux /proc/net files.
//!
//! Pure: a [`netstack::Snapshot`] in, text out.

pub use netstack::Snapshot;
