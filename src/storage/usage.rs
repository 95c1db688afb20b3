//! How many bytes a user's files and trash hold, and how many entries
//! (files and directories), known without walking the tree on every
//! upload.
//!
//! The figure ([`Usage`]: bytes and entries) lives in `usage/USER`, shared by every server process on the
//! data directory and read under an `flock` on that file, so quota
//! decisions of one user take turns across processes. It is counted by a
//! walk (home and trash) the first time a process needs it for a user,
//! again when that count is older than [`RECOUNT_AFTER`], and whenever
//! `quota` is asked; in between, every process adds what it places in the
//! tree (uploads, claims, copies, saves). Removals are not subtracted: a
//! stale figure is only ever too high, which refuses early rather than
//! late, and a refusal counts again first (see [`Counted::fits`]). A crash
//! between a commit and its addition leaves the figure low by that file
//! until the next count, which every process makes when it starts serving
//! the user.
//!
//! Nothing here may let the figure drop below what the user holds, except
//! for that crash window and for what another process adds between two
//! reads (both documented in docs/DEPLOY.md).

use crate::storage::durable::open_or_create;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::storage::error::{Error, Result};

/// A count older than this is made again when a decision needs it.
pub(crate) const RECOUNT_AFTER: Duration = Duration::from_secs(600);
/// A refusal counts again first, unless the last count is this recent.
const RECOUNT_BEFORE_REFUSING: Duration = Duration::from_secs(2);
/// The record: two fixed-width decimals (bytes, entries), so a rewrite
/// never leaves a tail. A record of another width (an older one, with
/// bytes only) is counted again.
const WIDTH: usize = 42;

/// What a user holds, or what a request places or books: bytes of files,
/// and entries (files and directories, each counted once; `/` is not).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    pub(crate) bytes: u64,
    pub(crate) entries: u64,
}

impl Usage {
    pub(crate) fn new(bytes: u64, entries: u64) -> Usage {
        Usage { bytes, entries }
    }

    /// Both figures added, saturating.
    pub(crate) fn plus(self, other: Usage) -> Usage {
        Usage::new(self.bytes.saturating_add(other.bytes), self.entries.saturating_add(other.entries))
    }

    /// Both figures taken away, saturating at 0.
    pub(crate) fn minus(self, other: Usage) -> Usage {
        Usage::new(self.bytes.saturating_sub(other.bytes), self.entries.saturating_sub(other.entries))
    }
}

impl From<Usage> for (u64, Option<u64>) {
    /// Bytes, and entries as a trash record keeps them.
    fn from(held: Usage) -> (u64, Option<u64>) {
        (held.bytes, Some(held.entries))
    }
}

/// The limits of one user: bytes (`--quota`) and entries
/// (`--max-entries`); `None` is no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) bytes: Option<u64>,
    pub(crate) entries: Option<u64>,
}

/// Which limit a request would pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Over {
    Bytes(u64),
    Entries(u64),
}

impl Limits {
    /// The first limit `total` passes, if any.
    fn passed_by(&self, total: Usage) -> Option<Over> {
        match (self.bytes, self.entries) {
            (Some(b), _) if total.bytes > b => Some(Over::Bytes(b)),
            (_, Some(e)) if total.entries > e => Some(Over::Entries(e)),
            _ => None,
        }
    }
}

/// The walk that counts a user's files and trash.
pub(crate) type Counter<'a> = &'a dyn Fn() -> Result<Usage>;
/// The same walk, owned (kept by an upload from its booking to its
/// commit, which may be led by another connection's thread).
pub(crate) type CountFn = Box<dyn Fn() -> Result<Usage> + Send>;

/// The usage file of one user.
pub(crate) struct UsageFile {
    path: PathBuf,
}

impl UsageFile {
    pub(crate) fn new(path: PathBuf) -> UsageFile {
        UsageFile { path }
    }

    /// Opens and locks the figure; other processes wait until it drops.
    /// `last` is when this process last counted for the user (`None`:
    /// never), so a process counts once before it trusts the file.
    pub(crate) fn lock(&self, last: Option<Instant>) -> Result<Counted> {
        let what = "usage record";
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::server(what, e))?;
        }
        let open = open_or_create(OpenOptions::new().read(true).write(true).create(true).truncate(false), &self.path);
        let file = open.map_err(|e| Error::server(what, e))?;
        file.lock().map_err(|e| Error::server(what, e))?;
        Ok(Counted { file, last })
    }
}

/// The locked figure of one user.
pub(crate) struct Counted {
    file: File,
    last: Option<Instant>,
}

impl Counted {
    /// When this process last counted (for the caller to keep).
    pub(crate) fn last(&self) -> Option<Instant> {
        self.last
    }

    /// The bytes and entries of the user's files and trash: the recorded
    /// figure, or a new count when this process has none recent enough.
    pub(crate) fn held(&mut self, count: Counter) -> Result<Usage> {
        let recent = self.last.is_some_and(|t| t.elapsed() < RECOUNT_AFTER);
        match self.read().filter(|_| recent) {
            Some(bytes) => Ok(bytes),
            None => self.recount(count),
        }
    }

    /// Counts again and records the result.
    /// A count that fails forgets the figure: no decision may go on
    /// trusting what can no longer be counted.
    pub(crate) fn recount(&mut self, count: Counter) -> Result<Usage> {
        let held = count().inspect_err(|_| {
            let _ = self.forget();
            self.last = None;
        })?;
        self.write(held)?;
        self.last = Some(Instant::now());
        Ok(held)
    }

