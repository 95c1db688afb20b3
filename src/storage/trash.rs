//! Each user's trash: what `rm` removed and what replacements displaced.
//!
//! Layout: `trash/USER/ID/info` (a small text record: original user path,
//! type, size, removal time in nanoseconds) and `trash/USER/ID/item` (the
//! file or directory itself). Every step that moves user data is one
//! `rename` (or, for a replaced file, one hard link made before the new
//! file is renamed over the old one), so after a crash at any moment an
//! item is either where it was or where it went:
//!
//! - `rm` writes and syncs `info` first, then renames the item into `item`.
//!   An entry without `item` is incomplete: ignored, and cleaned later.
//! - `restore` renames `item` out (never over an existing path, with
//!   [`rename_noreplace`]), then removes the entry.
//! - `purge` renames the entry to a hidden `.purge-ID` (gone at once), then
//!   deletes it; leftovers are deleted by the sweeper.
//!
//! This module never recurses by tree depth: every walk keeps its own stack.
//! It never touches anything outside the user's trash directory except the
//! one item it moves in or out of the user's tree.

use std::fs::{self, File, Metadata};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::storage::digests::Sums;
pub(crate) use crate::storage::durable::rename_noreplace;
use crate::storage::durable::{fsync, remove_tree, sync_dir, sync_parent};
use crate::storage::error::{Error, ErrorKind, Result};
use crate::storage::links::{copy_from, too_many_links};
use crate::storage::props;
use crate::storage::quota::{Quota, at_once};
use crate::storage::tree::{Kind, Tree, UserPath};
use crate::storage::usage::Usage;
use crate::storage::{DataDir, PURGING};

/// Incomplete entries and `.purge-*` leftovers younger than this may belong
/// to a request in progress (possibly in another process): the periodic
/// sweep leaves them alone; the sweep at start-up does not wait.
const SETTLE: Duration = Duration::from_secs(600);
const NS_PER_DAY: u128 = 86_400 * 1_000_000_000;

/// What `info` records about an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Info {
    pub path: String,
    pub kind: Kind,
    pub size: u64,
    /// Files and directories of the item, itself included (`entries N`,
    /// recorded for a directory; `None` in an older record: walked).
    pub entries: Option<u64>,
    /// Nanoseconds since 1970.
    pub deleted: u128,
}

impl Info {
    fn to_text(&self) -> String {
        let t = if self.kind == Kind::Dir { 'd' } else { 'f' };
        let entries = self.entries.map_or(String::new(), |n| format!("entries {n}\n"));
        format!(
            "netdisk-trash v1\ntype {t}\nsize {}\n{entries}deleted {}\npath {}\n",
            self.size, self.deleted, self.path
        )
    }

    fn parse(text: &str) -> Option<Info> {
        let mut lines = text.lines();
        if lines.next()? != "netdisk-trash v1" {
            return None;
        }
        let (mut kind, mut size, mut deleted, mut path, mut entries) = (None, None, None, None, None);
        for line in lines {
            let (key, value) = line.split_once(' ')?;
            match key {
                "type" => kind = Some(if value == "d" { Kind::Dir } else { Kind::File }),
                "size" => size = value.parse().ok(),
                "deleted" => deleted = value.parse().ok(),
                "entries" => entries = value.parse().ok(),
                "path" => path = Some(value.to_string()),
                _ => {}
            }
        }
        Some(Info { path: path?, kind: kind?, size: size?, entries, deleted: deleted? })
    }

    /// The item of the `trash` listing.
    fn item(&self, id: &str) -> TrashItem {
        let kind = self.kind;
        let deleted = (self.deleted / 1_000_000_000) as u64;
        TrashItem { id: id.to_string(), kind, size: self.size, deleted, path: self.path.clone() }
    }
}

