//! A user's tree: the jail and the directory operations inside it.
//!
//! [`UserPath`] is the only way from client text to a file-system path: it
//! is built by [`UserPath::resolve`], which works on components, clamps `..`
//! at the user's `/` and refuses names the contract forbids. [`Tree`] turns
//! a `UserPath` into a real path under the user's home and never follows a
//! symbolic link: every ancestor is checked with `lstat`, and links, FIFOs
//! and devices are treated as absent. Nothing here may touch a path outside
//! the home directory it was given.
//!
//! Nothing here recurses by tree depth: walks keep their own stack on the
//! heap, ancestors are checked one step at a time from an open directory,
//! and no path is created whose host path would be too long for the
//! kernel ([`MAX_HOST_PATH`]), so everything in a tree stays reachable.

use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File, Metadata};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::SystemTime;

use crate::storage::durable::{sync_dir, sync_parent};
use crate::storage::error::{Error, ErrorKind, Result};
use crate::storage::quota::{Quota, at_once};
use crate::storage::usage::Usage;

/// Longest name (one path component), in bytes.
pub const MAX_NAME: usize = 255;

/// Longest host path (absolute, data directory included) the server
/// creates or opens: `PATH_MAX` (4096) counts the terminating NUL. The
/// server's own temporary files live outside the trees (`staging/`,
/// `sums/`) under fixed-length names, so they need no margin here.
pub const MAX_HOST_PATH: usize = 4095;

/// The refusal of a path that would not fit in [`MAX_HOST_PATH`].
fn too_long() -> Error {
    Error::new(ErrorKind::BadName, "path too long")
}

/// Counts the entries of one listing against `--max-list`, so that no
/// listing holds more than that many entries in memory. One `ListLimit`
/// serves one reply, however many directories it reads.
#[derive(Debug)]
pub struct ListLimit {
    left: usize,
}

impl ListLimit {
    /// At most `max` entries.
    pub fn new(max: usize) -> ListLimit {
        ListLimit { left: max }
    }

    /// Takes one entry, or refuses with `550 too many entries`.
    pub fn take(&mut self) -> Result<()> {
        self.left = self.left.checked_sub(1).ok_or_else(|| Error::new(ErrorKind::Refused, "too many entries"))?;
        Ok(())
    }
}

/// A normalised absolute path inside one user's tree.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct UserPath(Vec<String>);

impl UserPath {
    /// The top of the tree, `/`.
    pub fn root() -> UserPath {
        UserPath(Vec::new())
    }

    /// Resolves client text against this directory: absolute or relative,
    /// `.` and `..` (clamped at `/`), every name checked.
    pub fn resolve(&self, text: &str) -> Result<UserPath> {
        if text.is_empty() {
            return Err(Error::new(ErrorKind::BadName, "empty path"));
        }
        let mut parts = if text.starts_with('/') { Vec::new() } else { self.0.clone() };
        for part in text.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                name => {
                    check_name(name)?;
                    parts.push(name.to_string());
                }
            }
        }
        Ok(UserPath(parts))
    }

    /// Whether this is `/`.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The last component, or `/` for the top.
    pub fn name(&self) -> &str {
        self.0.last().map_or("/", String::as_str)
    }

    /// The containing directory (the top is its own parent).
    pub fn parent(&self) -> UserPath {
        UserPath(self.0[..self.0.len().saturating_sub(1)].to_vec())
    }

    /// Whether `self` is `other` or lies inside it.
    pub fn is_within(&self, other: &UserPath) -> bool {
        self.0.starts_with(&other.0)
    }

    fn components(&self) -> &[String] {
        &self.0
    }
}

impl fmt::Display for UserPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("/");
        }
        for part in &self.0 {
            write!(f, "/{part}")?;
        }
        Ok(())
    }
}

/// Checks one path component against the contract: 1 to 255 bytes, no
/// `/`, `\`, NUL or control characters.
pub fn check_name(name: &str) -> Result<()> {
    let bad = name.is_empty()
        || name.len() > MAX_NAME
        || name == "."
        || name == ".."
        || name.chars().any(|c| c == '/' || c == '\\' || c.is_control());
    if bad {
        return Err(Error::new(ErrorKind::BadName, format!("name not allowed: {:?}", truncate(name, 40))));
    }
    Ok(())
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// What a path holds: the two kinds the tree serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A directory.
    Dir,
    /// A regular file.
    File,
}

