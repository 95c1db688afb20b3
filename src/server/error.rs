//! The one place where engine failures become text-protocol replies.
//!
//! An engine [`Error`] has an [`ErrorKind`]; [`Replied`] gives each kind
//! its reply code (each kind of `storage::error` names it), so a full disk
//! is `452` wherever it happens and an unexpected failure is always `451`.
//! The client hears the error's short text; the cause goes to the log only
//! ([`Replied::outcome`]).

use crate::proto::{Code, Reply};
pub use crate::storage::error::{Error, ErrorKind, Result};

/// The reply of an engine error in the text protocol.
pub trait Replied {
    /// The reply code.
    fn code(&self) -> Code;

    /// The reply: the code and the error's text.
    fn reply(&self) -> Reply;

    /// The `outcome` of the event's log line: the code, and for a failure
    /// of the server its cause, e.g. `451 cause="Input/output error"`.
    fn outcome(&self) -> String;
}

/// The reply code of each kind of engine error.
pub fn code_of(kind: ErrorKind) -> Code {
    use ErrorKind::*;
    match kind {
        NotFound | Exists | Refused => Code::Unavailable,
        BadName => Code::BadName,
        BadArgs => Code::BadArgs,
        NotLoggedIn => Code::NotLoggedIn,
        Busy => Code::Busy,
        Quota => Code::Quota,
        DiskFull => Code::StorageFull,
        Mismatch => Code::Mismatch,
        Server => Code::LocalError,
    }
}

impl Replied for Error {
    fn code(&self) -> Code {
        code_of(self.kind())
    }

    fn reply(&self) -> Reply {
        Reply::new(self.code(), self.to_string())
    }

    fn outcome(&self) -> String {
        use std::error::Error as _;
        match self.source() {
            Some(cause) if self.kind() == ErrorKind::Server => {
                format!("{} cause={:?}", self.code().number(), cause.to_string())
            }
            _ => self.code().number().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[test]
    fn kinds_map_to_codes() {
        let e = Error::io("/a", io::Error::from(io::ErrorKind::NotFound));
        assert_eq!((e.code(), e.to_string()), (Code::Unavailable, "/a: not found".into()));
        let e = Error::io("/a", io::Error::other("disk on fire"));
        assert_eq!((e.code(), e.to_string()), (Code::LocalError, "/a: server error".into()));
        assert_eq!(e.outcome(), "451 cause=\"disk on fire\"");
        let e = Error::server("users file", io::Error::from(io::ErrorKind::StorageFull));
        assert_eq!(e.code(), Code::StorageFull);
        assert_eq!(Error::new(ErrorKind::Busy, "later").reply().to_wire(), "450 later\r\n");
    }
}
