//! Write locks on paths of a user's tree (WebDAV `LOCK`), binding every
//! face: a writer of a locked path without the lock's token is refused
//! (`423` over HTTP, `450` in the text protocol).
//!
//! Layout: `dav-locks/USER/record` holds the user's live locks, one a
//! line; `dav-locks/USER/lock` is `flock`ed around every read-modify-write, so
//! several server processes share the locks. The record is replaced
//! atomically (never half-written) but not synced: locks are advisory
//! state with a timeout of at most an hour, and a crash that loses them
//! loses no data. Expired locks are dropped by whoever rewrites the file.
//!
//! Rules (RFC 4918 §6, §7): a lock of depth 0 covers its root; of depth
//! infinity, its root and everything under it. An exclusive lock
//! conflicts with any other lock covering a common path; shared locks
//! conflict only with exclusive ones. A write to a path needs the token
//! of every lock covering it; creating or removing a member also needs
//! those of the locks covering its parent (a collection's membership is
//! its state); removing or moving a folder needs those of every lock
//! inside it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::storage::DataDir;
use crate::storage::durable::replace_record;
use crate::storage::error::{Error, ErrorKind, Result};
use crate::storage::tree::UserPath;

/// The longest timeout granted.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);
/// Live locks one user may hold (a bound on the record's size).
pub const MAX_LOCKS: usize = 1000;
/// Bytes of owner XML kept per lock.
pub const MAX_OWNER: usize = 4096;

/// Exclusive or shared (RFC 4918 §6.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// No other lock may cover the same paths.
    Exclusive,
    /// Other shared locks may.
    Shared,
}

/// One write lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lock {
    /// `opaquelocktoken:` + 32 hex digits.
    pub token: String,
    /// The locked path.
    pub root: UserPath,
    /// Whether it covers everything under its root.
    pub infinite: bool,
    /// Exclusive or shared.
    pub scope: Scope,
    /// The `DAV:owner` XML the client gave, as sent.
    pub owner: String,
    /// The timeout granted, in seconds.
    pub timeout: u64,
    /// When it expires, in seconds since 1970.
    pub expires: u64,
}

impl Lock {
    /// Whether it covers `path` (its root, or under it at depth infinity).
    pub fn covers(&self, path: &UserPath) -> bool {
        *path == self.root || (self.infinite && path.is_within(&self.root))
    }

    /// Seconds left before it expires.
    pub fn left(&self) -> u64 {
        self.expires.saturating_sub(now())
    }

    fn to_line(&self) -> String {
        let scope = if self.scope == Scope::Exclusive { 'x' } else { 's' };
        let depth = if self.infinite { 'i' } else { '0' };
        format!(
            "{} {scope} {depth} {} {} {} {}\n",
            self.token,
            self.expires,
            self.timeout,
            hex::encode(self.root.to_string()),
            hex::encode(&self.owner)
        )
    }

    fn parse(line: &str) -> Option<Lock> {
        let f: Vec<&str> = line.split(' ').collect();
        let [token, scope, depth, expires, timeout, root, owner] = f[..] else { return None };
        let text = |h: &str| hex::decode(h).ok().and_then(|b| String::from_utf8(b).ok());
        Some(Lock {
            token: token.to_string(),
            scope: match scope {
                "x" => Scope::Exclusive,
                "s" => Scope::Shared,
                _ => return None,
            },
            infinite: depth == "i",
            expires: expires.parse().ok()?,
            timeout: timeout.parse().ok()?,
            root: UserPath::root().resolve(&text(root)?).ok()?,
            owner: text(owner)?,
        })
    }
}

/// What a lock request asks for.
#[derive(Clone, Debug)]
pub struct Want {
    /// The path to lock.
    pub root: UserPath,
    /// Depth infinity.
    pub infinite: bool,
    /// Exclusive or shared.
    pub scope: Scope,
    /// The owner XML.
    pub owner: String,
    /// The timeout asked for (capped at [`MAX_TIMEOUT`]).
    pub timeout: Duration,
}

