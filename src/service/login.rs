//! A logged-in user as a value, the same for both faces: their tree,
//! working directory and account ([`Login`]), and what follows from them
//! (their trash, staging, quota with its ledger, the figure of what they
//! hold, whether the account was deleted since login).
//!
//! It holds no connection and writes no reply: each face keeps its own
//! session state around it.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use crate::service::shared::Shared;
use crate::storage::error::Result;
use crate::storage::quota::{Quota, staged_bytes};
use crate::storage::trash::Trash;
use crate::storage::tree::{Tree, UserPath};
use crate::storage::usage::{Limits, Usage, UsageFile};

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

/// Which directory a home is: device, inode and birth time, so that a home
/// made again on a reused inode (after `netdisk user del`) is another one.
pub(crate) type HomeId = (u64, u64, Option<std::time::SystemTime>);

pub(crate) fn home_id(meta: &std::fs::Metadata) -> HomeId {
    (meta.dev(), meta.ino(), meta.created().ok())
}
