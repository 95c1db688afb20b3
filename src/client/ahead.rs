//! Hashing ahead of an upload that is already sending.
//!
//! A large file whose digest is not cached is not read twice in series
//! (once to learn its MD5 for `claim`, once to send it): its `upload`
//! starts at once with MD5 `-`, and a thread hashes the file ahead of the
//! kernel's sending. The digest it computes is the line sent after the
//! payload. When the hash is done while much is left to send, the thread
//! also asks the server, on a second connection of the same user, whether
//! it holds the content (`claim`): on `550 not held` the upload goes on;
//! on `350` the thread cuts the upload's connection, sends the proof, and
//! after the `226` drops what the server staged of the cut upload
//! ([`Client::drop_staged`]). A digest already cached is claimed first,
//! as before: no thread, no second connection.
//!
//! It never leaves a claim half done (a connection closed after a `350`
//! counts as a failed proof): once the `claim` line is sent the exchange
//! is finished, and the upload waits for the thread before it returns.

use std::fs::{File, Metadata};
use std::io;
use std::net::{Shutdown, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::{Client, ClientError};
use crate::digest::{Digest, EMPTY_MD5, Hasher};
use crate::hashing::hash_steps;
use crate::proto::{Code, Command};

/// Round trips a switch to `claim` costs: connect, login, claim, proof,
/// and dropping the staged bytes.
const CLAIM_TRIPS: u32 = 5;
/// Besides them: the server's password hash at login, the proof's reads.
const CLAIM_MARGIN: Duration = Duration::from_millis(20);
/// Attempts at dropping the staged bytes while the cut upload's session
/// still holds them (`450`), and the pause between two.
const DROP_TRIES: usize = 20;
const DROP_PAUSE: Duration = Duration::from_millis(50);

/// What the upload and the hashing thread share.
#[derive(Default)]
struct Shared {
    /// Bytes of the file sent (a resumed upload's offset counted).
    sent: AtomicU64,
    /// The upload has sent everything: no claim starts from now on.
    finished: AtomicBool,
    /// The upload gave up: hashing stops, no claim starts.
    abandoned: AtomicBool,
    /// The content is held: the upload's connection is cut.
    switched: AtomicBool,
}

/// What the thread works with.
pub(super) struct Plan {
    /// Its own handle on the file, and the file as the upload opened it.
    pub file: File,
    pub meta: Metadata,
    /// Where the upload started, the hash of the bytes before, the size.
    pub from: u64,
    pub hasher: Hasher,
    pub size: u64,
    pub remote: String,
    /// A client not yet connected, with the upload's login and directory.
    pub side: Client,
    /// The upload's connection, cut when the content is held.
    pub cut: TcpStream,
    /// The round trip the upload's request took.
    pub rtt: Duration,
}

/// How the thread's claim ended.
pub(super) enum Claimed {
    /// Not asked, or not held: the upload stands on its own.
    No,
    /// Held and proven: the file is in place; the second connection, and
    /// the file's digest.
    Yes(Client, Digest),
    /// The upload was cut, then the claim failed.
    Failed(ClientError),
}

/// The hashing thread of one upload.
pub(super) struct Ahead {
    shared: Arc<Shared>,
    digest: Receiver<io::Result<Digest>>,
    worker: Option<JoinHandle<Claimed>>,
}

impl Ahead {
    pub(super) fn start(plan: Plan) -> io::Result<Ahead> {
        let shared = Arc::new(Shared::default());
        shared.sent.store(plan.from, Ordering::Relaxed);
        let (tx, rx) = sync_channel(1);
        let theirs = Arc::clone(&shared);
        let worker = thread::Builder::new().name("ahead".into()).spawn(move || run(plan, &theirs, &tx))?;
        Ok(Ahead { shared, digest: rx, worker: Some(worker) })
    }

    /// The upload has sent the file up to `upto`.
    pub(super) fn sent(&self, upto: u64) {
        self.shared.sent.store(upto, Ordering::Relaxed);
    }

    /// Whether the thread found the content held and cut the upload.
    pub(super) fn switched(&self) -> bool {
        self.shared.switched.load(Ordering::SeqCst)
    }

    /// The whole file's digest, once the upload has sent everything.
    pub(super) fn digest(&self) -> io::Result<Digest> {
        self.shared.finished.store(true, Ordering::SeqCst);
        self.digest.recv().unwrap_or_else(|_| Err(io::Error::other("the hashing thread stopped")))
    }

    /// Waits for the thread (hashing stops if it is still at it); how its
    /// claim ended.
    pub(super) fn join(mut self) -> Claimed {
        self.stop()
    }

    fn stop(&mut self) -> Claimed {
        self.shared.abandoned.store(true, Ordering::SeqCst);
        match self.worker.take().map(JoinHandle::join) {
            Some(Ok(claimed)) => claimed,
            Some(Err(_)) => Claimed::Failed(ClientError::Protocol("the hashing thread failed".into())),
            None => Claimed::No,
        }
    }
}

impl Drop for Ahead {
    /// No thread outlives its upload.
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// The thread: the hash, published for the digest line; then, if it came
/// early enough, the claim.
fn run(plan: Plan, shared: &Shared, digest: &SyncSender<io::Result<Digest>>) -> Claimed {
    let started = Instant::now();
    let len = plan.size - plan.from;
    let hashed = hash_steps(&plan.file, plan.from, len, plan.hasher.clone(), &shared.abandoned);
    if shared.abandoned.load(Ordering::SeqCst) {
        return Claimed::No;
    }
    let md5 = match hashed {
        Ok(hasher) => hasher.peek(),
        Err(e) => {
            let _ = digest.send(Err(e));
            return Claimed::No;
        }
    };
    let _ = digest.send(Ok(md5));
    if !worth_claiming(&plan, shared, started) || !unchanged(&plan.file, &plan.meta) {
        return Claimed::No;
    }
    claim(plan, md5, shared)
}

/// Whether a claim could still save time: what is left to send takes
/// longer, at the rate so far, than the claim's round trips.
fn worth_claiming(plan: &Plan, shared: &Shared, started: Instant) -> bool {
    if shared.finished.load(Ordering::SeqCst) || shared.abandoned.load(Ordering::SeqCst) {
        return false;
    }
    let sent = shared.sent.load(Ordering::Relaxed);
    let (left, moved) = (plan.size.saturating_sub(sent), sent.saturating_sub(plan.from));
    let rate = moved as f64 / started.elapsed().as_secs_f64().max(1e-6);
    let cost = plan.rtt * CLAIM_TRIPS + CLAIM_MARGIN;
    left > 0 && (moved == 0 || left as f64 / rate > cost.as_secs_f64())
}

/// The claim on a second connection; on `350` the upload is cut first.
fn claim(plan: Plan, md5: Digest, shared: &Shared) -> Claimed {
    let Plan { mut file, mut side, cut, remote, size, .. } = plan;
    let wanted = || !shared.finished.load(Ordering::SeqCst) && !shared.abandoned.load(Ordering::SeqCst);
    if side.ensure_open().is_err() || !wanted() {
        return Claimed::No;
    }
    let mut held = || {
        shared.switched.store(true, Ordering::SeqCst);
        let _ = cut.shutdown(Shutdown::Both);
    };
    match side.claim_then(&mut file, &remote, size, md5, &mut held) {
        Ok(Some(_)) => {
            side.drop_staged(&remote, md5);
            Claimed::Yes(side, md5)
        }
        Err(e) if shared.switched.load(Ordering::SeqCst) => Claimed::Failed(e),
        // Not held, or refused (both bookings may not fit a quota): the
        // upload goes on.
        Ok(None) | Err(_) => Claimed::No,
    }
}

impl Client {
    /// Drops what the server staged of a cut upload of `remote` whose
    /// content was then claimed: `upload PATH 0 MD5 0`. FROM 0 throws the
    /// staged bytes away; MD5 (the claimed file's) is not an empty file's,
    /// so the server answers `554`, deletes what this request staged and
    /// leaves PATH alone. While the cut upload's session still holds them
    /// (`450`, after which the server closes) it is tried again. Best
    /// effort: bytes left staged are swept after the server's
    /// `--partial-ttl`.
    fn drop_staged(&mut self, remote: &str, md5: Digest) {
        if md5.to_string() == EMPTY_MD5 {
            return;
        }
        let cmd = Command::Upload { path: remote.into(), size: 0, md5: Some(md5), from: Some(0) };
        for _ in 0..DROP_TRIES {
            match self.request(&cmd) {
                Ok(offer) if offer.code == Code::Payload => {
                    let _ = self.read_reply();
                    return;
                }
                Ok(busy) if busy.code == Code::Busy => {
                    self.drop_conn();
                    thread::sleep(DROP_PAUSE);
                }
                _ => {
                    self.drop_conn();
                    return;
                }
            }
        }
    }
}

/// Whether `file` is as it was when `meta` was taken (size, modification
/// and change times): bytes read across a change are never committed.
pub(super) fn unchanged(file: &File, meta: &Metadata) -> bool {
    let stamp = |m: &Metadata| (m.len(), m.mtime(), m.mtime_nsec(), m.ctime(), m.ctime_nsec());
    file.metadata().is_ok_and(|now| stamp(&now) == stamp(meta))
}
