//! `claim PATH SIZE MD5` (instant upload), the quota bookings that claims
//! and saves share with uploads, and wrong guesses (a wrong proof, an
//! unknown share code) counted like failed logins.
//!
//! A claim never shows content: the stored file is linked into the
//! claimer's staging area before the challenge, and at PATH only after a
//! right proof, committed exactly like an upload (replaced file to the
//! trash, rename, directory fsync before the `226`). A nonce or a proof is
//! never logged.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::{Flow, Input, Session, later};
use crate::digest::{Digest, EMPTY_MD5, Hasher, hash_range};
use crate::error::{Error, Result};
use crate::fs::{Tree, UserPath, sync_dir};
use crate::holders::{Ledger, Reservation};
use crate::log;
use crate::proto::body::{Challenge, MAX_RANGES};
use crate::proto::{Code, Reply};
use crate::storage::content::{Held, Store, random_hex};
use crate::storage::copies::same_inode;
use crate::transfer::staged_bytes_where;

/// Most bytes a challenge asks for, in all.
const MAX_PROOF_BYTES: u64 = 1 << 20;

/// Bytes booked against the quota by a claim or a save in progress;
/// given back when dropped.
pub(super) struct Booking {
    reservation: Reservation,
    limit: u64,
    size: u64,
}

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

