/// Per-stack limits: what one sandbox may hold, so that it cannot exhaust the
/// host. Exceeding them gives Linux's errors: EMFILE for sockets, ENOBUFS for
/// buffer memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Open sockets (listeners, streams, datagram sockets). Linux's default
    /// RLIMIT_NOFILE is 1024.
    pub max_sockets: usize,
    /// Bytes of socket buffers the stack may hold in all: TCP buffers are
    /// reserved whole when a connection is made, datagrams when they queue.
    pub max_buffer_bytes: usize,
    /// Receive and send buffer of each TCP connection. The receive buffer
    /// bounds the advertised window; past 64 KiB the window is scaled, and
    /// the buffer is rounded down to a whole number of scale units (at most
    /// 1/65536 of it).
    pub tcp_recv_buffer: usize,
    pub tcp_send_buffer: usize,
    /// Bytes of datagrams a UDP or ping socket queues before dropping
    /// (Linux's net.core.rmem_default). Each datagram counts its payload and
    /// its bookkeeping (as Linux counts skb truesize), so empty datagrams
    /// fill the queue too.
    pub dgram_recv_buffer: usize,
    /// Connections a listener keeps waiting for `accept` at most (SOMAXCONN).
    pub max_backlog: usize,
    /// How long a connection the program closed waits in FIN_WAIT2 for its
    /// peer's FIN before it is reset and freed (net.ipv4.tcp_fin_timeout):
    /// a peer that never closes cannot hold its buffers for ever.
    pub fin_timeout: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_sockets: 1024,
            // About 500 connections at the default buffers, as 128 MiB
            // gave at 128 KiB.
            max_buffer_bytes: 256 << 20,
            // Linux starts at 128 KiB and autotunes up to 6 MiB; smoltcp
            // cannot grow a buffer. 256 KiB halves the context switches and
            // CPU per byte of 128 KiB in bulk transfers (docs/PERFORMANCE.md,
            // "Knobs"); 512 KiB gains less again and would cost twice the
            // memory per connection.
            tcp_recv_buffer: 256 << 10,
            tcp_send_buffer: 256 << 10,
            dgram_recv_buffer: 212_992,
            max_backlog: 4096,
            fin_timeout: std::time::Duration::from_secs(60),
        }
    }
}

impl Limits {
    /// Bytes one TCP connection reserves from `max_buffer_bytes`: its
    /// buffers, and up to 1/64 of the receive buffer that it may hold back
    /// to keep its window from shrinking (docs/ARCHITECTURE.md, "Sockets").
    pub fn tcp_bytes(&self) -> usize {
        tcp_bytes(
            super::carry::recv_capacity(self.tcp_recv_buffer),
            self.tcp_send_buffer,
        )
    }
}

/// What a connection with these smoltcp buffers holds at most: the buffers
/// and the carry that keeps its window from shrinking (carry.rs).
pub(crate) fn tcp_bytes(recv_capacity: usize, send_capacity: usize) -> usize {
    recv_capacity + super::carry::carry_limit(recv_capacity) + send_capacity
}
