//! Resumable uploads: tus 1.0.0 at `/tus/` (HTTP.md "Resumable uploads"),
//! core plus `creation`, `creation-with-upload`, `termination`,
//! `expiration` and `checksum` (md5).
//!
//! A tus upload is the text protocol's `upload` cut into requests: every
//! `PATCH` prepares the engine's staged upload of the target path (the
//! same `.part` file, lock, quota booking and saved hash state), receives
//! its bytes and lets go; the request that brings the last byte verifies,
//! commits and syncs exactly like a `226`, the replaced file going to the
//! trash. Nothing here writes a user's file by itself.
//!
//! An upload URL is `/tus/ID`, ID 128 random bits in hex. Its record,
//! `ID.tus` in the user's staging folder (so another user's ID is simply
//! not found), holds the target path, the length, the announced MD5 and
//! MTIME. The staging sweep removes it with the staged bytes after
//! `--partial-ttl` without use; each request touches it. The offset is
//! always the engine's (what the `.part` holds), never a copy kept here.
//!
//! Must never: hold a path between requests (a paused upload does not
//! lock it), or keep bytes a checksum refused.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::digest::{Digest, Hasher};
use crate::http::date;
use crate::http::decode::base64;
use crate::http::engine::{self, Error, ErrorKind, Login, Shared};
use crate::http::{Cx, Reply, not_allowed};
use crate::service::takeover::Hold;
use crate::storage::staging::{Request, Stop, Upload, part_path};
use crate::storage::tree::{UserPath, check_name};

/// The protocol version spoken.
const VERSION: &str = "1.0.0";
const EXTENSIONS: &str = "creation,creation-with-upload,termination,expiration,checksum";
/// The body type of `PATCH` and of a creation carrying bytes.
const OFFSET_TYPE: &str = "application/offset+octet-stream";
/// tus' own status for a checksum that does not match.
const CHECKSUM_MISMATCH: u16 = 460;
/// A stalled holder of the same upload (a connection that died without a
/// word) is shut after this long without a byte, as in the text face.
const TAKEOVER_AFTER: Duration = Duration::from_secs(10);
/// How long a request waits for a staged file locked for a moment.
const BRIEF_BUSY: Duration = Duration::from_secs(1);
/// How long a request waits for a request of the same upload whose body
/// is over to let go (it saves its bytes, or commits, and needs no one).
const FINISHING: Duration = Duration::from_secs(30);

/// Serves `/tus/` + `names`.
pub(crate) fn route(cx: &mut Cx, names: &[String]) -> Reply {
    let mut reply = match (cx.req.method.as_str(), names) {
        ("OPTIONS", [] | [_]) => options(cx),
        (_, [] | [_]) if cx.req.header("tus-resumable").as_deref() != Some(VERSION) => {
            let mut r = cx.failure(412, "this server speaks tus 1.0.0 (send Tus-Resumable: 1.0.0)");
            r.head.set("Tus-Version", VERSION);
            r
        }
        ("POST", []) => with_user(cx, create),
        (_, []) => not_allowed(cx, "POST, OPTIONS"),
        ("HEAD", [id]) => with_user(cx, |cx, login| head(cx, login, id)),
        ("PATCH", [id]) => with_user(cx, |cx, login| patch(cx, login, id)),
        ("DELETE", [id]) => with_user(cx, |cx, login| terminate(cx, login, id)),
        (_, [_]) => not_allowed(cx, "HEAD, PATCH, DELETE, OPTIONS"),
        _ => cx.failure(404, "no such upload"),
    };
    reply.head.set("Tus-Resumable", VERSION);
    reply.head.set("Cache-Control", "private, no-store");
    reply
}

fn options(cx: &Cx) -> Reply {
    let mut r = Reply::new(204);
    r.head.set("Tus-Version", VERSION);
    r.head.set("Tus-Extension", EXTENSIONS);
    r.head.set("Tus-Checksum-Algorithm", "md5");
    r.head.set("Tus-Max-Size", cx.shared.config.max_file_size.to_string());
    r
}

fn with_user(cx: &mut Cx, serve: impl FnOnce(&mut Cx, &Login) -> Reply) -> Reply {
    let user = match cx.authenticate() {
        Ok(user) => user,
        Err(reply) => return reply,
    };
    match engine::login(cx.shared, &user) {
        Ok(login) if !engine::read_only(cx.shared) => serve(cx, &login),
        Ok(_) => cx.failure(503, "storage is read-only until the server restarts"),
        Err(e) => cx.engine_failure(&e),
    }
}

