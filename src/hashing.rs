//! Hashing beside I/O.
//!
//! A verified transfer is bound by MD5. [`Hashing`] lets the thread that
//! moves bytes (socket to file, or file to socket) hand each buffer to a
//! hashing thread and go on with the next one, so moving and hashing
//! overlap and a transfer runs at the speed of the slower of the two. Small
//! transfers hash inline: a thread is not worth it for them.
//!
//! Buffers circulate between the two threads (a fixed number of them), so
//! memory per transfer is bounded and nothing is allocated per chunk.
//! [`fill`] reads a buffer full, for either side.

use std::fs::File;
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use crate::digest::{Hasher, hash_range};

/// Size of one buffer.
pub const BUF: usize = 256 * 1024;
/// Buffers in flight per threaded transfer.
const BUFS: usize = 16;
/// Transfers at least this long hash on their own thread.
pub const THREADED_FROM: u64 = 4 << 20;
/// The hashing thread publishes a resumable snapshot this often.
const SNAPSHOT_EVERY: u64 = 64 << 20;

/// A running hash fed with filled buffers.
pub enum Hashing {
    Inline { hasher: Hasher, spare: Option<Vec<u8>> },
    Threaded(Pipe),
}

impl Hashing {
    /// Continues `hasher` (which has hashed `done` bytes) over `len` more.
    pub fn new(hasher: Hasher, done: u64, len: u64) -> Hashing {
        if len >= THREADED_FROM
            && let Some(pipe) = Pipe::start(hasher.clone(), done)
        {
            return Hashing::Threaded(pipe);
        }
        let size = BUF.min(len.max(1) as usize);
        Hashing::Inline { hasher, spare: Some(vec![0u8; size]) }
    }

    /// An empty buffer to fill.
    pub fn buffer(&mut self) -> Vec<u8> {
        match self {
            Hashing::Inline { spare, .. } => spare.take().unwrap_or_else(|| vec![0u8; BUF]),
            Hashing::Threaded(pipe) => pipe.buffer(),
        }
    }

    /// Hashes the first `n` bytes of `buf` (which comes back via `buffer`).
    pub fn push(&mut self, buf: Vec<u8>, n: usize) {
        match self {
            Hashing::Inline { hasher, spare } => {
                hasher.update(&buf[..n]);
                *spare = Some(buf);
            }
            Hashing::Threaded(pipe) => pipe.push(buf, n),
        }
    }

    /// Bytes hashed and the hasher state there, as of the last snapshot.
    pub fn snapshot(&self) -> Option<(u64, String)> {
        match self {
            Hashing::Inline { .. } => None,
            Hashing::Threaded(pipe) => Some(pipe.snapshot()),
        }
    }

    /// Waits until every pushed byte is hashed.
    pub fn finish(self) -> Hasher {
        match self {
            Hashing::Inline { hasher, .. } => hasher,
            Hashing::Threaded(pipe) => pipe.finish(),
        }
    }
}

/// The threaded form: a hashing thread and the buffers going round.
pub struct Pipe {
    work: Option<SyncSender<(Vec<u8>, usize)>>,
    free: Receiver<Vec<u8>>,
    worker: Option<JoinHandle<Hasher>>,
    fallback: Hasher,
    snapshot: Arc<Mutex<(u64, String)>>,
}

impl Pipe {
    fn start(hasher: Hasher, done: u64) -> Option<Pipe> {
        let (work_tx, work_rx) = sync_channel::<(Vec<u8>, usize)>(BUFS);
        let (free_tx, free_rx) = sync_channel::<Vec<u8>>(BUFS);
        for _ in 0..BUFS {
            free_tx.send(vec![0u8; BUF]).ok()?;
        }
        let snapshot = Arc::new(Mutex::new((done, hasher.save())));
        let shared = Arc::clone(&snapshot);
        let mut h = hasher.clone();
        let worker = thread::Builder::new()
            .name("hash".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                let (mut hashed, mut last) = (done, done);
                while let Ok((buf, n)) = work_rx.recv() {
                    h.update(&buf[..n]);
                    hashed += n as u64;
                    if hashed - last >= SNAPSHOT_EVERY {
                        *shared.lock().unwrap_or_else(|e| e.into_inner()) = (hashed, h.save());
                        last = hashed;
                    }
                    let _ = free_tx.send(buf);
                }
                h
            })
            .ok()?;
        Some(Pipe { work: Some(work_tx), free: free_rx, worker: Some(worker), fallback: hasher, snapshot })
    }

    fn buffer(&mut self) -> Vec<u8> {
        self.free.recv().unwrap_or_else(|_| vec![0u8; BUF])
    }

    fn push(&mut self, buf: Vec<u8>, n: usize) {
        if let Some(work) = &self.work {
            let _ = work.send((buf, n));
        }
    }

    fn snapshot(&self) -> (u64, String) {
        self.snapshot.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn finish(mut self) -> Hasher {
        self.work = None;
        match self.worker.take().map(JoinHandle::join) {
            Some(Ok(h)) => h,
            // The hashing thread cannot panic on data; should it die anyway,
            // the result is a wrong digest, which verification refuses.
            _ => std::mem::take(&mut self.fallback),
        }
    }
}

