//! The `upload` command, end to end: prepare (or take over a stalled
//! upload), offer, receive the payload (and the digest line after it, for
//! MD5 `-`), verify, then hand the file to the session's commit group
//! (`server::group`), which commits it and answers.
//!
//! The staging, verification and commit themselves are in
//! `storage::staging`; this module owns the conversation around them.

use std::time::{Duration, Instant};

use crate::digest::Digest;
use crate::proto::body::Offer;
use crate::proto::{Code, Reply};
use crate::server::conn::{Input, later};
use crate::server::error::Replied;
use crate::server::error::{Error, ErrorKind, Result};
use crate::server::group::{Group, LARGE_PAYLOAD, Moment};
use crate::server::handler::{Cx, Handled, Outcome};
use crate::service::login::Login;
use crate::service::takeover::Hold;
use crate::storage::staging::{Limits, Request, Stop, Upload, Verified, part_path};
use crate::storage::tree::UserPath;

/// An upload whose staged file has not grown for this long (or half the
/// stall timeout, if shorter) may be taken over by a new session.
const TAKEOVER_AFTER: Duration = Duration::from_secs(10);

/// An upload as asked for, before its path is resolved.
#[derive(Clone, Copy)]
pub(crate) struct Asked<'t> {
    pub(crate) text: &'t str,
    pub(crate) size: u64,
    pub(crate) md5: Option<Digest>,
    pub(crate) from: Option<u64>,
}

/// How an upload ended: what to log, and what the session does.
struct Ending {
    note: String,
    bytes: u64,
    outcome: Outcome,
}

/// `upload`: the file joins `group` once verified; its `226` goes out when
/// the group is committed (see `server::group`).
pub(crate) fn upload(cx: &mut Cx, login: &Login, group: &mut Group, asked: Asked) -> Handled {
    let part = login.resolve(asked.text).map(|(_, p)| part_path(&login.staging(cx.shared), &p.to_string()));
    if let Ok(part) = &part
        && group.commit_at(Moment::UploadOf(part), cx, login).is_err()
    {
        return Ok(Outcome::Close);
    }
    let (up, path) = match prepare_or_take_over(cx, login, asked) {
        Ok(ok) => ok,
        Err(e) => {
            cx.log(&login.user, "upload", &login.shown(asked.text), e.outcome(), 0);
            return Ok(Outcome::Refuse(e.reply()));
        }
    };
    let shared = cx.shared;
    let hold = shared.holders.hold(up.part_path(), cx.wire.stream());
    let (offset, prefix) = up.offer();
    let rehashed = up.rehashed();
    let offer = Reply::new(Code::Payload, Offer { offset, prefix }.to_string());
    if group.send(cx.wire, offer).is_err() {
        return Ok(Outcome::Close);
    }
    // A client that waits for the `150` before sending gets it now; the
    // `226`s held are not kept waiting for a large payload, nor for the
    // digest line after one.
    let large = asked.size.saturating_sub(offset) >= LARGE_PAYLOAD || asked.md5.is_none();
    if group.commit_at(Moment::Payload { large }, cx, login).is_err() {
        return Ok(Outcome::Close);
    }
    match take_payload(cx, login, up, asked, hold.as_ref()) {
        Ok((verified, bytes)) => {
            group.add(verified, path, bytes, rehashed);
            if group.commit_at(Moment::Queued, cx, login).is_err() {
                return Ok(Outcome::Close);
            }
            Ok(Outcome::Go)
        }
        Err(end) => {
            let note = if rehashed > 0 { format!("{} rehashed={rehashed}", end.note) } else { end.note };
            cx.log(&login.user, "upload", &path.to_string(), note, end.bytes);
            Ok(end.outcome)
        }
    }
}

