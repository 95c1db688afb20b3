//! `makedirs`, and copies that cost nothing.
//!
//! Committed files are never changed in place (an upload renames a new
//! inode over its path), so a copy shares storage with its source by hard
//! links: no data is read or written, and the copy keeps the source's
//! inode, size, mtime and recorded MD5. Only when an inode has too many
//! links (`EMLINK`) is a file copied byte for byte, with its mtime set to
//! the source's.
//!
//! A copy is built outside the user's visible tree, in a scratch directory
//! `staging/USER/cp-RANDOM/` on the same file system, which the copy holds
//! locked (`flock`) while it works; it then appears at its target with one
//! rename. A crash leaves only the scratch directory, which
//! [`remove_leftover`] (called by the sweeper) deletes once no copy holds
//! it. Walks use an explicit stack, never recursion by depth. Nothing here
//! may change a file that is shared: mtimes are only set on new inodes.

use std::fs::{self, File, Metadata};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::storage::digests::Sums;
use crate::storage::durable::{remove_tree, sync_dir};
use crate::storage::error::{Error, ErrorKind, Result};
use crate::storage::links::{copy_from, too_many_links};
use crate::storage::props;
use crate::storage::quota::{Quota, at_once};
use crate::storage::tree::{Kind, Tree, UserPath, check_name};
use crate::storage::usage::Usage;

/// Names of scratch directories under `staging/USER/`.
pub(crate) const SCRATCH_PREFIX: &str = "cp-";
/// Longest real path the kernel takes (Linux `PATH_MAX`, with its NUL).
const PATH_MAX: usize = 4096;
/// A scratch directory without a lock is removed once it is this old; the
/// lock is taken right after it is made, so this only covers that instant.
const LEFTOVER_AGE: Duration = Duration::from_secs(60);

/// What a copy will create, found by walking its source before any change.
#[derive(Debug)]
pub(crate) struct Plan {
    pub kind: Kind,
    /// Bytes of every file copied and how many files and directories (the
    /// copy's top included): what the copy adds to the quota.
    pub size: Usage,
    /// Whether a file is at the target (kept in the trash when replaced:
    /// one entry more).
    pub replaces: bool,
    /// Bytes of the longest path below the source, relative to it.
    pub deepest: usize,
}

impl Plan {
    /// What the copy books: what it copies, and the trash entry of the
    /// file it replaces.
    pub(crate) fn booked(&self) -> Usage {
        self.size.plus(Usage::new(0, u64::from(self.replaces)))
    }

    /// What `built` places, by the same rule, measured on the copy.
    pub(crate) fn placed(&self, built: &Built) -> Usage {
        built.size.plus(Usage::new(0, u64::from(self.replaces)))
    }
}

impl Tree {
    /// `makedirs`: makes `p` and its missing parents, booked against
    /// `quota` as one entry each (refused with [`ErrorKind::Quota`] at the
    /// user's limit, making nothing); an existing directory is success, a
    /// file (or anything else) in the way is refused.
    pub(crate) fn makedirs(&self, p: &UserPath, quota: Option<Quota>) -> Result<()> {
        let booked = self.missing_dirs(p)?;
        at_once(quota, Usage::new(0, booked), &p.to_string(), || {
            // Counted again under the ledger: what is made is what was checked.
            if self.missing_dirs(p)? > booked {
                return Err(Error::new(ErrorKind::Quota, format!("{p}: changed while booking; try again")));
            }
            let made = self.make_missing_dirs(p)?;
            Ok(((), Usage::new(0, made)))
        })
    }

