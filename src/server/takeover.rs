//! Which session of this process holds which staged upload, and how many
//! bytes each user's uploads in progress have reserved against the quota.
//!
//! A client whose connection dies without a word (a laptop closed, a
//! network gone) leaves its session blocked in a read until the stall
//! timeout, holding its upload's lock. When the same user uploads the same
//! file again, the new session asks here whether the holder has moved no
//! byte for a while; if so, it shuts the holder's socket, which makes the
//! holder save its bytes and let go, and the upload resumes at once. An
//! upload that is moving bytes is never taken over: that is still `450`.
//! Only a session still receiving can be taken over: once it has stopped
//! receiving (it is verifying and committing), it finishes undisturbed.
//! Sessions of other processes are not known here; for them the stall
//! timeout does the job.
//!
//! [`Reservations`] is the quota's memory of uploads in progress: an upload
//! books its whole announced size when it is accepted (`150`) and gives it
//! back when it commits, fails or its session ends. A user's quota checks
//! and commits take that user's [`Ledger`] lock, so two of them never
//! decide on the same state. Uploads of other processes are not booked
//! here; the check at commit keeps committed files within the quota.

use std::collections::HashMap;
use std::fs;
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

/// The staged uploads held by sessions of this process.
#[derive(Default)]
pub struct Holders {
    next: AtomicU64,
    held: Mutex<HashMap<PathBuf, Holder>>,
}

struct Holder {
    id: u64,
    since: SystemTime,
    stream: TcpStream,
    /// Still reading the payload (or the digest line after it).
    receiving: bool,
    /// Shut by [`Holders::release_stalled`].
    taken: bool,
}

/// A session's hold on a staged upload, released when dropped.
pub struct Hold<'a> {
    holders: &'a Holders,
    part: PathBuf,
    id: u64,
}

impl Holders {
    /// Records that the session on `stream` holds the staged file `part`.
    pub fn hold(&self, part: &Path, stream: &TcpStream) -> Option<Hold<'_>> {
        let stream = stream.try_clone().ok()?;
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let holder = Holder { id, since: SystemTime::now(), stream, receiving: true, taken: false };
        self.lock().insert(part.to_path_buf(), holder);
        Some(Hold { holders: self, part: part.to_path_buf(), id })
    }

    /// Shuts the connection of the session holding `part` if it is still
    /// receiving and neither the staged file nor the hold changed for
    /// `quiet`; true if it did.
    pub fn release_stalled(&self, part: &Path, quiet: Duration) -> bool {
        let written = fs::metadata(part).and_then(|m| m.modified()).unwrap_or(SystemTime::UNIX_EPOCH);
        let mut held = self.lock();
        let Some(holder) = held.get_mut(part).filter(|h| h.receiving) else { return false };
        let last = written.max(holder.since);
        let idle = SystemTime::now().duration_since(last).is_ok_and(|idle| idle >= quiet);
        holder.taken = idle && holder.stream.shutdown(Shutdown::Both).is_ok();
        holder.taken
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Holder>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Hold<'_> {
    /// Ends the receiving part of the upload: from now on it cannot be
    /// taken over. False if it was taken over already, in which case the
    /// session must keep its bytes and not commit.
    pub fn stop_receiving(&self) -> bool {
        let mut held = self.holders.lock();
        match held.get_mut(&self.part) {
            Some(h) if h.id == self.id => {
                h.receiving = false;
                !h.taken
            }
            _ => true,
        }
    }
}

impl Drop for Hold<'_> {
    fn drop(&mut self) {
        let mut held = self.holders.lock();
        if held.get(&self.part).is_some_and(|h| h.id == self.id) {
            held.remove(&self.part);
        }
    }
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
    use std::net::TcpListener;

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (b, _) = listener.accept().unwrap();
        (a, b)
    }

    #[test]
    fn a_session_that_stopped_receiving_is_never_taken_over() {
        let holders = Holders::default();
        let (_client, server) = pair();
        let part = Path::new("/nonexistent/part");
        let hold = holders.hold(part, &server).unwrap();
        assert!(hold.stop_receiving(), "not taken over");
        assert!(!holders.release_stalled(part, Duration::ZERO), "committing: left alone");
    }

    #[test]
    fn a_taken_over_session_learns_it_before_committing() {
        let holders = Holders::default();
        let (_client, server) = pair();
        let part = Path::new("/nonexistent/part");
        let hold = holders.hold(part, &server).unwrap();
        assert!(holders.release_stalled(part, Duration::ZERO));
        assert!(!hold.stop_receiving(), "must not commit");
    }

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
