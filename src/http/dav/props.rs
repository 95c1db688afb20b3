//! `PROPFIND` (depth 0 and 1, streamed) and `PROPPATCH`, the live
//! properties, and dead properties as XML in the engine's records
//! (`storage::props`).
//!
//! A `PROPFIND` reply is written while the folder is read: the
//! [`Listing`] goes out as the response's payload, each entry written as
//! it comes from the directory, so memory does not grow with the folder.

use std::fs::{File, Metadata};
use std::io::{self, Write};
use std::net::TcpStream;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::xml::{self, DAV, Element, Name, Node, Writer};
use super::{Dav, condition, href, locked, read_xml, xml_reply};
use crate::clock::civil_from_days;
use crate::http::engine::Login;
use crate::http::{Chunked, Cx, Payload, Reply, Streamed, date, serve};
use crate::storage::digests::Sums;
use crate::storage::locks::{Lock, Scope};
use crate::storage::props as records;
use crate::storage::tree::{Entry, Kind, ListLimit, Tree, UserPath};

/// The namespace of Windows' file times.
const MS: &str = "urn:schemas-microsoft-com:";

/// Live properties listed by `allprop` and `propname`.
const LIVE: [&str; 9] = [
    "resourcetype",
    "getcontentlength",
    "getlastmodified",
    "creationdate",
    "displayname",
    "getetag",
    "getcontenttype",
    "supportedlock",
    "lockdiscovery",
];
/// RFC 4331's, given only when asked for by name.
const QUOTA: [&str; 2] = ["quota-available-bytes", "quota-used-bytes"];
/// Live properties no `PROPPATCH` may set or remove.
const PROTECTED: [&str; 8] = [
    "resourcetype",
    "getcontentlength",
    "getetag",
    "lockdiscovery",
    "supportedlock",
    "creationdate",
    "quota-available-bytes",
    "quota-used-bytes",
];

/// What a `PROPFIND` asks for.
#[derive(Clone, Debug)]
enum Want {
    /// Every live property (but the quota's) and every dead one, plus the
    /// ones `include` names.
    All(Vec<Name>),
    /// These.
    Named(Vec<Name>),
    /// Only the names.
    Names,
}

/// A streamed `207` reply to `PROPFIND`.
struct Listing {
    tree: Tree,
    sums: Sums,
    root: UserPath,
    children: bool,
    want: Want,
    /// Bytes used and the limit, when a quota property was asked for.
    quota: Option<(u64, Option<u64>)>,
    locks: Vec<Lock>,
}

impl Dav {
    pub(super) fn propfind(&self, cx: &mut Cx) -> Reply {
        let children = match cx.req.header("depth").as_deref().map(str::trim) {
            Some("0") => false,
            Some("1") => true,
            _ => return condition(403, "propfind-finite-depth", &[]).with_note("depth infinity"),
        };
        let doc = match read_xml(cx) {
            Ok(doc) => doc,
            Err(reply) => return reply,
        };
        let want = match doc {
            None => Want::All(Vec::new()),
            Some(doc) => match parse_propfind(&doc) {
                Some(w) => w,
                None => return cx.failure(400, "not a DAV:propfind body"),
            },
        };
        if let Err(e) = self.login.tree.entry(&self.path) {
            return cx.engine_failure(&e);
        }
        let asks_quota = matches!(&want, Want::Named(n) | Want::All(n) if n.iter().any(|n| n.ns == DAV && QUOTA.contains(&n.local.as_str())));
        let quota = match asks_quota {
            true => match self.login.count_usage(cx.shared) {
                Ok(used) => Some((used.bytes, cx.shared.quota_of(&self.login.user))),
                Err(e) => return cx.engine_failure(&e),
            },
            false => None,
        };
        let locks = match self.locks.all() {
            Ok(l) => l,
            Err(e) => return cx.engine_failure(&e),
        };
        let listing = Listing {
            tree: self.login.tree.clone(),
            sums: cx.shared.sums.clone(),
            root: self.path.clone(),
            children,
            want,
            quota,
            locks,
        };
        let mut reply = Reply::new(207);
        reply.head.set("Content-Type", "application/xml; charset=utf-8");
        reply.body = Payload::Stream(Box::new(listing));
        reply
    }