/// Prepares the upload; if another session of this process holds it but
/// has moved no byte for a while (its client is most likely gone), shuts
/// that session and takes the upload over.
fn prepare_or_take_over(cx: &Cx, login: &Login, asked: Asked) -> Result<(Upload, UserPath)> {
    let first = prepare(cx, login, asked);
    let Err(Error { kind: ErrorKind::Busy, .. }) = &first else { return first };
    let (_, path) = login.resolve(asked.text)?;
    let part = part_path(&login.staging(cx.shared), &path.to_string());
    let quiet = (cx.shared.config.stall_timeout / 2).min(TAKEOVER_AFTER);
    if !cx.shared.holders.release_stalled(&part, quiet) {
        return first;
    }
    cx.log(&login.user, "takeover", &path.to_string(), "stalled session closed", 0);
    let deadline = later(Instant::now(), Duration::from_secs(3));
    loop {
        std::thread::sleep(Duration::from_millis(20));
        let again = prepare(cx, login, asked);
        if !matches!(again, Err(Error { kind: ErrorKind::Busy, .. })) || Instant::now() >= deadline {
            return again;
        }
    }
}

fn prepare(cx: &Cx, login: &Login, asked: Asked) -> Result<(Upload, UserPath)> {
    let shared = cx.shared;
    let quota = login.quota(shared);
    let limits = Limits { max_file_size: shared.config.max_file_size, quota };
    let (tree, path) = login.resolve(asked.text)?;
    crate::server::files::unlocked(cx, login, &path, false)?;
    let request = Request { path: &path, size: asked.size, md5: asked.md5, from: asked.from };
    let up = Upload::prepare(tree, &login.staging(shared), &request, limits)?;
    Ok((up, path))
}

/// Receives the payload (and the digest line, if it follows) and verifies
/// it, unless the upload was taken over meanwhile; returns the verified
/// upload and the bytes received. The staged file is released before the
/// session answers, so a lingering close never holds it.
fn take_payload(
    cx: &mut Cx,
    login: &Login,
    mut up: Upload,
    asked: Asked,
    hold: Option<&Hold>,
) -> std::result::Result<(Verified, u64), Ending> {
    let offset = up.held();
    let _ = cx.wire.stream().set_read_timeout(Some(cx.shared.config.stall_timeout));
    let received = up.receive(cx.wire.reader());
    let bytes = up.held() - offset;
    let end = |note: &str, outcome| Ending { note: note.to_string(), bytes, outcome };
    match received {
        Ok(()) => {}
        Err(Stop::Client(_)) => return Err(end("interrupted", Outcome::Close)),
        Err(Stop::Server(e)) => return Err(end(&e.outcome(), Outcome::Refuse(e.reply()))),
    }
    let claimed = match asked.md5.is_none().then(|| read_digest_line(cx)) {
        None => None,
        Some(Ok(d)) => Some(d),
        Some(Err(outcome)) => {
            up.keep();
            return Err(end("no digest", outcome));
        }
    };
    if login.gone(cx.shared) {
        return Err(end("account deleted", Outcome::Refuse(Reply::new(Code::Closing, "account deleted"))));
    }
    if hold.is_some_and(|h| !h.stop_receiving()) {
        up.keep();
        return Err(end("taken over", Outcome::Close));
    }
    match up.verify(claimed) {
        Ok(verified) => Ok((verified, bytes)),
        Err(e) => Err(end(&e.outcome(), e.reply().into())),
    }
}

/// The digest line that follows a payload sent with MD5 `-`, or what the
/// session does when there is none: a bad line gets `501` and the session
/// goes on; the staged bytes are kept by the caller either way, so the
/// upload can be resumed.
fn read_digest_line(cx: &mut Cx) -> std::result::Result<Digest, Outcome> {
    let deadline = later(Instant::now(), cx.shared.config.stall_timeout);
    match cx.wire.read_line(deadline) {
        Input::Line(line) => Digest::from_hex(String::from_utf8_lossy(&line).trim())
            .ok_or(Reply::new(Code::BadArgs, "expected the MD5 as 32 hex digits").into()),
        Input::TooLong => Err(Outcome::Refuse(Reply::new(Code::Syntax, "line too long"))),
        Input::Timeout => Err(Outcome::Refuse(Reply::new(Code::Closing, "stall timeout"))),
        Input::Closed => Err(Outcome::Close),
    }
}
