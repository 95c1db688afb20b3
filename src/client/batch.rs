//! Many files on one connection: small uploads and downloads are
//! PIPELINED (a group of requests and payloads in one write, then the
//! replies read in order), large files stream one at a time through
//! [`Client::upload`] and [`Client::download`] (resumable, `claim` first).
//!
//! A refused `upload` closes the connection: the files whose replies never
//! came are sent again on a new one. One file failing never stops the
//! others; each failure lands in the [`Report`] with why.

use std::fs;
use std::io::Read;
use std::net::Shutdown;
use std::sync::mpsc;
use std::thread;

use super::item::Item;
use super::report::{Event, OnEvent, Report};
use super::transfer::{CLAIM_FROM, parse_body, set_local_time, sidecar};
use super::window::{self, Note, Sent};
use super::{Client, ClientError};
use crate::digest::Digest;
use crate::proto::body::DownloadHead;
use crate::proto::{Code, Command};

/// Files in one pipelined group, and their bytes at most. A group is one
/// round trip: 64 files made 1,000 small files 16 rounds (0.16 of the
/// limit at a 50 ms round trip, see docs/BENCHMARKS.md). The replies to a
/// group of uploads (about 25 KiB for 256) wait in socket buffers until
/// the whole group is sent, so that count stays modest; a group of
/// downloads sends only request lines (about 40 KiB for 1,024).
const PIPE_FILES: usize = 256;
const PIPE_DOWNLOADS: usize = 1024;
const PIPE_BYTES: u64 = 8 << 20;

