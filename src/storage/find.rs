//! `find` (and `peek`): every file and directory below a path, depth first
//! and sorted by name within each directory, with each file's size, mtime
//! and MD5; streamed, so that a listing's memory does not grow with its
//! size.
//!
//! A listing is walked twice. [`count`] is the cheap pre-walk: names and
//! types only, no digest, nothing kept; past the caller's bound it stops
//! and the listing is refused with `550 too many entries` before anything
//! is sent. [`each_line`] then walks again and hands over one line at a
//! time, at most the count it is given (a tree that grew meanwhile is cut
//! there; the caller closes the connection if it shrank). Each walk keeps
//! only the names of the directories on the current path (a directory
//! holding more than the bound is refused as a whole), so both walks are
//! bounded by the bound in work and by the widest directory in memory.
//! Links and special files are skipped, as in `ls`. MD5s come from the
//! recorded digests; a file without one is hashed once and recorded.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::clock;
use crate::digest::Digest;
use crate::storage::digests::Sums;
use crate::storage::error::{Error, ErrorKind, Result};
use crate::storage::links::same_inode;
use crate::storage::tree::{Kind, Tree, UserPath, check_name};
use crate::sys;

/// The lines `find` of `p` has now, refused past `max`.
pub(crate) fn count(tree: &Tree, p: &UserPath, max: usize) -> Result<usize> {
    let entry = tree.entry(p)?;
    if entry.kind == Kind::File {
        return too_many(1, max).map(|_| 1);
    }
    let mut n = 0;
    walk(&tree.checked(p)?, max, |_, _, _| {
        n += 1;
        too_many(n, max).map(|_| true)
    })?;
    Ok(n)
}

/// Hands the lines of `find` of `p` to `out`, one at a time, at most `n`
/// of them; returns how many it handed over.
pub(crate) fn each_line(
    tree: &Tree,
    sums: &Sums,
    p: &UserPath,
    n: usize,
    mut out: impl FnMut(Found) -> io::Result<()>,
) -> Result<usize> {
    let entry = tree.entry(p)?;
    let top = tree.checked(p)?;
    let what = p.to_string();
    let io = |e| Error::io(&what, e);
    if entry.kind == Kind::File {
        out(line_of(&top, &entry.name, &entry.meta, sums).map_err(io)?).map_err(io)?;
        return Ok(1);
    }
    let mut sent = 0;
    walk(&top, n, |rel, real, meta| {
        if sent == n {
            return Ok(false);
        }
        match line_of(real, rel, meta, sums) {
            Ok(line) => out(line).map_err(io)?,
            // Removed (or swapped for something else) since it was found.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(true),
            Err(e) => return Err(io(e)),
        }
        sent += 1;
        Ok(true)
    })?;
    Ok(sent)
}

fn too_many(count: usize, max: usize) -> Result<()> {
    if count > max { Err(Error::new(ErrorKind::Refused, "too many entries")) } else { Ok(()) }
}

/// One directory being listed: its path relative to the top, and the
/// names still to visit, last first.
struct Frame {
    rel: String,
    names: Vec<String>,
}

/// Visits every file and directory below the directory `top`, depth first
/// and by name, each directory before what it holds: `visit` gets the
/// path relative to `top`, the real path and the metadata, and says
/// whether to go on. A directory of more than `max` names is refused.
fn walk(top: &Path, max: usize, mut visit: impl FnMut(&str, &Path, &Metadata) -> Result<bool>) -> Result<()> {
    let mut stack = vec![Frame { rel: String::new(), names: names_in(top, "", max)? }];
    while let Some(frame) = stack.last_mut() {
        let Some(name) = frame.names.pop() else {
            stack.pop();
            continue;
        };
        let rel = if frame.rel.is_empty() { name } else { format!("{}/{name}", frame.rel) };
        let real = top.join(&rel);
        let Ok(meta) = fs::symlink_metadata(&real) else { continue };
        if !(meta.is_dir() || meta.is_file()) {
            continue;
        }
        if !visit(&rel, &real, &meta)? {
            return Ok(());
        }
        if meta.is_dir() {
            let names = names_in(&real, &rel, max)?;
            stack.push(Frame { rel, names });
        }
    }
    Ok(())
}

/// The names in `dir` a listing may show, in reverse order (popped in
/// order); refused if more than `max`.
fn names_in(dir: &Path, rel: &str, max: usize) -> Result<Vec<String>> {
    let io = |e| Error::io(&format!("/{rel}"), e);
    let items = match fs::read_dir(dir) {
        Ok(items) => items,
        // Removed since it was found: nothing below it.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(e)),
    };
    let mut out = Vec::new();
    for item in items {
        let Ok(name) = item.map_err(io)?.file_name().into_string() else { continue };
        if check_name(&name).is_ok() {
            too_many(out.len() + 1, max)?;
            out.push(name);
        }
    }
    out.sort_unstable_by(|a, b| b.cmp(a));
    Ok(out)
}

/// One entry found: its kind, size, mtime (seconds since 1970), MD5 (a
/// file's) and path relative to where the walk started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Found {
    pub(crate) kind: Kind,
    pub(crate) size: u64,
    pub(crate) mtime: u64,
    pub(crate) md5: Option<Digest>,
    pub(crate) path: String,
}

/// One entry found, with its MD5 if it is a file.
fn line_of(real: &Path, rel: &str, meta: &Metadata, sums: &Sums) -> io::Result<Found> {
    let mtime = clock::secs(meta.modified().unwrap_or(std::time::UNIX_EPOCH));
    let (kind, size, md5) =
        if meta.is_dir() { (Kind::Dir, 0, None) } else { (Kind::File, meta.len(), Some(digest_of(real, meta, sums)?)) };
    Ok(Found { kind, size, mtime, md5, path: rel.to_string() })
}

/// A file's recorded MD5, or computed now (and recorded) if it has none.
fn digest_of(real: &Path, meta: &Metadata, sums: &Sums) -> io::Result<Digest> {
    if let Some(digest) = sums.get(meta) {
        return Ok(digest);
    }
    let file: File = OpenOptions::new().read(true).custom_flags(sys::O_NONBLOCK).open(real)?;
    let opened = file.metadata()?;
    if !opened.is_file() || !same_inode(&opened, meta) {
        return Err(io::Error::new(io::ErrorKind::NotFound, "changed while listing"));
    }
    sums.of_file(&file, &opened)
}