/// The locks of one user's tree.
pub struct Locks {
    record: PathBuf,
    guard: PathBuf,
}

/// A refused write: the root of a lock whose token was not submitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Locked(pub UserPath);

impl Locked {
    /// As an engine error (`450` in the text protocol, `423` over HTTP).
    pub fn error(&self) -> Error {
        Error::new(ErrorKind::Busy, format!("locked: {}", self.0))
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The file that holds the `flock` while it lives.
struct Held {
    _file: File,
}

impl Locks {
    /// The locks of `user` under `data`.
    pub fn new(data: &DataDir, user: &str) -> Locks {
        let dir = data.dav_locks(user);
        Locks { record: dir.join("record"), guard: dir.join("lock") }
    }

    fn hold(&self) -> Result<Held> {
        let what = "lock record";
        if let Some(dir) = self.guard.parent() {
            fs::create_dir_all(dir).map_err(|e| Error::server(what, e))?;
        }
        let open = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&self.guard);
        let file = open.map_err(|e| Error::server(what, e))?;
        file.lock().map_err(|e| Error::server(what, e))?;
        Ok(Held { _file: file })
    }

    /// The live locks as recorded (no `flock`: the record is replaced
    /// atomically, so a reader sees one version or the next).
    pub fn all(&self) -> Result<Vec<Lock>> {
        let mut text = String::new();
        match File::open(&self.record) {
            Ok(mut f) => {
                f.read_to_string(&mut text).map_err(|e| Error::server("lock record", e))?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::server("lock record", e)),
        }
        let now = now();
        Ok(text.lines().filter_map(Lock::parse).filter(|l| l.expires > now).collect())
    }

    fn save(&self, locks: &[Lock]) -> Result<()> {
        let text: String = locks.iter().map(Lock::to_line).collect();
        if text.is_empty() {
            return match fs::remove_file(&self.record) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::server("lock record", e)),
                _ => Ok(()),
            };
        }
        replace_record(&self.record, text.as_bytes()).map_err(|e| Error::server("lock record", e))
    }

    /// The locks covering `path`.
    pub fn covering(&self, path: &UserPath) -> Result<Vec<Lock>> {
        Ok(self.all()?.into_iter().filter(|l| l.covers(path)).collect())
    }

    /// Takes a new lock, or names the lock in its way.
    pub fn acquire(&self, want: &Want) -> Result<std::result::Result<Lock, Locked>> {
        let _held = self.hold()?;
        let mut locks = self.all()?;
        let clash = locks.iter().find(|l| {
            let overlap = l.covers(&want.root) || (want.infinite && l.root.is_within(&want.root));
            overlap && (l.scope == Scope::Exclusive || want.scope == Scope::Exclusive)
        });
        if let Some(l) = clash {
            return Ok(Err(Locked(l.root.clone())));
        }
        if locks.len() >= MAX_LOCKS {
            return Err(Error::new(ErrorKind::Quota, "too many locks"));
        }
        let mut id = [0u8; 16];
        getrandom::fill(&mut id).map_err(|e| Error::server("lock token", io::Error::other(e)))?;
        let timeout = want.timeout.min(MAX_TIMEOUT).as_secs().max(1);
        let mut owner = want.owner.clone();
        if owner.len() > MAX_OWNER {
            owner.clear();
        }
        let lock = Lock {
            token: format!("opaquelocktoken:{}", uuid_text(&id)),
            root: want.root.clone(),
            infinite: want.infinite,
            scope: want.scope,
            owner,
            timeout,
            expires: now() + timeout,
        };
        locks.push(lock.clone());
        self.save(&locks)?;
        Ok(Ok(lock))
    }

    /// Renews the lock `token` covering `path`; `None` when there is none.
    pub fn refresh(&self, token: &str, path: &UserPath, timeout: Duration) -> Result<Option<Lock>> {
        let _held = self.hold()?;
        let mut locks = self.all()?;
        let Some(lock) = locks.iter_mut().find(|l| l.token == token && l.covers(path)) else { return Ok(None) };
        lock.timeout = timeout.min(MAX_TIMEOUT).as_secs().max(1);
        lock.expires = now() + lock.timeout;
        let lock = lock.clone();
        self.save(&locks)?;
        Ok(Some(lock))
    }

    /// Removes the lock `token` if it covers `path`; whether it did.
    pub fn release(&self, token: &str, path: &UserPath) -> Result<bool> {
        let _held = self.hold()?;
        let mut locks = self.all()?;
        let before = locks.len();
        locks.retain(|l| !(l.token == token && l.covers(path)));
        let released = locks.len() < before;
        if released {
            self.save(&locks)?;
        }
        Ok(released)
    }

    /// Removes every lock whose root is `path` or under it (after that
    /// path was deleted or moved away).
    pub fn drop_under(&self, path: &UserPath) -> Result<()> {
        if !self.record.exists() {
            return Ok(());
        }
        let _held = self.hold()?;
        let mut locks = self.all()?;
        let before = locks.len();
        locks.retain(|l| !l.root.is_within(path));
        if locks.len() < before { self.save(&locks) } else { Ok(()) }
    }

    /// Whether a write to `path` may go on with the tokens `tokens`:
    /// `whole` for a write that removes or replaces what is under it too
    /// (delete, move away, overwrite), `member` when it adds or removes
    /// `path` in its folder. Refused: the root of a lock in the way.
    pub fn check(
        &self,
        path: &UserPath,
        whole: bool,
        member: bool,
        tokens: &[&str],
    ) -> Result<std::result::Result<(), Locked>> {
        let locks = self.all()?;
        let parent = path.parent();
        for l in &locks {
            if tokens.contains(&l.token.as_str()) {
                continue;
            }
            let blocks =
                l.covers(path) || (whole && l.root.is_within(path)) || (member && !path.is_root() && l.covers(&parent));
            if blocks {
                return Ok(Err(Locked(l.root.clone())));
            }
        }
        Ok(Ok(()))
    }

    /// The text protocol's check before a write of `path` (upload, `mv`,
    /// `rm`, `mkdir`, ...): no token is ever submitted there, so any lock
    /// covering the path, its folder or (for `whole`) anything under it
    /// refuses with `450`.
    pub fn refuse_locked(data: &DataDir, user: &str, path: &UserPath, whole: bool) -> Result<()> {
        let locks = Locks::new(data, user);
        match locks.check(path, whole, true, &[])? {
            Ok(()) => Ok(()),
            Err(locked) => Err(locked.error()),
        }
    }
}

