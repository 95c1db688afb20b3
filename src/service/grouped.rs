//! Group commit across connections: uploads of one user verified at the
//! same time on several connections (concurrent HTTP `PUT`s, WebDAV or
//! `/files/`) are committed together by the engine's `commit_group`, so
//! they share its durable syncs, as the pipelined uploads of one text
//! connection do (`server::group`).
//!
//! Each upload joins its user's queue. If no commit of that user is under
//! way in this process, its thread leads one: it takes the user's replace
//! lock (while it waits, others join the queue), takes every upload
//! queued by then, commits them as one group and hands each thread its
//! own result. A thread that arrives while a commit is under way waits
//! for it, then leads or joins the next one. No upload waits for a timer:
//! a lone upload is committed at once, as before.
//!
//! Nothing here weakens a commit: each result is the engine's, given only
//! after its syncs, and the group holds the user's replace lock
//! throughout. A panic in a leader fails the uploads it took instead of
//! leaving their threads waiting.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::storage::error::{Error, ErrorKind, Result};
use crate::storage::staging::Verified;
use crate::storage::tree::UserPath;

/// An upload to commit at its path.
pub(crate) type Item = (Verified, UserPath);

/// Every user's queue in this process.
#[derive(Default)]
pub(crate) struct Grouped {
    users: Mutex<HashMap<String, Arc<Queue>>>,
}

/// One user's uploads waiting for, or done with, a commit.
#[derive(Default)]
struct Queue {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    next: u64,
    /// A thread is leading a commit.
    leading: bool,
    waiting: Vec<(u64, Item)>,
    done: HashMap<u64, Result<PathBuf>>,
}

impl Grouped {
    /// Commits `item` of `user` with whatever uploads of that user are
    /// waiting: `lock` takes the user's replace lock (held by the leader
    /// while `commit` runs on the group, in order); returns this upload's
    /// result.
    pub(crate) fn commit<L>(
        &self,
        user: &str,
        item: Item,
        lock: impl FnOnce() -> Result<L>,
        commit: impl FnOnce(&L, Vec<Item>) -> Vec<Result<PathBuf>>,
    ) -> Result<PathBuf> {
        let queue = self.queue(user);
        let mut state = queue.lock();
        let ticket = state.next;
        state.next += 1;
        state.waiting.push((ticket, item));
        while state.leading {
            state = queue.changed.wait(state).unwrap_or_else(|e| e.into_inner());
            if let Some(done) = state.done.remove(&ticket) {
                return done;
            }
        }
        // Led by this thread: its own upload is still queued, so it is
        // in the group (or failed by the lock).
        state.leading = true;
        drop(state);
        Lead { queue: &queue, tickets: Vec::new() }.run(ticket, lock, commit)?;
        let done = queue.lock().done.remove(&ticket);
        done.unwrap_or_else(|| Err(Error::new(ErrorKind::Server, "not committed")))
    }

    fn queue(&self, user: &str) -> Arc<Queue> {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users.entry(user.to_string()).or_default().clone()
    }
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A commit being led: the tickets it took. Dropped, it posts a failure
/// for any of them still without a result and lets another thread lead.
struct Lead<'a> {
    queue: &'a Queue,
    tickets: Vec<u64>,
}

impl Lead<'_> {
    /// Takes the lock, then the queue, and commits it. A lock that cannot
    /// be taken fails only the leader's own upload (`own`): the others
    /// stay queued for the next leader.
    fn run<L>(
        mut self,
        own: u64,
        lock: impl FnOnce() -> Result<L>,
        commit: impl FnOnce(&L, Vec<Item>) -> Vec<Result<PathBuf>>,
    ) -> Result<()> {
        let held = match lock() {
            Ok(held) => held,
            Err(e) => {
                self.queue.lock().waiting.retain(|(t, _)| *t != own);
                return Err(e);
            }
        };
        let taken = std::mem::take(&mut self.queue.lock().waiting);
        let (tickets, items): (Vec<u64>, Vec<Item>) = taken.into_iter().unzip();
        self.tickets = tickets;
        let results = commit(&held, items);
        let mut state = self.queue.lock();
        for (ticket, result) in self.tickets.drain(..).zip(results) {
            state.done.insert(ticket, result);
        }
        drop(state);
        Ok(())
    }
}

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        let mut state = self.queue.lock();
        for ticket in self.tickets.drain(..) {
            state.done.entry(ticket).or_insert_with(|| Err(Error::new(ErrorKind::Server, "not committed")));
        }
        state.leading = false;
        self.queue.changed.notify_all();
    }
}