    /// Makes `p` and its missing parents, unbooked; returns how many it
    /// made.
    fn make_missing_dirs(&self, p: &UserPath) -> Result<u64> {
        let mut real = self.checked(&UserPath::root())?;
        let mut made = 0;
        let mut shown = String::new();
        for name in p.to_string().split('/').filter(|n| !n.is_empty()) {
            shown = format!("{shown}/{name}");
            let parent = real.clone();
            real.push(name);
            match fs::symlink_metadata(&real) {
                Ok(m) if m.is_dir() => continue,
                Ok(_) => return Err(Error::new(ErrorKind::Refused, format!("{shown}: a file is in the way"))),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(&shown, e)),
            }
            match fs::create_dir(&real) {
                Ok(()) => {
                    made += 1;
                    sync_dir(&parent).map_err(|e| Error::io(&shown, e))?
                }
                // Made meanwhile by another session: fine if a directory.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && real.is_dir() && !real.is_symlink() => {}
                Err(e) => return Err(Error::io(&shown, e)),
            }
        }
        Ok(made)
    }

    /// Checks a copy against the rules of `mv` and walks its source.
    pub(crate) fn plan_copy(&self, from: &UserPath, to: &UserPath) -> Result<Plan> {
        let source = self.entry(from)?;
        if to.is_within(from) {
            return Err(Error::new(ErrorKind::Refused, format!("{to}: is or is inside {from}")));
        }
        let replaces = match self.entry(to) {
            Ok(e) if e.kind == Kind::Dir => {
                return Err(Error::new(ErrorKind::Exists, format!("{to}: is an existing directory")));
            }
            Ok(_) if source.kind == Kind::Dir => {
                return Err(Error::new(ErrorKind::Exists, format!("{to}: is an existing file")));
            }
            Ok(_) => true,
            Err(Error { kind: ErrorKind::NotFound, .. }) => false,
            Err(e) => return Err(e),
        };
        self.dir(&to.parent())?;
        if source.kind == Kind::File {
            return Ok(Plan { kind: Kind::File, size: Usage::new(source.size, 1), replaces, deepest: 0 });
        }
        let real = self.checked(from)?;
        let (size, deepest) = measure(&real).map_err(|e| Error::io(&from.to_string(), e))?;
        Ok(Plan { kind: Kind::Dir, size, replaces, deepest })
    }

    /// Refuses a copy whose deepest path would be longer than the kernel
    /// takes, at its target or while it is built in `staging`.
    // Once the path-length rule of the tree walks is in, this follows it.
    pub(crate) fn check_copy_length(&self, to: &UserPath, plan: &Plan, staging: &Path) -> Result<()> {
        let below = if plan.deepest > 0 { plan.deepest + 1 } else { 0 };
        self.fits(to, below)?;
        let staging = std::path::absolute(staging).map_err(|e| Error::server("staging", e))?;
        let scratch = staging.as_os_str().len() + "/cp-0123456789abcdef/c".len() + below;
        if scratch >= PATH_MAX {
            return Err(Error::new(ErrorKind::BadName, "path too long"));
        }
        Ok(())
    }

    /// Builds a copy of `from` (checked by [`Tree::plan_copy`]) in a
    /// scratch directory under `staging`, for the caller to put in place
    /// with one rename through [`crate::storage::replace::Replace::put`].
    /// The bytes it holds are measured on the copy itself: what is placed
    /// is what gets booked, whatever moved into the source meanwhile.
    pub(crate) fn build_copy(&self, from: &UserPath, plan: &Plan, staging: &Path, sums: &Sums) -> Result<Built> {
        let io = |e| Error::io(&from.to_string(), e);
        let source = self.checked(from)?;
        Built::new(&source, plan.kind, staging, sums).map_err(io)
    }
}

/// A copy built in its scratch directory, waiting to be put in place.
pub(crate) struct Built {
    _scratch: Scratch,
    /// The copy (a file or a tree).
    pub(crate) path: PathBuf,
    /// Bytes of the files it holds, and how many files and directories.
    pub(crate) size: Usage,
    /// Its recorded MD5 (a file's, when recorded).
    pub(crate) md5: Option<crate::digest::Digest>,
}

impl Built {
    /// Copies `source` (a `kind`) into a new scratch directory of `staging`.
    pub(crate) fn new(source: &Path, kind: Kind, staging: &Path, sums: &Sums) -> io::Result<Built> {
        let scratch = Scratch::new(staging)?;
        let path = scratch.dir.join("c");
        let (size, md5) = match kind {
            Kind::File => {
                share_file(source, &path, sums)?;
                let meta = fs::symlink_metadata(&path)?;
                (Usage::new(meta.len(), 1), sums.get(&meta))
            }
            Kind::Dir => (copy_tree(source, &path, sums)?, None),
        };
        Ok(Built { _scratch: scratch, path, size, md5 })
    }
}

