//! MD5 digests: parsing, printing, constant-time comparison, and the
//! hasher state that staged uploads save so a resume never re-reads bytes.

use std::fmt;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use md5::Digest as _;
use md5::Md5;
use md5::digest::common::hazmat::{SerializableState, SerializedState};

/// The MD5 of nothing.
pub const EMPTY_MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";

/// A 16-byte MD5 digest; prints as 32 lowercase hex digits.
#[derive(Clone, Copy, Debug)]
pub struct Digest(pub [u8; 16]);

impl Digest {
    /// Parses 32 hex digits, either case.
    pub fn from_hex(text: &str) -> Option<Digest> {
        if text.len() != 32 {
            return None;
        }
        let mut out = [0u8; 16];
        hex::decode_to_slice(text, &mut out).ok()?;
        Some(Digest(out))
    }

    /// The MD5 of `data`.
    pub fn of(data: &[u8]) -> Digest {
        Digest(Md5::digest(data).into())
    }
}

impl PartialEq for Digest {
    /// Constant time: every byte is compared whatever the first difference.
    fn eq(&self, other: &Digest) -> bool {
        self.0.iter().zip(other.0.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

impl Eq for Digest {}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// A running MD5 that can be saved and restored.
#[derive(Clone, Default)]
pub struct Hasher(Md5);

impl Hasher {
    /// An empty hash.
    pub fn new() -> Hasher {
        Hasher::default()
    }

    /// Adds bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The digest of everything so far; the hasher goes on.
    pub fn peek(&self) -> Digest {
        Digest(self.0.clone().finalize().into())
    }

    /// The state as hex, to be stored beside staged bytes.
    pub fn save(&self) -> String {
        hex::encode(self.0.serialize().as_slice())
    }

    /// A hasher from a state written by [`Hasher::save`].
    pub fn restore(text: &str) -> Option<Hasher> {
        let bytes = hex::decode(text).ok()?;
        let state = SerializedState::<Md5>::try_from(bytes.as_slice()).ok()?;
        Md5::deserialize(&state).ok().map(Hasher)
    }
}

/// Feeds bytes `[from, from + len)` of `file` into `hasher`, with
/// positional reads (the file's own position is left alone).
pub fn hash_range(file: &File, from: u64, len: u64, hasher: &mut Hasher) -> io::Result<()> {
    let mut buf = vec![0u8; (256 * 1024).min(len.max(1) as usize)];
    let mut at = from;
    while at < from + len {
        let want = buf.len().min((from + len - at) as usize);
        let n = file.read_at(&mut buf[..want], at)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank while hashing"));
        }
        hasher.update(&buf[..n]);
        at += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_state_continues_the_hash() {
        let mut h = Hasher::new();
        h.update(b"hel");
        let mut r = Hasher::restore(&h.save()).unwrap();
        r.update(b"lo\n");
        assert_eq!(r.peek().to_string(), "b1946ac92492d2347c6235b4d2611184");
        assert_eq!(Hasher::new().peek().to_string(), EMPTY_MD5);
        assert!(Hasher::restore("zz").is_none());
    }

    #[test]
    fn parses_hex_either_case() {
        let a = Digest::from_hex("B1946AC92492D2347C6235B4D2611184").unwrap();
        assert_eq!(a, Digest::of(b"hello\n"));
        assert!(Digest::from_hex("b1946ac92492d2347c6235b4d261118").is_none());
        assert!(Digest::from_hex("g1946ac92492d2347c6235b4d2611184").is_none());
    }
}
