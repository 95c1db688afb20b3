//! What a command handler is given and what it gives back: the logged-in
//! state as a value ([`Login`]), the context of the session ([`Cx`]), and
//! one outcome type ([`Outcome`], [`Handled`]).
//!
//! The session builds these and carries out the outcome; handlers use
//! them. This module uses neither, so there is no cycle.

use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use crate::proto::{Code, Reply};
use crate::server::backoff::Turn;
use crate::server::conn::Framed;
use crate::server::error::Replied;
use crate::server::error::Result;
use crate::server::log;
use crate::server::shared::Shared;
use crate::storage::quota::{Quota, staged_bytes};
use crate::storage::trash::Trash;
use crate::storage::tree::{Tree, UserPath};
use crate::storage::usage::{Limits, Usage, UsageFile};

/// What a handler asks the session to do next.
pub(crate) enum Outcome {
    /// Send this reply and read the next request.
    Reply(Reply),
    /// Send this reply, then close gently (draining what the client sends).
    Refuse(Reply),
    /// Send this reply and close at once (`quit`).
    Bye(Reply),
    /// Close without a word (the client is gone or the framing is lost).
    Close,
    /// Everything is sent; read the next request.
    Go,
}

impl From<Reply> for Outcome {
    fn from(reply: Reply) -> Outcome {
        Outcome::Reply(reply)
    }
}

/// What every handler returns: an error becomes its reply in one place.
pub(crate) type Handled = Result<Outcome>;

/// A logged-in user: the tree, the working directory, and which account.
pub(crate) struct Login {
    pub(crate) user: String,
    pub(crate) tree: Tree,
    pub(crate) cwd: UserPath,
    /// The home directory at login: the account this session serves, told
    /// apart from a later one of the same name.
    home_id: HomeId,
}

impl Login {
    pub(crate) fn new(user: &str, tree: Tree, cwd: UserPath, home_id: HomeId) -> Login {
        Login { user: user.to_string(), tree, cwd, home_id }
    }

    /// The tree and a path resolved from the working directory.
    pub(crate) fn resolve(&self, text: &str) -> Result<(&Tree, UserPath)> {
        Ok((&self.tree, self.cwd.resolve(text)?))
    }

    /// `text` as the log shows it: the absolute path it names from the
    /// working directory (as typed when it names none), so an audit needs
    /// no session state.
    pub(crate) fn shown(&self, text: &str) -> String {
        self.cwd.resolve(text).map(|p| p.to_string()).unwrap_or_else(|_| text.to_string())
    }

    /// The user's trash.
    pub(crate) fn trash(&self, shared: &Shared) -> Trash {
        shared.trash(&self.user)
    }

    /// The user's quota (bytes and entries, each as it applies now), the
    /// ledger of their requests in progress, and the figure of what they
    /// hold (files and trash); `None` when neither is limited. Every
    /// request that creates files or directories passes it to the engine,
    /// which books them.
    pub(crate) fn quota(&self, shared: &Shared) -> Option<Quota> {
        let limits = Limits { bytes: shared.quota_of(&self.user), entries: shared.entries_of(&self.user) };
        (limits != Limits::default()).then(|| self.quota_within(shared, limits))
    }

    fn quota_within(&self, shared: &Shared, limits: Limits) -> Quota {
        let (tree, trash) = (self.tree.clone(), self.trash(shared));
        Quota {
            limits,
            staging: self.staging(shared),
            account: shared.reservations.account(&self.user),
            usage: UsageFile::new(shared.data.usage(&self.user)),
            count: Box::new(move || Ok(tree.usage()?.plus(trash.usage()))),
        }
    }

    /// After a removal that frees space (a purge, `rm` without a trash, a
    /// replaced file let go): the user's figure is counted again at the
    /// next decision, in every process.
    pub(crate) fn usage_changed(&self, shared: &Shared) {
        if let Ok(mut counted) = UsageFile::new(shared.data.usage(&self.user)).lock(None) {
            let _ = counted.forget();
        }
    }

