//! The supervisor: answers the trapped system calls of the program's
//! NETLINK_ROUTE sockets.
//!
//! `socket(AF_NETLINK, _, NETLINK_ROUTE)` is answered by injecting one end of
//! a fresh AF_UNIX SOCK_SEQPACKET pair as a placeholder fd, at the lowest
//! free number in the filter's injection range. The placeholder is what the
//! program holds: poll/select/epoll, fcntl and dup work on it, and it is
//! readable exactly while replies are queued (one marker byte per queued
//! datagram, written into it through the pair's other end). Every trapped fd
//! call is matched to its session by the placeholder's inode (stat of
//! /proc/TID/fd/N), so dup'ed and inherited copies in the range find the same
//! socket; calls on any other fd continue in the kernel untouched.

use crate::ifioctl;
use crate::os::notify::{self, Notif};
use crate::os::seccomp::{FD_BASE, FD_END};
use crate::os::{self, mem};
use crate::service::{NetlinkService, ServiceFactory};
use std::collections::{HashMap, HashSet, VecDeque};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;

/// Linux's rmem_default/wmem_default, as getsockopt reports them (doubled).
const DEFAULT_BUF: i32 = 212992;
const SOL_NETLINK: i32 = 270;
/// SOL_NETLINK options that are on/off flags: NETLINK_PKTINFO,
/// BROADCAST_ERROR, NO_ENOBUFS, LISTEN_ALL_NSID, CAP_ACK, EXT_ACK,
/// GET_STRICT_CHK.
const NL_FLAG_OPTIONS: [i32; 7] = [3, 4, 5, 8, 10, 11, 12];
/// sizeof(struct sockaddr_nl).
const SOCKADDR_NL_LEN: usize = 12;
/// The largest datagram a program may send (a netlink socket's default
/// sndbuf, less overhead, would refuse more).
const MAX_SEND: usize = 1 << 20;
const UIO_MAXIOV: u64 = 1024;

/// The answer to one trapped call.
enum Outcome {
    Ret(i64),
    Err(i32),
    /// Not ours: the kernel runs the call.
    Continue,
    /// Already answered (ADDFD | SEND).
    Done,
    /// A blocking receive with nothing queued: answered when a reply arrives.
    Parked,
}

struct Session {
    /// The other end of the placeholder the program holds (the runner keeps
    /// no copy of that one): marker bytes written here make the placeholder
    /// readable, and it hangs up when the program's last copy is closed.
    peer: OwnedFd,
    sock_type: i32,
    /// nl_pid; 0 until bound (explicitly, or automatically on first send).
    port_id: u32,
    groups: u32,
    rcvbuf: i32,
    sndbuf: i32,
    /// The SOL_NETLINK flag options set (bit n: option n), handed to the
    /// service and reported by getsockopt.
    nl_flags: u32,
    service: Option<Box<dyn NetlinkService>>,
    queue: VecDeque<Vec<u8>>,
    parked: Vec<Notif>,
}

type Key = (u64, u64);

pub struct Supervisor {
    listener: OwnedFd,
    factory: ServiceFactory,
    /// What interface ioctls are answered from.
    stack: netstack::Stack,
    sessions: HashMap<Key, Session>,
    ports: HashSet<u32>,
    /// Where automatic port ids go once a process's tgid is taken (Linux
    /// counts down from -4096 likewise).
    next_port: u32,
    /// A request that may have changed the stack was answered since
    /// `take_tables_changed` last looked.
    tables_changed: bool,
}

fn key_of(path: &str) -> Option<Key> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.dev(), m.ino()))
}

/// The first number of the `field` line of /proc/PID/status.
fn status_number(pid: u32, field: &str) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix(field))?;
    line.split_whitespace().next()?.parse().ok()
}

fn tgid(pid: u32) -> u32 {
    status_number(pid, "Tgid:").unwrap_or(pid)
}

