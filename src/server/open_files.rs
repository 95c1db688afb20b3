//! The process's limit on open files, raised at start to what the system
//! allows: each session holds a socket, each upload its staged file, and a
//! session committing a pipelined group holds up to 256 staged files open
//! (`server::group`). The soft limit is often 1,024 while the hard limit
//! is far higher.

use std::io;

use crate::sys;

/// Raises the soft limit on open files to the hard one; returns the limit
/// in force afterwards.
pub(crate) fn raise() -> io::Result<u64> {
    let mut limit = sys::open_files_limit()?;
    if limit.cur < limit.max {
        limit.cur = limit.max;
        sys::set_open_files_limit(limit)?;
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
