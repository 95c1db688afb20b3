//! The one place where failures become replies.
//!
//! Every handler returns [`Error`]; each variant documents the reply code it
//! causes. `io::Error`s are mapped by kind in [`Error::io`], so a full disk
//! is `452` wherever it happens and an unexpected failure is always `451`.
//! The cause of a `451` (the `io::Error` text) is for the log, via
//! [`Error::outcome`]; the client only hears what failed.

use std::fmt;
use std::io;

use crate::proto::{Code, Reply};

#[derive(Debug)]
pub enum Error {
    /// `550`: the path does not exist (or is not something we serve).
    NotFound(String),
    /// `550`: the path exists already.
    Exists(String),
    /// `550`: refused for the kind of thing it is (a directory, not empty, `/`).
    Refused(String),
    /// `553`: the name is not allowed.
    BadName(String),
    /// `501`: bad arguments.
    BadArgs(String),
    /// `530`: not logged in, or login failed.
    NotLoggedIn(String),
    /// `450`: another session is uploading the target.
    Busy(String),
    /// `552`: quota or file-size limit.
    Quota(String),
    /// `452`: the disk is full.
    DiskFull(String),
    /// `554`: the received bytes do not have the announced MD5.
    Mismatch(String),
    /// `451`: any other failure on the server, with a text for the client.
    Local(String),
    /// `451`: an unexpected I/O failure about `what`; `cause` is logged,
    /// never sent.
    Failed { what: String, cause: String },
}

impl Error {
    /// Maps an I/O error about `what` (a user path or a name) to a reply.
    /// An I/O failure in the server's own files (not a user path): always
    /// `451`, whatever its kind, with the cause kept for the log.
    pub fn internal(what: &str, err: io::Error) -> Error {
        match err.kind() {
            io::ErrorKind::StorageFull => Error::DiskFull(format!("{what}: server disk full")),
            _ => Error::Failed { what: what.to_string(), cause: err.to_string() },
        }
    }

    pub fn io(what: &str, err: io::Error) -> Error {
        use io::ErrorKind::*;
        match err.kind() {
            NotFound => Error::NotFound(format!("{what}: not found")),
            AlreadyExists => Error::Exists(format!("{what}: exists already")),
            DirectoryNotEmpty => Error::Refused(format!("{what}: directory not empty")),
            NotADirectory => Error::Refused(format!("{what}: not a directory")),
            IsADirectory => Error::Refused(format!("{what}: is a directory")),
            InvalidFilename => Error::BadName(format!("{what}: name not allowed")),
            StorageFull => Error::DiskFull(format!("{what}: server disk full")),
            QuotaExceeded | FileTooLarge => Error::Quota(format!("{what}: storage limit")),
            _ => Error::Failed { what: what.to_string(), cause: err.to_string() },
        }
    }

    /// What an unexpected failure was about, if this is one.
    pub(crate) fn unexpected(&self) -> Option<&str> {
        match self {
            Error::Failed { what, .. } => Some(what),
            _ => None,
        }
    }

    pub fn code(&self) -> Code {
        match self {
            Error::NotFound(_) | Error::Exists(_) | Error::Refused(_) => Code::Unavailable,
            Error::BadName(_) => Code::BadName,
            Error::BadArgs(_) => Code::BadArgs,
            Error::NotLoggedIn(_) => Code::NotLoggedIn,
            Error::Busy(_) => Code::Busy,
            Error::Quota(_) => Code::Quota,
            Error::DiskFull(_) => Code::StorageFull,
            Error::Mismatch(_) => Code::Mismatch,
            Error::Local(_) | Error::Failed { .. } => Code::LocalError,
        }
    }

    pub fn reply(&self) -> Reply {
        Reply::new(self.code(), self.to_string())
    }

    /// The `outcome` of the event's log line: the code, and for an
    /// unexpected failure its cause, e.g. `451 cause="Input/output error"`.
    pub fn outcome(&self) -> String {
        match self {
            Error::Failed { cause, .. } => format!("{} cause={cause:?}", self.code().number()),
            _ => self.code().number().to_string(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Error::Failed { what, .. } => return write!(f, "{what}: server error"),
            Error::NotFound(t)
            | Error::Exists(t)
            | Error::Refused(t)
            | Error::BadName(t)
            | Error::BadArgs(t)
            | Error::NotLoggedIn(t)
            | Error::Busy(t)
            | Error::Quota(t)
            | Error::DiskFull(t)
            | Error::Mismatch(t)
            | Error::Local(t) => t,
        };
        f.write_str(text)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
