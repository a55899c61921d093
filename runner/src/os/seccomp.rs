//! The child's seccomp filter, written by hand as classic BPF, and its
//! installation with a user-notification listener.
//!
//! The filter (checked in this order):
//! 1. a foreign audit arch (or, on x86_64, an x32 system call) kills the
//!    process: its system call numbers would mean other calls;
//! 2. `io_uring_setup` fails with EPERM (io_uring would bypass the filter);
//! 3. `socket(AF_NETLINK, _, NETLINK_ROUTE)` is sent to the supervisor;
//!    `socket(AF_NETLINK, _, other)` fails with EPROTONOSUPPORT (the host's
//!    other netlink families, sock_diag included, are not shown);
//! 4. the fd calls the supervisor emulates (and dup, dup2, dup3, fcntl, ioctl) go
//!    to it when their fd is in the injection range [`FD_BASE`, `FD_END`) —
//!    the supervisor injects every netlink placeholder, and every copy of
//!    one, there, so no other fd's calls are trapped;
//! 5. `ioctl` with a device-configuration request (SIOCGIFNAME..SIOCSIFMAP)
//!    goes to it whatever the fd: interface queries are answered from the stack;
//! 6. everything else is allowed.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// The lowest fd number the supervisor gives an emulated netlink socket.
pub const FD_BASE: u32 = 768;
/// One past the highest: below 1024, so select(2)'s FD_SETSIZE still holds,
/// and within the usual soft RLIMIT_NOFILE of 1024.
pub const FD_END: u32 = 1024;

/// The fd system calls trapped for fds in the injection range.
pub const FD_SYSCALLS: &[libc::c_long] = &[
    libc::SYS_read,
    libc::SYS_write,
    libc::SYS_close,
    libc::SYS_sendto,
    libc::SYS_recvfrom,
    libc::SYS_sendmsg,
    libc::SYS_recvmsg,
    libc::SYS_bind,
    libc::SYS_connect,
    libc::SYS_getsockname,
    libc::SYS_getpeername,
    libc::SYS_setsockopt,
    libc::SYS_getsockopt,
    libc::SYS_readv,
    libc::SYS_writev,
    libc::SYS_sendmmsg,
    libc::SYS_recvmmsg,
    // Copies of an emulated socket are made in the range too.
    libc::SYS_dup,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_dup2,
    libc::SYS_dup3,
    libc::SYS_fcntl,
    libc::SYS_ioctl,
];

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E; // AUDIT_ARCH_X86_64
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7; // AUDIT_ARCH_AARCH64
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("sandnet-run's seccomp filter knows x86_64 and aarch64 only");

/// x32 system calls share the x86_64 audit arch and set this bit.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

// Offsets into struct seccomp_data: nr, arch, instruction_pointer, args[6].
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
/// The low 32 bits of args[i] (little-endian).
const fn off_arg(i: u32) -> u32 {
    16 + 8 * i
}

const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Label {
    Next,
    Allow,
    Notify,
    Eperm,
    Eprotonosupport,
    Kill,
    Socket,
    FdCheck,
    Ioctl,
}

enum Insn {
    Ld(u32),
    Jeq(u32, Label, Label),
    Jge(u32, Label, Label),
    Ret(u32),
    Mark(Label),
}

/// The filter program, as `sock_filter` instructions.
pub fn filter() -> Vec<libc::sock_filter> {
    use Insn::*;
    use Label::*;
    let mut p = vec![
        Ld(OFF_ARCH),
        Jeq(AUDIT_ARCH, Next, Kill),
        Ld(OFF_NR),
        Jge(X32_SYSCALL_BIT, Kill, Next),
        Jeq(libc::SYS_io_uring_setup as u32, Eperm, Next),
        Jeq(libc::SYS_socket as u32, Socket, Next),
        Jeq(libc::SYS_ioctl as u32, Ioctl, Next),
    ];
    for &nr in FD_SYSCALLS {
        p.push(Jeq(nr as u32, FdCheck, Next));
    }
    p.extend([
        Ret(libc::SECCOMP_RET_ALLOW),
        Mark(Socket),
        Ld(off_arg(0)),
        Jeq(libc::AF_NETLINK as u32, Next, Allow),
        Ld(off_arg(2)),
        Jeq(libc::NETLINK_ROUTE as u32, Notify, Eprotonosupport),
        // Interface ioctls, on any fd: the supervisor answers them from the stack.
        Mark(Ioctl),
        Ld(off_arg(1)),
        Jge(crate::ifioctl::FIRST, Next, FdCheck),
        Jge(crate::ifioctl::LAST + 1, FdCheck, Notify),
        Mark(FdCheck),
        Ld(off_arg(0)),
        Jge(FD_BASE, Next, Allow),
        Jge(FD_END, Allow, Notify),
        Mark(Allow),
        Ret(libc::SECCOMP_RET_ALLOW),
        Mark(Notify),
        Ret(libc::SECCOMP_RET_USER_NOTIF),
        Mark(Eperm),
        Ret(libc::SECCOMP_RET_ERRNO | libc::EPERM as u32),
        Mark(Eprotonosupport),
        Ret(libc::SECCOMP_RET_ERRNO | libc::EPROTONOSUPPORT as u32),
        Mark(Kill),
        Ret(libc::SECCOMP_RET_KILL_PROCESS),
    ]);
    assemble(&p)
}

