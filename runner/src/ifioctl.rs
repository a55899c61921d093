//! The interface ioctls (SIOCGIF*) a program makes on any socket, answered
//! from the stack: `ifconfig`, BusyBox's `ip` (its qlen) and iproute2's
//! `ip -6 addr` (SIOCGIFTXQLEN) ask the kernel this way, and the host's
//! answers would describe the host's devices.
//!
//! What Linux does, and so what is reproduced: dev_ioctl (net/core/dev_ioctl.c)
//! for the device queries, devinet_ioctl (net/ipv4/devinet.c) for the IPv4
//! address ones, inet_gifconf for SIOCGIFCONF. Requests that change a device
//! are not emulated (EOPNOTSUPP): the stack changes over netlink.

use netstack::{Interface, InterfaceAddr};
use std::net::IpAddr;

pub const SIOCGIFNAME: u32 = 0x8910;
pub const SIOCGIFCONF: u32 = 0x8912;
pub const SIOCGIFFLAGS: u32 = 0x8913;
pub const SIOCGIFADDR: u32 = 0x8915;
pub const SIOCGIFDSTADDR: u32 = 0x8917;
pub const SIOCGIFBRDADDR: u32 = 0x8919;
pub const SIOCGIFNETMASK: u32 = 0x891b;
pub const SIOCGIFMETRIC: u32 = 0x891d;
pub const SIOCGIFMTU: u32 = 0x8921;
pub const SIOCGIFHWADDR: u32 = 0x8927;
pub const SIOCGIFINDEX: u32 = 0x8933;
pub const SIOCGIFPFLAGS: u32 = 0x8935;
pub const SIOCGIFTXQLEN: u32 = 0x8942;
pub const SIOCGIFMAP: u32 = 0x8970;

/// The range the seccomp filter sends here (SIOCGIFNAME to SIOCSIFMAP):
/// every device-configuration ioctl.
pub const FIRST: u32 = 0x8910;
pub const LAST: u32 = 0x8971;

/// sizeof(struct ifreq) on 64-bit Linux: the name, then a 24-byte union.
pub const IFREQ_LEN: usize = 40;
const IFNAMSIZ: usize = 16;

/// The name in an ifreq, up to its NUL (the kernel terminates it at 15).
fn name_of(ifr: &[u8; IFREQ_LEN]) -> &[u8] {
    let n = &ifr[..IFNAMSIZ - 1];
    &n[..n.iter().position(|&b| b == 0).unwrap_or(n.len())]
}