/// One entry of a user's trash, as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TrashItem {
    pub(crate) id: String,
    pub(crate) kind: Kind,
    /// Bytes of its files.
    pub(crate) size: u64,
    /// When it was removed, in seconds since 1970.
    pub(crate) deleted: u64,
    /// Where it was, in its user's tree.
    pub(crate) path: String,
}

/// A new entry (`info`, and `item` once linked) whose syncs are still to
/// come.
pub(crate) struct Kept {
    slot: PathBuf,
    info: File,
    trash: PathBuf,
}

impl Kept {
    /// Syncs the entry: `info`, the entry's directory, the trash
    /// directory. The first sync commits the journal transaction holding
    /// the entry's creation and link; the others find it committed.
    pub(crate) fn sync(&self) -> io::Result<()> {
        self.sync_entry()?;
        sync_dir(&self.trash)
    }

    /// Syncs `info` and the entry's directory, not the trash directory
    /// (a group of entries syncs that once, see [`Kept::trash_dir`]).
    pub(crate) fn sync_entry(&self) -> io::Result<()> {
        fsync(&self.info)?;
        sync_dir(&self.slot)
    }

    /// The trash directory that holds the entry.
    pub(crate) fn trash_dir(&self) -> &Path {
        &self.trash
    }

    /// Takes the entry back, for a file that was not replaced after all:
    /// the item first, so that what a crash leaves is an entry without an
    /// item (invisible, swept).
    pub(crate) fn discard(self) {
        let _ = fs::remove_file(self.slot.join("item"));
        let _ = fs::remove_file(self.slot.join("info"));
        let _ = fs::remove_dir(&self.slot);
    }
}

/// One user's trash directory and the retention that applies to it.
#[derive(Clone, Debug)]
pub(crate) struct Trash {
    dir: PathBuf,
    /// Days an entry is kept; 0 means no trash (removals delete at once).
    days: u64,
}

impl Trash {
    /// The trash of `user`.
    pub(crate) fn new(data: &DataDir, user: &str, days: u64) -> Trash {
        Trash { dir: data.trash(user), days }
    }

