//! The HTTP face (`docs/HTTP.md`): the same accounts, files, trash,
//! quotas and share codes as the text protocol, for browsers, `curl`
//! and `wget`. One thread per connection, like the text face, counted in
//! the same connection limits.
//!
//! - `wire`: requests and responses on the wire, with every limit
//! - `target`: paths decoded once and checked; names encoded for URLs
//! - `auth`: the client's address, cross-site refusals, HTTP Basic
//! - `files`: `/files/PATH` (`GET`, `HEAD`, `PUT`, `DELETE`)
//! - `serve`: a file as a response (ETag, Range, conditionals, names)
//! - `share`: `/s/CODE` pages, downloads and folder ZIPs
//! - `zip`: the streamed ZIP writer and its CRC-32
//! - `html`, `date`, `decode`: page frame and escaping; HTTP dates;
//!   base64 and urlencoded forms
//! - `engine`: the one door to the engine and the shared state
//!
//! This module owns the accept loop, a connection's request loop and the
//! headers every response carries. Nothing here panics on what a client
//! sends; a panic in one connection ends that connection only.

mod api;
mod app;
mod auth;
mod crc32;
mod date;
pub mod dav;
mod decode;
mod engine;
mod files;
mod html;
mod idle;
mod serve;
mod session;
mod share;
mod target;
mod tus;
mod wire;
mod zip;

use std::fs::File;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

pub use crc32::Crc32;

use engine::Shared;
use engine::Slot;
use wire::{Body, Conn, Framing, Head, NoHead, Request};

/// Stack of a connection thread (as a text session's).
const STACK: usize = 128 * 1024;
/// After an answer sent before its request's body was read, input is
/// discarded this long before the close (HTTP.md "Requests and limits").
const LINGER: Duration = Duration::from_secs(2);
/// A body a route does not read is discarded, to keep the connection,
/// up to this size; a longer one closes the connection instead.
const DISCARD_MAX: u64 = 64 * 1024;
/// The policy of pages and API replies.
const PAGE_CSP: &str = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
/// Seconds a client over a connection limit is told to wait.
const RETRY_AFTER: &str = "5";

/// What a response sends after its head.
pub(crate) enum Payload {
    /// Nothing (`Content-Length: 0`, or none for `204` and `304`).
    Empty,
    /// Bytes in memory (pages, short texts).
    Bytes(Vec<u8>),
    /// `len` bytes of an open file from its position, by `sendfile(2)`.
    File { file: File, len: u64 },
    /// A body whose length is not known beforehand (a ZIP, a WebDAV
    /// listing, a share's folder page), streamed with chunked coding.
    Stream(Box<dyn Streamed>),
}

/// A payload written as it is made, after the head: chunked on
/// HTTP/1.1, until the close on HTTP/1.0 (see [`Chunked`]).
pub(crate) trait Streamed {
    /// Writes the whole body to `out`; its bytes. An error (a revoked
    /// code, a failing file, the client gone) stops it before the last
    /// chunk, so the client sees a cut body, never a short whole one.
    fn run(self: Box<Self>, out: &TcpStream, chunked: bool) -> io::Result<u64>;
}

/// A response: head, payload, and what the log line says about it.
pub(crate) struct Reply {
    pub(crate) head: Head,
    pub(crate) body: Payload,
    /// The cause of a failure, or a detail, for the log.
    pub(crate) note: String,
}

impl Reply {
    pub(crate) fn new(status: u16) -> Reply {
        Reply { head: Head::new(status), body: Payload::Empty, note: String::new() }
    }

    /// A short plain-text answer (a failure's human-readable body).
    pub(crate) fn text(status: u16, text: &str) -> Reply {
        let mut r = Reply::new(status);
        r.head.set("Content-Type", "text/plain; charset=utf-8");
        r.body = Payload::Bytes(format!("{text}\n").into_bytes());
        r
    }

    /// An HTML page.
    pub(crate) fn page(status: u16, html: String) -> Reply {
        let mut r = Reply::new(status);
        r.head.set("Content-Type", "text/html; charset=utf-8");
        r.body = Payload::Bytes(html.into_bytes());
        r
    }

