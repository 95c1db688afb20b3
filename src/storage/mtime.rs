//! `touch` and the time of a created file: a file's modification time,
//! set on an inode that no other path shares.
//!
//! Committed content is shared by hard links (`cp`, `save`, `claim`, the
//! content store), and an inode has one mtime. Setting it on a shared
//! inode would change every other path's time too, another user's
//! included (and tell them when someone stored the same content). So a
//! file whose inode has other links first gets its own copy (a reflink
//! where the file system offers one, bytes otherwise), put in place by a
//! rename; its recorded MD5 moves with it. The user's quota already
//! counts the full size of every path, so the copy books nothing.
//!
//! This module must never change the time of an inode with more than one
//! link.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::SystemTime;

use crate::storage::content::{Store, random_hex};
use crate::storage::digests::Sums;
use crate::storage::durable::{sync_fs, sync_parent};
use crate::storage::error::{Error, ErrorKind, Result};
use crate::storage::links::same_inode;
use crate::storage::tree::{Kind, Tree, UserPath};
use crate::sys;

/// A FIFO or a link swapped in under us is refused, never followed or
/// waited on.
const O_NONBLOCK_NOFOLLOW: i32 = sys::O_NONBLOCK | sys::O_NOFOLLOW;

/// Sets the mtime of the file at `p` to `time`, without changing any
/// other path's; `scratch` (the user's staging area) holds the private
/// copy while it is made. A file whose only other links are `user`'s
/// names in `store` (a file just uploaded) is changed in place: a copy
/// of a large upload would write it twice. A directory or a missing path
/// is `550`.
pub(crate) fn set_mtime(
    tree: &Tree,
    (sums, store, user): (&Sums, &Store, &str),
    p: &UserPath,
    scratch: &Path,
    time: SystemTime,
) -> Result<()> {
    let what = p.to_string();
    let io = |e| Error::io(&what, e);
    if tree.entry(p)?.kind == Kind::Dir {
        return Err(Error::new(ErrorKind::Refused, format!("{p}: is a directory")));
    }
    let real = tree.checked(p)?;
    let file = OpenOptions::new().read(true).custom_flags(O_NONBLOCK_NOFOLLOW).open(&real).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(Error::new(ErrorKind::NotFound, format!("{p}: not a file")));
    }
    let md5 = sums.get(&meta);
    let store_names = md5.map_or(0, |md5| store.names_of(user, &meta, md5));
    if meta.nlink() <= 1 + store_names {
        file.set_modified(time).map_err(io)?;
        return restamp(sums, &file, md5);
    }
    fs::create_dir_all(scratch).map_err(|e| Error::server("touch", e))?;
    let copy = Copy(scratch.join(format!("touch-{}.tmp", random_hex().map_err(|e| Error::server("touch", e))?)));
    let mine = private_copy(&file, &copy.0, time, true).map_err(io)?;
    restamp(sums, &mine, md5)?;
    // Best effort against a file moved onto `p` meanwhile: it is the one
    // the rename would replace, so leave it be.
    let now = fs::symlink_metadata(&real).map_err(io)?;
    if !same_inode(&now, &meta) {
        return Err(Error::new(ErrorKind::Busy, format!("{p}: changed meanwhile; try again")));
    }
    fs::rename(&copy.0, &real).map_err(io)?;
    sync_parent(&real).map_err(io)?;
    sums.forget(&meta);
    Ok(())
}

/// Gives every file at or below `root` (a copy being built in the
/// server's own staging area, not yet visible) its own inode with mtime
/// `time`: what `claim` and `save` create gets the time of its creation,
/// never the time another user's copy has.
///
/// A file alone is flushed by itself; the copies in a tree are flushed
/// together, by one `syncfs` at the end (thousands of small files would
/// otherwise cost a flush each).
pub(crate) fn fresh_times(root: &Path, sums: &Sums, time: SystemTime) -> io::Result<()> {
    let top = fs::symlink_metadata(root)?;
    if top.is_file() {
        return own_time(root, &top, sums, (time, true)).map(|_| ());
    }
    let mut dirs = vec![root.to_path_buf()];
    let mut copied = false;
    while let Some(at) = dirs.pop() {
        let meta = fs::symlink_metadata(&at)?;
        if meta.is_file() {
            copied |= own_time(&at, &meta, sums, (time, false))?;
        } else if meta.is_dir() {
            for item in fs::read_dir(&at)? {
                dirs.push(item?.path());
            }
        }
    }
    if copied {
        sync_fs(&File::open(root)?)?;
    }
    Ok(())
}

/// Sets the mtime of the staged file `at`, first replacing it with a
/// private copy (flushed if `sync`) if its inode has other links; true if
/// it made one.
fn own_time(at: &Path, meta: &Metadata, sums: &Sums, (time, sync): (SystemTime, bool)) -> io::Result<bool> {
    let md5 = sums.get(meta);
    let file = OpenOptions::new().read(true).custom_flags(O_NONBLOCK_NOFOLLOW).open(at)?;
    let shared = meta.nlink() > 1;
    let mine = if !shared {
        file.set_modified(time)?;
        file
    } else {
        let name = at.file_name().and_then(|n| n.to_str()).unwrap_or("f");
        let copy = Copy(at.with_file_name(format!(".{name}.{}.own", random_hex()?)));
        let mine = private_copy(&file, &copy.0, time, sync)?;
        fs::rename(&copy.0, at)?;
        mine
    };
    let _ = restamp(sums, &mine, md5);
    Ok(shared)
}

/// A copy of `source` at `to` with mtime `time`, flushed if `sync`.
fn private_copy(source: &File, to: &Path, time: SystemTime, sync: bool) -> io::Result<File> {
    let mut out = OpenOptions::new().read(true).write(true).create_new(true).open(to)?;
    io::copy(&mut &*source, &mut out)?;
    out.set_modified(time)?;
    if sync {
        out.sync_all()?;
    }
    Ok(out)
}

/// Records the digest known for the file before its time changed: the
/// record's stamp holds the mtime.
fn restamp(sums: &Sums, file: &File, md5: Option<crate::digest::Digest>) -> Result<()> {
    if let (Some(md5), Ok(meta)) = (md5, file.metadata()) {
        let _ = sums.put(&meta as &Metadata, md5);
    }
    Ok(())
}

/// The scratch copy, removed unless renamed into place.
struct Copy(std::path::PathBuf);

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}
