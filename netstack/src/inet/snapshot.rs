use super::{ForeignSocket, Interface, InterfaceAddr, Route, SocketInfo, Statistics};

/// Every table of one stack, copied at one instant under one lock. Renderers
/// take this and nothing else.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// By ifindex, ascending.
    pub interfaces: Vec<Interface>,
    /// By ifindex, then in the order they were added (Linux's order within a NIC).
    pub addrs: Vec<InterfaceAddr>,
    /// Main table then local table, each in the order `ip route show table all` lists it.
    pub routes: Vec<Route>,
    pub stats: Statistics,
    /// The socket table, by inode.
    pub sockets: Vec<SocketInfo>,
    /// Rows the embedding runtime registered for files the stack has no sockets for.
    pub foreign: Vec<ForeignSocket>,
}
