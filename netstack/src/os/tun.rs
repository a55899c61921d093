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

/// Packets up to this size are read and written with their virtio-net
/// header in one contiguous buffer, by read(2) and write(2), and moved by a
/// copy; larger ones by readv(2) and writev(2), in place. The kernel imports
/// an iovec array from user memory for every readv and writev (and each read
/// that finds the device empty costs that too), which takes longer than
/// moving a small packet; moving a 64 KiB segment would cost more than it.
pub const MOVED_MAX: usize = 2048;

/// One read of a packet: with `hdr`, its virtio-net header goes there and
/// the packet into the free capacity of `buf` (whose length grows by the
/// packet's bytes). `small` says the packet is expected to be at most
/// `MOVED_MAX` bytes: it is then read with its header by one read(2) and
/// moved to the front, otherwise read in place by readv(2); a wrong guess
/// costs a copy, never a packet. Returns the packet's length.
pub fn read_packet(
    fd: RawFd,
    hdr: Option<&mut [u8; VNET_HDR_LEN]>,
    buf: &mut Vec<u8>,
    small: bool,
) -> io::Result<usize> {
    let Some(hdr) = hdr else {
        return super::read_to_spare(fd, buf);
    };
    if small {
        let start = buf.len();
        let n = super::read_to_spare(fd, buf)?;
        let head = n.min(VNET_HDR_LEN);
        hdr[..head].copy_from_slice(&buf[start..start + head]);
        buf.copy_within(start + head.., start);
        buf.truncate(start + n - head);
        return Ok(n - head);
    }
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

/// One write of a packet, after its virtio-net header when there is one
/// (a small packet is copied behind it, see `MOVED_MAX`). Returns the
/// packet bytes written.
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
        Some(hdr) if packet.len() <= MOVED_MAX => {
            let mut frame = [0u8; VNET_HDR_LEN + MOVED_MAX];
            let len = VNET_HDR_LEN + packet.len();
            frame[..VNET_HDR_LEN].copy_from_slice(hdr);
            frame[VNET_HDR_LEN..len].copy_from_slice(packet);
            // SAFETY: the first `len` bytes of `frame` are readable for the call.
            unsafe { libc::write(fd, frame.as_ptr().cast(), len) }
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

    /// A datagram socket keeps packet boundaries as a TUN device does.
    fn pair() -> (
        std::os::unix::net::UnixDatagram,
        std::os::unix::net::UnixDatagram,
    ) {
        std::os::unix::net::UnixDatagram::pair().expect("socketpair")
    }

    fn packet_of(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + 3) as u8).collect()
    }

    #[test]
    fn a_packet_read_either_way_comes_whole_after_what_the_buffer_held() {
        let (a, b) = pair();
        let hdr: [u8; VNET_HDR_LEN] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        for len in [0, 1, 64, 1400, MOVED_MAX, MOVED_MAX + 1, 9000] {
            for small in [true, false] {
                let packet = packet_of(len);
                let mut frame = hdr.to_vec();
                frame.extend_from_slice(&packet);
                a.send(&frame).unwrap();
                let mut buf = Vec::with_capacity(65_575);
                buf.extend_from_slice(b"kept");
                let mut got = [0; VNET_HDR_LEN];
                let n = read_packet(b.as_raw_fd(), Some(&mut got), &mut buf, small).unwrap();
                assert_eq!(n, len, "len {len} small {small}");
                assert_eq!(got, hdr, "len {len} small {small}");
                assert_eq!(&buf[..4], b"kept");
                assert!(buf[4..] == packet[..], "len {len} small {small}");
            }
        }
    }

    #[test]
    fn an_empty_device_is_would_block_either_way() {
        let (_a, b) = pair();
        crate::os::set_nonblocking(b.as_raw_fd()).unwrap();
        for small in [true, false] {
            let mut buf = Vec::with_capacity(2048);
            let mut hdr = [0; VNET_HDR_LEN];
            let e = read_packet(b.as_raw_fd(), Some(&mut hdr), &mut buf, small).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn a_packet_written_small_or_large_goes_out_as_one_frame_after_its_header() {
        let (a, b) = pair();
        let hdr: [u8; VNET_HDR_LEN] = [9, 8, 7, 6, 5, 4, 3, 2, 1, 0];
        for len in [1, 64, MOVED_MAX, MOVED_MAX + 1, 9000] {
            let packet = packet_of(len);
            assert_eq!(
                write_packet(a.as_raw_fd(), Some(&hdr), &packet).unwrap(),
                len
            );
            let mut frame = vec![0; 16_384];
            let n = b.recv(&mut frame).unwrap();
            assert_eq!(n, VNET_HDR_LEN + len, "len {len}");
            assert_eq!(frame[..VNET_HDR_LEN], hdr);
            assert!(frame[VNET_HDR_LEN..n] == packet[..], "len {len}");
        }
    }
}
