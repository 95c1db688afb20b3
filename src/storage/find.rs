//! `find`: every file and directory below a path, depth first and sorted
//! by name within each directory, with each file's size, mtime and MD5.
//!
//! The walk keeps an explicit stack of entries still to list (never
//! recursion by depth), and the lines listed plus the entries waiting never
//! exceed the caller's bound: past it the listing is refused with
//! `550 too many entries` instead of being built. Links and special files
//! are skipped, as in `ls`. MD5s come from the recorded digests; a file
//! without one is hashed once and recorded.

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

/// An entry found but not listed yet: its path relative to the top.
struct Waiting {
    rel: String,
    meta: Metadata,
}

/// The `find` lines of `p`, at most `max` of them.
pub(crate) fn find(tree: &Tree, sums: &Sums, p: &UserPath, max: usize) -> Result<Vec<Found>> {
    let entry = tree.entry(p)?;
    let top = tree.checked(p)?;
    let what = p.to_string();
    let io = |e| Error::io(&what, e);
    if entry.kind == Kind::File {
        too_many(1, max)?;
        let line = line_of(&top, Waiting { rel: entry.name, meta: entry.meta }, sums).map_err(io)?;
        return Ok(vec![line]);
    }
    let mut out = Vec::new();
    let mut waiting = children(&top, "", max)?;
    while let Some(next) = waiting.pop() {
        let real = top.join(&next.rel);
        if next.meta.is_dir() {
            let room = max - out.len() - waiting.len() - 1;
            let found = children(&real, &next.rel, room)?;
            out.push(line_of(&real, next, sums).map_err(io)?);
            waiting.extend(found);
        } else {
            match line_of(&real, next, sums) {
                Ok(line) => out.push(line),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(e)),
            }
        }
    }
    Ok(out)
}

fn too_many(count: usize, max: usize) -> Result<()> {
    if count > max { Err(Error::new(ErrorKind::Refused, "too many entries")) } else { Ok(()) }
}

/// The files and directories in `dir`, in reverse order of name (the stack
/// pops them in order); refused if more than `room`.
fn children(dir: &Path, rel: &str, room: usize) -> Result<Vec<Waiting>> {
    let io = |e| Error::io(&format!("/{rel}"), e);
    let items = match fs::read_dir(dir) {
        Ok(items) => items,
        // Removed since it was found: nothing below it.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(e)),
    };
    let mut out = Vec::new();
    for item in items {
        let item = item.map_err(io)?;
        let Ok(name) = item.file_name().into_string() else { continue };
        let Ok(meta) = item.metadata() else { continue };
        if check_name(&name).is_err() || !(meta.is_dir() || meta.is_file()) {
            continue;
        }
        too_many(out.len() + 1, room)?;
        let rel = if rel.is_empty() { name } else { format!("{rel}/{name}") };
        out.push(Waiting { rel, meta });
    }
    out.sort_by(|a, b| b.rel.cmp(&a.rel));
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
fn line_of(real: &Path, entry: Waiting, sums: &Sums) -> io::Result<Found> {
    let mtime = clock::secs(entry.meta.modified().unwrap_or(std::time::UNIX_EPOCH));
    let (kind, size, md5) = if entry.meta.is_dir() {
        (Kind::Dir, 0, None)
    } else {
        (Kind::File, entry.meta.len(), Some(digest_of(real, &entry.meta, sums)?))
    };
    Ok(Found { kind, size, mtime, md5, path: entry.rel })
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
