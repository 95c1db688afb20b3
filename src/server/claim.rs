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
use std::time::{Instant, SystemTime};

use crate::digest::{Digest, EMPTY_MD5, Hasher, hash_range};
use crate::proto::body::{Challenge, MAX_RANGES, Stored};
use crate::proto::{Code, Reply};
use crate::server::conn::{Input, later};
use crate::server::error::Replied;
use crate::server::error::{Error, ErrorKind, Result};
use crate::server::handler::{Cx, Handled, Outcome};
use crate::server::quota::book;
use crate::service::backoff::Turn;
use crate::service::login::Login;
use crate::storage::content::{Dedup, Held, Store, random_hex};
use crate::storage::durable::fsync;
use crate::storage::links::same_inode;
use crate::storage::links::{copy_from, too_many_links};
use crate::storage::mtime::fresh_times;
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
        let sent = cx.wire.send(&Reply::new(Code::ProofNeeded, challenge.to_string()));
        let answer = if sent.is_ok() { read_proof(cx) } else { Proof::Gone };
        let turn = cx.turn();
        if answer == Proof::Digest(expected) {
            drop(turn);
        } else {
            drop(ready);
            return Ok(wrong_proof(cx, turn, login, text, answer));
        }
    }
    let path = ready.path.to_string();
    // The claimed file is the claimer's own, created now (see `storage::mtime`).
    if let Err(e) = fresh_times(&ready.staged.0, &cx.shared.sums, SystemTime::now()) {
        let e = Error::server("claim", e);
        cx.log(&login.user, "claim", &path, e.outcome(), 0);
        return Ok(e.reply().into());
    }
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

/// What came after a `350`.
#[derive(PartialEq)]
enum Proof {
    /// A line of 32 hex digits (blanks around them are dropped).
    Digest(Digest),
    /// Any other line (or one too long): what follows may be a payload.
    NotHex,
    /// No line within the stall timeout.
    Stalled,
    /// The connection closed.
    Gone,
}

/// Reads the one line that answers a challenge, within the stall timeout.
fn read_proof(cx: &mut Cx) -> Proof {
    let deadline = later(Instant::now(), cx.shared.config.stall_timeout);
    match cx.wire.read_line(deadline) {
        Input::Line(line) => std::str::from_utf8(&line)
            .ok()
            .and_then(|l| Digest::from_hex(l.trim()))
            .map_or(Proof::NotHex, Proof::Digest),
        Input::TooLong => Proof::NotHex,
        Input::Timeout => Proof::Stalled,
        Input::Closed => Proof::Gone,
    }
}

/// Everything but the right proof is a failed proof, with the address's
/// back-off (its turn held): a wrong digest is `554` and the session goes
/// on; a line that is not a digest is `554` then `421` and close (it may
/// be the start of a payload); no line at all (a stall, or a connection
/// closed after the `350`: an abandoned challenge) closes.
fn wrong_proof(cx: &mut Cx, turn: Turn<'_>, login: &Login, text: &str, answer: Proof) -> Outcome {
    let mismatch = || Reply::new(Code::Mismatch, "proof does not match");
    let detail = login.shown(text);
    match answer {
        Proof::Digest(_) => cx.wrong_guess(turn, &login.user, "claim", &detail, mismatch()),
        Proof::NotHex => {
            cx.wrong_guess(turn, &login.user, "claim", &detail, mismatch());
            if cx.wire.send(&mismatch()).is_err() {
                return Outcome::Close;
            }
            Outcome::Refuse(Reply::new(Code::Closing, "a proof is one line of 32 hex digits; closing"))
        }
        Proof::Stalled => {
            cx.wrong_guess(turn, &login.user, "claim", &format!("{detail} no proof"), mismatch());
            Outcome::Refuse(Reply::new(Code::Closing, "stall timeout"))
        }
        Proof::Gone => {
            cx.wrong_guess(turn, &login.user, "claim", &format!("{detail} no proof"), mismatch());
            Outcome::Close
        }
    }
}

/// Puts the staged content at its path through the commit primitive,
/// under the user's replace lock, within the booking. The staged inode is
/// the store's (its digest recorded when it was verified) or a new empty
/// or copied file whose digest was recorded from its handle: nothing here
/// looks the path up again.
fn commit(cx: &Cx, login: &Login, ready: Ready) -> Result<()> {
    // The marker links the staged inode, the claimer's own (see
    // `storage::mtime`); should the commit fail, it names nothing they
    // hold and counts for nothing.
    if ready.size > 0 && store(cx).mark(&login.user, ready.size, ready.md5, &ready.staged.0).is_err() {
        cx.log(&login.user, "store", &ready.path.to_string(), "not marked", 0);
    }
    let replace = Replace::lock(&cx.shared.data, &login.user)?;
    let trash = login.trash(cx.shared);
    let at = (&login.tree, &trash, &cx.shared.sums);
    let settled = within(ready.booking.as_ref(), claimed(ready.size), || {
        replace.put(at, &ready.staged.0, &ready.path, Some(ready.md5))
    })?;
    if settled.freed() {
        login.usage_changed(cx.shared);
    }
    Ok(())
}

fn store(cx: &Cx) -> Store {
    Store::new(&cx.shared.data, cx.shared.config.dedup)
}

/// A fresh challenge for a file of `size` (> 0) bytes: a random nonce
/// and ranges inside the file, at most [`MAX_PROOF_BYTES`] in all. A file
/// of up to that size is proven whole (`0:SIZE`); a larger one by 2 to
/// [`MAX_RANGES`] ranges, the first starting at 0, the last ending at
/// SIZE (the ends of a file are where a secret most often sits: a header,
/// a trailer), the others at random.
fn new_challenge(size: u64) -> std::result::Result<Challenge, getrandom::Error> {
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce)?;
    if size <= MAX_PROOF_BYTES {
        return Ok(Challenge { nonce: hex::encode(nonce), ranges: vec![(0, size)] });
    }
    let mut random = [0u8; 8 * (1 + 2 * MAX_RANGES)];
    getrandom::fill(&mut random)?;
    let mut words = random.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])));
    let mut next = move || words.next().unwrap_or(0);
    let count = 2 + next() % (MAX_RANGES as u64 - 1);
    let each = MAX_PROOF_BYTES / count;
    let (first, last) = (1 + next() % each, 1 + next() % each);
    let mut ranges = vec![(0, first)];
    for _ in 2..count {
        let n = 1 + next() % each;
        ranges.push((next() % (size - n + 1), n));
    }
    ranges.push((size - last, last));
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
        for size in [1, 2, 3, 5, 1000, 1 << 20, (1 << 20) + 1, 3 << 20, 1 << 40] {
            for _ in 0..50 {
                let c = new_challenge(size).unwrap();
                assert!((1..=MAX_RANGES).contains(&c.ranges.len()));
                assert_eq!(c.nonce.len(), 32);
                assert!(c.ranges.iter().all(|(o, l)| *l >= 1 && o + l <= size), "{size} {c}");
                assert!(c.ranges.iter().map(|(_, l)| l).sum::<u64>() <= MAX_PROOF_BYTES);
                if size <= MAX_PROOF_BYTES {
                    assert_eq!(c.ranges, [(0, size)], "proven whole");
                } else {
                    assert!(c.ranges.len() >= 2 && c.ranges[0].0 == 0, "{c}");
                    assert!(c.ranges.iter().any(|(o, l)| o + l == size), "{c}");
                }
            }
        }
    }
}
