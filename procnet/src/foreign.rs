//! Rows for sockets that live outside the stack, formatted as the kernel
//! formats them, for a runtime to put in [`netstack::Snapshot::foreign`] so
//! that its own unix, netlink or packet sockets show in /proc/net.

use netstack::inet::ForeignSocket;
use std::fmt::Write;

const POINTER: &str = "0000000000000000";

/// A /proc/net/unix row (unix_seq_show). `sock_type` is SOCK_STREAM (1),
/// SOCK_DGRAM (2) or SOCK_SEQPACKET (5); `st` the socket state (1
/// unconnected, 3 connected); `path` the bound name, an abstract one written
/// with its leading NUL as '@'. Kernel pointers print as an unprivileged
/// reader sees them: zeros.
pub fn unix(
    refcount: u32,
    listening: bool,
    sock_type: u16,
    st: u8,
    inode: u64,
    path: Option<&str>,
) -> ForeignSocket {
    let mut line = String::new();
    let flags: u32 = if listening { 0x0001_0000 } else { 0 }; // __SO_ACCEPTCON
    let _ = write!(
        line,
        "{POINTER}: {refcount:08X} {:08X} {flags:08X} {sock_type:04X} {st:02X} {inode:5}",
        0
    );
    if let Some(p) = path {
        line.push(' ');
        line.push_str(&p.replace('\0', "@"));
    }
    ForeignSocket {
        file: "unix".into(),
        line,
    }
}

/// A /proc/net/netlink row (netlink_seq_show).
pub fn netlink(protocol: i32, portid: u32, groups: u32, inode: u64) -> ForeignSocket {
    let line = format!(
        "{POINTER} {protocol:<3} {portid:<10} {groups:08x} {:<8} {:<8} {:<5} {:<8} {:<8} {inode:<8}",
        0, 0, 0, 2, 0
    );
    ForeignSocket {
        file: "netlink".into(),
        line,
    }
}

/// A /proc/net/packet row (packet_seq_show). `proto` in host order.
pub fn packet(
    refcount: u32,
    sock_type: i32,
    proto: u16,
    ifindex: i32,
    running: bool,
    uid: u32,
    inode: u64,
) -> ForeignSocket {
    let line = format!(
        "{POINTER} {refcount:<6} {sock_type:<4} {proto:04x}   {ifindex:<5} {} {:<6} {uid:<6} {inode:<6}",
        u8::from(running),
        0
    );
    ForeignSocket {
        file: "packet".into(),
        line,
    }
}
