//! The one door from the HTTP face to the state it shares with the text
//! face: the shared server state, a user's account as the engine sees
//! it, the event log, and the table from engine errors to statuses.
//!
//! Today that state lives in `server` (`Shared`, the quota ledger, the
//! error type, the log); the engine branch moves it under `storage`.
//! Every HTTP module reaches it through here only, so after that merge
//! this file is the one to re-point. Nothing here decides a rule of the
//! product: it only forwards.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use crate::digest::Digest;
pub(crate) use crate::server::error::{Error, ErrorKind, Result};
pub(crate) use crate::server::handler::Login;
use crate::server::handler::home_id;
use crate::server::log;
pub(crate) use crate::server::shared::{Shared, Slot};
use crate::storage::content::Store;
use crate::storage::staging::Limits;
use crate::storage::tree::{Tree, UserPath};

/// The logged-in view of `user` (their tree, trash, staging, quota),
/// making their home if this is their first request, as a text login
/// does.
pub(crate) fn login(shared: &Shared, user: &str) -> Result<Login> {
    let home = shared.home(user);
    let made = std::fs::create_dir_all(&home).and_then(|_| std::fs::symlink_metadata(&home));
    let meta = made.map_err(|e| Error::io("home directory", e))?;
    Ok(Login::new(user, Tree::new(home), UserPath::root(), home_id(&meta)))
}

/// The limits of one upload by `login`: the file-size limit and their
/// quota with its ledger.
pub(crate) fn limits(shared: &Shared, login: &Login) -> Limits {
    let quota = shared.quota_of(&login.user).map(|limit| login.quota(shared, limit));
    Limits { max_file_size: shared.config.max_file_size, quota }
}

/// After a commit of `size` bytes with `md5` at `real` by `user`: the
/// content goes into the store for `claim` (best effort, as after a text
/// upload).
pub(crate) fn committed(shared: &Shared, user: &str, real: &Path, size: u64, md5: Digest) {
    let store = Store::new(&shared.data, shared.config.dedup);
    if size > 0 && store.add(user, real, size, md5, &shared.sums).is_err() {
        log::server("store", "a committed file was not added");
    }
}

/// One line in the event log.
pub(crate) fn event(peer: SocketAddr, user: &str, action: &str, detail: &str, outcome: &str, bytes: u64) {
    log::event(Some(peer), user, action, detail, outcome, bytes);
}

/// A server-wide line in the log.
pub(crate) fn server_event(action: &str, outcome: &str) {
    log::server(action, outcome);
}

/// A failed password check from `client`: the login back-off to wait.
pub(crate) fn login_failed(shared: &Shared, client: IpAddr) -> Duration {
    shared.login_failed(client)
}

/// A share code that does not exist, from `client`: the share-guess
/// back-off to wait (kept apart from the login back-off).
pub(crate) fn share_guess_failed(shared: &Shared, client: IpAddr) -> Duration {
    shared.share_guess_failed(client)
}

/// Whether the engine refuses writes until a restart (a failed sync
/// makes it read-only, PROTOCOL.md 2.1): writes then get `503`. The
/// engine has no such flag yet; this is the hook to wire it to.
pub(crate) fn read_only(_shared: &Shared) -> bool {
    false
}

/// The status an engine failure gets: the one table of HTTP.md
/// "Requests and limits".
pub(crate) fn status_of(e: &Error) -> u16 {
    match e.kind() {
        ErrorKind::NotFound => 404,
        // The engine tells "too many entries" (`--max-list`) by its text.
        ErrorKind::Refused if e.to_string().ends_with("too many entries") => 403,
        ErrorKind::Exists | ErrorKind::Refused => 409,
        ErrorKind::BadName | ErrorKind::BadArgs | ErrorKind::Mismatch => 400,
        ErrorKind::NotLoggedIn => 401,
        ErrorKind::Busy => 423,
        ErrorKind::Quota | ErrorKind::DiskFull => 507,
        ErrorKind::Server => 500,
    }
}

/// What the log says about an engine failure (its cause, for `500`).
pub(crate) fn cause_of(e: &Error) -> String {
    e.detail()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_map_to_the_statuses_of_the_table() {
        let io = |k| Error::io("/a", std::io::Error::from(k));
        use std::io::ErrorKind as Io;
        let cases = [
            (io(Io::NotFound), 404),
            (io(Io::AlreadyExists), 409),
            (io(Io::DirectoryNotEmpty), 409),
            (io(Io::InvalidFilename), 400),
            (io(Io::StorageFull), 507),
            (io(Io::QuotaExceeded), 507),
            (io(Io::Other), 500),
            (Error::new(ErrorKind::Refused, "too many entries"), 403),
            (Error::new(ErrorKind::Busy, "later"), 423),
            (Error::new(ErrorKind::Quota, "x"), 507),
        ];
        for (e, status) in cases {
            assert_eq!(status_of(&e), status, "{e}");
        }
    }
}