impl Session<'_> {
    pub(super) fn claim(&mut self, text: &str, size: u64, md5: Digest) -> io::Result<Flow> {
        let ready = match self.prepare_claim(text, size, md5) {
            Ok(ready) => ready,
            Err(e) => {
                log::event(Some(self.peer), self.user(), "claim", text, e.outcome(), 0);
                return self.send(&e.reply()).map(|_| Flow::Go);
            }
        };
        if let Some(held) = &ready.held {
            let challenge = new_challenge(size).map_err(io::Error::other)?;
            let expected = proof(&held.file, &challenge)?;
            self.send(&Reply::new(Code::ProofNeeded, challenge.to_string()))?;
            match self.read_proof() {
                Ok(Some(answer)) if answer == expected => {}
                Ok(_) => {
                    drop(ready);
                    return self.refused_guess("claim", text, Reply::new(Code::Mismatch, "proof does not match"));
                }
                Err((reply, flow)) => {
                    log::event(Some(self.peer), self.user(), "claim", text, "no proof", 0);
                    return self.answer(reply, flow);
                }
            }
        }
        let path = ready.path.to_string();
        let result = self.commit_claim(ready).map(|_| Reply::new(Code::TransferDone, format!("{size} {md5}")));
        self.note("claim", &path, &result);
        self.send(&result.unwrap_or_else(|e| e.reply())).map(|_| Flow::Go)
    }

    /// The checks, in the contract's order: a directory at PATH, the size
    /// limit and the quota, then whether the content is held; the content
    /// is then linked into the staging area (so it cannot be collected
    /// during the challenge).
    fn prepare_claim(&self, text: &str, size: u64, md5: Digest) -> Result<Ready> {
        let (tree, path) = self.resolve(text)?;
        tree.file_target(&path)?;
        if size > self.shared.config.max_file_size {
            return Err(Error::Quota(format!("{path}: larger than the server's file-size limit")));
        }
        let booking = self.book(tree, size, &path)?;
        let not_held = || Error::NotFound("not held".into());
        let store = self.store();
        let staged = Staged(self.staging().join(format!("claim-{}.tmp", random_hex().map_err(io_local)?)));
        fs::create_dir_all(self.staging()).map_err(io_local)?;
        if size == 0 {
            if md5.to_string() != EMPTY_MD5 || store.mode() == crate::storage::content::Dedup::Off {
                return Err(not_held());
            }
            let file = fs::File::create(&staged.0).and_then(|f| f.sync_all().map(|_| f)).map_err(io_local)?;
            let meta = file.metadata().map_err(io_local)?;
            let _ = self.shared.sums.put(&meta, md5);
            return Ok(Ready { path, size, md5, staged, booking, held: None });
        }
        let held = store.find(self.user(), size, md5, &self.shared.sums).ok_or_else(not_held)?;
        match fs::hard_link(&held.path, &staged.0) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(not_held()),
            Err(e) => return Err(io_local(e)),
        }
        // The entry may have been replaced between the check and the link.
        let linked = fs::symlink_metadata(&staged.0).map_err(io_local)?;
        if !same_inode(&linked, &held.meta) {
            return Err(not_held());
        }
        Ok(Ready { path, size, md5, staged, booking, held: Some(held) })
    }

    /// Reads the one line that answers a challenge: its digest, `None` if
    /// it is not 32 hex digits, or what to reply when no line came.
    fn read_proof(&mut self) -> std::result::Result<Option<Digest>, (Option<Reply>, Flow)> {
        let deadline = later(std::time::Instant::now(), self.shared.config.stall_timeout);
        match self.read_line(deadline) {
            Input::Line(line) => Ok(Digest::from_hex(String::from_utf8_lossy(&line).trim())),
            Input::TooLong => Err((Some(Reply::new(Code::Syntax, "line too long")), Flow::Close)),
            Input::Timeout => Err((Some(Reply::new(Code::Closing, "stall timeout")), Flow::Close)),
            Input::Closed => Err((None, Flow::Close)),
        }
    }

    /// Puts the staged content at its path exactly like a committed upload.
    fn commit_claim(&self, ready: Ready) -> Result<()> {
        let (tree, _) = self.resolve(".")?;
        let what = ready.path.to_string();
        let io = |e| Error::io(&what, e);
        let target = tree.file_target(&ready.path)?;
        let sums = &self.shared.sums;
        let old = fs::symlink_metadata(&target).ok().filter(|m| m.is_file());
        let kept = self.within_booking(tree, ready.booking.as_ref(), || {
            let kept = self.trash().keep_replaced(tree, &ready.path, Some(ready.md5), sums)?;
            fs::rename(&ready.staged.0, &target).map_err(io)?;
            Ok(kept)
        })?;
        sync_dir(target.parent().unwrap_or(Path::new("/"))).map_err(io)?;
        let new = fs::symlink_metadata(&target).map_err(io)?;
        if let Some(old) = old.filter(|o| !kept && !same_inode(o, &new)) {
            sums.forget(&old);
        }
        if sums.get(&new) != Some(ready.md5) {
            let _ = sums.put(&new, ready.md5);
        }
        self.remember(&ready.path, ready.size, ready.md5);
        Ok(())
    }

    /// After a commit of `path` (upload or claim): the content goes into
    /// the store (best effort: a failure only costs a later claim).
    pub(super) fn remember(&self, path: &UserPath, size: u64, md5: Digest) {
        let Ok((tree, _)) = self.resolve(".") else { return };
        let Ok(real) = tree.checked(path) else { return };
        if size > 0 && self.store().add(self.user(), &real, size, md5, &self.shared.sums).is_err() {
            log::event(Some(self.peer), self.user(), "store", &path.to_string(), "not added", 0);
        }
    }

    pub(super) fn store(&self) -> Store {
        Store::new(&self.shared.config.data, self.shared.config.dedup)
    }

    /// Books `size` bytes against the user's quota (none without a quota),
    /// or refuses with `552`, like an upload's booking.
    pub(super) fn book(&self, tree: &Tree, size: u64, what: &UserPath) -> Result<Option<Booking>> {
        let Some(quota) = self.shared.quota_of(self.user()) else { return Ok(None) };
        let limit = quota.saturating_sub(self.trash().usage());
        let account = self.shared.reservations.account(self.user());
        let mut ledger = account.lock();
        if self.used_besides(tree, &ledger, None)?.saturating_add(size) > limit {
            return Err(Error::Quota(format!("{what}: would exceed the quota of {quota} bytes")));
        }
        let tag = self.staging().join(format!("book-{}", random_hex().map_err(io_local)?));
        let reservation = ledger.book(&account, &tag, size);
        Ok(Some(Booking { reservation, limit, size }))
    }

    /// Files, staged uploads nobody booked, and the other bookings.
    fn used_besides(&self, tree: &Tree, ledger: &Ledger, own: Option<&Reservation>) -> Result<u64> {
        let staged = staged_bytes_where(&self.staging(), |p| !ledger.covers(p));
        Ok(tree.usage()?.saturating_add(staged).saturating_add(ledger.booked_except(own)))
    }

    /// Runs `place` (which makes the booked bytes part of the tree) with the
    /// ledger locked, after checking again that the booking still fits;
    /// the booking is given back under the same lock.
    pub(super) fn within_booking<T>(
        &self,
        tree: &Tree,
        booking: Option<&Booking>,
        place: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        let Some(booking) = booking else { return place() };
        let mut ledger = booking.reservation.account().lock();
        let used = self.used_besides(tree, &ledger, Some(&booking.reservation))?;
        if used.saturating_add(booking.size) > booking.limit {
            return Err(Error::Quota(format!("would exceed the quota of {} bytes", booking.limit)));
        }
        let placed = place()?;
        ledger.release(&booking.reservation);
        Ok(placed)
    }

    /// A wrong guess (a wrong proof, an unknown share code): counted like a
    /// failed login, with the same back-off, then `reply`, or `421` and
    /// close after too many on this connection.
    pub(super) fn refused_guess(&mut self, action: &str, detail: &str, reply: Reply) -> io::Result<Flow> {
        self.failures += 1;
        std::thread::sleep(self.shared.login_failed(self.peer.ip()));
        log::event(Some(self.peer), self.user(), action, detail, reply.code.number(), 0);
        if self.failures >= self.shared.config.max_login_failures {
            log::event(Some(self.peer), self.user(), action, detail, 421, 0);
            return self.refuse_and_close(Reply::new(Code::Closing, "too many failed attempts"));
        }
        self.send(&reply).map(|_| Flow::Go)
    }
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
    Error::internal("claim", e)
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
