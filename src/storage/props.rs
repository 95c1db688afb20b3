//! Dead properties (WebDAV `PROPPATCH`), kept with the resource.
//!
//! Where they live, so that they travel with what they describe:
//!
//! - every folder may hold a hidden folder [`HIDDEN`] (`\x01props`: a
//!   name with a control character, which no client can name and which
//!   listings, `find` and the jail never show);
//! - the properties of a **folder** are the record `FOLDER/\x01props/\x01`
//!   inside it: they move, go to the trash, come back and are copied with
//!   the folder by the same rename or tree copy, with nothing else to do;
//! - the properties of a **file** are the record `FOLDER/\x01props/NAME`
//!   beside it, which carries the file's inode number: a record whose
//!   inode is not the file's (left by a removal that did not take it) is
//!   ignored and replaced. Moving a file moves its record ([`moved`]);
//!   the trash keeps it as `ID/props` beside `ID/item` ([`to_trash`],
//!   [`from_trash`]); a copy by hard link has the same inode, so a folder
//!   copy carries its files' records as they are, and a single file's
//!   copy is given one ([`copied`]).
//!
//! Records are inside the user's tree, so the quota counts them. The
//! bytes of a record are opaque here (the WebDAV face stores XML); each
//! is at most [`MAX_BYTES`] and written atomically and durably.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::storage::durable::replace_file;

/// The hidden folder of records in each folder.
pub const HIDDEN: &str = "\u{1}props";
/// The record of a folder itself, inside its [`HIDDEN`] folder.
const SELF: &str = "\u{1}";
/// The most bytes of dead properties per resource.
pub const MAX_BYTES: usize = 64 * 1024;
/// The name of a file's record in a trash entry.
pub const IN_TRASH: &str = "props";

const MAGIC: &str = "netdisk-props v1";

/// Where the record of the resource at `real` is (`dir`: it is a folder).
fn record_of(real: &Path, dir: bool) -> Option<PathBuf> {
    if dir {
        return Some(real.join(HIDDEN).join(SELF));
    }
    Some(real.parent()?.join(HIDDEN).join(real.file_name()?))
}

/// Splits a record into its inode and its bytes.
fn parse(raw: &[u8]) -> Option<(u64, &[u8])> {
    let nl = raw.iter().position(|b| *b == b'\n')?;
    let head = std::str::from_utf8(&raw[..nl]).ok()?;
    let ino = head.strip_prefix(MAGIC)?.trim().parse().ok()?;
    Some((ino, &raw[nl + 1..]))
}

/// The dead properties of the file or folder at `real` (empty: none).
pub fn read(real: &Path) -> io::Result<Vec<u8>> {
    let meta = fs::symlink_metadata(real)?;
    let Some(record) = record_of(real, meta.is_dir()) else { return Ok(Vec::new()) };
    let raw = match fs::read(&record) {
        Ok(raw) => raw,
        Err(e) if e.kind() == io::ErrorKind::NotFound || e.kind() == io::ErrorKind::NotADirectory => {
            return Ok(Vec::new());
        }
        Err(e) => return Err(e),
    };
    match parse(&raw) {
        Some((ino, bytes)) if meta.is_dir() || ino == meta.ino() => Ok(bytes.to_vec()),
        _ => Ok(Vec::new()),
    }
}

/// Whether files in the folder `dir` may have records (its hidden folder
/// exists): a listing asks once per folder instead of once per file.
pub fn folder_has_records(dir: &Path) -> bool {
    fs::symlink_metadata(dir.join(HIDDEN)).is_ok_and(|m| m.is_dir())
}