/// What an upload URL stands for.
#[derive(Debug, PartialEq)]
struct Record {
    path: String,
    size: u64,
    md5: Option<Digest>,
    mtime: Option<u64>,
}

impl Record {
    fn to_text(&self) -> String {
        let md5 = self.md5.map_or("-".to_string(), |d| d.to_string());
        let mtime = self.mtime.map_or("-".to_string(), |t| t.to_string());
        format!("netdisk-tus v1\nsize {}\nmd5 {md5}\nmtime {mtime}\npath {}\n", self.size, self.path)
    }

    fn parse(text: &str) -> Option<Record> {
        let mut lines = text.lines();
        if lines.next()? != "netdisk-tus v1" {
            return None;
        }
        let mut r = Record { path: String::new(), size: 0, md5: None, mtime: None };
        for line in lines {
            let (key, value) = line.split_once(' ')?;
            match key {
                "size" => r.size = value.parse().ok()?,
                "md5" if value != "-" => r.md5 = Some(Digest::from_hex(value)?),
                "mtime" if value != "-" => r.mtime = Some(value.parse().ok()?),
                "path" => r.path = value.to_string(),
                _ => {}
            }
        }
        (!r.path.is_empty()).then_some(r)
    }

    fn user_path(&self) -> engine::Result<UserPath> {
        UserPath::root().resolve(&self.path)
    }
}

/// The record file of upload `id` of `login`, if `id` can be one.
fn record_path(cx: &Cx, login: &Login, id: &str) -> Option<PathBuf> {
    let ok = id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    ok.then(|| login.staging(cx.shared).join(format!("{id}.tus")))
}

/// The live record of `id`, touched (its expiry starts again).
fn load(cx: &Cx, login: &Login, id: &str) -> Result<(PathBuf, Record), Reply> {
    let gone = || cx.failure(404, "no such upload: it finished, expired or was cancelled");
    let file = record_path(cx, login, id).ok_or_else(gone)?;
    let record = fs::read_to_string(&file).ok().and_then(|t| Record::parse(&t)).ok_or_else(gone)?;
    let age = fs::metadata(&file).ok().and_then(|m| m.modified().ok()).and_then(|t| t.elapsed().ok());
    if age.is_none_or(|a| a > cx.shared.config.partial_ttl) {
        return Err(gone());
    }
    if let Ok(f) = fs::File::options().write(true).open(&file) {
        let _ = f.set_modified(SystemTime::now());
    }
    Ok((file, record))
}

/// `Upload-Expires`: the partial TTL from now (every request renews it).
fn expires(cx: &Cx) -> String {
    date::format(SystemTime::now() + cx.shared.config.partial_ttl)
}

/// The absolute URL of upload `id`.
fn location(cx: &Cx, id: &str) -> String {
    let base = match (&cx.shared.config.public_url, cx.req.header("host")) {
        (Some(url), _) => url.trim_end_matches('/').to_string(),
        (None, Some(host)) => format!("{}://{host}", if cx.client.secure { "https" } else { "http" }),
        (None, None) => String::new(),
    };
    format!("{base}/tus/{id}")
}

/// `Upload-Metadata`: `key base64,key base64,...` (a value may be absent).
fn metadata(text: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once(' ').unwrap_or((pair, ""));
        let value = String::from_utf8(base64(value.trim())?).ok()?;
        out.push((key.to_string(), value));
    }
    Some(out)
}

/// The record a creation asks for, or why not (`400`, `413`).
fn asked(cx: &Cx) -> Result<Record, Reply> {
    let bad = |why: &str| cx.failure(400, why);
    if cx.req.header("upload-defer-length").is_some() {
        return Err(bad("Upload-Defer-Length is not supported: send Upload-Length"));
    }
    let size = cx.req.header("upload-length").and_then(|v| v.trim().parse::<u64>().ok());
    let size = size.ok_or_else(|| bad("Upload-Length is missing or not a number"))?;
    if size > cx.shared.config.max_file_size {
        return Err(cx.failure(413, "larger than the server's file-size limit"));
    }
    let meta = metadata(&cx.req.header("upload-metadata").unwrap_or_default());
    let meta = meta.ok_or_else(|| bad("Upload-Metadata is malformed"))?;
    let get = |k: &str| meta.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let name = get("filename").ok_or_else(|| bad("Upload-Metadata needs a filename"))?;
    if check_name(name).is_err() {
        return Err(bad("the filename is not a valid name"));
    }
    let folder = UserPath::root().resolve(get("folder").unwrap_or("/")).map_err(|e| cx.engine_failure(&e))?;
    let path = folder.resolve(name).map_err(|e| cx.engine_failure(&e))?;
    let md5 = match get("md5") {
        Some(hex) => Some(Digest::from_hex(hex.trim()).ok_or_else(|| bad("the md5 is not 32 hex digits"))?),
        None => None,
    };
    let mtime = match get("mtime") {
        Some(t) => Some(t.trim().parse::<u64>().map_err(|_| bad("the mtime is not Unix seconds"))?),
        None => None,
    };
    Ok(Record { path: path.to_string(), size, md5, mtime })
}

