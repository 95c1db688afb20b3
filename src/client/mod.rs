//! A blocking client library: the example client and the tests use it.
//!
//! [`Client`] speaks the protocol through [`crate::proto`], reading every
//! reply through the typed bodies of [`crate::proto::body`]. It owns:
//!
//! - `conn`: the connection, request/reply framing, pipelined requests, and
//!   reconnecting (and logging in again, and returning to its directory)
//!   when the server has closed the connection;
//! - `transfer`: verified, resumable transfers of one file (`claim` first
//!   for large files);
//! - `batch`: folders, globs, `mirror`, and many small files pipelined on
//!   one connection, with one report for the whole batch (`window`: the
//!   small uploads written a group ahead of their replies);
//! - `share`: sharing by code (`share`, `shares`, `unshare`, `peek`, `save`);
//! - `glob`: the `*`, `?`, `[...]` matcher; `cache`: the local digest cache.
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

mod ahead;
mod batch;
mod cache;
mod conn;
pub mod glob;
mod item;
mod mirror;
mod ops;
mod report;
mod share;
mod transfer;
mod tree;
mod window;

use std::fmt;
use std::fs::{File, Metadata};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::digest::{Digest, Hasher, hash_range};
use crate::proto::body::{FindLine, ListLine, Quota, QuotedPath, StatLine, TrashLine};
use crate::proto::{Code, Command, EncodeError, Password, Purge, Reply};

pub use cache::DigestCache;
use conn::Conn;
pub use mirror::Options;
pub use report::{Event, OnEvent, Report};
pub use share::is_code as is_share_code;
use transfer::parse_body;
pub use transfer::{AHEAD_FROM, CLAIM_FROM, download_target};
pub use tree::carry;

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
    /// The server already held the content (`claim`): nothing was sent.
    pub instant: bool,
}

/// The progress callback: return `false` to stop the transfer.
pub type OnProgress<'a> = &'a mut dyn FnMut(&Progress) -> bool;

/// A connection to a netdisk server.
pub struct Client {
    addr: String,
    conn: Option<Conn>,
    login: Option<(String, Password)>,
    cwd: String,
    cache: Option<DigestCache>,
}
impl Client {
    /// Connects and reads the greeting.
    pub fn connect(addr: &str) -> Result<Client> {
        let mut c = Client { addr: addr.to_string(), conn: None, login: None, cwd: "/".into(), cache: None };
        c.open()?;
        Ok(c)
    }

    /// Uses `cache` for the digests of local files (see [`DigestCache`]);
    /// without one, every upload that needs a digest reads the file.
    pub fn set_cache(&mut self, cache: Option<DigestCache>) {
        self.cache = cache;
    }

    /// Writes the digest cache to disk, if it changed.
    pub fn save_cache(&mut self) -> io::Result<()> {
        self.cache.as_mut().map_or(Ok(()), DigestCache::save)
    }

    /// The MD5 of a local file, from the cache when the file is unchanged.
    pub(crate) fn local_digest(&mut self, path: &Path, meta: &Metadata) -> Result<Digest> {
        let read = |path: &Path| -> io::Result<Digest> {
            let mut hasher = Hasher::new();
            hash_range(&File::open(path)?, 0, meta.len(), &mut hasher)?;
            Ok(hasher.peek())
        };
        let got = match self.cache.as_mut() {
            Some(cache) => cache.digest(path, meta, read),
            None => read(path),
        };
        got.map_err(|e| ClientError::Local(path.to_path_buf(), e))
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

    /// `passwd`: changes the password, and the one used to reconnect.
    pub fn passwd(&mut self, old: &str, new: &str) -> Result<Reply> {
        let reply = self.expect(&Command::Passwd { old: Password::new(old), new: Password::new(new) })?;
        if let Some((_, pass)) = self.login.as_mut() {
            *pass = Password::new(new);
        }
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
        self.cwd = parse_body::<QuotedPath>(&reply)?.0;
        Ok(reply)
    }

    /// `ls`: the entries of a directory (or the one file).
    pub fn ls(&mut self, path: Option<&str>) -> Result<Vec<ListLine>> {
        let reply = self.expect(&Command::Ls { path: path.map(str::to_string) })?;
        lines_of(&reply)
    }

    /// `stat`: type, size, time, MD5 and name of a remote path.
    pub fn stat(&mut self, path: &str) -> Result<StatLine> {
        parse_body(&self.expect(&Command::Stat { path: path.into() })?)
    }

    /// `quota`: bytes used and allowed, and (from a 2.1 server) files and
    /// directories held and allowed.
    pub fn quota(&mut self) -> Result<Quota> {
        parse_body(&self.expect(&Command::Quota)?)
    }

    /// Whether `path` is an existing remote directory.
    pub fn is_remote_dir(&mut self, path: &str) -> Result<bool> {
        match self.stat(path) {
            Ok(st) => Ok(st.kind == crate::proto::body::Kind::Dir),
            Err(ClientError::Refused(r)) if r.code == Code::Unavailable => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `makedir`: the absolute path of the new directory.
    pub fn makedir(&mut self, path: &str) -> Result<String> {
        Ok(parse_body::<QuotedPath>(&self.expect(&Command::Makedir { path: path.into() })?)?.0)
    }

    /// `find`: every file and directory below `path`, depth first.
    pub fn find(&mut self, path: Option<&str>) -> Result<Vec<FindLine>> {
        let reply = self.expect(&Command::Find { path: path.map(str::to_string) })?;
        lines_of(&reply)
    }

    /// `trash`: the removed entries, newest first.
    pub fn trash(&mut self) -> Result<Vec<TrashLine>> {
        lines_of(&self.expect(&Command::Trash)?)
    }

    /// `restore ID [PATH]`: where the entry is now.
    pub fn restore(&mut self, id: &str, path: Option<&str>) -> Result<String> {
        let cmd = Command::Restore { id: id.into(), path: path.map(str::to_string) };
        Ok(parse_body::<QuotedPath>(&self.expect(&cmd)?)?.0)
    }

    /// `purge ID` or `purge all`.
    pub fn purge(&mut self, id: &str) -> Result<Reply> {
        let target = if id == "all" { Purge::All } else { Purge::Id(id.into()) };
        self.expect(&Command::Purge { target })
    }

    /// `cp FROM TO`.
    pub fn cp(&mut self, from: &str, to: &str) -> Result<Reply> {
        self.expect(&Command::Cp { from: from.into(), to: to.into() })
    }
}

/// The lines of a listing, each parsed as `T`.
fn lines_of<T: std::str::FromStr>(reply: &Reply) -> Result<Vec<T>> {
    reply.lines.iter().map(|l| l.parse().map_err(|_| ClientError::Protocol(l.clone()))).collect()
}
