//! sandnet's network stack: smoltcp behind the tables a Linux kernel keeps.
//!
//! A [`Stack`] is one isolated network namespace with `lo` and any number of
//! NICs backed by [`Link`]s (a TUN device, or an in-memory pipe). It keeps
//! interfaces, addresses, routes and counters in Linux's model and exposes
//! them as plain data ([`inet`]), so that renderers such as procnet can show
//! them as the kernel would.

mod backoff;
mod device;
mod drive;
mod egress;
mod error;
mod fasthash;
mod gso;
pub mod inet;
mod ingress;
pub mod link;
mod nic;
pub mod os;
mod poll;
mod ratelimit;
mod route;
pub mod socket;
mod stack;
mod state;
mod stats;
mod waiters;
mod wire;

pub use inet::{
    Interface, InterfaceAddr, Route, RouteAnswer, RouteSpec, RouteType, Snapshot, Statistics,
};
pub use link::Link;
pub use socket::{
    CongestionControl, Interest, Limits, ListenOptions, PingSocket, Readiness, SocketId,
    TcpListener, TcpStream, UdpSocket,
};
pub use stack::Stack;
