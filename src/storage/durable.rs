//! Durable writes and deletions shared by the storage modules: flushing
//! directories, replacing a file or a record whole, and deleting a tree of
//! any depth; each must survive a crash half-way.
//!
//! Nothing here recurses by tree depth or follows a symbolic link: walks
//! keep their own stack on the heap, and links are removed, never entered.

use std::fs::{self, File, Metadata};
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::storage::health;

/// Deletes `top` (a directory or a file) and everything under it, with a
/// stack of its own instead of recursion. `forget` is called for each
/// regular file whose last link went (to drop what is recorded about it).
/// Another deleter working on the same tree at the same time is tolerated;
/// the first error other than "not found" is returned, after deleting all
/// that could be deleted.
pub(crate) fn remove_tree(top: &Path, mut forget: impl FnMut(&Metadata)) -> io::Result<()> {
    let mut first_error = None;
    let mut note = |r: io::Result<()>| match r {
        Err(e) if e.kind() != io::ErrorKind::NotFound => first_error = first_error.take().or(Some(e)),
        _ => {}
    };
    let mut dirs = vec![top.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let meta = match fs::symlink_metadata(&dir) {
            Ok(meta) => meta,
            Err(e) => {
                note(Err(e));
                continue;
            }
        };
        if !meta.is_dir() {
            note(unlink(&dir, &meta, &mut forget));
            continue;
        }
        match unlink_files(&dir, &mut forget, &mut note) {
            Ok(sub) if sub.is_empty() => note(fs::remove_dir(&dir)),
            // Seen again once its subdirectories are gone.
            Ok(sub) => dirs.extend(std::iter::once(dir).chain(sub)),
            Err(e) => note(Err(e)),
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Removes the non-directories in `dir`; returns its subdirectories.
fn unlink_files(
    dir: &Path,
    forget: &mut impl FnMut(&Metadata),
    note: &mut impl FnMut(io::Result<()>),
) -> io::Result<Vec<PathBuf>> {
    let mut sub = Vec::new();
    for item in fs::read_dir(dir)? {
        let item = item?;
        match item.metadata() {
            Ok(meta) if meta.is_dir() => sub.push(item.path()),
            Ok(meta) => note(unlink(&item.path(), &meta, forget)),
            Err(e) => note(Err(e)),
        }
    }
    Ok(sub)
}

fn unlink(path: &Path, meta: &Metadata, forget: &mut impl FnMut(&Metadata)) -> io::Result<()> {
    fs::remove_file(path)?;
    if meta.is_file() && meta.nlink() == 1 {
        forget(meta);
    }
    Ok(())
}

/// Flushes a directory's entries to stable storage.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    fsync(&File::open(dir)?)
}

/// `fsync`: a failure makes the storage read-only (see `health`).
pub(crate) fn fsync(file: &File) -> io::Result<()> {
    file.sync_all().map_err(|e| health::sync_failed("fsync", e))
}

/// `fdatasync`: a failure makes the storage read-only (see `health`).
pub(crate) fn fdatasync(file: &File) -> io::Result<()> {
    file.sync_data().map_err(|e| health::sync_failed("fdatasync", e))
}

/// Flushes everything written to the file system that holds `file` to
/// stable storage: every file's data and metadata, every directory's
/// entries, as if each were fsynced, in one journal commit and one cache
/// flush. Since Linux 5.8 a write-back error of any file on it since the
/// last call is reported here.
pub(crate) fn sync_fs(file: &File) -> io::Result<()> {
    crate::sys::sync_fs(file).map_err(|e| health::sync_failed("syncfs", e))
}

/// Starts writing `file`'s dirty pages back, without waiting (advice: on
/// error the later fsync does it all). Started for several files before
/// their fsyncs, their block allocations join one journal transaction, so
/// the first fsync commits them all and the others only wait for data.
pub(crate) fn start_writeback(file: &File) {
    let _ = crate::sys::start_writeback(file);
}

/// Flushes the directory that holds `path`.
pub(crate) fn sync_parent(path: &Path) -> io::Result<()> {
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// Writes `bytes` to `path` atomically and durably.
pub(crate) fn replace_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(io::Error::other)?;
    let tmp = path.with_extension(format!("tmp.{}", hex::encode(suffix)));
    let result = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        fsync(&file)?;
        fs::rename(&tmp, path)?;
        sync_dir(path.parent().unwrap_or(Path::new(".")))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// A record is a cache entry: atomic (never half-written) but not fsynced.
/// The temporary file has a random name, so two writers of one record
/// never share it.
pub(crate) fn replace_record(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(io::Error::other)?;
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp.{}", hex::encode(suffix)));
    let tmp = path.with_file_name(name);
    let renamed = fs::write(&tmp, bytes).and_then(|_| fs::rename(&tmp, path));
    if renamed.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    renamed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deletes_a_deep_wide_tree_with_links_without_following_them() {
        let root = std::env::temp_dir().join(format!("netdisk-durable-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let (top, outside) = (root.join("top"), root.join("outside"));
        fs::create_dir_all(&outside).unwrap();
        fs::write(outside.join("keep"), b"x").unwrap();
        // 1,500 levels: deep enough to overflow a recursive walk on a
        // session's stack, short enough for PATH_MAX.
        let mut dir = top.clone();
        for i in 0..1500 {
            dir.push("d");
            if i % 300 == 0 {
                fs::create_dir_all(&dir).unwrap();
                for j in 0..20 {
                    fs::write(dir.join(format!("f{j}")), b"abc").unwrap();
                }
                std::os::unix::fs::symlink(&outside, dir.join("link")).unwrap();
            }
        }
        fs::create_dir_all(&dir).unwrap();
        let mut forgotten = 0;
        remove_tree(&top, |_| forgotten += 1).unwrap();
        assert!(!top.exists());
        assert_eq!(forgotten, 5 * 20);
        assert!(outside.join("keep").exists(), "a link was followed");
        remove_tree(&top, |_| {}).unwrap();
        let _ = fs::remove_dir_all(&root);
    }
}