/// Groups of small items for one pipelined round each.
fn groups(items: &[Item], files: usize) -> Vec<&[Item]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, item) in items.iter().enumerate() {
        if i > start && (i - start == files || bytes + item.size > PIPE_BYTES) {
            out.push(&items[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += item.size;
    }
    if start < items.len() {
        out.push(&items[start..]);
    }
    out
}

/// Sends a group of small items pipelined; returns those that got no reply.
type Pipe = fn(&mut Client, Vec<Item>, &mut Report, OnEvent) -> Vec<Item>;
/// Moves one item, waiting for each reply.
type One = fn(&mut Client, &Item, &mut Report, OnEvent);

impl Client {
    /// Uploads `items`: small ones pipelined, large ones streamed.
    pub(crate) fn send_files(&mut self, items: Vec<Item>, report: &mut Report, on: OnEvent) {
        // All in one round: `pipe_uploads` writes them in groups itself.
        self.in_groups(items, report, on, (Client::pipe_uploads, Client::send_one), usize::MAX);
    }

    /// Small items in pipelined rounds of `group` (a round that got no reply at all
    /// sends its first item alone, so a round never repeats for ever),
    /// then the large ones one at a time; stops when the caller asks.
    fn in_groups(
        &mut self,
        items: Vec<Item>,
        report: &mut Report,
        on: OnEvent,
        (pipe, one): (Pipe, One),
        group: usize,
    ) {
        let (small, large): (Vec<Item>, Vec<Item>) = items.into_iter().partition(|i| i.size < CLAIM_FROM);
        let rounds = if group == usize::MAX { vec![&small[..]] } else { groups(&small, group) };
        for group in rounds {
            let mut rest = group.to_vec();
            while !rest.is_empty() && !report.stopped {
                let before = rest.len();
                rest = pipe(self, rest, report, on);
                if rest.len() == before {
                    let first = rest.remove(0);
                    one(self, &first, report, on);
                }
            }
        }
        for item in large {
            if report.stopped {
                return;
            }
            one(self, &item, report, on);
        }
    }

    /// One upload, waiting for each reply (resumes, claims, retries busy).
    fn send_one(&mut self, item: &Item, report: &mut Report, on: OnEvent) {
        let path = item.shown_up();
        let progress = |p: &super::Progress| Event::Progress { path, done: p.done, total: p.total };
        let mut moved = 0;
        let sent = self.upload(&item.local, &item.remote, &mut |p| {
            moved = p.done - p.resumed_at;
            report.tell(on, &progress(p))
        });
        match sent {
            Ok(t) => {
                report.transferred += 1;
                report.bytes += t.moved;
                let action = if t.instant { "instant" } else { "uploaded" };
                report.tell(on, &Event::Done { action, path: item.shown_up(), bytes: t.size });
            }
            // Stopped by the caller: not a failure; the bytes sent count.
            Err(ClientError::Interrupted(_)) if report.stopped => report.bytes += moved,
            Err(e) => {
                report.fail(item.shown_up(), &e.to_string(), on);
            }
        }
    }

    /// The small uploads pipelined in groups, with a window of two
    /// (`client::window`): a thread writes the next group while this one
    /// reads the replies of the one before. Returns the items with no
    /// outcome yet.
    fn pipe_uploads(&mut self, items: Vec<Item>, report: &mut Report, on: OnEvent) -> Vec<Item> {
        let out = self.ensure_open().and_then(|()| self.conn()?.writer.try_clone().map_err(ClientError::Io));
        let out = match out {
            Ok(out) => out,
            Err(e) => {
                items.iter().for_each(|i| _ = report.fail(i.shown_up(), &e.to_string(), on));
                return Vec::new();
            }
        };
        let groups: Vec<Vec<Item>> = groups(&items, PIPE_FILES).into_iter().map(<[Item]>::to_vec).collect();
        let (to_reader, from_writer) = mpsc::sync_channel(0);
        let writer = thread::spawn(move || window::write_groups(out, groups, to_reader));
        let mut unanswered = Vec::new();
        for notes in &from_writer {
            let sent = self.take_notes(notes, report, on);
            let answered = self.upload_replies(&sent, report, on);
            unanswered.extend(sent.into_iter().skip(answered).map(|s| s.item));
            if !unanswered.is_empty() || report.stopped {
                break;
            }
        }
        if !unanswered.is_empty() || report.stopped {
            // Unblocks the writer; the next request opens a new connection.
            if let Ok(conn) = self.conn() {
                let _ = conn.writer.shutdown(Shutdown::Both);
            }
            self.drop_conn();
        }
        drop(from_writer);
        unanswered.extend(writer.join().unwrap_or_default());
        unanswered
    }

    /// Reports the items of a group that were never sent and caches the
    /// digests of those that were; returns those.
    fn take_notes(&mut self, notes: Vec<Note>, report: &mut Report, on: OnEvent) -> Vec<Sent> {
        let mut sent = Vec::new();
        for note in notes {
            match note {
                Note::Sent(s) => {
                    if let (Some(meta), Some(cache)) = (&s.meta, self.cache.as_mut()) {
                        cache.remember(&s.item.local, meta, s.md5);
                    }
                    sent.push(*s);
                }
                Note::Failed(shown, why) => _ = report.fail(&shown, &why, on),
            }
        }
        sent
    }

    /// Reads the replies of a pipelined group; returns how many items got
    /// their outcome.
    fn upload_replies(&mut self, sent: &[Sent], report: &mut Report, on: OnEvent) -> usize {
        for (n, Sent { item, size, touched, .. }) in sent.iter().enumerate() {
            let Ok(head) = self.read_reply() else { return n };
            if head.code != Code::Payload {
                // The server closes the connection after this.
                self.drop_conn();
                report.fail(item.shown_up(), &ClientError::Refused(head).to_string(), on);
                return n + 1;
            }
            let Ok(end) = self.read_reply() else { return n };
            // The time is best effort (a server before 2.1 answers `500`),
            // but its reply keeps the replies in step.
            let in_step = !touched || self.read_reply().is_ok();
            if end.code == Code::TransferDone {
                report.transferred += 1;
                report.bytes += size;
                report.tell(on, &Event::Done { action: "uploaded", path: item.shown_up(), bytes: *size });
            } else {
                report.fail(item.shown_up(), &ClientError::Refused(end).to_string(), on);
            }
            if !in_step {
                return n + 1;
            }
        }
        sent.len()
    }

    /// Downloads `items`: small ones pipelined, large ones streamed.
    pub(crate) fn fetch_files(&mut self, items: Vec<Item>, report: &mut Report, on: OnEvent) {
        self.in_groups(items, report, on, (Client::pipe_downloads, Client::fetch_one), PIPE_DOWNLOADS);
    }

    fn fetch_one(&mut self, item: &Item, report: &mut Report, on: OnEvent) {
        let shown = item.local.display().to_string();
        let progress = |p: &super::Progress| Event::Progress { path: &shown, done: p.done, total: p.total };
        let mut moved = 0;
        let got = self.download(&item.remote, &item.local, &mut |p| {
            moved = p.done - p.resumed_at;
            report.tell(on, &progress(p))
        });
        match got {
            Ok(t) => {
                report.transferred += 1;
                report.bytes += t.moved;
                report.tell(on, &Event::Done { action: "downloaded", path: &shown, bytes: t.size });
            }
            // Stopped by the caller: not a failure; the bytes received count.
            Err(ClientError::Interrupted(_)) if report.stopped => report.bytes += moved,
            Err(e) => _ = report.fail(&shown, &e.to_string(), on),
        }
    }

    /// One pipelined round of downloads; returns the items with no outcome.
    fn pipe_downloads(&mut self, items: Vec<Item>, report: &mut Report, on: OnEvent) -> Vec<Item> {
        let mut wire = String::new();
        let mut items_sent = Vec::new();
        for item in items {
            match (Command::Download { path: item.remote.clone(), offset: 0 }).to_line() {
                Ok(line) => {
                    wire.push_str(&line);
                    wire.push_str("\r\n");
                    items_sent.push(item);
                }
                Err(e) => _ = report.fail(&item.remote, &ClientError::Unsendable(e).to_string(), on),
            }
        }
        let items = items_sent;
        let sent = self.ensure_open().and_then(|()| self.send_bytes(wire.as_bytes()));
        if let Err(e) = sent {
            items.iter().for_each(|i| _ = report.fail(&i.local.display().to_string(), &e.to_string(), on));
            return Vec::new();
        }
        let mut answered = 0;
        for item in &items {
            let shown = item.local.display().to_string();
            match self.receive_small(item) {
                Ok(size) => {
                    report.transferred += 1;
                    report.bytes += size;
                    report.tell(on, &Event::Done { action: "downloaded", path: &shown, bytes: size });
                }
                Err(e @ (ClientError::Refused(_) | ClientError::Verify(_) | ClientError::Local(..))) => {
                    report.fail(&shown, &e.to_string(), on);
                }
                Err(_) => break,
            }
            answered += 1;
        }
        if answered < items.len() {
            self.drop_conn();
        }
        items.into_iter().skip(answered).collect()
    }

    /// Reads one pipelined download's reply and payload into memory,
    /// verifies it, and puts it in place. `Refused`, `Verify` and `Local`
    /// errors leave the connection usable.
    fn receive_small(&mut self, item: &Item) -> super::Result<u64> {
        let head = self.read_reply()?;
        if head.code != Code::Payload {
            return Err(ClientError::Refused(head));
        }
        let head: DownloadHead = parse_body(&head)?;
        if head.size > PIPE_BYTES {
            return Err(ClientError::Protocol(format!("{}: grew to {} bytes", item.remote, head.size)));
        }
        let mut data = Vec::with_capacity(head.size as usize);
        let conn = self.conn()?;
        let read = (&mut conn.reader).take(head.size).read_to_end(&mut data);
        self.check(read)?;
        if data.len() as u64 != head.size {
            return Err(ClientError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        let end = self.read_reply()?;
        if end.code != Code::TransferDone {
            return Err(ClientError::Refused(end));
        }
        if Digest::of(&data) != head.md5 {
            return Err(ClientError::Verify(format!("{}: received bytes do not match {}", item.remote, head.md5)));
        }
        let part = sidecar(&item.local, "part");
        let local_err = |e| ClientError::Local(item.local.clone(), e);
        fs::write(&part, &data).map_err(local_err)?;
        if let Some(secs) = item.mtime {
            set_local_time(&part, secs).map_err(local_err)?;
        }
        fs::rename(&part, &item.local).map_err(local_err)?;
        Ok(head.size)
    }
}
