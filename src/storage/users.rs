//! The users file: accounts with salted, iterated MD5 password hashes.
//!
//! The file is an append-only log of records, one per line, under a
//! `# netdisk users v1` header: `NAME:CREDENTIAL[ KEY=VALUE]...`. The last
//! record for a name wins. CREDENTIAL is `md5$ROUNDS$SALT$HASH` (salt and
//! hash in hex), or `-` for a removed account; fields after it are kept as
//! they are and ignored by checks; `quota=BYTES|-` is the user's own quota
//! and `entries=N|-` their own limit of files and directories (each a
//! [`UserQuota`]), kept when the password changes. Lines that are not records (comments, damage) are skipped.
//!
//! Writers take an exclusive lock on `users.lock` (so several server
//! processes may share one data directory), cut off a torn last line left by
//! a crash, append one line with `O_APPEND`, and `fdatasync`: registering
//! costs the same at 10 or 200,000 accounts. Compaction (one line per live
//! account: temporary file, fsync, rename, fsync of the directory) runs
//! under the same lock at start-up and when superseded lines outnumber live
//! ones. Readers (logins) never take that lock: they keep the file open and
//! read only what was appended since, or all of it again after a compaction
//! replaced the file. Only whole lines are ever read.
//!
//! Passwords never reach a file or a log; only their hashes are kept, and
//! checks compare in constant time.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use md5::{Digest as _, Md5};

use crate::digest::Digest;
use crate::log;
use crate::secret::Password;
use crate::storage::DataDir;
use crate::storage::durable::{fdatasync, open_or_create, replace_file, sync_dir};
use crate::storage::error::{Error, ErrorKind, Result};

/// Hash rounds for new accounts: one check costs 5-7 ms on one core.
pub const ROUNDS: u32 = 60_000;
/// Rounds above this in a stored record are refused (a damaged file must
/// not make logins hang).
const MAX_ROUNDS: u32 = 10_000_000;
const HEADER: &str = "# netdisk users v1\n";
/// The credential of a removed account.
const REMOVED: &str = "-";
/// Compaction waits for at least this many superseded lines, so a small
/// file is not rewritten at every change.
const MIN_DEAD_LINES: usize = 1024;
/// Names of temporary copies made by compaction: `users.tmp.HEX`.
const TMP_PREFIX: &str = "users.tmp.";
/// The field of a per-user quota: `quota=BYTES` or `quota=-`.
const QUOTA_FIELD: &str = "quota=";
/// The field of a per-user limit of entries: `entries=N` or `entries=-`.
const ENTRIES_FIELD: &str = "entries=";

/// The accounts of one data directory.
pub struct Users {
    path: PathBuf,
    lock_path: PathBuf,
    cache: Mutex<Cache>,
    dummy: String,
}

/// What this process has read of the users file.
#[derive(Default)]
struct Cache {
    /// The file read, held open so its inode cannot be reused while we
    /// compare it with the path's.
    file: Option<File>,
    /// Bytes read so far; always just after a newline.
    offset: u64,
    /// Name to its last record (after the `:`), removed accounts left out.
    accounts: HashMap<String, String>,
    /// Lines read other than comments: those beyond `accounts.len()` are
    /// superseded or damaged.
    lines: usize,
}

impl Users {
    /// The users of the data directory `data` (the file may not exist yet).
    /// Removes leftover temporary copies and compacts the file if it holds
    /// superseded or damaged lines; failures are logged, not fatal.
    pub fn open(data: &Path) -> Users {
        let users = Users::attach(data);
        if let Err(e) = users.start_up() {
            log::server("users", format!("start-up tidy failed: {e}"));
        }
        users
    }

