//! A user's tree: the jail and the directory operations inside it.
//!
//! [`UserPath`] is the only way from client text to a file-system path: it
//! is built by [`UserPath::resolve`], which works on components, clamps `..`
//! at the user's `/` and refuses names the contract forbids. [`Tree`] turns
//! a `UserPath` into a real path under the user's home and never follows a
//! symbolic link: every ancestor is checked with `lstat`, and links, FIFOs
//! and devices are treated as absent. Nothing here may touch a path outside
//! the home directory it was given.

use std::fmt;
use std::fs::{self, File, Metadata};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::clock;
use crate::error::{Error, Result};

/// Longest name (one path component), in bytes.
pub const MAX_NAME: usize = 255;

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
            return Err(Error::BadName("empty path".into()));
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
        return Err(Error::BadName(format!("name not allowed: {:?}", truncate(name, 40))));
    }
    Ok(())
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// What a path holds, as far as the protocol cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
}

/// One line of a listing.
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

    /// `TYPE SIZE MTIME`, the common start of `ls` and `stat` lines.
    pub fn head(&self) -> String {
        let t = if self.kind == Kind::Dir { 'd' } else { 'f' };
        format!("{t} {} {}", self.size, clock::utc(self.mtime))
    }

    /// The `ls` line: `TYPE SIZE MTIME NAME`.
    pub fn line(&self) -> String {
        format!("{} {}", self.head(), self.name)
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
}

impl Tree {
    pub fn new(home: PathBuf) -> Tree {
        Tree { home }
    }

    /// The real path of `p`. Private on purpose: callers go through the
    /// checked operations below.
    fn real(&self, p: &UserPath) -> PathBuf {
        let mut out = self.home.clone();
        out.extend(p.components());
        out
    }

    /// The real path of `p` after checking that no ancestor is a link.
    pub fn checked(&self, p: &UserPath) -> Result<PathBuf> {
        let mut dir = self.home.clone();
        let parts = p.components();
        for (i, part) in parts.iter().enumerate().take(parts.len().saturating_sub(1)) {
            dir.push(part);
            let meta = fs::symlink_metadata(&dir).map_err(|e| Error::io(&prefix(parts, i), e))?;
            if !meta.is_dir() {
                return Err(Error::NotFound(format!("{}: not a directory", prefix(parts, i))));
            }
        }
        Ok(self.real(p))
    }

    /// The entry at `p`: a directory or a regular file, never a link.
    pub fn entry(&self, p: &UserPath) -> Result<Entry> {
        let real = self.checked(p)?;
        let meta = fs::symlink_metadata(&real).map_err(|e| Error::io(&p.to_string(), e))?;
        Entry::new(p.name().to_string(), meta).ok_or_else(|| Error::NotFound(format!("{p}: not a file or directory")))
    }

    /// A directory, checked to be one.
    pub fn dir(&self, p: &UserPath) -> Result<PathBuf> {
        match self.entry(p)?.kind {
            Kind::Dir => Ok(self.real(p)),
            Kind::File => Err(Error::Refused(format!("{p}: not a directory"))),
        }
    }

