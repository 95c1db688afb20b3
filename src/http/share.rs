//! `/s/CODE` (HTTP.md "Share links"): for anyone holding a code, a page
//! of a shared file, listings of a shared folder, downloads, and a
//! folder as a streamed ZIP.
//!
//! A code that does not exist gets a plain `404` and costs the client's
//! address the share-guess back-off. The code is looked up at every
//! request and before every member of a ZIP, so a revoked code stops at
//! once, in every process. Pages carry no script; every name in them is
//! escaped, every name in a URL percent-encoded. The code is never
//! logged (see `http::shown_path`).

use std::fs::{File, OpenOptions};
use std::io;
use std::net::TcpStream;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};

use crate::http::engine;
use crate::http::files::user_path;
use crate::http::serve::{self, Served, disposition, inline_type};
use crate::http::target::{Segments, encode_path, has_flag};
use crate::http::zip::{Writer, top_name};
use crate::http::{Chunked, Cx, Payload, Reply, html, not_allowed};
use crate::storage::DataDir;
use crate::storage::content::random_hex;
use crate::storage::shares::{Share, Shares};
use crate::storage::staging::Download;
use crate::storage::tree::{Entry, Kind, ListLimit, Tree, UserPath};

/// `O_NONBLOCK`: opening a FIFO put in place meanwhile must not hang.
const O_NONBLOCK: i32 = 0o4000;

/// A request under `/s/`: the share, and what in it is asked for.
struct Asked<'a> {
    share: Share,
    owner: Tree,
    /// The shared item in its owner's tree.
    base: UserPath,
    /// Names below the shared item.
    rest: &'a [String],
    trailing_slash: bool,
}

impl Asked<'_> {
    /// The URL of the share, then `rel` (encoded).
    fn url(&self, rel: &str) -> String {
        format!("/s/{}/{}", self.share.code, encode_path(rel))
    }
}

pub(crate) fn route(cx: &mut Cx, segments: &Segments) -> Reply {
    if !matches!(cx.req.method.as_str(), "GET" | "HEAD") {
        return not_allowed(cx, "GET, HEAD");
    }
    let code = segments.names[1].to_ascii_lowercase();
    let turn = engine::share_turn(cx.shared, cx.client.key());
    let share = match Shares::new(&cx.shared.data).lookup(&code) {
        Ok(Some(share)) => share,
        Ok(None) => {
            turn.failed();
            return cx.failure(404, "no such share: the link is wrong, expired or revoked").with_note("unknown code");
        }
        Err(e) => return cx.failure(500, "cannot read the share's record").with_note(e.to_string()),
    };
    drop(turn);
    let owner = Tree::new(cx.shared.home(&share.owner));
    let base = match share.user_path() {
        Ok(base) => base,
        Err(e) => return cx.engine_failure(&e),
    };
    let asked = Asked { share, owner, base, rest: &segments.names[2..], trailing_slash: segments.trailing_slash };
    let mut reply = match asked.share.kind {
        Kind::File => file_share(cx, &asked),
        Kind::Dir => folder_share(cx, &asked),
    };
    if reply.head.get("Cache-Control").is_none() || reply.head.status >= 300 {
        reply.head.set("Cache-Control", "private, no-store");
    }
    reply
}

/// A shared file: its page at `/s/CODE`, its bytes at `/s/CODE/NAME`.
fn file_share(cx: &Cx, asked: &Asked) -> Reply {
    let name = asked.base.name();
    let opened = Download::open(&asked.owner, &cx.shared.sums, &asked.base, 0);
    let open = match opened {
        Ok(open) => open,
        Err(e) => return cx.engine_failure(&e),
    };
    match asked.rest {
        [] => file_page(asked, Served::new(open, name)),
        [n] if n == name => serve::file(cx.req, Served::new(open, name), inline(cx)),
        _ => cx.failure(404, "not in this share"),
    }
}

fn inline(cx: &Cx) -> bool {
    has_flag(cx.req.path_and_query().1, "inline")
}

fn file_page(asked: &Asked, served: Served) -> Reply {
    let name = &served.name;
    let href = asked.url(name);
    let open = match inline_type(name) {
        Some(_) => format!(" · <a href=\"{}?inline\">Open</a>", html::escape(&href)),
        None => String::new(),
    };
    let body = format!(
        "<h1>{}</h1>\n<dl><dt>Size</dt><dd title=\"{} bytes\">{}</dd><dt>MD5</dt><dd><code>{}</code></dd>\
         <dt>Date</dt><dd>{}</dd></dl>\n<p><a href=\"{}\" download>Download</a>{open}</p>",
        html::escape(name),
        served.open.size,
        html::size(served.open.size),
        served.open.md5,
        crate::clock::utc(served.mtime),
        html::escape(&href),
    );
    Reply::page(200, html::page(name, &body))
}

/// A shared folder: listings, downloads of its files, ZIPs of its folders.
fn folder_share(cx: &Cx, asked: &Asked) -> Reply {
    let mut path = asked.base.clone();
    if !asked.rest.is_empty() {
        let below = user_path(asked.rest).map(|p| format!("{}{p}", asked.base));
        match below.and_then(|text| UserPath::root().resolve(&text)) {
            Ok(p) => path = p,
            Err(e) => return cx.engine_failure(&e),
        }
    }
    let entry = match asked.owner.entry(&path) {
        Ok(entry) => entry,
        Err(e) => return cx.engine_failure(&e),
    };
    let rel = asked.rest.join("/");
    if entry.kind == Kind::File {
        return match Download::open(&asked.owner, &cx.shared.sums, &path, 0) {
            Ok(open) => serve::file(cx.req, Served::new(open, path.name()), inline(cx)),
            Err(e) => cx.engine_failure(&e),
        };
    }
    let query = cx.req.path_and_query().1;
    if has_flag(query, "zip") {
        return zip(cx, asked, &path, &entry);
    }
    if !asked.trailing_slash {
        let slash = if rel.is_empty() { asked.url("") } else { format!("{}/", asked.url(&rel)) };
        return Reply::redirect(301, &slash);
    }
    let mut limit = ListLimit::new(cx.shared.config.max_list);
    match asked.owner.list(&path, &mut limit) {
        Ok(entries) => listing(asked, &rel, entries),
        Err(e) => cx.engine_failure(&e),
    }
}

