//! Verified, resumable transfers: staged uploads and recorded digests.
//!
//! An upload is received into `staging/USER/KEY.part` (KEY is the MD5 of
//! the target's user path), outside the visible tree, beside a `KEY.meta`
//! record: target path, size, announced MD5, and the saved MD5 state of the
//! bytes held, so a resume never re-reads them. Beside them, `KEY.marks`
//! keeps the hasher state every 64 MiB of the staged bytes (appended as
//! they arrive), so that a resume from an earlier point (`FROM`) re-reads
//! at most 64 MiB. The `.part` file is locked
//! (`flock`) for as long as one session uploads it: a second session gets
//! `450`, and a lock left by a dead session is released by the kernel.
//! Only a staged file whose MD5 matches is renamed over its target, after
//! an fsync, followed by an fsync of the directory; uploads pipelined on
//! one connection share these fsyncs (see `commit`). With a quota, an upload
//! books its announced size when accepted and the booking is checked again
//! at commit (see [`crate::storage::quota`]).
//!
//! Committed files get their MD5 recorded ([`crate::storage::digests`]), so a download
//! never hashes a file just to send its digest.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::{self, JoinHandle};
use std::time::{Duration, SystemTime};

use crate::behind::drop_cached;
use crate::digest::{Digest, Hasher, hash_range};
use crate::hashing::Hashing;
use crate::storage::digests::Sums;
use crate::storage::durable::{open_or_create, replace_record};
use crate::storage::error::{Error, ErrorKind, Result};
use crate::storage::health;
use crate::storage::quota::{Ledger, Quota, Reservation, staged_bytes_where};
use crate::storage::tree::{Kind, Tree, UserPath};
use crate::storage::usage::Usage;
use crate::sys;

mod commit;
pub(crate) use commit::{Place, Verified, commit_group};

/// The saved hasher state is refreshed after this many received bytes, so a
/// crash leaves little to re-hash.
const SAVE_EVERY: u64 = 64 << 20;
/// Uploads at least this long record their attempt before the payload, so
/// that even a crash (no chance to save) leaves them resumable.
const RECORD_FROM: u64 = 1 << 20;
/// A mark (the hasher state at a point of the staged bytes) is kept this
/// often, so that a FROM below what is held re-reads at most this much.
const MARK_EVERY: u64 = 64 << 20;
/// Received bytes are pushed towards the disk this often during a large
/// upload, so the fsync before `226` only has the last stretch to write.
const FLUSH_EVERY: u64 = 32 << 20;

/// What an upload request asks for, already parsed and resolved.
pub struct Request<'a> {
    pub path: &'a UserPath,
    pub size: u64,
    pub md5: Option<Digest>,
    pub from: Option<u64>,
}

/// Limits that apply to one upload.
pub struct Limits {
    pub max_file_size: u64,
    pub(crate) quota: Option<Quota>,
}

/// The saved record beside a `.part` file.
#[derive(Debug, Default, PartialEq)]
struct Meta {
    path: String,
    size: u64,
    md5: Option<String>,
    len: u64,
    state: String,
}

impl Meta {
    fn to_text(&self) -> String {
        format!(
            "netdisk-part v1\nsize {}\nmd5 {}\nlen {}\nstate {}\npath {}\n",
            self.size,
            self.md5.as_deref().unwrap_or("-"),
            self.len,
            self.state,
            self.path
        )
    }

    fn parse(text: &str) -> Option<Meta> {
        let mut lines = text.lines();
        if lines.next()? != "netdisk-part v1" {
            return None;
        }
        let mut meta = Meta::default();
        for line in lines {
            let (key, value) = line.split_once(' ')?;
            match key {
                "size" => meta.size = value.parse().ok()?,
                "md5" => meta.md5 = (value != "-").then(|| value.to_string()),
                "len" => meta.len = value.parse().ok()?,
                "state" => meta.state = value.to_string(),
                "path" => meta.path = value.to_string(),
                _ => {}
            }
        }
        Some(meta)
    }
}