    /// A failure for a client that asked for `text/html` as a page, for
    /// anyone else as text.
    pub(crate) fn failure(req: &Request, status: u16, text: &str) -> Reply {
        let html = req.header("accept").is_some_and(|a| a.contains("text/html"));
        if !html {
            return Reply::text(status, text);
        }
        let title = format!("{status} {}", wire::reason(status));
        let body = format!("<h1>{}</h1>\n<p>{}</p>", html::escape(&title), html::escape(text));
        Reply::page(status, html::page(&title, &body))
    }

    /// A redirect to a path of this server.
    pub(crate) fn redirect(status: u16, location: &str) -> Reply {
        let mut r = Reply::text(status, location);
        r.head.set("Location", location);
        r
    }

    pub(crate) fn with_note(mut self, note: impl Into<String>) -> Reply {
        self.note = note.into();
        self
    }
}

/// One request being served: the shared state, the connection, the
/// request, who sent it, and the account once known (for the log).
pub(crate) struct Cx<'a> {
    pub(crate) shared: &'a Shared,
    pub(crate) conn: &'a mut Conn,
    pub(crate) req: &'a Request,
    pub(crate) client: auth::Client,
    pub(crate) user: String,
    /// Whether the request's body has been read whole (or there was none).
    pub(crate) body_done: bool,
    /// The body's framing broke (the connection must close).
    pub(crate) body_broken: bool,
}

impl Cx<'_> {
    /// The account the request acts for, or the reply refusing it.
    pub(crate) fn authenticate(&mut self) -> Result<String, Reply> {
        let user = match session::user_of(self.shared, &self.client, self.req) {
            Some(user) => user,
            None => auth::user(self.shared, &self.client, self.req)?,
        };
        self.user = user.clone();
        Ok(user)
    }

    /// A failure answered in the form the client asked for.
    pub(crate) fn failure(&self, status: u16, text: &str) -> Reply {
        Reply::failure(self.req, status, text)
    }

    /// An engine failure: its status by the one table, its cause logged.
    pub(crate) fn engine_failure(&self, e: &engine::Error) -> Reply {
        // A sync that failed during this request made the storage read-only.
        let failing = engine::status_of(e) == 500 && engine::read_only(self.shared);
        let status = if failing { 503 } else { engine::status_of(e) };
        self.failure(status, &e.to_string()).with_note(engine::cause_of(e))
    }

    /// The request's body as a reader (see [`wire::Body`]).
    pub(crate) fn body(&mut self) -> Body<'_> {
        Body::new(self.conn, self.req.framing)
    }

    /// The request's urlencoded form, read whole (at most `max` bytes),
    /// or why not, as a sentence.
    pub(crate) fn form(&mut self, max: u64) -> Result<decode::Form, &'static str> {
        let mut bytes = Vec::new();
        let mut body = self.body();
        let read = io::Read::read_to_end(&mut io::Read::take(&mut body, max + 1), &mut bytes);
        let (done, broken) = (body.complete(), body.broken);
        (self.body_done, self.body_broken) = (done, broken);
        if read.is_err() || !done || bytes.len() as u64 > max {
            return Err("The request's body was cut short or too long.");
        }
        let text = String::from_utf8(bytes).map_err(|_| "The request is not UTF-8.")?;
        decode::parse_form(&text).ok_or("The request's form is malformed.")
    }
}

