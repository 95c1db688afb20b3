//! `PUT`, `DELETE`, `MKCOL`, `COPY` and `MOVE`: each asks the lock
//! manager first, then does what the text protocol's upload, `rm`,
//! `makedir`, `cp` and `mv` do. What they replace or delete goes to the
//! trash; a copy is made of hard links.

use std::fs::File;
use std::time::{Duration, UNIX_EPOCH};

use super::props::{copy_dead, dead_of, keep_dead};
use super::{Dav, locked};
use crate::http::engine;
use crate::http::target::segments;
use crate::http::wire::Framing;
use crate::http::{Cx, Reply, files};
use crate::storage::locks::Locked;
use crate::storage::props as records;
use crate::storage::tree::{Kind, UserPath};

impl Dav {
    /// Refuses with `423` when a lock not submitted is in the way.
    pub(super) fn unlocked(
        &self,
        cx: &Cx,
        path: &UserPath,
        whole: bool,
        member: bool,
        tokens: &[String],
    ) -> Result<(), Reply> {
        let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
        match self.locks.check(path, whole, member, &tokens) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(Locked(root))) => Err(locked(&root, self.is_dir(&root))),
            Err(e) => Err(cx.engine_failure(&e)),
        }
    }

    pub(super) fn put(&self, cx: &mut Cx) -> Reply {
        let tokens = match self.if_header(cx) {
            Ok(t) => t,
            Err(reply) => return reply,
        };
        let existing = self.login.tree.entry(&self.path).ok();
        if existing.as_ref().is_some_and(|e| e.kind == Kind::Dir) {
            return crate::http::not_allowed(
                cx,
                "OPTIONS, PROPFIND, PROPPATCH, MKCOL, COPY, MOVE, LOCK, UNLOCK, DELETE",
            );
        }
        if let Err(reply) = self.unlocked(cx, &self.path, false, existing.is_none(), &tokens) {
            return reply;
        }
        let dead = if existing.is_some() { dead_of(&self.login, &self.path) } else { Vec::new() };
        let mut reply = files::put(cx, &self.login, &self.path);
        if !matches!(reply.head.status, 200 | 201 | 204) {
            return reply;
        }
        keep_dead(&self.login, &self.path, &dead);
        if let Some(secs) = cx.req.header("x-oc-mtime").and_then(|v| oc_mtime(&v)) {
            let set = self.login.tree.checked(&self.path).and_then(|real| {
                let when = UNIX_EPOCH + Duration::from_secs(secs);
                File::open(&real).and_then(|f| f.set_modified(when)).map_err(|e| engine::Error::io("mtime", e))
            });
            if set.is_ok() {
                reply.head.set("X-OC-Mtime", "accepted");
            }
        }
        reply
    }

    pub(super) fn delete(&self, cx: &mut Cx) -> Reply {
        let tokens = match self.if_header(cx) {
            Ok(t) => t,
            Err(reply) => return reply,
        };
        if self.path.is_root() {
            return cx.failure(403, "the top folder cannot be removed");
        }
        if let Err(e) = self.login.tree.entry(&self.path) {
            return cx.engine_failure(&e);
        }
        if let Err(reply) = self.unlocked(cx, &self.path, true, true, &tokens) {
            return reply;
        }
        if let Err(e) = self.to_trash(cx, &self.path) {
            return cx.engine_failure(&e);
        }
        Reply::new(204)
    }

    /// Sends `path` to the trash (the whole tree, one item); its locks go.
    fn to_trash(&self, cx: &Cx, path: &UserPath) -> engine::Result<()> {
        engine::remove(cx.shared, &self.login, path)?;
        self.locks.drop_under(path)
    }

    pub(super) fn mkcol(&self, cx: &mut Cx) -> Reply {
        if !matches!(cx.req.framing, Framing::None | Framing::Length(0)) {
            return cx.failure(415, "MKCOL takes no body");
        }
        let tokens = match self.if_header(cx) {
            Ok(t) => t,
            Err(reply) => return reply,
        };
        if self.path.is_root() || self.login.tree.entry(&self.path).is_ok() {
            return crate::http::not_allowed(cx, "OPTIONS, PROPFIND, PROPPATCH, COPY, MOVE, LOCK, UNLOCK, DELETE");
        }
        if self.login.tree.dir(&self.path.parent()).is_err() {
            return cx.failure(409, "the folder to hold it does not exist");
        }
        if let Err(reply) = self.unlocked(cx, &self.path, false, true, &tokens) {
            return reply;
        }
        match self.login.tree.makedir(&self.path, self.login.quota(cx.shared)) {
            Ok(()) => Reply::new(201),
            Err(e) => cx.engine_failure(&e),
        }
    }

    pub(super) fn copy_or_move(&self, cx: &mut Cx, mv: bool) -> Reply {
        let tokens = match self.if_header(cx) {
            Ok(t) => t,
            Err(reply) => return reply,
        };
        let to = match cx.req.header("destination").map(|d| destination(cx, &d)) {
            Some(Ok(to)) => to,
            Some(Err(reply)) => return reply,
            None => return cx.failure(400, "no Destination"),
        };
        let overwrite = match cx.req.header("overwrite").as_deref().map(str::trim) {
            None | Some("T" | "t") => true,
            Some("F" | "f") => false,
            Some(_) => return cx.failure(400, "Overwrite is T or F"),
        };
        let source = match self.login.tree.entry(&self.path) {
            Ok(e) => e,
            Err(e) => return cx.engine_failure(&e),
        };
        let dir = source.kind == Kind::Dir;
        let deep = match cx.req.header("depth").as_deref().map(str::trim) {
            None | Some("infinity" | "Infinity") => true,
            Some("0") if !mv || !dir => false,
            _ => return cx.failure(400, "Depth is 0 or infinity (MOVE of a folder: infinity)"),
        };
        if self.path.is_root() && mv {
            return cx.failure(403, "the top folder cannot be moved");
        }
        if to == self.path {
            return cx.failure(403, "the source and the destination are the same");
        }
        if to.is_within(&self.path) || to.is_root() {
            return cx.failure(409, "the destination is inside the source");
        }
        if self.login.tree.dir(&to.parent()).is_err() {
            return cx.failure(409, "the folder to hold the destination does not exist");
        }
        if mv && let Err(reply) = self.unlocked(cx, &self.path, true, true, &tokens) {
            return reply;
        }
        if let Err(reply) = self.unlocked(cx, &to, true, true, &tokens) {
            return reply;
        }
        let existed = self.login.tree.entry(&to).is_ok();
        if existed {
            if !overwrite {
                return cx.failure(412, "the destination exists (Overwrite: F)");
            }
            if let Err(e) = self.to_trash(cx, &to) {
                return cx.engine_failure(&e);
            }
        }
        let done = if mv { self.move_to(cx, &to) } else { self.copy_to(cx, &to, dir, deep) };
        match done {
            Ok(()) => Reply::new(if existed { 204 } else { 201 }),
            Err(e) => cx.engine_failure(&e),
        }
    }

    fn move_to(&self, cx: &Cx, to: &UserPath) -> engine::Result<()> {
        let tree = &self.login.tree;
        engine::rename(cx.shared, &self.login, &self.path, to)?;
        if let (Ok(a), Ok(b)) = (tree.checked(&self.path), tree.checked(to)) {
            let _ = records::moved(&a, &b);
        }
        self.locks.drop_under(&self.path)
    }

    fn copy_to(&self, cx: &Cx, to: &UserPath, dir: bool, deep: bool) -> engine::Result<()> {
        let tree = &self.login.tree;
        if dir && !deep {
            tree.makedir(to, self.login.quota(cx.shared))?;
            if let (Ok(a), Ok(b)) = (tree.checked(&self.path), tree.checked(to)) {
                let _ = records::read(&a).and_then(|bytes| records::write(&b, &bytes));
            }
            return Ok(());
        }
        engine::copy(cx.shared, &self.login, &self.path, to)?;
        if !dir {
            copy_dead(&self.login, &self.path, to);
        }
        Ok(())
    }
}

/// `X-OC-Mtime`: Unix seconds (a fraction is dropped).
fn oc_mtime(value: &str) -> Option<u64> {
    let whole = value.trim().split('.').next()?;
    whole.parse().ok()
}

/// The user path a `Destination` (or a tagged `If` resource) names: an
/// absolute URL on this server or an absolute path, under `/dav/`.
pub(super) fn destination(cx: &Cx, value: &str) -> Result<UserPath, Reply> {
    let value = value.trim();
    let path = match value.split_once("://") {
        Some((_, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = cx.req.header("host").unwrap_or_default();
            if !authority.eq_ignore_ascii_case(host.trim()) {
                return Err(cx.failure(502, "the destination is on another server"));
            }
            path
        }
        None => value,
    };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let seg = segments(path).map_err(|e| cx.failure(400, e.0))?;
    if seg.names.first().map(String::as_str) != Some("dav") {
        return Err(cx.failure(502, "the destination is not under /dav/"));
    }
    files::user_path(&seg.names[1..]).map_err(|e| cx.engine_failure(&e))
}
