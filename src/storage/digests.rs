//! Recorded MD5s of committed files.
//!
//! One small file per committed file, `sums/DEV-INODE`, holding the file's
//! size and mtime and its MD5. A record is used only while the file still
//! has that size and mtime, so a file changed behind the server's back is
//! hashed again; and because it is keyed by inode, `mv` keeps it valid for
//! free. Records are a cache: written atomically but not fsynced, and a
//! lost or stale one only costs one more hash.

use std::fs::{self, File, Metadata};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::digest::{Digest, Hasher, hash_range};
use crate::fs::identity;

/// Recorded MD5s of committed files, keyed by device and inode.
#[derive(Clone, Debug)]
pub struct Sums {
    dir: PathBuf,
}

impl Sums {
    pub fn new(dir: PathBuf) -> Sums {
        Sums { dir }
    }

    fn path(&self, meta: &Metadata) -> PathBuf {
        self.dir.join(format!("{}-{}", meta.dev(), meta.ino()))
    }

    fn stamp(meta: &Metadata) -> String {
        let (_, _, len, secs, nsec) = identity(meta);
        format!("{len} {secs} {nsec}")
    }

    /// The recorded digest, if the file is unchanged since it was recorded.
    pub fn get(&self, meta: &Metadata) -> Option<Digest> {
        let text = fs::read_to_string(self.path(meta)).ok()?;
        let (stamp, digest) = text.trim_end().rsplit_once(' ')?;
        if stamp == Sums::stamp(meta) { Digest::from_hex(digest) } else { None }
    }

    /// Records a digest (best effort: a lost record is recomputed).
    pub fn put(&self, meta: &Metadata, digest: Digest) {
        let text = format!("{} {digest}\n", Sums::stamp(meta));
        let _ = fs::create_dir_all(&self.dir);
        let _ = replace_record(&self.path(meta), text.as_bytes());
    }

    /// Drops the record of a removed file, given its metadata from before
    /// the removal; kept while other paths still share the inode (copies
    /// are hard links, so `nlink` above 1 means another path holds it).
    pub fn forget(&self, meta: &Metadata) {
        if meta.nlink() > 1 {
            return;
        }
        let _ = fs::remove_file(self.path(meta));
    }

    /// The digest of an open file: recorded, or computed once and recorded.
    pub fn of_file(&self, file: &File, meta: &Metadata) -> io::Result<Digest> {
        if let Some(d) = self.get(meta) {
            return Ok(d);
        }
        let mut hasher = Hasher::new();
        hash_range(file, 0, meta.len(), &mut hasher)?;
        let digest = hasher.peek();
        self.put(meta, digest);
        Ok(digest)
    }
}

/// A record is a cache entry: atomic (never half-written) but not fsynced.
pub(crate) fn replace_record(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, bytes)?;
    fs::rename(&tmp, path)
}
