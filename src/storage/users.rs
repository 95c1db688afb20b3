//! The users file: accounts with salted, iterated MD5 password hashes.
//!
//! One line per user, `NAME:md5$ROUNDS$SALT$HASH` (salt and hash in hex),
//! under a `# netdisk users v1` header. Updates take an exclusive lock on
//! `users.lock` (so several server processes may share one data directory),
//! re-read the file, and replace it atomically and durably: temporary file,
//! fsync, rename, fsync of the directory. Passwords never reach a file or a
//! log; only their hashes are kept, and checks compare in constant time.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use md5::{Digest as _, Md5};

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::fs::sync_dir;
use crate::proto::Password;

/// Hash rounds for new accounts: one check costs 5-7 ms on one core.
pub const ROUNDS: u32 = 60_000;
/// Rounds above this in a stored record are refused (a damaged file must
/// not make logins hang).
const MAX_ROUNDS: u32 = 10_000_000;
const HEADER: &str = "# netdisk users v1\n";

/// The accounts of one data directory.
pub struct Users {
    path: PathBuf,
    lock_path: PathBuf,
    cache: Mutex<Cache>,
    dummy: String,
}

#[derive(Default)]
struct Cache {
    stamp: Option<(u64, i64, i64, u64)>,
    hashes: HashMap<String, String>,
}

impl Users {
    /// The users of the data directory `data` (the file may not exist yet).
    pub fn open(data: &Path) -> Users {
        let dummy = make_record(&Password::new("dummy password"), ROUNDS).unwrap_or_default();
        Users {
            path: data.join("users"),
            lock_path: data.join("users.lock"),
            cache: Mutex::new(Cache::default()),
            dummy,
        }
    }

    /// Adds an account; `Exists` if the name is taken (by any process).
    pub fn register(&self, user: &str, pass: &Password) -> Result<()> {
        check_user(user)?;
        check_password(pass)?;
        if self.lookup(user).is_some() {
            return Err(Error::Exists(format!("user {user} exists already")));
        }
        let record = make_record(pass, ROUNDS).map_err(|e| Error::Local(format!("no randomness: {e}")))?;
        let local = |e: io::Error| Error::Local(format!("users file: {e}"));
        let lock = OpenOptions::new().create(true).truncate(false).write(true).open(&self.lock_path).map_err(local)?;
        lock.lock().map_err(local)?;
        let mut text = read_text(&self.path).map_err(local)?;
        if parse(&text).contains_key(user) {
            return Err(Error::Exists(format!("user {user} exists already")));
        }
        if text.is_empty() {
            text.push_str(HEADER);
        } else if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!("{user}:{record}\n"));
        replace_file(&self.path, text.as_bytes()).map_err(local)
    }

    /// Whether `pass` is the password of `user`. Unknown users are checked
    /// against a dummy hash, so both cases take the same time.
    pub fn verify(&self, user: &str, pass: &Password) -> bool {
        let stored = self.lookup(user);
        let known = stored.is_some();
        let record = stored.unwrap_or_else(|| self.dummy.clone());
        check_record(&record, pass) && known
    }

    /// The stored record of `user`, re-reading the file if it changed.
    fn lookup(&self, user: &str) -> Option<String> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let stamp = fs::metadata(&self.path).ok().map(|m| (m.ino(), m.mtime(), m.mtime_nsec(), m.len()));
        if stamp != cache.stamp
            && let Ok(text) = read_text(&self.path)
        {
            cache.hashes = parse(&text);
            cache.stamp = stamp;
        }
        cache.hashes.get(user).cloned()
    }
}

/// User names: 1 to 32 of `A-Z a-z 0-9 _ . -`, not starting with `.` or `-`.
pub fn check_user(user: &str) -> Result<()> {
    let ok = (1..=32).contains(&user.len())
        && user.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        && !user.starts_with(['.', '-']);
    if ok {
        Ok(())
    } else {
        Err(Error::BadArgs("user name: 1-32 of A-Z a-z 0-9 _ . -, not starting with . or -".into()))
    }
}

/// Passwords: 1 to 128 bytes, no control characters.
pub fn check_password(pass: &Password) -> Result<()> {
    let p = pass.expose();
    if (1..=128).contains(&p.len()) && !p.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(Error::BadArgs("password: 1-128 bytes, no control characters".into()))
    }
}

fn read_text(path: &Path) -> io::Result<String> {
    match fs::read(path) {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(e),
    }
}

/// Name to record; comments and malformed lines are skipped (and kept in
/// the file untouched by [`Users::register`]).
fn parse(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .filter(|(name, _)| check_user(name).is_ok())
        .map(|(name, record)| (name.to_string(), record.to_string()))
        .collect()
}

/// Writes `bytes` to `path` atomically and durably.
pub fn replace_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(io::Error::other)?;
    let tmp = path.with_extension(format!("tmp.{}", hex::encode(suffix)));
    let result = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        sync_dir(path.parent().unwrap_or(Path::new(".")))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// A new record `md5$ROUNDS$SALT$HASH` with a fresh random salt.
fn make_record(pass: &Password, rounds: u32) -> std::result::Result<String, getrandom::Error> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)?;
    let hash = hash(pass, &salt, rounds);
    Ok(format!("md5${rounds}${}${}", hex::encode(salt), hex::encode(hash)))
}

fn check_record(record: &str, pass: &Password) -> bool {
    let mut parts = record.split('$');
    let (Some("md5"), Some(rounds), Some(salt), Some(want), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Ok(rounds), Ok(salt), Some(want)) = (rounds.parse::<u32>(), hex::decode(salt), Digest::from_hex(want)) else {
        return false;
    };
    rounds <= MAX_ROUNDS && Digest(hash(pass, &salt, rounds)) == want
}

/// `h0 = MD5(salt || pass)`, `h(i+1) = MD5(h(i) || salt || pass)`.
fn hash(pass: &Password, salt: &[u8], rounds: u32) -> [u8; 16] {
    let mut h: [u8; 16] = Md5::new_with_prefix(salt).chain_update(pass.expose()).finalize().into();
    for _ in 0..rounds {
        h = Md5::new_with_prefix(h).chain_update(salt).chain_update(pass.expose()).finalize().into();
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_check_only_their_password() {
        let pass = Password::new("s3cret:#$ x");
        let record = make_record(&pass, 10).unwrap();
        assert!(record.starts_with("md5$10$"));
        assert!(!record.contains("s3cret"));
        assert!(check_record(&record, &pass));
        assert!(!check_record(&record, &Password::new("s3cret")));
        assert!(!check_record("md5$x$00$00", &pass));
        assert!(!check_record("md5$99999999999$00$00000000000000000000000000000000", &pass));
        assert_ne!(make_record(&pass, 10).unwrap(), record, "salt is random");
    }

    #[test]
    fn user_names_table() {
        for ok in ["a", "alice", "A_b.c-d", "0", &"x".repeat(32)] {
            assert!(check_user(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".a", "-a", "a:b", "a b", "a/b", "é", &"x".repeat(33), "a\n"] {
            assert!(check_user(bad).is_err(), "{bad}");
        }
    }
}
