//! A NIC: a link plus what Linux keeps about the interface it backs.

use crate::inet::{iff, Interface};
use crate::link::Link;

pub(crate) struct Nic {
    pub index: u32,
    pub name: String,
    pub up: bool,
    pub mtu: u32,
    pub link: Link,
}

impl Nic {
    pub fn is_loopback(&self) -> bool {
        self.link.kind() == crate::link::LinkKind::Loopback
    }

    pub fn interface(&self) -> Interface {
        let kind = self.link.kind();
        let mut flags = kind.base_flags();
        if self.up {
            // Every sandnet link has carrier while attached: RUNNING and LOWER_UP follow UP.
            flags |= iff::UP | iff::RUNNING | iff::LOWER_UP;
        }
        Interface {
            index: self.index,
            name: self.name.clone(),
            flags,
            mtu: self.mtu,
            link_type: kind.link_type(),
            hw_addr: self.is_loopback().then(|| vec![0; 6]),
            tx_queue_len: kind.tx_queue_len(),
            vnet_hdr: self.link.offloads(),
        }
    }
}

/// Linux's rule for interface names (dev_valid_name): 1 to 15 bytes, not "."
/// or "..", no '/', ':' or white space.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && !name
            .bytes()
            .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || b == 0)
}