/// One line of a listing: a directory entry's name, type, size and
/// time, and its metadata.
#[allow(missing_docs)]
#[derive(Clone, Debug)]
pub struct Entry {
    pub kind: Kind,
    pub size: u64,
    pub mtime: SystemTime,
    pub name: String,
    pub meta: Metadata,
}

impl Entry {
    fn new(name: String, meta: Metadata) -> Option<Entry> {
        let kind = kind_of(&meta)?;
        let size = if kind == Kind::Dir { 0 } else { meta.len() };
        let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        Some(Entry { kind, size, mtime, name, meta })
    }
}

/// Directories and regular files; links and special files are not served.
fn kind_of(meta: &Metadata) -> Option<Kind> {
    let t = meta.file_type();
    if t.is_dir() {
        Some(Kind::Dir)
    } else if t.is_file() {
        Some(Kind::File)
    } else {
        None
    }
}

/// One user's home directory and the operations inside it.
#[derive(Clone, Debug)]
pub struct Tree {
    home: PathBuf,
    /// Bytes of the home's absolute host path.
    home_len: usize,
    /// The home as the kernel names it (no links), if it can be known.
    canonical: Option<PathBuf>,
}

impl Tree {
    /// The tree rooted at the user's home directory.
    pub fn new(home: PathBuf) -> Tree {
        let home_len = std::path::absolute(&home).unwrap_or_else(|_| home.clone()).as_os_str().len();
        let canonical = fs::canonicalize(&home).ok();
        Tree { home, home_len, canonical }
    }

    /// Bytes of the host path of `p`.
    fn host_len(&self, p: &UserPath) -> usize {
        self.home_len + p.components().iter().map(|c| 1 + c.len()).sum::<usize>()
    }

    /// Refuses with `553 path too long` unless `p`, with `below` more bytes
    /// of path under it (its deepest descendant), fits in
    /// [`MAX_HOST_PATH`]. Every request that creates a path checks here.
    pub fn fits(&self, p: &UserPath, below: usize) -> Result<()> {
        if self.host_len(p).saturating_add(below) > MAX_HOST_PATH {
            return Err(too_long());
        }
        Ok(())
    }

    /// Checks that `from` (with everything under it) fits at `to`. Only a
    /// longer `to` needs a walk of `from` to find its deepest descendant.
    /// Whether the tree at the host path `item` (a file or a directory
    /// outside this tree, e.g. in the trash) fits at `to`, its deepest
    /// descendant included.
    pub(crate) fn fits_placed(&self, item: &Path, to: &UserPath) -> Result<()> {
        self.fits(to, 0)?;
        let room = MAX_HOST_PATH - self.host_len(to);
        let is_dir = fs::symlink_metadata(item).is_ok_and(|m| m.is_dir());
        let fits = !is_dir || walk(item, |rel, _| rel <= room).map_err(|e| Error::io(&to.to_string(), e))?;
        if fits { Ok(()) } else { Err(too_long()) }
    }

    /// Whether moving `from` to `to` keeps every path within the length limit.
    pub fn fits_moved(&self, from: &UserPath, to: &UserPath) -> Result<()> {
        self.fits(to, 0)?;
        if self.host_len(to) <= self.host_len(from) {
            return Ok(());
        }
        let room = MAX_HOST_PATH - self.host_len(to);
        let mut deepest = 0;
        let done = walk(&self.real(from), |rel, _| {
            deepest = deepest.max(rel);
            deepest <= room
        });
        match done.map_err(|e| Error::io(&from.to_string(), e))? {
            true => Ok(()),
            false => Err(too_long()),
        }
    }

    /// The real path of `p`. Private on purpose: callers go through the
    /// checked operations below.
    pub(crate) fn real(&self, p: &UserPath) -> PathBuf {
        let mut out = self.home.clone();
        out.extend(p.components());
        out
    }

