//! Durable writes and deletions shared by the storage modules: flushing
//! directories, replacing a file or a record whole, and deleting a tree of
//! any depth; each must survive a crash half-way.
//!
//! Nothing here recurses by tree depth or follows a symbolic link: walks
//! keep their own stack on the heap, and links are removed, never entered.

use std::fs::{self, File, Metadata, OpenOptions};
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

/// `f_type` of the file system holding `file` (its `statfs` magic).
fn fs_type(file: &File) -> io::Result<u64> {
    crate::sys::fs_magic(file)
}

/// File systems whose `syncfs(2)` is known to flush every file written on
/// them (their `statfs` magic numbers): ext2/3/4, XFS, Btrfs, F2FS,
/// bcachefs, tmpfs (nothing to flush) and overlayfs (flushes its upper
/// layer). On the others, FUSE (MooseFS: `syncfs` flushes nothing), NFS,
/// CephFS and SMB among them, `syncfs` is not relied on: each file and
/// directory is synced on its own.
const SYNCFS_FLUSHES: [u64; 8] =
    [0xEF53, 0x5846_5342, 0x9123_683E, 0xF2F5_2010, 0xCA45_1A4E, 0x0102_1994, 0x794C_7630, 0x2FC1_2FC1];

/// Whether one `syncfs` of the file system holding `file` makes all that
/// was written on it durable (see [`SYNCFS_FLUSHES`]). When unsure: no,
/// and the caller fsyncs file by file.
pub(crate) fn syncfs_flushes(file: &File) -> bool {
    fs_type(file).is_ok_and(|t| SYNCFS_FLUSHES.contains(&t))
}

/// Opens `path` with `options`, which create it when missing (`O_CREAT`
/// without `O_EXCL`). Such an open never fails with EEXIST on a local file
/// system, but on a distributed one (MooseFS, seen: 76 of 200 tries) it
/// does when another client creates the same name at the same moment: the
/// file now exists, so it is opened again.
pub(crate) fn open_or_create(options: &OpenOptions, path: &Path) -> io::Result<File> {
    for _ in 0..RACE_RETRIES {
        match options.open(path) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            result => return result,
        }
    }
    options.open(path)
}

/// How often [`open_or_create`] tries again: each failure is another
/// client's create of the same name, which happens once per name.
const RACE_RETRIES: usize = 8;

/// Renames `from` to `to` unless something exists at `to`, atomically: a
/// path created meanwhile is never overwritten.
///
/// `renameat2(RENAME_NOREPLACE)` where the file system has it. Where it
/// gives EINVAL (FUSE, so MooseFS; by their sources the Linux NFS client
/// and CephFS too), the same guarantee from calls every POSIX file system
/// has: see [`move_file_noreplace`] and [`move_dir_noreplace`].
pub(crate) fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    match crate::sys::rename_with(from, to, crate::sys::RENAME_NOREPLACE) {
        Err(e) if matches!(e.raw_os_error(), Some(crate::sys::EINVAL | crate::sys::ENOSYS)) => {}
        done => return done,
    }
    if fs::symlink_metadata(from)?.is_dir() { move_dir_noreplace(from, to) } else { move_file_noreplace(from, to) }
}

/// A file (or link) moved without replacing: `link(2)` fails with EEXIST
/// if anything is at `to`, then the old name goes. A crash in between
/// leaves the file at both names (never at none); a failed unlink takes the
/// new name back.
pub(crate) fn move_file_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    fs::hard_link(from, to)?;
    fs::remove_file(from).inspect_err(|_| {
        let _ = fs::remove_file(to);
    })
}

/// A directory moved without replacing. Directories cannot be linked, and
/// `mkdir(2)` is the only call that creates a name only if it is free: so
/// `to` is claimed with an empty directory of our own, then `from` is
/// renamed over it (`rename(2)` replaces an empty directory atomically; a
/// claim that something was put in meanwhile gives ENOTEMPTY and stays:
/// it is someone's directory now). Right before the rename the claim is
/// checked to still be ours (same inode), so the only thing ever replaced
/// is our own empty claim, short of another client removing it and making
/// a new empty directory in the microseconds between the check and the
/// rename. A crash between the claim and the rename leaves an empty
/// directory at `to` and `from` where it was.
pub(crate) fn move_dir_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir(to)?;
    let claim = fs::symlink_metadata(to)?;
    let ours = |now: &Metadata| now.is_dir() && now.ino() == claim.ino();
    let result = match fs::symlink_metadata(to) {
        Ok(now) if ours(&now) => fs::rename(from, to),
        _ => Err(io::Error::from(io::ErrorKind::AlreadyExists)),
    };
    match result {
        Err(e) if e.kind() == io::ErrorKind::DirectoryNotEmpty => Err(io::Error::from(io::ErrorKind::AlreadyExists)),
        Err(e) => {
            // Removed only if still ours and empty.
            if fs::symlink_metadata(to).is_ok_and(|now| ours(&now)) {
                let _ = fs::remove_dir(to);
            }
            Err(e)
        }
        ok => ok,
    }
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

    /// The fallbacks used where `RENAME_NOREPLACE` is EINVAL, tried on the
    /// local file system: they move, and never replace a file, a folder
    /// or an empty folder.
    #[test]
    fn the_no_replace_fallbacks_move_and_never_replace() {
        let root = std::env::temp_dir().join(format!("netdisk-noreplace-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("dir/sub")).unwrap();
        fs::write(root.join("dir/sub/f"), b"in").unwrap();
        fs::write(root.join("file"), b"one").unwrap();
        fs::write(root.join("other"), b"two").unwrap();
        fs::create_dir(root.join("empty")).unwrap();
        let exists = |r: io::Result<()>| r.unwrap_err().kind() == io::ErrorKind::AlreadyExists;
        assert!(exists(move_file_noreplace(&root.join("file"), &root.join("other"))));
        assert!(exists(move_dir_noreplace(&root.join("dir"), &root.join("empty"))));
        assert!(exists(move_dir_noreplace(&root.join("dir"), &root.join("other"))));
        assert_eq!(fs::read(root.join("other")).unwrap(), b"two");
        assert!(root.join("dir/sub/f").exists() && root.join("file").exists());
        move_file_noreplace(&root.join("file"), &root.join("moved")).unwrap();
        move_dir_noreplace(&root.join("dir"), &root.join("dir2")).unwrap();
        assert_eq!(fs::read(root.join("moved")).unwrap(), b"one");
        assert_eq!(fs::read(root.join("dir2/sub/f")).unwrap(), b"in");
        assert!(!root.join("file").exists() && !root.join("dir").exists());
        // Into itself: refused, and the claim made for it is gone.
        assert!(move_dir_noreplace(&root.join("dir2"), &root.join("dir2/sub/x")).is_err());
        assert!(!root.join("dir2/sub/x").exists() && root.join("dir2/sub/f").exists());
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn syncfs_is_trusted_on_local_file_systems_only() {
        let file = File::open("/proc/self/status").unwrap();
        assert!(!syncfs_flushes(&file), "procfs");
        let tmp = std::env::temp_dir().join(format!("netdisk-fstype-{}", std::process::id()));
        let file = File::create(&tmp).unwrap();
        let magic = fs_type(&file).unwrap();
        assert!(magic != 0, "f_type read");
        let _ = fs::remove_file(&tmp);
    }

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
