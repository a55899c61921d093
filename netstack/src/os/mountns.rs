//! A private mount namespace in which /proc/net is another directory.
//!
//! For showing rendered /proc/net files to unmodified programs (net-tools,
//! busybox): a thread unshares its mount namespace, makes every mount private
//! (so nothing propagates back to the host), and mounts a symlink to the
//! directory over the /proc/net symlink itself. A plain bind mount cannot be
//! used: /proc/net is a symlink to self/net, resolved per process. Programs
//! the thread spawns inherit the namespace; it disappears when the thread and
//! they have ended, leaving the host's mounts untouched.
//!
//! [`show_as_proc_net`] is the same two steps for a process about to exec
//! (sandnet-run's child): it allocates nothing, so it may run between fork and exec.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;

fn cstr(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

fn check(r: libc::c_long) -> io::Result<libc::c_long> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Detaches the calling thread into a new mount namespace with every mount private.
fn unshare_private() -> io::Result<()> {
    // SAFETY: unshare takes only flags and changes this thread's namespaces alone.
    check(unsafe { libc::unshare(libc::CLONE_NEWNS) }.into())?;
    // SAFETY: the root path is a valid NUL-terminated literal; null source, type
    // and data are allowed for a propagation change.
    check(
        unsafe {
            libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            )
        }
        .into(),
    )?;
    Ok(())
}

/// Mounts the symlink `link` itself (not what it points to) over the path
/// `target`, which is not followed either.
fn mount_symlink_over(link: &CStr, target: &CStr) -> io::Result<()> {
    let flags = OPEN_TREE_CLONE
        | libc::O_CLOEXEC as libc::c_uint
        | libc::AT_SYMLINK_NOFOLLOW as libc::c_uint;
    // SAFETY: open_tree(dirfd, path, flags) with a valid NUL-terminated path;
    // the result is a new descriptor or a negative error, checked.
    let fd =
        check(unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, link.as_ptr(), flags) })?;
    // SAFETY: `fd` was just returned by open_tree and nothing else owns it.
    let tree = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
    let empty = c"";
    // SAFETY: move_mount(from_dirfd, "", to_dirfd, to_path, flags) with a live
    // descriptor, an empty path (allowed by MOVE_MOUNT_F_EMPTY_PATH) and a
    // valid NUL-terminated target path.
    check(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            std::os::fd::AsRawFd::as_raw_fd(&tree),
            empty.as_ptr(),
            libc::AT_FDCWD,
            target.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    })?;
    Ok(())
}

/// Moves the calling thread (a single-threaded child about to exec, or a
/// thread of its own) into a new mount namespace, with every mount private,
/// in which /proc/net is the symlink `link` (which should point to an absolute
/// directory path). Allocates nothing. Needs CAP_SYS_ADMIN.
pub fn show_as_proc_net(link: &CStr) -> io::Result<()> {
    unshare_private()?;
    mount_symlink_over(link, c"/proc/net")
}

/// Runs `f` on a new thread (in the caller's network namespace) whose mount
/// namespace shows `dir` as /proc/net. `link` is a path where a symlink to
/// `dir` may be created (it must not exist; it is removed afterwards).
/// Needs CAP_SYS_ADMIN.
pub fn with_proc_net<T: Send>(
    dir: &Path,
    link: &Path,
    f: impl FnOnce() -> T + Send,
) -> io::Result<T> {
    let link_c = cstr(link)?;
    std::os::unix::fs::symlink(dir, link)?;
    let result = std::thread::scope(|s| {
        s.spawn(|| -> io::Result<T> {
            show_as_proc_net(&link_c)?;
            Ok(f())
        })
        .join()
        .map_err(|_| io::Error::other("with_proc_net: the closure panicked"))?
    });
    let _ = std::fs::remove_file(link);
    result
}