/// An upload in progress: the locked `.part` file and the hash of what it
/// holds.
pub struct Upload {
    /// Declared first, so dropped first: the booking is given back before
    /// the staged file's lock, and its bytes never go uncounted.
    booked: Option<Booked>,
    part: File,
    part_path: PathBuf,
    meta_path: PathBuf,
    marks_path: PathBuf,
    meta: Meta,
    /// The MD5 announced by this request (not an earlier attempt's).
    expected: Option<Digest>,
    hasher: Hasher,
    held: u64,
    unsaved: u64,
    /// The hasher state an adopted earlier attempt saved: where, and what.
    saved: Option<(u64, String)>,
    /// Where the last mark was left (0: none yet).
    last_mark: u64,
    /// Staged bytes read again to bring the hasher to the starting point.
    rehashed: u64,
}

/// This upload's booking against the user's quota.
struct Booked {
    reservation: Reservation,
    quota: Quota,
}

impl Upload {
    /// Checks the request, locks the staged file, and decides how many
    /// bytes the server already holds. Everything is decided before any
    /// file changes: a refused request leaves the staged bytes as they were.
    pub(crate) fn prepare(tree: &Tree, staging: &Path, req: &Request, limits: Limits) -> Result<Upload> {
        let what = req.path.to_string();
        if req.size > limits.max_file_size {
            return Err(Error::new(ErrorKind::Quota, format!("{what}: larger than the server's file-size limit")));
        }
        tree.file_target(req.path)?;
        let mut up = Upload::open(staging, &what)?;
        let start = up.decide(req, limits.quota).inspect_err(|_| up.forget_if_empty())?;
        let started = up.start_at(start).and_then(|_| up.record_attempt(req)).map_err(|e| Error::io(&what, e));
        if let Err(e) = started {
            // The server's disk full: nothing staged may keep it full.
            if e.kind() == ErrorKind::DiskFull {
                up.discard();
            }
            return Err(e);
        }
        Ok(up)
    }

    /// Opens and locks the staged file of the user path `what`.
    fn open(staging: &Path, what: &str) -> Result<Upload> {
        fs::create_dir_all(staging).map_err(|e| Error::io(what, e))?;
        let part_path = part_path(staging, what);
        let part = lock_part(&part_path, what)?;
        Ok(Upload {
            booked: None,
            part,
            meta_path: part_path.with_extension("meta"),
            marks_path: part_path.with_extension("marks"),
            part_path,
            meta: Meta { path: what.to_string(), ..Meta::default() },
            expected: None,
            hasher: Hasher::new(),
            held: 0,
            unsaved: 0,
            saved: None,
            last_mark: 0,
            rehashed: 0,
        })
    }

    /// Decides where this upload starts, changing no file: books its size
    /// against the quota, adopts an earlier attempt's bytes if they fit this
    /// request, and checks FROM against what is held.
    fn decide(&mut self, req: &Request, quota: Option<Quota>) -> Result<u64> {
        if let Some(quota) = quota {
            self.booked = Some(self.book(req, quota)?);
        }
        let part_len = self.part.metadata().map_err(|e| Error::io(&self.meta.path, e))?.len();
        let old = fs::read_to_string(&self.meta_path).ok().and_then(|t| Meta::parse(&t));
        self.held = self.adopt(old, req, part_len);
        match req.from {
            Some(from) if from > self.held => {
                Err(Error::new(ErrorKind::BadArgs, format!("FROM {from} is more than the {} bytes held", self.held)))
            }
            Some(from) => Ok(from),
            None => Ok(self.held),
        }
    }

    /// Books this upload's whole size against the quota, or refuses it. The
    /// file it replaces still counts: it is there until the commit (and a
    /// `mv` meanwhile must not make room twice).
    fn book(&self, req: &Request, quota: Quota) -> Result<Booked> {
        let account = quota.account.clone();
        let mut ledger = account.lock();
        let besides = self.staged_besides(&ledger).plus(ledger.booked_except(None));
        quota.check(&mut ledger, self.booked_size(req.size), besides, &self.meta.path)?;
        let reservation = ledger.book(&account, &self.part_path, self.booked_size(req.size));
        Ok(Booked { reservation, quota })
    }

