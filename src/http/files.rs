//! `/files/PATH` (HTTP.md "Files of an account holder"): `GET`/`HEAD` a
//! file, `PUT` a whole new content, `DELETE` to the trash.
//!
//! A `PUT` goes through the engine's upload exactly as a text `upload`
//! does: staged, checked against the size limit and quota before the
//! body is read (so `Expect: 100-continue` is answered only then),
//! verified by MD5, committed on stable storage, the replaced file kept
//! in the trash. A writer of the same path on any face holds it (`423`).

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom};

use crate::digest::Digest;
use crate::http::decode::base64;
use crate::http::engine::{self, Login};
use crate::http::serve::{self, Served, etag};
use crate::http::target::has_flag;
use crate::http::wire::Framing;
use crate::http::{Cx, Reply, not_allowed};
use crate::storage::content::random_hex;
use crate::storage::locks::Locks;
use crate::storage::staging::{Download, Request, Stop, Upload};
use crate::storage::tree::{Kind, UserPath};

const ALLOW: &str = "GET, HEAD, PUT, DELETE, OPTIONS";

/// Serves `/files/` + `names`.
pub(crate) fn route(cx: &mut Cx, names: &[String]) -> Reply {
    if cx.req.method == "OPTIONS" {
        let mut reply = Reply::new(204);
        reply.head.set("Allow", ALLOW);
        return reply;
    }
    if !matches!(cx.req.method.as_str(), "GET" | "HEAD" | "PUT" | "DELETE") {
        return not_allowed(cx, ALLOW);
    }
    let user = match cx.authenticate() {
        Ok(user) => user,
        Err(reply) => return reply,
    };
    let path = match user_path(names) {
        Ok(p) => p,
        Err(e) => return cx.engine_failure(&e),
    };
    let login = match engine::login(cx.shared, &user) {
        Ok(login) => login,
        Err(e) => return cx.engine_failure(&e),
    };
    // A WebDAV lock binds this face too (no token is submitted here).
    if matches!(cx.req.method.as_str(), "PUT" | "DELETE")
        && let Err(e) = Locks::refuse_locked(&cx.shared.data, &login.user, &path, true)
    {
        return cx.engine_failure(&e);
    }
    let mut reply = match cx.req.method.as_str() {
        "PUT" => put(cx, &login, &path),
        "DELETE" => delete(cx, &login, &path),
        _ => get(cx, &login, &path),
    };
    if reply.head.get("Cache-Control").is_none() {
        reply.head.set("Cache-Control", "private, no-store");
    }
    reply
}

/// The user path of decoded `names`, checked by the jail's rules.
pub(crate) fn user_path(names: &[String]) -> engine::Result<UserPath> {
    // The names hold no `/` and are never `.` or `..` (see `target`).
    match names.is_empty() {
        true => Ok(UserPath::root()),
        false => UserPath::root().resolve(&format!("/{}", names.join("/"))),
    }
}

pub(crate) fn get(cx: &Cx, login: &Login, path: &UserPath) -> Reply {
    match login.tree.entry(path) {
        Ok(entry) if entry.kind == Kind::Dir => return cx.failure(404, "a folder: folders are listed by the web app"),
        Ok(_) => {}
        Err(e) => return cx.engine_failure(&e),
    }
    match Download::open(&login.tree, &cx.shared.sums, path, 0) {
        Ok(open) => serve::file(cx.req, Served::new(open, path.name()), has_flag(cx.req.path_and_query().1, "inline")),
        Err(e) => cx.engine_failure(&e),
    }
}

fn delete(cx: &Cx, login: &Login, path: &UserPath) -> Reply {
    if engine::read_only(cx.shared) {
        return cx.failure(503, "storage is read-only until the server restarts");
    }
    if path.is_root() {
        return cx.failure(409, "the top folder cannot be removed");
    }
    match engine::remove(cx.shared, login, path) {
        Ok(()) => Reply::new(204),
        Err(e) => cx.engine_failure(&e),
    }
}

/// The digest a `PUT` announces: `Content-MD5` (base64) or
/// `X-Netdisk-MD5` (hex); `Err` when one is malformed.
fn announced(cx: &Cx) -> Result<Option<Digest>, Reply> {
    let bad = || cx.failure(400, "malformed Content-MD5 or X-Netdisk-MD5");
    let from_b64 = cx.req.header("content-md5").map(|v| base64(v.trim()).and_then(|b| <[u8; 16]>::try_from(b).ok()));
    let from_hex = cx.req.header("x-netdisk-md5").map(|v| Digest::from_hex(v.trim()).map(|d| d.0));
    match (from_b64, from_hex) {
        (Some(None), _) | (_, Some(None)) => Err(bad()),
        (Some(Some(a)), Some(Some(b))) if a != b => Err(cx.failure(400, "Content-MD5 and X-Netdisk-MD5 differ")),
        (Some(Some(d)), _) | (None, Some(Some(d))) => Ok(Some(Digest(d))),
        (None, None) => Ok(None),
    }
}

