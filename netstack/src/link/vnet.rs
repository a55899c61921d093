//! The virtio-net header that precedes each packet on an offloading TUN
//! device (include/uapi/linux/virtio_net.h): what the kernel says about a
//! packet it hands over, and what the stack asks of the kernel for one it
//! writes. Multi-byte fields are in the host's byte order (legacy virtio,
//! which a TUN device without TUNSETVNETLE/BE speaks).

use crate::os::tun::VNET_HDR_LEN;

/// The checksum from `csum_start` on is partial: complete it (or trust it).
pub(crate) const F_NEEDS_CSUM: u8 = 1;
/// The checksum was verified already.
pub(crate) const F_DATA_VALID: u8 = 2;
pub(crate) const GSO_NONE: u8 = 0;
pub(crate) const GSO_TCPV4: u8 = 1;
pub(crate) const GSO_TCPV6: u8 = 4;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct VnetHdr {
    pub flags: u8,
    pub gso_type: u8,
    /// Bytes of headers (IP and TCP) before the payload of a GSO packet.
    pub hdr_len: u16,
    /// Payload bytes per segment of a GSO packet.
    pub gso_size: u16,
    pub csum_start: u16,
    pub csum_offset: u16,
}

impl VnetHdr {
    pub fn parse(b: &[u8; VNET_HDR_LEN]) -> VnetHdr {
        let u = |i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
        VnetHdr {
            flags: b[0],
            gso_type: b[1],
            hdr_len: u(2),
            gso_size: u(4),
            csum_start: u(6),
            csum_offset: u(8),
        }
    }

    pub fn bytes(&self) -> [u8; VNET_HDR_LEN] {
        let mut b = [0; VNET_HDR_LEN];
        b[0] = self.flags;
        b[1] = self.gso_type;
        for (i, v) in [
            self.hdr_len,
            self.gso_size,
            self.csum_start,
            self.csum_offset,
        ]
        .into_iter()
        .enumerate()
        {
            b[2 + 2 * i..4 + 2 * i].copy_from_slice(&v.to_ne_bytes());
        }
        b
    }

    /// Whether the kernel vouches for the packet's TCP or UDP checksum: it
    /// verified it, or it was never computed because the packet has not
    /// left the host (a local sender's CHECKSUM_PARTIAL), as Linux's own
    /// receive path trusts such a packet without a check.
    pub fn checksum_vouched(&self) -> bool {
        self.flags & (F_NEEDS_CSUM | F_DATA_VALID) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_in_host_order() {
        let h = VnetHdr {
            flags: F_NEEDS_CSUM,
            gso_type: GSO_TCPV6,
            hdr_len: 72,
            gso_size: 1428,
            csum_start: 40,
            csum_offset: 16,
        };
        let b = h.bytes();
        assert_eq!(&b[4..6], &1428u16.to_ne_bytes());
        assert_eq!(VnetHdr::parse(&b), h);
        assert!(h.checksum_vouched());
        assert!(!VnetHdr::default().checksum_vouched());
    }
}
