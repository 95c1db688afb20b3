//! `claim PATH SIZE MD5` (instant upload). A wrong proof is counted like
//! a failed login (`Cx::wrong_guess`).
//!
//! A claim never shows content: the stored file is linked into the
//! claimer's staging area before the challenge (copied, when its inode is
//! at the link limit), and at PATH only after a right proof, through the
//! engine's commit primitive like an upload (`storage::replace`: replaced
//! file to the trash, rename, directory fsync before the `226`). A nonce
//! or a proof is never logged.

use std::fs;
use std::io;
use std::path::PathBuf;
use std::time::Instant;

use crate::digest::{Digest, EMPTY_MD5, Hasher, hash_range};
use crate::proto::body::{Challenge, MAX_RANGES, Stored};
use crate::proto::{Code, Reply};
use crate::server::conn::{Input, later};
use crate::server::error::Replied;
use crate::server::error::{Error, ErrorKind, Result};
use crate::server::handler::{Cx, Handled, Login, Outcome};
use crate::server::quota::book;
use crate::storage::content::{Dedup, Held, Store, random_hex};
use crate::storage::durable::fsync;
use crate::storage::links::same_inode;
use crate::storage::links::{copy_from, too_many_links};
use crate::storage::quota::{Booking, within};
use crate::storage::replace::Replace;
use crate::storage::tree::UserPath;
use crate::storage::usage::Usage;

/// Most bytes a challenge asks for, in all.
const MAX_PROOF_BYTES: u64 = 1 << 20;

/// A link to the claimed content in the claimer's staging area; removed
/// when dropped unless it was renamed into place.
struct Staged(PathBuf);

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// A claim that passed its checks: where, what, and the content staged.
struct Ready {
    path: UserPath,
    size: u64,
    md5: Digest,
    staged: Staged,
    booking: Option<Booking>,
    /// The stored content to prove (none for an empty file).
    held: Option<Held>,
}

/// `claim PATH SIZE MD5`: the checks, the challenge (unless the file is
/// empty), then the commit.
pub(crate) fn claim(cx: &mut Cx, login: &Login, text: &str, size: u64, md5: Digest) -> Handled {
    let ready = match prepare(cx, login, text, size, md5) {
        Ok(ready) => ready,
        Err(e) => {
            cx.log(&login.user, "claim", &login.shown(text), e.outcome(), 0);
            return Ok(e.reply().into());
        }
    };
    if let Some(held) = &ready.held {
        let challenge = new_challenge(size).map_err(|e| Error::server("claim", io::Error::other(e)))?;
        let expected = proof(&held.file, &challenge).map_err(|e| Error::server("claim", e))?;
        if cx.wire.send(&Reply::new(Code::ProofNeeded, challenge.to_string())).is_err() {
            return Ok(Outcome::Close);
        }
        match read_proof(cx) {
            Ok(Some(answer)) if answer == expected => {}
            Ok(_) => {
                drop(ready);
                let wrong = Reply::new(Code::Mismatch, "proof does not match");
                return Ok(cx.wrong_guess(&login.user, "claim", text, wrong));
            }
            Err(outcome) => {
                cx.log(&login.user, "claim", &login.shown(text), "no proof", 0);
                return Ok(outcome);
            }
        }
    }
    let path = ready.path.to_string();
    let result = commit(cx, login, ready).map(|_| Reply::new(Code::TransferDone, Stored { size, md5 }.to_string()));
    cx.note(&login.user, "claim", &path, &result);
    Ok(result?.into())
}

/// The checks, in the contract's order: a directory at PATH, the size
/// limit and the quota, then whether the content is held; the content
/// is then linked into the staging area (so it cannot be collected
/// during the challenge).
fn prepare(cx: &Cx, login: &Login, text: &str, size: u64, md5: Digest) -> Result<Ready> {
    let (tree, path) = login.resolve(text)?;
    tree.file_target(&path)?;
    if size > cx.shared.config.max_file_size {
        return Err(Error::new(ErrorKind::Quota, format!("{path}: larger than the server's file-size limit")));
    }
    let booking = book(cx, login, claimed(size), &path)?;
    let staging = login.staging(cx.shared);
    let staged = Staged(staging.join(format!("claim-{}.tmp", random_hex().map_err(io_local)?)));
    fs::create_dir_all(&staging).map_err(io_local)?;
    if size == 0 {
        if md5.to_string() != EMPTY_MD5 || store(cx).mode() == Dedup::Off {
            return Err(not_held());
        }
        let file = fs::File::create(&staged.0).and_then(|f| fsync(&f).map(|_| f)).map_err(io_local)?;
        let meta = file.metadata().map_err(io_local)?;
        let _ = cx.shared.sums.put(&meta, md5);
        return Ok(Ready { path, size, md5, staged, booking, held: None });
    }
    let held = store(cx).find(&login.user, size, md5, &cx.shared.sums).ok_or_else(not_held)?;
    match fs::hard_link(&held.path, &staged.0) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(not_held()),
        // Other users' links filled the inode: a copy of its bytes, which
        // becomes the store's entry.
        Err(e) if too_many_links(&e) => {
            let copy = copy_from(&held.file, &staged.0, &cx.shared.sums).map_err(io_local)?;
            store(cx).refresh(&held.meta, &staged.0, &copy, size, md5);
            return Ok(Ready { path, size, md5, staged, booking, held: Some(held) });
        }
        Err(e) => return Err(io_local(e)),
    }
    // The entry may have been replaced between the check and the link.
    let linked = fs::symlink_metadata(&staged.0).map_err(io_local)?;
    if !same_inode(&linked, &held.meta) {
        return Err(not_held());
    }
    Ok(Ready { path, size, md5, staged, booking, held: Some(held) })
}