/// `POST /tus/`: books the size, makes the folder, and takes the first
/// bytes if they came along (an empty file is committed at once).
fn create(cx: &mut Cx, login: &Login) -> Reply {
    let record = match asked(cx) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let carries = cx.req.header("content-type").is_some_and(|t| t.trim() == OFFSET_TYPE);
    let path = match make_folder(cx.shared, login, &record) {
        Ok(p) => p,
        Err(e) => return cx.engine_failure(&e),
    };
    let id = match new_id() {
        Ok(id) => id,
        Err(e) => return cx.failure(500, "cannot make an upload ID").with_note(e.to_string()),
    };
    // Starts over: a new upload of this path never builds on old bytes
    // (its client sends from offset 0).
    let up = match prepare(cx, login, &record, &path, Some(0)) {
        Ok(up) => up,
        Err(reply) => return reply,
    };
    forget_others(cx, login, &record.path);
    let file = login.staging(cx.shared).join(format!("{id}.tus"));
    if let Err(e) = write_record(&file, record.to_text().as_bytes()) {
        up.keep();
        return cx.failure(500, "cannot record the upload").with_note(e.to_string());
    }
    let mut reply = if carries || record.size == 0 {
        take(cx, login, up, &file, &record, &path, 0)
    } else {
        up.keep();
        let mut r = Reply::new(201);
        r.head.set("Upload-Offset", "0");
        r
    };
    if reply.head.status < 300 || reply.head.status == CHECKSUM_MISMATCH {
        reply.head.status = if reply.head.status < 300 { 201 } else { reply.head.status };
        reply.head.set("Location", location(cx, &id));
        reply.head.set("Upload-Expires", expires(cx));
    }
    reply.note = format!("{} {}", record.path, reply.note).trim_end().to_string();
    reply
}

/// The target path, its folder made like `makedirs` if missing (booked
/// against the user's limit of entries, as `makedirs` is).
fn make_folder(shared: &Shared, login: &Login, record: &Record) -> engine::Result<UserPath> {
    let path = record.user_path()?;
    if !path.parent().is_root() {
        login.tree.makedirs(&path.parent(), login.quota(shared))?;
    }
    login.tree.file_target(&path)?;
    Ok(path)
}

/// A fresh upload ID: 128 random bits.
fn new_id() -> io::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(io::Error::other)?;
    Ok(hex::encode(bytes))
}

/// Drops the records of earlier uploads of `path` (one path, one staged
/// file: a new upload of it takes the place of any older one).
fn forget_others(cx: &Cx, login: &Login, path: &str) {
    let Ok(items) = fs::read_dir(login.staging(cx.shared)) else { return };
    for item in items.flatten().map(|i| i.path()).filter(|p| p.extension().is_some_and(|e| e == "tus")) {
        let same = fs::read_to_string(&item).ok().and_then(|t| Record::parse(&t)).is_some_and(|r| r.path == path);
        if same {
            let _ = fs::remove_file(&item);
        }
    }
}

/// The unfinished uploads of `login`, for the web app to find one again:
/// ID, record and the bytes held (without locking anything).
pub(crate) fn unfinished(cx: &Cx, login: &Login) -> Vec<(String, String, u64, u64, Option<u64>)> {
    let staging = login.staging(cx.shared);
    let Ok(items) = fs::read_dir(&staging) else { return Vec::new() };
    let mut out = Vec::new();
    for item in items.flatten().map(|i| i.path()).filter(|p| p.extension().is_some_and(|e| e == "tus")) {
        let Some(id) = item.file_stem().and_then(|s| s.to_str()).map(str::to_string) else { continue };
        let Some(r) = fs::read_to_string(&item).ok().and_then(|t| Record::parse(&t)) else { continue };
        let held = fs::metadata(part_path(&staging, &r.path)).map_or(0, |m| m.len().min(r.size));
        out.push((id, r.path, r.size, held, r.mtime));
    }
    out
}

