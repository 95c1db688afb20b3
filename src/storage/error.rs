//! The engine's one error type.
//!
//! An [`Error`] has an [`ErrorKind`], which says what went wrong in the
//! terms a client understands; a context, the user path or user it is
//! about; and, for an I/O failure, the `io::Error` itself as its
//! [`source`](std::error::Error::source). [`kind_of_io`] maps
//! `io::ErrorKind`s to kinds, so a full disk is [`ErrorKind::DiskFull`]
//! wherever it happens and an unexpected failure is always
//! [`ErrorKind::Server`]. A client hears the short text
//! ([`Display`](fmt::Display)); the cause is for the log ([`Error::detail`],
//! [`Error::unexpected`]).
//!
//! Each face maps kinds to its own codes, in one place: the text protocol
//! in `server::error` (the codes named below), HTTP in its own module.
//! This module knows no face and no wire format.

use std::fmt;
use std::io;

/// What went wrong, as far as a client is concerned (the text protocol's
/// code in front of each).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// `550`: the path does not exist (or is not something we serve).
    NotFound,
    /// `550`: the path exists already.
    Exists,
    /// `550`: refused for the kind of thing it is (a directory, not empty, `/`).
    Refused,
    /// `553`: the name is not allowed.
    BadName,
    /// `501`: bad arguments.
    BadArgs,
    /// `530`: not logged in, or login failed.
    NotLoggedIn,
    /// `450`: another session is uploading the target.
    Busy,
    /// `552`: quota or file-size limit.
    Quota,
    /// `452`: the disk is full.
    DiskFull,
    /// `554`: the received bytes do not have the announced MD5.
    Mismatch,
    /// `451`: any other failure on the server.
    Server,
}

/// The kind of an I/O failure and the short text the client hears about
/// it: the one mapping from `io::ErrorKind` to kinds.
pub fn kind_of_io(kind: io::ErrorKind) -> (ErrorKind, &'static str) {
    use io::ErrorKind as Io;
    match kind {
        Io::NotFound => (ErrorKind::NotFound, "not found"),
        Io::AlreadyExists => (ErrorKind::Exists, "exists already"),
        Io::DirectoryNotEmpty => (ErrorKind::Refused, "directory not empty"),
        Io::NotADirectory => (ErrorKind::Refused, "not a directory"),
        Io::IsADirectory => (ErrorKind::Refused, "is a directory"),
        Io::InvalidFilename => (ErrorKind::BadName, "name not allowed"),
        // EDQUOT is the file-system quota of the server's own account: its
        // disk, not the user's quota.
        Io::StorageFull | Io::QuotaExceeded => (ErrorKind::DiskFull, "server disk full"),
        Io::FileTooLarge => (ErrorKind::Quota, "storage limit"),
        _ => (ErrorKind::Server, "server error"),
    }
}

/// A failure of a request: its kind, what it is about, and the I/O error
/// behind it, if any.
#[derive(Debug)]
pub struct Error {
    pub(crate) kind: ErrorKind,
    /// A user path or user; the whole text when there is no source.
    context: String,
    source: Option<io::Error>,
}

impl Error {
    /// A refusal whose text says it all (`"{path}: a file is in the way"`).
    pub fn new(kind: ErrorKind, text: impl Into<String>) -> Error {
        Error { kind, context: text.into(), source: None }
    }

    /// An I/O failure about `what` (a user path or a name), by its kind.
    pub fn io(what: &str, err: io::Error) -> Error {
        Error { kind: kind_of_io(err.kind()).0, context: what.to_string(), source: Some(err) }
    }

    /// An I/O failure in the server's own files (not a user path): `451`
    /// whatever its kind, but a full disk (or the server account's
    /// file-system quota) is still `452`.
    pub fn server(what: &str, err: io::Error) -> Error {
        let full = matches!(err.kind(), io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded);
        let kind = if full { ErrorKind::DiskFull } else { ErrorKind::Server };
        Error { kind, context: what.to_string(), source: Some(err) }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// What an unexpected failure was about, if this is one.
    pub fn unexpected(&self) -> Option<&str> {
        (self.kind == ErrorKind::Server && self.source.is_some()).then_some(&self.context)
    }

    /// Whether an I/O error is behind this failure.
    pub fn has_cause(&self) -> bool {
        self.source.is_some()
    }

    /// The client's text and the cause, for an operator's eyes.
    pub fn detail(&self) -> String {
        match &self.source {
            Some(cause) => format!("{self} ({cause})"),
            None => self.to_string(),
        }
    }
}

impl fmt::Display for Error {
    /// The short text the client hears.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(_) if self.kind == ErrorKind::Server => write!(f, "{}: server error", self.context),
            Some(e) => write!(f, "{}: {}", self.context, kind_of_io(e.kind()).1),
            None => f.write_str(&self.context),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}

/// The result of an engine operation.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn io_errors_map_by_kind_and_keep_their_cause() {
        let e = Error::io("/a", io::Error::from(io::ErrorKind::NotFound));
        assert_eq!((e.kind(), e.to_string()), (ErrorKind::NotFound, "/a: not found".into()));
        let e = Error::io("/a", io::Error::other("disk on fire"));
        assert_eq!((e.kind(), e.to_string()), (ErrorKind::Server, "/a: server error".into()));
        assert_eq!(e.unexpected(), Some("/a"));
        assert_eq!(e.source().unwrap().to_string(), "disk on fire");
        let e = Error::server("users file", io::Error::from(io::ErrorKind::StorageFull));
        assert_eq!((e.kind(), e.to_string()), (ErrorKind::DiskFull, "users file: server disk full".into()));
        let e = Error::io("/a", io::Error::from_raw_os_error(crate::sys::EDQUOT));
        assert_eq!((e.kind(), e.to_string()), (ErrorKind::DiskFull, "/a: server disk full".into()));
        let e = Error::server("users file", io::Error::from(io::ErrorKind::NotFound));
        assert_eq!(e.kind(), ErrorKind::Server);
    }
}