    fn entry(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    /// `rm`: moves a file or a whole directory of `tree` into the trash by
    /// one rename (or deletes it, with no trash), and syncs both sides.
    /// The caller holds the user's replace lock (`storage::replace`):
    /// nothing moves into a directory while it goes.
    pub(crate) fn remove(&self, tree: &Tree, path: &UserPath, sums: &Sums) -> Result<()> {
        if path.is_root() {
            return Err(Error::new(ErrorKind::Refused, "/: cannot remove the top directory"));
        }
        let what = path.to_string();
        let io = |e| Error::io(&what, e);
        let entry = tree.entry(path)?;
        let real = tree.checked(path)?;
        if self.days == 0 {
            let hidden = self.hidden_slot().map_err(io)?;
            props::forget(&real).map_err(io)?;
            fs::rename(&real, &hidden).map_err(io)?;
            sync_parent(&real).map_err(io)?;
            let _ = remove_tree(&hidden, |m| sums.forget(m));
            return Ok(());
        }
        let (size, entries) = match entry.kind {
            Kind::Dir => held_under(&real).into(),
            Kind::File => (entry.size, None),
        };
        let mut info = Info { path: what.clone(), kind: entry.kind, size, entries, deleted: now_ns() };
        let slot = self.new_entry(&info).map_err(io)?;
        props::to_trash(&real, &slot).map_err(io)?;
        fs::rename(&real, slot.join("item")).map_err(io)?;
        // What went in is what counts: measured in the trash, where
        // nothing can move into it any more.
        let moved = held_under(&slot.join("item"));
        let entries = (entry.kind == Kind::Dir).then_some(moved.entries);
        if moved.bytes != info.size || entries != info.entries {
            (info.size, info.entries) = (moved.bytes, entries);
            rewrite_info(&slot, &info).map_err(io)?;
        }
        sync_dir(&slot).and_then(|_| sync_parent(&real)).map_err(io)
    }

    /// Keeps the file at `real` (user path `what`), about to be replaced,
    /// in a new entry: a hard link, or a byte copy when its inode is at the
    /// link limit. Nothing is synced yet (see [`Kept::sync`]); `None` with
    /// no trash. Only `storage::replace` calls it, holding the
    /// user's replace lock.
    pub(crate) fn stage_kept(&self, real: &Path, what: &str, sums: &Sums) -> Result<Option<Kept>> {
        if self.days == 0 {
            return Ok(None);
        }
        let io = |e| Error::io(what, e);
        let file = File::open(real).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        let info =
            Info { path: what.to_string(), kind: Kind::File, size: meta.len(), entries: None, deleted: now_ns() };
        let kept = self.make_entry(&info).map_err(io)?;
        let item = kept.slot.join("item");
        let linked = match fs::hard_link(real, &item) {
            Err(e) if too_many_links(&e) => copy_from(&file, &item, sums).map(|_| ()),
            other => other,
        };
        if let Err(e) = linked {
            kept.discard();
            return Err(io(e));
        }
        Ok(Some(kept))
    }

    /// Makes `ID/` with its `info`, synced, and returns it.
    fn new_entry(&self, info: &Info) -> io::Result<PathBuf> {
        let kept = self.make_entry(info)?;
        kept.sync()?;
        Ok(kept.slot)
    }

    /// Makes `ID/` with its `info`, not synced.
    fn make_entry(&self, info: &Info) -> io::Result<Kept> {
        fs::create_dir_all(&self.dir)?;
        let slot = loop {
            let slot = self.entry(&new_id(info.deleted)?);
            match fs::create_dir(&slot) {
                Ok(()) => break slot,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        };
        let mut file = File::create(slot.join("info"))?;
        file.write_all(info.to_text().as_bytes())?;
        Ok(Kept { slot, info: file, trash: self.dir.clone() })
    }

    /// A fresh hidden name in the trash directory for something being
    /// deleted.
    fn hidden_slot(&self) -> io::Result<PathBuf> {
        fs::create_dir_all(&self.dir)?;
        Ok(self.dir.join(format!("{PURGING}{}", new_id(now_ns())?)))
    }

    /// The complete entries, newest first (by exact removal time), at most
    /// `max` of them (`550 too many entries` beyond).
    pub(crate) fn list(&self, max: usize) -> Result<Vec<TrashItem>> {
        let mut found = Vec::new();
        for entry in self.entries() {
            let (id, info) = entry.map_err(|e| Error::server("trash entry", e))?;
            if found.len() >= max {
                return Err(Error::new(ErrorKind::Refused, "too many entries"));
            }
            found.push((info.deleted, id, info));
        }
        found.sort_by(|a, b| (b.0, &b.1).cmp(&(a.0, &a.1)));
        Ok(found.into_iter().map(|(_, id, info)| info.item(&id)).collect())
    }

    /// Complete entries (with both `info` and `item`), in directory order;
    /// an entry that could not be read is an error, never left out.
    fn entries(&self) -> impl Iterator<Item = io::Result<(String, Info)>> + '_ {
        let items = fs::read_dir(&self.dir).into_iter().flatten().flatten();
        items.filter_map(|item| {
            let id = item.file_name().into_string().ok()?;
            if !valid_id(&id) {
                return None;
            }
            let info = match self.info(&id) {
                Ok(info) => info?,
                Err(e) => return Some(Err(e)),
            };
            match fs::symlink_metadata(self.entry(&id).join("item")) {
                Ok(_) => Some(Ok((id, info))),
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => Some(Err(e)),
            }
        })
    }

    /// The entry's record: `None` when there is none or it is not whole
    /// (an entry cut short); an error when it could not be read.
    fn info(&self, id: &str) -> io::Result<Option<Info>> {
        match fs::read_to_string(self.entry(id).join("info")) {
            Ok(text) => Ok(Info::parse(&text)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The record of the entry `id`: `550` if there is none, `451` if it
    /// could not be read.
    fn info_of(&self, id: &str) -> Result<Info> {
        let missing = || Error::new(ErrorKind::NotFound, format!("{id}: no such entry in the trash"));
        if !valid_id(id) {
            return Err(missing());
        }
        self.info(id).map_err(|e| Error::server(&format!("trash entry {id}"), e))?.ok_or_else(missing)
    }

    /// `restore ID [PATH]`: puts the item back at its original path, or at
    /// `to`, making missing parents, each booked as an entry against
    /// `quota` (the item itself is counted already, in the trash); never
    /// over an existing path. The item is placed by `put_new` (the commit
    /// primitive's `Replace::put_new`, under the user's replace lock).
    pub(crate) fn restore(
        &self,
        put_new: impl FnOnce(&Path, &Path) -> io::Result<()>,
        tree: &Tree,
        id: &str,
        to: Option<UserPath>,
        quota: Option<Quota>,
    ) -> Result<UserPath> {
        let info = self.info_of(id)?;
        let target = match to {
            Some(t) => t,
            None => UserPath::root().resolve(&info.path)?,
        };
        if target.is_root() {
            return Err(Error::new(ErrorKind::Exists, "/: exists already"));
        }
        let slot = self.entry(id);
        tree.fits_placed(&slot.join("item"), &target)?;
        let parents = tree.missing_dirs(&target.parent())?;
        at_once(quota, Usage::new(0, parents), &target.to_string(), || {
            let made = make_parents(tree, &target)?;
            self.put_back(put_new, tree, id, &target)?;
            Ok(((), Usage::new(0, made)))
        })?;
        Ok(target)
    }

    /// Renames the item of `id` to `target`, whose parent exists, then
    /// removes the entry.
    fn put_back(
        &self,
        put_new: impl FnOnce(&Path, &Path) -> io::Result<()>,
        tree: &Tree,
        id: &str,
        target: &UserPath,
    ) -> Result<()> {
        let missing = || Error::new(ErrorKind::NotFound, format!("{id}: no such entry in the trash"));
        let what = target.to_string();
        let slot = self.entry(id);
        let real = tree.checked(target)?;
        match put_new(&slot.join("item"), &real) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound && fs::symlink_metadata(slot.join("item")).is_err() => {
                return Err(missing());
            }
            Err(e) => return Err(Error::io(&what, e)),
        }
        let io = |e| Error::io(&what, e);
        props::from_trash(&slot, &real).map_err(io)?;
        sync_dir(&slot).map_err(io)?;
        let _ = fs::remove_file(slot.join("info"));
        let _ = fs::remove_dir(&slot);
        let _ = sync_dir(&self.dir);
        Ok(())
    }

    /// `purge ID`: the entry disappears at once (one rename), then is deleted.
    pub(crate) fn purge(&self, id: &str, sums: &Sums) -> Result<()> {
        let missing = || Error::new(ErrorKind::NotFound, format!("{id}: no such entry in the trash"));
        self.info_of(id)?;
        let hidden = self.hidden_slot().map_err(|e| Error::io(id, e))?;
        match fs::rename(self.entry(id), &hidden) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(missing()),
            Err(e) => return Err(Error::io(id, e)),
        }
        // Gone once this sync says so; deleted after (a leftover is swept).
        sync_dir(&self.dir).map_err(|e| Error::server(&format!("trash entry {id}"), e))?;
        let _ = remove_tree(&hidden, |m| sums.forget(m));
        Ok(())
    }

    /// `purge all`: purges every entry, complete or not.
    pub(crate) fn purge_all(&self, sums: &Sums) -> Result<()> {
        for id in self.ids() {
            match self.purge(&id, sums) {
                Ok(()) | Err(Error { kind: ErrorKind::NotFound, .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn ids(&self) -> Vec<String> {
        let items = fs::read_dir(&self.dir).into_iter().flatten().flatten();
        items.filter_map(|i| i.file_name().into_string().ok()).filter(|id| valid_id(id)).collect()
    }

    /// Bytes of every file in the trash (counted in the quota), as
    /// recorded in each entry: an item never changes once in the trash.
    /// Entries: each file and directory of every item (a removed
    /// directory counts with everything in it), as recorded, or walked
    /// for an older record without the count.
    pub(crate) fn usage(&self) -> Usage {
        let each = self.entries().flatten().map(|(id, info)| {
            let entries = match (info.kind, info.entries) {
                (Kind::File, _) => 1,
                (Kind::Dir, Some(n)) => n,
                (Kind::Dir, None) => held_under(&self.entry(&id).join("item")).entries,
            };
            Usage::new(info.size, entries)
        });
        each.fold(Usage::default(), Usage::plus)
    }

    /// Deletes expired entries, and leftovers of interrupted requests
    /// (incomplete entries, `.purge-*`) older than `settle`. Returns how
    /// many it deleted.
    fn sweep(&self, settle: Duration, sums: &Sums) -> usize {
        let mut removed = 0;
        let now = now_ns();
        for name in
            fs::read_dir(&self.dir).into_iter().flatten().flatten().filter_map(|i| i.file_name().into_string().ok())
        {
            let path = self.entry(&name);
            let settled = age(&path).is_some_and(|a| a >= settle);
            // Only what was read whole decides: an entry whose `info` or
            // `item` could not be looked at (EMFILE, EIO) is left alone.
            let Ok(info) = valid_id(&name).then(|| self.info(&name)).transpose().map(Option::flatten) else {
                continue;
            };
            let item = match fs::symlink_metadata(path.join("item")) {
                Ok(_) => true,
                Err(e) if e.kind() == io::ErrorKind::NotFound => false,
                Err(_) => continue,
            };
            // An item without a whole `info` is an entry cut short before
            // its sync (the file it links is still at its path): incomplete.
            let complete = info.is_some() && item;
            let expired =
                info.as_ref().is_some_and(|i| now.saturating_sub(i.deleted) >= self.days as u128 * NS_PER_DAY);
            if complete && expired && self.purge(&name, sums).is_ok() {
                removed += 1;
            } else if settled && (name.starts_with(PURGING) || (valid_id(&name) && !complete)) {
                let _ = remove_tree(&path, |m| sums.forget(m));
                removed += 1;
            }
        }
        removed
    }
}

/// Replaces the `info` of the entry `slot` by `info`, atomically and
/// synced (the directory is synced by the caller).
fn rewrite_info(slot: &Path, info: &Info) -> io::Result<()> {
    let tmp = slot.join("info.new");
    let mut file = File::create(&tmp)?;
    file.write_all(info.to_text().as_bytes())?;
    fsync(&file)?;
    fs::rename(&tmp, slot.join("info"))
}

/// Sweeps every user's trash; `first` is the pass at start-up, which also
/// deletes fresh leftovers.
pub(crate) fn sweep(data: &DataDir, days: u64, first: bool, sums: &Sums) -> usize {
    let settle = if first { Duration::ZERO } else { SETTLE };
    let users = fs::read_dir(data.trashes()).into_iter().flatten().flatten();
    let names = users.filter_map(|u| u.file_name().into_string().ok());
    names.map(|user| Trash::new(data, &user, days).sweep(settle, sums)).sum()
}

/// How long ago `path` was last changed.
fn age(path: &Path) -> Option<Duration> {
    let modified = fs::symlink_metadata(path).ok()?.modified().ok()?;
    Some(SystemTime::now().duration_since(modified).unwrap_or_default())
}

/// An ID is 1 to 32 of `0-9 a-z`, never `all`.
fn valid_id(id: &str) -> bool {
    (1..=32).contains(&id.len()) && id != "all" && id.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
}

/// Base 36 of the removal time, then four random base-36 characters.
fn new_id(ns: u128) -> io::Result<String> {
    let mut random = [0u8; 4];
    getrandom::fill(&mut random).map_err(io::Error::other)?;
    let mut id = base36(ns);
    id.extend(random.iter().map(|b| char::from(DIGITS[(*b % 36) as usize])));
    Ok(id)
}

const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

fn base36(mut n: u128) -> String {
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

fn now_ns() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

/// Makes the missing parents of `target`; a file in the way is `550`.
fn make_parents(tree: &Tree, target: &UserPath) -> Result<u64> {
    let mut made = 0;
    let mut chain = Vec::new();
    let mut p = target.parent();
    while !p.is_root() {
        chain.push(p.clone());
        p = p.parent();
    }
    for dir in chain.into_iter().rev() {
        match tree.entry(&dir) {
            Ok(e) if e.kind == Kind::Dir => continue,
            Ok(_) => return Err(Error::new(ErrorKind::Refused, format!("{dir}: a file is in the way"))),
            Err(Error { kind: ErrorKind::NotFound, .. }) => {}
            Err(e) => return Err(e),
        }
        match tree.create_dir(&dir) {
            Ok(()) => made += 1,
            Err(Error { kind: ErrorKind::Exists, .. }) => {}
            Err(e) => return Err(e),
        }
        if tree.entry(&dir)?.kind != Kind::Dir {
            return Err(Error::new(ErrorKind::Refused, format!("{dir}: a file is in the way")));
        }
    }
    Ok(made)
}

/// Bytes of the regular files at or under `top`, walked with a stack of
/// its own, never following links.
/// Bytes of the files at and under `top`, and how many files and
/// directories are there, `top` included.
pub(crate) fn held_under(top: &Path) -> Usage {
    let mut held = Usage::default();
    walk(top, |_, meta| {
        held.entries += 1;
        if meta.is_file() {
            held.bytes += meta.len();
        }
    });
    held
}

/// Calls `each` for `top` and everything under it, parents before
/// children, without recursion and without following links.
fn walk(top: &Path, mut each: impl FnMut(&Path, &Metadata)) {
    let Ok(meta) = fs::symlink_metadata(top) else { return };
    each(top, &meta);
    let mut dirs = if meta.is_dir() { vec![top.to_path_buf()] } else { Vec::new() };
    while let Some(dir) = dirs.pop() {
        for item in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let Ok(meta) = item.metadata() else { continue };
            let path = item.path();
            each(&path, &meta);
            if meta.is_dir() {
                dirs.push(path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_round_trips_and_ids_are_valid() {
        let info = Info {
            path: "/a b/c".into(),
            kind: Kind::Dir,
            size: 7,
            entries: Some(3),
            deleted: 1_700_000_000_123_456_789,
        };
        assert_eq!(Info::parse(&info.to_text()), Some(info.clone()));
        let older = info.to_text().replace("entries 3\n", "");
        assert_eq!(Info::parse(&older), Some(Info { entries: None, ..info }), "a record from before 2.1");
        let id = new_id(now_ns()).unwrap();
        assert!(valid_id(&id), "{id}");
        assert!(!valid_id("all") && !valid_id("") && !valid_id("A1") && !valid_id(&"1".repeat(33)));
        assert_eq!(base36(35), "z");
        assert_eq!(base36(36), "10");
    }

    #[test]
    fn deletes_a_deep_tree_without_recursion() {
        let top = std::env::temp_dir().join(format!("netdisk-trash-deep-{}", std::process::id()));
        let mut at = top.clone();
        for _ in 0..1500 {
            at.push("d");
        }
        fs::create_dir_all(&at).unwrap();
        fs::write(at.join("f"), b"x").unwrap();
        assert_eq!(held_under(&top), Usage::new(1, 1502), "the top, 1500 directories, one file");
        let _ = remove_tree(&top, |_| {});
        assert!(!top.exists());
    }
}