    /// The real path of `p` after checking that no ancestor is a link.
    /// A path too long to exist is `553 path too long`.
    pub fn checked(&self, p: &UserPath) -> Result<PathBuf> {
        self.fits(p, 0)?;
        let parts = p.components();
        let ancestors = &parts[..parts.len().saturating_sub(1)];
        if ancestors.is_empty() {
            return Ok(self.real(p));
        }
        match fd_dir() {
            Some(fds) if self.named_as_is(fds, ancestors) => {}
            Some(fds) => self.check_by_steps(fds, ancestors)?,
            None => self.check_by_paths(ancestors)?,
        }
        Ok(self.real(p))
    }

    /// Whether the directory `parts` names is reached through no link: the
    /// kernel's own name for it, once open, is the path as written. A
    /// handful of calls whatever the depth; on `false`, the slower checks
    /// say what is wrong.
    fn named_as_is(&self, fds: &Path, parts: &[String]) -> bool {
        let Some(canonical) = &self.canonical else { return false };
        let mut real = self.home.clone();
        real.extend(parts);
        // Never open what is not a directory (a FIFO would block).
        if !fs::symlink_metadata(&real).is_ok_and(|m| m.is_dir()) {
            return false;
        }
        let Ok(dir) = File::open(&real) else { return false };
        let mut want = canonical.clone();
        want.extend(parts);
        dir.metadata().is_ok_and(|m| m.is_dir())
            && fs::read_link(fds.join(dir.as_raw_fd().to_string())).is_ok_and(|got| got == want)
    }

    /// Checks each ancestor relative to its open parent (through
    /// `/proc/self/fd`), so the cost grows with the depth, not its square.
    fn check_by_steps(&self, fds: &Path, parts: &[String]) -> Result<()> {
        let mut dir = File::open(&self.home).map_err(|e| Error::io("/", e))?;
        for (i, part) in parts.iter().enumerate() {
            let what = || prefix(parts, i);
            let next = fds.join(dir.as_raw_fd().to_string()).join(part);
            let meta = fs::symlink_metadata(&next).map_err(|e| Error::io(&what(), e))?;
            if !meta.is_dir() {
                return Err(Error::new(ErrorKind::NotFound, format!("{}: not a directory", what())));
            }
            if i + 1 < parts.len() {
                let opened = File::open(&next).map_err(|e| Error::io(&what(), e))?;
                let same = opened.metadata().is_ok_and(|m| m.dev() == meta.dev() && m.ino() == meta.ino());
                if !same {
                    return Err(Error::new(ErrorKind::NotFound, format!("{}: changed while checking", what())));
                }
                dir = opened;
            }
        }
        Ok(())
    }

    /// Checks each ancestor by its whole path (where `/proc` is missing).
    fn check_by_paths(&self, parts: &[String]) -> Result<()> {
        let mut dir = self.home.clone();
        for (i, part) in parts.iter().enumerate() {
            dir.push(part);
            let meta = fs::symlink_metadata(&dir).map_err(|e| Error::io(&prefix(parts, i), e))?;
            if !meta.is_dir() {
                return Err(Error::new(ErrorKind::NotFound, format!("{}: not a directory", prefix(parts, i))));
            }
        }
        Ok(())
    }

    /// The entry at `p`: a directory or a regular file, never a link.
    pub fn entry(&self, p: &UserPath) -> Result<Entry> {
        let real = self.checked(p)?;
        let meta = fs::symlink_metadata(&real).map_err(|e| Error::io(&p.to_string(), e))?;
        Entry::new(p.name().to_string(), meta)
            .ok_or_else(|| Error::new(ErrorKind::NotFound, format!("{p}: not a file or directory")))
    }

    /// A directory, checked to be one.
    pub fn dir(&self, p: &UserPath) -> Result<PathBuf> {
        match self.entry(p)?.kind {
            Kind::Dir => Ok(self.real(p)),
            Kind::File => Err(Error::new(ErrorKind::Refused, format!("{p}: not a directory"))),
        }
    }

