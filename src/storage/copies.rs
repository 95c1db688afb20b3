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
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::server::error::{Error, ErrorKind, Result};
use crate::storage::digests::Sums;
use crate::storage::durable::{remove_tree, sync_dir};
use crate::storage::props;
use crate::storage::tree::{Kind, Tree, UserPath, check_name};

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
    /// Bytes of every file copied: what the copy adds to the quota.
    pub bytes: u64,
    /// Bytes of the longest path below the source, relative to it.
    pub deepest: usize,
}

impl Tree {
    /// Makes `p` and its missing parents; an existing directory is success,
    /// a file (or anything else) in the way is refused.
    pub(crate) fn makedirs(&self, p: &UserPath) -> Result<()> {
        let mut real = self.checked(&UserPath::root())?;
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
                Ok(()) => sync_dir(&parent).map_err(|e| Error::io(&shown, e))?,
                // Made meanwhile by another session: fine if a directory.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && real.is_dir() && !real.is_symlink() => {}
                Err(e) => return Err(Error::io(&shown, e)),
            }
        }
        Ok(())
    }

    /// Checks a copy against the rules of `mv` and walks its source.
    pub(crate) fn plan_copy(&self, from: &UserPath, to: &UserPath) -> Result<Plan> {
        let source = self.entry(from)?;
        if to.is_within(from) {
            return Err(Error::new(ErrorKind::Refused, format!("{to}: is or is inside {from}")));
        }
        match self.entry(to) {
            Ok(e) if e.kind == Kind::Dir => {
                return Err(Error::new(ErrorKind::Exists, format!("{to}: is an existing directory")));
            }
            Ok(_) if source.kind == Kind::Dir => {
                return Err(Error::new(ErrorKind::Exists, format!("{to}: is an existing file")));
            }
            Ok(_) | Err(Error { kind: ErrorKind::NotFound, .. }) => {}
            Err(e) => return Err(e),
        }
        self.dir(&to.parent())?;
        if source.kind == Kind::File {
            return Ok(Plan { kind: Kind::File, bytes: source.size, deepest: 0 });
        }
        let real = self.checked(from)?;
        let (bytes, deepest) = measure(&real).map_err(|e| Error::io(&from.to_string(), e))?;
        Ok(Plan { kind: Kind::Dir, bytes, deepest })
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

    /// Copies `from` to `to` (checked by [`Tree::plan_copy`]), building it
    /// under `staging` first, then putting it in place with one rename. A
    /// file at `to` is replaced atomically; `keep_replaced` is called right
    /// before (to hand it to the trash).
    pub(crate) fn copy(
        &self,
        (from, to): (&UserPath, &UserPath),
        plan: &Plan,
        staging: &Path,
        sums: &Sums,
        keep_replaced: impl FnOnce() -> Result<()>,
    ) -> Result<()> {
        let what = to.to_string();
        let io = |e| Error::io(&what, e);
        let (source, target) = (self.checked(from)?, self.checked(to)?);
        let scratch = Scratch::new(staging).map_err(io)?;
        let built = scratch.dir.join("c");
        match plan.kind {
            Kind::File => share_file(&source, &built, sums).map_err(io)?,
            Kind::Dir => copy_tree(&source, &built, sums).map_err(io)?,
        }
        if plan.kind == Kind::File && target.is_file() && !target.is_symlink() {
            keep_replaced()?;
        }
        // Taken after the trash may have linked it: its record then stays.
        let old = fs::symlink_metadata(&target).ok().filter(|m| m.is_file());
        fs::rename(&built, &target).map_err(io)?;
        // One flush for the whole copy: on a journaling file system (ext4,
        // XFS) it commits every directory made and link added before it.
        sync_dir(target.parent().unwrap_or(Path::new("/"))).map_err(io)?;
        if let Some(old) = old {
            sums.forget(&old);
        }
        Ok(())
    }
}