pub(crate) fn put(cx: &mut Cx, login: &Login, path: &UserPath) -> Reply {
    if engine::read_only(cx.shared) {
        return cx.failure(503, "storage is read-only until the server restarts");
    }
    let md5 = match announced(cx) {
        Ok(md5) => md5,
        Err(reply) => return reply,
    };
    if let Err(reply) = place_is_free(cx, login, path) {
        return reply;
    }
    let existed = login.tree.entry(path).is_ok();
    let (mut spooled, size) = match cx.req.framing {
        Framing::Length(n) => (None, n),
        Framing::None => (None, 0),
        Framing::Chunked => match continue_if_asked(cx).and_then(|_| spool(cx, login)) {
            Ok((file, size)) => (Some(file), size),
            Err(reply) => return reply,
        },
    };
    let request = Request { path, size, md5, from: Some(0) };
    let staging = login.staging(cx.shared);
    let mut up = match Upload::prepare(&login.tree, &staging, &request, engine::limits(cx.shared, login)) {
        Ok(up) => up,
        Err(e) => return cx.engine_failure(&e),
    };
    if spooled.is_none() && size > 0 && continue_if_asked(cx).is_err() {
        return Reply::new(400).with_note("client gone");
    }
    let received = match spooled.as_mut() {
        Some(file) => up.receive(file),
        None => {
            let mut body = cx.body();
            let received = up.receive(&mut body);
            (cx.body_done, cx.body_broken) = (body.complete(), body.broken);
            received
        }
    };
    match received {
        Ok(()) => {}
        Err(Stop::Client(e)) if cx.body_broken => {
            return cx.failure(400, "malformed chunked body").with_note(e.to_string());
        }
        Err(Stop::Client(e)) => return cx.failure(400, "the body ended early or stalled").with_note(e.to_string()),
        Err(Stop::Server(e)) => return cx.engine_failure(&e),
    }
    let got = up.offer().1;
    let verified = match up.verify(Some(md5.unwrap_or(got))) {
        Ok(v) => v,
        Err(e) => return cx.failure(400, &e.to_string()).with_note("md5 mismatch"),
    };
    commit(cx, login, path, verified, existed)
}

/// `100 Continue` when the client waits for it (the request is then
/// authorised and, when its length is known, fits the quota).
fn continue_if_asked(cx: &mut Cx) -> Result<(), Reply> {
    match cx.req.expects_continue && cx.req.minor == 1 {
        true => {
            cx.conn.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").map_err(|_| Reply::new(400).with_note("client gone"))
        }
        false => Ok(()),
    }
}

/// A folder must hold the target, and no folder may be in its way.
fn place_is_free(cx: &Cx, login: &Login, path: &UserPath) -> Result<(), Reply> {
    if path.is_root() {
        return Err(cx.failure(409, "a folder is in the way"));
    }
    match login.tree.dir(&path.parent()) {
        Ok(_) => {}
        Err(e) if engine::status_of(&e) == 404 || engine::status_of(&e) == 409 => {
            return Err(cx.failure(409, "the folder to hold it does not exist"));
        }
        Err(e) => return Err(cx.engine_failure(&e)),
    }
    match login.tree.entry(path) {
        Ok(entry) if entry.kind == Kind::Dir => Err(cx.failure(409, "a folder is in the way")),
        _ => Ok(()),
    }
}

/// Reads a chunked body whole into an unlinked file in the user's
/// staging area (at most the file-size limit), for an upload whose size
/// is then known.
fn spool(cx: &mut Cx, login: &Login) -> Result<(File, u64), Reply> {
    let staging = login.staging(cx.shared);
    let made = std::fs::create_dir_all(&staging).and_then(|_| {
        let name = staging.join(format!("http-{}.spool", random_hex()?));
        let file = OpenOptions::new().read(true).write(true).create_new(true).open(&name)?;
        std::fs::remove_file(&name)?;
        Ok(file)
    });
    let mut file = made.map_err(|e| cx.failure(500, "cannot stage the upload").with_note(e.to_string()))?;
    let max = cx.shared.config.max_file_size;
    let mut body = cx.body();
    let copied = io::copy(&mut io::Read::take(&mut body, max.saturating_add(1)), &mut file);
    (cx.body_done, cx.body_broken) = (body.complete(), body.broken);
    match copied {
        Ok(n) if n > max => Err(cx.failure(507, "larger than the server's file-size limit")),
        Ok(_) if !cx.body_done => Err(cx.failure(400, "the body ended early")),
        Ok(n) => match file.seek(SeekFrom::Start(0)) {
            Ok(_) => Ok((file, n)),
            Err(e) => Err(cx.failure(500, "cannot stage the upload").with_note(e.to_string())),
        },
        Err(e) if cx.body_broken => Err(cx.failure(400, "malformed chunked body").with_note(e.to_string())),
        Err(e) => Err(cx.failure(400, "the body ended early or stalled").with_note(e.to_string())),
    }
}

/// Commits a verified upload like a text `upload`.
fn commit(
    cx: &Cx,
    login: &Login,
    path: &UserPath,
    verified: crate::storage::staging::Verified,
    existed: bool,
) -> Reply {
    let (size, md5) = (verified.size(), verified.md5());
    match engine::commit(cx.shared, login, verified, path) {
        Ok(_) => {
            let mut reply = Reply::new(if existed { 204 } else { 201 });
            reply.head.set("ETag", etag(md5));
            reply.note = format!("{size} bytes");
            reply
        }
        Err(e) => cx.engine_failure(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_paths_come_from_checked_names() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(user_path(&names(&["a", "文件"])).unwrap().to_string(), "/a/文件");
        assert_eq!(user_path(&[]).unwrap().to_string(), "/");
        assert!(user_path(&names(&["a\\b"])).is_err());
    }
}
