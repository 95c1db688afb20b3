//! How many bytes a user's files and trash hold, known without walking
//! the tree on every upload.
//!
//! The figure lives in `usage/USER`, shared by every server process on the
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
/// The record: a fixed-width decimal, so a rewrite never leaves a tail.
const WIDTH: usize = 21;

/// The walk that counts a user's files and trash.
pub(crate) type Counter<'a> = &'a dyn Fn() -> Result<u64>;
/// The same walk, owned (kept by an upload from its booking to its commit).
pub(crate) type CountFn = Box<dyn Fn() -> Result<u64>>;

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
        let open = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&self.path);
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

    /// The bytes of the user's files and trash: the recorded figure, or a
    /// new count when this process has none recent enough.
    pub(crate) fn held(&mut self, count: Counter) -> Result<u64> {
        let recent = self.last.is_some_and(|t| t.elapsed() < RECOUNT_AFTER);
        match self.read().filter(|_| recent) {
            Some(bytes) => Ok(bytes),
            None => self.recount(count),
        }
    }

    /// Counts again and records the result.
    /// A count that fails forgets the figure: no decision may go on
    /// trusting what can no longer be counted.
    pub(crate) fn recount(&mut self, count: Counter) -> Result<u64> {
        let bytes = count().inspect_err(|_| {
            let _ = self.forget();
            self.last = None;
        })?;
        self.write(bytes)?;
        self.last = Some(Instant::now());
        Ok(bytes)
    }

    /// Whether `more` bytes fit under `limit` beside what the user holds
    /// and `besides` (staged bytes, other bookings). Before saying no, a
    /// figure that may be stale is counted again.
    pub(crate) fn fits(&mut self, more: u64, besides: u64, limit: u64, count: Counter) -> Result<bool> {
        let need = more.saturating_add(besides);
        if self.held(count)?.saturating_add(need) <= limit {
            return Ok(true);
        }
        if self.last.is_some_and(|t| t.elapsed() < RECOUNT_BEFORE_REFUSING) {
            return Ok(false);
        }
        Ok(self.recount(count)?.saturating_add(need) <= limit)
    }

    /// Records bytes just placed in the user's tree (`added`) and a file
    /// that went for good in the same step (`removed`: one replaced and
    /// not kept in the trash).
    pub(crate) fn changed(&mut self, added: u64, removed: u64) -> Result<()> {
        match self.read() {
            Some(held) => self.write(held.saturating_add(added).saturating_sub(removed)),
            None => Ok(()),
        }
    }

    /// Forgets the figure: the next decision of any process counts again
    /// (after removals, which are not subtracted one by one).
    pub(crate) fn forget(&mut self) -> Result<()> {
        self.file.set_len(0).map_err(|e| Error::server("usage record", e))
    }

    fn read(&self) -> Option<u64> {
        let mut buf = [0u8; WIDTH];
        let n = self.file.read_at(&mut buf, 0).ok()?;
        let text = std::str::from_utf8(&buf[..n]).ok()?;
        text.strip_suffix('\n')?.trim_start().parse().ok()
    }

    fn write(&self, bytes: u64) -> Result<()> {
        let record = format!("{bytes:>width$}\n", width = WIDTH - 1);
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

    fn file(name: &str) -> UsageFile {
        let dir = std::env::temp_dir().join(format!("netdisk-usage-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        UsageFile::new(dir.join("u"))
    }

    #[test]
    fn counts_once_then_adds() {
        let f = file("once");
        let walks = Cell::new(0);
        let count = || {
            walks.set(walks.get() + 1);
            Ok(100)
        };
        let mut c = f.lock(None).unwrap();
        assert_eq!(c.held(&count).unwrap(), 100);
        c.changed(60, 10).unwrap();
        let last = c.last();
        drop(c);
        let mut c = f.lock(last).unwrap();
        assert_eq!(c.held(&count).unwrap(), 150);
        assert_eq!(walks.get(), 1, "a recent count is trusted");
        drop(c);
        let mut fresh = f.lock(None).unwrap();
        assert_eq!(fresh.held(&count).unwrap(), 100, "a process without a count of its own counts");
    }

    #[test]
    fn a_refusal_counts_again_unless_just_counted() {
        let f = file("refuse");
        let held = Cell::new(900);
        let count = || Ok(held.get());
        let mut c = f.lock(None).unwrap();
        assert!(!c.fits(200, 0, 1000, &count).unwrap(), "just counted: no second walk");
        held.set(100);
        c.last = Some(Instant::now() - RECOUNT_BEFORE_REFUSING * 2);
        assert!(c.fits(200, 0, 1000, &count).unwrap(), "removals found by counting again");
        assert!(!c.fits(2000, 0, 1000, &count).unwrap());
    }

    #[test]
    fn a_torn_record_is_counted_again() {
        let f = file("torn");
        std::fs::create_dir_all(f.path.parent().unwrap()).unwrap();
        std::fs::write(&f.path, b"12").unwrap();
        let mut c = f.lock(Some(Instant::now())).unwrap();
        assert_eq!(c.held(&|| Ok(7)).unwrap(), 7);
    }
}
