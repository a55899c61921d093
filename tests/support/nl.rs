//! Netlink helpers for tests: a kernel NETLINK_ROUTE socket inside a
//! namespace, request builders, and the masking that leaves only the bytes
//! that must agree with the kernel's.

use sandnet::netlink::nlmsg::{
    align, Attrs, Header, NLMSG_DONE, NLMSG_ERROR, NLM_F_ACK, NLM_F_DUMP,
};
use sandnet::netstack::os::netns::NetNs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Message types, request flags and families the tests build requests from
/// (the values are the kernel ABI's; the kernel comparisons check them).
// Not every test binary that includes support/ uses them.
#[allow(unused_imports)]
pub mod consts {
    pub use sandnet::netlink::nlmsg::{
        NLM_F_ACK as ACK, NLM_F_CREATE as CREATE, NLM_F_DUMP as DUMP, NLM_F_EXCL as EXCL,
        NLM_F_REQUEST as REQ,
    };
    pub use sandnet::netlink::responder::{
        RTM_DELADDR, RTM_DELROUTE, RTM_GETADDR, RTM_GETLINK, RTM_GETNEIGH, RTM_GETNSID,
        RTM_GETROUTE, RTM_NEWADDR, RTM_NEWLINK, RTM_NEWROUTE, RTM_SETLINK,
    };
    pub const AF_INET: u8 = libc::AF_INET as u8;
    pub const AF_INET6: u8 = libc::AF_INET6 as u8;
}

const SOL_NETLINK: libc::c_int = 270;
const NETLINK_CAP_ACK: libc::c_int = 10;
const NETLINK_EXT_ACK: libc::c_int = 11;
const NETLINK_GET_STRICT_CHK: libc::c_int = 12;

/// A kernel NETLINK_ROUTE socket opened in a namespace.
pub struct KernelNl {
    fd: OwnedFd,
    pub portid: u32,
}

fn set_int(fd: libc::c_int, level: libc::c_int, opt: libc::c_int, v: libc::c_int) {
    // SAFETY: fd is an open socket; the option value is a live c_int of the size given.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            opt,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(
        r,
        0,
        "setsockopt {opt}: {}",
        std::io::Error::last_os_error()
    );
}

