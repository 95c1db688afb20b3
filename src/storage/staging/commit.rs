//! The commit of verified uploads, one or a group at a time (a group is a
//! run of uploads pipelined on one connection, see `server::group`).
//!
//! A group is committed in four steps, so that two syncs cover all its
//! files instead of two to four per file:
//!
//! 1. each file: its target checked in the jail, the modification time
//!    asked for it set on the staged inode (a `touch` held behind the
//!    group, see `server::group`: the digest record is then written once,
//!    with the final time), its digest recorded on the staged inode (the
//!    one verified), the staged inode linked into
//!    the content store under a temporary name, and the file it replaces
//!    kept in a new trash entry (nothing synced);
//! 2. for a group of several files, on a file system whose `syncfs`
//!    flushes every file (`durable::syncfs_flushes`; not FUSE, NFS, CephFS:
//!    there each file is synced as a lone one is), one `syncfs` (the
//!    staged files' writeback was started at their verification): every
//!    staged file, trash record and directory entry made so far is on
//!    stable storage, in one journal commit and one flush of the disk's
//!    cache, where per-file fsyncs would flush it once per file. A lone
//!    file fsyncs its staged file and its trash entry instead;
//! 3. each file renamed over its target (quota checked again);
//! 4. each distinct target directory fsynced once, or, when the group was
//!    renamed into several directories, one `syncfs` again.
//!
//! So a file's data and the trash entry of what it replaces are on stable
//! storage before its rename, and its name before its result is `Ok`: a
//! failed sync fails every file it covered. The whole group is committed
//! under the user's [`Replace`] lock, so the file kept in step 1 is the
//! one the rename of step 3 replaces. A committed file's store link then
//! becomes its content-store entry.
//! A file that fails a step is left out of the later ones; its staged
//! bytes are kept for a resume, except when they may not be on the disk
//! or must not stay there: a failed sync (the storage is then failing,
//! see `health`), the quota, or the server's disk full (`452`).

use super::*;
use crate::storage::content::{Pending, Store};
use crate::storage::durable::{fsync, start_writeback, sync_dir, sync_fs, syncfs_flushes};
use crate::storage::health;
use crate::storage::replace::{Displaced, Replace, Settled};
use crate::storage::trash::{Kept, Trash};

/// An upload whose bytes match their MD5, waiting for its commit.
pub(crate) struct Verified {
    up: Upload,
    md5: Digest,
    /// The modification time the file gets at its commit, if asked.
    time: Option<SystemTime>,
}

impl Upload {
    /// Checks the whole file against the announced digest (or `claimed`,
    /// sent after the payload) and starts writing it back. A mismatch
    /// discards the staged bytes.
    pub(crate) fn verify(mut self, claimed: Option<Digest>) -> Result<Verified> {
        let got = self.hasher.peek();
        let want = self.expected.or(claimed);
        if want != Some(got) || claimed.is_some_and(|c| c != got) {
            self.discard();
            let want = claimed.or(want).map_or("-".to_string(), |d| d.to_string());
            return Err(Error::new(ErrorKind::Mismatch, format!("MD5 mismatch: received {got}, expected {want}")));
        }
        start_writeback(&self.part);
        Ok(Verified { up: self, md5: got, time: None })
    }
}

impl Verified {
    pub(crate) fn md5(&self) -> Digest {
        self.md5
    }

    pub(crate) fn size(&self) -> u64 {
        self.up.meta.size
    }

    /// Gives the file modification time `time` at its commit (before its
    /// digest is recorded, so the record is written once).
    pub(crate) fn set_time(&mut self, time: SystemTime) {
        self.time = Some(time);
    }

    /// The staged file (one per user path: a group never holds two).
    pub(crate) fn part_path(&self) -> &Path {
        &self.up.part_path
    }

    /// Gives up on this commit: the staged bytes stay for a resume, unless
    /// the quota no longer allows them, the server's disk is full, or the
    /// storage is failing (a sync failed: the page cache may hold bytes
    /// the disk does not, so they are never resumed).
    fn fail(mut self, e: Error) -> Result<PathBuf> {
        if self.time.is_some() {
            // Kept for a resume: not aged by a time asked for the file.
            let _ = self.up.part.set_modified(SystemTime::now());
        }
        if matches!(e.kind(), ErrorKind::Quota | ErrorKind::DiskFull) || health::failing().is_some() {
            self.up.discard();
        } else {
            let _ = self.up.save();
        }
        Err(e)
    }
}

