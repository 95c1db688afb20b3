//! Secrets that redact themselves: a leaf shared by the wire format,
//! the engine (which hashes passwords) and the client.

use std::fmt;

/// A password; it never prints itself.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(pub(crate) String);

impl Password {
    /// A password from its text.
    pub fn new(text: impl Into<String>) -> Password {
        Password(text.into())
    }

    /// The secret, for hashing and for sending.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}
