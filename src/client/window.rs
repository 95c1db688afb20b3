//! Small uploads pipelined with a window of two groups: a thread reads,
//! hashes and writes group k+1 while the caller reads the replies of group
//! k, so the client's reading and hashing overlap the server's receiving
//! and commit (docs/BENCHMARKS.md, issue 26).
//!
//! Neither side can block the other for ever: the replies are read as they
//! come (on the caller's thread) while the writer writes, and the writer
//! hands each group over only once it is written, through a channel with
//! no room, so at most two groups are written and unanswered at once.

use std::fs::{self, Metadata};
use std::io::Write;
use std::net::TcpStream;
use std::sync::mpsc::{SendError, SyncSender};

use super::ClientError;
use super::item::Item;
use crate::digest::Digest;
use crate::proto::Command;

/// An upload written on the wire: its reply is to come.
pub(crate) struct Sent {
    pub item: Item,
    pub size: u64,
    pub md5: Digest,
    /// The local file's metadata taken before its read (for the cache).
    pub meta: Option<Metadata>,
    /// Whether a `touch` follows it (one more reply).
    pub touched: bool,
}

/// What became of one item of a group.
pub(crate) enum Note {
    Sent(Box<Sent>),
    /// Never sent: the path shown and why.
    Failed(String, String),
}

/// Writes each group (its requests and payloads in one write) and hands it
/// to the reader once written; stops when the reader is gone or a write
/// fails. Returns the items never handed over.
pub(crate) fn write_groups(mut out: TcpStream, groups: Vec<Vec<Item>>, to_reader: SyncSender<Vec<Note>>) -> Vec<Item> {
    let mut groups = groups.into_iter();
    for group in groups.by_ref() {
        let (wire, notes) = prepare(group);
        // A write error shows as missing replies to the reader.
        let written = out.write_all(&wire).is_ok();
        if let Err(SendError(notes)) = to_reader.send(notes) {
            return sent_items(notes).chain(groups.flatten()).collect();
        }
        if !written {
            break;
        }
    }
    groups.flatten().collect()
}

/// The items of `notes` that were written.
fn sent_items(notes: Vec<Note>) -> impl Iterator<Item = Item> {
    notes.into_iter().filter_map(|n| match n {
        Note::Sent(s) => Some(s.item),
        Note::Failed(..) => None,
    })
}

/// Reads and hashes each item: the wire bytes of the group (each `upload`
/// header, its payload and a `touch` giving the remote file the local
/// one's time) and what became of each item.
fn prepare(items: Vec<Item>) -> (Vec<u8>, Vec<Note>) {
    let mut wire = Vec::new();
    let mut notes = Vec::new();
    for item in items {
        // Taken before the read: a change after it leaves the cached
        // digest stale, never wrong.
        let meta = fs::metadata(&item.local).ok();
        let data = match fs::read(&item.local) {
            Ok(data) => data,
            Err(e) => {
                notes.push(Note::Failed(item.local.display().to_string(), format!("cannot read: {e}")));
                continue;
            }
        };
        let (size, md5) = (data.len() as u64, Digest::of(&data));
        let cmd = Command::Upload { path: item.remote.clone(), size, md5: Some(md5), from: Some(0) };
        let line = match cmd.to_line() {
            Ok(line) => line,
            Err(e) => {
                notes.push(Note::Failed(item.remote.clone(), ClientError::Unsendable(e).to_string()));
                continue;
            }
        };
        wire.extend_from_slice(format!("{line}\r\n").as_bytes());
        wire.extend_from_slice(&data);
        let time = meta.as_ref().and_then(|m| m.modified().ok());
        let touch = time.and_then(|time| (Command::Touch { path: item.remote.clone(), time }).to_line().ok());
        if let Some(touch) = &touch {
            wire.extend_from_slice(format!("{touch}\r\n").as_bytes());
        }
        notes.push(Note::Sent(Box::new(Sent { item, size, md5, meta, touched: touch.is_some() })));
    }
    (wire, notes)
}