fn sockaddr_in(ip: Option<IpAddr>) -> [u8; 16] {
    let mut sa = [0u8; 16];
    sa[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
    if let Some(IpAddr::V4(a)) = ip {
        sa[4..8].copy_from_slice(&a.octets());
    }
    sa
}

fn put_int(ifr: &mut [u8; IFREQ_LEN], v: i32) {
    ifr[IFNAMSIZ..IFNAMSIZ + 4].copy_from_slice(&v.to_ne_bytes());
}

/// Answers one SIOCGIF* request other than SIOCGIFCONF: `ifr` is the
/// program's ifreq, changed in place; Err is the errno.
pub fn answer(
    req: u32,
    ifr: &mut [u8; IFREQ_LEN],
    ifaces: &[Interface],
    addrs: &[InterfaceAddr],
) -> Result<(), i32> {
    if req == SIOCGIFNAME {
        let index = i32::from_ne_bytes(ifr[IFNAMSIZ..IFNAMSIZ + 4].try_into().unwrap());
        let dev = ifaces
            .iter()
            .find(|i| i.index as i32 == index)
            .ok_or(libc::ENODEV)?;
        ifr[..IFNAMSIZ].fill(0);
        ifr[..dev.name.len()].copy_from_slice(dev.name.as_bytes());
        return Ok(());
    }
    let name = name_of(ifr).to_vec();
    if matches!(
        req,
        SIOCGIFADDR | SIOCGIFDSTADDR | SIOCGIFBRDADDR | SIOCGIFNETMASK
    ) {
        return inet_answer(req, ifr, &name, ifaces, addrs);
    }
    let dev = ifaces
        .iter()
        .find(|i| i.name.as_bytes() == name)
        .ok_or(libc::ENODEV)?;
    match req {
        // ifr_flags is a short: IFF_LOWER_UP and above do not fit.
        SIOCGIFFLAGS => {
            ifr[IFNAMSIZ..IFNAMSIZ + 2].copy_from_slice(&(dev.flags as u16).to_ne_bytes())
        }
        SIOCGIFMETRIC | SIOCGIFPFLAGS => put_int(ifr, 0),
        SIOCGIFMTU => put_int(ifr, dev.mtu as i32),
        SIOCGIFINDEX => put_int(ifr, dev.index as i32),
        SIOCGIFTXQLEN => put_int(ifr, dev.tx_queue_len as i32),
        SIOCGIFHWADDR => {
            // sa_family is the ARPHRD type; sa_data the address, zero-filled.
            let u = &mut ifr[IFNAMSIZ..IFNAMSIZ + 16];
            u.fill(0);
            u[..2].copy_from_slice(&dev.link_type.to_ne_bytes());
            if let Some(hw) = &dev.hw_addr {
                let n = hw.len().min(14);
                u[2..2 + n].copy_from_slice(&hw[..n]);
            }
        }
        // No memory window, IRQ or DMA: a TUN's and lo's map is all zeros.
        SIOCGIFMAP => ifr[IFNAMSIZ..].fill(0),
        _ => return Err(libc::EOPNOTSUPP),
    }
    Ok(())
}

/// devinet_ioctl's queries: the address whose label is the name asked for
/// (`eth0` is its primary address, `eth0:1` an aliased one).
fn inet_answer(
    req: u32,
    ifr: &mut [u8; IFREQ_LEN],
    name: &[u8],
    ifaces: &[Interface],
    addrs: &[InterfaceAddr],
) -> Result<(), i32> {
    let dev_name = name.split(|&b| b == b':').next().unwrap_or(name);
    let dev = ifaces
        .iter()
        .find(|i| i.name.as_bytes() == dev_name)
        .ok_or(libc::ENODEV)?;
    let a = addrs
        .iter()
        .filter(|a| a.ifindex == dev.index && a.addr.is_ipv4())
        .find(|a| a.label.as_bytes() == name)
        .ok_or(libc::EADDRNOTAVAIL)?;
    let sa = match req {
        // A point-to-point address's peer is its own address unless one was given.
        SIOCGIFADDR | SIOCGIFDSTADDR => sockaddr_in(Some(a.addr)),
        SIOCGIFBRDADDR => sockaddr_in(None),
        _ => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(a.prefix_len))
                .unwrap_or(0);
            sockaddr_in(Some(IpAddr::V4(mask.into())))
        }
    };
    ifr[IFNAMSIZ..IFNAMSIZ + 16].copy_from_slice(&sa);
    Ok(())
}

/// SIOCGIFCONF: an ifreq per IPv4 address (label and address), devices in
/// index order, as inet_gifconf fills them. With no buffer, the length the
/// full list needs. Returns the ifreqs that fit in `room` bytes.
pub fn ifconf(room: usize, ifaces: &[Interface], addrs: &[InterfaceAddr]) -> Vec<u8> {
    let mut out = Vec::new();
    for dev in ifaces {
        for a in addrs
            .iter()
            .filter(|a| a.ifindex == dev.index && a.addr.is_ipv4())
        {
            if out.len() + IFREQ_LEN > room {
                return out;
            }
            let mut ifr = [0u8; IFREQ_LEN];
            let label = a.label.as_bytes();
            let n = label.len().min(IFNAMSIZ - 1);
            ifr[..n].copy_from_slice(&label[..n]);
            ifr[IFNAMSIZ..IFNAMSIZ + 16].copy_from_slice(&sockaddr_in(Some(a.addr)));
            out.extend_from_slice(&ifr);
        }
    }
    out
}