    /// The users of `data` without the start-up tidy: for short-lived
    /// tools (`netdisk user ...`), which leave compaction to the servers and
    /// to appends.
    pub(crate) fn attach(data: &Path) -> Users {
        let dummy = make_record(&Password::new("dummy password"), ROUNDS).unwrap_or_default();
        let data = DataDir::new(data);
        Users { path: data.users_file(), lock_path: data.users_lock(), cache: Mutex::new(Cache::default()), dummy }
    }

    fn start_up(&self) -> io::Result<()> {
        let _lock = self.lock_writers()?;
        self.remove_leftovers()?;
        let torn = match OpenOptions::new().read(true).write(true).open(&self.path) {
            Ok(file) => cut_torn_tail(&file)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => return Err(e),
        };
        // Decided on a whole read only: a compaction writes what was read.
        let dead = self.read_whole()?.dead();
        if torn || dead > 0 {
            self.compact()?;
            log::server("users", format!("compacted: dropped {dead} superseded lines"));
        }
        Ok(())
    }

    /// The cheap checks of [`Users::register`], made before its costly
    /// part (hashing, a durable write): the name and password are allowed
    /// and the name is free as far as this process knows.
    pub(crate) fn check_new(&self, user: &str, pass: &Password) -> Result<()> {
        check_user(user)?;
        check_password(pass)?;
        match self.lookup(user).map_err(|e| Error::server("users file", e))? {
            Some(_) => Err(Error::new(ErrorKind::Exists, format!("user {user} exists already"))),
            None => Ok(()),
        }
    }

    /// Adds an account; `Exists` if the name is taken (by any process).
    pub fn register(&self, user: &str, pass: &Password) -> Result<()> {
        self.check_new(user, pass)?;
        let taken = || Error::new(ErrorKind::Exists, format!("user {user} exists already"));
        let record = make_record(pass, ROUNDS).map_err(no_randomness)?;
        self.append(user, &record, |accounts| if accounts.contains_key(user) { Err(taken()) } else { Ok(()) })
    }

    /// Appends the record `NAME:RECORD` (`RECORD` is `-` to remove the
    /// account) under the writers' lock, if `check` accepts the accounts as
    /// they are once the lock is held.
    pub(crate) fn append(
        &self,
        user: &str,
        record: &str,
        check: impl FnOnce(&HashMap<String, String>) -> Result<()>,
    ) -> Result<()> {
        self.append_with(user, |accounts| check(accounts).map(|_| record.to_string()))
    }

    /// Appends the record that `make` builds from the accounts as they are
    /// once the writers' lock is held (so a change to one field keeps the
    /// others, whatever another process wrote meanwhile).
    pub(crate) fn append_with(
        &self,
        user: &str,
        make: impl FnOnce(&HashMap<String, String>) -> Result<String>,
    ) -> Result<()> {
        let local = |e: io::Error| Error::server("users file", e);
        let _lock = self.lock_writers().map_err(local)?;
        let created = !self.path.exists();
        let options = OpenOptions::new().create(true).append(true).read(true).clone();
        let mut file = open_or_create(&options, &self.path).map_err(local)?;
        cut_torn_tail(&file).map_err(local)?;
        let (record, dead) = {
            let cache = self.read_whole().map_err(local)?;
            (make(&cache.accounts)?, cache.dead())
        };
        if record.contains(['\n', '\r']) {
            return Err(Error::new(ErrorKind::BadArgs, "a record is one line"));
        }
        let len = file.metadata().map_err(local)?.len();
        let head = if len == 0 { HEADER } else { "" };
        let line = format!("{head}{user}:{record}\n");
        let written = file.write_all(line.as_bytes()).and_then(|_| fdatasync(&file));
        if let Err(e) = written {
            let _ = file.set_len(len);
            return Err(local(e));
        }
        if created {
            sync_dir(self.path.parent().unwrap_or(Path::new("."))).map_err(local)?;
        }
        if dead >= MIN_DEAD_LINES.max(self.read_whole().map_err(local)?.accounts.len()) {
            self.compact().map_err(local)?;
        }
        Ok(())
    }

