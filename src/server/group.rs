//! A run of uploads pipelined on one connection, committed together: the
//! verified uploads waiting for their commit, the replies held behind
//! them, and when the group is committed (the commit itself is
//! `storage::staging::commit`: a few journal commits for the whole group).
//!
//! While uploads wait, every reply of the session is queued in order (the
//! `150` of the next upload, a mismatch, a refusal) and each waiting
//! upload's `226` (or its failure) takes its place at the commit. The
//! session commits the group before it would wait for input (nothing
//! buffered), before any command other than `upload` (except a `touch` of
//! a file waiting in the group: its time is given to the staged file,
//! which gets it at the commit before its digest is recorded, and its
//! reply is held like any other, so a client's `upload` + `touch` pairs
//! still form one group and cost one digest record), before an upload of
//! a path already waiting, before it closes, and when the group reaches
//! [`MAX_FILES`] or [`MAX_BYTES`]: the policy is written once, in
//! [`Group::commit_at`], for each [`Moment`] the session and the upload
//! handler name. A `226` is never sent before its file
//! is committed; the client, which sent the whole run before reading,
//! sees the same replies in the same order as without grouping.

use std::io;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::proto::body::Stored;
use crate::proto::{Code, Reply};
use crate::server::conn::Framed;
use crate::server::error::Error;
use crate::server::error::Replied;
use crate::server::files;
use crate::server::handler::Cx;
use crate::service::login::Login;
use crate::storage::content::Store;
use crate::storage::health;
use crate::storage::props;
use crate::storage::replace::Replace;
use crate::storage::staging::{Place, Verified, commit_group};
use crate::storage::tree::UserPath;

/// Files a group holds at most: one group of the client's pipelined
/// uploads (`client::batch`), each holding an open staged file.
const MAX_FILES: usize = 256;
/// Bytes a group holds at most: their fsyncs wait for them all.
const MAX_BYTES: u64 = 16 << 20;
/// Replies held at most (the `150`s and `226`s of a full group, and some
/// refusals): a client that keeps sending without reading cannot make the
/// session queue more.
const MAX_HELD: usize = 2 * MAX_FILES + 64;
/// A payload at least this large is received after the group is
/// committed: the `226`s before it are not held for its whole transfer.
pub(crate) const LARGE_PAYLOAD: u64 = 1 << 20;

/// A moment at which the session asks whether the group is committed:
/// the one statement of the commit policy ([`Group::commit_at`]).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Moment<'a> {
    /// The session is about to read input: committed when nothing is
    /// buffered (the client waits for replies).
    Read,
    /// Before any command other than `upload` (or a `touch` held, see
    /// [`Group::hold_touch`]), or before the session refuses, closes or
    /// ends: always committed.
    Other,
    /// A reply was queued or an upload joined: committed when full.
    Queued,
    /// An upload of the staged file `part` is asked: committed when that
    /// file waits here (it is locked by the group).
    UploadOf(&'a Path),
    /// An upload's payload is next: committed first when it is large (or
    /// its digest follows it), or when nothing is buffered.
    Payload { large: bool },
}

/// An upload verified and waiting for its commit.
struct Waiting {
    v: Verified,
    path: UserPath,
    /// Bytes received by this request, and staged bytes hashed again.
    bytes: u64,
    rehashed: u64,
}

/// A reply queued in order: ready, the result of a waiting upload, or
/// that of a `touch` of waiting upload `of` (its time set at the commit;
/// done again after the commit if that upload failed).
enum Out {
    Ready(Reply),
    Result(usize),
    Touch { of: usize, text: String, time: SystemTime },
}

/// The uploads waiting and the replies held behind them.
#[derive(Default)]
pub(crate) struct Group {
    waiting: Vec<Waiting>,
    out: Vec<Out>,
    bytes: u64,
}