/// 16 bytes as a UUID's text (version 4 bits set).
fn uuid_text(b: &[u8; 16]) -> String {
    let mut b = *b;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempdir::Dir, Locks) {
        let dir = tempdir::Dir::new();
        let locks = Locks::new(&DataDir::new(dir.path()), "ann");
        (dir, locks)
    }

    mod tempdir {
        pub struct Dir(std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                let p = std::env::temp_dir()
                    .join(format!("netdisk-locks-{}", crate::storage::content::random_hex().unwrap()));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
            pub fn path(&self) -> &std::path::Path {
                &self.0
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    fn p(s: &str) -> UserPath {
        UserPath::root().resolve(s).unwrap()
    }

    fn want(path: &str, infinite: bool, scope: Scope) -> Want {
        Want { root: p(path), infinite, scope, owner: "<D:href>me</D:href>".into(), timeout: Duration::from_secs(7200) }
    }

    #[test]
    fn exclusive_and_shared_conflicts() {
        let (_d, locks) = setup();
        let a = locks.acquire(&want("/a", true, Scope::Exclusive)).unwrap().unwrap();
        assert_eq!(a.timeout, 3600, "capped at an hour");
        assert!(a.token.starts_with("opaquelocktoken:") && a.token.len() == 16 + 36);
        assert_eq!(locks.acquire(&want("/a/b", false, Scope::Shared)).unwrap(), Err(Locked(p("/a"))));
        assert_eq!(locks.acquire(&want("/", true, Scope::Shared)).unwrap(), Err(Locked(p("/a"))));
        assert!(locks.acquire(&want("/", false, Scope::Exclusive)).unwrap().is_ok(), "depth 0 on the parent");
        let s1 = locks.acquire(&want("/s", false, Scope::Shared)).unwrap().unwrap();
        let s2 = locks.acquire(&want("/s", false, Scope::Shared)).unwrap().unwrap();
        assert_ne!(s1.token, s2.token);
        assert!(locks.acquire(&want("/s", false, Scope::Exclusive)).unwrap().is_err());
        assert!(locks.release(&s1.token, &p("/s")).unwrap());
        assert!(!locks.release(&s1.token, &p("/s")).unwrap());
        assert!(locks.release(&s2.token, &p("/s")).unwrap());
        assert!(locks.acquire(&want("/s", false, Scope::Exclusive)).unwrap().is_ok());
    }

    #[test]
    fn writes_need_the_tokens() {
        let (_d, locks) = setup();
        let a = locks.acquire(&want("/a", true, Scope::Exclusive)).unwrap().unwrap();
        let f = locks.acquire(&want("/d/f", false, Scope::Exclusive)).unwrap().unwrap();
        assert_eq!(locks.check(&p("/a/x/y"), false, true, &[]).unwrap(), Err(Locked(p("/a"))));
        assert!(locks.check(&p("/a/x/y"), false, true, &[&a.token]).unwrap().is_ok());
        assert!(locks.check(&p("/d/g"), false, true, &[]).unwrap().is_ok(), "a sibling of a locked file");
        assert_eq!(locks.check(&p("/d"), true, true, &[]).unwrap(), Err(Locked(p("/d/f"))), "removing its folder");
        assert!(locks.check(&p("/d"), false, false, &[]).unwrap().is_ok(), "a property of the folder");
        assert_eq!(
            Locks::refuse_locked(&DataDir::new(_d.path()), "ann", &p("/a/new"), false).unwrap_err().kind(),
            ErrorKind::Busy
        );
        assert!(
            Locks::refuse_locked(&DataDir::new(_d.path()), "bob", &p("/a/new"), false).is_ok(),
            "another user's tree"
        );
        locks.drop_under(&p("/d")).unwrap();
        assert!(locks.check(&p("/d"), true, true, &[]).unwrap().is_ok());
        assert_eq!(locks.all().unwrap(), vec![a.clone()]);
        assert!(locks.refresh(&f.token, &p("/d/f"), MAX_TIMEOUT).unwrap().is_none());
        assert_eq!(locks.refresh(&a.token, &p("/a/x"), Duration::from_secs(10)).unwrap().unwrap().timeout, 10);
    }

    #[test]
    fn expired_locks_are_gone_and_owner_round_trips() {
        let (_d, locks) = setup();
        let mut w = want("/a b/ü", false, Scope::Exclusive);
        w.owner = "line\nwith spaces <x/>".into();
        let a = locks.acquire(&w).unwrap().unwrap();
        assert_eq!(locks.all().unwrap(), vec![a.clone()]);
        // Another process sees it through the file.
        let other = Locks::new(&DataDir::new(_d.path()), "ann");
        assert_eq!(other.covering(&p("/a b/ü")).unwrap(), vec![a.clone()]);
        let mut stale = a.clone();
        stale.expires = now() - 1;
        fs::write(&locks.record, stale.to_line()).unwrap();
        assert!(locks.all().unwrap().is_empty());
        assert!(locks.acquire(&w).unwrap().is_ok());
    }
}