    /// Whether `pass` is the password of `user`. Unknown users are checked
    /// against a dummy hash, so both cases take the same time.
    pub fn verify(&self, user: &str, pass: &Password) -> bool {
        self.check_login(user, pass).unwrap_or(false)
    }

    /// [`Users::verify`], but a users file that could not be read is an
    /// error (`451`), not a wrong password.
    pub fn check_login(&self, user: &str, pass: &Password) -> Result<bool> {
        let stored = self.lookup(user).map_err(|e| Error::server("users file", e))?;
        let known = stored.is_some();
        let record = stored.unwrap_or_else(|| self.dummy.clone());
        Ok(check_record(&record, pass) && known)
    }

    /// A tag of `user`'s password record (the MD5 of its salted hash):
    /// it changes with every new password and is gone with the account,
    /// so a browser session that keeps it dies with either.
    pub(crate) fn credential_tag(&self, user: &str) -> Option<Digest> {
        // Unreadable records end the session (it fails closed).
        let record = self.lookup(user).ok().flatten()?;
        Some(tag_of(&record))
    }

    /// [`Users::verify`], giving the [`Users::credential_tag`] of the very
    /// record `pass` was checked against when it is right (read once, so
    /// a password changed meanwhile is never tagged as checked).
    pub(crate) fn verify_tagged(&self, user: &str, pass: &Password) -> Option<Digest> {
        let stored = self.lookup(user).ok().flatten();
        let record = stored.as_deref().unwrap_or(&self.dummy);
        let right = check_record(record, pass) && stored.is_some();
        right.then(|| tag_of(record))
    }

    /// Removes `users.tmp.*` copies left by a crashed compaction (under the
    /// writers' lock, so no live compaction's copy is touched). Returns how
    /// many went.
    pub(crate) fn tidy(&self) -> io::Result<usize> {
        if self.leftovers()?.is_empty() {
            return Ok(0);
        }
        let _lock = self.lock_writers()?;
        self.remove_leftovers()
    }

    fn leftovers(&self) -> io::Result<Vec<PathBuf>> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let mut found = Vec::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_name().to_str().is_some_and(|n| n.starts_with(TMP_PREFIX)) {
                found.push(entry.path());
            }
        }
        Ok(found)
    }

    /// Call with the writers' lock held.
    fn remove_leftovers(&self) -> io::Result<usize> {
        let found = self.leftovers()?;
        for path in &found {
            fs::remove_file(path)?;
        }
        if !found.is_empty() {
            log::server("users", format!("removed {} leftover temporary copies", found.len()));
        }
        Ok(found.len())
    }

    /// Rewrites the file with one line per live account. Call with the
    /// writers' lock held. Logins go on meanwhile: the map is only locked
    /// to copy it out and to adopt the new file. Never from a partial
    /// read: an error reading the file stops it.
    fn compact(&self) -> io::Result<()> {
        let text = {
            let cache = self.read_whole()?;
            let mut names: Vec<&String> = cache.accounts.keys().collect();
            names.sort();
            let mut text = String::from(HEADER);
            for name in names {
                text.push_str(&format!("{name}:{}\n", cache.accounts[name]));
            }
            text
        };
        replace_file(&self.path, text.as_bytes())?;
        let file = File::open(&self.path)?;
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.lines = cache.accounts.len();
        cache.offset = text.len() as u64;
        cache.file = Some(file);
        Ok(())
    }

    fn lock_writers(&self) -> io::Result<File> {
        let lock = open_or_create(OpenOptions::new().create(true).truncate(false).write(true), &self.lock_path)?;
        lock.lock()?;
        Ok(lock)
    }

    /// The map, brought up to date with the file.
    fn current(&self) -> MutexGuard<'_, Cache> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = cache.refresh(&self.path) {
            log::server("users", format!("reading the users file: {e}"));
        }
        cache
    }

    /// The map, brought up to date with the whole file, or why it could
    /// not be: what decides a write (a compaction, a new record) never
    /// rests on part of the file.
    fn read_whole(&self) -> io::Result<MutexGuard<'_, Cache>> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.refresh(&self.path)?;
        Ok(cache)
    }

    /// The stored record of `user`, reading what was appended since.
    fn lookup(&self, user: &str) -> io::Result<Option<String>> {
        Ok(self.read_whole()?.accounts.get(user).cloned())
    }
}