/// Where the verified uploads of a group go, and what they may use.
pub(crate) struct Place<'a> {
    pub(crate) user: &'a str,
    pub(crate) tree: &'a Tree,
    pub(crate) sums: &'a Sums,
    pub(crate) trash: &'a Trash,
    pub(crate) store: &'a Store,
    /// The user's replace lock, held for the whole group.
    pub(crate) replace: &'a Replace,
}

/// A file between the steps: its target, what it replaces (and its trash
/// entry), and its content's link in the store.
struct Going {
    v: Verified,
    path: UserPath,
    target: PathBuf,
    displaced: Option<Displaced>,
    pending: Option<Pending>,
}

/// Commits `items` (each with its user path) in the four steps above;
/// returns, in order, each file's real path or why it failed.
pub(crate) fn commit_group(items: Vec<(Verified, UserPath)>, at: &Place) -> Vec<Result<PathBuf>> {
    let mut results: Vec<Option<Result<PathBuf>>> = items.iter().map(|_| None).collect();
    let mut going = Vec::new();
    for (i, (v, path)) in items.into_iter().enumerate() {
        let prepared = match health::failing() {
            Some(_) => Err(Error::new(ErrorKind::Server, health::READ_ONLY)),
            None => prepare(&v, &path, at),
        };
        match prepared {
            Ok((target, displaced, pending)) => {
                going.push((i, Going { v, path, target, displaced: Some(displaced), pending }))
            }
            Err(e) => results[i] = Some(v.fail(e)),
        }
    }
    // A group of several files is synced by one `syncfs` before the
    // renames and one after (one journal commit and one cache flush each):
    // per-file fsyncs would each flush the disk's cache.
    // Where `syncfs` does not flush everything (FUSE, NFS, ...), each
    // file is synced on its own instead.
    let whole = going.len() > 1 && going.first().is_some_and(|(_, g)| syncfs_flushes(&g.v.up.part));
    let synced = if whole { sync_whole(&going) } else { sync_trash_dirs(&going) };
    let mut placed = Vec::new();
    for (i, mut g) in going {
        let synced = synced.as_ref().map_err(|e| Error::io(&g.path.to_string(), copy(e)));
        match synced.and_then(|_| sync_and_place(&mut g, at, !whole)) {
            Ok(()) => placed.push((i, g)),
            Err(e) => {
                // Not replaced: its trash entry would be a spare copy.
                if let Some(displaced) = g.displaced.take() {
                    displaced.discard();
                }
                results[i] = Some(g.v.fail(e));
            }
        }
    }
    for (i, result) in sync_dirs(placed, whole, at) {
        results[i] = Some(result);
    }
    results.into_iter().map(|r| r.unwrap_or_else(|| Err(Error::new(ErrorKind::Server, "not committed")))).collect()
}

/// Step 1 for one file: the target, its digest recorded on the verified
/// inode, its store link, what it replaces kept.
fn prepare(v: &Verified, path: &UserPath, at: &Place) -> Result<(PathBuf, Displaced, Option<Pending>)> {
    let what = path.to_string();
    let target = at.tree.file_target(path)?;
    // Recorded before the file is visible: a record that an earlier
    // file with this inode left behind is never read for this one.
    if let Some(time) = v.time {
        v.up.part.set_modified(time).map_err(|e| Error::io(&what, e))?;
    }
    let meta = v.up.part.metadata().map_err(|e| Error::io(&what, e))?;
    at.sums.put(&meta, v.md5).map_err(|e| Error::server(&format!("{what}: digest record"), e))?;
    // Best effort: without it, only a later claim misses.
    let pending = at.store.stage(&v.up.part_path, &v.up.part).ok();
    let displaced = at.replace.displace((at.tree, at.trash, at.sums), path, Some(v.md5))?;
    Ok((target, displaced, pending))
}

/// Step 2 for a group of several files: their data, their trash entries
/// and everything they were made in, synced by one `syncfs`.
fn sync_whole(going: &[(usize, Going)]) -> io::Result<()> {
    going.first().map_or(Ok(()), |(_, g)| sync_fs(&g.v.up.part))
}