/// A range of a file hashed on its own thread (or at once, when small),
/// while the caller sends the same range with the kernel's zero-copy path.
pub struct FileHash {
    done: Option<io::Result<Hasher>>,
    worker: Option<JoinHandle<io::Result<Hasher>>>,
    cancel: Arc<AtomicBool>,
}

impl FileHash {
    /// Starts hashing `len` bytes from `from`, continuing `hasher`.
    pub fn start(file: &File, from: u64, len: u64, mut hasher: Hasher) -> FileHash {
        let cancel = Arc::new(AtomicBool::new(false));
        let threaded = (len >= THREADED_FROM).then(|| file.try_clone().ok()).flatten();
        let Some(file) = threaded else {
            let done = hash_range(file, from, len, &mut hasher).map(|_| hasher);
            return FileHash { done: Some(done), worker: None, cancel };
        };
        let stop = Arc::clone(&cancel);
        let spawned =
            thread::Builder::new().name("hash".into()).spawn(move || hash_steps(&file, from, len, hasher, &stop));
        match spawned {
            Ok(worker) => FileHash { done: None, worker: Some(worker), cancel },
            Err(e) => FileHash { done: Some(Err(e)), worker: None, cancel },
        }
    }

    /// Waits for the hash of the whole range.
    pub fn finish(mut self) -> io::Result<Hasher> {
        if let Some(worker) = self.worker.take() {
            return worker.join().unwrap_or_else(|_| Err(io::Error::other("hashing thread failed")));
        }
        self.done.take().unwrap_or_else(|| Err(io::Error::other("hash already taken")))
    }
}

impl Drop for FileHash {
    /// A transfer given up early stops its hashing too.
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

/// Continues `hasher` over `len` bytes of `file` from `from`, in steps,
/// giving up between steps once `stop` is set (the hash is then partial:
/// its caller no longer wants it).
pub fn hash_steps(file: &File, from: u64, len: u64, mut hasher: Hasher, stop: &AtomicBool) -> io::Result<Hasher> {
    const STEP: u64 = 8 << 20;
    let mut at = from;
    while at < from + len && !stop.load(Ordering::Relaxed) {
        let n = STEP.min(from + len - at);
        hash_range(file, at, n, &mut hasher)?;
        at += n;
    }
    Ok(hasher)
}

/// Reads until `buf` is full; returns how much arrived and the error that
/// stopped it early, if any (end of input counts as one).
pub(crate) fn fill(input: &mut impl Read, buf: &mut [u8]) -> (usize, Option<io::Error>) {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => return (n, Some(io::ErrorKind::UnexpectedEof.into())),
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (n, Some(e)),
        }
    }
    (n, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;

    #[test]
    fn threaded_and_inline_hash_the_same() {
        let data: Vec<u8> = (0..(THREADED_FROM as usize + 12345)).map(|i| (i * 31 % 251) as u8).collect();
        for len in [data.len() as u64, 100] {
            let mut h = Hashing::new(Hasher::new(), 0, len);
            for chunk in data[..len as usize].chunks(100_000) {
                let mut buf = h.buffer();
                buf[..chunk.len()].copy_from_slice(chunk);
                h.push(buf, chunk.len());
            }
            assert_eq!(h.finish().peek(), Digest::of(&data[..len as usize]), "len {len}");
        }
    }
}