/// A user's own quota: the `quota=` field of their record (or their own
/// limit of entries: the `entries=` field).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserQuota {
    /// No field: the server's `--quota` applies.
    Default,
    /// `quota=-`: no limit, whatever `--quota` says.
    Unlimited,
    /// `quota=BYTES` (or `entries=N`).
    Bytes(u64),
}

impl UserQuota {
    /// The quota field in a stored record; a damaged value counts as absent.
    fn of_record(record: &str) -> UserQuota {
        UserQuota::of_field(record, QUOTA_FIELD)
    }

    /// The field `name` in a stored record; a damaged value counts as absent.
    fn of_field(record: &str, name: &str) -> UserQuota {
        match fields(record).find_map(|f| f.strip_prefix(name)) {
            Some("-") => UserQuota::Unlimited,
            Some(n) if n.bytes().all(|b| b.is_ascii_digit()) => n.parse().map_or(UserQuota::Default, UserQuota::Bytes),
            _ => UserQuota::Default,
        }
    }

    /// The limit that applies when the server's own is `default`.
    pub fn over(self, default: Option<u64>) -> Option<u64> {
        match self {
            UserQuota::Default => default,
            UserQuota::Unlimited => None,
            UserQuota::Bytes(n) => Some(n),
        }
    }
}

impl std::fmt::Display for UserQuota {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UserQuota::Default => f.write_str("default"),
            UserQuota::Unlimited => f.write_str("-"),
            UserQuota::Bytes(n) => write!(f, "{n}"),
        }
    }
}

/// Changes to existing accounts. Each appends one record under the
/// writers' lock, built from the account's record as it is then, so the
/// fields a change does not touch are kept.
impl Users {
    /// Whether `user` is a live account (reading what was appended since).
    /// A file that could not be read says nothing: the account counts as
    /// there (a read error never ends a session as if it were deleted).
    pub fn exists(&self, user: &str) -> bool {
        match self.read_whole() {
            Ok(cache) => cache.accounts.contains_key(user),
            Err(e) => {
                log::server("users", format!("reading the users file: {e}"));
                true
            }
        }
    }

    /// The user's own quota; `Default` for an unknown user (or when the
    /// file could not be read).
    pub fn quota(&self, user: &str) -> UserQuota {
        self.current().accounts.get(user).map_or(UserQuota::Default, |r| UserQuota::of_record(r))
    }

    /// The user's own limit of entries (files and directories); `Default`
    /// for an unknown user (or when the file could not be read).
    pub fn entries(&self, user: &str) -> UserQuota {
        let cache = self.current();
        cache.accounts.get(user).map_or(UserQuota::Default, |r| UserQuota::of_field(r, ENTRIES_FIELD))
    }