/// A folder's page: breadcrumbs inside the share, folders then files.
fn listing(asked: &Asked, rel: &str, mut entries: Vec<Entry>) -> Reply {
    entries.sort_by(|a, b| (a.kind != Kind::Dir, &a.name).cmp(&(b.kind != Kind::Dir, &b.name)));
    let top = asked.base.name();
    let mut crumbs = format!("<a href=\"{}\">{}</a>", html::escape(&asked.url("")), html::escape(top));
    let mut so_far = String::new();
    for name in asked.rest {
        so_far = if so_far.is_empty() { name.clone() } else { format!("{so_far}/{name}") };
        let href = format!("{}/", asked.url(&so_far));
        crumbs.push_str(&format!(" / <a href=\"{}\">{}</a>", html::escape(&href), html::escape(name)));
    }
    let mut rows = String::new();
    for e in &entries {
        let rel_name = if rel.is_empty() { e.name.clone() } else { format!("{rel}/{}", e.name) };
        let (href, size) = match e.kind {
            Kind::Dir => (format!("{}/", asked.url(&rel_name)), "folder".to_string()),
            Kind::File => (asked.url(&rel_name), html::size(e.size)),
        };
        let shown = if e.kind == Kind::Dir { format!("{}/", e.name) } else { e.name.clone() };
        rows.push_str(&format!(
            "<tr><td><a href=\"{}\">{}</a></td><td title=\"{} bytes\">{size}</td><td>{}</td></tr>\n",
            html::escape(&href),
            html::escape(&shown),
            e.size,
            crate::clock::utc(e.mtime)
        ));
    }
    let title = asked.rest.last().map_or(top, String::as_str);
    let body = format!(
        "<nav>{crumbs}</nav>\n<h1>{}</h1>\n<p><a href=\"?zip\">Download all</a> ({} item{})</p>\n\
         <table><thead><tr><th>Name</th><th>Size</th><th>Date</th></tr></thead><tbody>\n{rows}</tbody></table>",
        html::escape(title),
        entries.len(),
        if entries.len() == 1 { "" } else { "s" }
    );
    Reply::page(200, html::page(title, &body))
}

/// `?zip`: the folder at `path` as a streamed ZIP named `FOLDER.zip`.
fn zip(cx: &Cx, asked: &Asked, path: &UserPath, entry: &Entry) -> Reply {
    let spool = match spool_file(&cx.shared.data) {
        Ok(file) => file,
        Err(e) => return cx.failure(500, "cannot start the archive").with_note(e.to_string()),
    };
    let top = top_name(&entry.name);
    let mut reply = Reply::new(200);
    reply.head.set("Content-Type", "application/zip");
    reply.head.set("Content-Disposition", disposition("attachment", &format!("{top}.zip")));
    reply.head.set("Content-Security-Policy", "sandbox");
    let job = ZipJob {
        data: cx.shared.data.clone(),
        code: Some(asked.share.code.clone()),
        tree: asked.owner.clone(),
        dir: path.clone(),
        top,
        max_list: cx.shared.config.max_list,
        spool,
    };
    reply.body = Payload::Zip(Box::new(job));
    reply
}

/// `/api/zip/PATH`: an account holder's own folder as a streamed ZIP,
/// like a shared folder's `?zip` (the web app's folder download).
pub(crate) fn own_zip(cx: &Cx, tree: &Tree, path: &UserPath) -> Reply {
    let entry = match tree.entry(path) {
        Ok(e) if e.kind == Kind::Dir => e,
        Ok(_) => return cx.failure(404, "not a folder"),
        Err(e) => return cx.engine_failure(&e),
    };
    let spool = match spool_file(&cx.shared.data) {
        Ok(file) => file,
        Err(e) => return cx.failure(500, "cannot start the archive").with_note(e.to_string()),
    };
    let top = top_name(if path.is_root() { "files" } else { &entry.name });
    let mut reply = Reply::new(200);
    reply.head.set("Content-Type", "application/zip");
    reply.head.set("Content-Disposition", disposition("attachment", &format!("{top}.zip")));
    reply.head.set("Content-Security-Policy", "sandbox");
    reply.head.set("Cache-Control", "private, no-store");
    let data = cx.shared.data.clone();
    let max_list = cx.shared.config.max_list;
    let job = ZipJob { data, code: None, tree: tree.clone(), dir: path.clone(), top, max_list, spool };
    reply.body = Payload::Zip(Box::new(job));
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
pub(crate) struct ZipJob {
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

impl ZipJob {
    /// Writes the archive to `out` (chunked for HTTP/1.1); the bytes of
    /// the body. An error (a revoked code, a failing file, the client
    /// gone) stops it before the last chunk: the client sees a cut body.
    pub(crate) fn run(self, out: &TcpStream, chunked: bool) -> io::Result<u64> {
        let ZipJob { data, code, tree, dir, top, max_list, spool } = self;
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
