//! `LOCK` (new locks and refreshes), `UNLOCK`, and the `If` header
//! (RFC 4918 §10.4): its lists are evaluated against the locks and
//! entity tags of the resources they name; false is `412`. The lock
//! tokens it names are the ones the request submits.

use std::io;
use std::time::Duration;

use super::props::activelock;
use super::write::destination;
use super::xml::Writer;
use super::{Dav, condition, href, read_xml, xml_reply};
use crate::http::engine;
use crate::http::{Cx, Reply, serve};
use crate::storage::locks::{Lock, Locked, MAX_TIMEOUT, Scope, Want};
use crate::storage::staging::{Request, Upload};
use crate::storage::tree::UserPath;

/// One condition of an `If` list.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Cond {
    Token(String),
    Etag(String),
}

/// A list of conditions (all must hold), on a resource or the request's.
#[derive(Clone, Debug, PartialEq, Eq)]
struct List {
    resource: Option<String>,
    conds: Vec<(bool, Cond)>,
}

/// Parses an `If` header; `None` when malformed.
fn parse_if(text: &str) -> Option<Vec<List>> {
    let mut lists = Vec::new();
    let mut resource = None;
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('<') {
            let end = r.find('>')?;
            resource = Some(r[..end].to_string());
            rest = r[end + 1..].trim_start();
            if !rest.starts_with('(') {
                return None;
            }
            continue;
        }
        let r = rest.strip_prefix('(')?;
        let end = r.find(')')?;
        let mut inner = r[..end].trim();
        rest = r[end + 1..].trim_start();
        let mut conds = Vec::new();
        while !inner.is_empty() {
            let mut not = false;
            if let Some(after) = inner.strip_prefix("Not").or_else(|| inner.strip_prefix("not")) {
                not = true;
                inner = after.trim_start();
            }
            if let Some(r) = inner.strip_prefix('<') {
                let end = r.find('>')?;
                conds.push((not, Cond::Token(r[..end].to_string())));
                inner = r[end + 1..].trim_start();
            } else if let Some(r) = inner.strip_prefix('[') {
                let end = r.find(']')?;
                conds.push((not, Cond::Etag(r[..end].trim().to_string())));
                inner = r[end + 1..].trim_start();
            } else {
                return None;
            }
        }
        if conds.is_empty() {
            return None;
        }
        lists.push(List { resource: resource.clone(), conds });
    }
    (!lists.is_empty()).then_some(lists)
}

/// The seconds a `Timeout` header asks for (its first usable value).
fn timeout(value: Option<String>) -> Duration {
    let Some(value) = value else { return MAX_TIMEOUT };
    for part in value.split(',').map(str::trim) {
        if part.eq_ignore_ascii_case("infinite") {
            return MAX_TIMEOUT;
        }
        if let Some(n) = part.strip_prefix("Second-").and_then(|n| n.parse::<u64>().ok()) {
            return Duration::from_secs(n).min(MAX_TIMEOUT);
        }
    }
    MAX_TIMEOUT
}

impl Dav {
    /// Evaluates `If`: the tokens it submits, or `412` when it is false
    /// (`400` when malformed).
    pub(super) fn if_header(&self, cx: &Cx) -> Result<Vec<String>, Reply> {
        let Some(text) = cx.req.header("if") else { return Ok(Vec::new()) };
        let Some(lists) = parse_if(&text) else { return Err(cx.failure(400, "malformed If header")) };
        let locks = self.locks.all().map_err(|e| cx.engine_failure(&e))?;
        let mut tokens = Vec::new();
        let mut any = false;
        for list in &lists {
            let path = match &list.resource {
                None => Some(self.path.clone()),
                Some(url) => destination(cx, url).ok(),
            };
            let holds = path.is_some_and(|path| {
                list.conds.iter().all(|(not, c)| {
                    let is = match c {
                        Cond::Token(t) => locks.iter().any(|l| l.token == *t && l.covers(&path)),
                        Cond::Etag(e) => self
                            .etag_of(cx, &path)
                            .is_some_and(|mine| *e == mine || e.strip_prefix("W/") == Some(&mine)),
                    };
                    is != *not
                })
            });
            any |= holds;
            for (not, c) in &list.conds {
                if let (false, Cond::Token(t)) = (not, c) {
                    tokens.push(t.clone());
                }
            }
        }
        if !any {
            return Err(cx.failure(412, "the If header does not hold").with_note("If false"));
        }
        Ok(tokens)
    }

    fn etag_of(&self, cx: &Cx, path: &UserPath) -> Option<String> {
        let real = self.login.tree.checked(path).ok()?;
        let meta = std::fs::symlink_metadata(real).ok()?;
        meta.is_file().then(|| cx.shared.sums.get(&meta).map(serve::etag))?
    }

