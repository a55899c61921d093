//! Configuring a kernel network device (the host side of a TUN) with the
//! classic interface ioctls, as `ifconfig` does, so that no external `ip`
//! binary is needed: an IPv4 address and netmask (SIOCSIFADDR and
//! SIOCSIFNETMASK on an AF_INET socket), an IPv6 address (SIOCSIFADDR with an
//! `in6_ifreq` on an AF_INET6 socket) and the UP flag (SIOCGIFFLAGS and
//! SIOCSIFFLAGS). Every call acts on the calling thread's network namespace
//! and needs CAP_NET_ADMIN.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A datagram socket of `family`, the handle the interface ioctls go through.
fn control_socket(family: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: socket takes no pointers; a negative return is checked below.
    let fd = unsafe { libc::socket(family, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a freshly created descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// An `ifreq` naming `name`: at most 15 bytes (IFNAMSIZ with its NUL), no NUL
/// inside. Anything else is EINVAL, as the kernel would answer.
pub(super) fn ifreq(name: &str) -> io::Result<libc::ifreq> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: ifreq is plain old data (a name array and a union of plain
    // fields); all-zero is a valid value of it.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, &src) in req.ifr_name.iter_mut().zip(bytes) {
        *dst = src as libc::c_char;
    }
    Ok(req)
}

fn sockaddr_in(addr: Ipv4Addr) -> libc::sockaddr {
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(addr.octets()),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: sockaddr_in and sockaddr are both 16 bytes of plain data; the
    // kernel reads this sockaddr as a sockaddr_in because of its family.
    unsafe { std::mem::transmute::<libc::sockaddr_in, libc::sockaddr>(sin) }
}

/// One interface ioctl with `req` on a socket of `family`.
fn ifreq_ioctl(
    family: libc::c_int,
    request: libc::c_ulong,
    req: &mut libc::ifreq,
) -> io::Result<()> {
    let sock = control_socket(family)?;
    // SAFETY: `req` is a live, initialized ifreq for the duration of the call,
    // which is what these requests read and (SIOCGIF*) write.
    let r = unsafe { libc::ioctl(sock.as_raw_fd(), request, req as *mut libc::ifreq) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Gives the device `name` the IPv4 address `addr/prefix_len`, replacing its
/// primary IPv4 address if it has one. Set it before bringing the device up:
/// the kernel first applies the address's classful mask (a /8 for 10.x), and
/// only an up device installs routes for it.
pub fn set_ipv4(name: &str, addr: Ipv4Addr, prefix_len: u8) -> io::Result<()> {
    if prefix_len > 32 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let mut req = ifreq(name)?;
    req.ifr_ifru.ifru_addr = sockaddr_in(addr);
    ifreq_ioctl(libc::AF_INET, libc::SIOCSIFADDR, &mut req)?;
    let mask = match prefix_len {
        0 => 0,
        n => u32::MAX << (32 - u32::from(n)),
    };
    let mut req = ifreq(name)?;
    req.ifr_ifru.ifru_netmask = sockaddr_in(Ipv4Addr::from(mask));
    ifreq_ioctl(libc::AF_INET, libc::SIOCSIFNETMASK, &mut req)
}

/// Adds the IPv6 address `addr/prefix_len` to the device `name` (and, the
/// device being up, its prefix route), as `ip -6 addr add` does.
pub fn add_ipv6(name: &str, addr: Ipv6Addr, prefix_len: u8) -> io::Result<()> {
    if prefix_len > 128 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    ifreq(name)?;
    let ifindex = super::if_nametoindex(name)?;
    let req = libc::in6_ifreq {
        ifr6_addr: libc::in6_addr {
            s6_addr: addr.octets(),
        },
        ifr6_prefixlen: u32::from(prefix_len),
        ifr6_ifindex: ifindex as libc::c_int,
    };
    let sock = control_socket(libc::AF_INET6)?;
    // SAFETY: `req` is a live, initialized in6_ifreq for the duration of the
    // call; SIOCSIFADDR on an AF_INET6 socket reads exactly that struct.
    let r = unsafe {
        libc::ioctl(
            sock.as_raw_fd(),
            libc::SIOCSIFADDR,
            &req as *const libc::in6_ifreq,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The device's IFF_* flags (the low 16 bits, as SIOCGIFFLAGS reports them).
pub fn flags(name: &str) -> io::Result<u32> {
    let mut req = ifreq(name)?;
    ifreq_ioctl(libc::AF_INET, libc::SIOCGIFFLAGS, &mut req)?;
    // SAFETY: SIOCGIFFLAGS succeeded, so the kernel filled ifru_flags.
    let f = unsafe { req.ifr_ifru.ifru_flags };
    Ok(u32::from(f as u16))
}

/// Sets IFF_UP on the device `name` (`ip link set NAME up`).
pub fn set_up(name: &str) -> io::Result<()> {
    let mut req = ifreq(name)?;
    ifreq_ioctl(libc::AF_INET, libc::SIOCGIFFLAGS, &mut req)?;
    // SAFETY: SIOCGIFFLAGS succeeded, so ifru_flags is the field the kernel
    // filled; it is updated in place and written back.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    ifreq_ioctl(libc::AF_INET, libc::SIOCSIFFLAGS, &mut req)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errno(r: io::Result<()>) -> Option<i32> {
        r.err().and_then(|e| e.raw_os_error())
    }

    #[test]
    fn bad_names_and_prefixes_are_einval_before_any_system_call() {
        let v4 = Ipv4Addr::new(10, 0, 0, 1);
        let v6: Ipv6Addr = "fd00::1".parse().unwrap();
        assert_eq!(errno(set_ipv4("", v4, 24)), Some(libc::EINVAL));
        assert_eq!(
            errno(set_ipv4("sixteen-chars-xx", v4, 24)),
            Some(libc::EINVAL)
        );
        assert_eq!(errno(set_ipv4("a\0b", v4, 24)), Some(libc::EINVAL));
        assert_eq!(errno(set_ipv4("lo", v4, 33)), Some(libc::EINVAL));
        assert_eq!(errno(add_ipv6("lo", v6, 129)), Some(libc::EINVAL));
        assert_eq!(errno(add_ipv6("", v6, 64)), Some(libc::EINVAL));
        assert_eq!(errno(set_up("sixteen-chars-xx")), Some(libc::EINVAL));
    }

    #[test]
    fn a_missing_device_is_enodev() {
        // No device can have this name in any namespace the test runs in.
        assert_eq!(
            flags("sn-nonexistent").unwrap_err().raw_os_error(),
            Some(libc::ENODEV)
        );
        let v6: Ipv6Addr = "fd00::1".parse().unwrap();
        assert_eq!(
            errno(add_ipv6("sn-nonexistent", v6, 64)),
            Some(libc::ENODEV)
        );
    }

    #[test]
    fn lo_reports_loopback() {
        let f = flags("lo").unwrap();
        assert_eq!(f & libc::IFF_LOOPBACK as u32, libc::IFF_LOOPBACK as u32);
    }

    #[test]
    fn the_netmask_of_a_prefix() {
        let sa = sockaddr_in(Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(sa.sa_family, libc::AF_INET as libc::sa_family_t);
        // sin_port (2 bytes) then the address, in network order.
        let data: Vec<u8> = sa.sa_data.iter().map(|&c| c as u8).collect();
        assert_eq!(&data[..6], &[0, 0, 255, 255, 255, 0]);
    }
}
