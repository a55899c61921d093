//! The congestion control a TCP connection runs: Linux's
//! net.ipv4.tcp_congestion_control for the stack, TCP_CONGESTION for one
//! connection.
//!
//! A stack behind a TUN device is the end point of its connections: the
//! host routes their packets on, to paths with bottlenecks and loss that the
//! stack cannot see. smoltcp, as it ships, sends whatever the peer's window
//! allows and keeps doing so through losses. Cubic, Linux's default, is the
//! default here too; on the links the benchmarks use, which lose nothing, it
//! costs nothing measurable (docs/PERFORMANCE.md, "Knobs").

use smoltcp::socket::tcp;

/// A congestion control algorithm, as smoltcp implements them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CongestionControl {
    /// CUBIC (RFC 9438), Linux's default.
    #[default]
    Cubic,
    /// NewReno's slow start, congestion avoidance and fast recovery (RFC 5681).
    Reno,
    /// None: the sender is held back by the peer's window alone. For links
    /// that cannot lose (in memory) or a peer the embedder trusts to pace.
    None,
}

impl CongestionControl {
    /// The name Linux lists in net.ipv4.tcp_available_congestion_control
    /// ("none" has no Linux counterpart).
    pub fn name(self) -> &'static str {
        match self {
            CongestionControl::Cubic => "cubic",
            CongestionControl::Reno => "reno",
            CongestionControl::None => "none",
        }
    }

    pub(crate) fn smoltcp(self) -> tcp::CongestionControl {
        match self {
            CongestionControl::Cubic => tcp::CongestionControl::Cubic,
            CongestionControl::Reno => tcp::CongestionControl::Reno,
            CongestionControl::None => tcp::CongestionControl::None,
        }
    }

    pub(crate) fn from_smoltcp(cc: tcp::CongestionControl) -> CongestionControl {
        match cc {
            tcp::CongestionControl::Cubic => CongestionControl::Cubic,
            tcp::CongestionControl::Reno => CongestionControl::Reno,
            tcp::CongestionControl::None => CongestionControl::None,
        }
    }
}

impl std::str::FromStr for CongestionControl {
    type Err = std::io::Error;

    /// Linux's names, as written to net.ipv4.tcp_congestion_control; an
    /// unknown one is ENOENT, as there.
    fn from_str(s: &str) -> std::io::Result<CongestionControl> {
        match s {
            "cubic" => Ok(CongestionControl::Cubic),
            "reno" => Ok(CongestionControl::Reno),
            "none" => Ok(CongestionControl::None),
            _ => Err(std::io::Error::from_raw_os_error(libc::ENOENT)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_are_enoent() {
        for cc in [
            CongestionControl::Cubic,
            CongestionControl::Reno,
            CongestionControl::None,
        ] {
            assert_eq!(cc.name().parse::<CongestionControl>().unwrap(), cc);
            assert_eq!(CongestionControl::from_smoltcp(cc.smoltcp()), cc);
        }
        let e = "bbr".parse::<CongestionControl>().unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
    }
}