    /// The bytes the user holds, counted now (files, trash and staged
    /// uploads), and their files and directories (tree and trash),
    /// recorded as their figure.
    pub(crate) fn count_usage(&self, shared: &Shared) -> Result<Usage> {
        let quota = self.quota_within(shared, Limits::default());
        let mut ledger = quota.account.lock();
        let mut counted = quota.usage.lock(ledger.counted_at)?;
        let held = counted.recount(&*quota.count);
        ledger.counted_at = counted.last();
        Ok(held?.plus(Usage::new(staged_bytes(&self.staging(shared)), 0)))
    }

    /// Where the user's interrupted uploads wait.
    pub(crate) fn staging(&self, shared: &Shared) -> PathBuf {
        shared.staging(&self.user)
    }

    /// Whether the account was deleted since login (checked before each
    /// request: the users map refreshes incrementally and the home is one
    /// `stat`).
    pub(crate) fn gone(&self, shared: &Shared) -> bool {
        let home = std::fs::symlink_metadata(shared.home(&self.user)).ok().map(|m| home_id(&m));
        !shared.users.exists(&self.user) || home != Some(self.home_id)
    }
}

/// What a handler may use besides the login: the shared state, the peer,
/// the connection and the session's failed-login count.
pub(crate) struct Cx<'a> {
    pub(crate) shared: &'a Shared,
    pub(crate) peer: SocketAddr,
    pub(crate) wire: &'a mut Framed<TcpStream>,
    failures: &'a mut u32,
}

impl<'a> Cx<'a> {
    pub(crate) fn new(
        shared: &'a Shared,
        peer: SocketAddr,
        wire: &'a mut Framed<TcpStream>,
        failures: &'a mut u32,
    ) -> Cx<'a> {
        Cx { shared, peer, wire, failures }
    }

    /// Logs one event of this session.
    pub(crate) fn log(&self, user: &str, action: &str, detail: &str, outcome: impl std::fmt::Display, bytes: u64) {
        log::event(Some(self.peer), user, action, detail, outcome, bytes);
    }

    /// Logs the outcome of a request that changes something.
    pub(crate) fn note(&self, user: &str, action: &str, detail: &str, result: &Result<Reply>) {
        let outcome = match result {
            Ok(r) => r.code.number().to_string(),
            Err(e) => e.outcome(),
        };
        self.log(user, action, detail, outcome, 0);
    }

    /// This address's turn to have one guess checked (a password, a
    /// claim proof, a share code), whatever connection it comes on: see
    /// `server::backoff`.
    pub(crate) fn turn(&self) -> Turn<'a> {
        self.shared.backoff.turn(self.peer.ip())
    }

    /// A wrong guess (a wrong password for `login` or `passwd`, a wrong or
    /// abandoned claim proof, an unknown share code), its turn held: the
    /// address's back-off, then `reply`, or `421` and close after too many
    /// on this connection. `detail` is logged, so it is never a secret.
    pub(crate) fn wrong_guess(
        &mut self,
        turn: Turn<'_>,
        user: &str,
        action: &str,
        detail: &str,
        reply: Reply,
    ) -> Outcome {
        *self.failures += 1;
        turn.failed();
        self.log(user, action, detail, reply.code.number(), 0);
        if *self.failures >= self.shared.config.max_login_failures {
            self.log(user, action, detail, 421, 0);
            let text =
                if reply.code == Code::NotLoggedIn { "too many failed logins" } else { "too many failed attempts" };
            return Outcome::Refuse(Reply::new(Code::Closing, text));
        }
        Outcome::Reply(reply)
    }
}

/// Which directory a home is: device, inode and birth time, so that a home
/// made again on a reused inode (after `netdisk user del`) is another one.
pub(crate) type HomeId = (u64, u64, Option<std::time::SystemTime>);

pub(crate) fn home_id(meta: &std::fs::Metadata) -> HomeId {
    (meta.dev(), meta.ino(), meta.created().ok())
}
