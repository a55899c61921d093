//! Which CPUs a thread may run on (sched_setaffinity(2)).

use std::io;

/// The calling thread's id, as sched_setaffinity and /proc/self/task name it.
pub fn gettid() -> i32 {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::gettid() }
}

/// Lets thread `tid` of this process (0: the calling thread) run only on
/// `cpus`. EINVAL for an empty set, a CPU past the kernel's set size, or a
/// set with no CPU the thread may use (offline, or outside its cgroup's).
pub fn set_thread_affinity(tid: i32, cpus: &[usize]) -> io::Result<()> {
    if cpus.is_empty() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: cpu_set_t is a plain bit array, valid when zeroed.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let bits = 8 * std::mem::size_of::<libc::cpu_set_t>();
    for &cpu in cpus {
        if cpu >= bits {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        // SAFETY: `cpu` is within the set, checked above.
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    // SAFETY: `set` is a live cpu_set_t and its size is passed with it.
    let r = unsafe { libc::sched_setaffinity(tid, std::mem::size_of_val(&set), &set) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The CPUs thread `tid` of this process (0: the calling thread) may run on.
pub fn thread_affinity(tid: i32) -> io::Result<Vec<usize>> {
    // SAFETY: cpu_set_t is a plain bit array, valid when zeroed.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a live cpu_set_t and its size is passed with it.
    let r = unsafe { libc::sched_getaffinity(tid, std::mem::size_of_val(&set), &mut set) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    let bits = 8 * std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: CPU_ISSET reads one bit of the live set; `cpu` is within it.
    Ok((0..bits)
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_is_pinned_and_unpinned() {
        std::thread::spawn(|| {
            let all = thread_affinity(0).unwrap();
            assert!(!all.is_empty());
            set_thread_affinity(0, &all[..1]).unwrap();
            assert_eq!(thread_affinity(gettid()).unwrap(), &all[..1]);
            set_thread_affinity(0, &all).unwrap();
            assert_eq!(thread_affinity(0).unwrap(), all);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn bad_sets_are_einval() {
        for cpus in [&[][..], &[1 << 20], &[1023]] {
            let e = set_thread_affinity(0, cpus).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{cpus:?}");
        }
    }
}