    /// Every live account with its own quota and its own limit of
    /// entries, sorted by name.
    pub fn list(&self) -> Vec<(String, UserQuota, UserQuota)> {
        let cache = self.current();
        let each = cache.accounts.iter();
        let mut out: Vec<_> =
            each.map(|(n, r)| (n.clone(), UserQuota::of_record(r), UserQuota::of_field(r, ENTRIES_FIELD))).collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Gives `user` a new password; `NotFound` if there is no such account.
    pub fn set_password(&self, user: &str, pass: &Password) -> Result<()> {
        check_password(pass)?;
        let fresh = make_record(pass, ROUNDS).map_err(no_randomness)?;
        self.change(user, |record| {
            let rest = record.strip_prefix(credential(record)).unwrap_or("");
            format!("{fresh}{rest}")
        })
    }

    /// Sets the user's own quota; `NotFound` if there is no such account.
    pub fn set_quota(&self, user: &str, quota: UserQuota) -> Result<()> {
        self.set_field(user, QUOTA_FIELD, quota)
    }

    /// Sets the user's own limit of entries; `NotFound` if there is no
    /// such account.
    pub fn set_entries(&self, user: &str, limit: UserQuota) -> Result<()> {
        self.set_field(user, ENTRIES_FIELD, limit)
    }

    fn set_field(&self, user: &str, name: &str, value: UserQuota) -> Result<()> {
        self.change(user, |record| {
            let mut kept: Vec<&str> = vec![credential(record)];
            kept.extend(fields(record).filter(|f| !f.starts_with(name)));
            let field = match value {
                UserQuota::Default => None,
                other => Some(format!("{name}{other}")),
            };
            kept.into_iter().map(str::to_string).chain(field).collect::<Vec<_>>().join(" ")
        })
    }

    /// Removes the account. `hide` runs under the writers' lock once the
    /// account is known to exist, before the removal is recorded, so the
    /// name cannot be registered again in between.
    pub(crate) fn remove(&self, user: &str, hide: impl FnOnce() -> Result<()>) -> Result<()> {
        self.append_with(user, |accounts| {
            if !accounts.contains_key(user) {
                return Err(no_such_user(user));
            }
            hide()?;
            Ok(REMOVED.to_string())
        })
    }

    fn change(&self, user: &str, edit: impl FnOnce(&str) -> String) -> Result<()> {
        self.append_with(user, |accounts| accounts.get(user).map(|r| edit(r)).ok_or_else(|| no_such_user(user)))
    }
}

fn no_such_user(user: &str) -> Error {
    Error::new(ErrorKind::NotFound, format!("no user {user}"))
}

/// The `KEY=VALUE` fields of a record, after its credential.
fn fields(record: &str) -> impl Iterator<Item = &str> {
    record.split(' ').skip(1).filter(|f| !f.is_empty())
}

impl Cache {
    fn dead(&self) -> usize {
        self.lines - self.accounts.len()
    }

    /// Reads the lines appended since the last call, or the whole file if
    /// the path now names another file (a compaction replaced it) or it
    /// shrank.
    fn refresh(&mut self, path: &Path) -> io::Result<()> {
        let meta = match fs::metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                *self = Cache::default();
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let same = match &self.file {
            Some(file) => file.metadata().map(|m| (m.dev(), m.ino()) == (meta.dev(), meta.ino()))?,
            None => false,
        };
        if same && meta.len() == self.offset {
            return Ok(());
        }
        if !same || meta.len() < self.offset {
            *self = Cache { file: Some(File::open(path)?), ..Cache::default() };
        }
        self.read_tail()
    }

    fn read_tail(&mut self) -> io::Result<()> {
        let Some(file) = self.file.take() else { return Ok(()) };
        let read = self.read_lines(&file);
        self.file = Some(file);
        read
    }

    fn read_lines(&mut self, file: &File) -> io::Result<()> {
        let mut reader = BufReader::new(file);
        reader.seek(SeekFrom::Start(self.offset))?;
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = reader.read_until(b'\n', &mut line)?;
            if n == 0 || !line.ends_with(b"\n") {
                return Ok(());
            }
            self.offset += n as u64;
            self.apply(&line[..n - 1]);
        }
    }

    /// Takes one whole line into the map.
    fn apply(&mut self, line: &[u8]) {
        if line.is_empty() || line.starts_with(b"#") {
            return;
        }
        self.lines += 1;
        let Ok(line) = std::str::from_utf8(line) else { return };
        let Some((name, record)) = line.split_once(':') else { return };
        if check_user(name).is_err() || record.is_empty() {
            return;
        }
        if credential(record) == REMOVED {
            self.accounts.remove(name);
        } else {
            self.accounts.insert(name.to_string(), record.to_string());
        }
    }
}

