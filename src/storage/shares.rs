//! Share records: which path of whose tree a share code stands for.
//!
//! Layout: `shares/OWNER/CODE` is the record (owner, path, type at share
//! time, creation time, expiry), and `share-codes/CODE` holds the owner's
//! name, so a code is found without scanning. Both are written atomically
//! and durably (temporary file, fsync, rename, fsync of the directory).
//! The index is written first and removed last: a crash leaves at worst an
//! index entry without a record, which means "unknown code" and is swept.
//! A code counts only when both agree, so a deleted account (its
//! `shares/OWNER/` goes with it) and a new account of the same name never
//! answer to old codes.
//!
//! Codes come from client text: only a string of exactly 16 characters of
//! `a-z 2-7` is ever used as a file name. Codes are secrets: this module
//! never logs, and callers log the owner and path instead.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::storage::DataDir;
use crate::storage::durable::{fsync, sync_dir};
use crate::storage::error::{Error, ErrorKind, Result};
use crate::storage::tree::{Kind, UserPath};

/// Characters of a code: RFC 4648 base32, lower case.
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
/// Characters in a code (80 bits).
const CODE_LEN: usize = 16;
/// Index entries without a record younger than this may belong to a
/// `share` in progress (possibly in another process).
const SETTLE: Duration = Duration::from_secs(60);

/// One share as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Share {
    pub(crate) code: String,
    pub(crate) owner: String,
    pub(crate) path: String,
    pub(crate) kind: Kind,
    /// Nanoseconds since 1970.
    pub(crate) created: u128,
    /// Seconds since 1970; `None` until revoked.
    pub(crate) expires: Option<u64>,
}

impl Share {
    fn to_text(&self) -> String {
        let kind = if self.kind == Kind::Dir { "d" } else { "f" };
        let expires = self.expires.map_or("-".to_string(), |e| e.to_string());
        format!(
            "netdisk-share v1\nowner {}\ntype {kind}\ncreated {}\nexpires {expires}\npath {}\n",
            self.owner, self.created, self.path
        )
    }

    fn parse(code: &str, text: &str) -> Option<Share> {
        let mut lines = text.lines();
        if lines.next()? != "netdisk-share v1" {
            return None;
        }
        let mut field = |key: &str| lines.next()?.strip_prefix(key)?.strip_prefix(' ').map(str::to_string);
        let owner = field("owner")?;
        let kind = match field("type")?.as_str() {
            "d" => Kind::Dir,
            "f" => Kind::File,
            _ => return None,
        };
        let created = field("created")?.parse().ok()?;
        let expires = match field("expires")?.as_str() {
            "-" => None,
            e => Some(e.parse().ok()?),
        };
        let path = field("path")?;
        Some(Share { code: code.to_string(), owner, path, kind, created, expires })
    }

    fn expired(&self) -> bool {
        self.expires.is_some_and(|e| now_secs() >= e)
    }

    /// The shared path, in its owner's tree.
    pub(crate) fn user_path(&self) -> Result<UserPath> {
        UserPath::root().resolve(&self.path)
    }
}

/// The share records under `--data`.
pub(crate) struct Shares {
    records: PathBuf,
    index: PathBuf,
}

impl Shares {
    pub(crate) fn new(data: &DataDir) -> Shares {
        Shares { records: data.shares(), index: data.share_codes() }
    }

    fn record(&self, owner: &str, code: &str) -> PathBuf {
        self.records.join(owner).join(code)
    }

    /// Records a new share of `path` (of type `kind`) by `owner`, valid for
    /// `days` days or until revoked; returns it.
    pub(crate) fn create(&self, owner: &str, path: &UserPath, kind: Kind, days: Option<u32>) -> io::Result<Share> {
        let code = new_code()?;
        let expires = days.map(|d| now_secs() + u64::from(d) * 86_400);
        let share = Share { code, owner: owner.to_string(), path: path.to_string(), kind, created: now_ns(), expires };
        write_durably(&self.index.join(&share.code), format!("{owner}\n").as_bytes())?;
        write_durably(&self.record(owner, &share.code), share.to_text().as_bytes())?;
        Ok(share)
    }

    /// The live share with this code (in any case: codes are
    /// case-insensitive), if the text is a code at all; an error if its
    /// records could not be read (never "no such share").
    pub(crate) fn lookup(&self, code: &str) -> io::Result<Option<Share>> {
        Ok(self.recorded(&code.to_ascii_lowercase())?.filter(|s| !s.expired()))
    }

    /// The share recorded under `code`, expired or not: `None` when the
    /// index entry or the record is missing or not whole, or they disagree.
    fn recorded(&self, code: &str) -> io::Result<Option<Share>> {
        if !valid_code(code) {
            return Ok(None);
        }
        let Some(owner) = read_if_there(&self.index.join(code))? else { return Ok(None) };
        let Some(owner) = owner.strip_suffix('\n') else { return Ok(None) };
        if owner.is_empty() || owner.contains('/') || owner.starts_with('.') {
            return Ok(None);
        }
        let Some(text) = read_if_there(&self.record(owner, code))? else { return Ok(None) };
        Ok(Share::parse(code, &text).filter(|s| s.owner == owner))
    }