    /// What an upload of `size` bytes books: its bytes and one entry (the
    /// file, or the trash entry of the file it replaces).
    fn booked_size(&self, size: u64) -> Usage {
        Usage::new(size, 1)
    }

    /// Staged uploads of the user that nobody booked (their bytes are
    /// held, but no upload in progress counts them), this one aside.
    fn staged_besides(&self, ledger: &Ledger) -> Usage {
        let staging = self.part_path.parent().unwrap_or(Path::new("/"));
        Usage::new(staged_bytes_where(staging, |p| p != self.part_path && !ledger.covers(p)), 0)
    }

    /// After a refusal: removes the staged file if this request created it
    /// (empty, without a record), so that a refused request leaves nothing.
    fn forget_if_empty(&self) {
        let empty = self.part.metadata().is_ok_and(|m| m.len() == 0);
        if empty && !self.meta_path.exists() {
            let _ = fs::remove_file(&self.part_path);
        }
    }

    /// Writes (or drops) the record of this attempt. The record must never
    /// describe bytes other than the ones staged now. Large uploads record
    /// the attempt, for resuming after a crash; small ones drop an older
    /// record (a crash restarts them from zero) and save one only if
    /// interrupted.
    fn record_attempt(&mut self, req: &Request) -> io::Result<()> {
        self.meta.size = req.size;
        self.expected = req.md5;
        // Kept for matching a later resume: this request's MD5, or that of
        // the attempt whose bytes are still held.
        self.meta.md5 = req.md5.map(|d| d.to_string()).or(self.meta.md5.take());
        if self.remaining() >= RECORD_FROM { self.save() } else { self.forget_record() }
    }