/// Bytes of the files below `dir`, how many files and directories a copy
/// of it makes (`dir` included), and the length of the longest relative
/// path there, walked with an explicit stack.
pub(crate) fn measure(dir: &Path) -> io::Result<(Usage, usize)> {
    let (mut bytes, mut entries, mut deepest) = (0u64, 1u64, 0usize);
    let mut stack = vec![(dir.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        for item in fs::read_dir(&dir)? {
            let item = item?;
            let Some(name) = visible_name(&item) else { continue };
            let length = if depth == 0 { name.len() } else { depth + 1 + name.len() };
            let kind = item.file_type()?;
            if kind.is_dir() {
                deepest = deepest.max(length);
                entries += 1;
                stack.push((item.path(), length));
            } else if kind.is_file() {
                deepest = deepest.max(length);
                entries += 1;
                bytes = bytes.saturating_add(item.metadata()?.len());
            }
        }
    }
    Ok((Usage::new(bytes, entries), deepest))
}

/// The name of a directory entry if the tree shows it (as `ls` does).
fn visible_name(item: &fs::DirEntry) -> Option<String> {
    let name = item.file_name().into_string().ok()?;
    // Dead properties (see `props`) are copied with their folder.
    (check_name(&name).is_ok() || name == props::HIDDEN).then_some(name)
}

/// One step of a tree copy: fill a new directory, or, once everything in
/// it is done, give it its source's mtime.
enum Step {
    Enter(PathBuf, PathBuf),
    Seal(PathBuf, SystemTime),
}

/// Makes a copy of the directory `source` at `target` (which must not
/// exist): directories made, files hard-linked. Returns the bytes of the
/// files it holds, each measured on its new link (what was copied, not
/// what a walk saw before), and how many files and directories it made. Nothing is flushed here: the rename that puts
/// the copy in place is followed by a directory sync.
pub(crate) fn copy_tree(source: &Path, target: &Path, sums: &Sums) -> io::Result<Usage> {
    let mut made = Usage::default();
    let mut stack = vec![Step::Enter(source.to_path_buf(), target.to_path_buf())];
    while let Some(step) = stack.pop() {
        match step {
            Step::Enter(from, to) => {
                let mtime = fs::symlink_metadata(&from)?.modified()?;
                fs::create_dir(&to)?;
                made.entries += 1;
                stack.push(Step::Seal(to.clone(), mtime));
                for item in fs::read_dir(&from)? {
                    let item = item?;
                    let Some(name) = visible_name(&item) else { continue };
                    let kind = item.file_type()?;
                    if kind.is_dir() {
                        stack.push(Step::Enter(item.path(), to.join(&name)));
                    } else if kind.is_file() {
                        let linked = to.join(&name);
                        share_file(&item.path(), &linked, sums)?;
                        made = made.plus(Usage::new(fs::symlink_metadata(&linked)?.len(), 1));
                    }
                }
            }
            Step::Seal(dir, mtime) => File::open(&dir)?.set_modified(mtime)?,
        }
    }
    Ok(made)
}

/// Gives `target` the content of `source`: a hard link, or a byte copy
/// when the inode has as many links as the file system allows.
pub(crate) fn share_file(source: &Path, target: &Path, sums: &Sums) -> io::Result<()> {
    match fs::hard_link(source, target) {
        Err(e) if too_many_links(&e) => copy_from(&File::open(source)?, target, sums).map(|_| ()),
        other => other,
    }
}

/// A copy's locked scratch directory; removed with whatever is left in it
/// when dropped.
pub(crate) struct Scratch {
    pub(crate) dir: PathBuf,
    _lock: File,
}

impl Scratch {
    pub(crate) fn new(staging: &Path) -> io::Result<Scratch> {
        fs::create_dir_all(staging)?;
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).map_err(io::Error::other)?;
        let dir = staging.join(format!("{SCRATCH_PREFIX}{}", hex::encode(random)));
        fs::create_dir(&dir)?;
        let lock = File::open(&dir)?;
        lock.lock()?;
        Ok(Scratch { dir, _lock: lock })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = remove_tree(&self.dir, |_| {});
    }
}

/// Removes a copy's scratch directory left by a crash: only one no copy
/// holds locked and not made just now. Returns whether it removed it.
pub(crate) fn remove_leftover(dir: &Path, meta: &Metadata) -> bool {
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let age = SystemTime::now().duration_since(meta.modified().unwrap_or(SystemTime::now())).unwrap_or_default();
    if !meta.is_dir() || !name.starts_with(SCRATCH_PREFIX) || age < LEFTOVER_AGE {
        return false;
    }
    let Ok(handle) = File::open(dir) else { return false };
    handle.try_lock().is_ok() && remove_tree(dir, |_| {}).is_ok()
}
