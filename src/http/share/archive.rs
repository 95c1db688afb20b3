//! Folders as streamed ZIPs (HTTP.md "Share links": *Download all*):
//! a shared folder's `?zip`, and an account holder's own folder for the
//! web app (`/api/zip/`). The writer itself is `http::zip`.
//!
//! The folder is walked with a stack, never recursion; each directory
//! is listed within `--max-list`; the central directory is spooled to an
//! unlinked file in the staging area, so memory does not grow with the
//! folder. A shared folder's code is looked up again before each member.

use std::fs::{File, OpenOptions};
use std::io;
use std::net::TcpStream;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};

use super::Asked;
use crate::http::serve::disposition;
use crate::http::zip::{Writer, top_name};
use crate::http::{Chunked, Cx, Payload, Reply, Streamed};
use crate::storage::DataDir;
use crate::storage::content::random_hex;
use crate::storage::shares::Shares;
use crate::storage::tree::{Entry, Kind, ListLimit, Tree, UserPath};

/// `O_NONBLOCK`: opening a FIFO put in place meanwhile must not hang.
const O_NONBLOCK: i32 = 0o4000;

/// `?zip`: the shared folder at `path` as a streamed ZIP named
/// `FOLDER.zip`, the code checked before each member.
pub(super) fn shared_zip(cx: &Cx, asked: &Asked, path: &UserPath, entry: &Entry) -> Reply {
    let code = Some(asked.share.code.clone());
    zip_reply(cx, code, &asked.owner, path, top_name(&entry.name))
}

/// `/api/zip/PATH`: an account holder's own folder as a streamed ZIP,
/// like a shared folder's `?zip` (the web app's folder download).
pub(crate) fn own_zip(cx: &Cx, tree: &Tree, path: &UserPath) -> Reply {
    let entry = match tree.entry(path) {
        Ok(e) if e.kind == Kind::Dir => e,
        Ok(_) => return cx.failure(404, "not a folder"),
        Err(e) => return cx.engine_failure(&e),
    };
    zip_reply(cx, None, tree, path, top_name(if path.is_root() { "files" } else { &entry.name }))
}

/// The reply streaming the folder `dir` of `tree` as `TOP.zip`.
fn zip_reply(cx: &Cx, code: Option<String>, tree: &Tree, dir: &UserPath, top: String) -> Reply {
    let spool = match spool_file(&cx.shared.data) {
        Ok(file) => file,
        Err(e) => return cx.failure(500, "cannot start the archive").with_note(e.to_string()),
    };
    let mut reply = Reply::new(200);
    reply.head.set("Content-Type", "application/zip");
    reply.head.set("Content-Disposition", disposition("attachment", &format!("{top}.zip")));
    reply.head.set("Content-Security-Policy", "sandbox");
    reply.head.set("Cache-Control", "private, no-store");
    let data = cx.shared.data.clone();
    let max_list = cx.shared.config.max_list;
    let job = ZipJob { data, code, tree: tree.clone(), dir: dir.clone(), top, max_list, spool };
    reply.body = Payload::Stream(Box::new(job));
    reply
}

/// An unlinked file in the server's staging area, for a ZIP's central
/// directory.
fn spool_file(data: &DataDir) -> io::Result<File> {
    let name = data.stagings().join(format!(".zip-{}", random_hex()?));
    let file = OpenOptions::new().read(true).write(true).create_new(true).open(&name)?;
    std::fs::remove_file(&name)?;
    Ok(file)
}

/// A folder to stream as a ZIP once the response head is sent.
struct ZipJob {
    data: DataDir,
    /// The share it comes through (checked before each member); `None`
    /// for an account holder's own folder (`/api/zip/`).
    code: Option<String>,
    tree: Tree,
    dir: UserPath,
    top: String,
    max_list: usize,
    spool: File,
}

impl Streamed for ZipJob {
    /// Writes the archive to `out` (chunked for HTTP/1.1); the bytes of
    /// the body. An error (a revoked code, a failing file, the client
    /// gone) stops it before the last chunk: the client sees a cut body.
    fn run(self: Box<Self>, out: &TcpStream, chunked: bool) -> io::Result<u64> {
        let ZipJob { data, code, tree, dir, top, max_list, spool } = *self;
        let mut zip = Writer::new(Chunked::new(out, chunked), spool);
        let live = || match code.as_ref().map(|c| Shares::new(&data).lookup(c)) {
            Some(Ok(None)) => Err(io::Error::other("the share was revoked")),
            Some(Err(e)) => Err(e),
            _ => Ok(()),
        };
        // Folders still to do, each with its name in the archive: a stack,
        // never recursion, whatever the depth.
        let mut todo = vec![(dir, top)];
        while let Some((folder, name)) = todo.pop() {
            live()?;
            let entries =
                tree.list(&folder, &mut ListLimit::new(max_list)).map_err(|e| io::Error::other(e.to_string()))?;
            let mtime = tree.entry(&folder).map(|e| e.mtime).unwrap_or(std::time::UNIX_EPOCH);
            zip.add_dir(&format!("{name}/"), mtime)?;
            let mut folders = Vec::new();
            for e in entries {
                let member = format!("{name}/{}", e.name);
                let path = folder.resolve(&e.name).map_err(|e| io::Error::other(e.to_string()))?;
                match e.kind {
                    Kind::Dir => folders.push((path, member)),
                    Kind::File => {
                        live()?;
                        if let Some(mut file) = open_member(&tree, &path, &e) {
                            zip.add_file(&member, e.mtime, e.size, &mut file)?;
                        }
                    }
                }
            }
            todo.extend(folders.into_iter().rev());
        }
        let (out, len) = zip.finish()?;
        out.end()?;
        Ok(len)
    }
}

/// Opens a file listed as `entry`, if it is still that file (a file
/// replaced or removed since the listing is left out).
fn open_member(tree: &Tree, path: &UserPath, entry: &Entry) -> Option<File> {
    let real = tree.checked(path).ok()?;
    let file = OpenOptions::new().read(true).custom_flags(O_NONBLOCK).open(real).ok()?;
    let meta = file.metadata().ok()?;
    let same = meta.is_file() && meta.ino() == entry.meta.ino() && meta.dev() == entry.meta.dev();
    (same && meta.len() == entry.size).then_some(file)
}
