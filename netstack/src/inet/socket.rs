use std::net::SocketAddr;

/// Which table a socket shows in: `/proc/net/{tcp,udp,raw,icmp}[6]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SocketKind {
    Tcp,
    Udp,
    /// SOCK_RAW.
    Raw,
    /// An ICMP echo ("ping") socket: SOCK_DGRAM with IPPROTO_ICMP or IPPROTO_ICMPV6.
    Ping,
}

/// Linux's TCP state numbers (include/net/tcp_states.h); UDP and ping sockets
/// use ESTABLISHED when connected and CLOSE otherwise.
pub mod tcp_state {
    pub const ESTABLISHED: u8 = 1;
    pub const SYN_SENT: u8 = 2;
    pub const SYN_RECV: u8 = 3;
    pub const FIN_WAIT1: u8 = 4;
    pub const FIN_WAIT2: u8 = 5;
    pub const TIME_WAIT: u8 = 6;
    pub const CLOSE: u8 = 7;
    pub const CLOSE_WAIT: u8 = 8;
    pub const LAST_ACK: u8 = 9;
    pub const LISTEN: u8 = 10;
    pub const CLOSING: u8 = 11;
}

/// TCP's extra columns in /proc/net/tcp (get_tcp4_sock).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TcpDetail {
    /// `tr`: 0 none, 1 retransmit, 2 keepalive, 3 TIME_WAIT, 4 zero-window probe.
    pub timer: u8,
    /// `tm->when`: time until the timer fires, in clock ticks (USER_HZ, 100/s).
    pub timer_ticks: u64,
    /// `retrnsmt`: retransmissions of the current segment.
    pub retransmits: u32,
    /// `timeout`: unanswered zero-window or keepalive probes.
    pub probes: u32,
    /// Retransmission timeout, in clock ticks.
    pub rto_ticks: u64,
    /// Delayed-ACK timeout, in clock ticks.
    pub ato_ticks: u64,
    /// (quick ack count << 1) | pingpong, as Linux packs it.
    pub quick_pingpong: u32,
    /// Congestion window, in segments.
    pub snd_cwnd: u32,
    /// Slow start threshold; `None` prints -1 (still the initial infinite value).
    pub ssthresh: Option<u32>,
}

/// One row of a socket table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketInfo {
    pub kind: SocketKind,
    /// Local and remote endpoints; the family of `local` decides the v4 or v6 file.
    /// An unbound side is the unspecified address with port 0.
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// Protocol number (raw sockets print it as their "port").
    pub protocol: u8,
    /// `tcp_state::*`.
    pub state: u8,
    /// Bytes waiting to be sent (TCP: unacknowledged; listeners: the backlog limit).
    pub tx_queue: u32,
    /// Bytes waiting to be read (listeners: connections waiting for accept).
    pub rx_queue: u32,
    pub uid: u32,
    /// Unique per stack, increasing as sockets are created.
    pub inode: u64,
    pub refcount: u32,
    /// Datagrams dropped for this socket (full receive buffer).
    pub drops: u64,
    pub tcp: Option<TcpDetail>,
}

impl SocketInfo {
    pub fn is_ipv6(&self) -> bool {
        self.local.is_ipv6()
    }
}

/// A socket that lives outside the stack but should show in /proc/net
/// (unix, netlink, packet), registered by the embedding runtime. `line` is the
/// row as the kernel would print it, without the trailing newline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForeignSocket {
    /// The /proc/net file name: "unix", "netlink" or "packet".
    pub file: String,
    pub line: String,
}
