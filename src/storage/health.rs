//! Whether the storage may still be written: after a sync it relies on
//! fails (fsync, fdatasync, syncfs, a background write-back, the
//! directory sync after a rename), nothing the disk says can be trusted
//! any more, and the engine stays read-only until the process restarts
//! (protocol 2.1, "Failing storage").
//!
//! Every sync of the engine goes through `durable` (`fsync`,
//! `fdatasync`, `sync_dir`, `sync_fs`), which reports a failure here with
//! `sync_failed`; each face asks [`failing`] before any request that
//! would change something (the text face answers `451`, the HTTP face
//! `503`) and logs [`news`] once. Reads go on.
//!
//! The flag belongs to the process, not to a value: one process serves
//! one data directory, and "until restart" is the life of the process.
//! Nothing here ever clears it.

use std::io;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// What a request that would change something hears while failing.
pub const READ_ONLY: &str = "storage failing: read-only until restart";

/// The first failure's cause, once there was one.
static CAUSE: OnceLock<String> = OnceLock::new();
/// Whether the cause has been handed out for the log.
static TOLD: AtomicBool = AtomicBool::new(false);

/// A sync that failed: the error every sync of the engine returns then,
/// so that whatever the kernel said (EIO, ENOSPC, EDQUOT) the request
/// that needed the sync is a server failure (`451`), never a refusal the
/// client could act on as if nothing had been written.
#[derive(Debug)]
pub struct SyncFailed {
    what: &'static str,
    cause: io::Error,
}

impl std::fmt::Display for SyncFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} failed: {}", self.what, self.cause)
    }
}

impl std::error::Error for SyncFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.cause)
    }
}

/// Notes that the sync `what` (`"fsync"`, `"syncfs"`, `"write-back"`…)
/// failed with `cause`: from now on the storage is read-only. Returns the
/// error to pass on.
pub(crate) fn sync_failed(what: &'static str, cause: io::Error) -> io::Error {
    let failed = SyncFailed { what, cause };
    let _ = CAUSE.set(failed.to_string());
    io::Error::other(failed)
}

/// The cause, if the storage is read-only.
pub fn failing() -> Option<&'static str> {
    CAUSE.get().map(String::as_str)
}

/// The cause, the first time it is asked for after the storage started
/// failing (for the one log line that says why); `None` otherwise.
pub fn news() -> Option<&'static str> {
    let cause = failing()?;
    (!TOLD.swap(true, Ordering::Relaxed)).then_some(cause)
}
