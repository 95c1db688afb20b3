//! Everything on disk under `--data`: the user trees and their jail,
//! staged uploads, recorded digests, the accounts, the trash, copies,
//! `find`, the content store and share records.
//!
//! [`DataDir`] is the one place that knows the layout of the data
//! directory; every other module asks it for a path instead of joining
//! names of its own.

pub(crate) mod accounts;
pub(crate) mod content;
pub(crate) mod copies;
pub(crate) mod digests;
pub(crate) mod durable;
pub mod error;
pub(crate) mod find;
pub mod health;
pub(crate) mod links;
pub mod locks;
pub(crate) mod mtime;
pub mod props;
pub(crate) mod quota;
pub(crate) mod replace;
pub(crate) mod shares;
pub(crate) mod staging;
pub(crate) mod trash;
pub mod tree;
pub(crate) mod usage;
pub mod users;

use std::path::{Path, PathBuf};

/// Prefix of a per-user directory being deleted (`netdisk user del`),
/// renamed aside first so the deletion is atomic for readers.
pub(crate) const DELETING: &str = ".deleted.";
/// Prefix of a trash entry being purged, inside a user's trash.
pub(crate) const PURGING: &str = ".purge-";

/// The data directory (`--data`) and every path under it:
///
/// ```text
/// home/USER/       the user's visible tree (each folder may hold a hidden
///                  `\x01props` folder: WebDAV dead properties, see `props`)
/// staging/USER/    interrupted uploads, copy scratch space
/// trash/USER/      removed entries, kept --trash-days
/// sums/            the MD5 recorded for each committed file
/// users            the accounts file; users.lock serialises writers
/// store/          content stored once for `claim`; store/users/USER/ the
///                  content USER committed (--dedup user)
/// shares/USER/     USER's share records; share-codes/ the code index
/// usage/USER       the bytes USER holds, as last counted
/// locks/USER       USER's replace lock (an `flock`, see `replace`)
/// dav-locks/USER/  USER's WebDAV write locks (see `locks`)
/// ```
#[derive(Clone, Debug)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// The layout under `root`.
    pub fn new(root: impl Into<PathBuf>) -> DataDir {
        DataDir { root: root.into() }
    }

    /// The data directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The top of every user's visible tree.
    pub(crate) fn homes(&self) -> PathBuf {
        self.root.join("home")
    }

    /// A user's visible tree.
    pub(crate) fn home(&self, user: &str) -> PathBuf {
        self.homes().join(user)
    }

    /// The top of every user's staging directory.
    pub(crate) fn stagings(&self) -> PathBuf {
        self.root.join("staging")
    }

    /// Where a user's interrupted uploads wait.
    pub(crate) fn staging(&self, user: &str) -> PathBuf {
        self.stagings().join(user)
    }

    /// The top of every user's trash.
    pub(crate) fn trashes(&self) -> PathBuf {
        self.root.join("trash")
    }

    /// A user's trash.
    pub(crate) fn trash(&self, user: &str) -> PathBuf {
        self.trashes().join(user)
    }

    /// The recorded digests.
    pub(crate) fn sums(&self) -> PathBuf {
        self.root.join("sums")
    }

    /// The accounts file.
    pub(crate) fn users_file(&self) -> PathBuf {
        self.root.join("users")
    }

    /// The lock that serialises writers of the accounts file.
    pub(crate) fn users_lock(&self) -> PathBuf {
        self.root.join("users.lock")
    }

    /// The content store: committed files by MD5 and size, for `claim`.
    pub(crate) fn store(&self) -> PathBuf {
        self.root.join("store")
    }

    /// The top of the per-user markers of the content store.
    pub(crate) fn store_users(&self) -> PathBuf {
        self.store().join("users")
    }

    /// The top of every user's share records.
    pub(crate) fn shares(&self) -> PathBuf {
        self.root.join("shares")
    }

    /// The index from share code to owner.
    pub(crate) fn share_codes(&self) -> PathBuf {
        self.root.join("share-codes")
    }

    /// The top of every user's usage record (see `usage`).
    pub(crate) fn usages(&self) -> PathBuf {
        self.root.join("usage")
    }

    /// The bytes a user's files and trash hold, as last counted.
    pub(crate) fn usage(&self, user: &str) -> PathBuf {
        self.usages().join(user)
    }

    /// The lock every request that replaces something in a user's tree
    /// holds (see `replace`).
    pub(crate) fn replace_lock(&self, user: &str) -> PathBuf {
        self.root.join("locks").join(user)
    }

    /// A user's WebDAV write locks: the record and its `flock` file.
    pub(crate) fn dav_locks(&self, user: &str) -> PathBuf {
        self.root.join("dav-locks").join(user)
    }

    /// The directories that hold one entry per user; a feature that keeps
    /// per-user data adds its top here, so deleting an account reaches it.
    pub(crate) fn per_user(&self) -> [PathBuf; 8] {
        let locks = self.root.join("locks");
        let dav_locks = self.root.join("dav-locks");
        [
            self.homes(),
            self.stagings(),
            self.trashes(),
            self.shares(),
            self.store_users(),
            self.usages(),
            locks,
            dav_locks,
        ]
    }

    /// The directories a server makes at start.
    pub(crate) fn made_at_start(&self) -> [PathBuf; 4] {
        [self.homes(), self.stagings(), self.sums(), self.trashes()]
    }
}