/// What a claim of `size` bytes books: its bytes and one entry (the file,
/// or the trash entry of the file it replaces), like an upload.
fn claimed(size: u64) -> Usage {
    Usage::new(size, 1)
}

fn not_held() -> Error {
    Error::new(ErrorKind::NotFound, "not held")
}

/// Reads the one line that answers a challenge, within the stall timeout:
/// its digest, `None` if it is not 32 hex digits, or what the session does
/// when no line came.
fn read_proof(cx: &mut Cx) -> std::result::Result<Option<Digest>, Outcome> {
    let deadline = later(Instant::now(), cx.shared.config.stall_timeout);
    match cx.wire.read_line(deadline) {
        Input::Line(line) => Ok(Digest::from_hex(String::from_utf8_lossy(&line).trim())),
        Input::TooLong => Err(Outcome::Refuse(Reply::new(Code::Syntax, "line too long"))),
        Input::Timeout => Err(Outcome::Refuse(Reply::new(Code::Closing, "stall timeout"))),
        Input::Closed => Err(Outcome::Close),
    }
}

/// Puts the staged content at its path through the commit primitive,
/// under the user's replace lock, within the booking. The staged inode is
/// the store's (its digest recorded when it was verified) or a new empty
/// or copied file whose digest was recorded from its handle: nothing here
/// looks the path up again.
fn commit(cx: &Cx, login: &Login, ready: Ready) -> Result<()> {
    let replace = Replace::lock(&cx.shared.data, &login.user)?;
    let trash = login.trash(cx.shared);
    let at = (&login.tree, &trash, &cx.shared.sums);
    let settled = within(ready.booking.as_ref(), claimed(ready.size), || {
        replace.put(at, &ready.staged.0, &ready.path, Some(ready.md5))
    })?;
    if settled.freed() {
        login.usage_changed(cx.shared);
    }
    if ready.size > 0 && store(cx).mark(&login.user, ready.size, ready.md5).is_err() {
        cx.log(&login.user, "store", &ready.path.to_string(), "not marked", 0);
    }
    Ok(())
}

fn store(cx: &Cx) -> Store {
    Store::new(&cx.shared.data, cx.shared.config.dedup)
}

/// A fresh challenge for a file of `size` (> 0) bytes: a random nonce and
/// 1 to [`MAX_RANGES`] random ranges inside the file, at most
/// [`MAX_PROOF_BYTES`] in all.
fn new_challenge(size: u64) -> std::result::Result<Challenge, getrandom::Error> {
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce)?;
    let mut random = [0u8; 8 * (1 + 2 * MAX_RANGES)];
    getrandom::fill(&mut random)?;
    let mut words = random.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])));
    let mut next = move || words.next().unwrap_or(0);
    let count = 1 + next() % MAX_RANGES as u64;
    let each = (size.min(MAX_PROOF_BYTES) / count).max(1);
    let ranges = (0..count)
        .map(|_| {
            let len = 1 + next() % each;
            (next() % (size - len + 1), len)
        })
        .collect();
    Ok(Challenge { nonce: hex::encode(nonce), ranges })
}

/// The right answer: MD5 of the nonce's characters, then each range.
fn proof(file: &fs::File, challenge: &Challenge) -> io::Result<Digest> {
    let mut hasher = Hasher::new();
    hasher.update(challenge.nonce.as_bytes());
    for (offset, len) in &challenge.ranges {
        hash_range(file, *offset, *len, &mut hasher)?;
    }
    Ok(hasher.peek())
}

/// A failure in the server's own files (staging, store).
fn io_local(e: io::Error) -> Error {
    Error::server("claim", e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_stay_inside_the_file_and_the_budget() {
        for size in [1, 2, 3, 5, 1000, 1 << 20, (1 << 20) + 1, 1 << 40] {
            for _ in 0..50 {
                let c = new_challenge(size).unwrap();
                assert!((1..=MAX_RANGES).contains(&c.ranges.len()));
                assert_eq!(c.nonce.len(), 32);
                assert!(c.ranges.iter().all(|(o, l)| *l >= 1 && o + l <= size), "{size} {c}");
                assert!(c.ranges.iter().map(|(_, l)| l).sum::<u64>() <= MAX_PROOF_BYTES);
            }
        }
    }
}
