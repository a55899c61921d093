use super::{Interface, InterfaceAddr, Route, Statistics};

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
}
