//! The one commit-and-replace primitive: every request that puts a file
//! or a tree at a path of a user's tree (an upload's group commit,
//! `claim`, `cp`, `save`, `restore`, `mv`), or takes one out of it (`rm`),
//! holds the user's [`Replace`] while it looks at the target and changes
//! it.
//!
//! [`Replace`] is an `flock` on `locks/USER`, taken through a fresh open
//! file description by each request, so it excludes the other requests
//! of the user in this process (threads) and in every other server
//! process on the data directory. While it is held nothing else replaces
//! a file of the user's tree, so the file [`Replace::displace`] keeps in
//! the trash is the one the rename then replaces: what is replaced is
//! always what is kept. It does not depend on `renameat2` flags (which
//! FUSE and NFS refuse).
//!
//! A replaced file is kept by a hard link, or, when its inode is at the
//! file system's link limit (`EMLINK`: other users' copies share it), by
//! a byte copy: no user's links make another's request fail. An empty file
//! is never kept (protocol 2.1: nothing is lost), nor one whose recorded
//! digest is the new content's.
//!
//! Lock order: [`Replace`] first, then a user's quota ledger, then the
//! usage record; never the other way round.

use std::fs::{self, File, Metadata};
use std::io;
use std::path::Path;

use crate::digest::Digest;
use crate::storage::DataDir;
use crate::storage::digests::Sums;
use crate::storage::durable::{open_or_create, sync_parent};
use crate::storage::error::{Error, Result};
use crate::storage::links::same_inode;
use crate::storage::trash::{Kept, Trash, rename_noreplace};
use crate::storage::tree::{Tree, UserPath};
use crate::storage::usage::Usage;

/// A user's replace lock, held for one request's look at its target and
/// the change it makes; released when dropped.
pub(crate) struct Replace {
    _lock: File,
}

impl Replace {
    /// Waits for and takes `user`'s replace lock.
    pub(crate) fn lock(data: &DataDir, user: &str) -> Result<Replace> {
        let path = data.replace_lock(user);
        let io = |e| Error::server("replace lock", e);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(io)?;
        }
        let options = File::options().read(true).write(true).create(true).truncate(false).clone();
        let file = open_or_create(&options, &path).map_err(io)?;
        file.lock().map_err(io)?;
        Ok(Replace { _lock: file })
    }

    /// Keeps the file at `path` of `tree`, about to be replaced by content
    /// of MD5 `new`, in a new trash entry (not synced yet: see
    /// [`Displaced::sync`]). Nothing is kept when there is no file there,
    /// when it is empty, when its recorded MD5 is `new`, or with no trash.
    pub(crate) fn displace(
        &self,
        (tree, trash, sums): (&Tree, &Trash, &Sums),
        path: &UserPath,
        new: Option<Digest>,
    ) -> Result<Displaced> {
        let real = tree.checked(path)?;
        let old = fs::symlink_metadata(&real).ok().filter(Metadata::is_file);
        let keep = old.as_ref().is_some_and(|m| m.len() > 0 && (new.is_none() || sums.get(m) != new));
        let kept = match keep {
            true => trash.stage_kept(&real, &path.to_string(), sums)?,
            false => None,
        };
        Ok(Displaced { old, kept })
    }

    /// Renames `staged` to `target` (a real path of the user's tree) only
    /// if nothing is there, then syncs the directory: the placement that
    /// never replaces (`save`, `restore`). `AlreadyExists` if something is.
    pub(crate) fn put_new(&self, staged: &Path, target: &Path) -> io::Result<()> {
        rename_noreplace(staged, target)?;
        sync_parent(target)
    }

    /// Renames `staged` over `path` of `tree` after keeping what is there
    /// (synced), then syncs the directory: the whole replacement for one
    /// file (`claim`, `cp` of a file, `mv` over a file). `new` is the
    /// content's MD5 if known. Returns what was replaced, settled.
    pub(crate) fn put(
        &self,
        at: (&Tree, &Trash, &Sums),
        staged: &Path,
        path: &UserPath,
        new: Option<Digest>,
    ) -> Result<Settled> {
        let what = path.to_string();
        let io = |e| Error::io(&what, e);
        let displaced = self.displace(at, path, new)?;
        displaced.sync().map_err(io)?;
        let target = at.0.checked(path)?;
        if let Err(e) = fs::rename(staged, &target) {
            displaced.discard();
            return Err(io(e));
        }
        sync_parent(&target).map_err(io)?;
        Ok(displaced.settle(at.2))
    }
}

/// What is at a target about to be replaced, and its trash entry.
pub(crate) struct Displaced {
    old: Option<Metadata>,
    kept: Option<Kept>,
}

/// What a replacement did to the file it replaced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Settled {
    /// The size of the file replaced, if one was.
    pub(crate) replaced: Option<u64>,
    /// Whether it is kept in the trash.
    pub(crate) kept: bool,
}

impl Settled {
    /// Whether a file left the user's files and trash for good (replaced
    /// and not kept): the usage figure must then be counted again.
    pub(crate) fn freed(&self) -> bool {
        self.replaced.is_some() && !self.kept
    }

    /// Bytes that left for good.
    pub(crate) fn freed_bytes(&self) -> u64 {
        if self.kept { 0 } else { self.replaced.unwrap_or(0) }
    }

    /// Bytes and entries that left for good (the file replaced, not kept).
    pub(crate) fn freed_usage(&self) -> Usage {
        Usage::new(self.freed_bytes(), u64::from(self.freed()))
    }
}

impl Displaced {
    /// Syncs the trash entry (a group syncs its entries otherwise: see
    /// [`Displaced::kept_entry`]).
    pub(crate) fn sync(&self) -> io::Result<()> {
        self.kept.as_ref().map_or(Ok(()), Kept::sync)
    }

    /// The trash entry, for a group that syncs several at once.
    pub(crate) fn kept_entry(&self) -> Option<&Kept> {
        self.kept.as_ref()
    }

    /// Takes the entry back: the file was not replaced after all.
    pub(crate) fn discard(self) {
        if let Some(kept) = self.kept {
            kept.discard();
        }
    }

    /// After a rename that may or may not have happened (it reported an
    /// error, or what followed it did): settled if the old file is no
    /// longer at `target`, taken back otherwise.
    pub(crate) fn finish(self, target: &Path, sums: &Sums) -> Settled {
        let still = fs::symlink_metadata(target).ok();
        let same = match (&self.old, &still) {
            (Some(a), Some(b)) => same_inode(a, b),
            (None, None) => true,
            _ => false,
        };
        if same {
            self.discard();
            return Settled::default();
        }
        self.settle(sums)
    }

    /// What [`Displaced::settle`] will say once the rename is done.
    pub(crate) fn settled_if_placed(&self) -> Settled {
        Settled { replaced: self.old.as_ref().map(Metadata::len), kept: self.kept.is_some() }
    }

    /// After the rename: the replaced file's digest record is forgotten
    /// unless it lives on in the trash.
    pub(crate) fn settle(self, sums: &Sums) -> Settled {
        let Some(old) = self.old else { return Settled::default() };
        let kept = self.kept.is_some();
        if !kept {
            sums.forget(&old);
        }
        Settled { replaced: Some(old.len()), kept }
    }
}