    pub(super) fn lock(&self, cx: &mut Cx) -> Reply {
        let doc = match read_xml(cx) {
            Ok(doc) => doc,
            Err(reply) => return reply,
        };
        let asked = timeout(cx.req.header("timeout"));
        let Some(info) = doc else { return self.refresh(cx, asked) };
        if !info.name.is_dav("lockinfo") {
            return cx.failure(400, "not a DAV:lockinfo body");
        }
        let scope = match info.dav_child("lockscope").and_then(|s| s.elements().next()) {
            Some(s) if s.name.is_dav("exclusive") => Scope::Exclusive,
            Some(s) if s.name.is_dav("shared") => Scope::Shared,
            _ => return cx.failure(400, "lockscope is exclusive or shared"),
        };
        if !info.dav_child("locktype").and_then(|t| t.elements().next()).is_some_and(|t| t.name.is_dav("write")) {
            return cx.failure(400, "only write locks");
        }
        let owner = info.dav_child("owner").map(|o| {
            let mut w = Writer::fragment();
            w.element(o);
            w.take()
        });
        let infinite = match cx.req.header("depth").as_deref().map(str::trim) {
            None | Some("infinity" | "Infinity") => true,
            Some("0") => false,
            _ => return cx.failure(400, "Depth is 0 or infinity"),
        };
        let tokens = match self.if_header(cx) {
            Ok(t) => t,
            Err(reply) => return reply,
        };
        let exists = self.login.tree.entry(&self.path).is_ok();
        if !exists {
            if self.path.is_root() || self.login.tree.dir(&self.path.parent()).is_err() {
                return cx.failure(409, "the folder to hold it does not exist");
            }
            if let Err(reply) = self.unlocked(cx, &self.path, false, true, &tokens) {
                return reply;
            }
        }
        let want = Want { root: self.path.clone(), infinite, scope, owner: owner.unwrap_or_default(), timeout: asked };
        let lock = match self.locks.acquire(&want) {
            Ok(Ok(lock)) => lock,
            Ok(Err(Locked(root))) => {
                let dir = self.is_dir(&root);
                return condition(423, "no-conflicting-lock", &[href(&root, dir)])
                    .with_note(format!("locked by {root}"));
            }
            Err(e) => return cx.engine_failure(&e),
        };
        if !exists && let Err(e) = self.create_empty(cx) {
            let _ = self.locks.release(&lock.token, &self.path);
            return cx.engine_failure(&e);
        }
        let mut reply = lock_reply(if exists { 200 } else { 201 }, &lock);
        reply.head.set("Lock-Token", format!("<{}>", lock.token));
        reply
    }

    /// A `LOCK` without a body renews the lock named in `If`.
    fn refresh(&self, cx: &Cx, asked: Duration) -> Reply {
        if cx.req.header("if").is_none() {
            return cx.failure(400, "a LOCK without a body refreshes the lock named in If");
        }
        let tokens = match self.if_header(cx) {
            Ok(t) => t,
            Err(reply) => return reply,
        };
        for token in &tokens {
            match self.locks.refresh(token, &self.path, asked) {
                Ok(Some(lock)) => return lock_reply(200, &lock),
                Ok(None) => {}
                Err(e) => return cx.engine_failure(&e),
            }
        }
        condition(412, "lock-token-matches-request-uri", &[])
    }

    /// RFC 4918 §7.3: a `LOCK` of an unmapped URL makes an empty file,
    /// committed like any upload.
    fn create_empty(&self, cx: &Cx) -> engine::Result<()> {
        let (login, path) = (&self.login, &self.path);
        let request = Request { path, size: 0, md5: None, from: Some(0) };
        let staging = login.staging(cx.shared);
        let mut up = Upload::prepare(&login.tree, &staging, &request, engine::limits(cx.shared, login))?;
        if let Err(stop) = up.receive(&mut io::empty()) {
            return Err(match stop {
                crate::storage::staging::Stop::Server(e) => e,
                crate::storage::staging::Stop::Client(e) => engine::Error::io("empty file", e),
            });
        }
        let got = up.offer().1;
        let verified = up.verify(Some(got))?;
        engine::commit(cx.shared, login, verified, path).map(|_| ())
    }

    pub(super) fn unlock(&self, cx: &mut Cx) -> Reply {
        let Some(token) = cx.req.header("lock-token") else { return cx.failure(400, "no Lock-Token") };
        let token = token.trim().trim_start_matches('<').trim_end_matches('>').to_string();
        match self.locks.release(&token, &self.path) {
            Ok(true) => Reply::new(204),
            Ok(false) => condition(409, "lock-token-matches-request-uri", &[]),
            Err(e) => cx.engine_failure(&e),
        }
    }
}

/// `<D:prop><D:lockdiscovery>` with `lock`.
fn lock_reply(status: u16, lock: &Lock) -> Reply {
    let mut w = Writer::document("prop");
    w.open("lockdiscovery");
    activelock(&mut w, lock);
    w.close("lockdiscovery");
    xml_reply(status, w.finish("prop"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_headers_parse() {
        let t = |s: &str| Cond::Token(s.to_string());
        let lists = parse_if("(<opaquelocktoken:a> [\"e1\"]) (Not <DAV:no-lock>)").unwrap();
        assert_eq!(lists.len(), 2);
        assert_eq!(lists[0].conds, vec![(false, t("opaquelocktoken:a")), (false, Cond::Etag("\"e1\"".into()))]);
        assert_eq!(lists[1].conds, vec![(true, t("DAV:no-lock"))]);
        let tagged = parse_if("<http://h/dav/a> (<opaquelocktoken:b>) <http://h/dav/c> ([\"x\"])").unwrap();
        assert_eq!(tagged[0].resource.as_deref(), Some("http://h/dav/a"));
        assert_eq!(tagged[1].resource.as_deref(), Some("http://h/dav/c"));
        for bad in ["", "()", "(<a>", "<http://x>", "(junk)", "(Not)"] {
            assert!(parse_if(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn timeouts_capped() {
        assert_eq!(timeout(None), MAX_TIMEOUT);
        assert_eq!(timeout(Some("Second-100".into())), Duration::from_secs(100));
        assert_eq!(timeout(Some("Infinite, Second-4100000000".into())), MAX_TIMEOUT);
        assert_eq!(timeout(Some("Second-99999999".into())), MAX_TIMEOUT);
    }
}