/// The real uid of `pid` (the kernel's current_uid() for its requests).
fn uid(pid: u32) -> u32 {
    status_number(pid, "Uid:").unwrap_or(0)
}

fn errno(e: io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EFAULT)
}

fn read_u32(pid: u32, addr: u64) -> Result<u32, i32> {
    let b = mem::read(pid, addr, 4).map_err(errno)?;
    Ok(u32::from_ne_bytes(b.try_into().unwrap()))
}

fn write_bytes(pid: u32, addr: u64, data: &[u8]) -> Result<(), i32> {
    mem::write(pid, addr, data).map_err(errno)
}

/// `count` struct iovec at `addr`: (base, len) pairs.
fn read_iovecs(pid: u32, addr: u64, count: u64) -> Result<Vec<(u64, u64)>, i32> {
    if count > UIO_MAXIOV {
        return Err(libc::EINVAL);
    }
    let raw = mem::read(pid, addr, 16 * count as usize).map_err(errno)?;
    Ok(raw
        .chunks_exact(16)
        .map(|c| {
            (
                u64::from_ne_bytes(c[0..8].try_into().unwrap()),
                u64::from_ne_bytes(c[8..16].try_into().unwrap()),
            )
        })
        .collect())
}

/// A copy of the placeholder the trapped call names (its first argument).
fn placeholder(n: &Notif) -> Result<OwnedFd, i32> {
    os::fd_of_process(tgid(n.pid), n.args[0] as u32).map_err(errno)
}

