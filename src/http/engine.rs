//! The one door from the HTTP face to what it shares with the text face:
//! the service layer below both faces (`service::shared`: the
//! configuration, accounts, digests, connection limits and back-offs;
//! `service::login::Login`: a user's tree, trash, staging, quota), the
//! engine's operations done as a text command does them, and the table
//! from engine errors to statuses (and to sentences for people).
//!
//! The engine itself (`storage`: its error type, the quota ledger, the
//! commit-and-replace primitive) is used directly. This face never
//! imports the text face (`server`). Nothing here decides a rule of the
//! product: it only forwards.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use crate::log;
use crate::service::backoff::Turn;
pub(crate) use crate::service::config::Cidr;
pub(crate) use crate::service::login::Login;
use crate::service::login::home_id;
/// `save`: a share (or an item in a shared folder) copied into a user's
/// tree, exactly as the text protocol's `save` does it.
pub(crate) use crate::service::saving::save;
pub(crate) use crate::service::shared::{Shared, Slot};
use crate::storage::content::Store;
pub(crate) use crate::storage::error::{Error, ErrorKind, Result};
use crate::storage::replace::Replace;
use crate::storage::staging::Limits;
use crate::storage::staging::{Place, Verified, commit_group};
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
/// quota (bytes and entries) with its ledger.
pub(crate) fn limits(shared: &Shared, login: &Login) -> Limits {
    let quota = login.quota(shared);
    Limits { max_file_size: shared.config.max_file_size, quota }
}

/// Copies `from` to `to` in `login`'s tree as `cp` does: hard links
/// built aside, booked against the quota, put in place through the
/// commit-and-replace primitive (a file replaced at `to` kept in the
/// trash).
pub(crate) fn copy(shared: &Shared, login: &Login, from: &UserPath, to: &UserPath) -> Result<()> {
    let (tree, staging) = (&login.tree, login.staging(shared));
    let replace = Replace::lock(&shared.data, &login.user)?;
    let plan = tree.plan_copy(from, to)?;
    tree.check_copy_length(to, &plan, &staging)?;
    let booking = login.quota(shared).map(|quota| quota.book(plan.booked(), &to.to_string())).transpose()?;
    let (trash, sums) = (login.trash(shared), &shared.sums);
    let built = tree.build_copy(from, &plan, &staging, sums)?;
    let settled = crate::storage::quota::within(booking.as_ref(), plan.placed(&built), || {
        replace.put((tree, &trash, sums), &built.path, to, built.md5)
    })?;
    if settled.freed() {
        login.usage_changed(shared);
    }
    Ok(())
}

/// Renames `from` to `to` (where nothing is: a destination is sent to
/// the trash first) under the user's replace lock.
pub(crate) fn rename(shared: &Shared, login: &Login, from: &UserPath, to: &UserPath) -> Result<()> {
    let _replace = Replace::lock(&shared.data, &login.user)?;
    login.tree.rename_with(from, to, || Ok(()))
}

/// Commits one verified upload of `login` at `path`, like a text
/// upload: under the user's replace lock, the replaced file to the trash,
/// the content into the store. Uploads of the same user verified at the
/// same time on other connections join it in one group commit
/// (`service::grouped`), sharing its syncs.
pub(crate) fn commit(shared: &Shared, login: &Login, verified: Verified, path: &UserPath) -> Result<PathBuf> {
    let lock = || Replace::lock(&shared.data, &login.user);
    shared.grouped.commit(&login.user, (verified, path.clone()), lock, |replace, items| {
        let (trash, store) = (login.trash(shared), Store::new(&shared.data, shared.config.dedup));
        let place =
            Place { user: &login.user, tree: &login.tree, sums: &shared.sums, trash: &trash, store: &store, replace };
        commit_group(items, &place)
    })
}

/// `rm` of `path`: to the trash (or gone, with no trash), under the
/// user's replace lock.
pub(crate) fn remove(shared: &Shared, login: &Login, path: &UserPath) -> Result<()> {
    let replace = Replace::lock(&shared.data, &login.user)?;
    login.trash(shared).remove(&login.tree, path, &shared.sums)?;
    drop(replace);
    if shared.config.trash_days == 0 {
        login.usage_changed(shared);
    }
    Ok(())
}

/// One line in the event log.
pub(crate) fn event(peer: SocketAddr, user: &str, action: &str, detail: &str, outcome: &str, bytes: u64) {
    log::event(Some(peer), user, action, detail, outcome, bytes);
}

/// A server-wide line in the log.
pub(crate) fn server_event(action: &str, outcome: &str) {
    log::server(action, outcome);
}

/// The turn of a password check from `client` (PROTOCOL.md 2.1
/// "Back-off across connections": one guess at a time per address, the
/// same back-off as the text face's logins); `Turn::failed` when wrong.
pub(crate) fn login_turn(shared: &Shared, client: IpAddr) -> Turn<'_> {
    shared.backoff.turn(client)
}

/// Whether `pass` is `user`'s password, as HTTP Basic asks on every
/// request: a credential verified lately against the user's current
/// record is not hashed again (`service::credentials`).
pub(crate) fn verify_basic(shared: &Shared, user: &str, pass: &crate::secret::Password) -> bool {
    shared.credentials.verify(&shared.users, user, pass)
}

/// The turn of a share-code lookup from `client`: the share-guess
/// back-off, kept apart from the login one (HTTP.md "Share links").
pub(crate) fn share_turn(shared: &Shared, client: IpAddr) -> Turn<'_> {
    shared.share_guesses.turn(client)
}

/// Whether the engine refuses writes until a restart (a failed sync
/// makes it read-only, PROTOCOL.md 2.1, `storage::health`): writes then
/// get `503`.
pub(crate) fn read_only(_shared: &Shared) -> bool {
    crate::storage::health::failing().is_some()
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

/// What a person is told about an engine failure. The engine's text
/// names the path first (`/a/b: exists already`); the sentence names
/// the item by its last name.
pub(crate) fn sentence(e: &Error) -> String {
    let text = e.to_string();
    let (path, why) = text.split_once(": ").unwrap_or(("", &text));
    let name = path.rsplit('/').next().filter(|n| !n.is_empty()).map_or("It".to_string(), |n| format!("“{n}”"));
    match e.kind() {
        ErrorKind::NotFound => {
            format!("{name} is not there any more (moved or deleted?). Reload to see the folder as it is now.")
        }
        ErrorKind::Exists => format!("{name} already exists here. Pick another name."),
        ErrorKind::BadName => format!("{name} cannot be used as a name: {why}."),
        ErrorKind::Quota => format!("Not enough space: {why}."),
        ErrorKind::DiskFull => "The server's disk is full. Try again later or ask its administrator.".to_string(),
        ErrorKind::Busy => format!("{name} is being written by another upload right now. Try again in a moment."),
        ErrorKind::Refused if why == "too many entries" => {
            "This folder has more entries than the server lists at once.".to_string()
        }
        ErrorKind::Server => "The server could not do it (its log says why). Try again later.".to_string(),
        _ => format!("{name}: {why}."),
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
