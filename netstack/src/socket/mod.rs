//! Sockets: the socket table a kernel keeps (ids, inodes, owners, ports,
//! buffers) and the std::net-like handles a sandboxed program uses.
//!
//! TCP runs on smoltcp's sockets. UDP and ICMP echo ("ping") sockets are the
//! stack's own: ingress delivers their datagrams straight to the table and
//! they send through egress, which keeps Linux's socket lookup, connected
//! filtering, error reporting and counters exactly where Linux has them.

mod build;
pub(crate) mod carry;
mod congestion;
mod dgram;
pub(crate) mod guard;
mod limits;
mod listen;
mod parts;
mod ping;
mod ports;
mod queue;
mod ready;
mod rows;
pub(crate) mod set;
pub(crate) mod sink;
pub(crate) mod source;
pub(crate) mod table;
mod tcp;
mod track;
mod udp;

pub use congestion::CongestionControl;
pub use limits::Limits;
pub use listen::{ListenOptions, TcpListener};
pub use ping::PingSocket;
pub(crate) use ready::{mark, Mark};
pub use ready::{Interest, Readiness};
pub use table::SocketId;
pub use tcp::TcpStream;
pub(crate) use tcp::{quickack_after_idle, quickack_unparked};
pub use udp::UdpSocket;

pub(crate) use dgram::{deliver_icmp_error, deliver_udp};
pub(crate) use listen::on_syn;
pub(crate) use ping::deliver_echo_reply;
pub(crate) use ready::{readiness, waits_for_packets};
pub(crate) use rows::socket_rows;
pub(crate) use set::SocketHandle;
pub(crate) use table::SocketTable;
pub(crate) use track::{curr_estab, expire_fin_wait2, next_fin_timeout, observe, retransmitted};
