//! procnet: a stack's tables as the Linux /proc/net files.
//!
//! Pure: a [`netstack::Snapshot`] in, text out; no locks and no smoltcp types.
//! Every renderer follows the format strings of Linux 6.18 (the kernel this
//! project tests against), field by field: padding, byte order of addresses,
//! header lines and trailing spaces. docs/PROCNET.md lists where the text
//! differs from the kernel's and why.
//!
//! Each file has a `render_<file>(&Snapshot, &mut String)`; [`render`] looks one
//! up by name, [`FILES`] lists them all, and [`write_dir`] writes a whole
//! directory that a runtime can serve as /proc/net.

mod arp;
mod dev;
mod fixed;
mod fmt;
pub mod foreign;
mod if_inet6;
mod ipv6_route;
mod mcast;
mod netstat;
mod route;
mod snmp;
mod snmp6;
mod sockets;
mod sockstat;

pub use arp::render_arp;
pub use dev::render_dev;
pub use fixed::{
    render_netlink, render_packet, render_protocols, render_psched, render_ptype, render_unix,
};
pub use if_inet6::render_if_inet6;
pub use ipv6_route::render_ipv6_route;
pub use mcast::{render_dev_mcast, render_igmp, render_igmp6};
pub use netstack::Snapshot;
pub use netstat::render_netstat;
pub use route::render_route;
pub use snmp::render_snmp;
pub use snmp6::render_snmp6;
pub use sockets::{
    render_icmp, render_icmp6, render_raw, render_raw6, render_tcp, render_tcp6, render_udp,
    render_udp6, render_udplite, render_udplite6,
};
pub use sockstat::{render_sockstat, render_sockstat6};

use std::io;
use std::path::Path;

/// A renderer: one /proc/net file from a snapshot.
pub type Renderer = fn(&Snapshot, &mut String);

/// Every file procnet renders, by its name under /proc/net, in the order `ls`
/// would list them.
pub const FILES: &[(&str, Renderer)] = &[
    ("arp", render_arp),
    ("dev", render_dev),
    ("dev_mcast", render_dev_mcast),
    ("icmp", render_icmp),
    ("icmp6", render_icmp6),
    ("if_inet6", render_if_inet6),
    ("igmp", render_igmp),
    ("igmp6", render_igmp6),
    ("ipv6_route", render_ipv6_route),
    ("netlink", render_netlink),
    ("netstat", render_netstat),
    ("packet", render_packet),
    ("protocols", render_protocols),
    ("psched", render_psched),
    ("ptype", render_ptype),
    ("raw", render_raw),
    ("raw6", render_raw6),
    ("route", render_route),
    ("snmp", render_snmp),
    ("snmp6", render_snmp6),
    ("sockstat", render_sockstat),
    ("sockstat6", render_sockstat6),
    ("tcp", render_tcp),
    ("tcp6", render_tcp6),
    ("udp", render_udp),
    ("udp6", render_udp6),
    ("udplite", render_udplite),
    ("udplite6", render_udplite6),
    ("unix", render_unix),
];

/// Renders the file `name` (as under /proc/net, e.g. "tcp6"), or None if
/// procnet has no such file.
pub fn render(name: &str, snap: &Snapshot) -> Option<String> {
    let (_, f) = FILES.iter().find(|(n, _)| *n == name)?;
    let mut out = String::new();
    f(snap, &mut out);
    Some(out)
}

/// Writes every file of [`FILES`] into the directory `dir` (created if
/// missing). Each file is written whole to a temporary name and renamed into
/// place, so a reader never sees half a file.
pub fn write_dir(dir: impl AsRef<Path>, snap: &Snapshot) -> io::Result<()> {
    let dir = dir.as_ref();
    std::fs::create_dir_all(dir)?;
    let mut out = String::new();
    for (name, f) in FILES {
        out.clear();
        f(snap, &mut out);
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, out.as_bytes())?;
        std::fs::rename(&tmp, dir.join(name))?;
    }
    Ok(())
}

#[cfg(test)]
mod procfs_check;
#[cfg(test)]
pub(crate) mod testdata;