impl Group {
    /// Whether uploads wait (and replies are held).
    pub(crate) fn is_open(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// Whether the upload staged at `part` waits here.
    fn holds(&self, part: &Path) -> bool {
        self.waiting.iter().any(|w| w.v.part_path() == part)
    }

    /// Sends `reply` now, or queues it behind the waiting uploads.
    pub(crate) fn send(&mut self, wire: &mut Framed<TcpStream>, reply: Reply) -> io::Result<()> {
        if !self.is_open() {
            return wire.send(&reply);
        }
        self.out.push(Out::Ready(reply));
        Ok(())
    }

    /// Adds a verified upload; its result is sent at the commit.
    pub(crate) fn add(&mut self, v: Verified, path: UserPath, bytes: u64, rehashed: u64) {
        self.bytes += v.size();
        self.out.push(Out::Result(self.waiting.len()));
        self.waiting.push(Waiting { v, path, bytes, rehashed });
    }

    /// Holds `touch TEXT TIME` (of `path`) until the commit if that file
    /// waits here, which gives the file its time; false otherwise (the
    /// session then commits and does it).
    pub(crate) fn hold_touch(&mut self, path: &UserPath, text: &str, time: SystemTime) -> bool {
        let Some(of) = self.waiting.iter().rposition(|w| w.path == *path) else { return false };
        self.waiting[of].v.set_time(time);
        self.out.push(Out::Touch { of, text: text.to_string(), time });
        true
    }

    /// Whether the group reached its bounds (files, bytes or replies held).
    fn full(&self) -> bool {
        self.waiting.len() >= MAX_FILES || self.bytes >= MAX_BYTES || self.out.len() >= MAX_HELD
    }

    /// Commits the group if the policy says so at `moment`.
    pub(crate) fn commit_at(&mut self, moment: Moment, cx: &mut Cx, login: &Login) -> io::Result<()> {
        let due = self.is_open()
            && match moment {
                Moment::Read => !cx.wire.has_input(),
                Moment::Other => true,
                Moment::Queued => self.full(),
                Moment::UploadOf(part) => self.holds(part),
                Moment::Payload { large } => large || !cx.wire.has_input(),
            };
        if due { self.commit(cx, login) } else { Ok(()) }
    }

    /// Commits the waiting uploads, logs each of them and the group, then
    /// sends every held reply in order.
    fn commit(&mut self, cx: &mut Cx, login: &Login) -> io::Result<()> {
        if !self.is_open() {
            return Ok(());
        }
        let waiting = std::mem::take(&mut self.waiting);
        self.bytes = 0;
        let paths: Vec<UserPath> = waiting.iter().map(|w| w.path.clone()).collect();
        let replies = results(cx, login, waiting);
        let committed: Vec<bool> = replies.iter().map(|r| r.code == Code::TransferDone).collect();
        let mut replies: Vec<Option<Reply>> = replies.into_iter().map(Some).collect();
        let mut wire = Vec::new();
        for out in std::mem::take(&mut self.out) {
            let reply = match out {
                Out::Ready(reply) => reply,
                Out::Result(i) => match replies.get_mut(i).and_then(Option::take) {
                    Some(reply) => reply,
                    None => continue,
                },
                Out::Touch { of, text, .. } if committed.get(of) == Some(&true) => {
                    files::touched_at_commit(cx, login, &text, &paths[of])
                }
                Out::Touch { text, time, .. } => touch_after(cx, login, &text, time),
            };
            wire.extend_from_slice(reply.to_wire().as_bytes());
        }
        cx.wire.send_bytes(&wire)
    }
}

/// A `touch` held behind the commit, done as the session would do it now.
fn touch_after(cx: &mut Cx, login: &Login, text: &str, time: SystemTime) -> Reply {
    if login.gone(cx.shared) {
        return Reply::new(Code::NotLoggedIn, "account deleted");
    }
    if health::failing().is_some() {
        cx.log(&login.user, "touch", &login.shown(text), "451 read-only".to_string(), 0);
        return Reply::new(Code::LocalError, health::READ_ONLY);
    }
    files::touched(cx, login, text, time).unwrap_or_else(|e| e.reply())
}

/// Commits `items` under the user's replace lock.
fn commit(cx: &Cx, login: &Login, items: Vec<(Verified, UserPath)>) -> Vec<crate::server::error::Result<PathBuf>> {
    let replace = match Replace::lock(&cx.shared.data, &login.user) {
        Ok(replace) => replace,
        Err(e) => return items.iter().map(|_| Err(Error::new(e.kind(), e.to_string()))).collect(),
    };
    let (trash, store) = (login.trash(cx.shared), Store::new(&cx.shared.data, cx.shared.config.dedup));
    let (user, tree, sums) = (login.user.as_str(), &login.tree, &cx.shared.sums);
    let place = Place { user, tree, sums, trash: &trash, store: &store, replace: &replace };
    let dead: Vec<Vec<u8>> = items.iter().map(|(_, path)| dead_of(login, path)).collect();
    let committed = commit_group(items, &place);
    for (real, dead) in committed.iter().zip(dead) {
        if let Ok(real) = real
            && !dead.is_empty()
        {
            let _ = props::write(real, &dead);
        }
    }
    committed
}

/// The dead properties (WebDAV) of the file an upload replaces: the new
/// content keeps them, as a `PUT` does (RFC 4918, 9.7.1).
fn dead_of(login: &Login, path: &UserPath) -> Vec<u8> {
    login.tree.checked(path).ok().and_then(|real| props::read(&real).ok()).unwrap_or_default()
}

/// Commits `waiting` (unless the account went meanwhile) and returns each
/// upload's reply, logged.
fn results(cx: &mut Cx, login: &Login, waiting: Vec<Waiting>) -> Vec<Reply> {
    let gone = login.gone(cx.shared);
    let facts: Vec<_> = waiting.iter().map(|w| (w.path.clone(), w.v.size(), w.v.md5(), w.bytes, w.rehashed)).collect();
    let committed = match gone {
        true => Vec::new(),
        false => commit(cx, login, waiting.into_iter().map(|w| (w.v, w.path)).collect()),
    };
    let (mut files, mut failed, mut code) = (0, 0, Code::TransferDone);
    let mut dirs: Vec<&Path> = Vec::new();
    let mut replies = Vec::new();
    for (i, (path, size, md5, bytes, rehashed)) in facts.iter().enumerate() {
        let (reply, outcome) = match committed.get(i) {
            Some(Ok(real)) => {
                files += 1;
                if let Some(dir) = real.parent().filter(|d| !dirs.contains(d)) {
                    dirs.push(dir);
                }
                (Reply::new(Code::TransferDone, Stored { size: *size, md5: *md5 }.to_string()), "226".to_string())
            }
            Some(Err(e)) => (e.reply(), e.outcome()),
            // Not `421`: the session closes at its next request, not here.
            None => (Reply::new(Code::NotLoggedIn, "account deleted"), "account deleted".to_string()),
        };
        if reply.code != Code::TransferDone {
            failed += 1;
            // The group's outcome: its first failure's code.
            if code == Code::TransferDone {
                code = reply.code;
            }
        }
        let note = if *rehashed > 0 { format!("{outcome} rehashed={rehashed}") } else { outcome };
        cx.log(&login.user, "upload", &path.to_string(), note, *bytes);
        replies.push(reply);
    }
    let failed = if failed > 0 { format!(" failed={failed}") } else { String::new() };
    let outcome = format!("{} files={files} dirs={}{failed}", code.number(), dirs.len());
    cx.log(&login.user, "commit", "", outcome, 0);
    replies
}