/// Bytes of the files below `dir` and the length of the longest relative
/// path there, walked with an explicit stack.
pub(crate) fn measure(dir: &Path) -> io::Result<(u64, usize)> {
    let (mut bytes, mut deepest) = (0u64, 0usize);
    let mut stack = vec![(dir.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        for item in fs::read_dir(&dir)? {
            let item = item?;
            let Some(name) = visible_name(&item) else { continue };
            let length = if depth == 0 { name.len() } else { depth + 1 + name.len() };
            let kind = item.file_type()?;
            if kind.is_dir() {
                deepest = deepest.max(length);
                stack.push((item.path(), length));
            } else if kind.is_file() {
                deepest = deepest.max(length);
                bytes = bytes.saturating_add(item.metadata()?.len());
            }
        }
    }
    Ok((bytes, deepest))
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
/// exist): directories made, files hard-linked. Nothing is flushed here:
/// see [`Tree::copy`].
pub(crate) fn copy_tree(source: &Path, target: &Path, sums: &Sums) -> io::Result<()> {
    let mut stack = vec![Step::Enter(source.to_path_buf(), target.to_path_buf())];
    while let Some(step) = stack.pop() {
        match step {
            Step::Enter(from, to) => {
                let mtime = fs::symlink_metadata(&from)?.modified()?;
                fs::create_dir(&to)?;
                stack.push(Step::Seal(to.clone(), mtime));
                for item in fs::read_dir(&from)? {
                    let item = item?;
                    let Some(name) = visible_name(&item) else { continue };
                    let kind = item.file_type()?;
                    if kind.is_dir() {
                        stack.push(Step::Enter(item.path(), to.join(&name)));
                    } else if kind.is_file() {
                        share_file(&item.path(), &to.join(&name), sums)?;
                    }
                }
            }
            Step::Seal(dir, mtime) => File::open(&dir)?.set_modified(mtime)?,
        }
    }
    Ok(())
}

/// Gives `target` the content of `source`: a hard link, or a byte copy
/// when the inode has as many links as the file system allows.
pub(crate) fn share_file(source: &Path, target: &Path, sums: &Sums) -> io::Result<()> {
    match fs::hard_link(source, target) {
        Err(e) if e.kind() == io::ErrorKind::TooManyLinks => copy_bytes(source, target, sums),
        other => other,
    }
}

/// A real copy of a file's bytes, with the source's mtime, flushed, and
/// the source's recorded MD5 recorded for it too.
pub(crate) fn copy_bytes(source: &Path, target: &Path, sums: &Sums) -> io::Result<()> {
    let meta = fs::symlink_metadata(source)?;
    if !meta.is_file() {
        return Err(io::Error::new(io::ErrorKind::NotFound, "not a regular file"));
    }
    fs::copy(source, target)?;
    let copy = File::options().write(true).open(target)?;
    copy.set_modified(meta.modified()?)?;
    copy.sync_all()?;
    if let (Some(digest), Ok(new)) = (sums.get(&meta), copy.metadata()) {
        let _ = sums.put(&new, digest);
    }
    Ok(())
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

/// Whether two metadata describe the same inode.
pub(crate) fn same_inode(a: &Metadata, b: &Metadata) -> bool {
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_copy_keeps_content_mtime_and_digest() {
        let dir = std::env::temp_dir().join(format!("netdisk-copybytes-{}", std::process::id()));
        let _ = remove_tree(&dir, |_| {});
        fs::create_dir_all(&dir).unwrap();
        let sums = Sums::new(dir.join("sums"));
        let (a, b) = (dir.join("a"), dir.join("b"));
        fs::write(&a, b"hello").unwrap();
        let when = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        File::options().write(true).open(&a).unwrap().set_modified(when).unwrap();
        let meta = fs::metadata(&a).unwrap();
        sums.put(&meta, crate::Digest::of(b"hello")).unwrap();
        copy_bytes(&a, &b, &sums).unwrap();
        let copy = fs::metadata(&b).unwrap();
        assert_eq!(fs::read(&b).unwrap(), b"hello");
        assert_eq!(copy.modified().unwrap(), when);
        assert!(!same_inode(&meta, &copy));
        assert_eq!(sums.get(&copy), Some(crate::Digest::of(b"hello")));
        remove_tree(&dir, |_| {}).unwrap();
        assert!(!dir.exists());
    }
}
