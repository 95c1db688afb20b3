//! WebDAV at `/dav/` (HTTP.md "WebDAV: /dav/"): RFC 4918 classes 1 and 2
//! and the quota properties of RFC 4331, over the same accounts, trees,
//! trash and quotas as every other face.
//!
//! - `xml`: the strict reader of request bodies and the reply writer
//! - `props`: `PROPFIND` (streamed), `PROPPATCH`, the live properties
//! - `write`: `PUT`, `DELETE`, `MKCOL`, `COPY`, `MOVE`
//! - `lock`: `LOCK`, `UNLOCK`, the `If` header
//!
//! Engine calls go through `crate::http::engine`, the tree, the trash,
//! `storage::locks` and `storage::props`. Every write first asks the lock
//! manager whether a lock is in its way (with the tokens the request
//! submitted in `If`).

mod lock;
mod props;
mod write;
pub mod xml;

use std::io::Read;

use crate::http::engine::{self, Login};
use crate::http::target::{Segments, encode_path};
use crate::http::wire::Framing;
use crate::http::{Cx, Reply, files};
use crate::storage::locks::Locks;
use crate::storage::tree::{Kind, UserPath};
use xml::{Element, Writer, XmlError};

/// Every method served under `/dav/`.
const ALLOW: &str = "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, MKCOL, COPY, MOVE, LOCK, UNLOCK";

/// `OPTIONS` anywhere under `/dav/` and for `/`: no credentials needed.
pub(crate) fn options() -> Reply {
    let mut reply = Reply::new(200);
    reply.head.set("DAV", "1, 2");
    reply.head.set("MS-Author-Via", "DAV");
    reply.head.set("Allow", ALLOW);
    reply.head.set("Cache-Control", "private, no-store");
    reply
}

/// One request under `/dav/`: the account's view, the path, its locks.
pub(crate) struct Dav {
    login: Login,
    path: UserPath,
    locks: Locks,
    /// Whether the URL ended with `/`.
    slash: bool,
}

/// Serves `/dav/...`; `seg.names[0]` is `dav`.
pub(crate) fn route(cx: &mut Cx, seg: &Segments) -> Reply {
    let method = cx.req.method.clone();
    if method == "OPTIONS" {
        return options();
    }
    if !ALLOW.split(", ").any(|m| m == method) {
        return crate::http::not_allowed(cx, ALLOW);
    }
    let user = match cx.authenticate() {
        Ok(user) => user,
        Err(reply) => return reply,
    };
    let path = match files::user_path(&seg.names[1..]) {
        Ok(p) => p,
        Err(e) => return cx.engine_failure(&e),
    };
    let login = match engine::login(cx.shared, &user) {
        Ok(login) => login,
        Err(e) => return cx.engine_failure(&e),
    };
    let writes = !matches!(method.as_str(), "GET" | "HEAD" | "PROPFIND");
    if writes && engine::read_only(cx.shared) {
        return cx.failure(503, "storage is read-only until the server restarts");
    }
    let locks = Locks::new(&cx.shared.data, &user);
    let dav = Dav { login, path, locks, slash: seg.trailing_slash };
    let mut reply = match method.as_str() {
        "GET" | "HEAD" => dav.get(cx),
        "PROPFIND" => dav.propfind(cx),
        "PROPPATCH" => dav.proppatch(cx),
        "PUT" => dav.put(cx),
        "DELETE" => dav.delete(cx),
        "MKCOL" => dav.mkcol(cx),
        "COPY" => dav.copy_or_move(cx, false),
        "MOVE" => dav.copy_or_move(cx, true),
        "LOCK" => dav.lock(cx),
        "UNLOCK" => dav.unlock(cx),
        _ => crate::http::not_allowed(cx, ALLOW),
    };
    reply.head.set("Cache-Control", "private, no-store");
    reply
}

impl Dav {
    fn get(&self, cx: &mut Cx) -> Reply {
        match self.login.tree.entry(&self.path) {
            Ok(e) if e.kind == Kind::Dir => {
                let mut reply = Reply::text(200, "a folder: list it with PROPFIND");
                reply.head.set("Content-Type", "text/plain; charset=utf-8");
                reply
            }
            Ok(_) if self.slash => cx.failure(404, "not a folder"),
            Ok(_) => files::get(cx, &self.login, &self.path),
            Err(e) => cx.engine_failure(&e),
        }
    }
}

/// The URL of `path` under `/dav`, percent-encoded; folders end with `/`.
pub(crate) fn href(path: &UserPath, dir: bool) -> String {
    let mut out = format!("/dav{}", encode_path(&path.to_string()));
    if dir && !out.ends_with('/') {
        out.push('/');
    }
    out
}

/// An XML reply.
fn xml_reply(status: u16, body: String) -> Reply {
    let mut reply = Reply::new(status);
    reply.head.set("Content-Type", "application/xml; charset=utf-8");
    reply.body = crate::http::Payload::Bytes(body.into_bytes());
    reply
}

/// A failure with the RFC 4918 error body naming `condition`, with the
/// hrefs it concerns.
fn condition(status: u16, condition: &str, hrefs: &[String]) -> Reply {
    let mut w = Writer::document("error");
    if hrefs.is_empty() {
        w.empty(condition);
    } else {
        w.open(condition);
        for h in hrefs {
            w.text_element("href", h);
        }
        w.close(condition);
    }
    xml_reply(status, w.finish("error"))
}

/// `423` with `lock-token-submitted` naming the lock's root.
fn locked(root: &UserPath, dir: bool) -> Reply {
    condition(423, "lock-token-submitted", &[href(root, dir)]).with_note(format!("locked by {root}"))
}

/// Reads the request's XML body: `None` when there is none.
fn read_xml(cx: &mut Cx) -> Result<Option<Element>, Reply> {
    if matches!(cx.req.framing, Framing::None | Framing::Length(0)) {
        return Ok(None);
    }
    if let Framing::Length(n) = cx.req.framing
        && n > xml::MAX_BODY as u64
    {
        return Err(cx.failure(413, "XML body over 1 MiB"));
    }
    let mut raw = Vec::new();
    let mut body = cx.body();
    let read = (&mut body).take(xml::MAX_BODY as u64 + 1).read_to_end(&mut raw);
    (cx.body_done, cx.body_broken) = (body.complete(), body.broken);
    if let Err(e) = read {
        return Err(cx.failure(400, "the body ended early or is malformed").with_note(e.to_string()));
    }
    if raw.len() > xml::MAX_BODY {
        return Err(cx.failure(413, "XML body over 1 MiB"));
    }
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    match xml::parse(&raw) {
        Ok(doc) => Ok(Some(doc)),
        Err(XmlError::TooLarge) => Err(cx.failure(413, "XML body over 1 MiB")),
        Err(e) => Err(cx.failure(400, &e.to_string()).with_note(e.to_string())),
    }
}
