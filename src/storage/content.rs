//! The content store: committed files findable by size and MD5, for
//! `claim` (instant upload).
//!
//! Layout: `store/MD5-SIZE` is a hard link to a committed file with that
//! content, made when an upload or a claim commits (`link` fails on an
//! existing entry, so the first one is kept). In `--dedup user` mode,
//! `store/users/USER/MD5-SIZE` is a hard link to the file USER committed
//! last with that content, and counts only while USER still holds that
//! inode in their tree or trash (its other links); claims then prove and
//! copy from it, never from another user's file. Everything is in the file system, so two server processes
//! on one data directory share it.
//!
//! An entry is only a hint: before it is used, its size and its recorded
//! digest ([`crate::storage::digests`], computed if missing) are checked, so a stale
//! entry is at worst a miss, never a wrong file. The sweeper deletes
//! entries whose inode has no other link (no user path or trash entry
//! holds the content any more). A claim that links an entry while it is
//! being collected either gets the whole file (its link came first) or
//! finds nothing (`550 not held`); never a broken file.
//!
//! This module never hands out content: it only finds it for the claim
//! handler, which asks for a proof of possession first.

use std::fs::{self, File, Metadata};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::digest::Digest;
use crate::storage::DataDir;
use crate::storage::digests::Sums;
use crate::storage::links::same_inode;

/// Which content counts as held for `claim` (`--dedup`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dedup {
    /// Any user's files and trash.
    Global,
    /// Only content the claimer holds now (tree or trash).
    User,
    /// No claim ever succeeds; no store entries are made.
    Off,
}

impl std::str::FromStr for Dedup {
    type Err = String;
    fn from_str(s: &str) -> Result<Dedup, String> {
        match s {
            "global" => Ok(Dedup::Global),
            "user" => Ok(Dedup::User),
            "off" => Ok(Dedup::Off),
            _ => Err(format!("{s:?}: expected global, user or off")),
        }
    }
}

/// An entry whose inode has this many links gets a new inode at the next
/// add (ext4 allows 65,000): claims then link the new one.
const LINKS_ENOUGH: u64 = 60_000;
/// Temporary names in the store start with this (never an entry name).
const TMP: &str = ".tmp-";
/// Leftover temporary names older than this are removed by the sweeper.
const SETTLE: Duration = Duration::from_secs(600);

/// The content store under `DATA/store`.
pub(crate) struct Store {
    dir: PathBuf,
    /// `store/users`: one directory of markers per user.
    users: PathBuf,
    mode: Dedup,
}

/// Verified content linked into the store under a temporary name,
/// removed when dropped unless [`Store::add`] put it in place.
pub(crate) struct Pending(Option<PathBuf>);

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(tmp) = &self.0 {
            let _ = fs::remove_file(tmp);
        }
    }
}

/// Stored content that matches a claim: an open handle on the inode
/// checked, and the store path it was found at.
pub(crate) struct Held {
    pub(crate) path: PathBuf,
    pub(crate) file: File,
    pub(crate) meta: Metadata,
}

impl Store {
    pub(crate) fn new(data: &DataDir, mode: Dedup) -> Store {
        Store { dir: data.store(), users: data.store_users(), mode }
    }

    pub(crate) fn mode(&self) -> Dedup {
        self.mode
    }

    fn entry(&self, size: u64, md5: Digest) -> PathBuf {
        self.dir.join(format!("{md5}-{size}"))
    }

    fn marker(&self, user: &str, size: u64, md5: Digest) -> PathBuf {
        self.users.join(user).join(format!("{md5}-{size}"))
    }

    /// How many of the store's names for `md5` (its entry, `user`'s
    /// marker) are the inode `meta` describes: links of it that are no
    /// user's path. Nobody sees the times of a store name (a claim makes
    /// its own copy with its own time), so they need no copy of their own.
    pub(crate) fn names_of(&self, user: &str, meta: &Metadata, md5: Digest) -> u64 {
        let names = [self.entry(meta.len(), md5), self.marker(user, meta.len(), md5)];
        names.iter().filter(|p| fs::symlink_metadata(p).is_ok_and(|m| same_inode(&m, meta))).count() as u64
    }