impl KernelNl {
    pub fn open(ns: &NetNs, ext_ack: bool, strict: bool, cap_ack: bool) -> KernelNl {
        let fd = ns.run(|| {
            // SAFETY: plain socket(2) call; the result is checked before use.
            let fd = unsafe {
                libc::socket(
                    libc::AF_NETLINK,
                    libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                    libc::NETLINK_ROUTE,
                )
            };
            assert!(
                fd >= 0,
                "netlink socket: {}",
                std::io::Error::last_os_error()
            );
            // SAFETY: fd was just returned by socket(2) and is owned by nothing else.
            unsafe { OwnedFd::from_raw_fd(fd) }
        });
        let raw = fd.as_raw_fd();
        set_int(raw, SOL_NETLINK, NETLINK_EXT_ACK, ext_ack as libc::c_int);
        set_int(
            raw,
            SOL_NETLINK,
            NETLINK_GET_STRICT_CHK,
            strict as libc::c_int,
        );
        set_int(raw, SOL_NETLINK, NETLINK_CAP_ACK, cap_ack as libc::c_int);
        let tv = libc::timeval {
            tv_sec: 5,
            tv_usec: 0,
        };
        // SAFETY: tv is a live timeval of the size given.
        let r = unsafe {
            libc::setsockopt(
                raw,
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        assert_eq!(r, 0);
        // SAFETY: sockaddr_nl is plain data; all zero is a valid value (kernel picks the port id).
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        let len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
        // SAFETY: sa is a live sockaddr_nl of length len.
        let r = unsafe { libc::bind(raw, (&sa as *const libc::sockaddr_nl).cast(), len) };
        assert_eq!(r, 0, "bind: {}", std::io::Error::last_os_error());
        let mut got = len;
        // SAFETY: sa and got are live and sized for getsockname to fill.
        let r =
            unsafe { libc::getsockname(raw, (&mut sa as *mut libc::sockaddr_nl).cast(), &mut got) };
        assert_eq!(r, 0);
        KernelNl {
            fd,
            portid: sa.nl_pid,
        }
    }

    /// `request`, keeping each datagram the kernel delivered apart.
    pub fn request_datagrams(&self, req: &[u8]) -> Vec<Vec<u8>> {
        let raw = self.fd.as_raw_fd();
        // SAFETY: req is a live buffer of req.len() bytes.
        let n = unsafe { libc::send(raw, req.as_ptr().cast(), req.len(), 0) };
        assert_eq!(
            n,
            req.len() as isize,
            "send: {}",
            std::io::Error::last_os_error()
        );
        let wants_end = Header::parse(req)
            .is_some_and(|h| h.flags & NLM_F_ACK != 0 || h.flags & NLM_F_DUMP == NLM_F_DUMP);
        let mut out = Vec::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut flags = 0;
        loop {
            // SAFETY: buf is a live, writable buffer of buf.len() bytes.
            let n = unsafe { libc::recv(raw, buf.as_mut_ptr().cast(), buf.len(), flags) };
            if n <= 0 {
                assert!(flags != 0, "recv: {}", std::io::Error::last_os_error());
                return out;
            }
            let chunk = buf[..n as usize].to_vec();
            let ended = messages(&chunk)
                .iter()
                .any(|(h, _)| h.ty == NLMSG_DONE || h.ty == NLMSG_ERROR);
            out.push(chunk);
            if !wants_end || ended {
                // Drain what else this request queued.
                flags = libc::MSG_DONTWAIT;
            }
        }
    }

    /// Sends `req` and collects the kernel's replies: until the NLMSG_DONE or
    /// NLMSG_ERROR that ends a dump or an acked request, else the first datagram.
    pub fn request(&self, req: &[u8]) -> Vec<u8> {
        self.request_datagrams(req).concat()
    }
}

/// Messages of a reply buffer, as (header, whole message).
pub fn messages(b: &[u8]) -> Vec<(Header, Vec<u8>)> {
    let mut out = Vec::new();
    let mut off = 0;
    while let Some(h) = Header::parse(&b[off..]) {
        let len = h.len as usize;
        if len < 16 || off + len > b.len() {
            break;
        }
        out.push((h, b[off..off + len].to_vec()));
        off += align(len);
        if off >= b.len() {
            break;
        }
    }
    out
}

/// A request: header plus body, with length filled in.
pub fn req(ty: u16, flags: u16, seq: u32, body: &[u8]) -> Vec<u8> {
    let mut v = Header {
        len: (16 + body.len()) as u32,
        ty,
        flags,
        seq,
        pid: 0,
    }
    .to_bytes()
    .to_vec();
    v.extend_from_slice(body);
    v
}

/// An attribute, padded.
pub fn nla(ty: u16, v: &[u8]) -> Vec<u8> {
    let mut b = ((4 + v.len()) as u16).to_ne_bytes().to_vec();
    b.extend_from_slice(&ty.to_ne_bytes());
    b.extend_from_slice(v);
    b.resize(align(b.len()), 0);
    b
}

pub fn ifinfomsg(index: i32) -> Vec<u8> {
    let mut b = vec![0u8; 4];
    b.extend_from_slice(&index.to_ne_bytes());
    b.extend_from_slice(&[0; 8]);
    b
}

pub fn ifaddrmsg(family: u8, index: u32) -> Vec<u8> {
    let mut b = vec![family, 0, 0, 0];
    b.extend_from_slice(&index.to_ne_bytes());
    b
}

pub fn rtmsg(family: u8, dst_len: u8, src_len: u8, table: u8, flags: u32) -> Vec<u8> {
    let mut b = vec![family, dst_len, src_len, 0, table, 0, 0, 0];
    b.extend_from_slice(&flags.to_ne_bytes());
    b
}

fn zero(b: &mut [u8], at: usize, len: usize) {
    let end = (at + len).min(b.len());
    if at < end {
        b[at..end].fill(0);
    }
}

/// Offsets (from the start of `b`) of each attribute's payload: (type, start, len).
fn attr_spans(b: &[u8], base: usize) -> Vec<(u16, usize, usize)> {
    let a = Attrs::parse(b);
    let mut out = Vec::new();
    let mut off = 0;
    for x in a.list {
        out.push((x.ty, base + off + 4, x.value.len()));
        off += align(4 + x.value.len());
    }
    out
}

/// Zeroes what may differ from the kernel, and nothing else:
/// - RTM_NEWLINK: IFLA_STATS64 and IFLA_STATS (counters); in IFLA_AF_SPEC's
///   AF_INET6, and in IFLA_PROTINFO of an AF_INET6 message (an AF_INET6 link
///   dump): IFLA_INET6_CACHEINFO tstamp and reachable_time (creation time
///   and a random value), and the counter values of IFLA_INET6_STATS and
///   IFLA_INET6_ICMP6STATS (their lengths, the first u64, stay);
/// - RTM_NEWADDR: IFA_CACHEINFO cstamp and tstamp (timestamps);
/// - RTM_NEWSTATS: IFLA_STATS_LINK_64 (counters);
/// - RTM_NEWQDISC: the values in TCA_STATS2 and TCA_STATS (counters);
/// - RTM_NEWROUTE: RTA_CACHEINFO rta_clntref and rta_lastuse (a reference count
///   on the kernel's cached route, and a time);
///
/// nlmsg_seq and nlmsg_pid are compared: both sides get the same request and
/// the responder is given the kernel socket's port id.
pub fn mask(reply: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (h, mut m) in messages(reply) {
        match h.ty {
            16 => {
                let inet6_family = m.get(16) == Some(&10);
                for (ty, at, len) in attr_spans(&m[32..], 32) {
                    match ty {
                        7 | 23 => zero(&mut m, at, len),
                        26 => {
                            for (fam, fat, flen) in attr_spans(&m[at..at + len], at) {
                                if fam == 10 {
                                    mask_inet6(&mut m, fat, flen);
                                }
                            }
                        }
                        // IFLA_PROTINFO of an AF_INET6 link dump (inet6_fill_ifinfo):
                        // the same IFLA_INET6_* attributes.
                        12 if inet6_family => mask_inet6(&mut m, at, len),
                        _ => {}
                    }
                }
            }
            20 => {
                for (ty, at, _) in attr_spans(&m[24..], 24) {
                    if ty == 6 {
                        zero(&mut m, at + 8, 8);
                    }
                }
            }
            36 => {
                // TCA_STATS2 and TCA_STATS: counters.
                for (ty, at, len) in attr_spans(&m[36..], 36) {
                    if ty == 7 {
                        for (_, a2, l2) in attr_spans(&m[at..at + len], at) {
                            zero(&mut m, a2, l2);
                        }
                    } else if ty == 3 {
                        zero(&mut m, at, len);
                    }
                }
            }
            92 => {
                // IFLA_STATS_LINK_64: counters.
                for (ty, at, len) in attr_spans(&m[28..], 28) {
                    if ty == 1 {
                        zero(&mut m, at, len);
                    }
                }
            }
            24 => {
                // rta_clntref and rta_lastuse: a reference count on the kernel's
                // cached route and the time since it was last used.
                for (ty, at, _) in attr_spans(&m[28..], 28) {
                    if ty == 12 {
                        zero(&mut m, at, 8);
                    }
                }
            }
            _ => {}
        }
        out.extend_from_slice(&m);
        out.resize(align(out.len()), 0);
    }
    out
}

/// The IFLA_INET6_* attributes at `at..at + len` of `m`: IFLA_INET6_CACHEINFO
/// tstamp and reachable_time, and the counter values (not the lengths) of
/// IFLA_INET6_STATS and IFLA_INET6_ICMP6STATS.
fn mask_inet6(m: &mut [u8], at: usize, len: usize) {
    for (t, a2, l2) in attr_spans(&m[at..at + len], at) {
        match t {
            5 => zero(m, a2 + 4, 8),
            3 | 6 => zero(m, a2 + 8, l2.saturating_sub(8)),
            _ => {}
        }
    }
}

/// A readable listing of a reply, for failure messages.
pub fn describe(reply: &[u8]) -> String {
    let mut s = String::new();
    for (h, m) in messages(reply) {
        s += &format!(
            "type {} flags {:#x} seq {} pid {} len {}\n",
            h.ty, h.flags, h.seq, h.pid, h.len
        );
        let hdr = match h.ty {
            16 => 16,
            20 => 8,
            24 => 12,
            _ => m.len() - 16,
        };
        s += &format!("  hdr {}\n", hex(&m[16..16 + hdr]));
        for a in Attrs::parse(&m[16 + hdr..]).list {
            s += &format!("  attr {} len {} {}\n", a.ty, a.value.len(), hex(a.value));
        }
    }
    s
}

/// Which message and attribute byte `at` of a reply falls in.
fn locate(reply: &[u8], at: usize) -> String {
    let mut off = 0;
    for (i, (h, m)) in messages(reply).into_iter().enumerate() {
        if at < off + m.len() {
            let hdr = match h.ty {
                16 => 16,
                20 => 8,
                24 => 12,
                _ => return format!("message {i} (type {}), offset {}", h.ty, at - off),
            };
            for (ty, start, len) in attr_spans(&m[16 + hdr..], 16 + hdr) {
                if at - off < start + len {
                    return format!(
                        "message {i} (type {}), attr {ty}, payload byte {}",
                        h.ty,
                        (at - off) as isize - start as isize
                    );
                }
            }
            return format!("message {i} (type {}), offset {}", h.ty, at - off);
        }
        off += align(m.len());
    }
    "past the end".into()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Compares a responder's reply with the kernel's after masking.
pub fn assert_same(what: &str, ours: &[u8], kernel: &[u8]) {
    let (a, b) = (mask(ours), mask(kernel));
    if a != b {
        let at = a
            .iter()
            .zip(&b)
            .position(|(x, y)| x != y)
            .unwrap_or(a.len().min(b.len()));
        panic!(
            "{what}: replies differ at byte {at} (lengths {} and {}): {}\n--- sandnet:\n{}--- kernel:\n{}",
            a.len(),
            b.len(),
            locate(&b, at),
            describe(&a),
            describe(&b)
        );
    }
}
