//! Group commit across connections: uploads of one user verified at the
//! same time on several connections (concurrent HTTP `PUT`s, WebDAV or
//! `/files/`, and the tus `PATCH`es that complete uploads) are committed
//! together by the engine's `commit_group`, so
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
//! A user's queue lives while some thread holds it: the last one out
//! (no leader, nothing queued, no other thread holding it) removes it
//! from the map, under the map's lock, which a thread joining takes too,
//! so the map holds only users with an upload under way.
//!
//! Nothing here weakens a commit: each result is the engine's, given only
//! after its syncs, and the group holds the user's replace lock
//! throughout. A panic in a leader fails the uploads it took instead of
//! leaving their threads waiting.
//!
//! Locks: a thread waiting here holds no engine lock but its own
//! upload's; the leader takes only the replace lock, which the text
//! face's groups take too (one after the other, never both at once), so
//! the two kinds of group of one user wait for each other, never in a
//! cycle. Logged: an upload that queues behind a commit under way
//! (`action=queue`) and each group of more than one (`action=group`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::log;
use crate::storage::error::{Error, ErrorKind, Result};
use crate::storage::staging::Verified;
use crate::storage::tree::UserPath;

/// An upload to commit at its path.
pub(crate) type Item = (Verified, UserPath);

/// Every user's queue in this process (of uploads `T`: [`Item`], or
/// anything in the unit tests).
pub(crate) struct Grouped<T = Item> {
    users: Mutex<HashMap<String, Arc<Queue<T>>>>,
}

impl<T> Default for Grouped<T> {
    fn default() -> Self {
        Grouped { users: Mutex::default() }
    }
}

/// One user's uploads waiting for, or done with, a commit.
struct Queue<T> {
    state: Mutex<State<T>>,
    changed: Condvar,
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Queue { state: Mutex::default(), changed: Condvar::new() }
    }
}

struct State<T> {
    next: u64,
    /// A thread is leading a commit.
    leading: bool,
    waiting: Vec<(u64, T)>,
    done: HashMap<u64, Result<PathBuf>>,
}

impl<T> Default for State<T> {
    fn default() -> Self {
        State { next: 0, leading: false, waiting: Vec::new(), done: HashMap::new() }
    }
}

/// A thread's hold on its user's queue: dropped by the last holder, the
/// queue leaves the map.
struct Member<'a, T> {
    grouped: &'a Grouped<T>,
    user: &'a str,
    queue: Arc<Queue<T>>,
}

impl<T> Drop for Member<'_, T> {
    fn drop(&mut self) {
        let mut users = self.grouped.lock();
        // Under the map's lock no thread can take a new hold: two holds
        // (the map's and this one) mean nobody else has the queue, so it
        // has no leader and nothing queued.
        if Arc::strong_count(&self.queue) == 2 {
            users.remove(self.user);
        }
    }
}

impl<T: HasPath> Grouped<T> {
    /// Commits `item` of `user` with whatever uploads of that user are
    /// waiting: `lock` takes the user's replace lock (held by the leader
    /// while `commit` runs on the group, in order); returns this upload's
    /// result.
    pub(crate) fn commit<L>(
        &self,
        user: &str,
        item: T,
        lock: impl FnOnce() -> Result<L>,
        commit: impl FnOnce(&L, Vec<T>) -> Vec<Result<PathBuf>>,
    ) -> Result<PathBuf> {
        let member = self.join(user);
        let queue = &member.queue;
        let mut state = queue.lock();
        let ticket = state.next;
        state.next += 1;
        if state.leading {
            // Queued under this same lock: the next leader takes it.
            log::event(None, user, "queue", &item.path(), "behind a commit under way", 0);
        }
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
        Lead { queue, tickets: Vec::new() }.run(user, ticket, lock, commit)?;
        let done = queue.lock().done.remove(&ticket);
        done.unwrap_or_else(|| Err(Error::new(ErrorKind::Server, "not committed")))
    }
}

impl<T> Grouped<T> {
    fn join<'a>(&'a self, user: &'a str) -> Member<'a, T> {
        let queue = self.lock().entry(user.to_string()).or_default().clone();
        Member { grouped: self, user, queue }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<Queue<T>>>> {
        self.users.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What the log names an upload by.
pub(crate) trait HasPath {
    fn path(&self) -> String;
}

impl HasPath for Item {
    fn path(&self) -> String {
        self.1.to_string()
    }
}

impl<T> Queue<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A commit being led: the tickets it took. Dropped, it posts a failure
/// for any of them still without a result and lets another thread lead.
struct Lead<'a, T> {
    queue: &'a Queue<T>,
    tickets: Vec<u64>,
}

impl<T> Lead<'_, T> {
    /// Takes the lock, then the queue, and commits it. A lock that cannot
    /// be taken fails only the leader's own upload (`own`): the others
    /// stay queued for the next leader.
    fn run<L>(
        mut self,
        user: &str,
        own: u64,
        lock: impl FnOnce() -> Result<L>,
        commit: impl FnOnce(&L, Vec<T>) -> Vec<Result<PathBuf>>,
    ) -> Result<()> {
        let held = match lock() {
            Ok(held) => held,
            Err(e) => {
                self.queue.lock().waiting.retain(|(t, _)| *t != own);
                return Err(e);
            }
        };
        let taken = std::mem::take(&mut self.queue.lock().waiting);
        let (tickets, items): (Vec<u64>, Vec<T>) = taken.into_iter().unzip();
        self.tickets = tickets;
        let results = commit(&held, items);
        if results.len() > 1 {
            let failed = results.iter().filter(|r| r.is_err()).count();
            log::event(
                None,
                user,
                "group",
                "",
                format!("committed {} uploads in one group failed={failed}", results.len()),
                0,
            );
        }
        let mut state = self.queue.lock();
        for (ticket, result) in self.tickets.drain(..).zip(results) {
            state.done.insert(ticket, result);
        }
        drop(state);
        Ok(())
    }
}

impl<T> Drop for Lead<'_, T> {
    fn drop(&mut self) {
        let mut state = self.queue.lock();
        for ticket in self.tickets.drain(..) {
            state.done.entry(ticket).or_insert_with(|| Err(Error::new(ErrorKind::Server, "not committed")));
        }
        state.leading = false;
        self.queue.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl HasPath for u32 {
        fn path(&self) -> String {
            format!("/{self}")
        }
    }

    /// One upload `n` of `user`, committed as itself.
    fn commit_one(grouped: &Grouped<u32>, user: &str, n: u32) -> Result<PathBuf> {
        let commit = |_: &(), items: Vec<u32>| items.iter().map(|i| Ok(PathBuf::from(i.path()))).collect();
        grouped.commit(user, n, || Ok(()), commit)
    }

    #[test]
    fn a_user_with_nothing_under_way_leaves_the_map() {
        let grouped = Grouped::default();
        for n in 0..1000 {
            assert_eq!(commit_one(&grouped, &format!("user{n}"), n).unwrap(), PathBuf::from(format!("/{n}")));
        }
        assert_eq!(grouped.lock().len(), 0);
    }

    #[test]
    fn members_joining_while_others_leave_all_commit_and_the_map_empties() {
        let grouped = Grouped::default();
        std::thread::scope(|scope| {
            for t in 0..8u32 {
                let grouped = &grouped;
                scope.spawn(move || {
                    for n in 0..300 {
                        let (user, item) = (format!("user{}", n % 3), t * 1000 + n);
                        assert_eq!(commit_one(grouped, &user, item).unwrap(), PathBuf::from(item.path()));
                    }
                });
            }
        });
        assert_eq!(grouped.lock().len(), 0);
    }
}
