//! Recorded MD5s of committed files.
//!
//! One small file per committed file, `sums/INODE`, holding the file's
//! stamp and its MD5. The key is the inode alone: the data directory is on
//! one file system, whose inode numbers every client sees the same, while
//! its device number differs from one mount (one server) to the next (so
//! a key with the device made every server record and hash every file
//! again). Records of version 2 (`DEV-INODE`) are no longer read. A record
//! is used only while the file still has that stamp, so a file changed
//! behind the server's back is hashed again.
//!
//! The stamp is what survives `mv` and hard links but not a new file that
//! reuses the inode: size, mtime and birth time, each to the nanosecond
//! (ctime would change on every rename). Where the file system keeps no
//! birth time, two more rules keep a reused inode from matching: a commit
//! writes its record before the file becomes visible (so whatever an
//! earlier file with that inode left is overwritten first), and a record
//! that cannot be written is removed. Every operation that removes or
//! replaces a file calls [`Sums::forget`], so `sums/` does not collect
//! orphans. Records are a cache: written atomically but not fsynced, and a
//! lost one only costs one more hash.

use std::fs::{self, File, Metadata};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::digest::{Digest, Hasher, hash_range};
use crate::storage::durable::replace_record;

/// Recorded MD5s of committed files, keyed by inode.
#[derive(Clone, Debug)]
pub struct Sums {
    dir: PathBuf,
}

impl Sums {
    pub fn new(dir: PathBuf) -> Sums {
        Sums { dir }
    }

    fn path(&self, meta: &Metadata) -> PathBuf {
        self.dir.join(meta.ino().to_string())
    }

    /// The recorded digest, if the file is unchanged since it was recorded.
    pub fn get(&self, meta: &Metadata) -> Option<Digest> {
        let text = fs::read_to_string(self.path(meta)).ok()?;
        let (stamp, digest) = text.trim_end().rsplit_once(' ')?;
        if stamp == Stamp::of(meta).to_string() { Digest::from_hex(digest) } else { None }
    }

    /// Records a digest. When the record cannot be written, any older
    /// record for that inode is removed instead; the error says that even
    /// that failed, so an older record may still be there.
    pub fn put(&self, meta: &Metadata, digest: Digest) -> io::Result<()> {
        let text = format!("{} {digest}\n", Stamp::of(meta));
        let path = self.path(meta);
        let written = fs::create_dir_all(&self.dir).and_then(|_| replace_record(&path, text.as_bytes()));
        settle(&path, written)
    }

    /// Forgets the record of a file that was just removed or replaced,
    /// given its metadata from before. Kept while another hard link still
    /// holds the inode: the record is still true for it.
    pub fn forget(&self, gone: &Metadata) {
        if gone.nlink() <= 1 {
            let _ = remove_record(&self.path(gone));
        }
    }

    /// The digest of an open file: recorded, or computed once and recorded.
    pub fn of_file(&self, file: &File, meta: &Metadata) -> io::Result<Digest> {
        if let Some(d) = self.get(meta) {
            return Ok(d);
        }
        let mut hasher = Hasher::new();
        hash_range(file, 0, meta.len(), &mut hasher)?;
        let digest = hasher.peek();
        let _ = self.put(meta, digest);
        Ok(digest)
    }
}

/// What a record is valid for: size, mtime and birth time (`-` where the
/// file system keeps none), to the nanosecond.
#[derive(Debug, PartialEq, Eq)]
struct Stamp {
    len: u64,
    mtime: (i64, i64),
    birth: Option<(u64, u32)>,
}

impl Stamp {
    fn of(meta: &Metadata) -> Stamp {
        let birth = meta.created().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok());
        Stamp::new(meta.len(), (meta.mtime(), meta.mtime_nsec()), birth.map(|d| (d.as_secs(), d.subsec_nanos())))
    }

    fn new(len: u64, mtime: (i64, i64), birth: Option<(u64, u32)>) -> Stamp {
        Stamp { len, mtime, birth }
    }
}

impl std::fmt::Display for Stamp {
    /// `v2 LEN MTIME.NSEC BIRTH.NSEC`; records of other forms never match.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (secs, nsec) = self.mtime;
        write!(f, "v2 {} {secs}.{nsec:09} ", self.len)?;
        match self.birth {
            Some((secs, nsec)) => write!(f, "{secs}.{nsec:09}"),
            None => f.write_str("-"),
        }
    }
}

/// After writing the record at `path`: a failed write removes the old one.
fn settle(path: &Path, written: io::Result<()>) -> io::Result<()> {
    written.or_else(|_| remove_record(path))
}

fn remove_record(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("netdisk-sums-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn stamps_tell_a_reused_inode_from_the_file_it_replaced() {
        let old = Stamp::new(6, (1_700_000_000, 0), Some((1_700_000_000, 5)));
        // Same inode, size and mtime (a 1-second file system), born later.
        let reused = Stamp::new(6, (1_700_000_000, 0), Some((1_700_000_000, 6)));
        assert_ne!(old.to_string(), reused.to_string());
        assert_ne!(old.to_string(), Stamp::new(7, (1_700_000_000, 0), Some((1_700_000_000, 5))).to_string());
        assert_ne!(old.to_string(), Stamp::new(6, (1_700_000_000, 1), Some((1_700_000_000, 5))).to_string());
        assert_eq!(Stamp::new(6, (1, 2), None).to_string(), "v2 6 1.000000002 -");
    }

    #[test]
    fn a_record_survives_rename_and_link_but_not_a_rewrite() {
        let dir = temp("survive");
        let sums = Sums::new(dir.join("sums"));
        let (a, b, c) = (dir.join("a"), dir.join("b"), dir.join("c"));
        fs::write(&a, b"hello\n").unwrap();
        let d = Digest::of(b"hello\n");
        sums.put(&fs::metadata(&a).unwrap(), d).unwrap();
        fs::rename(&a, &b).unwrap();
        fs::hard_link(&b, &c).unwrap();
        assert_eq!(sums.get(&fs::metadata(&b).unwrap()), Some(d));
        // One of two links goes: the record stays for the other.
        let before = fs::metadata(&b).unwrap();
        fs::remove_file(&b).unwrap();
        sums.forget(&before);
        assert_eq!(sums.get(&fs::metadata(&c).unwrap()), Some(d));
        fs::write(&c, b"HELLO\n").unwrap();
        assert_eq!(sums.get(&fs::metadata(&c).unwrap()), None);
        let last = fs::metadata(&c).unwrap();
        fs::remove_file(&c).unwrap();
        sums.forget(&last);
        assert_eq!(fs::read_dir(dir.join("sums")).unwrap().count(), 0, "no record and no temporary file left");
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn a_failed_write_removes_the_old_record() {
        let dir = temp("failed");
        let sums = Sums::new(dir.join("sums"));
        let f = dir.join("f");
        fs::write(&f, b"x").unwrap();
        let meta = fs::metadata(&f).unwrap();
        sums.put(&meta, Digest::of(b"y")).unwrap();
        let record = sums.path(&meta);
        // Say the disk ran out of inodes: the new record is not written.
        let failed = || Err(io::ErrorKind::StorageFull.into());
        assert!(settle(&record, failed()).is_ok(), "the old record could be removed");
        assert_eq!(sums.get(&meta), None);
        // If even the removal fails, the caller hears of it.
        fs::create_dir(&record).unwrap();
        assert!(settle(&record, failed()).is_err());
        let _ = fs::remove_dir_all(dir);
    }
}