    /// Links verified content into the store, under a temporary name,
    /// before it is committed: `staged` is a name of the inode open as
    /// `file`, whose bytes were verified (an upload's staged file before
    /// its rename). The link is kept only if it is that inode, so what
    /// [`Store::add`] later puts in place never holds other bytes.
    pub(crate) fn stage(&self, staged: &Path, file: &File) -> io::Result<Pending> {
        if self.mode == Dedup::Off {
            return Ok(Pending(None));
        }
        fs::create_dir_all(&self.dir)?;
        let tmp = Pending(Some(self.dir.join(format!("{TMP}{}", random_hex()?))));
        let path = tmp.0.as_deref().unwrap_or(Path::new(""));
        fs::hard_link(staged, path)?;
        if !same_inode(&fs::symlink_metadata(path)?, &file.metadata()?) {
            return Err(io::Error::other("the staged file changed"));
        }
        Ok(tmp)
    }

    /// Remembers the content `pending` holds (`size` bytes, MD5 `md5`),
    /// once it is committed for `user`: it becomes the store entry unless
    /// one exists that still holds the content, and the user's marker is
    /// made. Best effort: a failure only means a later claim misses.
    pub(crate) fn add(&self, user: &str, pending: Pending, size: u64, md5: Digest, sums: &Sums) -> io::Result<()> {
        let Some(tmp) = &pending.0 else { return Ok(()) };
        if size == 0 {
            return Ok(());
        }
        let entry = self.entry(size, md5);
        self.mark(user, size, md5, tmp)?;
        if self.needs(&entry, size, md5, sums) {
            fs::rename(tmp, &entry)?;
        }
        Ok(())
    }

    /// Whether `entry` does not hold the content (missing, changed, or its
    /// inode cannot take one more link): a new inode should take its place.
    fn needs(&self, entry: &Path, size: u64, md5: Digest, sums: &Sums) -> bool {
        let Ok(meta) = fs::symlink_metadata(entry) else { return true };
        meta.nlink() >= LINKS_ENOUGH || !matches(entry, size, md5, sums)
    }

    /// Records that `user` holds the content (`--dedup user`): their
    /// marker becomes a link to `held`, a name of the inode they commit.
    pub(crate) fn mark(&self, user: &str, size: u64, md5: Digest, held: &Path) -> io::Result<()> {
        if self.mode == Dedup::User {
            let marker = self.marker(user, size, md5);
            let dir = marker.parent().unwrap_or(&self.dir);
            fs::create_dir_all(dir)?;
            let tmp = dir.join(format!("{TMP}{}", random_hex()?));
            fs::hard_link(held, &tmp)?;
            let renamed = fs::rename(&tmp, &marker);
            let _ = fs::remove_file(&tmp);
            renamed?;
        }
        Ok(())
    }

    /// Whether the marker (`meta`) names a file its user still holds: an
    /// inode of theirs is linked only from their tree and trash, the
    /// marker and perhaps the store entry (claims and saves make their own
    /// inodes), so any link besides those two is theirs.
    fn still_held(&self, meta: &Metadata, size: u64, md5: Digest) -> bool {
        let entry = fs::metadata(self.entry(size, md5)).ok();
        let by_store = entry.is_some_and(|e| e.dev() == meta.dev() && e.ino() == meta.ino());
        meta.nlink() > 1 + u64::from(by_store)
    }

    /// After a claim of the entry for `size` and `md5` found its inode
    /// `full` at the link limit and copied it to the new inode `fresh`
    /// (open as `file`, its digest recorded): `fresh` takes the entry's
    /// place, so later claims link again.
    pub(crate) fn refresh(&self, full: &Metadata, fresh: &Path, file: &File, size: u64, md5: Digest) {
        let entry = self.entry(size, md5);
        let still = fs::symlink_metadata(&entry).is_ok_and(|m| same_inode(&m, full));
        let Ok(verified) = file.metadata() else { return };
        let Ok(tmp) = random_hex().map(|r| self.dir.join(format!("{TMP}{r}"))) else { return };
        if still && fs::hard_link(fresh, &tmp).is_ok() {
            if fs::symlink_metadata(&tmp).is_ok_and(|m| same_inode(&m, &verified)) {
                let _ = fs::rename(&tmp, &entry);
            }
            let _ = fs::remove_file(&tmp);
        }
    }