/// Resolves labels to relative jump offsets (from the next instruction).
fn assemble(p: &[Insn]) -> Vec<libc::sock_filter> {
    let mut at = Vec::new();
    let mut n = 0usize;
    for i in p {
        match i {
            Insn::Mark(l) => at.push((*l, n)),
            _ => n += 1,
        }
    }
    let mut out = Vec::with_capacity(n);
    let target = |l: Label, me: usize| -> u8 {
        if l == Label::Next {
            return 0;
        }
        let (_, t) = at.iter().find(|(m, _)| *m == l).expect("label marked");
        u8::try_from(t - (me + 1)).expect("jump within 255 instructions")
    };
    for i in p {
        let me = out.len();
        let insn = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
        match *i {
            Insn::Ld(off) => out.push(insn(LD_W_ABS, 0, 0, off)),
            Insn::Jeq(k, t, f) => out.push(insn(JEQ_K, target(t, me), target(f, me), k)),
            Insn::Jge(k, t, f) => out.push(insn(JGE_K, target(t, me), target(f, me), k)),
            Insn::Ret(k) => out.push(insn(RET_K, 0, 0, k)),
            Insn::Mark(_) => {}
        }
    }
    out
}

/// Installs `prog` on the calling thread with a new user-notification
/// listener and returns the listener. Allocates nothing (for use between fork
/// and exec). Needs CAP_SYS_ADMIN or no_new_privs.
///
/// Where the kernel has it (6.0), SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV is
/// set: once the supervisor has received a call, only a fatal signal
/// interrupts it. Otherwise a signal arriving while a send is answered (Go's
/// preemption signal, say) would restart the call and send the request twice.
pub fn install(prog: &[libc::sock_filter]) -> io::Result<OwnedFd> {
    let fprog = libc::sock_fprog {
        len: prog.len() as libc::c_ushort,
        filter: prog.as_ptr() as *mut libc::sock_filter,
    };
    let seccomp = |flags: libc::c_ulong| {
        // SAFETY: seccomp(SET_MODE_FILTER, flags, &fprog): `fprog` points to
        // `prog`, which outlives the call; the kernel copies the program.
        unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                flags,
                &fprog as *const libc::sock_fprog,
            )
        }
    };
    let mut fd = seccomp(
        libc::SECCOMP_FILTER_FLAG_NEW_LISTENER | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
    );
    if fd < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
        // Before Linux 6.0: the flag is unknown.
        fd = seccomp(libc::SECCOMP_FILTER_FLAG_NEW_LISTENER);
    }
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this listener descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Whether this kernel offers what the supervisor uses: SECCOMP_RET_USER_NOTIF
/// (asked of the kernel) and SECCOMP_IOCTL_NOTIF_ADDFD with
/// SECCOMP_ADDFD_FLAG_SEND (Linux 5.14, read from the release).
pub fn user_notif_available() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut v = release
        .trim()
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (v.next().unwrap_or(0), v.next().unwrap_or(0));
    (major, minor) >= (5, 14) && action_available()
}

fn action_available() -> bool {
    let action: u32 = libc::SECCOMP_RET_USER_NOTIF;
    // SAFETY: seccomp(GET_ACTION_AVAIL, 0, &action) reads one u32 that outlives the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_GET_ACTION_AVAIL,
            0,
            &action as *const u32,
        )
    };
    r == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_jump_lands_inside_the_program_and_it_ends_in_returns() {
        let p = filter();
        for (i, f) in p.iter().enumerate() {
            if f.code == JEQ_K || f.code == JGE_K {
                assert!(i + 1 + (f.jt as usize) < p.len());
                assert!(i + 1 + (f.jf as usize) < p.len());
            }
        }
        assert_eq!(p.last().unwrap().code, RET_K);
        assert_eq!(p.last().unwrap().k, libc::SECCOMP_RET_KILL_PROCESS);
        assert_eq!(p[0].k, OFF_ARCH, "the arch is checked first");
    }
}