    fn forget_record(&self) -> io::Result<()> {
        match fs::remove_file(&self.meta_path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Adopts an earlier attempt's bytes when it was for the same path and
    /// size and its MD5 does not contradict this one; returns how many bytes
    /// this request may build on (0: start over).
    fn adopt(&mut self, old: Option<Meta>, req: &Request, part_len: u64) -> u64 {
        let what = req.path.to_string();
        let same = old.filter(|m| {
            let agree = match (&m.md5, req.md5) {
                (Some(a), Some(b)) => Digest::from_hex(a) == Some(b),
                _ => true,
            };
            m.path == what && m.size == req.size && agree && part_len <= req.size
        });
        let Some(old) = same else { return 0 };
        self.meta.md5 = old.md5;
        self.saved = (old.len <= part_len).then_some((old.len, old.state));
        part_len
    }

    /// Keeps the first `len` staged bytes and brings the hasher there from
    /// the nearest saved state at or before `len` (the adopted record, or a
    /// mark), so that at most the stretch after it is read again. Marks past
    /// `len` go first: a crash in between leaves none that lie.
    fn start_at(&mut self, len: u64) -> io::Result<()> {
        if len == 0 {
            self.meta.md5 = None;
        }
        let marks = scan_marks(&self.marks_path, len);
        cut_marks(&self.marks_path, marks.keep)?;
        if self.part.metadata()?.len() != len {
            self.part.set_len(len)?;
        }
        self.last_mark = marks.last.as_ref().map_or(0, |(at, _)| *at);
        let saved = self.saved.take().filter(|(at, _)| *at <= len);
        let restored = [saved, marks.last].into_iter().flatten();
        let best = restored.filter_map(|(at, state)| Some((at, Hasher::restore(&state)?))).max_by_key(|(at, _)| *at);
        let (from, hasher) = best.unwrap_or((0, Hasher::new()));
        self.hasher = hasher;
        self.held = len;
        self.advance(from, len)
    }

    /// Feeds the staged bytes `[at, to)` into the hasher, leaving a mark
    /// every [`MARK_EVERY`] bytes on the way.
    fn advance(&mut self, mut at: u64, to: u64) -> io::Result<()> {
        self.rehashed += to - at;
        while at < to {
            let due = self.last_mark + MARK_EVERY;
            let next = if due > at { due.min(to) } else { to.min(at + MARK_EVERY) };
            hash_range(&self.part, at, next - at, &mut self.hasher)?;
            at = next;
            self.mark(at, &self.hasher.save());
        }
        Ok(())
    }

    /// Appends a mark (best effort: marks only save time) if the last one
    /// is far enough behind.
    fn mark(&mut self, at: u64, state: &str) {
        if at >= self.last_mark + MARK_EVERY && append_mark(&self.marks_path, at, state).is_ok() {
            self.last_mark = at;
        }
    }

    /// `OFFSET` and `PREFIX_MD5` for the `150` reply.
    pub fn offer(&self) -> (u64, Digest) {
        (self.held, self.hasher.peek())
    }

    /// Staged bytes read again to prepare this upload (a resume after a
    /// crash hashes the tail past the saved state; a FROM below what is held
    /// hashes from the nearest mark).
    pub fn rehashed(&self) -> u64 {
        self.rehashed
    }

    /// Bytes still to come.
    pub fn remaining(&self) -> u64 {
        self.meta.size - self.held
    }

    /// Receives the rest of the payload, hashing beside the writing. A read
    /// failure (the client went away or stalled) is [`Stop::Client`], a
    /// write failure on the server [`Stop::Server`]; either way every byte
    /// written so far stays staged and its hash state is saved.
    pub fn receive(&mut self, input: &mut impl Read) -> std::result::Result<(), Stop> {
        if let Err(e) = self.part.seek(SeekFrom::Start(self.held)) {
            return Err(self.stop(Stop::Server(Error::io(&self.meta.path, e))));
        }
        let mut hashing = Hashing::new(std::mem::take(&mut self.hasher), self.held, self.remaining());
        let flusher = match hashing {
            Hashing::Threaded(_) => Flusher::start(&self.part, self.held),
            Hashing::Inline { .. } => None,
        };
        let start = self.held;
        let pumped = self.pump(input, &mut hashing, flusher.as_ref());
        if flusher.is_some() && self.held > start {
            // A receive shorter than a flush window (a tus PATCH of 8 MiB)
            // is never flushed by the flusher: hand its bytes to the
            // kernel for writeback now, and drop from the cache what the
            // receives just before it wrote (written back by now), as the
            // flusher does within one long receive. Advice only: the
            // commit still syncs everything.
            let back = start.saturating_sub(FLUSH_EVERY);
            drop_cached(&self.part, back, self.held - back);
        }
        let flushed = flusher.map_or(Ok(()), Flusher::finish);
        self.hasher = hashing.finish();
        // A failed write-back fails the upload, whatever else happened: the
        // final fsync would not see it again (the kernel reports it once).
        let stopped = match flushed {
            Err(e) => Err(Stop::Server(Error::io(&self.meta.path, e))),
            Ok(()) => pumped,
        };
        stopped.map_err(|stop| self.stop(stop))
    }

    fn pump(
        &mut self,
        input: &mut impl Read,
        hashing: &mut Hashing,
        flusher: Option<&Flusher>,
    ) -> std::result::Result<(), Stop> {
        let mut unflushed = 0;
        while self.remaining() > 0 {
            let mut buf = hashing.buffer();
            let want = buf.len().min(self.remaining() as usize);
            // One read, written at once: what arrived survives even a kill.
            let (n, err) = read_some(input, &mut buf[..want]);
            if n > 0 {
                self.part.write_all(&buf[..n]).map_err(|e| Stop::Server(Error::io(&self.meta.path, e)))?;
                hashing.push(buf, n);
                self.held += n as u64;
                self.unsaved += n as u64;
                unflushed += n as u64;
            }
            if unflushed >= FLUSH_EVERY {
                flusher.inspect(|f| f.nudge(self.held));
                unflushed = 0;
            }
            // The hashing thread lags behind the writes: record its latest
            // snapshot once it has moved on since the last record.
            if self.unsaved >= SAVE_EVERY
                && let Some((len, state)) = hashing.snapshot()
                && len > self.meta.len
            {
                self.unsaved = self.held - len;
                let _ = self.save_at(len, state);
            }
            if let Some(e) = err {
                return Err(Stop::Client(e));
            }
        }
        Ok(())
    }

    /// Saves what is held after an early stop; discards it when it must
    /// not stay: the server's disk is full (`452` keeps nothing staged), or
    /// the storage is failing (bytes whose write-back failed may be only
    /// in the page cache, so they are never resumed).
    fn stop(&mut self, stop: Stop) -> Stop {
        let full = matches!(&stop, Stop::Server(e) if e.kind() == ErrorKind::DiskFull);
        if full || health::failing().is_some() {
            self.discard();
            return stop;
        }
        if let Stop::Server(_) = stop {
            // Keep exactly what was hashed: a failed write may leave a torn tail.
            let _ = self.part.set_len(self.held);
        }
        let _ = self.save();
        stop
    }

    /// Records how far the staged bytes go and the hasher state there.
    fn save(&mut self) -> io::Result<()> {
        self.save_at(self.held, self.hasher.save())
    }

    fn save_at(&mut self, len: u64, state: String) -> io::Result<()> {
        self.meta.len = len;
        self.meta.state = state;
        replace_record(&self.meta_path, self.meta.to_text().as_bytes())?;
        let state = std::mem::take(&mut self.meta.state);
        self.mark(len, &state);
        self.meta.state = state;
        Ok(())
    }

    /// Keeps the staged bytes for a later attempt (when the upload cannot
    /// finish now, e.g. its digest line was unreadable).
    pub fn keep(mut self) {
        let _ = self.save();
    }

    /// The staged file.
    pub fn part_path(&self) -> &Path {
        &self.part_path
    }

    /// Bytes received so far in this file, counting earlier attempts.
    pub fn held(&self) -> u64 {
        self.held
    }

    fn discard(&mut self) {
        let _ = fs::remove_file(&self.part_path);
        let _ = fs::remove_file(&self.meta_path);
        let _ = fs::remove_file(&self.marks_path);
    }
}

/// One read; end of input counts as an error.
fn read_some(input: &mut impl Read, buf: &mut [u8]) -> (usize, Option<io::Error>) {
    loop {
        return match input.read(buf) {
            Ok(0) => (0, Some(io::ErrorKind::UnexpectedEof.into())),
            Ok(n) => (n, None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => (0, Some(e)),
        };
    }
}

/// Writes a file's dirty pages back in the background (`fdatasync` on a
/// second handle), when nudged, so the final fsync has little left to do;
/// then drops from the page cache what that fsync made clean, so a large
/// upload recycles a few windows of page cache instead of taking its whole
/// size in fresh memory (slow on a VM that returns free memory to its
/// host; see `crate::behind`). Dropping clean pages is advice: the bytes
/// are on disk, and a later read (a resume's re-hash) reads them back.
/// A failed `fdatasync` stops the flusher and is handed back by
/// [`Flusher::finish`]: the upload fails, as the kernel reports a
/// write-back error only once, to this handle, never again to the final
/// fsync on the upload's own.
struct Flusher {
    nudge: Option<SyncSender<u64>>,
    worker: Option<JoinHandle<io::Result<()>>>,
}

impl Flusher {
    /// Flushes `file` from `start` on (earlier bytes are not dropped).
    fn start(file: &File, start: u64) -> Option<Flusher> {
        let file = file.try_clone().ok()?;
        let (tx, rx) = sync_channel::<u64>(1);
        let worker = thread::Builder::new()
            .name("flush".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                let mut dropped = start;
                while let Ok(upto) = rx.recv() {
                    file.sync_data().map_err(|e| health::sync_failed("write-back", e))?;
                    if upto > dropped {
                        drop_cached(&file, dropped, upto - dropped);
                        dropped = upto;
                    }
                }
                Ok(())
            })
            .ok()?;
        Some(Flusher { nudge: Some(tx), worker: Some(worker) })
    }

    /// Asks for a flush of everything written before `upto`; a flush
    /// already pending covers most of it, and the next nudge the rest.
    fn nudge(&self, upto: u64) {
        if let Some(tx) = &self.nudge {
            let _ = tx.try_send(upto);
        }
    }

    /// Stops the worker; the write-back error it met, if any.
    fn finish(mut self) -> io::Result<()> {
        self.stop()
    }

    fn stop(&mut self) -> io::Result<()> {
        self.nudge = None;
        match self.worker.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the flusher thread panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// Why receiving stopped early.
#[derive(Debug)]
pub enum Stop {
    /// The client stopped sending (closed, reset, or stalled); the
    /// error is kept for `Debug`.
    Client(#[allow(dead_code)] io::Error),
    /// Writing on the server failed (e.g. the disk is full).
    Server(Error),
}

/// Where the upload of the user path `what` is staged.
pub fn part_path(staging: &Path, what: &str) -> PathBuf {
    staging.join(format!("{}.part", Digest::of(what.as_bytes())))
}

/// Opens and locks the staged file, making sure the lock is on the file
/// that is still at that path (it may have just been committed or removed).
fn lock_part(path: &Path, what: &str) -> Result<File> {
    loop {
        let options = OpenOptions::new().read(true).write(true).create(true).truncate(false).clone();
        let file = open_or_create(&options, path).map_err(|e| Error::io(what, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(Error::new(ErrorKind::Busy, format!("{what}: being uploaded by another session")));
            }
            Err(fs::TryLockError::Error(e)) => return Err(Error::io(what, e)),
        }
        let held = file.metadata().map_err(|e| Error::io(what, e))?;
        match fs::symlink_metadata(path) {
            Ok(now) if now.ino() == held.ino() && now.dev() == held.dev() => return Ok(file),
            _ => continue,
        }
    }
}

/// A file opened for download, with its size and whole-file MD5.
pub struct Download {
    pub file: File,
    pub size: u64,
    pub md5: Digest,
}

impl Download {
    /// Opens a regular file (never a link or FIFO) and positions it at
    /// `offset`.
    pub fn open(tree: &Tree, sums: &Sums, path: &UserPath, offset: u64) -> Result<Download> {
        let what = path.to_string();
        let entry = tree.entry(path)?;
        if entry.kind != Kind::File {
            return Err(Error::new(ErrorKind::Refused, format!("{what}: is a directory")));
        }
        let real = tree.checked(path)?;
        let io = |e| Error::io(&what, e);
        let mut file = OpenOptions::new().read(true).custom_flags(sys::O_NONBLOCK).open(&real).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() || meta.ino() != entry.meta.ino() || meta.dev() != entry.meta.dev() {
            return Err(Error::new(ErrorKind::NotFound, format!("{what}: changed while opening")));
        }
        if offset > meta.len() {
            return Err(Error::new(
                ErrorKind::BadArgs,
                format!("OFFSET {offset} is past the end ({} bytes)", meta.len()),
            ));
        }
        let md5 = sums.of_file(&file, &meta).map_err(io)?;
        file.seek(SeekFrom::Start(offset)).map_err(io)?;
        Ok(Download { file, size: meta.len(), md5 })
    }
}

/// Removes staged uploads (and stray temporary files) not touched for
/// `ttl`, and at once the `.part` files that have no record (a crash during
/// a small upload leaves them: never resumable, yet counted in the quota);
/// never any that a session holds locked. Runs at start-up and then
/// periodically. Also removes the scratch directories a crash left
/// behind a copy.
pub fn sweep(staging_root: &Path, ttl: Duration) -> usize {
    let Ok(users) = fs::read_dir(staging_root) else { return 0 };
    let now = SystemTime::now();
    let old = |m: &Metadata| m.modified().ok().and_then(|t| now.duration_since(t).ok()).is_some_and(|age| age > ttl);
    let mut removed = 0;
    for dir in users.flatten() {
        let Ok(items) = fs::read_dir(dir.path()) else { continue };
        for item in items.flatten() {
            let Ok(meta) = item.metadata() else { continue };
            if meta.is_dir() {
                removed += usize::from(crate::storage::copies::remove_leftover(&item.path(), &meta));
                continue;
            }
            removed += usize::from(sweep_one(&item.path(), old(&meta)));
        }
    }
    removed
}

/// Removes one staged file if it is stale (`old`) or a `.part` without its
/// record; true if it did.
fn sweep_one(path: &Path, old: bool) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let is_part = ext == "part";
    if ext == "meta" || ext == "marks" {
        return old && absent(&path.with_extension("part")) && fs::remove_file(path).is_ok();
    }
    if !old && !is_part {
        return false;
    }
    // Remove it while holding its lock: a session that opened it
    // meanwhile sees it gone once it gets the lock, and starts anew.
    let Ok(file) = File::open(path) else { return false };
    if file.try_lock().is_err() {
        return false;
    }
    // Looked for under the lock: a session writes the record before it
    // lets go of an interrupted upload.
    let orphan = is_part && absent(&path.with_extension("meta"));
    if !(old || orphan) || fs::remove_file(path).is_err() {
        return false;
    }
    if is_part {
        let _ = fs::remove_file(path.with_extension("meta"));
        let _ = fs::remove_file(path.with_extension("marks"));
    }
    true
}

/// Whether `path` is known not to exist (a failed look is not absence).
fn absent(path: &Path) -> bool {
    matches!(fs::symlink_metadata(path), Err(e) if e.kind() == io::ErrorKind::NotFound)
}

/// Marks read from a `.marks` file up to a point.
#[derive(Default)]
struct Marks {
    /// Bytes of the file holding the marks kept.
    keep: u64,
    /// The last mark kept: where, and the hasher state there.
    last: Option<(u64, String)>,
}

/// Reads the marks at or before `upto` (they are in increasing order); a
/// torn or unreadable line ends them.
fn scan_marks(path: &Path, upto: u64) -> Marks {
    let mut marks = Marks::default();
    let Ok(file) = File::open(path) else { return marks };
    let mut reader = BufReader::new(file);
    let mut line = String::new();
    while let Ok(n @ 1..) = reader.read_line(&mut line) {
        let parsed = line.strip_suffix('\n').and_then(|l| l.split_once(' '));
        let Some((at, state)) = parsed.and_then(|(a, s)| Some((a.parse::<u64>().ok()?, s))) else { break };
        if at > upto || at <= marks.last.as_ref().map_or(0, |(a, _)| *a) {
            break;
        }
        marks.keep += n as u64;
        marks.last = Some((at, state.to_string()));
        line.clear();
    }
    marks
}

/// Cuts the marks file to its first `keep` bytes (none: removed).
fn cut_marks(path: &Path, keep: u64) -> io::Result<()> {
    let result = if keep == 0 {
        fs::remove_file(path)
    } else {
        OpenOptions::new().write(true).open(path).and_then(|f| f.set_len(keep))
    };
    match result {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn append_mark(path: &Path, at: u64, state: &str) -> io::Result<()> {
    let mut file = open_or_create(OpenOptions::new().append(true).create(true), path)?;
    file.write_all(format!("{at} {state}\n").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_round_trips() {
        let m = Meta { path: "/a b/c".into(), size: 10, md5: None, len: 4, state: "00ff".into() };
        assert_eq!(Meta::parse(&m.to_text()), Some(m));
        assert_eq!(Meta::parse("garbage"), None);
        assert_eq!(Meta::parse("netdisk-part v1\nsize x\n"), None);
    }
}