/// Replaces the dead properties of `real` by `bytes` (empty: removes
/// them). More than [`MAX_BYTES`]: `FileTooLarge`.
pub fn write(real: &Path, bytes: &[u8]) -> io::Result<()> {
    if bytes.len() > MAX_BYTES {
        return Err(io::Error::from(io::ErrorKind::FileTooLarge));
    }
    let meta = fs::symlink_metadata(real)?;
    let record = record_of(real, meta.is_dir()).ok_or(io::ErrorKind::InvalidInput)?;
    if bytes.is_empty() {
        return match fs::remove_file(&record) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    if let Some(dir) = record.parent() {
        fs::create_dir_all(dir)?;
    }
    let mut raw = format!("{MAGIC} {}\n", meta.ino()).into_bytes();
    raw.extend_from_slice(bytes);
    replace_file(&record, &raw)
}

/// After the file at `from` was renamed to `to`: its record follows
/// (folders carry theirs). Best effort: a record left behind is ignored.
pub fn moved(from: &Path, to: &Path) -> io::Result<()> {
    let Ok(meta) = fs::symlink_metadata(to) else { return Ok(()) };
    if meta.is_dir() {
        return Ok(());
    }
    let (Some(a), Some(b)) = (record_of(from, false), record_of(to, false)) else { return Ok(()) };
    if !a.exists() {
        // Whatever record the target had belonged to the file it replaced.
        return remove_quietly(&b);
    }
    if let Some(dir) = b.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::rename(&a, &b)
}

/// After the file at `to` was made a copy of the file at `from`: it gets
/// the same properties (a folder copy carries them by itself).
pub fn copied(from: &Path, to: &Path) -> io::Result<()> {
    let Ok(meta) = fs::symlink_metadata(to) else { return Ok(()) };
    if meta.is_dir() {
        return Ok(());
    }
    let bytes = read(from)?;
    write(to, &bytes)
}

/// The file at `real` is about to go to the trash entry `slot`: its
/// record goes with it.
pub fn to_trash(real: &Path, slot: &Path) -> io::Result<()> {
    let Ok(meta) = fs::symlink_metadata(real) else { return Ok(()) };
    if meta.is_dir() {
        return Ok(());
    }
    let Some(record) = record_of(real, false) else { return Ok(()) };
    match fs::rename(&record, slot.join(IN_TRASH)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound && e.kind() != io::ErrorKind::NotADirectory => Err(e),
        _ => Ok(()),
    }
}

/// The file of trash entry `slot` is back at `real`: so is its record.
pub fn from_trash(slot: &Path, real: &Path) -> io::Result<()> {
    let kept = slot.join(IN_TRASH);
    if !kept.exists() {
        return Ok(());
    }
    let Some(record) = record_of(real, false) else { return Ok(()) };
    if let Some(dir) = record.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::rename(kept, record)
}

/// Before the folder `real` is removed as empty (`rmdir`): its own
/// records go, when they are all it holds.
pub fn clear_if_empty(real: &Path) -> io::Result<()> {
    let hidden = real.join(HIDDEN);
    let mut others = fs::read_dir(real)?.filter_map(|e| e.ok()).filter(|e| e.file_name() != HIDDEN);
    if others.next().is_none() && hidden.exists() {
        return crate::storage::durable::remove_tree(&hidden, |_| {});
    }
    Ok(())
}

/// The file at `real` is deleted for good: so is its record.
pub fn forget(real: &Path) -> io::Result<()> {
    match fs::symlink_metadata(real) {
        Ok(meta) if !meta.is_dir() => record_of(real, false).map_or(Ok(()), |r| remove_quietly(&r)),
        _ => Ok(()),
    }
}

fn remove_quietly(p: &Path) -> io::Result<()> {
    match fs::remove_file(p) {
        Err(e) if e.kind() != io::ErrorKind::NotFound && e.kind() != io::ErrorKind::NotADirectory => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dir(PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
    fn tmp() -> Dir {
        let p = std::env::temp_dir().join(format!("netdisk-props-{}", crate::storage::content::random_hex().unwrap()));
        fs::create_dir_all(&p).unwrap();
        Dir(p)
    }

    #[test]
    fn files_and_folders_keep_their_properties_through_moves() {
        let d = tmp();
        let (a, b) = (d.0.join("a"), d.0.join("b"));
        fs::create_dir_all(&a).unwrap();
        fs::create_dir_all(&b).unwrap();
        fs::write(a.join("f"), "x").unwrap();
        write(&a.join("f"), b"<p>file</p>").unwrap();
        write(&a, b"<p>folder</p>").unwrap();
        assert_eq!(read(&a.join("f")).unwrap(), b"<p>file</p>");
        // A file moved to another folder: its record follows.
        fs::rename(a.join("f"), b.join("g")).unwrap();
        moved(&a.join("f"), &b.join("g")).unwrap();
        assert_eq!(read(&b.join("g")).unwrap(), b"<p>file</p>");
        // A new file at the old name has none (and a stale record is ignored).
        fs::write(a.join("f"), "y").unwrap();
        assert!(read(&a.join("f")).unwrap().is_empty());
        // A folder moved: its own record and its files' go with it.
        fs::rename(&b, a.join("inner")).unwrap();
        assert_eq!(read(&a.join("inner/g")).unwrap(), b"<p>file</p>");
        fs::rename(&a, d.0.join("z")).unwrap();
        assert_eq!(read(&d.0.join("z")).unwrap(), b"<p>folder</p>");
        // The hidden folder is no name a client can use.
        assert!(crate::storage::tree::check_name(HIDDEN).is_err());
    }

    #[test]
    fn trash_round_trip_copy_and_limits() {
        let d = tmp();
        let f = d.0.join("f");
        let slot = d.0.join("slot");
        fs::create_dir_all(&slot).unwrap();
        fs::write(&f, "x").unwrap();
        write(&f, b"p").unwrap();
        to_trash(&f, &slot).unwrap();
        fs::rename(&f, slot.join("item")).unwrap();
        assert!(slot.join(IN_TRASH).exists());
        fs::rename(slot.join("item"), d.0.join("back")).unwrap();
        from_trash(&slot, &d.0.join("back")).unwrap();
        assert_eq!(read(&d.0.join("back")).unwrap(), b"p");
        fs::hard_link(d.0.join("back"), d.0.join("copy")).unwrap();
        copied(&d.0.join("back"), &d.0.join("copy")).unwrap();
        write(&d.0.join("copy"), b"changed").unwrap();
        assert_eq!(read(&d.0.join("back")).unwrap(), b"p", "the copy's record is its own");
        assert_eq!(
            write(&f.with_file_name("back"), &vec![b'x'; MAX_BYTES + 1]).unwrap_err().kind(),
            io::ErrorKind::FileTooLarge
        );
        write(&d.0.join("back"), b"").unwrap();
        assert!(read(&d.0.join("back")).unwrap().is_empty());
    }
}