    /// `owner`'s live shares, oldest first; more than `max` is refused.
    pub(crate) fn list(&self, owner: &str, max: usize) -> Result<Vec<Share>> {
        let mut found = Vec::new();
        let dir = self.records.join(owner);
        for item in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = item.file_name().to_string_lossy().into_owned();
            let looked = valid_code(&name).then(|| self.lookup(&name)).transpose();
            let looked = looked.map_err(|e| Error::server("share record", e))?;
            let Some(share) = looked.flatten() else { continue };
            if share.owner != owner {
                continue;
            }
            if found.len() >= max {
                return Err(Error::new(ErrorKind::Refused, "too many entries"));
            }
            found.push(share);
        }
        found.sort_by(|a, b| (a.created, &a.code).cmp(&(b.created, &b.code)));
        Ok(found)
    }

    /// `unshare`: removes one of `owner`'s live shares (record first, so it
    /// is gone at once, then the index entry).
    pub(crate) fn remove(&self, owner: &str, code: &str) -> Result<Share> {
        let share = self.lookup(code).map_err(|e| Error::server("share record", e))?.filter(|s| s.owner == owner);
        let share = share.ok_or_else(|| Error::new(ErrorKind::NotFound, "no such share of yours"))?;
        self.delete(&share).map_err(|e| Error::server("share record", e))?;
        Ok(share)
    }

    fn delete(&self, share: &Share) -> io::Result<()> {
        let record = self.record(&share.owner, &share.code);
        remove_if_there(&record)?;
        sync_dir(record.parent().unwrap_or(&self.records))?;
        remove_if_there(&self.index.join(&share.code))?;
        sync_dir(&self.index)
    }

    /// Deletes expired shares, and index entries whose record is gone (an
    /// unshare or account deletion cut short); returns how many went.
    /// Only what was read whole decides: a record or index entry that
    /// could not be read (EMFILE, EIO) is left alone.
    pub(crate) fn sweep(&self) -> usize {
        let mut removed = 0;
        for item in fs::read_dir(&self.index).into_iter().flatten().flatten() {
            let code = item.file_name().to_string_lossy().into_owned();
            let Ok(meta) = item.metadata() else { continue };
            let settled = meta.modified().ok().and_then(|t| t.elapsed().ok()).is_some_and(|a| a > SETTLE);
            let Ok(share) = self.recorded(&code) else { continue };
            let gone = match &share {
                Some(s) if s.expired() => self.delete(s).is_ok(),
                Some(_) => false,
                None => (settled || !valid_code(&code)) && fs::remove_file(item.path()).is_ok(),
            };
            removed += usize::from(gone);
        }
        removed
    }
}

/// Whether `text` has the shape of a code (and so may name a file).
pub(crate) fn valid_code(text: &str) -> bool {
    text.len() == CODE_LEN && text.bytes().all(|b| ALPHABET.contains(&b))
}

/// A fresh code: 80 random bits from the operating system, in base32.
fn new_code() -> io::Result<String> {
    let mut bytes = [0u8; 10];
    getrandom::fill(&mut bytes).map_err(io::Error::other)?;
    Ok(base32(&bytes))
}

/// RFC 4648 base32 of 10 bytes (exactly 16 characters, no padding).
fn base32(bytes: &[u8; 10]) -> String {
    let mut bits = 0u128;
    for b in bytes {
        bits = bits << 8 | u128::from(*b);
    }
    (0..CODE_LEN).rev().map(|i| ALPHABET[(bits >> (5 * i) & 31) as usize] as char).collect()
}

/// Writes `path` whole or not at all, and durably: a temporary file,
/// fsynced, renamed into place, then the directory fsynced.
fn write_durably(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(io::Error::other)?;
    let tmp = dir.join(format!(".tmp-{}", hex::encode(suffix)));
    let written = File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|_| fsync(&f)))
        .and_then(|_| fs::rename(&tmp, path));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written.and_then(|_| sync_dir(dir))
}

/// The text of `path`; `None` if there is no such file.
fn read_if_there(path: &Path) -> io::Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn remove_if_there(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn now_ns() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_sixteen_base32_characters() {
        assert_eq!(base32(&[0; 10]), "aaaaaaaaaaaaaaaa");
        assert_eq!(base32(&[0xff; 10]), "7777777777777777");
        // RFC 4648: "fooba" is MZXW6YTB.
        assert_eq!(&base32(b"foobafooba")[..8], "mzxw6ytb");
        let code = new_code().unwrap();
        assert!(valid_code(&code), "{code}");
        for bad in
            ["", "aaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaaa", "AAAAAAAAAAAAAAAA", "aaaaaaaaaaaaaaa1", "../aaaaaaaaaaaaa"]
        {
            assert!(!valid_code(bad), "{bad}");
        }
    }

    #[test]
    fn records_round_trip() {
        let s = Share {
            code: "abcdefghijklmnop".into(),
            owner: "alice".into(),
            path: "/a b/c".into(),
            kind: Kind::Dir,
            created: 12,
            expires: Some(34),
        };
        assert_eq!(Share::parse(&s.code, &s.to_text()), Some(s.clone()));
        let s = Share { expires: None, kind: Kind::File, ..s };
        assert_eq!(Share::parse(&s.code, &s.to_text()), Some(s));
        assert_eq!(Share::parse("x", "garbage"), None);
    }
}
