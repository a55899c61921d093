//! An AF_PACKET socket bound to one device: sends bytes out of it exactly as
//! given, with no validation by the kernel's IP layer. Tests use it to make
//! the kernel side of a TUN deliver malformed packets to a stack.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;

pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: u32,
}

impl PacketSocket {
    /// Opens a SOCK_DGRAM packet socket for the device `ifindex` of the
    /// calling thread's namespace (needs CAP_NET_RAW).
    pub fn open(ifindex: u32) -> io::Result<PacketSocket> {
        // SAFETY: socket takes no pointers; a negative return is checked below.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a freshly created descriptor that nothing else owns.
        Ok(PacketSocket {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            ifindex,
        })
    }

    /// Sends `bytes` out of the device, labelled IPv6 or IPv4 by `ipv6`.
    pub fn send(&self, bytes: &[u8], ipv6: bool) -> io::Result<()> {
        let proto = if ipv6 { ETH_P_IPV6 } else { ETH_P_IP };
        // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = proto.to_be();
        addr.sll_ifindex = self.ifindex as i32;
        // SAFETY: `bytes` and `addr` are live for the call, and their lengths are passed with them.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                bytes.as_ptr().cast(),
                bytes.len(),
                0,
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}
