//! A blocking client library: the example client and the tests use it.
//!
//! [`Client`] speaks the protocol through [`crate::proto`], reconnects (and
//! logs in again, and returns to its directory) when the server has closed
//! the connection, and does verified, resumable transfers:
//!
//! - uploads hash while sending (digest after the payload); a resume is
//!   checked against the server's `PREFIX_MD5` and restarted with `FROM 0`
//!   when the local file's start differs;
//! - downloads go to `NAME.part` beside the target, with `NAME.part.info`
//!   recording the remote size and MD5; a later download of the same,
//!   unchanged file continues from the partial file, and the target is only
//!   replaced once the whole file's MD5 matches.
//!
//! # Examples
//!
//! ```no_run
//! use netdisk::client::Client;
//! use std::path::Path;
//!
//! let mut c = Client::connect("127.0.0.1:9021")?;
//! c.login("alice", "s3cret")?;
//! let sent = c.upload(Path::new("notes.txt"), "notes.txt", &mut |_| true)?;
//! println!("stored {} bytes, md5 {}", sent.size, sent.md5);
//! # Ok::<(), netdisk::client::ClientError>(())
//! ```

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::digest::{Digest, Hasher, hash_range};
use crate::hashing::{FileHash, Hashing};
use crate::proto::{Code, Command, EncodeError, Password, Reply, check_field, parse_status};
use crate::storage::staging::fill;

const CHUNK: usize = 256 * 1024;
/// Longest reply line accepted (a listing line holds a 255-byte name).
const MAX_REPLY_LINE: u64 = 64 * 1024;
/// How often, and how far apart, an upload refused with `450` is retried.
const BUSY_RETRIES: usize = 10;
const BUSY_PAUSE: Duration = Duration::from_millis(500);
/// Bytes sent per `sendfile` call during an upload (progress is reported
/// between calls).
const SEND_STEP: u64 = 1 << 20;

/// What went wrong, in words a user can act on.
#[derive(Debug)]
pub enum ClientError {
    /// The connection failed or broke.
    Io(io::Error),
    /// The server refused the request.
    Refused(Reply),
    /// The server said something this client does not understand.
    Protocol(String),
    /// A local file could not be read or written.
    Local(PathBuf, io::Error),
    /// The bytes received do not have the MD5 the server announced.
    Verify(String),
    /// The transfer was stopped by the caller; what arrived is kept.
    Interrupted(u64),
    /// The request cannot be sent: a field holds a control character
    /// (nothing was sent).
    Unsendable(EncodeError),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Io(e) => write!(f, "connection problem: {e}"),
            ClientError::Refused(r) => write!(f, "{} [{}]", r.text, r.code.number()),
            ClientError::Protocol(t) => write!(f, "unexpected reply from the server: {t}"),
            ClientError::Local(p, e) => write!(f, "{}: {e}", p.display()),
            ClientError::Verify(t) => write!(f, "NOT verified: {t}"),
            ClientError::Interrupted(n) => write!(f, "interrupted after {n} bytes; repeat the command to resume"),
            ClientError::Unsendable(e) => write!(f, "not sent: {e}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<io::Error> for ClientError {
    fn from(e: io::Error) -> ClientError {
        ClientError::Io(e)
    }
}

pub type Result<T> = std::result::Result<T, ClientError>;

/// Where a transfer stands; passed to the progress callback.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Bytes of the file in place (including resumed ones).
    pub done: u64,
    /// Size of the file.
    pub total: u64,
    /// Where this attempt started (bytes already there before it).
    pub resumed_at: u64,
    /// Time since this attempt started.
    pub elapsed: Duration,
}

/// The outcome of a verified transfer.
#[derive(Clone, Debug)]
pub struct Transferred {
    pub size: u64,
    pub md5: Digest,
    /// Bytes that were already in place and not sent again.
    pub resumed_at: u64,
    /// Bytes moved in this attempt.
    pub moved: u64,
    pub elapsed: Duration,
}

/// The progress callback: return `false` to stop the transfer.
pub type OnProgress<'a> = &'a mut dyn FnMut(&Progress) -> bool;

struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    /// Whether the server has spoken or hung up while we were not asking
    /// (an idle timeout's `421`, or a close): then the connection is over.
    fn is_stale(&mut self) -> bool {
        if !self.reader.buffer().is_empty() {
            return true;
        }
        let stream = self.reader.get_ref();
        if stream.set_nonblocking(true).is_err() {
            return true;
        }
        let mut probe = [0u8; 1];
        let stale = !matches!(stream.peek(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
        stale | stream.set_nonblocking(false).is_err()
    }
}

/// A connection to a netdisk server.
pub struct Client {
    addr: String,
    conn: Option<Conn>,
    login: Option<(String, Password)>,
    cwd: String,
}

impl Client {
    /// Connects and reads the greeting.
    pub fn connect(addr: &str) -> Result<Client> {
        let mut c = Client { addr: addr.to_string(), conn: None, login: None, cwd: "/".into() };
        c.open()?;
        Ok(c)
    }

    fn open(&mut self) -> Result<()> {
        let stream = TcpStream::connect(&self.addr)?;
        let _ = stream.set_nodelay(true);
        let writer = stream.try_clone()?;
        self.conn = Some(Conn { reader: BufReader::with_capacity(CHUNK, stream), writer });
        let greeting = self.read_reply()?;
        if greeting.code != Code::Ready {
            self.conn = None;
            return Err(ClientError::Refused(greeting));
        }
        Ok(())
    }

    /// Reconnects after the server closed the connection, logging in again
    /// and returning to the working directory.
    fn ensure_open(&mut self) -> Result<()> {
        if self.conn.as_mut().is_some_and(Conn::is_stale) {
            self.conn = None;
        }
        if self.conn.is_some() {
            return Ok(());
        }
        self.open()?;
        if let Some((user, pass)) = self.login.clone() {
            self.expect(&Command::Login { user, pass })?;
            let cwd = self.cwd.clone();
            if cwd != "/" {
                self.expect(&Command::Cd { path: cwd })?;
            }
        }
        Ok(())
    }

    fn conn(&mut self) -> Result<&mut Conn> {
        self.conn.as_mut().ok_or_else(|| ClientError::Io(io::ErrorKind::NotConnected.into()))
    }

    /// Sends one raw line (a `\r\n` is added); a line holding a control
    /// character other than tab is refused, never sent as two.
    pub fn send_line(&mut self, line: &str) -> Result<()> {
        check_field("line", line).map_err(ClientError::Unsendable)?;
        let conn = self.conn()?;
        let result = conn.writer.write_all(format!("{line}\r\n").as_bytes());
        self.check(result)
    }

    fn check<T>(&mut self, result: io::Result<T>) -> Result<T> {
        result.map_err(|e| {
            self.conn = None;
            ClientError::Io(e)
        })
    }

    /// Reads one reply, with the lines a `212`/`214` announces.
    pub fn read_reply(&mut self) -> Result<Reply> {
        let first = self.read_text_line()?;
        let (number, text) = parse_status(&first).ok_or_else(|| ClientError::Protocol(first.clone()))?;
        let code = Code::from_number(number).ok_or_else(|| ClientError::Protocol(first.clone()))?;
        let mut reply = Reply::new(code, text);
        if matches!(code, Code::Listing | Code::Help) {
            let n: usize = reply.words()[0].parse().map_err(|_| ClientError::Protocol(first.clone()))?;
            for _ in 0..n {
                let line = self.read_text_line()?;
                reply.lines.push(line);
            }
        }
        if code == Code::Closing || code == Code::Bye {
            self.conn = None;
        }
        Ok(reply)
    }

    fn read_text_line(&mut self) -> Result<String> {
        let mut line = String::new();
        let conn = self.conn()?;
        // A reply line is short; a server that sends an endless one is cut off.
        let read = (&mut conn.reader).take(MAX_REPLY_LINE).read_line(&mut line);
        match self.check(read)? {
            0 => self.check(Err(io::ErrorKind::UnexpectedEof.into())),
            _ if !line.ends_with('\n') => {
                self.conn = None;
                Err(ClientError::Protocol("reply line too long or cut off".into()))
            }
            _ => Ok(line.trim_end_matches(['\r', '\n']).to_string()),
        }
    }

    /// Sends a command and returns the server's reply, whatever its code.
    pub fn request(&mut self, cmd: &Command) -> Result<Reply> {
        let line = cmd.to_line().map_err(ClientError::Unsendable)?;
        self.ensure_open()?;
        self.send_line(&line)?;
        self.read_reply()
    }

    /// Sends a command; a 4xx/5xx reply becomes [`ClientError::Refused`].
    pub fn expect(&mut self, cmd: &Command) -> Result<Reply> {
        let reply = self.request(cmd)?;
        if reply.is_ok() { Ok(reply) } else { Err(ClientError::Refused(reply)) }
    }

    pub fn register(&mut self, user: &str, pass: &str) -> Result<Reply> {
        self.expect(&Command::Register { user: user.into(), pass: Password::new(pass) })
    }

    /// Logs in and remembers the credentials for reconnecting.
    pub fn login(&mut self, user: &str, pass: &str) -> Result<Reply> {
        let reply = self.expect(&Command::Login { user: user.into(), pass: Password::new(pass) })?;
        self.login = Some((user.into(), Password::new(pass)));
        self.cwd = "/".into();
        Ok(reply)
    }

    /// The user logged in, if any.
    pub fn user(&self) -> Option<&str> {
        self.login.as_ref().map(|(u, _)| u.as_str())
    }

    /// The remote working directory, as last reported by the server.
    pub fn cwd(&self) -> &str {
        &self.cwd
    }

    pub fn cd(&mut self, path: &str) -> Result<Reply> {
        let reply = self.expect(&Command::Cd { path: path.into() })?;
        self.cwd = unquote(&reply.text);
        Ok(reply)
    }

    /// `ls`: the entries as `(TYPE, SIZE, MTIME, NAME)`.
    pub fn ls(&mut self, path: Option<&str>) -> Result<Vec<(char, u64, String, String)>> {
        let reply = self.expect(&Command::Ls { path: path.map(str::to_string) })?;
        reply.lines.iter().map(|l| parse_entry(l).ok_or_else(|| ClientError::Protocol(l.clone()))).collect()
    }

    /// `stat`: `(TYPE, SIZE, MTIME, MD5, NAME)`.
    pub fn stat(&mut self, path: &str) -> Result<(char, u64, String, String, String)> {
        let reply = self.expect(&Command::Stat { path: path.into() })?;
        let bad = || ClientError::Protocol(reply.text.clone());
        let mut parts = reply.text.splitn(5, ' ');
        let mut next = || parts.next().map(str::to_string).ok_or_else(bad);
        let (t, size, mtime, md5, name) = (next()?, next()?, next()?, next()?, next()?);
        Ok((t.chars().next().unwrap_or('?'), size.parse().map_err(|_| bad())?, mtime, md5, name))
    }

    /// Uploads `local` to `remote`, resuming an interrupted upload of the
    /// same file, hashing while sending, verified by the server.
    pub fn upload(&mut self, local: &Path, remote: &str, progress: OnProgress) -> Result<Transferred> {
        let local_err = |e| ClientError::Local(local.to_path_buf(), e);
        let mut file = File::open(local).map_err(local_err)?;
        let meta = file.metadata().map_err(local_err)?;
        if !meta.is_file() {
            return Err(local_err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file")));
        }
        let size = meta.len();
        let (offset, hasher) = match self.start_upload(&mut file, local, remote, size, None)? {
            Some(ok) => ok,
            None => {
                self.conn = None;
                self.start_upload(&mut file, local, remote, size, Some(0))?.ok_or_else(|| {
                    ClientError::Protocol("server kept offering a different prefix after FROM 0".into())
                })?
            }
        };
        self.send_payload(&mut file, local, size, offset, hasher, progress)
    }

    /// Sends the header; returns the offset and the hash of the local prefix
    /// when it matches the server's, `None` when it does not.
    fn start_upload(
        &mut self,
        file: &mut File,
        local: &Path,
        remote: &str,
        size: u64,
        from: Option<u64>,
    ) -> Result<Option<(u64, Hasher)>> {
        let cmd = Command::Upload { path: remote.into(), size, md5: None, from };
        let mut reply = self.request(&cmd)?;
        // Busy: most often our own interrupted upload, whose session the
        // server has not noticed is gone yet. Give it a moment.
        for _ in 0..BUSY_RETRIES {
            if reply.code != Code::Busy {
                break;
            }
            self.conn = None;
            std::thread::sleep(BUSY_PAUSE);
            reply = self.request(&cmd)?;
        }
        if reply.code != Code::Payload {
            // The server closes the connection after refusing an upload.
            self.conn = None;
            return Err(ClientError::Refused(reply));
        }
        let offered = parse_offer(&reply, size).and_then(|(offset, prefix)| {
            let hasher = hash_from(file, offset).map_err(|e| ClientError::Local(local.to_path_buf(), e))?;
            Ok((hasher.peek() == prefix).then_some((offset, hasher)))
        });
        if offered.is_err() {
            // The server waits for a payload we will not send.
            self.conn = None;
        }
        offered
    }

    fn send_payload(
        &mut self,
        file: &mut File,
        local: &Path,
        size: u64,
        offset: u64,
        hasher: Hasher,
        progress: OnProgress,
    ) -> Result<Transferred> {
        let started = Instant::now();
        let local_err = |e| ClientError::Local(local.to_path_buf(), e);
        // Hash on one thread while the kernel sends the same bytes.
        let hashing = FileHash::start(file, offset, size - offset, hasher);
        let mut done = offset;
        while done < size {
            let step = SEND_STEP.min(size - done);
            let conn = self.conn()?;
            let sent = io::copy(&mut (&mut *file).take(step), &mut conn.writer);
            let n = self.check(sent)?;
            if n < step {
                self.conn = None;
                return Err(local_err(io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank while sending")));
            }
            done += n;
            let p = Progress { done, total: size, resumed_at: offset, elapsed: started.elapsed() };
            if !progress(&p) {
                self.conn = None;
                return Err(ClientError::Interrupted(done));
            }
        }
        let md5 = hashing.finish().map_err(local_err)?.peek();
        self.send_line(&md5.to_string())?;
        let reply = self.read_reply()?;
        if reply.code != Code::TransferDone {
            return Err(ClientError::Refused(reply));
        }
        Ok(Transferred { size, md5, resumed_at: offset, moved: size - offset, elapsed: started.elapsed() })
    }

    /// Downloads `remote` to `local` (a directory means: inside it, under
    /// the remote name), resuming from `NAME.part` when the remote file is
    /// unchanged, and replacing `local` only once the MD5 matches.
    pub fn download(&mut self, remote: &str, local: &Path, progress: OnProgress) -> Result<Transferred> {
        let target = download_target(remote, local);
        let part = sidecar(&target, "part");
        let info = sidecar(&target, "part.info");
        let (kind, size, _, md5, _) = self.stat(remote)?;
        if kind != 'f' {
            let refusal = Reply::new(Code::Unavailable, format!("{remote}: is a directory"));
            return Err(ClientError::Refused(refusal));
        }
        let want = format!("{size} {md5} {remote}\n");
        let have = fs::read_to_string(&info).ok();
        let held = fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
        let offset = if have.as_deref() == Some(&want) && held <= size { held } else { 0 };
        let local_err = |p: &Path, e| ClientError::Local(p.to_path_buf(), e);
        fs::write(&info, &want).map_err(|e| local_err(&info, e))?;
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&part)
            .map_err(|e| local_err(&part, e))?;
        file.set_len(offset).map_err(|e| local_err(&part, e))?;
        let hasher = hash_from(&mut file, offset).map_err(|e| local_err(&part, e))?;
        let partial = Partial { file: &mut file, path: &part, offset, hasher };
        let received = self.receive(remote, partial, progress);
        if matches!(received, Err(ClientError::Refused(_))) && offset == 0 {
            // Nothing arrived: leave no partial file behind.
            let _ = fs::remove_file(&part);
            let _ = fs::remove_file(&info);
        }
        let (got, announced) = received?;
        if got.md5 != announced {
            let _ = fs::remove_file(&part);
            let _ = fs::remove_file(&info);
            return Err(ClientError::Verify(format!(
                "received {}, server says {announced}; partial file removed",
                got.md5
            )));
        }
        fs::rename(&part, &target).map_err(|e| local_err(&target, e))?;
        let _ = fs::remove_file(&info);
        Ok(got)
    }

    fn receive(&mut self, remote: &str, partial: Partial, progress: OnProgress) -> Result<(Transferred, Digest)> {
        let offset = partial.offset;
        let reply = self.request(&Command::Download { path: remote.into(), offset })?;
        if reply.code != Code::Payload {
            return Err(ClientError::Refused(reply));
        }
        let received = self.take_payload(&reply, partial, progress);
        if received.is_err() {
            // Whatever went wrong, the rest of the payload is unread.
            self.conn = None;
        }
        received
    }

    fn take_payload(&mut self, reply: &Reply, partial: Partial, progress: OnProgress) -> Result<(Transferred, Digest)> {
        let Partial { file, path: part, offset, hasher } = partial;
        let words = reply.words();
        let size = words.first().and_then(|w| w.parse::<u64>().ok()).filter(|s| *s >= offset);
        let md5 = words.get(1).and_then(|w| Digest::from_hex(w));
        let (size, md5) = size.zip(md5).ok_or_else(|| ClientError::Protocol(reply.text.clone()))?;
        let started = Instant::now();
        let mut hashing = Hashing::new(hasher, offset, size - offset);
        let mut done = offset;
        while done < size {
            let mut buf = hashing.buffer();
            let want = buf.len().min((size - done) as usize);
            let conn = self.conn()?;
            let (n, err) = fill(&mut conn.reader, &mut buf[..want]);
            if n > 0 {
                file.write_all(&buf[..n]).map_err(|e| ClientError::Local(part.to_path_buf(), e))?;
                hashing.push(buf, n);
                done += n as u64;
            }
            let p = Progress { done, total: size, resumed_at: offset, elapsed: started.elapsed() };
            if err.is_some() || !progress(&p) {
                self.conn = None;
                return Err(ClientError::Interrupted(done));
            }
        }
        let end = self.read_reply()?;
        if end.code != Code::TransferDone {
            return Err(ClientError::Refused(end));
        }
        let got = Transferred {
            size,
            md5: hashing.finish().peek(),
            resumed_at: offset,
            moved: size - offset,
            elapsed: started.elapsed(),
        };
        Ok((got, md5))
    }

    /// Says goodbye and closes.
    pub fn quit(&mut self) -> Result<()> {
        if self.conn.is_some() {
            self.send_line("quit")?;
            let _ = self.read_reply();
        }
        self.conn = None;
        Ok(())
    }
}

/// `OFFSET` and `PREFIX_MD5` of a `150` reply to an upload of `size` bytes.
fn parse_offer(reply: &Reply, size: u64) -> Result<(u64, Digest)> {
    let words = reply.words();
    let offset = words.first().and_then(|w| w.parse().ok()).filter(|o| *o <= size);
    let prefix = words.get(1).and_then(|w| Digest::from_hex(w));
    offset.zip(prefix).ok_or_else(|| ClientError::Protocol(reply.text.clone()))
}

/// A partial download: the file, where it is, how much it holds, and the
/// hash of that much.
struct Partial<'a> {
    file: &'a mut File,
    path: &'a Path,
    offset: u64,
    hasher: Hasher,
}

/// The hash of the first `len` bytes of `file`, leaving it positioned at
/// `len`.
fn hash_from(file: &mut File, len: u64) -> io::Result<Hasher> {
    let mut hasher = Hasher::new();
    hash_range(file, 0, len, &mut hasher)?;
    file.seek(SeekFrom::Start(len))?;
    Ok(hasher)
}

/// Where a download of `remote` to `local` lands.
pub fn download_target(remote: &str, local: &Path) -> PathBuf {
    if local.is_dir() {
        let name = remote.trim_end_matches('/').rsplit('/').next().unwrap_or(remote);
        local.join(name)
    } else {
        local.to_path_buf()
    }
}

/// `NAME.ext` beside `target`.
fn sidecar(target: &Path, ext: &str) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{ext}"));
    target.with_file_name(name)
}

/// The text of a `257`/`250` path reply, unquoted.
pub fn unquote(text: &str) -> String {
    let inner = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(text);
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        out.push(if c == '\\' { chars.next().unwrap_or('\\') } else { c });
    }
    out
}

/// One `ls` line: `TYPE SIZE MTIME NAME` (the name may hold spaces).
pub fn parse_entry(line: &str) -> Option<(char, u64, String, String)> {
    let mut parts = line.splitn(4, ' ');
    let t = parts.next()?.chars().next()?;
    let size = parts.next()?.parse().ok()?;
    let mtime = parts.next()?.to_string();
    Some((t, size, mtime, parts.next()?.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquotes_paths() {
        assert_eq!(unquote("\"/a \\\"b\\\"/c\\\\d\""), "/a \"b\"/c\\d");
        assert_eq!(parse_entry("f 6 2026-11-24T12:00:00Z my file.txt").unwrap().3, "my file.txt");
        assert_eq!(sidecar(Path::new("/x/a.txt"), "part"), Path::new("/x/a.txt.part"));
    }
}
