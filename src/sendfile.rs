//! Sending a file's bytes to a socket with the kernel's `sendfile(2)`,
//! for both sides: the server's downloads (dropping a large file from the
//! page cache behind them) and the client's uploads.
//!
//! std's `io::copy` from a file to a socket reads and writes (it keeps
//! `sendfile` for sources whose later changes cannot show, like pipes), so
//! each byte is copied twice; `sendfile` copies it once at most. A file
//! that changes while it is sent is caught as before: every transfer is
//! verified by its MD5. Never allocates; never panics.

use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::net::TcpStream;

use crate::behind::Behind;
use crate::sys;

/// Sends up to `len` bytes of `file`, from its position, to `socket`;
/// returns how many went (fewer at the end of the file) and the error that
/// stopped it, if one did.
pub(crate) fn send_file(file: &mut File, socket: &TcpStream, len: u64) -> (u64, Option<io::Error>) {
    let mut sent = 0;
    while sent < len {
        let want = usize::try_from(len - sent).unwrap_or(usize::MAX);
        match sys::send_file(socket, &*file, want) {
            Ok(0) => break,
            Ok(n) => sent += n as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // "Not for this file" (the same numbers on every target): copy.
            Err(e) if sent == 0 && matches!(e.raw_os_error(), Some(sys::EINVAL | sys::ENOSYS)) => {
                return copy(file, socket, len);
            }
            Err(e) => return (sent, Some(e)),
        }
    }
    (sent, None)
}

/// Files from this size on are dropped from the page cache behind the
/// send (see `crate::behind`): a file this large is seldom read again
/// soon, and reading it from the disk into recycled pages is faster than
/// into fresh ones.
const DROP_FROM: u64 = 64 << 20;
/// Bytes per `sendfile` call of a large file, between drops.
const STEP: u64 = 8 << 20;

/// [`send_file`], dropping what was sent of a large file from the page
/// cache as it goes.
pub(crate) fn send_file_behind(file: &mut File, socket: &TcpStream, len: u64) -> (u64, Option<io::Error>) {
    let at = if len < DROP_FROM { None } else { file.stream_position().ok() };
    let Some(mut at) = at else { return send_file(file, socket, len) };
    let mut behind = Behind::new(at);
    let mut sent = 0;
    while sent < len {
        let step = STEP.min(len - sent);
        let (n, err) = send_file(file, socket, step);
        sent += n;
        at += n;
        behind.wrote(file, at);
        if err.is_some() || n < step {
            return (sent, err);
        }
    }
    (sent, None)
}

/// The same through a buffer, for files `sendfile` refuses.
fn copy(file: &mut File, mut socket: &TcpStream, len: u64) -> (u64, Option<io::Error>) {
    let mut buf = [0u8; 64 * 1024];
    let mut sent = 0;
    while sent < len {
        let want = buf.len().min(usize::try_from(len - sent).unwrap_or(usize::MAX));
        let n = match file.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return (sent, Some(e)),
        };
        if let Err(e) = socket.write_all(&buf[..n]) {
            return (sent, Some(e));
        }
        sent += n as u64;
    }
    (sent, None)
}