    pub(super) fn proppatch(&self, cx: &mut Cx) -> Reply {
        let doc = match read_xml(cx) {
            Ok(Some(doc)) if doc.name.is_dav("propertyupdate") => doc,
            Ok(_) => return cx.failure(400, "not a DAV:propertyupdate body"),
            Err(reply) => return reply,
        };
        let real = match self.patchable(cx) {
            Ok(real) => real,
            Err(reply) => return reply,
        };
        let ops = patch_ops(&doc);
        let mut dead = read_dead(&real);
        let before = serialize(&dead).len();
        let (mtime, failed) = apply_patch(&ops, &mut dead);
        let names: Vec<Name> = ops.iter().map(|(e, _)| e.name.clone()).collect();
        let answer =
            |failed: &[(Name, u16)], rest| multistatus_one(&self.path, self.is_dir(&self.path), &names, failed, rest);
        if !failed.is_empty() {
            return answer(&failed, 424);
        }
        let bytes = serialize(&dead);
        if bytes.len() > records::MAX_BYTES {
            return answer(&[], 507);
        }
        if bytes.len() > before {
            match self.over_quota(cx, bytes.len() - before) {
                Ok(true) => return answer(&[], 507),
                Ok(false) => {}
                Err(reply) => return reply,
            }
        }
        let record: &[u8] = if dead.is_empty() { b"" } else { bytes.as_bytes() };
        if let Err(reply) = self.store_props(cx, &real, record, mtime) {
            return reply;
        }
        answer(&[], 200)
    }

    /// The file of the resource a `PROPPATCH` is for, if it exists and
    /// the `If` header holds the tokens of any lock on it.
    fn patchable(&self, cx: &Cx) -> Result<PathBuf, Reply> {
        let tokens = self.if_header(cx)?;
        let real = match self.login.tree.entry(&self.path).and_then(|_| self.login.tree.checked(&self.path)) {
            Ok(real) => real,
            Err(e) => return Err(cx.engine_failure(&e)),
        };
        match self.locks.check(&self.path, false, false, &tokens.iter().map(String::as_str).collect::<Vec<_>>()) {
            Ok(Ok(())) => Ok(real),
            Ok(Err(l)) => Err(locked(&l.0, self.is_dir(&l.0))),
            Err(e) => Err(cx.engine_failure(&e)),
        }
    }

    /// Whether `grown` more bytes of dead properties go over the user's
    /// quota (never without one).
    fn over_quota(&self, cx: &Cx, grown: usize) -> Result<bool, Reply> {
        let Some(limit) = cx.shared.quota_of(&self.login.user) else { return Ok(false) };
        match self.login.count_usage(cx.shared) {
            Ok(used) => Ok(used.bytes.saturating_add(grown as u64) > limit),
            Err(e) => Err(cx.engine_failure(&e)),
        }
    }

    /// Keeps `record` as the dead properties of `real`, then gives it
    /// `mtime` (else the time it had: writing the record must not change it).
    fn store_props(&self, cx: &Cx, real: &Path, record: &[u8], mtime: Option<u64>) -> Result<(), Reply> {
        let old_mtime = std::fs::symlink_metadata(real).and_then(|m| m.modified()).ok();
        if let Err(e) = records::write(real, record) {
            return Err(cx.failure(500, "cannot keep the properties").with_note(e.to_string()));
        }
        self.login.usage_changed(cx.shared);
        let when = mtime.map(|s| UNIX_EPOCH + Duration::from_secs(s)).or(old_mtime);
        if let Some(when) = when
            && let Err(e) = File::open(real).and_then(|f| f.set_modified(when))
        {
            return Err(cx.failure(500, "cannot set the time").with_note(e.to_string()));
        }
        Ok(())
    }

    /// Whether `path` is a folder now.
    pub(super) fn is_dir(&self, path: &UserPath) -> bool {
        self.login.tree.entry(path).is_ok_and(|e| e.kind == Kind::Dir)
    }
}

/// The operations of a `DAV:propertyupdate`, in document order: each
/// property with `true` to set it, `false` to remove it.
fn patch_ops(doc: &Element) -> Vec<(Element, bool)> {
    let mut ops: Vec<(Element, bool)> = Vec::new();
    for op in doc.elements() {
        let set = match (op.name.ns.as_str(), op.name.local.as_str()) {
            (DAV, "set") => true,
            (DAV, "remove") => false,
            _ => continue,
        };
        for prop in op.elements().filter(|e| e.name.is_dav("prop")) {
            ops.extend(prop.elements().map(|e| (e.clone(), set)));
        }
    }
    ops
}