    /// Calls `each` with every entry of a directory, in no order, or with
    /// the one entry of a file. Each entry is taken from `limit` before it
    /// is passed on, so reading stops at the first one over the limit.
    pub fn scan(&self, p: &UserPath, limit: &mut ListLimit, mut each: impl FnMut(Entry)) -> Result<()> {
        let entry = self.entry(p)?;
        if entry.kind == Kind::File {
            limit.take()?;
            each(entry);
            return Ok(());
        }
        let what = p.to_string();
        for item in fs::read_dir(self.real(p)).map_err(|e| Error::io(&what, e))? {
            let item = item.map_err(|e| Error::io(&what, e))?;
            let Ok(name) = item.file_name().into_string() else { continue };
            if check_name(&name).is_err() {
                continue;
            }
            if let Some(entry) = item.metadata().ok().and_then(|m| Entry::new(name, m)) {
                limit.take()?;
                each(entry);
            }
        }
        Ok(())
    }

    /// The entries of a directory sorted by name (or the one entry of a
    /// file), at most `limit` of them.
    pub fn list(&self, p: &UserPath, limit: &mut ListLimit) -> Result<Vec<Entry>> {
        let mut out = Vec::new();
        self.scan(p, limit, |e| out.push(e))?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// `makedir`: makes one directory (its parent must exist), booked as
    /// one entry against `quota` (protocol 2.1: refused with
    /// [`ErrorKind::Quota`] at the user's limit, making nothing).
    pub(crate) fn makedir(&self, p: &UserPath, quota: Option<Quota>) -> Result<()> {
        let what = p.to_string();
        at_once(quota, Usage::new(0, 1), &what, || self.create_dir(p).map(|_| ((), Usage::new(0, 1))))
    }

    /// Makes one directory; its parent must exist. Unbooked: only for
    /// callers that booked it ([`Tree::makedir`], `restore`).
    pub(crate) fn create_dir(&self, p: &UserPath) -> Result<()> {
        if p.is_root() {
            return Err(Error::new(ErrorKind::Exists, "/: exists already"));
        }
        self.fits(p, 0)?;
        let parent = self.dir(&p.parent())?;
        let real = self.real(p);
        fs::create_dir(&real).map_err(|e| Error::io(&p.to_string(), e))?;
        sync_dir(&parent).map_err(|e| Error::io(&p.to_string(), e))
    }

    /// Removes a regular file; returns its metadata (for forgetting its MD5).
    pub fn remove_file(&self, p: &UserPath) -> Result<Metadata> {
        let entry = self.entry(p)?;
        if entry.kind != Kind::File {
            return Err(Error::new(ErrorKind::Refused, format!("{p}: is a directory; use rmdir")));
        }
        let real = self.real(p);
        fs::remove_file(&real).map_err(|e| Error::io(&p.to_string(), e))?;
        sync_parent(&real).map_err(|e| Error::io(&p.to_string(), e))?;
        Ok(entry.meta)
    }

    /// Removes an empty directory other than `/`.
    pub fn remove_dir(&self, p: &UserPath) -> Result<()> {
        if p.is_root() {
            return Err(Error::new(ErrorKind::Refused, "/: cannot remove the top directory"));
        }
        let real = self.dir(p)?;
        fs::remove_dir(&real).map_err(|e| Error::io(&p.to_string(), e))?;
        sync_parent(&real).map_err(|e| Error::io(&p.to_string(), e))
    }

    /// Moves `from` to `to`, replacing a file at `to` atomically.
    pub fn rename(&self, from: &UserPath, to: &UserPath) -> Result<()> {
        self.rename_with(from, to, || Ok(()))
    }

    /// [`Tree::rename`], calling `before` once every check has passed,
    /// right before the rename (to keep a file that is about to be replaced).
    pub(crate) fn rename_with(
        &self,
        from: &UserPath,
        to: &UserPath,
        before: impl FnOnce() -> Result<()>,
    ) -> Result<()> {
        if from.is_root() {
            return Err(Error::new(ErrorKind::Refused, "/: cannot move the top directory"));
        }
        let source = self.entry(from)?;
        if to.is_within(from) && to != from {
            return Err(Error::new(ErrorKind::Refused, format!("{to}: inside {from}")));
        }
        match self.entry(to) {
            Ok(e) if e.kind == Kind::Dir && to != from => {
                return Err(Error::new(ErrorKind::Exists, format!("{to}: is an existing directory")));
            }
            Ok(e) if source.kind == Kind::Dir && e.kind == Kind::File => {
                return Err(Error::new(ErrorKind::Exists, format!("{to}: is an existing file")));
            }
            _ => {}
        }
        match source.kind {
            Kind::Dir => self.fits_moved(from, to)?,
            Kind::File => self.fits(to, 0)?,
        }
        let target_dir = self.dir(&to.parent())?;
        let (a, b) = (self.real(from), self.real(to));
        before()?;
        fs::rename(&a, &b).map_err(|e| Error::io(&to.to_string(), e))?;
        let synced = sync_dir(&target_dir).and_then(|_| sync_parent(&a));
        synced.map_err(|e| Error::io(&to.to_string(), e))
    }

    /// Bytes in regular files anywhere in the tree, and how many entries
    /// (files and directories; `/` itself is not one); `451` if any
    /// directory cannot be read (never a silent 0).
    pub(crate) fn usage(&self) -> Result<Usage> {
        held_of(&self.home).map_err(|e| Error::server("cannot count the space used", e))
    }

    /// How many of the directories on the way to `p` are missing (what
    /// `makedirs` of `p` would make); `p` itself counts.
    pub(crate) fn missing_dirs(&self, p: &UserPath) -> Result<u64> {
        let mut real = self.checked(&UserPath::root())?;
        let mut missing = 0;
        for name in p.to_string().split('/').filter(|n| !n.is_empty()) {
            real.push(name);
            if missing > 0 || fs::symlink_metadata(&real).is_err() {
                missing += 1;
            }
        }
        Ok(missing)
    }

    /// The real path where a new file `p` is committed, after checking that
    /// its directory exists and that `p` is not a directory.
    pub fn file_target(&self, p: &UserPath) -> Result<PathBuf> {
        if p.is_root() {
            return Err(Error::new(ErrorKind::Refused, "/: is a directory"));
        }
        self.fits(p, 0)?;
        self.dir(&p.parent())?;
        match self.entry(p) {
            Ok(e) if e.kind == Kind::Dir => Err(Error::new(ErrorKind::Refused, format!("{p}: is a directory"))),
            Ok(_) | Err(Error { kind: ErrorKind::NotFound, .. }) => Ok(self.real(p)),
            Err(e) => Err(e),
        }
    }
}

fn prefix(parts: &[String], i: usize) -> String {
    format!("/{}", parts[..=i].join("/"))
}

/// `/proc/self/fd`, where it can be used to reach a directory by its
/// descriptor.
fn fd_dir() -> Option<&'static Path> {
    static FDS: OnceLock<bool> = OnceLock::new();
    let path = Path::new("/proc/self/fd");
    FDS.get_or_init(|| path.is_dir()).then_some(path)
}

