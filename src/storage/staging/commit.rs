//! The commit of verified uploads, one or a group at a time (a group is a
//! run of uploads pipelined on one connection, see `server::group`).
//!
//! A group is committed in four steps, so that two syncs cover all its
//! files instead of two to four per file:
//!
//! 1. each file: its target checked in the jail, its digest recorded, and
//!    the file it replaces linked into a new trash entry (nothing synced);
//! 2. for a group of several files, one `syncfs` of the file system (the
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
//! failed sync fails every file it covered.
//! A file that fails a step is left out of the later ones; its staged
//! bytes are kept for a resume (discarded when over the quota).

use super::*;
use crate::storage::durable::{start_writeback, sync_dir, sync_fs, syncfs_flushes};
use crate::storage::trash::{Kept, Trash};

/// An upload whose bytes match their MD5, waiting for its commit.
pub(crate) struct Verified {
    up: Upload,
    md5: Digest,
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
        Ok(Verified { up: self, md5: got })
    }
}

impl Verified {
    pub(crate) fn md5(&self) -> Digest {
        self.md5
    }

    pub(crate) fn size(&self) -> u64 {
        self.up.meta.size
    }

    /// The staged file (one per user path: a group never holds two).
    pub(crate) fn part_path(&self) -> &Path {
        &self.up.part_path
    }

    /// Gives up on this commit: the staged bytes stay for a resume, unless
    /// the quota no longer allows them.
    fn fail(mut self, e: Error) -> Result<PathBuf> {
        if e.kind() == ErrorKind::Quota {
            self.up.discard();
        } else {
            let _ = self.up.save();
        }
        Err(e)
    }
}

/// Where the verified uploads of a group go, and what they may use.
pub(crate) struct Place<'a> {
    pub(crate) tree: &'a Tree,
    pub(crate) sums: &'a Sums,
    pub(crate) trash: &'a Trash,
}

/// A file between the steps: its target and its trash entry.
struct Going {
    v: Verified,
    path: UserPath,
    target: PathBuf,
    old: Option<Metadata>,
    /// The new trash entry of `old`, until it is synced.
    kept: Option<Kept>,
    /// Whether `old` is in the trash (then its digest record stays).
    old_kept: bool,
}

/// Commits `items` (each with its user path) in the four steps above;
/// returns, in order, each file's real path or why it failed.
pub(crate) fn commit_group(items: Vec<(Verified, UserPath)>, at: &Place) -> Vec<Result<PathBuf>> {
    let mut results: Vec<Option<Result<PathBuf>>> = items.iter().map(|_| None).collect();
    let mut going = Vec::new();
    for (i, (v, path)) in items.into_iter().enumerate() {
        match prepare(&v, &path, at) {
            Ok((target, old, kept)) => {
                let old_kept = kept.is_some();
                going.push((i, Going { v, path, target, old, kept, old_kept }))
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
                if let Some(kept) = g.kept.take() {
                    kept.discard();
                }
                results[i] = Some(g.v.fail(e));
            }
        }
    }
    for (i, result) in sync_dirs(placed, whole) {
        results[i] = Some(result);
    }
    results.into_iter().map(|r| r.unwrap_or_else(|| Err(Error::new(ErrorKind::Server, "not committed")))).collect()
}

/// Step 1 for one file: the target, what is there, its trash entry.
fn prepare(v: &Verified, path: &UserPath, at: &Place) -> Result<(PathBuf, Option<Metadata>, Option<Kept>)> {
    let what = path.to_string();
    let target = at.tree.file_target(path)?;
    // Recorded before the file is visible: a record that an earlier
    // file with this inode left behind is never read for this one.
    let meta = v.up.part.metadata().map_err(|e| Error::io(&what, e))?;
    at.sums.put(&meta, v.md5).map_err(|e| Error::server(&format!("{what}: digest record"), e))?;
    let old = fs::symlink_metadata(&target).ok();
    let kept = at.trash.stage_replaced(&target, &what, Some(v.md5), at.sums)?;
    Ok((target, old, kept))
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
        g.v.up.part.sync_all().map_err(io)?;
        if let Some(kept) = &g.kept {
            kept.sync_entry().map_err(io)?;
        }
    }
    keep_what_is_there_now(g, at)?;
    let old = g.old.clone().map(|m| (m, g.old_kept));
    g.v.up.place(&g.target, old.clone())?;
    if let Some((old, false)) = old {
        at.sums.forget(&old);
    }
    Ok(())
}

/// If another request (`mv`, `cp`, another session's upload) put a new
/// file at the target since step 1, the trash entry made then keeps the
/// wrong file: it is taken back, and the file there now is kept (synced)
/// before the rename replaces it.
fn keep_what_is_there_now(g: &mut Going, at: &Place) -> Result<()> {
    let now = fs::symlink_metadata(&g.target).ok();
    let id = |m: &Option<Metadata>| m.as_ref().map(|m| (m.dev(), m.ino()));
    if id(&now) == id(&g.old) {
        return Ok(());
    }
    if let Some(kept) = g.kept.take() {
        kept.discard();
    }
    g.old_kept = at.trash.keep_replaced(at.tree, &g.path, Some(g.v.md5), at.sums)?;
    g.old = now;
    Ok(())
}

/// The trash directory that holds the group's new entries, synced once
/// (one user's group: one directory at most). Its entries are synced before
/// it, each with its file, but they were all made in the transaction that
/// the first of those syncs commits.
fn sync_trash_dirs(going: &[(usize, Going)]) -> io::Result<()> {
    let mut dirs: Vec<&Path> = going.iter().flat_map(|(_, g)| &g.kept).map(Kept::trash_dir).collect();
    dirs.dedup();
    dirs.into_iter().try_for_each(sync_dir)
}

/// A copy of `e` (kind and text) for each file it fails.
fn copy(e: &io::Error) -> io::Error {
    io::Error::new(e.kind(), e.to_string())
}

/// Step 4: each distinct directory fsynced once (a group renamed into
/// several directories: one `syncfs` instead); each file's result.
fn sync_dirs(placed: Vec<(usize, Going)>, whole: bool) -> Vec<(usize, Result<PathBuf>)> {
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
            None => Ok(g.target),
        };
        let _ = fs::remove_file(&g.v.up.meta_path);
        let _ = fs::remove_file(&g.v.up.marks_path);
        results.push((i, result));
    }
    results
}

impl Upload {
    /// Renames the staged file over `target`, where `old` was (and whether
    /// it went to the trash). With a quota, the user's ledger is locked
    /// from the last check to the booking's return, so no other decision
    /// sees the file twice or not at all; the check is done again because
    /// the user's files may have grown (by a server process that does not
    /// share this ledger). A replaced file is still counted there, as it
    /// may go to the trash.
    fn place(&self, target: &Path, old: Option<(Metadata, bool)>) -> Result<()> {
        let rename = || fs::rename(&self.part_path, target).map_err(|e| Error::io(&self.meta.path, e));
        let Some(booked) = &self.booked else { return rename() };
        let mut ledger = booked.reservation.account().lock();
        let besides = self.staged_besides(&ledger).saturating_add(ledger.booked_except(Some(&booked.reservation)));
        let mut counted = booked.quota.check(&mut ledger, self.meta.size, besides, &self.meta.path)?;
        rename()?;
        ledger.release(&booked.reservation);
        let replaced = old.as_ref().filter(|(m, kept)| m.is_file() && !kept).map_or(0, |(m, _)| m.len());
        if counted.changed(self.meta.size, replaced).is_err() {
            // Counted again at the next decision rather than trusted low.
            ledger.counted_at = None;
        }
        Ok(())
    }
}