/// Applies `ops` to the dead properties `dead`: the modification time
/// asked for (seconds), and the properties refused with their status.
fn apply_patch(ops: &[(Element, bool)], dead: &mut Vec<Element>) -> (Option<u64>, Vec<(Name, u16)>) {
    let mut mtime = None;
    let mut failed: Vec<(Name, u16)> = Vec::new();
    for (el, set) in ops {
        let n = &el.name;
        if n.ns == DAV && PROTECTED.contains(&n.local.as_str()) {
            failed.push((n.clone(), 403));
        } else if (n.is_dav("getlastmodified") || (n.ns == MS && n.local == "Win32LastModifiedTime")) && *set {
            match date::parse(el.text().trim()) {
                Some(secs) => mtime = Some(secs),
                None => failed.push((n.clone(), 409)),
            }
        } else if n.is_dav("getlastmodified") {
            failed.push((n.clone(), 403));
        } else {
            dead.retain(|d| d.name != *n);
            if *set {
                dead.push(el.clone());
            }
        }
    }
    (mtime, failed)
}

/// A `207` for one resource: the `failed` names with their status, every
/// other name with `rest`.
fn multistatus_one(path: &UserPath, dir: bool, names: &[Name], failed: &[(Name, u16)], rest: u16) -> Reply {
    let mut w = Writer::document("multistatus");
    w.open("response").text_element("href", &href(path, dir));
    let mut groups: Vec<(u16, Vec<&Name>)> = Vec::new();
    for n in names {
        let status = failed.iter().find(|(f, _)| f == n).map_or(rest, |(_, s)| *s);
        match groups.iter_mut().find(|(s, _)| *s == status) {
            Some((_, list)) => list.push(n),
            None => groups.push((status, vec![n])),
        }
    }
    for (status, list) in groups {
        w.open("propstat").open("prop");
        for n in list {
            w.empty_named(n);
        }
        w.close("prop").text_element("status", &status_line(status)).close("propstat");
    }
    w.close("response");
    xml_reply(207, w.finish("multistatus"))
}

fn status_line(status: u16) -> String {
    format!("HTTP/1.1 {status} {}", crate::http::wire::reason(status))
}

fn parse_propfind(doc: &Element) -> Option<Want> {
    if !doc.name.is_dav("propfind") {
        return None;
    }
    if let Some(prop) = doc.dav_child("prop") {
        return Some(Want::Named(prop.elements().map(|e| e.name.clone()).collect()));
    }
    if doc.dav_child("propname").is_some() {
        return Some(Want::Names);
    }
    if doc.dav_child("allprop").is_some() {
        let include = doc.dav_child("include").map(|i| i.elements().map(|e| e.name.clone()).collect());
        return Some(Want::All(include.unwrap_or_default()));
    }
    None
}

/// The dead properties recorded for `real` (none when unreadable).
pub(super) fn read_dead(real: &Path) -> Vec<Element> {
    let Ok(bytes) = records::read(real) else { return Vec::new() };
    if bytes.is_empty() {
        return Vec::new();
    }
    match xml::parse_limited(&bytes, records::MAX_BYTES * 2, xml::MAX_DEPTH + 1) {
        Ok(root) => {
            root.children.into_iter().filter_map(|n| if let Node::Element(e) = n { Some(e) } else { None }).collect()
        }
        Err(_) => Vec::new(),
    }
}

/// Dead properties as a record.
pub(super) fn serialize(dead: &[Element]) -> String {
    let mut w = Writer::fragment();
    w.raw("<r xmlns:D=\"DAV:\">");
    for e in dead {
        w.element(e);
    }
    w.raw("</r>");
    w.take()
}

/// `2026-12-06T23:40:00Z`.
fn iso8601(time: SystemTime) -> String {
    let s = date::unix(time);
    let (y, m, d) = civil_from_days((s / 86_400) as i64);
    let r = s % 86_400;
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", r / 3600, r % 3600 / 60, r % 60)
}

/// The `DAV:activelock` of `lock`.
pub(super) fn activelock(w: &mut Writer, lock: &Lock) {
    w.open("activelock");
    w.open("locktype").empty("write").close("locktype");
    w.open("lockscope").empty(if lock.scope == Scope::Exclusive { "exclusive" } else { "shared" }).close("lockscope");
    w.text_element("depth", if lock.infinite { "infinity" } else { "0" });
    if !lock.owner.is_empty() {
        w.raw(&lock.owner);
    }
    w.text_element("timeout", &format!("Second-{}", lock.left().max(1)));
    w.open("locktoken").text_element("href", &lock.token).close("locktoken");
    let root_dir = lock.root.is_root();
    w.open("lockroot").text_element("href", &href(&lock.root, root_dir)).close("lockroot");
    w.close("activelock");
}

