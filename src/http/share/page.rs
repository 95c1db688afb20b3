//! The pages of a share: a shared file's page, and a shared folder's
//! pages, each with *Save to my disk*.
//!
//! A folder page is streamed like the text protocol's listings: its
//! entries are read first, each kept as a small row (name, kind, size,
//! date; not its metadata), at most `--max-list` of them, so a folder
//! past the limit gets its `403` page before anything else is sent; then
//! the rows go out as HTML through the bounded buffer of [`Chunked`],
//! never the whole page in memory.

use std::io::{self, Write};
use std::net::TcpStream;
use std::time::SystemTime;

use super::Asked;
use crate::http::serve::{Served, inline_type};
use crate::http::{Chunked, Cx, Payload, Reply, Streamed, html};
use crate::storage::tree::{Kind, ListLimit, UserPath};

/// A shared file's page: name, size, MD5, date, *Download*, *Save to my
/// disk*.
pub(super) fn file_page(asked: &Asked, served: Served) -> Reply {
    let name = &served.name;
    let href = asked.url(name);
    let open = match inline_type(name) {
        Some(_) => format!(" · <a href=\"{}?inline\">Open</a>", html::escape(&href)),
        None => String::new(),
    };
    let body = format!(
        "<h1>{}</h1>\n<dl><dt>Size</dt><dd title=\"{} bytes\">{}</dd><dt>MD5</dt><dd><code>{}</code></dd>\
         <dt>Date</dt><dd>{}</dd></dl>\n<p><a href=\"{}\" download>Download</a>{open}</p>\n{}",
        html::escape(name),
        served.open.size,
        html::size(served.open.size),
        served.open.md5,
        crate::clock::utc(served.mtime),
        html::escape(&href),
        save_form(&format!("/s/{}", asked.share.code), "file"),
    );
    Reply::page(200, html::page(name, &body))
}

/// *Save to my disk*: a form posting to the URL of the item shown.
pub(super) fn save_form(action: &str, what: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{}\"><button type=\"submit\">Save to my disk</button> \
         <small>(a copy of this {what} in your own netdisk files; you log in first)</small></form>",
        html::escape(action)
    )
}

/// A folder's page (the folder at `path` in the owner's tree), streamed;
/// past `--max-list` entries, the refusal instead.
pub(super) fn folder_page(cx: &Cx, asked: &Asked, path: &UserPath) -> Reply {
    let mut rows = Vec::new();
    let mut limit = ListLimit::new(cx.shared.config.max_list);
    if let Err(e) = asked.owner.scan(path, &mut limit, |e| rows.push(Row::new(e))) {
        return cx.engine_failure(&e);
    }
    rows.sort_unstable_by(|a, b| (!a.dir, &a.name).cmp(&(!b.dir, &b.name)));
    let rel = asked.rel();
    let here = if rel.is_empty() { asked.url("") } else { format!("{}/", asked.url(&rel)) };
    let page = FolderPage { top: top_html(asked, &here, rows.len()), here, rows };
    let mut reply = Reply::new(200);
    reply.head.set("Content-Type", "text/html; charset=utf-8");
    reply.body = Payload::Stream(Box::new(page));
    reply
}

/// One entry of a folder page: what the page shows, nothing more.
struct Row {
    name: Box<str>,
    dir: bool,
    size: u64,
    mtime: SystemTime,
}

impl Row {
    fn new(e: crate::storage::tree::Entry) -> Row {
        Row { name: e.name.into_boxed_str(), dir: e.kind == Kind::Dir, size: e.size, mtime: e.mtime }
    }

    /// The row's HTML; `here` is the folder's URL (encoded, ending in `/`).
    fn html(&self, here: &str) -> String {
        let encoded = crate::http::target::encode_name(&self.name);
        let (href, size, shown) = match self.dir {
            true => (format!("{here}{encoded}/"), "folder".to_string(), format!("{}/", self.name)),
            false => (format!("{here}{encoded}"), html::size(self.size), self.name.to_string()),
        };
        format!(
            "<tr><td><a href=\"{}\">{}</a></td><td title=\"{} bytes\">{size}</td><td>{}</td></tr>\n",
            html::escape(&href),
            html::escape(&shown),
            self.size,
            crate::clock::utc(self.mtime)
        )
    }
}

/// The page above the rows: breadcrumbs inside the share only, the
/// title, *Download all*, *Save to my disk*, the table's head.
fn top_html(asked: &Asked, here: &str, count: usize) -> String {
    let top = asked.base.name();
    let mut crumbs = format!("<a href=\"{}\">{}</a>", html::escape(&asked.url("")), html::escape(top));
    let mut so_far = String::new();
    for name in asked.rest {
        so_far = if so_far.is_empty() { name.clone() } else { format!("{so_far}/{name}") };
        let href = format!("{}/", asked.url(&so_far));
        crumbs.push_str(&format!(" / <a href=\"{}\">{}</a>", html::escape(&href), html::escape(name)));
    }
    let title = asked.rest.last().map_or(top, String::as_str);
    format!(
        "{}<nav>{crumbs}</nav>\n<h1>{}</h1>\n<p><a href=\"?zip\">Download all</a> ({count} item{})</p>\n{}\n\
         <table><thead><tr><th>Name</th><th>Size</th><th>Date</th></tr></thead><tbody>\n",
        html::page_start(title),
        html::escape(title),
        if count == 1 { "" } else { "s" },
        save_form(here, "folder"),
    )
}

/// A folder page on its way: the top, then each row as it is written.
struct FolderPage {
    top: String,
    here: String,
    rows: Vec<Row>,
}

impl Streamed for FolderPage {
    fn run(self: Box<Self>, out: &TcpStream, chunked: bool) -> io::Result<u64> {
        let mut out = Chunked::new(out, chunked);
        out.write_all(self.top.as_bytes())?;
        for row in &self.rows {
            out.write_all(row.html(&self.here).as_bytes())?;
        }
        out.write_all(b"</tbody></table>")?;
        out.write_all(html::PAGE_END.as_bytes())?;
        out.end()
    }
}
