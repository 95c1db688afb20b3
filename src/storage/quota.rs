//! Quota bookings: the one ledger of what each user's requests in
//! progress have booked against their quota, in this process, and the
//! check that decides whether more bytes and entries fit.
//!
//! Bytes and entries (files and directories, protocol 2.1 "Entries
//! count") are booked and checked together, as one [`Usage`], under the
//! same locks: every request that creates entries (an upload, `claim`,
//! `cp`, `save`, `makedir(s)`, the parents `restore` makes) books them
//! here, so no face can create one unbooked.
//!
//! An upload books its whole announced size when it is accepted and gives
//! it back when it commits, fails or its session ends; requests that
//! place bytes without a payload (`claim`, `cp`, `save`) book through
//! [`Quota::book`] and place under [`Booking::place`], measured. A user's
//! quota checks and commits take that user's [`Ledger`] lock, so two of
//! them never decide on the same state; the figure of what the user holds
//! is `storage::usage`'s, shared by every process. Uploads of other
//! processes are not booked here; the check at commit keeps committed
//! files within the quota. Staged bytes that no booking covers count too.
//!
//! Lock order: the user's replace lock (`storage::replace`), then the
//! ledger, then the usage record.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::storage::content::random_hex;
use crate::storage::error::{Error, ErrorKind, Result};
use crate::storage::usage::{CountFn, Counted, Limits, Over, Usage, UsageFile};

/// A user's quota (bytes and entries), the ledger of their uploads in
/// progress, and the figure of what they hold (see `storage::usage`).
pub(crate) struct Quota {
    pub(crate) limits: Limits,
    /// Where the user's uploads and copies are staged.
    pub(crate) staging: PathBuf,
    pub(crate) account: Account,
    pub(crate) usage: UsageFile,
    pub(crate) count: CountFn,
}

impl Quota {
    /// Checks, with `ledger` locked, that `more` fits beside what the user
    /// holds and `besides` (staged bytes nobody booked, other bookings);
    /// returns the locked figure, to add what gets placed. `what` names
    /// the request in the refusal.
    pub(crate) fn check(&self, ledger: &mut Ledger, more: Usage, besides: Usage, what: &str) -> Result<Counted> {
        let mut counted = self.usage.lock(ledger.counted_at)?;
        let over = counted.fits(more, besides, self.limits, &*self.count);
        ledger.counted_at = counted.last();
        let detail = match over? {
            None => return Ok(counted),
            Some(Over::Bytes(limit)) => format!("would exceed the quota of {limit} bytes"),
            Some(Over::Entries(limit)) => format!("would exceed the limit of {limit} files and directories"),
        };
        Err(Error::new(ErrorKind::Quota, format!("{what}: {detail}")))
    }

    /// What the user's ledger has booked and nobody's booking covers in
    /// `staging`, besides `except`.
    fn besides(ledger: &Ledger, staging: &Path, except: Option<&Reservation>) -> Usage {
        let unbooked = staged_bytes_where(staging, |p| !ledger.covers(p));
        ledger.booked_except(except).plus(Usage::new(unbooked, 0))
    }
}

/// Bytes and entries booked against the quota by a claim, a copy, a save
/// or a `makedir` in progress; given back when dropped.
pub(crate) struct Booking {
    reservation: Reservation,
    quota: Quota,
}

impl Quota {
    /// Books `size` (bytes and entries) for a request that places them
    /// without a payload; or refuses with [`ErrorKind::Quota`], like an
    /// upload's booking.
    pub(crate) fn book(self, size: Usage, what: &str) -> Result<Booking> {
        let account = self.account.clone();
        let mut ledger = account.lock();
        let besides = Quota::besides(&ledger, &self.staging, None);
        self.check(&mut ledger, size, besides, what)?;
        let tag = self.staging.join(format!("book-{}", random_hex().map_err(|e| Error::server("staging", e))?));
        let reservation = ledger.book(&account, &tag, size);
        Ok(Booking { reservation, quota: self })
    }
}

impl Booking {
    /// Runs `place` (which makes `size` part of the tree: what is placed,
    /// measured, which may differ from what was booked) with the ledger
    /// locked, after checking that it fits; the booking is given back, and
    /// what `place` says it placed (`Usage` in its result, at most `size`)
    /// added to the user's figure, under the same lock.
    pub(crate) fn place_measured<T>(
        &self,
        size: Usage,
        what: &str,
        place: impl FnOnce() -> Result<(T, Usage)>,
    ) -> Result<T> {
        let mut ledger = self.reservation.account().lock();
        let besides = Quota::besides(&ledger, &self.quota.staging, Some(&self.reservation));
        let mut counted = self.quota.check(&mut ledger, size, besides, what)?;
        let (placed, added) = place()?;
        ledger.release(&self.reservation);
        if counted.changed(added, Usage::default()).is_err() {
            // Counted again at the next decision rather than trusted low.
            ledger.counted_at = None;
        }
        Ok(placed)
    }

    /// [`Booking::place_measured`] for a `place` that places all of `size`.
    pub(crate) fn place<T>(&self, size: Usage, place: impl FnOnce() -> Result<T>) -> Result<T> {
        self.place_measured(size, "the copy", || Ok((place()?, size)))
    }
}

/// Runs `place` within `booking` (see [`Booking::place`]), or as it is
/// without a quota.
pub(crate) fn within<T>(booking: Option<&Booking>, size: Usage, place: impl FnOnce() -> Result<T>) -> Result<T> {
    match booking {
        Some(booking) => booking.place(size, place),
        None => place(),
    }
}

