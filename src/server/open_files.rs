//! The process's limit on open files, raised at start to what the system
//! allows: each session holds a socket, each upload its staged file, and a
//! session committing a pipelined group holds up to 256 staged files open
//! (`server::group`). The soft limit is often 1,024 while the hard limit
//! is far higher.

use std::io;

/// `struct rlimit` of Linux: the soft and the hard limit.
#[repr(C)]
struct Rlimit {
    cur: u64,
    max: u64,
}

/// `RLIMIT_NOFILE` on Linux.
const RLIMIT_NOFILE: i32 = 7;

unsafe extern "C" {
    fn getrlimit(resource: i32, limit: *mut Rlimit) -> i32;
    fn setrlimit(resource: i32, limit: *const Rlimit) -> i32;
}

/// Raises the soft limit on open files to the hard one; returns the limit
/// in force afterwards.
pub(crate) fn raise() -> io::Result<u64> {
    let mut limit = Rlimit { cur: 0, max: 0 };
    // SAFETY: `limit` is a valid, writable `struct rlimit` for the call.
    if unsafe { getrlimit(RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if limit.cur < limit.max {
        let raised = Rlimit { cur: limit.max, max: limit.max };
        // SAFETY: `raised` is a valid `struct rlimit` that outlives the call.
        if unsafe { setrlimit(RLIMIT_NOFILE, &raised) } != 0 {
            return Err(io::Error::last_os_error());
        }
        limit.cur = limit.max;
    }
    Ok(limit.cur)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_soft_limit_ends_at_the_hard_one() {
        let now = super::raise().expect("getrlimit");
        assert!(now >= 1, "{now}");
        assert_eq!(super::raise().expect("again"), now, "raising twice changes nothing");
    }
}
