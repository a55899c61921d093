use std::net::IpAddr;

/// Linux's `IFA_F_*` address flags.
pub mod ifa_flags {
    pub const SECONDARY: u32 = 0x01;
    pub const NODAD: u32 = 0x02;
    pub const PERMANENT: u32 = 0x80;
}

/// One address on an interface, as `ip addr` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceAddr {
    pub ifindex: u32,
    pub addr: IpAddr,
    pub prefix_len: u8,
    /// `ifa_flags::*`. sandnet performs no duplicate address detection, so its IPv6
    /// addresses carry NODAD, as the kernel's do when added with `nodad`; not
    /// those on lo (::1 included), which Linux shows PERMANENT only.
    pub flags: u32,
    /// Route scope (`rt_scope::*`): host for loopback addresses, link for
    /// IPv6 link-local ones, universe otherwise.
    pub scope: u8,
    /// IPv4 label (the interface name, as `ip addr` prints it).
    pub label: String,
}

impl InterfaceAddr {
    /// Family in Linux's numbering.
    pub fn family(&self) -> u16 {
        super::family_of(&self.addr)
    }

    /// The IPv4 subnet broadcast address, where Linux would assign one.
    pub fn broadcast(&self) -> Option<IpAddr> {
        match self.addr {
            IpAddr::V4(a) if self.prefix_len < 31 => {
                let host_mask = u32::MAX >> self.prefix_len;
                Some(IpAddr::V4((u32::from(a) | host_mask).into()))
            }
            _ => None,
        }
    }

    pub fn is_secondary(&self) -> bool {
        self.flags & ifa_flags::SECONDARY != 0
    }
}