/// Books `size` against `quota` (if any) and runs `place` within it at
/// once: for requests that decide and create in one step (`makedir`,
/// `makedirs`, the parents of `restore`). `place` returns what it made,
/// which is what is added to the figure. A request that needs nothing is
/// not checked (a user above a lowered limit may still `makedirs` a path
/// that exists).
pub(crate) fn at_once<T>(
    quota: Option<Quota>,
    size: Usage,
    what: &str,
    place: impl FnOnce() -> Result<(T, Usage)>,
) -> Result<T> {
    match quota {
        Some(quota) if size != Usage::default() => quota.book(size, what)?.place_measured(size, what, place),
        _ => place().map(|(placed, _)| placed),
    }
}

/// Bytes held in a user's staged uploads (`.part` files only).
pub(crate) fn staged_bytes(staging: &Path) -> u64 {
    staged_bytes_where(staging, |_| true)
}

/// Bytes held in the user's staged files `.part` that `count` selects.
pub(crate) fn staged_bytes_where(staging: &Path, count: impl Fn(&Path) -> bool) -> u64 {
    let Ok(items) = fs::read_dir(staging) else { return 0 };
    let parts = items.flatten().map(|i| i.path()).filter(|p| p.extension().is_some_and(|e| e == "part") && count(p));
    parts.filter_map(|p| fs::symlink_metadata(p).ok()).map(|m| m.len()).sum()
}

/// Bytes booked by the uploads in progress of each user of this process.
#[derive(Default)]
pub struct Reservations {
    users: Mutex<HashMap<String, Account>>,
}

impl Reservations {
    /// The ledger of `user` (one per user who uploaded since the start).
    pub(crate) fn account(&self, user: &str) -> Account {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users.entry(user.to_string()).or_default().clone()
    }
}

/// A handle on one user's [`Ledger`].
#[derive(Clone, Default)]
pub(crate) struct Account(Arc<Mutex<Ledger>>);

impl Account {
    /// Locks the ledger: quota decisions and commits of this user wait.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Ledger> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One user's uploads in progress: the staged file of each and its
/// announced size.
#[derive(Default)]
pub(crate) struct Ledger {
    next: u64,
    booked: HashMap<u64, (PathBuf, Usage)>,
    /// How many bookings name each staged file: [`Ledger::covers`] is asked
    /// for every staged file at every decision, so it must not scan the
    /// bookings (a group of N uploads made that N x N x N path compares).
    parts: HashMap<PathBuf, usize>,
    /// When this process last counted the user's bytes (see
    /// `storage::usage`); `None`: not yet.
    pub(crate) counted_at: Option<std::time::Instant>,
}

impl Ledger {
    /// Books `size` for the upload staged in `part`; given back when the
    /// returned [`Reservation`] drops (or by [`Ledger::release`]).
    pub(crate) fn book(&mut self, account: &Account, part: &Path, size: Usage) -> Reservation {
        let id = self.next;
        self.next += 1;
        self.booked.insert(id, (part.to_path_buf(), size));
        *self.parts.entry(part.to_path_buf()).or_default() += 1;
        Reservation { account: account.clone(), id }
    }

    /// What every booking but `except` booked.
    pub(crate) fn booked_except(&self, except: Option<&Reservation>) -> Usage {
        let skip = except.map(|r| r.id);
        let others = self.booked.iter().filter(|(id, _)| Some(**id) != skip);
        others.fold(Usage::default(), |sum, (_, (_, size))| sum.plus(*size))
    }

    /// Whether the staged file `part` is covered by a booking (its bytes
    /// are then counted by the booking, not by their size on disk).
    pub(crate) fn covers(&self, part: &Path) -> bool {
        self.parts.contains_key(part)
    }

    /// Gives a booking back while the ledger is locked.
    pub(crate) fn release(&mut self, reservation: &Reservation) {
        self.unbook(reservation.id);
    }

    /// Drops booking `id` (if still there) and its part's count.
    fn unbook(&mut self, id: u64) {
        let Some((part, _)) = self.booked.remove(&id) else { return };
        if let Some(n) = self.parts.get_mut(&part) {
            *n -= 1;
            if *n == 0 {
                self.parts.remove(&part);
            }
        }
    }
}

/// Bytes booked for one upload, given back when dropped.
pub(crate) struct Reservation {
    account: Account,
    id: u64,
}

impl Reservation {
    /// The ledger this booking is in.
    pub(crate) fn account(&self) -> &Account {
        &self.account
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.account.lock().unbook(self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bookings_are_given_back_on_drop() {
        let account = Reservations::default().account("u");
        let part = Path::new("/s/a.part");
        let a = account.lock().book(&account, part, Usage::new(10, 1));
        let b = account.lock().book(&account, Path::new("/s/b.part"), Usage::new(5, 3));
        assert_eq!(account.lock().booked_except(None), Usage::new(15, 4));
        assert_eq!(account.lock().booked_except(Some(&a)), Usage::new(5, 3));
        assert!(account.lock().covers(part));
        drop(a);
        assert!(!account.lock().covers(part));
        account.lock().release(&b);
        drop(b);
        assert_eq!(account.lock().booked_except(None), Usage::default());
    }

    #[test]
    fn a_part_booked_twice_is_covered_until_both_are_given_back() {
        let account = Reservations::default().account("u");
        let part = Path::new("/s/a.part");
        let a = account.lock().book(&account, part, Usage::new(1, 1));
        let b = account.lock().book(&account, part, Usage::new(2, 1));
        account.lock().release(&a);
        drop(a);
        assert!(account.lock().covers(part));
        drop(b);
        assert!(!account.lock().covers(part));
    }
}
