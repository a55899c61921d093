/// Linux's `IFF_*` interface flags, as `ip link` and SIOCGIFFLAGS report them.
pub mod iff {
    pub const UP: u32 = 0x1;
    pub const BROADCAST: u32 = 0x2;
    pub const LOOPBACK: u32 = 0x8;
    pub const POINTOPOINT: u32 = 0x10;
    pub const RUNNING: u32 = 0x40;
    pub const NOARP: u32 = 0x80;
    pub const MULTICAST: u32 = 0x1000;
    /// Carrier present; reported through netlink, not SIOCGIFFLAGS.
    pub const LOWER_UP: u32 = 0x10000;
}

/// Linux's `ARPHRD_*` link types.
pub mod arphrd {
    pub const LOOPBACK: u16 = 772;
    /// Raw IP with no link header: TUN devices (and sandnet's in-memory pipe).
    pub const NONE: u16 = 65534;
}

/// One network interface, as `ip link` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// ifindex; 1 is always `lo`.
    pub index: u32,
    /// At most 15 bytes, as IFNAMSIZ allows.
    pub name: String,
    /// `iff::*` bits. RUNNING follows UP: every sandnet link has carrier while attached.
    pub flags: u32,
    pub mtu: u32,
    /// `arphrd::*`.
    pub link_type: u16,
    /// Hardware address, where the link type has one (lo's is six zero bytes).
    pub hw_addr: Option<Vec<u8>>,
    /// Transmit queue length, as `ip link` prints `qlen`.
    pub tx_queue_len: u32,
    /// A TUN device whose packets carry a virtio-net header (IFF_VNET_HDR):
    /// one with offloads, as `Link::tun` opens it.
    pub vnet_hdr: bool,
}

impl Interface {
    pub fn is_up(&self) -> bool {
        self.flags & iff::UP != 0
    }

    pub fn is_loopback(&self) -> bool {
        self.flags & iff::LOOPBACK != 0
    }
}