/// Prepares the engine's staged upload of the record (`from`: where the
/// client says it is; `None`: what is held), shutting a stalled holder of
/// it first if needed.
fn prepare(cx: &Cx, login: &Login, r: &Record, path: &UserPath, from: Option<u64>) -> Result<Upload, Reply> {
    let request = Request { path, size: r.size, md5: r.md5, from };
    let once = || Upload::prepare(&login.tree, &login.staging(cx.shared), &request, engine::limits(cx.shared, login));
    let part = part_path(&login.staging(cx.shared), &r.path);
    let first = wait_out(cx, &part, once);
    if !busy(&first) {
        return first.map_err(|e| cx.engine_failure(&e));
    }
    let quiet = (cx.shared.config.stall_timeout / 2).min(TAKEOVER_AFTER);
    if !cx.shared.holders.release_stalled(&part, quiet) {
        return first.map_err(|e| cx.engine_failure(&e));
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        std::thread::sleep(Duration::from_millis(20));
        let again = once();
        if !busy(&again) || Instant::now() >= deadline {
            return again.map_err(|e| cx.engine_failure(&e));
        }
    }
}

fn busy(r: &engine::Result<Upload>) -> bool {
    matches!(r, Err(Error { kind: ErrorKind::Busy, .. }))
}

/// Tries `once` until the staged file is free, while its lock is one that
/// lets go by itself: held for a moment (the sweep looking at it), or by a
/// request of this upload whose body is over (a PATCH whose connection
/// was cut, saving what it got; or one committing). The answer to a
/// request that asks again at once is then the offset, not `423`.
fn wait_out(cx: &Cx, part: &Path, once: impl Fn() -> engine::Result<Upload>) -> engine::Result<Upload> {
    let start = Instant::now();
    let mut got = once();
    while busy(&got) {
        let limit = if cx.shared.holders.finishing(part) { FINISHING } else { BRIEF_BUSY };
        if start.elapsed() >= limit {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
        got = once();
    }
    got
}

/// The upload `id`: its record file, its record and the path it is for.
fn load_path(cx: &Cx, login: &Login, id: &str) -> Result<(PathBuf, Record, UserPath), Reply> {
    let (file, record) = load(cx, login, id)?;
    let path = record.user_path().map_err(|e| cx.engine_failure(&e))?;
    Ok((file, record, path))
}

/// [`load_path`], and the staged upload held for this request.
fn open(cx: &Cx, login: &Login, id: &str) -> Result<(PathBuf, Record, UserPath, Upload), Reply> {
    let (file, record, path) = load_path(cx, login, id)?;
    let up = prepare(cx, login, &record, &path, None)?;
    Ok((file, record, path, up))
}

/// `HEAD /tus/ID`: the offset the engine holds.
fn head(cx: &mut Cx, login: &Login, id: &str) -> Reply {
    let (_, record, _, up) = match open(cx, login, id) {
        Ok(found) => found,
        Err(reply) => return reply,
    };
    let held = up.held();
    up.keep();
    let mut r = Reply::new(200);
    r.head.set("Upload-Offset", held.to_string());
    r.head.set("Upload-Length", record.size.to_string());
    r.head.set("Upload-Expires", expires(cx));
    r
}

/// `PATCH /tus/ID`: bytes at the offset the engine holds.
fn patch(cx: &mut Cx, login: &Login, id: &str) -> Reply {
    if cx.req.header("content-type").is_none_or(|t| t.trim() != OFFSET_TYPE) {
        return cx.failure(415, "a PATCH carries Content-Type: application/offset+octet-stream");
    }
    let offset = cx.req.header("upload-offset").and_then(|v| v.trim().parse::<u64>().ok());
    let Some(offset) = offset else { return cx.failure(400, "Upload-Offset is missing or not a number") };
    let (file, record, path, up) = match open(cx, login, id) {
        Ok(found) => found,
        Err(reply) => return reply,
    };
    if up.held() != offset {
        let held = up.held();
        up.keep();
        let mut r = cx.failure(409, &format!("the server holds {held} bytes of this upload, not {offset}"));
        r.head.set("Upload-Offset", held.to_string());
        return r;
    }
    // Staged bytes read again to rebuild the hash state (0 unless the
    // server stopped without saving it): logged, as the text face does.
    let rehashed = up.rehashed();
    let mut reply = take(cx, login, up, &file, &record, &path, offset);
    reply.head.set("Upload-Expires", expires(cx));
    if rehashed > 0 {
        reply.note = format!("{} rehashed={rehashed}", reply.note).trim_start().to_string();
    }
    reply
}

/// Receives the request's bytes at `offset`; commits when they complete
/// the file. `204` (or the failure) with the offset now held.
fn take(cx: &mut Cx, login: &Login, mut up: Upload, file: &Path, r: &Record, path: &UserPath, offset: u64) -> Reply {
    let checksum = match chunk_checksum(cx) {
        Ok(c) => c,
        Err(reply) => {
            up.keep();
            return reply;
        }
    };
    let fits = match cx.req.framing {
        crate::http::wire::Framing::Length(n) => n <= up.remaining(),
        _ => true,
    };
    if !fits {
        up.keep();
        return cx.failure(400, "more bytes than the upload's length");
    }
    // Held (and known to later requests of this upload) until this request
    // lets the staged file go, which is after saving or committing.
    let hold = cx.shared.holders.hold(up.part_path(), &cx.conn.stream);
    let _ = cx.conn.stream.set_read_timeout(Some(cx.shared.config.stall_timeout));
    let mut hashed = Hashed { body: cx.body(), hasher: checksum.map(|_| Hasher::new()), hold: hold.as_ref() };
    let received = up.receive(&mut hashed);
    // The upload is whole: a body that still has bytes says too much.
    let over = received.is_ok() && !hashed.body.complete() && hashed.body.read(&mut [0u8; 1]).map_or(true, |n| n > 0);
    let chunk = hashed.hasher.take().map(|h| h.peek());
    (cx.body_done, cx.body_broken) = (hashed.body.complete(), hashed.body.broken);
    if let Some(h) = &hold {
        h.stop_receiving();
    }
    let held = up.held();
    let complete = match received {
        Ok(()) => true,
        Err(Stop::Client(_)) => false,
        Err(Stop::Server(e)) => return cx.engine_failure(&e),
    };
    if over {
        // More body than the upload's length (chunked): refuse the lot.
        return rewind(cx, login, up, r, path, offset, 400, "more bytes than the upload's length");
    }
    if !cx.body_done {
        // Cut off: what arrived is kept (it was not checked against a
        // checksum, which only a whole body can be).
        if checksum.is_some() {
            return rewind(cx, login, up, r, path, offset, 400, "the body ended early");
        }
        up.keep();
        return offset_reply(204, held).with_note("interrupted");
    }
    if let (Some(want), Some(got)) = (checksum, chunk)
        && want != got
    {
        return rewind(cx, login, up, r, path, offset, CHECKSUM_MISMATCH, "checksum mismatch: the bytes were not kept");
    }
    if !complete {
        drop(up);
        return offset_reply(204, held);
    }
    finish(cx, login, up, file, r, path)
}

/// Gives back the bytes of a refused request: the staged upload is cut
/// back to `offset`.
#[allow(clippy::too_many_arguments)]
fn rewind(
    cx: &Cx,
    login: &Login,
    up: Upload,
    r: &Record,
    path: &UserPath,
    offset: u64,
    status: u16,
    why: &str,
) -> Reply {
    up.keep();
    match prepare(cx, login, r, path, Some(offset)) {
        Ok(up) => up.keep(),
        Err(reply) => return reply,
    }
    let mut reply = cx.failure(status, why);
    reply.head.set("Upload-Offset", offset.to_string());
    reply
}

fn offset_reply(status: u16, offset: u64) -> Reply {
    let mut r = Reply::new(status);
    r.head.set("Upload-Offset", offset.to_string());
    r
}

/// The last byte is in: verified against the whole file's MD5 (`460`
/// and everything discarded on a mismatch), its MTIME set, committed and
/// synced like a text upload's `226`.
fn finish(cx: &Cx, login: &Login, up: Upload, file: &Path, r: &Record, path: &UserPath) -> Reply {
    let got = up.offer().1;
    let verified = match up.verify(Some(r.md5.unwrap_or(got))) {
        Ok(v) => v,
        Err(e) => {
            let _ = fs::remove_file(file);
            return cx.failure(CHECKSUM_MISMATCH, &e.to_string()).with_note("md5 mismatch");
        }
    };
    if let Some(mtime) = r.mtime {
        set_staged_mtime(verified.part_path(), mtime);
    }
    let (size, md5) = (verified.size(), verified.md5());
    let part = verified.part_path().to_path_buf();
    match engine::commit(cx.shared, login, verified, path) {
        Ok(_) => {
            let _ = fs::remove_file(file);
            let mut reply = offset_reply(204, size);
            reply.head.set("ETag", format!("\"{md5}\""));
            reply.note = format!("{size} bytes committed");
            reply
        }
        Err(e) => {
            // The record follows the staged bytes: a failed sync discards
            // them (never resumed), and the URL then answers `404`.
            if !part.exists() {
                let _ = fs::remove_file(file);
            }
            cx.engine_failure(&e)
        }
    }
}

/// `Upload-Checksum: md5 BASE64` of this request's body, if sent.
fn chunk_checksum(cx: &Cx) -> Result<Option<Digest>, Reply> {
    let Some(value) = cx.req.header("upload-checksum") else { return Ok(None) };
    let (algo, sum) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if !algo.eq_ignore_ascii_case("md5") {
        return Err(cx.failure(400, "the only checksum algorithm is md5"));
    }
    match base64(sum.trim()).and_then(|b| <[u8; 16]>::try_from(b).ok()) {
        Some(d) => Ok(Some(Digest(d))),
        None => Err(cx.failure(400, "Upload-Checksum is malformed")),
    }
}

/// `DELETE /tus/ID`: the staged bytes and the booking let go, the URL gone.
fn terminate(cx: &mut Cx, login: &Login, id: &str) -> Reply {
    let (file, record, path) = match load_path(cx, login, id) {
        Ok(found) => found,
        Err(reply) => return reply,
    };
    // A client that cancels aborts its PATCH and sends this at once: the
    // aborted request may hold the upload for a moment longer.
    let deadline = Instant::now() + Duration::from_secs(3);
    let up = loop {
        match prepare(cx, login, &record, &path, Some(0)) {
            Ok(up) => break up,
            Err(r) if r.head.status == 423 && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(reply) => return reply,
        }
    };
    // Removed under the staged file's lock, as the sweep does.
    discard_staged(up.part_path());
    drop(up);
    let _ = fs::remove_file(&file);
    Reply::new(204)
}

// The engine calls of this module beyond `Upload` and `engine::commit`
// (grouped with other uploads of the user, `service::grouped`): the
// upload record, the MTIME of a staged file, a staged upload dropped.

/// Writes an upload record atomically and durably (it must survive a
/// restart as the staged bytes do).
fn write_record(file: &Path, bytes: &[u8]) -> io::Result<()> {
    crate::storage::durable::replace_file(file, bytes)
}

/// Sets the MTIME (Unix seconds) of a verified staged file before its
/// commit, so the fsync of the commit covers it (`touch` semantics).
fn set_staged_mtime(part: &Path, secs: u64) {
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
    if let Ok(f) = fs::File::options().write(true).open(part) {
        let _ = f.set_modified(when);
    }
}

/// Removes a staged upload whose lock the caller holds (as the sweep
/// does): its bytes, record and marks.
fn discard_staged(part: &Path) {
    for ext in ["part", "meta", "marks"] {
        let _ = fs::remove_file(part.with_extension(ext));
    }
}

/// The request body, hashed for `Upload-Checksum` as it is read; when it
/// ends or breaks off, the hold says so at once (the bytes are then saved
/// under the lock, and a request asking again waits for that).
struct Hashed<'a, 'h> {
    body: crate::http::wire::Body<'a>,
    hasher: Option<Hasher>,
    hold: Option<&'h Hold<'h>>,
}

impl Read for Hashed<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.body.read(buf);
        let n = match read {
            Ok(n) if n > 0 || buf.is_empty() => n,
            _ => {
                if let Some(h) = self.hold {
                    h.stop_receiving();
                }
                read?
            }
        };
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let r = Record { path: "/a b/文件".into(), size: 7, md5: Digest::from_hex(&"ab".repeat(16)), mtime: Some(9) };
        assert_eq!(Record::parse(&r.to_text()), Some(r));
        let bare = Record { path: "/x".into(), size: 0, md5: None, mtime: None };
        assert_eq!(Record::parse(&bare.to_text()), Some(bare));
        assert_eq!(Record::parse("netdisk-tus v1\nsize x\npath /a\n"), None);
    }

    #[test]
    fn metadata_pairs_decode() {
        let m = metadata("filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential").unwrap();
        assert_eq!(m[0], ("filename".to_string(), "world_domination_plan.pdf".to_string()));
        assert_eq!(m[1], ("is_confidential".to_string(), String::new()));
        assert!(metadata("filename !!!").is_none());
    }
}
