//! The local digest cache: the MD5 of each local file that was hashed,
//! keyed by its absolute path, size, modification time and inode (like
//! git's index), so an unchanged file is never read again to learn it.
//!
//! Kept in `$XDG_CACHE_HOME/netdisk/digests` (or `~/.cache/netdisk/digests`)
//! as one line per file, `MD5 SIZE MTIME_S MTIME_NS INODE PATH`, written
//! whole to a temporary file and renamed. A damaged line is ignored: the
//! cache only ever saves work, it never decides what a file holds.

use std::collections::HashMap;
use std::fs::{self, Metadata};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::digest::Digest;

/// What identifies an unchanged file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    size: u64,
    mtime: i64,
    mtime_ns: i64,
    inode: u64,
}

impl Stamp {
    fn of(meta: &Metadata) -> Stamp {
        Stamp { size: meta.len(), mtime: meta.mtime(), mtime_ns: meta.mtime_nsec(), inode: meta.ino() }
    }
}

/// Digests of local files, loaded from and saved to one file.
#[derive(Debug)]
pub struct DigestCache {
    file: PathBuf,
    entries: HashMap<PathBuf, (Stamp, Digest)>,
    dirty: bool,
    /// Digests computed (files read) since the cache was opened.
    pub computed: usize,
}

impl DigestCache {
    /// The cache in the user's cache directory, if there is one.
    pub fn open_default() -> Option<DigestCache> {
        let base = match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => PathBuf::from(std::env::var_os("HOME")?).join(".cache"),
        };
        Some(DigestCache::open(&base.join("netdisk").join("digests")))
    }

    /// The cache kept in `file` (empty if it does not exist yet).
    pub fn open(file: &Path) -> DigestCache {
        let text = fs::read_to_string(file).unwrap_or_default();
        let entries = text.lines().filter_map(parse_line).collect();
        DigestCache { file: file.to_path_buf(), entries, dirty: false, computed: 0 }
    }

    /// The MD5 of `path`: cached if the file is unchanged, else `read`.
    pub fn digest(
        &mut self,
        path: &Path,
        meta: &Metadata,
        read: impl FnOnce(&Path) -> io::Result<Digest>,
    ) -> io::Result<Digest> {
        if let Some(md5) = self.cached(path, meta) {
            return Ok(md5);
        }
        let md5 = read(path)?;
        self.computed += 1;
        self.remember(path, meta, md5);
        Ok(md5)
    }

    /// The MD5 of `path` if it is cached and the file unchanged.
    pub fn cached(&self, path: &Path, meta: &Metadata) -> Option<Digest> {
        let key = std::path::absolute(path).ok()?;
        self.entries.get(&key).filter(|(held, _)| *held == Stamp::of(meta)).map(|(_, md5)| *md5)
    }

    /// Records `md5` for `path` as it was when `meta` was taken (before
    /// the file was read: a change since then makes the entry stale).
    pub fn remember(&mut self, path: &Path, meta: &Metadata, md5: Digest) {
        if let Ok(key) = std::path::absolute(path) {
            self.entries.insert(key, (Stamp::of(meta), md5));
            self.dirty = true;
        }
    }

    /// Writes the cache if it changed.
    pub fn save(&mut self) -> io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        if let Some(dir) = self.file.parent() {
            fs::create_dir_all(dir)?;
        }
        let mut text = String::new();
        for (path, (s, md5)) in &self.entries {
            if let Some(p) = path.to_str().filter(|p| !p.contains(['\n', '\r'])) {
                text.push_str(&format!("{md5} {} {} {} {} {p}\n", s.size, s.mtime, s.mtime_ns, s.inode));
            }
        }
        let tmp = self.file.with_extension(format!("tmp{}", std::process::id()));
        fs::write(&tmp, text)?;
        fs::rename(&tmp, &self.file)?;
        self.dirty = false;
        Ok(())
    }
}

fn parse_line(line: &str) -> Option<(PathBuf, (Stamp, Digest))> {
    let mut parts = line.splitn(6, ' ');
    let md5 = Digest::from_hex(parts.next()?)?;
    let mut num = || parts.next()?.parse::<i64>().ok();
    let (size, mtime, mtime_ns, inode) = (num()?, num()?, num()?, num()?);
    let path = PathBuf::from(parts.next()?);
    let stamp = Stamp { size: u64::try_from(size).ok()?, mtime, mtime_ns, inode: inode.cast_unsigned() };
    Some((path, (stamp, md5)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_what_it_saved_and_notices_changes() {
        let dir = std::env::temp_dir().join(format!("netdisk-cache-unit-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let f = dir.join("a b.txt");
        fs::write(&f, b"hello\n").unwrap();
        let store = dir.join("c/digests");
        let mut cache = DigestCache::open(&store);
        let read = |p: &Path| Ok(Digest::of(&fs::read(p)?));
        let d = cache.digest(&f, &fs::metadata(&f).unwrap(), read).unwrap();
        cache.save().unwrap();
        let mut again = DigestCache::open(&store);
        assert_eq!(again.digest(&f, &fs::metadata(&f).unwrap(), |_| panic!("read again")).unwrap(), d);
        fs::write(&f, b"changed, longer\n").unwrap();
        let d2 = again.digest(&f, &fs::metadata(&f).unwrap(), read).unwrap();
        assert_eq!(d2, Digest::of(b"changed, longer\n"));
        let _ = fs::remove_dir_all(&dir);
    }
}
