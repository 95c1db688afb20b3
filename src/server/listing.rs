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
//!
//! The buffer is also sent whenever [`PACE`] has passed since it was last
//! sent: lines that were slow to make (a `find` hashing files that have no
//! recorded MD5, a walk on a busy disk) reach the client as they come,
//! instead of waiting for 64 KiB of them, so the client sees a listing
//! move rather than a silent connection.

use std::fmt::Display;
use std::io::{self, BufWriter, Write};
use std::time::{Duration, Instant};

use crate::proto::body::FindLine;
use crate::proto::{Code, Reply};
use crate::server::handler::{Cx, Handled, Outcome};
use crate::storage::find::{count, each_line};
use crate::storage::tree::{Tree, UserPath};

/// `212 N` and the `find` lines of `path` in `tree`.
pub(crate) fn send_find(cx: &mut Cx, tree: &Tree, path: &UserPath) -> Handled {
    let n = count(tree, path, cx.shared.config.max_list)?;
    let sums = &cx.shared.sums;
    let Ok(mut out) = Paced::start(cx.wire.writer(), n) else { return Ok(Outcome::Close) };
    let sent = each_line(tree, sums, path, n, |found| out.line(FindLine::from(found)));
    let flushed = out.flush();
    match sent {
        Ok(sent) if sent == n && flushed.is_ok() => Ok(Outcome::Go),
        _ => Ok(Outcome::Close),
    }
}

/// `212 N` and the N `lines`.
pub(crate) fn send_lines<T: Display>(cx: &mut Cx, lines: impl ExactSizeIterator<Item = T>) -> Handled {
    let Ok(mut out) = Paced::start(cx.wire.writer(), lines.len()) else { return Ok(Outcome::Close) };
    let mut sent = Ok(());
    for line in lines {
        sent = sent.and_then(|_| out.line(line));
    }
    match sent.and_then(|_| out.flush()) {
        Ok(()) => Ok(Outcome::Go),
        Err(_) => Ok(Outcome::Close),
    }
}

/// How long made lines may wait in the buffer.
const PACE: Duration = Duration::from_millis(500);

/// A listing's buffer, sent when full, at the end, and once [`PACE`] has
/// passed since it was last sent.
struct Paced<W: Write> {
    out: BufWriter<W>,
    sent: Instant,
}

impl<W: Write> Paced<W> {
    /// Writes the `212 N` head.
    fn start(mut out: BufWriter<W>, n: usize) -> io::Result<Paced<W>> {
        out.write_all(Reply::new(Code::Listing, n.to_string()).to_wire().as_bytes())?;
        Ok(Paced { out, sent: Instant::now() })
    }

    /// Writes `line` and its CRLF.
    fn line(&mut self, line: impl Display) -> io::Result<()> {
        write!(self.out, "{line}\r\n")?;
        if self.sent.elapsed() >= PACE {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.sent = Instant::now();
        self.out.flush()
    }
}