/// Steps 2 (unless `synced` already) and 3 for one file: its data and
/// trash entry synced, then the rename.
fn sync_and_place(g: &mut Going, at: &Place, sync: bool) -> Result<()> {
    let what = g.path.to_string();
    let io = |e| Error::io(&what, e);
    if sync {
        fsync(&g.v.up.part).map_err(io)?;
        if let Some(kept) = g.displaced.as_ref().and_then(Displaced::kept_entry) {
            kept.sync_entry().map_err(io)?;
        }
    }
    let Some(displaced) = g.displaced.take() else { return Err(Error::new(ErrorKind::Server, "placed twice")) };
    let old = displaced.settled_if_placed();
    match g.v.up.place(&g.target, old) {
        Ok(()) => {
            displaced.settle(at.sums);
            Ok(())
        }
        Err(e) => {
            displaced.discard();
            Err(e)
        }
    }
}

/// The trash directory that holds the group's new entries, synced once
/// (one user's group: one directory at most). Its entries are synced before
/// it, each with its file, but they were all made in the transaction that
/// the first of those syncs commits.
fn sync_trash_dirs(going: &[(usize, Going)]) -> io::Result<()> {
    let kept = going.iter().filter_map(|(_, g)| g.displaced.as_ref()?.kept_entry());
    let mut dirs: Vec<&Path> = kept.map(Kept::trash_dir).collect();
    dirs.dedup();
    dirs.into_iter().try_for_each(sync_dir)
}

/// A copy of `e` (kind and text) for each file it fails.
fn copy(e: &io::Error) -> io::Error {
    io::Error::new(e.kind(), e.to_string())
}

/// Step 4: each distinct directory fsynced once (a group renamed into
/// several directories: one `syncfs` instead); each file's result.
fn sync_dirs(placed: Vec<(usize, Going)>, whole: bool, at: &Place) -> Vec<(usize, Result<PathBuf>)> {
    let dir_of = |g: &Going| g.target.parent().unwrap_or(Path::new("/")).to_path_buf();
    let mut dirs: Vec<PathBuf> = placed.iter().map(|(_, g)| dir_of(g)).collect();
    dirs.sort_unstable();
    dirs.dedup();
    let failed: Vec<(PathBuf, Option<io::Error>)> = match placed.first() {
        Some((_, g)) if whole && dirs.len() > 1 => {
            let failed = sync_fs(&g.v.up.part).err();
            dirs.into_iter().map(|d| (d, failed.as_ref().map(copy))).collect()
        }
        _ => dirs.into_iter().map(|d| (d.clone(), sync_dir(&d).err())).collect(),
    };
    let mut results = Vec::new();
    for (i, g) in placed {
        let dir = dir_of(&g);
        let failed = failed.iter().find(|(d, _)| *d == dir).and_then(|(_, e)| e.as_ref());
        let result = match failed {
            Some(e) => Err(Error::server(&format!("{}: directory sync after the rename", g.path), copy(e))),
            None => {
                remember(at, g.pending, g.v.size(), g.v.md5);
                Ok(g.target)
            }
        };
        let _ = fs::remove_file(&g.v.up.meta_path);
        let _ = fs::remove_file(&g.v.up.marks_path);
        results.push((i, result));
    }
    results
}

/// A committed file's content becomes its store entry (best effort: a
/// failure only costs a later claim).
fn remember(at: &Place, pending: Option<Pending>, size: u64, md5: Digest) {
    if let Some(pending) = pending {
        let _ = at.store.add(at.user, pending, size, md5, at.sums);
    }
}

impl Upload {
    /// Renames the staged file over `target`, where `old` was (and whether
    /// it went to the trash). With a quota, the user's ledger is locked
    /// from the last check to the booking's return, so no other decision
    /// sees the file twice or not at all; the check is done again because
    /// the user's files may have grown (by a server process that does not
    /// share this ledger). A replaced file is still counted there, as it
    /// may go to the trash.
    fn place(&self, target: &Path, old: Settled) -> Result<()> {
        let rename = || fs::rename(&self.part_path, target).map_err(|e| Error::io(&self.meta.path, e));
        let Some(booked) = &self.booked else { return rename() };
        let mut ledger = booked.reservation.account().lock();
        let besides = self.staged_besides(&ledger).plus(ledger.booked_except(Some(&booked.reservation)));
        let size = self.booked_size(self.meta.size);
        let mut counted = booked.quota.check(&mut ledger, size, besides, &self.meta.path)?;
        rename()?;
        ledger.release(&booked.reservation);
        if counted.changed(size, old.freed_usage()).is_err() {
            // Counted again at the next decision rather than trusted low.
            ledger.counted_at = None;
        }
        Ok(())
    }
}