    /// The entries of a directory sorted by name, or the one entry of a file.
    pub fn list(&self, p: &UserPath) -> Result<Vec<Entry>> {
        let entry = self.entry(p)?;
        if entry.kind == Kind::File {
            return Ok(vec![entry]);
        }
        let what = p.to_string();
        let mut out = Vec::new();
        for item in fs::read_dir(self.real(p)).map_err(|e| Error::io(&what, e))? {
            let item = item.map_err(|e| Error::io(&what, e))?;
            let Ok(name) = item.file_name().into_string() else { continue };
            if check_name(&name).is_err() {
                continue;
            }
            if let Some(entry) = item.metadata().ok().and_then(|m| Entry::new(name, m)) {
                out.push(entry);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Makes one directory; its parent must exist.
    pub fn makedir(&self, p: &UserPath) -> Result<()> {
        if p.is_root() {
            return Err(Error::Exists("/: exists already".into()));
        }
        let parent = self.dir(&p.parent())?;
        let real = self.real(p);
        fs::create_dir(&real).map_err(|e| Error::io(&p.to_string(), e))?;
        sync_dir(&parent).map_err(|e| Error::io(&p.to_string(), e))
    }

    /// Removes a regular file; returns its metadata (for forgetting its MD5).
    pub fn remove_file(&self, p: &UserPath) -> Result<Metadata> {
        let entry = self.entry(p)?;
        if entry.kind != Kind::File {
            return Err(Error::Refused(format!("{p}: is a directory; use rmdir")));
        }
        let real = self.real(p);
        fs::remove_file(&real).map_err(|e| Error::io(&p.to_string(), e))?;
        sync_parent(&real).map_err(|e| Error::io(&p.to_string(), e))?;
        Ok(entry.meta)
    }

    /// Removes an empty directory other than `/`.
    pub fn remove_dir(&self, p: &UserPath) -> Result<()> {
        if p.is_root() {
            return Err(Error::Refused("/: cannot remove the top directory".into()));
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
            return Err(Error::Refused("/: cannot move the top directory".into()));
        }
        let source = self.entry(from)?;
        if to.is_within(from) && to != from {
            return Err(Error::Refused(format!("{to}: inside {from}")));
        }
        match self.entry(to) {
            Ok(e) if e.kind == Kind::Dir && to != from => {
                return Err(Error::Exists(format!("{to}: is an existing directory")));
            }
            Ok(e) if source.kind == Kind::Dir && e.kind == Kind::File => {
                return Err(Error::Exists(format!("{to}: is an existing file")));
            }
            _ => {}
        }
        let target_dir = self.dir(&to.parent())?;
        let (a, b) = (self.real(from), self.real(to));
        before()?;
        fs::rename(&a, &b).map_err(|e| Error::io(&to.to_string(), e))?;
        let synced = sync_dir(&target_dir).and_then(|_| sync_parent(&a));
        synced.map_err(|e| Error::io(&to.to_string(), e))
    }

    /// Bytes in regular files anywhere in the tree.
    pub fn usage(&self) -> u64 {
        usage_of(&self.home)
    }

    /// The real path where a new file `p` is committed, after checking that
    /// its directory exists and that `p` is not a directory.
    pub fn file_target(&self, p: &UserPath) -> Result<PathBuf> {
        if p.is_root() {
            return Err(Error::Refused("/: is a directory".into()));
        }
        self.dir(&p.parent())?;
        match self.entry(p) {
            Ok(e) if e.kind == Kind::Dir => Err(Error::Refused(format!("{p}: is a directory"))),
            Ok(_) | Err(Error::NotFound(_)) => Ok(self.real(p)),
            Err(e) => Err(e),
        }
    }
}

fn prefix(parts: &[String], i: usize) -> String {
    format!("/{}", parts[..=i].join("/"))
}

/// Bytes in regular files under `dir`, never following links.
pub fn usage_of(dir: &Path) -> u64 {
    let Ok(items) = fs::read_dir(dir) else { return 0 };
    let mut total = 0;
    for item in items.flatten() {
        let Ok(meta) = item.metadata() else { continue };
        if meta.is_dir() {
            total += usage_of(&item.path());
        } else if meta.is_file() {
            total += meta.len();
        }
    }
    total
}

/// Flushes a directory's entries to stable storage.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Flushes the directory that holds `path`.
pub fn sync_parent(path: &Path) -> io::Result<()> {
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// The identity of a file for its recorded MD5: device, inode, size and
/// modification time; a change behind the server's back alters one of them.
pub fn identity(meta: &Metadata) -> (u64, u64, u64, i64, i64) {
    (meta.dev(), meta.ino(), meta.len(), meta.mtime(), meta.mtime_nsec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(cwd: &str, text: &str) -> std::result::Result<String, u16> {
        let cwd = UserPath::root().resolve(cwd).unwrap();
        cwd.resolve(text).map(|p| p.to_string()).map_err(|e| e.code().number())
    }

    #[test]
    fn resolves_paths_table() {
        let long = "x".repeat(256);
        let ok_long = "y".repeat(255);
        let cases: Vec<(&str, &str, std::result::Result<String, u16>)> = vec![
            ("/", "a", Ok("/a".into())),
            ("/a", "b/c", Ok("/a/b/c".into())),
            ("/a/b", "..", Ok("/a".into())),
            ("/a", "../../../..", Ok("/".into())),
            ("/a", "/x/./y//z/", Ok("/x/y/z".into())),
            ("/", "../../etc/passwd", Ok("/etc/passwd".into())),
            ("/a", ".", Ok("/a".into())),
            ("/", "a\\b", Err(553)),
            ("/", "..\\..\\x", Err(553)),
            ("/", "", Err(553)),
            ("/", "a\u{7f}", Err(553)),
            ("/", &long, Err(553)),
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
    fn within_is_by_component() {
        let p = |s| UserPath::root().resolve(s).unwrap();
        assert!(p("/a/b").is_within(&p("/a")));
        assert!(!p("/ab").is_within(&p("/a")));
        assert!(p("/a").is_within(&UserPath::root()));
        assert_eq!(p("/a/b").parent(), p("/a"));
        assert_eq!(UserPath::root().name(), "/");
    }
}