/// Serves HTTP on `listener` for ever, each connection on its own thread,
/// counted in the connection limits of `shared`.
pub fn serve(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => admit(&shared, stream),
            Err(e) => {
                engine::server_event("http accept", &e.to_string());
                thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

fn admit(shared: &Arc<Shared>, stream: TcpStream) {
    let Ok(peer) = stream.peer_addr() else { return };
    let trusted = shared.config.trust_proxy.iter().any(|c| c.contains(peer.ip()));
    let key = auth::key_of(peer.ip());
    let enter = || shared.enter_as(key, !trusted);
    // Over a limit: an idle keep-alive connection is closed first.
    let slot = enter().or_else(|| {
        let closed = idle::close_one(key, shared.all_taken())?;
        engine::event(closed, "-", "http", "", "idle connection closed for a new one", 0);
        enter()
    });
    let Some(slot) = slot else {
        engine::event(peer, "-", "http connect", "", "503 too many connections", 0);
        return busy(stream);
    };
    let shared = Arc::clone(shared);
    let spawned = thread::Builder::new().name(format!("http {peer}")).stack_size(STACK).spawn(move || {
        let served = catch_unwind(AssertUnwindSafe(|| connection(&shared, stream, peer, slot)));
        if served.is_err() {
            engine::event(peer, "-", "http", "", "panic", 0);
        }
    });
    if let Err(e) = spawned {
        engine::server_event("http connect", &format!("no thread: {e}"));
    }
}

/// `503` to a connection over a limit, without blocking the accept loop.
fn busy(stream: TcpStream) {
    let mut head = Head::new(503);
    head.set("Retry-After", RETRY_AFTER);
    head.set("Content-Length", "0");
    head.set("Connection", "close");
    let _ = stream.set_nonblocking(true);
    let _ = (&stream).write_all(&head.to_wire());
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

/// Serves one connection's requests until it closes or times out.
fn connection(shared: &Shared, stream: TcpStream, peer: SocketAddr, slot: Slot) {
    let _ = stream.set_nodelay(true);
    let config = &shared.config;
    let stream = Arc::new(stream);
    let slot = idle::Held::new(slot);
    let mut conn = Conn::new(Arc::clone(&stream), config.stall_timeout);
    let mut idle_from = Instant::now();
    let mut wait = config.login_timeout;
    let mut first = true;
    loop {
        // Between requests the connection may be closed to make room.
        let listed = (!first).then(|| idle::list(peer, auth::key_of(peer.ip()), &stream, &slot));
        let head = conn.read_head(idle_from + wait, config.login_timeout);
        drop(listed);
        first = false;
        match head {
            Ok(req) => {
                if !exchange(shared, &mut conn, peer, &req) {
                    break;
                }
            }
            Err(NoHead::Gone) => break,
            Err(NoHead::Slow) => {
                engine::event(peer, "-", "http", "", "408 header timeout", 0);
                refuse(&mut conn, 408, "the request head did not come in time");
                break;
            }
            Err(NoHead::Refused(r)) => {
                engine::event(peer, "-", "http", "", &format!("{} {}", r.status, r.why), 0);
                refuse(&mut conn, r.status, r.why);
                break;
            }
        }
        conn.idle();
        idle_from = Instant::now();
        wait = config.idle_timeout;
    }
    drop(slot);
}

/// Answers a request the framing refused, then closes gently.
fn refuse(conn: &mut Conn, status: u16, why: &str) {
    let mut reply = Reply::text(status, why);
    finish_head(&mut reply, true, 1);
    let Payload::Bytes(body) = &reply.body else { return };
    let mut wire = reply.head.to_wire();
    wire.extend_from_slice(body);
    let _ = conn.write_all(&wire);
    conn.linger_close(LINGER);
}

/// Serves one request; whether the connection goes on.
fn exchange(shared: &Shared, conn: &mut Conn, peer: SocketAddr, req: &Request) -> bool {
    let client = auth::client(shared, peer, req);
    let body_done = req.framing == Framing::None;
    let mut cx = Cx { shared, conn, req, client, user: "-".into(), body_done, body_broken: false };
    let mut reply = route(&mut cx);
    let (user, mut body_done, broken) = (std::mem::take(&mut cx.user), cx.body_done, cx.body_broken);
    if !body_done && !broken && !req.expects_continue && matches!(req.framing, Framing::Length(n) if n <= DISCARD_MAX) {
        let mut body = Body::new(conn, req.framing);
        body_done = body.discard(DISCARD_MAX);
    }
    let close = req.close || !body_done || broken;
    finish_head(&mut reply, close, req.minor);
    let sent = send(conn, req, reply.head, reply.body);
    let status = sent.status;
    let note = [reply.note.as_str(), sent.cut.as_str()].join(" ");
    let outcome = format!("{status} {}", note.trim()).trim().to_string();
    let what = format!("{} {}", req.method, shown_path(&req.target));
    engine::event(client.logged(), &user, "http", &what, &outcome, sent.bytes);
    if close && !body_done {
        conn.linger_close(LINGER);
    }
    !close && sent.whole
}

/// What went out.
struct Sent {
    status: u16,
    bytes: u64,
    /// The payload went out whole (else the framing is lost).
    whole: bool,
    /// Why a streamed payload stopped early, for the log.
    cut: String,
}

/// The headers every response carries: date, the security fields,
/// framing and the connection's fate.
fn finish_head(reply: &mut Reply, close: bool, minor: u8) {
    let head = &mut reply.head;
    head.set("Date", date::now());
    if head.get("Content-Security-Policy").is_none() {
        head.set("Content-Security-Policy", PAGE_CSP);
    }
    head.set("X-Content-Type-Options", "nosniff");
    head.set("Referrer-Policy", "same-origin");
    if head.get("Cache-Control").is_none() {
        head.set("Cache-Control", "no-store");
    }
    let status = head.status;
    match &reply.body {
        Payload::Empty if status == 204 || status == 304 => {}
        Payload::Empty => head.set("Content-Length", "0"),
        Payload::Bytes(b) => head.set("Content-Length", b.len().to_string()),
        Payload::File { len, .. } => head.set("Content-Length", len.to_string()),
        Payload::Stream(_) if minor == 1 => head.set("Transfer-Encoding", "chunked"),
        Payload::Stream(_) => {}
    }
    let until_close = matches!(reply.body, Payload::Stream(_)) && minor == 0;
    if close || until_close {
        head.set("Connection", "close");
    }
}

/// Writes the head and, unless the request is `HEAD`, the payload.
fn send(conn: &mut Conn, req: &Request, head: Head, body: Payload) -> Sent {
    let status = head.status;
    let mut wire = head.to_wire();
    let bodiless = req.is_head();
    let fail = Sent { status, bytes: 0, whole: false, cut: String::new() };
    match body {
        Payload::Bytes(bytes) if !bodiless => {
            wire.extend_from_slice(&bytes);
            match conn.write_all(&wire) {
                Ok(()) => Sent { status, bytes: bytes.len() as u64, whole: true, cut: String::new() },
                Err(_) => fail,
            }
        }
        Payload::File { mut file, len } if !bodiless => {
            if conn.write_all(&wire).is_err() {
                return fail;
            }
            let _ = conn.stream.set_write_timeout(Some(conn.stall));
            let (sent, _) = crate::sendfile::send_file(&mut file, &conn.stream, len);
            Sent { status, bytes: sent, whole: sent == len, cut: String::new() }
        }
        Payload::Stream(body) if !bodiless => {
            if conn.write_all(&wire).is_err() {
                return fail;
            }
            let _ = conn.stream.set_write_timeout(Some(conn.stall));
            match body.run(&conn.stream, req.minor == 1) {
                Ok(bytes) => Sent { status, bytes, whole: true, cut: String::new() },
                Err(e) => Sent { cut: format!("cut: {e}"), ..fail },
            }
        }
        _ => Sent { status, bytes: 0, whole: conn.write_all(&wire).is_ok(), cut: String::new() },
    }
}

/// A target as the log shows it: decoded (when it decodes), its query
/// left out, a share's code replaced by `…`.
fn shown_path(target: &str) -> String {
    let raw = target.split('?').next().unwrap_or_default();
    let path = match target::segments(raw) {
        Ok(s) if s.trailing_slash => format!("/{}/", s.names.join("/")),
        Ok(s) => format!("/{}", s.names.join("/")),
        Err(_) => raw.to_string(),
    };
    let mut parts = path.splitn(4, '/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(""), Some("s"), Some(_), Some(rest)) => format!("/s/…/{rest}"),
        (Some(""), Some("s"), Some(_), None) => "/s/…".to_string(),
        _ => path,
    }
}

/// The handler of each path.
fn route(cx: &mut Cx) -> Reply {
    let (path, _) = cx.req.path_and_query();
    if cx.req.target == "*" {
        return options();
    }
    let segments = match target::segments(path) {
        Ok(s) => s,
        Err(target::BadPath(why)) => return cx.failure(400, why).with_note(why),
    };
    if let Some(refusal) = auth::cross_site(cx.shared, &cx.client, cx.req) {
        return refusal;
    }
    match segments.names.first().map(String::as_str) {
        Some("files") => files::route(cx, &segments.names[1..]),
        Some("dav") => dav::route(cx, &segments),
        Some("s") if segments.names.len() >= 2 => share::route(cx, &segments),
        Some(what @ ("login" | "logout" | "register")) if segments.names.len() == 1 => session::route(cx, what),
        Some("tus") => tus::route(cx, &segments.names[1..]),
        Some("api") => api::route(cx, &segments.names[1..]),
        Some("app") if segments.names.len() == 2 => {
            app::asset(cx, &segments.names[1]).unwrap_or_else(|| cx.failure(404, "nothing here"))
        }
        None if cx.req.method == "OPTIONS" => dav::options(),
        None => app::index(cx),
        _ => cx.failure(404, "nothing here"),
    }
}

fn options() -> Reply {
    let mut reply = Reply::new(204);
    reply.head.set("Allow", "GET, HEAD, PUT, DELETE, OPTIONS");
    reply
}

/// `405` with the methods a path allows.
pub(crate) fn not_allowed(cx: &Cx, allow: &str) -> Reply {
    let mut reply = cx.failure(405, "method not allowed here");
    reply.head.set("Allow", allow);
    reply
}

/// Writes a payload in chunked coding (HTTP/1.1) or as is (HTTP/1.0,
/// where the close ends it); [`Chunked::end`] writes the last chunk.
pub(crate) struct Chunked<W: Write> {
    out: W,
    chunked: bool,
    buf: Vec<u8>,
    /// Payload bytes written so far (framing not counted).
    sent: u64,
}

impl<W: Write> Chunked<W> {
    const SIZE: usize = 64 * 1024;

    pub(crate) fn new(out: W, chunked: bool) -> Chunked<W> {
        Chunked { out, chunked, buf: Vec::with_capacity(Self::SIZE), sent: 0 }
    }

    fn emit(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.sent += self.buf.len() as u64;
        if self.chunked {
            self.out.write_all(format!("{:x}\r\n", self.buf.len()).as_bytes())?;
            self.buf.extend_from_slice(b"\r\n");
        }
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    /// Flushes what is buffered and ends the body; the payload's bytes.
    pub(crate) fn end(mut self) -> io::Result<u64> {
        self.emit()?;
        if self.chunked {
            self.out.write_all(b"0\r\n\r\n")?;
        }
        self.out.flush()?;
        Ok(self.sent)
    }
}

impl zip::Sink for Chunked<&TcpStream> {
    /// The buffer goes out first, then the file's bytes with `sendfile`
    /// as one chunk of their own.
    fn send_file(&mut self, file: &mut File, len: u64) -> io::Result<()> {
        self.emit()?;
        if self.chunked {
            self.out.write_all(format!("{len:x}\r\n").as_bytes())?;
        }
        let (sent, err) = crate::sendfile::send_file(file, self.out, len);
        self.sent += sent;
        match err {
            Some(e) => return Err(e),
            None if sent < len => return Err(zip::shrank()),
            None => {}
        }
        if self.chunked {
            self.out.write_all(b"\r\n")?;
        }
        Ok(())
    }
}

impl<W: Write> Write for Chunked<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = Self::SIZE - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == Self::SIZE {
            self.emit()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.emit()?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_codes_never_reach_the_log() {
        assert_eq!(shown_path("/s/abcdefghijkmnpq2/a/b.txt?zip"), "/s/…/a/b.txt");
        assert_eq!(shown_path("/s/abcdefghijkmnpq2/%E5%AD%90/"), "/s/…/子/");
        assert_eq!(shown_path("/s/abcdefghijkmnpq2/%2e%2e"), "/s/…/%2e%2e");
        assert_eq!(shown_path("/s/ABCDEFGHIJKMNPQ2"), "/s/…");
        assert_eq!(shown_path("/s/abcdefghijkmnpq2"), "/s/…");
        assert_eq!(shown_path("/files/a"), "/files/a");
    }

    #[test]
    fn chunked_output_frames_and_ends() {
        let mut wire = Vec::new();
        let mut out = Chunked::new(&mut wire, true);
        out.write_all(b"hello").unwrap();
        out.flush().unwrap();
        out.write_all(b"!").unwrap();
        assert_eq!(out.end().unwrap(), 6);
        assert_eq!(wire, b"5\r\nhello\r\n1\r\n!\r\n0\r\n\r\n");
    }
}