/// Cuts the file back to just after its last newline: a line without one
/// was torn by a crash and must not run into the next record. Returns
/// whether anything was cut. Call with the writers' lock held.
fn cut_torn_tail(file: &File) -> io::Result<bool> {
    let len = file.metadata()?.len();
    let mut end = len;
    let mut buf = [0u8; 4096];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.read_exact_at(chunk, start)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            end = start + i as u64 + 1;
            break;
        }
        end = start;
    }
    if end == len {
        return Ok(false);
    }
    file.set_len(end)?;
    fdatasync(file)?;
    log::server("users", format!("cut a torn last line of {} bytes", len - end));
    Ok(true)
}

/// The tag of a record's credential (see [`Users::credential_tag`]).
fn tag_of(record: &str) -> Digest {
    Digest::of(credential(record).as_bytes())
}

/// The credential of a record: what comes before its first field.
fn credential(record: &str) -> &str {
    record.split_once(' ').map_or(record, |(c, _)| c)
}

/// User names: 1 to 32 of `A-Z a-z 0-9 _ . -`, not starting with `.` or `-`.
pub fn check_user(user: &str) -> Result<()> {
    let ok = (1..=32).contains(&user.len())
        && user.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        && !user.starts_with(['.', '-']);
    if ok {
        Ok(())
    } else {
        Err(Error::new(ErrorKind::BadArgs, "user name: 1-32 of A-Z a-z 0-9 _ . -, not starting with . or -"))
    }
}

/// Passwords: 1 to 128 bytes, no control characters.
pub fn check_password(pass: &Password) -> Result<()> {
    let p = pass.expose();
    if (1..=128).contains(&p.len()) && !p.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(Error::new(ErrorKind::BadArgs, "password: 1-128 bytes, no control characters"))
    }
}

/// A new record `md5$ROUNDS$SALT$HASH` with a fresh random salt.
/// The system gave no random bytes for a salt.
fn no_randomness(e: getrandom::Error) -> Error {
    Error::server("no randomness", io::Error::other(e.to_string()))
}

fn make_record(pass: &Password, rounds: u32) -> std::result::Result<String, getrandom::Error> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)?;
    let hash = hash(pass, &salt, rounds);
    Ok(format!("md5${rounds}${}${}", hex::encode(salt), hex::encode(hash)))
}

fn check_record(record: &str, pass: &Password) -> bool {
    let mut parts = credential(record).split('$');
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
    fn superseded_lines_are_compacted_away_by_a_later_append() {
        let dir = std::env::temp_dir().join(format!("netdisk-compact-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let pass = Password::new("pw");
        let record = make_record(&pass, 10).unwrap();
        let mut text = String::from(HEADER);
        for i in 0..MIN_DEAD_LINES {
            text.push_str(&format!("old{i}:{record}\nold{i}:-\n"));
        }
        text.push_str(&format!("keep:{record} quota=5\n"));
        // Written after start-up, which would compact it at once.
        let users = Users::open(&dir);
        fs::write(dir.join("users"), &text).unwrap();
        assert!(users.verify("keep", &pass) && !users.verify("old1", &pass));
        assert_eq!(users.current().dead(), 2 * MIN_DEAD_LINES);
        users.append("new", &record, |_| Ok(())).unwrap();
        let after = fs::read_to_string(dir.join("users")).unwrap();
        assert_eq!(after, format!("{HEADER}keep:{record} quota=5\nnew:{record}\n"));
        assert_eq!(users.current().dead(), 0);
        assert!(users.verify("keep", &pass) && users.verify("new", &pass));
        users.append("late", &record, |_| Ok(())).unwrap();
        assert!(users.verify("late", &pass), "appends after the compaction are read");
        let _ = fs::remove_dir_all(&dir);
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
