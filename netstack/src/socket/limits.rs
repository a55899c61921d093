/// Per-stack limits: what one sandbox may hold, so that it cannot exhaust the
/// host. Exceeding them gives Linux's errors: EMFILE for sockets, ENOBUFS for
/// buffer memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Open sockets (listeners, streams, datagram sockets). Linux's default
    /// RLIMIT_NOFILE is 1024.
    pub max_sockets: usize,
    /// Bytes of socket buffers the stack may hold in all: TCP buffers are
    /// reserved whole when a connection is made, a datagram queue's memory
    /// as it grows.
    pub max_buffer_bytes: usize,
    /// Receive and send buffer of each TCP connection. The receive buffer
    /// bounds the advertised window; past 64 KiB the window is scaled, and
    /// the buffer is rounded down to a whole number of scale units (at most
    /// 1/65536 of it).
    pub tcp_recv_buffer: usize,
    pub tcp_send_buffer: usize,
    /// The larger buffers a TCP connection gets instead when, with them, at
    /// most a quarter of `max_buffer_bytes` is reserved: Linux grows a busy
    /// connection's buffers (to 6 MiB and 4 MiB) while TCP memory is not
    /// under pressure, and smoltcp cannot grow a buffer, so the size is
    /// chosen when the connection is made. Each hand-off between a writer,
    /// the stack and a reader then carries four times as much
    /// (docs/PERFORMANCE.md). Values not above `tcp_recv_buffer` and
    /// `tcp_send_buffer` (0, say) turn this off.
    pub tcp_recv_buffer_max: usize,
    pub tcp_send_buffer_max: usize,
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
            // gVisor's default buffers. The quarter of the default budget
            // that may take them holds 31 connections; if those stay open,
            // the budget holds 415 connections in all, instead of 508 at
            // 256 KiB alone.
            tcp_recv_buffer_max: 1 << 20,
            tcp_send_buffer_max: 1 << 20,
            dgram_recv_buffer: 212_992,
            max_backlog: 4096,
            fin_timeout: std::time::Duration::from_secs(60),
        }
    }
}

impl Limits {
    /// Bytes one TCP connection with the usual buffers reserves from
    /// `max_buffer_bytes`: its buffers, and up to 1/64 of the receive
    /// buffer that it may hold back to keep its window from shrinking
    /// (docs/ARCHITECTURE.md, "Sockets").
    pub fn tcp_bytes(&self) -> usize {
        tcp_bytes(
            super::carry::recv_capacity(self.tcp_recv_buffer),
            self.tcp_send_buffer,
        )
    }

    /// The buffers (receive capacity, send) of a TCP connection made while
    /// `reserved` bytes of the budget are: the larger ones if, with them, at
    /// most a quarter of the budget is reserved, the usual ones otherwise.
    pub(crate) fn tcp_buffers(&self, reserved: usize) -> TcpBuffers {
        let usual = TcpBuffers {
            recv: super::carry::recv_capacity(self.tcp_recv_buffer),
            send: self.tcp_send_buffer,
        };
        let large = TcpBuffers {
            recv: super::carry::recv_capacity(self.tcp_recv_buffer_max.max(self.tcp_recv_buffer)),
            send: self.tcp_send_buffer_max.max(self.tcp_send_buffer),
        };
        let room = reserved
            .checked_add(large.bytes())
            .is_some_and(|r| r <= self.max_buffer_bytes / 4);
        if room {
            large
        } else {
            usual
        }
    }
}

/// A TCP connection's buffer sizes: smoltcp's receive capacity (whole
/// scale units, carry.rs) and its send buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TcpBuffers {
    pub recv: usize,
    pub send: usize,
}

impl TcpBuffers {
    /// What the connection reserves from the budget.
    pub fn bytes(&self) -> usize {
        tcp_bytes(self.recv, self.send)
    }
}

/// What a connection with these smoltcp buffers holds at most: the buffers
/// and the carry that keeps its window from shrinking (carry.rs).
pub(crate) fn tcp_bytes(recv_capacity: usize, send_capacity: usize) -> usize {
    recv_capacity + super::carry::carry_limit(recv_capacity) + send_capacity
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn larger_buffers_while_three_quarters_of_the_budget_are_free() {
        let l = Limits::default();
        let large = l.tcp_buffers(0);
        assert_eq!((large.recv, large.send), (1 << 20, 1 << 20));
        let usual = TcpBuffers {
            recv: 256 << 10,
            send: 256 << 10,
        };
        let quarter = l.max_buffer_bytes / 4;
        assert_eq!(l.tcp_buffers(quarter - large.bytes()), large);
        assert_eq!(l.tcp_buffers(quarter - large.bytes() + 1), usual);
        // The default budget: 31 large connections, then the usual ones.
        assert_eq!(quarter / large.bytes(), 31);
        let all = 31 + (l.max_buffer_bytes - 31 * large.bytes()) / usual.bytes();
        assert_eq!((all, l.max_buffer_bytes / usual.bytes()), (415, 508));
        assert_eq!(usual.bytes(), l.tcp_bytes());
        // Off, and a usual size above the larger one.
        let off = Limits {
            tcp_recv_buffer_max: 0,
            tcp_send_buffer_max: 0,
            ..l
        };
        assert_eq!(off.tcp_buffers(0), usual);
        let big = Limits {
            tcp_recv_buffer: 4 << 20,
            ..l
        };
        assert_eq!(big.tcp_buffers(usize::MAX).recv, 4 << 20);
        assert_eq!(big.tcp_buffers(usize::MAX - 1).send, 256 << 10);
    }
}
