//! Sending listings (`ls`, `find`, `peek`, `trash`, `shares`): the
//! `212 N` line and N lines through one bounded buffer, never the whole
//! reply in memory.
//!
//! `find` and `peek` are counted first (`storage::find::count`, refused
//! past `--max-list` before anything is sent), then walked again line by
//! line. Once `212 N` is out no other reply can be sent, so if the
//! second walk fails, or finds fewer than N lines (the tree shrank
//! between the walks), the connection is closed: a client never mistakes
//! a short listing for a whole one.

use std::fmt::Display;
use std::io::Write;

use crate::proto::body::FindLine;
use crate::proto::{Code, Reply};
use crate::server::handler::{Cx, Handled, Outcome};
use crate::storage::find::{count, each_line};
use crate::storage::tree::{Tree, UserPath};

/// `212 N` and the `find` lines of `path` in `tree`.
pub(crate) fn send_find(cx: &mut Cx, tree: &Tree, path: &UserPath) -> Handled {
    let n = count(tree, path, cx.shared.config.max_list)?;
    let sums = &cx.shared.sums;
    let mut out = cx.wire.writer();
    if out.write_all(head(n).as_bytes()).is_err() {
        return Ok(Outcome::Close);
    }
    let sent = each_line(tree, sums, path, n, |found| write!(out, "{}\r\n", FindLine::from(found)));
    let flushed = out.flush();
    match sent {
        Ok(sent) if sent == n && flushed.is_ok() => Ok(Outcome::Go),
        _ => Ok(Outcome::Close),
    }
}

/// `212 N` and the N `lines`.
pub(crate) fn send_lines<T: Display>(cx: &mut Cx, lines: impl ExactSizeIterator<Item = T>) -> Handled {
    let mut out = cx.wire.writer();
    let mut sent = out.write_all(head(lines.len()).as_bytes());
    for line in lines {
        sent = sent.and_then(|_| write!(out, "{line}\r\n"));
    }
    match sent.and_then(|_| out.flush()) {
        Ok(()) => Ok(Outcome::Go),
        Err(_) => Ok(Outcome::Close),
    }
}

fn head(n: usize) -> String {
    Reply::new(Code::Listing, n.to_string()).to_wire()
}
