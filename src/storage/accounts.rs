//! What belongs to a user under `--data`, and removing an account with all
//! of it.
//!
//! [`user_dirs`] is the one list of per-user locations: a feature that
//! keeps something per user adds its directory there, and account removal
//! and `user list` follow. Removal is crash-safe: under the users file's
//! writers' lock each location is renamed to a hidden name in its parent
//! (`.deleted.NAME.HEX`; user names never start with `.`), then the
//! removal is recorded, and only then are the hidden trees deleted. A crash
//! leaves hidden trees that [`finish_deletions`] removes later; it never
//! leaves a live account with some of its files gone.

use std::fs::{self, Metadata};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::storage::digests::Sums;
use crate::storage::durable::remove_tree;
use crate::storage::error::{Error, Result};
use crate::storage::quota::staged_bytes;
use crate::storage::trash::Trash;
use crate::storage::tree::held_of;
use crate::storage::usage::Usage;
use crate::storage::users::Users;
use crate::storage::{DELETING, DataDir};

/// A hidden tree younger than this may still be put back by the removal
/// that hid it, if recording the removal failed.
const SETTLE: Duration = Duration::from_secs(60);

/// Every location under `data` that holds something of `user`.
pub(crate) fn user_dirs(data: &DataDir, user: &str) -> Vec<PathBuf> {
    data.per_user().iter().map(|top| top.join(user)).collect()
}

/// Bytes a user holds (files, trash and staged uploads), and their files
/// and directories (tree and trash, counted as `quota` counts them).
pub(crate) fn usage(data: &DataDir, user: &str) -> Usage {
    let (home, staging, trash) = (data.home(user), data.staging(user), data.trash(user));
    let bytes = bytes_under(&home) + staged_bytes(&staging) + bytes_under(&trash);
    let tree = held_of(&home).map_or(0, |held| held.entries);
    Usage::new(bytes, tree + Trash::new(data, user, 1).usage().entries)
}

/// Removes the account `user` and everything it holds under `data`.
pub(crate) fn delete_user(data: &DataDir, users: &Users, sums: &Sums, user: &str) -> Result<()> {
    let mut hidden = Vec::new();
    let removed = users.remove(user, || {
        hidden = hide(data, user)?;
        Ok(())
    });
    if let Err(e) = removed {
        for (was, now) in hidden {
            let _ = fs::rename(now, was);
        }
        return Err(e);
    }
    let mut failed = None;
    for (_, now) in hidden {
        if let Err(e) = remove_tree(&now, |m| sums.forget(m)) {
            failed = Some(Error::io(&format!("deleting {}", now.display()), e));
        }
    }
    failed.map_or(Ok(()), Err)
}

/// Renames each existing per-user location to a hidden name; returns the
/// (old, new) pairs. On failure, what was renamed is put back.
fn hide(data: &DataDir, user: &str) -> Result<Vec<(PathBuf, PathBuf)>> {
    let mut done = Vec::new();
    for dir in user_dirs(data, user) {
        let hidden = match hidden_name(&dir, user).and_then(|h| fs::rename(&dir, &h).map(|_| h)) {
            Ok(hidden) => hidden,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => {
                for (was, now) in done {
                    let _ = fs::rename(now, was);
                }
                return Err(Error::io(&dir.display().to_string(), e));
            }
        };
        done.push((dir, hidden));
    }
    Ok(done)
}

fn hidden_name(dir: &Path, user: &str) -> io::Result<PathBuf> {
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(io::Error::other)?;
    Ok(dir.with_file_name(format!("{DELETING}{user}.{}", hex::encode(suffix))))
}

/// Deletes what removals interrupted by a crash left hidden; returns how
/// many trees went. Safe while another process deletes the same trees;
/// trees hidden less than [`SETTLE`] ago are left to the removal that hid
/// them (it may still put them back).
pub(crate) fn finish_deletions(data: &DataDir, sums: &Sums) -> usize {
    let mut done = 0;
    for top in data.per_user() {
        for item in fs::read_dir(top).into_iter().flatten().flatten() {
            let settled = item.metadata().is_ok_and(|m| changed_before(&m, SETTLE));
            if settled && item.file_name().to_string_lossy().starts_with(DELETING) {
                let _ = remove_tree(&item.path(), |m| sums.forget(m));
                done += 1;
            }
        }
    }
    done
}

/// Bytes of the regular files under `top`, walked with a stack of its
/// own, never following links.
fn bytes_under(top: &Path) -> u64 {
    let mut total = 0;
    let mut dirs = vec![top.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for item in fs::read_dir(&dir).into_iter().flatten().flatten() {
            match item.metadata() {
                Ok(m) if m.is_dir() => dirs.push(item.path()),
                Ok(m) => total += file_bytes(&m),
                Err(_) => {}
            }
        }
    }
    total
}

/// Whether the inode last changed (a rename counts) more than `age` ago.
fn changed_before(meta: &Metadata, age: Duration) -> bool {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    now.saturating_sub(u64::try_from(meta.ctime()).unwrap_or(0)) > age.as_secs()
}

fn file_bytes(meta: &Metadata) -> u64 {
    if meta.is_file() { meta.len() } else { 0 }
}