/// Bytes in regular files under `dir`, never following links. An error
/// reading any directory is returned, never counted as 0.
pub fn usage_of(dir: &Path) -> io::Result<u64> {
    held_of(dir).map(|held| held.bytes)
}

/// Bytes in regular files under `dir` and how many entries are there
/// (`dir` itself aside), never following links; an error reading any
/// directory is returned.
pub(crate) fn held_of(dir: &Path) -> io::Result<Usage> {
    let mut held = Usage::default();
    walk(dir, |_, meta| {
        held.entries += 1;
        if meta.is_file() {
            held.bytes = held.bytes.saturating_add(meta.len());
        }
        true
    })?;
    Ok(held)
}

/// The names of the subdirectories still to visit in one directory.
struct Frame {
    /// Bytes of this directory's path relative to the walk's root.
    rel_len: usize,
    pending: Vec<OsString>,
}

/// Visits every entry under `root` (links are entries, never followed),
/// depth first, with its own stack on the heap: memory grows with the
/// names of subdirectories waiting on the current branch, never the call
/// stack. `visit` gets the length of the entry's path relative to `root`
/// (`/a/b` is 4) and its metadata, and returns whether to go on. Returns
/// `false` if `visit` stopped the walk. An entry removed during the walk is
/// skipped; any other error ends it.
pub(crate) fn walk(root: &Path, mut visit: impl FnMut(usize, &Metadata) -> bool) -> io::Result<bool> {
    let mut path = root.to_path_buf();
    let Some(first) = read_level(&path, 0, &mut visit)? else { return Ok(false) };
    let mut stack = vec![Frame { rel_len: 0, pending: first }];
    while let Some(top) = stack.last_mut() {
        let Some(name) = top.pending.pop() else {
            stack.pop();
            path.pop();
            continue;
        };
        let rel_len = top.rel_len + 1 + name.len();
        path.push(&name);
        match read_level(&path, rel_len, &mut visit) {
            Ok(Some(pending)) => stack.push(Frame { rel_len, pending }),
            Ok(None) => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                path.pop();
            }
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Visits the entries of one directory; returns its subdirectories' names,
/// or `None` if `visit` stopped the walk.
fn read_level(
    dir: &Path,
    rel_len: usize,
    visit: &mut impl FnMut(usize, &Metadata) -> bool,
) -> io::Result<Option<Vec<OsString>>> {
    let mut subdirs = Vec::new();
    for item in fs::read_dir(dir)? {
        let item = item?;
        let meta = match item.metadata() {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let name = item.file_name();
        if !visit(rel_len + 1 + name.len(), &meta) {
            return Ok(None);
        }
        if meta.is_dir() {
            subdirs.push(name);
        }
    }
    Ok(Some(subdirs))
}

/// The identity of a file for its recorded MD5: device, inode, size and
/// modification time; a change behind the server's back alters one of them.
pub fn identity(meta: &Metadata) -> (u64, u64, u64, i64, i64) {
    (meta.dev(), meta.ino(), meta.len(), meta.mtime(), meta.mtime_nsec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(cwd: &str, text: &str) -> std::result::Result<String, ErrorKind> {
        let cwd = UserPath::root().resolve(cwd).unwrap();
        cwd.resolve(text).map(|p| p.to_string()).map_err(|e| e.kind())
    }

    #[test]
    fn resolves_paths_table() {
        let long = "x".repeat(256);
        let ok_long = "y".repeat(255);
        let cases: Vec<(&str, &str, std::result::Result<String, ErrorKind>)> = vec![
            ("/", "a", Ok("/a".into())),
            ("/a", "b/c", Ok("/a/b/c".into())),
            ("/a/b", "..", Ok("/a".into())),
            ("/a", "../../../..", Ok("/".into())),
            ("/a", "/x/./y//z/", Ok("/x/y/z".into())),
            ("/", "../../etc/passwd", Ok("/etc/passwd".into())),
            ("/a", ".", Ok("/a".into())),
            ("/", "a\\b", Err(ErrorKind::BadName)),
            ("/", "..\\..\\x", Err(ErrorKind::BadName)),
            ("/", "", Err(ErrorKind::BadName)),
            ("/", "a\u{7f}", Err(ErrorKind::BadName)),
            ("/", &long, Err(ErrorKind::BadName)),
            ("/", &ok_long, Ok(format!("/{ok_long}"))),
            ("/", "%2e%2e/x", Ok("/%2e%2e/x".into())),
            ("/", "\u{c0}\u{ae}", Ok("/\u{c0}\u{ae}".into())),
            ("/", "my docs/\"q\"", Ok("/my docs/\"q\"".into())),
        ];
        for (cwd, text, want) in cases {
            assert_eq!(at(cwd, text), want, "cwd {cwd:?} text {text:?}");
        }
    }

    #[test]
    fn list_limit_refuses_past_its_count() {
        let mut limit = ListLimit::new(2);
        assert!(limit.take().is_ok() && limit.take().is_ok());
        let e = limit.take().unwrap_err();
        assert_eq!((e.kind(), e.to_string()), (ErrorKind::Refused, "too many entries".into()));
        assert_eq!((too_long().kind(), too_long().to_string()), (ErrorKind::BadName, "path too long".into()));
    }

    #[test]
    fn within_is_by_component() {
        let p = |s| UserPath::root().resolve(s).unwrap();
        assert!(p("/a/b").is_within(&p("/a")));
        assert!(!p("/ab").is_within(&p("/a")));
        assert!(p("/a").is_within(&UserPath::root()));
        assert_eq!(p("/a/b").parent(), p("/a"));
        assert_eq!(UserPath::root().name(), "/");
    }
}
