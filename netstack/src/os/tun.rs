//! Opening a TUN device and moving packets with their virtio-net headers.
//!
//! With IFF_VNET_HDR every packet read or written is preceded by a
//! `struct virtio_net_hdr` (10 bytes, include/uapi/linux/virtio_net.h). That
//! header is what lets the device carry offloads: the kernel hands the stack
//! TCP segments of up to 64 KiB (GSO) with checksums it vouches for, and
//! takes the same from it, cutting them to the MTU only if it forwards them.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const TUNSETOFFLOAD: libc::c_ulong = 0x4004_54d0;
const IFF_TUN: libc::c_short = 0x0001;
const IFF_NO_PI: libc::c_short = 0x1000;
const IFF_VNET_HDR: libc::c_short = 0x4000;
const TUN_F_CSUM: libc::c_ulong = 0x01;
const TUN_F_TSO4: libc::c_ulong = 0x02;
const TUN_F_TSO6: libc::c_ulong = 0x04;

/// Bytes of the virtio-net header before each packet.
pub const VNET_HDR_LEN: usize = 10;

/// Creates (or attaches to) TUN device `name` in the calling thread's
/// namespace, without packet information. With `offload`, packets carry a
/// virtio-net header and the device takes checksum and TCP segmentation
/// offloads (TUNSETOFFLOAD). Returns the fd (close-on-exec, non-blocking)
/// and the name the kernel gave the device.
pub fn open(name: &str, offload: bool) -> io::Result<(OwnedFd, String)> {
    let mut req = super::ifconfig::ifreq(name)?;
    req.ifr_ifru.ifru_flags = IFF_TUN | IFF_NO_PI | if offload { IFF_VNET_HDR } else { 0 };
    // SAFETY: the path is a NUL-terminated literal; the result is checked.
    let fd = unsafe {
        libc::open(
            c"/dev/net/tun".as_ptr(),
            libc::O_RDWR | libc::O_CLOEXEC | libc::O_NONBLOCK,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened here and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: TUNSETIFF reads and writes one ifreq, `req`, alive for the call.
    if unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETIFF, &mut req as *mut libc::ifreq) } < 0 {
        return Err(io::Error::last_os_error());
    }
    if offload {
        let features = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
        // SAFETY: TUNSETOFFLOAD takes its argument by value; no memory is passed.
        if unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETOFFLOAD, features) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    // The kernel NUL-terminates the name it chose within the array.
    req.ifr_name[libc::IFNAMSIZ - 1] = 0;
    // SAFETY: the array is NUL-terminated (set above) and outlives the borrow.
    let chosen = unsafe { CStr::from_ptr(req.ifr_name.as_ptr()) };
    Ok((fd, chosen.to_string_lossy().into_owned()))
}

/// One read(2) of a packet: with `hdr`, its virtio-net header goes there and
/// the packet into the free capacity of `buf` (whose length grows by the
/// packet's bytes), without a copy. Returns the packet's length.
pub fn read_packet(
    fd: RawFd,
    hdr: Option<&mut [u8; VNET_HDR_LEN]>,
    buf: &mut Vec<u8>,
) -> io::Result<usize> {
    let Some(hdr) = hdr else {
        return super::read_to_spare(fd, buf);
    };
    let spare = buf.spare_capacity_mut();
    let iov = [
        libc::iovec {
            iov_base: hdr.as_mut_ptr().cast(),
            iov_len: VNET_HDR_LEN,
        },
        libc::iovec {
            iov_base: spare.as_mut_ptr().cast(),
            iov_len: spare.len(),
        },
    ];
    // SAFETY: both iovecs describe writable memory (the header array and
    // the spare capacity) that outlives the call, with their true lengths.
    let n = unsafe { libc::readv(fd, iov.as_ptr(), iov.len() as libc::c_int) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = (n as usize).saturating_sub(VNET_HDR_LEN);
    // SAFETY: readv filled the header first, then the first `n` bytes of
    // the spare capacity (n <= its length).
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}

/// One write(2) of a packet, after its virtio-net header when there is one.
/// Returns the packet bytes written.
pub fn write_packet(
    fd: RawFd,
    hdr: Option<&[u8; VNET_HDR_LEN]>,
    packet: &[u8],
) -> io::Result<usize> {
    let n = match hdr {
        None => {
            // SAFETY: `packet` is readable memory of its length for the call.
            unsafe { libc::write(fd, packet.as_ptr().cast(), packet.len()) }
        }
        Some(hdr) => {
            let iov = [
                libc::iovec {
                    iov_base: hdr.as_ptr() as *mut libc::c_void,
                    iov_len: VNET_HDR_LEN,
                },
                libc::iovec {
                    iov_base: packet.as_ptr() as *mut libc::c_void,
                    iov_len: packet.len(),
                },
            ];
            // SAFETY: both iovecs describe readable memory that outlives the
            // call; writev does not write through them.
            unsafe { libc::writev(fd, iov.as_ptr(), iov.len() as libc::c_int) }
        }
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let head = if hdr.is_some() { VNET_HDR_LEN } else { 0 };
    Ok((n as usize).saturating_sub(head))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_the_kernel_would_refuse_is_einval_before_anything_opens() {
        for bad in ["", "sixteen_bytes_xx", "nul\0inside"] {
            let e = open(bad, true).expect_err(bad);
            assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{bad:?}");
        }
    }
}
