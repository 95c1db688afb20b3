//! Sharing by code, the client side: `share`, `shares`, `unshare`, `peek`
//! and `save`, each reading its reply through the typed bodies of
//! [`crate::proto::body`].
//!
//! A share code is a secret between its owner and the people it is given
//! to: this module hands it back to the caller and never prints or logs it.

use super::transfer::parse_body;
use super::{Client, ClientError, Result, lines_of};
use crate::proto::Command;
use crate::proto::body::{FindLine, QuotedPath, ShareLine};

/// Length of a share code: 16 characters of `a-z 2-7` (80 bits).
pub const CODE_LEN: usize = 16;

/// Whether `text` has the form of a share code.
pub fn is_code(text: &str) -> bool {
    text.len() == CODE_LEN && text.bytes().all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
}

impl Client {
    /// `share PATH [DAYS]`: a new code that lets any logged-in user peek at
    /// and save a copy of `path`, for `days` days or until revoked.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # let mut c = netdisk::client::Client::connect("127.0.0.1:9021")?;
    /// let code = c.share("/photos/2026", Some(7))?;
    /// println!("give this code to a friend: {code}");
    /// # Ok::<(), netdisk::client::ClientError>(())
    /// ```
    pub fn share(&mut self, path: &str, days: Option<u32>) -> Result<String> {
        self.share_link(path, days).map(|(code, _)| code)
    }

    /// [`Client::share`], with the share's link when the server has an
    /// HTTP face (protocol 2.1: `200 CODE URL`).
    pub fn share_link(&mut self, path: &str, days: Option<u32>) -> Result<(String, Option<String>)> {
        let reply = self.expect(&Command::Share { path: path.into(), days })?;
        let words = reply.words();
        let code = words.first().map(|w| w.to_string()).unwrap_or_default();
        let url = words.get(1).map(|w| w.to_string());
        if is_code(&code) { Ok((code, url)) } else { Err(ClientError::Protocol(reply.text)) }
    }

    /// `shares`: the caller's own live shares, oldest first.
    pub fn shares(&mut self) -> Result<Vec<ShareLine>> {
        lines_of(&self.expect(&Command::Shares)?)
    }

    /// `unshare CODE`: revokes one of the caller's shares.
    pub fn unshare(&mut self, code: &str) -> Result<()> {
        self.expect(&Command::Unshare { code: code.into() }).map(|_| ())
    }

    /// `peek CODE`: what a share holds, as `find` lists it (paths relative
    /// to the shared item; a shared file is one line).
    pub fn peek(&mut self, code: &str) -> Result<Vec<FindLine>> {
        lines_of(&self.expect(&Command::Peek { code: code.into() })?)
    }

    /// `save CODE [PATH]`: copies the shared item into the caller's tree
    /// (at `path`, by default under its own name in the working
    /// directory); the absolute path of the copy. Never replaces anything.
    pub fn save(&mut self, code: &str, path: Option<&str>) -> Result<String> {
        let cmd = Command::Save { code: code.into(), path: path.map(str::to_string) };
        Ok(parse_body::<QuotedPath>(&self.expect(&cmd)?)?.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_one_form() {
        assert!(is_code("abcdefghijkmnp27"));
        assert!(!is_code("abcdefghijkmnp2"), "too short");
        assert!(!is_code("abcdefghijkmnp28"), "8 is not base32");
        assert!(!is_code("ABCDEFGHIJKMNP27"));
    }
}
