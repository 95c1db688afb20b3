//! Quota bookings: what each user's requests in progress have booked
//! against their quota, in this process.
//!
//! [`Reservations`] is the quota's memory of uploads in progress: an upload
//! books its whole announced size when it is accepted (`150`) and gives it
//! back when it commits, fails or its session ends. A user's quota checks
//! and commits take that user's [`Ledger`] lock, so two of them never
//! decide on the same state. Uploads of other processes are not booked
//! here; the check at commit keeps committed files within the quota.
//!
//! Requests that place bytes without a payload (`claim`, `cp`, `save`)
//! book through [`book`] and [`within_booking`], with the same ledger and
//! the same figure of what the user holds as uploads (see
//! `storage::staging::Quota` and `storage::usage`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::server::error::{Error, Result};
use crate::server::handler::{Cx, Login};
use crate::storage::content::random_hex;
use crate::storage::staging::{Quota, staged_bytes_where};
use crate::storage::tree::UserPath;

/// Bytes booked against the quota by a claim or a save in progress;
/// given back when dropped.
pub(crate) struct Booking {
    reservation: Reservation,
    quota: Quota,
}

/// Books `size` bytes against the user's quota (none without a quota),
/// or refuses with `552`, like an upload's booking.
pub(crate) fn book(cx: &Cx, login: &Login, size: u64, what: &UserPath) -> Result<Option<Booking>> {
    let Some(limit) = cx.shared.quota_of(&login.user) else { return Ok(None) };
    let quota = login.quota(cx.shared, limit);
    let account = quota.account.clone();
    let mut ledger = account.lock();
    let besides = staged_unbooked(cx, login, &ledger).saturating_add(ledger.booked_except(None));
    quota.check(&mut ledger, size, besides, &what.to_string())?;
    let tag = login.staging(cx.shared).join(format!("book-{}", random_hex().map_err(io_local)?));
    let reservation = ledger.book(&account, &tag, size);
    Ok(Some(Booking { reservation, quota }))
}

/// Staged uploads of the user that nobody booked.
fn staged_unbooked(cx: &Cx, login: &Login, ledger: &Ledger) -> u64 {
    staged_bytes_where(&login.staging(cx.shared), |p| !ledger.covers(p))
}

/// Runs `place` (which makes `size` bytes part of the tree: what is
/// placed, measured, which may differ from what was booked) with the
/// ledger locked, after checking that they fit; the booking is given
/// back, and the bytes added to the user's figure, under the same lock.
pub(crate) fn within_booking<T>(
    cx: &Cx,
    login: &Login,
    booking: Option<&Booking>,
    size: u64,
    place: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let Some(booking) = booking else { return place() };
    let mut ledger = booking.reservation.account().lock();
    let besides = staged_unbooked(cx, login, &ledger).saturating_add(ledger.booked_except(Some(&booking.reservation)));
    let mut counted = booking.quota.check(&mut ledger, size, besides, "the copy")?;
    let placed = place()?;
    ledger.release(&booking.reservation);
    if counted.changed(size, 0).is_err() {
        ledger.counted_at = None;
    }
    Ok(placed)
}

fn io_local(e: std::io::Error) -> Error {
    Error::server("staging", e)
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
    booked: HashMap<u64, (PathBuf, u64)>,
    /// When this process last counted the user's bytes (see
    /// `storage::usage`); `None`: not yet.
    pub(crate) counted_at: Option<std::time::Instant>,
}

impl Ledger {
    /// Books `size` bytes for the upload staged in `part`; given back when
    /// the returned [`Reservation`] drops (or by [`Ledger::release`]).
    pub(crate) fn book(&mut self, account: &Account, part: &Path, size: u64) -> Reservation {
        let id = self.next;
        self.next += 1;
        self.booked.insert(id, (part.to_path_buf(), size));
        Reservation { account: account.clone(), id }
    }

    /// Bytes booked by every upload but `except`.
    pub(crate) fn booked_except(&self, except: Option<&Reservation>) -> u64 {
        let skip = except.map(|r| r.id);
        self.booked.iter().filter(|(id, _)| Some(**id) != skip).map(|(_, (_, size))| *size).sum()
    }

    /// Whether the staged file `part` is covered by a booking (its bytes
    /// are then counted by the booking, not by their size on disk).
    pub(crate) fn covers(&self, part: &Path) -> bool {
        self.booked.values().any(|(p, _)| p == part)
    }

    /// Gives a booking back while the ledger is locked.
    pub(crate) fn release(&mut self, reservation: &Reservation) {
        self.booked.remove(&reservation.id);
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
        self.account.lock().booked.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bookings_are_given_back_on_drop() {
        let account = Reservations::default().account("u");
        let part = Path::new("/s/a.part");
        let a = account.lock().book(&account, part, 10);
        let b = account.lock().book(&account, Path::new("/s/b.part"), 5);
        assert_eq!(account.lock().booked_except(None), 15);
        assert_eq!(account.lock().booked_except(Some(&a)), 5);
        assert!(account.lock().covers(part));
        drop(a);
        assert!(!account.lock().covers(part));
        account.lock().release(&b);
        drop(b);
        assert_eq!(account.lock().booked_except(None), 0);
    }
}
