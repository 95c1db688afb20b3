//! `/s/CODE` (HTTP.md "Share links"): for anyone holding a code, a page
//! of a shared file, listings of a shared folder, downloads, a folder as
//! a streamed ZIP, and *Save to my disk* for a visitor with an account.
//!
//! - `page`: the file page and the folder pages (streamed)
//! - `archive`: folders as streamed ZIPs (shared, or the user's own)
//! - `save`: `POST` of a share's URL, the copy into the visitor's tree
//!
//! A code that does not exist gets a plain `404` and costs the client's
//! address the share-guess back-off. The code is looked up at every
//! request and before every member of a ZIP, so a revoked code stops at
//! once, in every process. Pages carry no script; every name in them is
//! escaped, every name in a URL percent-encoded. The code is never
//! logged (see `http::shown_path`).

mod archive;
mod page;
mod save;

pub(crate) use archive::own_zip;

use crate::http::engine::{self, Error, ErrorKind};
use crate::http::files::user_path;
use crate::http::serve::{self, Served};
use crate::http::target::{Segments, encode_path, has_flag};
use crate::http::{Cx, Reply, not_allowed};
use crate::storage::shares::{Share, Shares};
use crate::storage::staging::Download;
use crate::storage::tree::{Kind, Tree, UserPath};

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

    /// The names below the shared item, joined by `/`.
    fn rel(&self) -> String {
        self.rest.join("/")
    }

    /// The item asked for, in the owner's tree: the shared item, or (in
    /// a shared folder) one below it.
    fn item(&self) -> engine::Result<UserPath> {
        match (self.share.kind, self.rest) {
            (_, []) => Ok(self.base.clone()),
            (Kind::File, [n]) if n == self.base.name() => Ok(self.base.clone()),
            (Kind::File, _) => Err(Error::new(ErrorKind::NotFound, "not in this share")),
            (Kind::Dir, rest) => {
                let below = user_path(rest)?;
                UserPath::root().resolve(&format!("{}{below}", self.base))
            }
        }
    }
}

pub(crate) fn route(cx: &mut Cx, segments: &Segments) -> Reply {
    let post = cx.req.method == "POST";
    if !post && !matches!(cx.req.method.as_str(), "GET" | "HEAD") {
        return not_allowed(cx, "GET, HEAD, POST");
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
        _ if post => save::save(cx, &asked),
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
        [] => page::file_page(asked, Served::new(open, name)),
        [n] if n == name => serve::file(cx.req, Served::new(open, name), inline(cx)),
        _ => cx.failure(404, "not in this share"),
    }
}

fn inline(cx: &Cx) -> bool {
    has_flag(cx.req.path_and_query().1, "inline")
}

/// A shared folder: listings, downloads of its files, ZIPs of its folders.
fn folder_share(cx: &Cx, asked: &Asked) -> Reply {
    let path = match asked.item() {
        Ok(p) => p,
        Err(e) => return cx.engine_failure(&e),
    };
    let entry = match asked.owner.entry(&path) {
        Ok(entry) => entry,
        Err(e) => return cx.engine_failure(&e),
    };
    if entry.kind == Kind::File {
        return match Download::open(&asked.owner, &cx.shared.sums, &path, 0) {
            Ok(open) => serve::file(cx.req, Served::new(open, path.name()), inline(cx)),
            Err(e) => cx.engine_failure(&e),
        };
    }
    if has_flag(cx.req.path_and_query().1, "zip") {
        return archive::shared_zip(cx, asked, &path, &entry);
    }
    if !asked.trailing_slash {
        let rel = asked.rel();
        let slash = if rel.is_empty() { asked.url("") } else { format!("{}/", asked.url(&rel)) };
        return Reply::redirect(301, &slash);
    }
    page::folder_page(cx, asked, &path)
}