/// The `DAV:supportedlock` value.
fn supportedlock(w: &mut Writer) {
    for scope in ["exclusive", "shared"] {
        w.open("lockentry");
        w.open("lockscope").empty(scope).close("lockscope");
        w.open("locktype").empty("write").close("locktype");
        w.close("lockentry");
    }
}

impl Streamed for Listing {
    /// Writes the whole `207` body; the bytes written.
    fn run(self: Box<Self>, stream: &TcpStream, chunked: bool) -> io::Result<u64> {
        let mut out = Chunked::new(stream, chunked);
        out.write_all(b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:multistatus xmlns:D=\"DAV:\">")?;
        let top = self.tree.entry(&self.root).map_err(|e| io::Error::other(e.to_string()))?;
        let real = self.tree.checked(&self.root).map_err(|e| io::Error::other(e.to_string()))?;
        out.write_all(self.response(&self.root, &top, &real, true).as_bytes())?;
        if self.children && top.kind == Kind::Dir {
            // One look for the folder's records, not one per file.
            let records = records::folder_has_records(&real);
            let mut failed = None;
            let mut limit = ListLimit::new(usize::MAX);
            let scanned = self.tree.scan(&self.root, &mut limit, |entry| {
                if failed.is_some() {
                    return;
                }
                let Ok(path) = self.root.resolve(&entry.name) else { return };
                let dead = records || entry.kind == Kind::Dir;
                let text = self.response(&path, &entry, &real.join(&entry.name), dead);
                if let Err(e) = out.write_all(text.as_bytes()) {
                    failed = Some(e);
                }
            });
            if let Some(e) = failed {
                return Err(e);
            }
            scanned.map_err(|e| io::Error::other(e.to_string()))?;
        }
        out.write_all(b"</D:multistatus>\n")?;
        out.end()
    }
}

impl Listing {
    /// One `DAV:response` (`dead`: its dead properties may be recorded).
    fn response(&self, path: &UserPath, entry: &Entry, real: &Path, dead: bool) -> String {
        let dir = entry.kind == Kind::Dir;
        let mut w = Writer::fragment();
        w.open("response").text_element("href", &href(path, dir));
        let dead = if dead { read_dead(real) } else { Vec::new() };
        let mut found = Writer::fragment();
        let missing = match &self.want {
            Want::Names => {
                self.names(&mut found, path, entry, &dead);
                Vec::new()
            }
            Want::All(include) => {
                self.all(&mut found, include, path, entry, &dead);
                Vec::new()
            }
            Want::Named(names) => self.named(&mut found, names, path, entry, &dead),
        };
        let found = found.take();
        if !found.is_empty() || missing.is_empty() {
            w.open("propstat").open("prop").raw(&found).close("prop");
            w.text_element("status", &status_line(200)).close("propstat");
        }
        if !missing.is_empty() {
            w.open("propstat").open("prop");
            for n in missing {
                w.empty_named(n);
            }
            w.close("prop").text_element("status", &status_line(404)).close("propstat");
        }
        w.close("response");
        w.take()
    }

    /// `propname`: the names of the live properties `path` has and of
    /// its dead ones.
    fn names(&self, found: &mut Writer, path: &UserPath, entry: &Entry, dead: &[Element]) {
        for local in LIVE {
            if self.live(local, path, entry).is_some() {
                found.empty(local);
            }
        }
        for d in dead {
            found.empty_named(&d.name);
        }
    }

    /// `allprop`: the live properties `path` has, its dead ones, and the
    /// quota's if `include` names them.
    fn all(&self, found: &mut Writer, include: &[Name], path: &UserPath, entry: &Entry, dead: &[Element]) {
        for local in LIVE {
            if let Some(v) = self.live(local, path, entry) {
                found.raw(&v);
            }
        }
        for d in dead {
            found.element(d);
        }
        for n in include {
            if n.ns == DAV
                && QUOTA.contains(&n.local.as_str())
                && let Some(v) = self.live(&n.local, path, entry)
            {
                found.raw(&v);
            }
        }
    }