/// How many bytes SIOCGIFCONF with a NULL buffer reports.
pub fn ifconf_len(ifaces: &[Interface], addrs: &[InterfaceAddr]) -> usize {
    ifconf(usize::MAX, ifaces, addrs).len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use netstack::{Link, Stack};

    fn stack() -> (Vec<Interface>, Vec<InterfaceAddr>) {
        let s = Stack::new().unwrap();
        let (a, _b) = Link::pipe();
        let eth0 = s.add_nic("eth0", a).unwrap();
        s.add_address(eth0, "10.0.0.2".parse().unwrap(), 24)
            .unwrap();
        s.add_address(eth0, "fd00::2".parse().unwrap(), 64).unwrap();
        (s.interfaces(), s.interface_addrs())
    }

    fn ifreq(name: &str) -> [u8; IFREQ_LEN] {
        let mut r = [0u8; IFREQ_LEN];
        r[..name.len()].copy_from_slice(name.as_bytes());
        r
    }

    fn int(r: &[u8; IFREQ_LEN]) -> i32 {
        i32::from_ne_bytes(r[16..20].try_into().unwrap())
    }

    #[test]
    fn device_queries() {
        let (i, a) = stack();
        let mut r = ifreq("eth0");
        answer(SIOCGIFMTU, &mut r, &i, &a).unwrap();
        assert_eq!(int(&r), i[1].mtu as i32);
        answer(SIOCGIFINDEX, &mut r, &i, &a).unwrap();
        assert_eq!(int(&r), 2);
        answer(SIOCGIFTXQLEN, &mut r, &i, &a).unwrap();
        assert_eq!(int(&r), i[1].tx_queue_len as i32);
        answer(SIOCGIFFLAGS, &mut r, &i, &a).unwrap();
        assert_eq!(u16::from_ne_bytes([r[16], r[17]]), i[1].flags as u16);
        let mut r = ifreq("");
        put_int(&mut r, 1);
        answer(SIOCGIFNAME, &mut r, &i, &a).unwrap();
        assert_eq!(name_of(&r), b"lo");
        assert_eq!(
            answer(SIOCGIFMTU, &mut ifreq("nosuch0"), &i, &a),
            Err(libc::ENODEV)
        );
        assert_eq!(
            answer(0x8922, &mut ifreq("eth0"), &i, &a),
            Err(libc::EOPNOTSUPP)
        );
    }

    #[test]
    fn ipv4_address_queries() {
        let (i, a) = stack();
        let mut r = ifreq("eth0");
        answer(SIOCGIFADDR, &mut r, &i, &a).unwrap();
        assert_eq!(r[20..24], [10, 0, 0, 2]);
        answer(SIOCGIFNETMASK, &mut r, &i, &a).unwrap();
        assert_eq!(r[20..24], [255, 255, 255, 0]);
        let mut r = ifreq("lo");
        answer(SIOCGIFADDR, &mut r, &i, &a).unwrap();
        assert_eq!(r[20..24], [127, 0, 0, 1]);
        assert_eq!(
            answer(SIOCGIFADDR, &mut ifreq("eth0:9"), &i, &a),
            Err(libc::EADDRNOTAVAIL)
        );
    }

    #[test]
    fn ifconf_lists_ipv4_addresses_and_stops_at_the_room() {
        let (i, a) = stack();
        assert_eq!(ifconf_len(&i, &a), 2 * IFREQ_LEN);
        let all = ifconf(1000, &i, &a);
        assert_eq!(&all[..3], b"lo\0");
        assert_eq!(&all[40..45], b"eth0\0");
        assert_eq!(all[60..64], [10, 0, 0, 2]);
        assert_eq!(ifconf(IFREQ_LEN + 1, &i, &a).len(), IFREQ_LEN);
    }
}
