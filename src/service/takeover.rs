//! Which session of this process holds which staged upload: a text
//! upload's, or a tus request's on the HTTP face.
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

use std::collections::HashMap;
use std::fs;
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
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

    /// True if a session of this process holds `part` but has stopped
    /// receiving (its client's body ended or broke off): it is saving or
    /// committing, and lets go by itself without waiting on anyone.
    pub fn finishing(&self, part: &Path) -> bool {
        self.lock().get(part).is_some_and(|h| !h.receiving)
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
        assert!(holders.finishing(part), "it lets go by itself");
        drop(hold);
        assert!(!holders.finishing(part), "gone");
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
}