    /// The stored content of `size` bytes with MD5 `md5` that `user` may
    /// claim, checked and open; `None` when not held (or `--dedup off`).
    pub(crate) fn find(&self, user: &str, size: u64, md5: Digest, sums: &Sums) -> Option<Held> {
        let path = match self.mode {
            Dedup::Off => return None,
            Dedup::User => self.marker(user, size, md5),
            Dedup::Global => self.entry(size, md5),
        };
        let file = File::open(&path).ok()?;
        let meta = file.metadata().ok()?;
        if !meta.is_file() || meta.len() != size || sums.of_file(&file, &meta).ok()? != md5 {
            return None;
        }
        if self.mode == Dedup::User && !self.still_held(&meta, size, md5) {
            return None;
        }
        Some(Held { path, file, meta })
    }

    /// Deletes entries that nothing else links any more, markers whose
    /// entry is gone, and old temporary names; returns how many entries
    /// went.
    pub(crate) fn sweep(&self, sums: &Sums) -> usize {
        self.sweep_markers();
        let mut removed = 0;
        for item in fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            let name = item.file_name().to_string_lossy().into_owned();
            let Ok(meta) = item.metadata() else { continue };
            if name.starts_with(TMP) && is_old(&meta) {
                let _ = fs::remove_file(item.path());
            } else if !name.starts_with(TMP) && meta.is_file() && meta.nlink() == 1 && collect(&item.path(), sums) {
                removed += 1;
            }
        }
        removed
    }

    /// Markers of content their user no longer holds say nothing any more
    /// (and would keep its inode alive).
    fn sweep_markers(&self) {
        for user in fs::read_dir(&self.users).into_iter().flatten().flatten() {
            if user.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            for marker in fs::read_dir(user.path()).into_iter().flatten().flatten() {
                let name = marker.file_name().to_string_lossy().into_owned();
                let Ok(meta) = marker.metadata() else { continue };
                if name.starts_with(TMP) && !is_old(&meta) {
                    continue;
                }
                let Some((md5, size)) = name.split_once('-') else { continue };
                let content = Digest::from_hex(md5).zip(size.parse::<u64>().ok());
                if content.is_none_or(|(md5, size)| meta.len() != size || !self.still_held(&meta, size, md5)) {
                    let _ = fs::remove_file(marker.path());
                }
            }
        }
    }
}

/// Unlinks one entry whose inode had no other link, and forgets its digest
/// if it was really the last link (a claim may have linked it meanwhile).
fn collect(path: &Path, sums: &Sums) -> bool {
    let Ok(file) = File::open(path) else { return false };
    if fs::remove_file(path).is_err() {
        return false;
    }
    if let Ok(meta) = file.metadata()
        && meta.nlink() == 0
    {
        sums.forget(&meta);
    }
    true
}

/// Whether the file at `path` has `size` bytes and MD5 `md5` (recorded
/// from a verified inode, or computed and recorded).
fn matches(path: &Path, size: u64, md5: Digest, sums: &Sums) -> bool {
    let Ok(file) = File::open(path) else { return false };
    let Ok(meta) = file.metadata() else { return false };
    meta.is_file() && meta.len() == size && sums.of_file(&file, &meta).is_ok_and(|d| d == md5)
}

fn is_old(meta: &Metadata) -> bool {
    let age = meta.modified().ok().and_then(|t| SystemTime::now().duration_since(t).ok());
    age.is_some_and(|a| a > SETTLE)
}

/// 16 random hex digits, for temporary names.
pub(crate) fn random_hex() -> io::Result<String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(io::Error::other)?;
    Ok(hex::encode(bytes))
}