/// Whether the placeholder the trapped call names has O_NONBLOCK (the flags
/// of its open file description, from /proc/TID/fdinfo).
fn nonblocking(n: &Notif) -> bool {
    std::fs::read_to_string(format!("/proc/{}/fdinfo/{}", n.pid, n.args[0] as u32))
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("flags:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .is_some_and(|f| f & libc::O_NONBLOCK as u32 != 0)
}

/// struct msghdr (x86_64/aarch64 layout): name, namelen, iov, iovlen.
struct MsgHdr {
    addr: u64,
    name: u64,
    namelen: u32,
    iov: u64,
    iovlen: u64,
}

fn read_msghdr(pid: u32, addr: u64) -> Result<MsgHdr, i32> {
    let b = mem::read(pid, addr, 56).map_err(errno)?;
    let u64_at = |o: usize| u64::from_ne_bytes(b[o..o + 8].try_into().unwrap());
    Ok(MsgHdr {
        addr,
        name: u64_at(0),
        namelen: u32::from_ne_bytes(b[8..12].try_into().unwrap()),
        iov: u64_at(16),
        iovlen: u64_at(24),
    })
}

fn sockaddr_nl(pid: u32, groups: u32) -> [u8; SOCKADDR_NL_LEN] {
    let mut a = [0u8; SOCKADDR_NL_LEN];
    a[0..2].copy_from_slice(&(libc::AF_NETLINK as u16).to_ne_bytes());
    a[4..8].copy_from_slice(&pid.to_ne_bytes());
    a[8..12].copy_from_slice(&groups.to_ne_bytes());
    a
}

/// Where a receive reports the sender's address.
enum NameOut {
    None,
    /// recvfrom's (addr, addrlen pointer).
    Ptrs(u64, u64),
    /// recvmsg's msghdr.
    Msg(MsgHdr),
}

/// Writes an address (`addr`, `len_ptr` -> socklen_t), truncated to the
/// space the caller gave, and the full length back, as the kernel does.
fn put_sockaddr(pid: u32, addr: u64, len_ptr: u64, sa: &[u8]) -> Result<(), i32> {
    if addr == 0 || len_ptr == 0 {
        return Ok(());
    }
    let room = read_u32(pid, len_ptr)? as i32;
    if room < 0 {
        return Err(libc::EINVAL);
    }
    write_bytes(pid, addr, &sa[..sa.len().min(room as usize)])?;
    write_bytes(pid, len_ptr, &(sa.len() as u32).to_ne_bytes())
}

impl Supervisor {
    pub fn new(listener: OwnedFd, factory: ServiceFactory, stack: netstack::Stack) -> Self {
        Supervisor {
            listener,
            factory,
            stack,
            sessions: HashMap::new(),
            ports: HashSet::new(),
            next_port: 0xFFFF_F000,
            tables_changed: false,
        }
    }

    pub fn listener(&self) -> BorrowedFd<'_> {
        self.listener.as_fd()
    }

    /// Answers one notification (or parks it). Failures to answer mean the
    /// target is gone and are ignored.
    pub fn handle(&mut self, n: Notif) {
        let outcome = self.dispatch(&n);
        self.answer(&n, outcome);
        self.wake_parked();
    }

    fn answer(&mut self, n: &Notif, outcome: Outcome) {
        let l = self.listener.as_fd();
        let _ = match outcome {
            Outcome::Ret(v) => notify::reply(l, n.id, v),
            Outcome::Err(e) => notify::fail(l, n.id, e),
            Outcome::Continue => notify::continue_call(l, n.id),
            Outcome::Done | Outcome::Parked => Ok(()),
        };
    }

    fn valid(&self, n: &Notif) -> Result<(), i32> {
        if notify::id_valid(self.listener.as_fd(), n.id) {
            Ok(())
        } else {
            Err(libc::EINTR)
        }
    }

    fn dispatch(&mut self, n: &Notif) -> Outcome {
        if n.nr == libc::SYS_socket {
            return self.socket(n);
        }
        if n.nr == libc::SYS_ioctl && (ifioctl::FIRST..=ifioctl::LAST).contains(&(n.args[1] as u32))
        {
            return self.if_ioctl(n);
        }
        let fd = n.args[0] as u32;
        let Some(key) = key_of(&format!("/proc/{}/fd/{fd}", n.pid)) else {
            return Outcome::Continue;
        };
        if !self.sessions.contains_key(&key) {
            return Outcome::Continue;
        }
        let a = n.args;
        let r = match n.nr {
            libc::SYS_close => return Outcome::Continue,
            libc::SYS_write => self.send(key, n, vec![(a[1], a[2])]),
            libc::SYS_sendto => self.send(key, n, vec![(a[1], a[2])]),
            libc::SYS_writev => read_iovecs(n.pid, a[1], a[2]).and_then(|v| self.send(key, n, v)),
            libc::SYS_sendmsg => read_msghdr(n.pid, a[1])
                .and_then(|m| read_iovecs(n.pid, m.iov, m.iovlen))
                .and_then(|v| self.send(key, n, v)),
            libc::SYS_read => return self.recv(key, n, vec![(a[1], a[2])], 0, NameOut::None),
            libc::SYS_readv => match read_iovecs(n.pid, a[1], a[2]) {
                Ok(v) => return self.recv(key, n, v, 0, NameOut::None),
                Err(e) => Err(e),
            },
            libc::SYS_recvfrom => {
                let name = NameOut::Ptrs(a[4], a[5]);
                return self.recv(key, n, vec![(a[1], a[2])], a[3] as i32, name);
            }
            libc::SYS_recvmsg => {
                match read_msghdr(n.pid, a[1])
                    .and_then(|m| read_iovecs(n.pid, m.iov, m.iovlen).map(|v| (m, v)))
                {
                    Ok((m, v)) => return self.recv(key, n, v, a[2] as i32, NameOut::Msg(m)),
                    Err(e) => Err(e),
                }
            }
            libc::SYS_bind => self.bind(key, n),
            libc::SYS_connect => self.connect(key, n),
            libc::SYS_getsockname => {
                let s = &self.sessions[&key];
                let sa = sockaddr_nl(s.port_id, s.groups);
                self.valid(n)
                    .and_then(|_| put_sockaddr(n.pid, a[1], a[2], &sa))
                    .map(|_| 0)
            }
            libc::SYS_getpeername => {
                let sa = sockaddr_nl(0, 0);
                self.valid(n)
                    .and_then(|_| put_sockaddr(n.pid, a[1], a[2], &sa))
                    .map(|_| 0)
            }
            libc::SYS_dup => return self.dup(n, FD_BASE, false),
            libc::SYS_fcntl => match a[1] as i32 {
                libc::F_DUPFD => return self.dup(n, a[2] as u32, false),
                libc::F_DUPFD_CLOEXEC => return self.dup(n, a[2] as u32, true),
                _ => return Outcome::Continue,
            },
            #[cfg(target_arch = "x86_64")]
            libc::SYS_dup2 => return self.dup_to(n, a[1] as u32, false),
            libc::SYS_dup3 => {
                let flags = a[2] as i32;
                if a[0] as u32 == a[1] as u32 || flags & !libc::O_CLOEXEC != 0 {
                    Err(libc::EINVAL)
                } else {
                    return self.dup_to(n, a[1] as u32, flags & libc::O_CLOEXEC != 0);
                }
            }
            // FIONREAD: the size of the next datagram, as for a netlink
            // socket. Other ioctls (the SIOC* device ones work on any
            // socket) run in the kernel on the placeholder.
            libc::SYS_ioctl if a[1] as u32 == libc::FIONREAD as u32 => {
                let s = &self.sessions[&key];
                let len = s.queue.front().map_or(0, |d| d.len()) as i32;
                self.valid(n)
                    .and_then(|_| write_bytes(n.pid, a[2], &len.to_ne_bytes()))
                    .map(|_| 0)
            }
            libc::SYS_ioctl => return Outcome::Continue,
            libc::SYS_setsockopt => self.setsockopt(key, n),
            libc::SYS_getsockopt => self.getsockopt(key, n),
            // sendmmsg/recvmmsg: not emulated.
            _ => Err(libc::EOPNOTSUPP),
        };
        match r {
            Ok(v) => Outcome::Ret(v),
            Err(e) => Outcome::Err(e),
        }
    }

    /// Installs our copy `src` of a placeholder in the target at `newfd`
    /// and answers the call with that number. Ok also when the target is
    /// gone (nothing to answer).
    fn inject(&self, n: &Notif, src: RawFd, newfd: u32, cloexec: bool) -> Result<(), i32> {
        if self.valid(n).is_err() {
            return Ok(());
        }
        match notify::add_fd_and_reply(self.listener.as_fd(), n.id, src, newfd, cloexec) {
            Ok(_) => Ok(()),
            Err(e) => match e.raw_os_error() {
                // The fd is beyond the target's RLIMIT_NOFILE.
                Some(libc::EBADF) => Err(libc::EMFILE),
                // The target is gone, or no longer waiting.
                Some(libc::ENOENT) | Some(libc::EINPROGRESS) => Ok(()),
                // Anything else fails the call rather than leave it waiting.
                Some(e) => Err(e),
                None => Err(libc::EIO),
            },
        }
    }

    /// The lowest fd number from `min` that is free in the target, within the range.
    fn free_fd(n: &Notif, min: u32) -> Option<u32> {
        (min.max(FD_BASE)..FD_END).find(|fd| key_of(&format!("/proc/{}/fd/{fd}", n.pid)).is_none())
    }

    /// dup / fcntl(F_DUPFD[_CLOEXEC], min): the copy is made in the range,
    /// so that its calls are trapped too.
    fn dup(&mut self, n: &Notif, min: u32, cloexec: bool) -> Outcome {
        let Some(newfd) = Self::free_fd(n, min) else {
            return Outcome::Err(libc::EMFILE);
        };
        let src = match placeholder(n) {
            Ok(fd) => fd,
            Err(e) => return Outcome::Err(e),
        };
        match self.inject(n, src.as_raw_fd(), newfd, cloexec) {
            Ok(()) => Outcome::Done,
            Err(e) => Outcome::Err(e),
        }
    }

    /// dup2 / dup3 onto a number in the range: the copy is made there
    /// (replacing what was there, as dup2 does). Onto a number outside the
    /// range the kernel makes it, and calls on that copy are not emulated.
    fn dup_to(&mut self, n: &Notif, newfd: u32, cloexec: bool) -> Outcome {
        if !(FD_BASE..FD_END).contains(&newfd) {
            return Outcome::Continue;
        }
        if newfd == n.args[0] as u32 {
            return Outcome::Ret(newfd as i64);
        }
        let src = match placeholder(n) {
            Ok(fd) => fd,
            Err(e) => return Outcome::Err(e),
        };
        match self.inject(n, src.as_raw_fd(), newfd, cloexec) {
            Ok(()) => Outcome::Done,
            Err(e) => Outcome::Err(e),
        }
    }

    /// Forgets the sockets whose every copy the program has closed (their
    /// placeholder's pair hung up), freeing their port ids.
    /// An interface ioctl (SIOCGIF*) on any of the program's sockets. On
    /// anything else the kernel's answer (ENOTTY) stands.
    fn if_ioctl(&mut self, n: &Notif) -> Outcome {
        let fd = n.args[0] as u32;
        let is_socket = std::fs::read_link(format!("/proc/{}/fd/{fd}", n.pid))
            .is_ok_and(|l| l.as_os_str().as_encoded_bytes().starts_with(b"socket:"));
        if !is_socket {
            return Outcome::Continue;
        }
        let (req, arg) = (n.args[1] as u32, n.args[2]);
        let ifaces = self.stack.interfaces();
        let addrs = self.stack.interface_addrs();
        let r = if req == ifioctl::SIOCGIFCONF {
            // struct ifconf: int ifc_len, (pad), char *ifc_buf.
            mem::read(n.pid, arg, 16).map_err(errno).and_then(|c| {
                let room = i32::from_ne_bytes(c[0..4].try_into().unwrap());
                let buf = u64::from_ne_bytes(c[8..16].try_into().unwrap());
                let len = if buf == 0 {
                    ifioctl::ifconf_len(&ifaces, &addrs)
                } else {
                    let list = ifioctl::ifconf(room.max(0) as usize, &ifaces, &addrs);
                    self.valid(n)?;
                    write_bytes(n.pid, buf, &list)?;
                    list.len()
                };
                self.valid(n)?;
                write_bytes(n.pid, arg, &(len as i32).to_ne_bytes())
            })
        } else {
            mem::read(n.pid, arg, ifioctl::IFREQ_LEN)
                .map_err(errno)
                .and_then(|b| {
                    let mut ifr: [u8; ifioctl::IFREQ_LEN] = b.try_into().unwrap();
                    ifioctl::answer(req, &mut ifr, &ifaces, &addrs)?;
                    self.valid(n)?;
                    write_bytes(n.pid, arg, &ifr)
                })
        };
        match r {
            Ok(()) => Outcome::Ret(0),
            Err(e) => Outcome::Err(e),
        }
    }

    /// Whether a request may have changed the stack's tables since the last call.
    pub fn take_tables_changed(&mut self) -> bool {
        std::mem::take(&mut self.tables_changed)
    }

    pub fn collect_closed(&mut self) {
        let closed: Vec<Key> = self
            .sessions
            .iter()
            .filter(|(_, s)| os::hung_up(s.peer.as_fd()))
            .map(|(k, _)| *k)
            .collect();
        for k in closed {
            if let Some(s) = self.sessions.remove(&k) {
                self.ports.remove(&s.port_id);
            }
        }
    }

    fn socket(&mut self, n: &Notif) -> Outcome {
        // A closed socket's placeholder inode may be reused by the new one.
        self.collect_closed();
        let ty = n.args[1] as i32;
        let base = ty & 0xf;
        if base != libc::SOCK_RAW && base != libc::SOCK_DGRAM {
            return Outcome::Err(libc::ESOCKTNOSUPPORT);
        }
        let (target, peer) = match os::seqpacket_pair() {
            Ok(p) => p,
            Err(e) => return Outcome::Err(errno(e)),
        };
        if ty & libc::SOCK_NONBLOCK != 0 && os::set_nonblocking(target.as_fd()).is_err() {
            return Outcome::Err(libc::ENOMEM);
        }
        let Some(key) = key_of(&format!("/proc/self/fd/{}", target.as_raw_fd())) else {
            return Outcome::Err(libc::ENOMEM);
        };
        let Some(newfd) = Self::free_fd(n, FD_BASE) else {
            return Outcome::Err(libc::EMFILE);
        };
        if let Err(e) = self.inject(n, target.as_raw_fd(), newfd, ty & libc::SOCK_CLOEXEC != 0) {
            return Outcome::Err(e);
        }
        self.sessions.insert(
            key,
            Session {
                peer,
                sock_type: base,
                port_id: 0,
                groups: 0,
                rcvbuf: DEFAULT_BUF,
                sndbuf: DEFAULT_BUF,
                nl_flags: 0,
                service: None,
                queue: VecDeque::new(),
                parked: Vec::new(),
            },
        );
        Outcome::Done
    }

    /// Gives the session a port id (`want`, or the caller's tgid if free, or
    /// the next automatic one) and its service.
    fn bind_port(&mut self, key: Key, pid: u32, want: u32) -> Result<(), i32> {
        let port = if want != 0 {
            if self.ports.contains(&want) {
                return Err(libc::EADDRINUSE);
            }
            want
        } else {
            let t = tgid(pid);
            if !self.ports.contains(&t) {
                t
            } else {
                while self.ports.contains(&self.next_port) {
                    self.next_port -= 1;
                }
                self.next_port
            }
        };
        self.ports.insert(port);
        let mut service = (self.factory)(port);
        service.set_uid(uid(pid));
        let s = self.sessions.get_mut(&key).unwrap();
        for name in NL_FLAG_OPTIONS {
            if s.nl_flags & (1 << name) != 0 {
                service.set_option(name, true);
            }
        }
        s.port_id = port;
        s.service = Some(service);
        Ok(())
    }

    fn bind(&mut self, key: Key, n: &Notif) -> Result<i64, i32> {
        if (n.args[2] as usize) < SOCKADDR_NL_LEN {
            return Err(libc::EINVAL);
        }
        let sa = mem::read(n.pid, n.args[1], SOCKADDR_NL_LEN).map_err(errno)?;
        if u16::from_ne_bytes([sa[0], sa[1]]) != libc::AF_NETLINK as u16 {
            return Err(libc::EINVAL);
        }
        let want = u32::from_ne_bytes(sa[4..8].try_into().unwrap());
        let groups = u32::from_ne_bytes(sa[8..12].try_into().unwrap());
        self.valid(n)?;
        let bound = self.sessions[&key].port_id;
        if bound != 0 {
            if want != 0 && want != bound {
                return Err(libc::EINVAL);
            }
        } else {
            self.bind_port(key, n.pid, want)?;
        }
        self.sessions.get_mut(&key).unwrap().groups = groups;
        Ok(0)
    }

    fn connect(&mut self, key: Key, n: &Notif) -> Result<i64, i32> {
        if (n.args[2] as usize) < 2 {
            return Err(libc::EINVAL);
        }
        let sa = mem::read(n.pid, n.args[1], 2).map_err(errno)?;
        let family = u16::from_ne_bytes([sa[0], sa[1]]);
        if family != libc::AF_NETLINK as u16 && family != libc::AF_UNSPEC as u16 {
            return Err(libc::EINVAL);
        }
        self.valid(n)?;
        if self.sessions[&key].port_id == 0 {
            self.bind_port(key, n.pid, 0)?;
        }
        Ok(0)
    }

    fn setsockopt(&mut self, key: Key, n: &Notif) -> Result<i64, i32> {
        let (level, name, val, len) = (n.args[1] as i32, n.args[2] as i32, n.args[3], n.args[4]);
        if level == libc::SOL_SOCKET
            && [
                libc::SO_RCVBUF,
                libc::SO_SNDBUF,
                libc::SO_RCVBUFFORCE,
                libc::SO_SNDBUFFORCE,
            ]
            .contains(&name)
        {
            if len < 4 {
                return Err(libc::EINVAL);
            }
            let v = read_u32(n.pid, val)? as i32;
            self.valid(n)?;
            let v = v.clamp(1152, i32::MAX / 2) * 2;
            let s = self.sessions.get_mut(&key).unwrap();
            if name == libc::SO_RCVBUF || name == libc::SO_RCVBUFFORCE {
                s.rcvbuf = v;
            } else {
                s.sndbuf = v;
            }
        }
        if level == SOL_NETLINK && NL_FLAG_OPTIONS.contains(&name) {
            // netlink_setsockopt reads an int for these (and refuses less).
            if len < 4 {
                return Err(libc::EINVAL);
            }
            let on = read_u32(n.pid, val)? != 0;
            self.valid(n)?;
            let s = self.sessions.get_mut(&key).unwrap();
            if on {
                s.nl_flags |= 1 << name;
            } else {
                s.nl_flags &= !(1 << name);
            }
            if let Some(service) = &mut s.service {
                service.set_option(name, on);
            }
        }
        // Other options (memberships, buffer sizes of other levels, ...)
        // are accepted and have no effect.
        Ok(0)
    }

    fn getsockopt(&mut self, key: Key, n: &Notif) -> Result<i64, i32> {
        let (level, name, val, lenp) = (n.args[1] as i32, n.args[2] as i32, n.args[3], n.args[4]);
        let s = &self.sessions[&key];
        let v: i32 = match (level, name) {
            (libc::SOL_SOCKET, libc::SO_TYPE) => s.sock_type,
            (libc::SOL_SOCKET, libc::SO_DOMAIN) => libc::AF_NETLINK,
            (libc::SOL_SOCKET, libc::SO_PROTOCOL) => libc::NETLINK_ROUTE,
            (libc::SOL_SOCKET, libc::SO_RCVBUF) => s.rcvbuf,
            (libc::SOL_SOCKET, libc::SO_SNDBUF) => s.sndbuf,
            (libc::SOL_SOCKET, libc::SO_ERROR | libc::SO_PASSCRED | libc::SO_ACCEPTCONN) => 0,
            (SOL_NETLINK, o) if NL_FLAG_OPTIONS.contains(&o) => {
                i32::from(s.nl_flags & (1 << o) != 0)
            }
            (SOL_NETLINK, 3..=12) => 0,
            _ => return Err(libc::ENOPROTOOPT),
        };
        let room = read_u32(n.pid, lenp)? as i32;
        if room < 0 {
            return Err(libc::EINVAL);
        }
        self.valid(n)?;
        let bytes = v.to_ne_bytes();
        let k = bytes.len().min(room as usize);
        write_bytes(n.pid, val, &bytes[..k])?;
        write_bytes(n.pid, lenp, &(k as u32).to_ne_bytes())?;
        Ok(0)
    }

    fn send(&mut self, key: Key, n: &Notif, iovs: Vec<(u64, u64)>) -> Result<i64, i32> {
        let total: u64 = iovs.iter().map(|&(_, l)| l).sum();
        if total as usize > MAX_SEND {
            return Err(libc::EMSGSIZE);
        }
        let mut bytes = Vec::with_capacity(total as usize);
        for &(base, len) in &iovs {
            bytes.extend(mem::read(n.pid, base, len as usize).map_err(errno)?);
        }
        self.valid(n)?;
        if self.sessions[&key].port_id == 0 {
            self.bind_port(key, n.pid, 0)?;
        }
        // RTM_NEW*, RTM_DEL*, RTM_SET*: everything but the GETs (type % 4 == 2).
        self.tables_changed |= crate::service::messages(&bytes)
            .iter()
            .any(|&(ty, _, _)| ty >= 16 && ty % 4 != 2);
        let s = self.sessions.get_mut(&key).unwrap();
        let reply = s.service.as_mut().expect("bound").request(&bytes);
        for d in reply {
            s.queue.push_back(d);
            let _ = os::send_byte(s.peer.as_raw_fd(), 1);
        }
        Ok(bytes.len() as i64)
    }

    /// Retries receives parked on sessions that now have replies queued
    /// (another thread of the program sent on the same socket).
    fn wake_parked(&mut self) {
        let ready: Vec<Key> = self
            .sessions
            .iter()
            .filter(|(_, s)| !s.parked.is_empty() && !s.queue.is_empty())
            .map(|(k, _)| *k)
            .collect();
        for k in ready {
            let parked = std::mem::take(&mut self.sessions.get_mut(&k).unwrap().parked);
            for p in parked {
                let outcome = self.dispatch(&p);
                self.answer(&p, outcome);
            }
        }
    }

    fn recv(
        &mut self,
        key: Key,
        n: &Notif,
        iovs: Vec<(u64, u64)>,
        flags: i32,
        name: NameOut,
    ) -> Outcome {
        let s = self.sessions.get_mut(&key).unwrap();
        // No socket errors are ever queued.
        if flags & libc::MSG_ERRQUEUE != 0 {
            return Outcome::Err(libc::EAGAIN);
        }
        if s.queue.is_empty() {
            if flags & libc::MSG_DONTWAIT != 0 || nonblocking(n) {
                return Outcome::Err(libc::EAGAIN);
            }
            s.parked.push(*n);
            return Outcome::Parked;
        }
        match self.deliver(key, n, &iovs, flags, &name) {
            Ok(v) => Outcome::Ret(v),
            Err(e) => Outcome::Err(e),
        }
    }

    /// Copies the first queued datagram into the caller's buffers (and its
    /// address, and recvmsg's flags), consuming it unless MSG_PEEK. Returns
    /// the bytes copied, or the datagram's full length with MSG_TRUNC.
    fn deliver(
        &mut self,
        key: Key,
        n: &Notif,
        iovs: &[(u64, u64)],
        flags: i32,
        name: &NameOut,
    ) -> Result<i64, i32> {
        self.valid(n)?;
        let s = &self.sessions[&key];
        let dg = s.queue.front().expect("not empty").clone();
        let mut off = 0usize;
        for &(base, len) in iovs {
            let k = (len as usize).min(dg.len() - off);
            if k > 0 {
                write_bytes(n.pid, base, &dg[off..off + k])?;
            }
            off += k;
        }
        let truncated = off < dg.len();
        let sa = sockaddr_nl(0, 0);
        match name {
            NameOut::None => {}
            NameOut::Ptrs(addr, lenp) => put_sockaddr(n.pid, *addr, *lenp, &sa)?,
            NameOut::Msg(m) => {
                // As the kernel: msg_namelen is updated only when there is a name buffer.
                if m.name != 0 {
                    if (m.namelen as i32) < 0 {
                        return Err(libc::EINVAL);
                    }
                    write_bytes(n.pid, m.name, &sa[..sa.len().min(m.namelen as usize)])?;
                    write_bytes(n.pid, m.addr + 8, &(SOCKADDR_NL_LEN as u32).to_ne_bytes())?;
                }
                write_bytes(n.pid, m.addr + 40, &0u64.to_ne_bytes())?; // msg_controllen
                let mflags = if truncated { libc::MSG_TRUNC } else { 0 };
                write_bytes(n.pid, m.addr + 48, &mflags.to_ne_bytes())?;
            }
        }
        if flags & libc::MSG_PEEK == 0 {
            let s = self.sessions.get_mut(&key).unwrap();
            s.queue.pop_front();
            if let Ok(fd) = placeholder(n) {
                os::drain_byte(fd.as_raw_fd());
            }
        }
        Ok(if flags & libc::MSG_TRUNC != 0 {
            dg.len() as i64
        } else {
            off as i64
        })
    }
}