    /// Whether `more` fits within `limits` beside what the user holds and
    /// `besides` (staged bytes, other bookings): `None` if it does, else
    /// the limit it would pass. Before saying no, a figure that may be
    /// stale is counted again.
    pub(crate) fn fits(&mut self, more: Usage, besides: Usage, limits: Limits, count: Counter) -> Result<Option<Over>> {
        let need = more.plus(besides);
        let over = limits.passed_by(self.held(count)?.plus(need));
        if over.is_none() || self.last.is_some_and(|t| t.elapsed() < RECOUNT_BEFORE_REFUSING) {
            return Ok(over);
        }
        Ok(limits.passed_by(self.recount(count)?.plus(need)))
    }

    /// Records what was just placed in the user's tree (`added`) and what
    /// went for good in the same step (`removed`: a file replaced and not
    /// kept in the trash).
    pub(crate) fn changed(&mut self, added: Usage, removed: Usage) -> Result<()> {
        match self.read() {
            Some(held) => self.write(held.plus(added).minus(removed)),
            None => Ok(()),
        }
    }

    /// Forgets the figure: the next decision of any process counts again
    /// (after removals, which are not subtracted one by one).
    pub(crate) fn forget(&mut self) -> Result<()> {
        self.file.set_len(0).map_err(|e| Error::server("usage record", e))
    }

    fn read(&self) -> Option<Usage> {
        let mut buf = [0u8; WIDTH + 1];
        let n = self.file.read_at(&mut buf, 0).ok()?;
        let text = std::str::from_utf8(&buf[..n]).ok().filter(|_| n == WIDTH)?;
        let (bytes, entries) = text.strip_suffix('\n')?.trim_start().split_once(' ')?;
        Some(Usage::new(bytes.parse().ok()?, entries.trim_start().parse().ok()?))
    }

    fn write(&self, held: Usage) -> Result<()> {
        let half = WIDTH / 2 - 1;
        let record = format!("{:>half$} {:>half$}\n", held.bytes, held.entries);
        let written = self.file.write_all_at(record.as_bytes(), 0).and_then(|_| self.file.set_len(WIDTH as u64));
        written.map_err(|e: io::Error| Error::server("usage record", e))
    }
}

/// Forgets every user's figure (after the sweeper purged expired trash):
/// each is counted again at its next decision.
pub(crate) fn forget_all(dir: &Path) {
    for item in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if let Ok(mut counted) = UsageFile::new(item.path()).lock(None) {
            let _ = counted.forget();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// A usage file in a scratch directory of its own, removed when the
    /// test is done with it.
    struct Scratch {
        file: UsageFile,
        dir: std::path::PathBuf,
    }

    impl std::ops::Deref for Scratch {
        type Target = UsageFile;
        fn deref(&self) -> &UsageFile {
            &self.file
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn file(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("netdisk-usage-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Scratch { file: UsageFile::new(dir.join("u")), dir }
    }

    #[test]
    fn counts_once_then_adds() {
        let f = file("once");
        let walks = Cell::new(0);
        let count = || {
            walks.set(walks.get() + 1);
            Ok(Usage::new(100, 7))
        };
        let mut c = f.lock(None).unwrap();
        assert_eq!(c.held(&count).unwrap(), Usage::new(100, 7));
        c.changed(Usage::new(60, 3), Usage::new(10, 1)).unwrap();
        let last = c.last();
        drop(c);
        let mut c = f.lock(last).unwrap();
        assert_eq!(c.held(&count).unwrap(), Usage::new(150, 9));
        assert_eq!(walks.get(), 1, "a recent count is trusted");
        drop(c);
        let mut fresh = f.lock(None).unwrap();
        assert_eq!(fresh.held(&count).unwrap(), Usage::new(100, 7), "a process without a count of its own counts");
    }

    #[test]
    fn a_refusal_counts_again_unless_just_counted() {
        let f = file("refuse");
        let held = Cell::new(900);
        let count = || Ok(Usage::new(held.get(), held.get() / 100));
        let limits = Limits { bytes: Some(1000), entries: Some(10) };
        let none = Usage::default();
        let mut c = f.lock(None).unwrap();
        let over = c.fits(Usage::new(200, 0), none, limits, &count).unwrap();
        assert_eq!(over, Some(Over::Bytes(1000)), "just counted: no second walk");
        held.set(100);
        c.last = Some(Instant::now() - RECOUNT_BEFORE_REFUSING * 2);
        assert_eq!(c.fits(Usage::new(200, 0), none, limits, &count).unwrap(), None, "found by counting again");
        assert!(c.fits(Usage::new(2000, 0), none, limits, &count).unwrap().is_some());
        assert_eq!(c.fits(Usage::new(0, 9), none, limits, &count).unwrap(), None, "1 held + 9 fit under 10");
        assert_eq!(c.fits(Usage::new(0, 9), Usage::new(0, 1), limits, &count).unwrap(), Some(Over::Entries(10)));
        let unlimited = Limits::default();
        assert_eq!(c.fits(Usage::new(u64::MAX, u64::MAX), none, unlimited, &count).unwrap(), None);
    }

    #[test]
    fn an_older_record_of_bytes_only_is_counted_again() {
        let f = file("old");
        std::fs::create_dir_all(f.path.parent().unwrap()).unwrap();
        std::fs::write(&f.path, format!("{:>20}\n", 12)).unwrap();
        let mut c = f.lock(Some(Instant::now())).unwrap();
        assert_eq!(c.held(&|| Ok(Usage::new(7, 2))).unwrap(), Usage::new(7, 2));
    }

    #[test]
    fn a_torn_record_is_counted_again() {
        let f = file("torn");
        std::fs::create_dir_all(f.path.parent().unwrap()).unwrap();
        std::fs::write(&f.path, b"12").unwrap();
        let mut c = f.lock(Some(Instant::now())).unwrap();
        assert_eq!(c.held(&|| Ok(Usage::new(7, 1))).unwrap(), Usage::new(7, 1));
    }
}