    /// `prop`: each property named, live or dead, that `path` has; the
    /// names it lacks.
    fn named<'w>(
        &self,
        found: &mut Writer,
        names: &'w [Name],
        path: &UserPath,
        entry: &Entry,
        dead: &[Element],
    ) -> Vec<&'w Name> {
        let mut missing = Vec::new();
        for n in names {
            let live = if n.ns == DAV { self.live(&n.local, path, entry) } else { None };
            if let Some(v) = live {
                found.raw(&v);
            } else if let Some(d) = dead.iter().find(|d| d.name == *n) {
                found.element(d);
            } else {
                missing.push(n);
            }
        }
        missing
    }

    /// A live property's element, if `path` has it.
    fn live(&self, local: &str, path: &UserPath, entry: &Entry) -> Option<String> {
        let dir = entry.kind == Kind::Dir;
        let meta: &Metadata = &entry.meta;
        let mut w = Writer::fragment();
        match local {
            "resourcetype" if dir => w.open("resourcetype").empty("collection").close("resourcetype"),
            "resourcetype" => w.empty("resourcetype"),
            "getcontentlength" if !dir => w.text_element("getcontentlength", &entry.size.to_string()),
            "getlastmodified" => w.text_element("getlastmodified", &date::format(entry.mtime)),
            "creationdate" => {
                let born = meta.created().unwrap_or(UNIX_EPOCH + Duration::from_secs(meta.ctime().max(0) as u64));
                w.text_element("creationdate", &iso8601(born.min(entry.mtime)))
            }
            "displayname" => w.text_element("displayname", if path.is_root() { "" } else { &entry.name }),
            "getetag" if !dir => w.text_element("getetag", &serve::etag(self.sums.get(meta)?)),
            "getcontenttype" if !dir => {
                w.text_element("getcontenttype", serve::inline_type(&entry.name).unwrap_or("application/octet-stream"))
            }
            "supportedlock" => {
                w.open("supportedlock");
                supportedlock(&mut w);
                w.close("supportedlock")
            }
            "lockdiscovery" => {
                w.open("lockdiscovery");
                for l in self.locks.iter().filter(|l| l.covers(path)) {
                    activelock(&mut w, l);
                }
                w.close("lockdiscovery")
            }
            "quota-used-bytes" => w.text_element("quota-used-bytes", &self.quota?.0.to_string()),
            "quota-available-bytes" => {
                let (used, limit) = self.quota?;
                w.text_element("quota-available-bytes", &limit?.saturating_sub(used).to_string())
            }
            _ => return None,
        };
        Some(w.take())
    }
}

/// The dead properties of `from` given to `to` (a copy of one resource).
pub(super) fn copy_dead(login: &Login, from: &UserPath, to: &UserPath) {
    if let (Ok(a), Ok(b)) = (login.tree.checked(from), login.tree.checked(to)) {
        let _ = records::copied(&a, &b);
    }
}

/// Reads the dead properties of `path` (for a `PUT` that replaces it).
pub(super) fn dead_of(login: &Login, path: &UserPath) -> Vec<u8> {
    login.tree.checked(path).ok().and_then(|real| records::read(&real).ok()).unwrap_or_default()
}

/// Gives `path` these dead properties again (after a `PUT` replaced it).
pub(super) fn keep_dead(login: &Login, path: &UserPath, bytes: &[u8]) {
    if !bytes.is_empty()
        && let Ok(real) = login.tree.checked(path)
    {
        let _ = records::write(&real, bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_properties_round_trip_through_a_record() {
        let doc = xml::parse(
            br#"<D:prop xmlns:D="DAV:"><z:a xmlns:z="http://example.com/neon/litmus/">v&lt;1</z:a><b xmlns="">x<c xmlns="urn:c"/></b><z:h xmlns:z="urn:h">&#x10000;</z:h></D:prop>"#,
        )
        .unwrap();
        let dead: Vec<Element> = doc.elements().cloned().collect();
        let text = serialize(&dead);
        let back: Vec<Element> = xml::parse(text.as_bytes())
            .unwrap()
            .children
            .into_iter()
            .filter_map(|n| if let Node::Element(e) = n { Some(e) } else { None })
            .collect();
        assert_eq!(back, dead, "{text}");
    }

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601(UNIX_EPOCH + Duration::from_secs(784_111_777)), "1994-11-06T08:49:37Z");
    }
}
