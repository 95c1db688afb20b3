//! Hard links and their fallbacks: whether two names are one inode, and
//! the byte copy that replaces a link the file system refuses (`EMLINK`:
//! an inode shared by many users' copies). A leaf of the engine.

use std::fs::{self, File, Metadata};
use std::io::{self, Seek};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::storage::digests::Sums;
use crate::storage::durable::fsync;

/// Whether two metadata describe the same inode.
pub(crate) fn same_inode(a: &Metadata, b: &Metadata) -> bool {
    a.dev() == b.dev() && a.ino() == b.ino()
}

/// Gives `target` (new) the bytes of the open `source`: for a link that
/// the file system refuses with `EMLINK`. The copy is flushed and gets
/// `source`'s mtime and recorded digest (read from the handle, so it is
/// the digest of the bytes copied).
pub(crate) fn copy_from(source: &File, target: &Path, sums: &Sums) -> io::Result<File> {
    let meta = source.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(io::ErrorKind::NotFound, "not a regular file"));
    }
    let mut copy = File::options().write(true).create_new(true).open(target)?;
    let mut reader = source;
    let written = reader.seek(io::SeekFrom::Start(0)).and_then(|_| io::copy(&mut reader, &mut copy));
    let done = written.and_then(|_| copy.set_modified(meta.modified()?)).and_then(|_| fsync(&copy));
    if let Err(e) = done {
        let _ = fs::remove_file(target);
        return Err(e);
    }
    if let (Some(digest), Ok(new)) = (sums.get(&meta), copy.metadata()) {
        let _ = sums.put(&new, digest);
    }
    Ok(copy)
}

/// Whether `e` is the file system's refusal of one more hard link.
pub(crate) fn too_many_links(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::TooManyLinks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::durable::remove_tree;
    use std::time::{Duration, SystemTime};

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
        copy_from(&File::open(&a).unwrap(), &b, &sums).unwrap();
        let copy = fs::metadata(&b).unwrap();
        assert_eq!(fs::read(&b).unwrap(), b"hello");
        assert_eq!(copy.modified().unwrap(), when);
        assert!(!same_inode(&meta, &copy));
        assert_eq!(sums.get(&copy), Some(crate::Digest::of(b"hello")));
        remove_tree(&dir, |_| {}).unwrap();
        assert!(!dir.exists());
    }
}
