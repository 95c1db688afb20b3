//! Verified, resumable transfers of one file: `upload` (with `claim` first
//! for large files whose digest is known), `download` into `NAME.part`.
//!
//! Uploads hash while sending (digest after the payload); a resume is
//! checked against the server's `PREFIX_MD5` and restarted with `FROM 0`
//! when the local file's start differs. Downloads go to `NAME.part` beside
//! the target, with `NAME.part.info` recording the remote size and MD5; the
//! target is only replaced once the whole file's MD5 matches.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, UNIX_EPOCH};

use super::ahead::{Ahead, Claimed, Plan, unchanged};
use super::{Client, ClientError, OnProgress, Progress, Result, Transferred};
use crate::behind::Behind;
use crate::digest::{Digest, Hasher, hash_range};
use crate::hashing::{FileHash, Hashing, fill};
use crate::proto::body::{Challenge, DownloadHead, Kind, Offer, Stored};
use crate::proto::{Code, Command, Reply};
use crate::sendfile::send_file;

/// How often, and how far apart, an upload refused with `450` is retried.
const BUSY_RETRIES: usize = 10;
const BUSY_PAUSE: Duration = Duration::from_millis(500);
/// Bytes sent per `sendfile` call during an upload (progress is reported
/// between calls).
const SEND_STEP: u64 = 1 << 20;
/// What an upload sends: the file (as opened), its size, where the
/// payload starts, and its digest when that went ahead in the request.
struct Sending<'a> {
    local: &'a Path,
    meta: &'a Metadata,
    size: u64,
    offset: u64,
    known: Option<Digest>,
}

/// Where the digest of an upload comes from: sent ahead in the request,
/// or hashed while sending and sent after the payload.
enum Digesting {
    Known(Digest),
    After(FileHash),
}

/// Files from this size on are offered with `claim`, the instant upload.
pub const CLAIM_FROM: u64 = 1 << 20;
/// Files from this size on whose digest is not cached are sent at once,
/// their hash computed ahead of the sending and claimed when it is done
/// early (see `client::ahead`); smaller ones are hashed first, then
/// claimed: hashing 16 MiB costs less than the second connection a
/// switch to `claim` needs.
pub const AHEAD_FROM: u64 = 16 << 20;

impl Client {
    /// Uploads `local` to `remote`, resuming an interrupted upload of the
    /// same file, hashing while sending, verified by the server. A file of
    /// [`CLAIM_FROM`] bytes or more is claimed (see [`Client::claim`]):
    /// first when its digest is cached or it is smaller than
    /// [`AHEAD_FROM`], else once its hash, computed while the upload
    /// already sends, is known.
    pub fn upload(&mut self, local: &Path, remote: &str, progress: OnProgress) -> Result<Transferred> {
        let local_err = |e| ClientError::Local(local.to_path_buf(), e);
        let mut file = File::open(local).map_err(local_err)?;
        let meta = file.metadata().map_err(local_err)?;
        if !meta.is_file() {
            return Err(local_err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file")));
        }
        let size = meta.len();
        let cached = self.cache.as_ref().and_then(|c| c.cached(local, &meta));
        let ahead = size >= AHEAD_FROM && cached.is_none();
        // A file hashed for `claim` sends that digest ahead of the payload
        // instead of hashing the file a second time while sending.
        let mut known = None;
        if size >= CLAIM_FROM && !ahead {
            let md5 = self.local_digest(local, &meta)?;
            if let Some(done) = self.claim(&mut file, remote, size, md5)? {
                self.keep_time(remote, &meta);
                return Ok(done);
            }
            known = Some(md5);
        }
        let asked = Instant::now();
        let (offset, hasher) = match self.start_upload((&mut file, local), remote, size, known, None)? {
            Some(ok) => ok,
            None => {
                self.drop_conn();
                self.start_upload((&mut file, local), remote, size, known, Some(0))?.ok_or_else(|| {
                    ClientError::Protocol("server kept offering a different prefix after FROM 0".into())
                })?
            }
        };
        let sending = Sending { local, meta: &meta, size, offset, known };
        let sent = match ahead {
            true => self.send_racing(&mut file, sending, (hasher, remote, asked.elapsed()), progress)?,
            false => self.send_payload(&mut file, sending, hasher, progress)?,
        };
        if let Some(cache) = self.cache.as_mut() {
            cache.remember(local, &meta, sent.md5);
        }
        self.keep_time(remote, &meta);
        Ok(sent)
    }

    /// Gives the remote file the local one's MTIME (`touch`), after its
    /// `226`: a file streamed alone (1 MiB or more, or claimed) pays this
    /// one round trip; small files in a batch send it pipelined. Best
    /// effort: a server before protocol 2.1 does not know `touch`.
    fn keep_time(&mut self, remote: &str, meta: &fs::Metadata) {
        if let Ok(time) = meta.modified() {
            let _ = self.request(&Command::Touch { path: remote.into(), time });
        }
    }

    /// Offers `file` with `claim`: `Some` when the server already held the
    /// content and accepted the proof; `None` when the file must be sent
    /// (`550 not held`, or a server without `claim`).
    pub fn claim(&mut self, file: &mut File, remote: &str, size: u64, md5: Digest) -> Result<Option<Transferred>> {
        self.claim_then(file, remote, size, md5, &mut || {})
    }

    /// [`Client::claim`], calling `held` once the server says it holds the
    /// content (`350`), before the proof.
    pub(crate) fn claim_then(
        &mut self,
        file: &mut File,
        remote: &str,
        size: u64,
        md5: Digest,
        held: &mut dyn FnMut(),
    ) -> Result<Option<Transferred>> {
        let started = Instant::now();
        let reply = self.request(&Command::Claim { path: remote.into(), size, md5 })?;
        let stored = match reply.code {
            Code::ProofNeeded => {
                held();
                let challenge: Challenge = parse_body(&reply)?;
                let proof = prove(file, &challenge).map_err(|e| ClientError::Local(PathBuf::from(remote), e))?;
                self.send_line(&proof.to_string())?;
                let end = self.read_reply()?;
                if end.code != Code::TransferDone {
                    return Err(ClientError::Refused(end));
                }
                end
            }
            Code::TransferDone => reply,
            Code::Unavailable | Code::Syntax => return Ok(None),
            _ => return Err(ClientError::Refused(reply)),
        };
        let stored: Stored = parse_body(&stored)?;
        if stored.md5 != md5 {
            return Err(ClientError::Verify(format!("server stored {}, expected {md5}", stored.md5)));
        }
        let elapsed = started.elapsed();
        Ok(Some(Transferred { size, md5, resumed_at: size, moved: 0, elapsed, instant: true }))
    }

    /// Sends the header; returns the offset and the hash of the local prefix
    /// when it matches the server's, `None` when it does not.
    fn start_upload(
        &mut self,
        (file, local): (&mut File, &Path),
        remote: &str,
        size: u64,
        md5: Option<Digest>,
        from: Option<u64>,
    ) -> Result<Option<(u64, Hasher)>> {
        let cmd = Command::Upload { path: remote.into(), size, md5, from };
        let mut reply = self.request(&cmd)?;
        // Busy: most often our own interrupted upload, whose session the
        // server has not noticed is gone yet. Give it a moment.
        for _ in 0..BUSY_RETRIES {
            if reply.code != Code::Busy {
                break;
            }
            self.drop_conn();
            std::thread::sleep(BUSY_PAUSE);
            reply = self.request(&cmd)?;
        }
        if reply.code != Code::Payload {
            // The server closes the connection after refusing an upload.
            self.drop_conn();
            return Err(ClientError::Refused(reply));
        }
        let offered = parse_body::<Offer>(&reply).and_then(|offer| {
            if offer.offset > size {
                return Err(ClientError::Protocol(reply.text.clone()));
            }
            let hasher = hash_from(file, offer.offset).map_err(|e| ClientError::Local(local.to_path_buf(), e))?;
            Ok((hasher.peek() == offer.prefix).then_some((offer.offset, hasher)))
        });
        if offered.is_err() {
            // The server waits for a payload we will not send.
            self.drop_conn();
        }
        offered
    }

    fn send_payload(
        &mut self,
        file: &mut File,
        sending: Sending,
        hasher: Hasher,
        progress: OnProgress,
    ) -> Result<Transferred> {
        let started = Instant::now();
        let Sending { local, meta, size, offset, known } = sending;
        // Hash on one thread while the kernel sends the same bytes, unless
        // the digest went ahead in the request.
        let digest = match known {
            Some(md5) => Digesting::Known(md5),
            None => Digesting::After(FileHash::start(file, offset, size - offset, hasher)),
        };
        let mut done = offset;
        while done < size {
            done = self.send_step(file, local, done, size)?;
            self.report(progress, Progress { done, total: size, resumed_at: offset, elapsed: started.elapsed() })?;
        }
        let md5 = match digest {
            Digesting::Known(md5) => md5,
            Digesting::After(hashing) => {
                let md5 = hashing.finish().map_err(|e| ClientError::Local(local.to_path_buf(), e))?.peek();
                self.digest_line(file, (local, meta), md5)?;
                md5
            }
        };
        self.transfer_done((size, md5, offset), started)
    }

    /// Sends the payload while `ahead` hashes the file ahead of it, and
    /// switches to the claim `ahead` makes when the server holds the file.
    fn send_racing(
        &mut self,
        file: &mut File,
        sending: Sending,
        (hasher, remote, rtt): (Hasher, &str, Duration),
        progress: OnProgress,
    ) -> Result<Transferred> {
        let started = Instant::now();
        let Sending { local, meta, size, offset, .. } = sending;
        let local_err = |e| ClientError::Local(local.to_path_buf(), e);
        // A client like this one, not connected yet, for the claim.
        let side = Client {
            addr: self.addr.clone(),
            conn: None,
            login: self.login.clone(),
            cwd: self.cwd.clone(),
            cache: None,
        };
        let cut = self.conn()?.writer.try_clone().map_err(ClientError::Io)?;
        let (own, opened) = (file.try_clone().map_err(local_err)?, meta.clone());
        let plan = Plan { file: own, meta: opened, from: offset, hasher, size, remote: remote.into(), side, cut, rtt };
        let ahead = Ahead::start(plan).map_err(local_err)?;
        let mut done = offset;
        let sent = (|| {
            while done < size && !ahead.switched() {
                done = self.send_step(file, local, done, size)?;
                ahead.sent(done);
                self.report(progress, Progress { done, total: size, resumed_at: offset, elapsed: started.elapsed() })?;
            }
            if ahead.switched() {
                return Err(ClientError::Interrupted(done));
            }
            let md5 = ahead.digest().map_err(local_err)?;
            self.digest_line(file, (local, meta), md5)?;
            self.transfer_done((size, md5, offset), started)
        })();
        match (ahead.join(), sent) {
            (_, Ok(t)) => Ok(t),
            (Claimed::Yes(mut side, md5), Err(_)) => {
                // The claimed file is in place: carry on on its connection.
                self.conn = side.conn.take();
                let (moved, elapsed) = (done - offset, started.elapsed());
                Ok(Transferred { size, md5, resumed_at: offset, moved, elapsed, instant: true })
            }
            (Claimed::Failed(e), Err(_)) | (Claimed::No, Err(e)) => Err(e),
        }
    }

    /// Sends the payload's next step (at most [`SEND_STEP`] bytes) from
    /// `done`; returns how far the payload now goes.
    fn send_step(&mut self, file: &mut File, local: &Path, done: u64, size: u64) -> Result<u64> {
        let step = SEND_STEP.min(size - done);
        let conn = self.conn()?;
        let (n, err) = send_file(file, &conn.writer, step);
        if let Some(e) = err {
            self.check::<()>(Err(e))?;
        }
        if n < step {
            self.drop_conn();
            let shrank = io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank while sending");
            return Err(ClientError::Local(local.to_path_buf(), shrank));
        }
        Ok(done + n)
    }

    /// Tells the caller where the transfer stands; stops it if asked to.
    fn report(&mut self, progress: OnProgress, p: Progress) -> Result<()> {
        if progress(&p) {
            return Ok(());
        }
        self.drop_conn();
        Err(ClientError::Interrupted(p.done))
    }

    /// The line after a payload sent with MD5 `-`: its digest, unless the
    /// file changed since it was opened; then nothing is stored (the
    /// connection is dropped, the bytes stay staged for a later attempt).
    fn digest_line(&mut self, file: &File, (local, meta): (&Path, &Metadata), md5: Digest) -> Result<()> {
        if !unchanged(file, meta) {
            self.drop_conn();
            let changed = io::Error::other("changed while being sent; not stored (send it again)");
            return Err(ClientError::Local(local.to_path_buf(), changed));
        }
        self.send_line(&md5.to_string())
    }

    /// Reads the `226` that ends an upload of `size` bytes with MD5 `md5`
    /// sent from `offset` since `started`.
    fn transfer_done(&mut self, (size, md5, offset): (u64, Digest, u64), started: Instant) -> Result<Transferred> {
        let reply = self.read_reply()?;
        if reply.code != Code::TransferDone {
            return Err(ClientError::Refused(reply));
        }
        let elapsed = started.elapsed();
        Ok(Transferred { size, md5, resumed_at: offset, moved: size - offset, elapsed, instant: false })
    }
    /// Downloads `remote` to `local` (a directory means: inside it, under
    /// the remote name), resuming from `NAME.part` when the remote file is
    /// unchanged, and replacing `local` only once the MD5 matches.
    pub fn download(&mut self, remote: &str, local: &Path, progress: OnProgress) -> Result<Transferred> {
        let target = download_target(remote, local);
        let part = sidecar(&target, "part");
        let info = sidecar(&target, "part.info");
        let st = self.stat(remote)?;
        let (Kind::File, Some(md5)) = (st.kind, st.md5) else {
            let refusal = Reply::new(Code::Unavailable, format!("{remote}: is a directory"));
            return Err(ClientError::Refused(refusal));
        };
        let size = st.size;
        let want = format!("{size} {md5} {remote}\n");
        let have = fs::read_to_string(&info).ok();
        let held = fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
        let offset = if have.as_deref() == Some(&want) && held <= size { held } else { 0 };
        let local_err = |p: &Path, e| ClientError::Local(p.to_path_buf(), e);
        fs::write(&info, &want).map_err(|e| local_err(&info, e))?;
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&part)
            .map_err(|e| local_err(&part, e))?;
        file.set_len(offset).map_err(|e| local_err(&part, e))?;
        let hasher = hash_from(&mut file, offset).map_err(|e| local_err(&part, e))?;
        let partial = Partial { file: &mut file, path: &part, offset, hasher };
        let received = self.receive(remote, partial, progress);
        if matches!(received, Err(ClientError::Refused(_))) && offset == 0 {
            // Nothing arrived: leave no partial file behind.
            let _ = fs::remove_file(&part);
            let _ = fs::remove_file(&info);
        }
        let (got, announced) = received?;
        if got.md5 != announced {
            let _ = fs::remove_file(&part);
            let _ = fs::remove_file(&info);
            return Err(ClientError::Verify(format!(
                "received {}, server says {announced}; partial file removed",
                got.md5
            )));
        }
        file.set_modified(UNIX_EPOCH + Duration::from_secs(st.mtime)).map_err(|e| local_err(&part, e))?;
        fs::rename(&part, &target).map_err(|e| local_err(&target, e))?;
        let _ = fs::remove_file(&info);
        Ok(got)
    }

    fn receive(&mut self, remote: &str, partial: Partial, progress: OnProgress) -> Result<(Transferred, Digest)> {
        let offset = partial.offset;
        let reply = self.request(&Command::Download { path: remote.into(), offset })?;
        if reply.code != Code::Payload {
            return Err(ClientError::Refused(reply));
        }
        let received = self.take_payload(&reply, partial, progress);
        if received.is_err() {
            // Whatever went wrong, the rest of the payload is unread.
            self.drop_conn();
        }
        received
    }

    fn take_payload(&mut self, reply: &Reply, partial: Partial, progress: OnProgress) -> Result<(Transferred, Digest)> {
        let Partial { file, path: part, offset, hasher } = partial;
        let head: DownloadHead = parse_body(reply)?;
        if head.size < offset {
            return Err(ClientError::Protocol(reply.text.clone()));
        }
        let (size, md5) = (head.size, head.md5);
        let started = Instant::now();
        let mut hashing = Hashing::new(hasher, offset, size - offset);
        let mut behind = Behind::new(offset);
        let mut done = offset;
        while done < size {
            let mut buf = hashing.buffer();
            let want = buf.len().min((size - done) as usize);
            let conn = self.conn()?;
            let (n, err) = fill_direct(&mut conn.reader, &mut buf[..want]);
            if n > 0 {
                file.write_all(&buf[..n]).map_err(|e| ClientError::Local(part.to_path_buf(), e))?;
                hashing.push(buf, n);
                done += n as u64;
                behind.wrote(file, done);
            }
            let p = Progress { done, total: size, resumed_at: offset, elapsed: started.elapsed() };
            if err.is_some() || !progress(&p) {
                self.drop_conn();
                return Err(ClientError::Interrupted(done));
            }
        }
        let end = self.read_reply()?;
        if end.code != Code::TransferDone {
            return Err(ClientError::Refused(end));
        }
        let md5_got = hashing.finish().peek();
        let elapsed = started.elapsed();
        let got = Transferred { size, md5: md5_got, resumed_at: offset, moved: size - offset, elapsed, instant: false };
        Ok((got, md5))
    }
}

/// A reply's text as a typed body, or a protocol error naming it.
pub(crate) fn parse_body<T: std::str::FromStr>(reply: &Reply) -> Result<T> {
    reply.text.parse().map_err(|_| ClientError::Protocol(reply.text.clone()))
}

/// The answer to a `claim` challenge: the MD5 of the nonce followed by the
/// bytes of each range.
fn prove(file: &mut File, challenge: &Challenge) -> io::Result<Digest> {
    let mut hasher = Hasher::new();
    hasher.update(challenge.nonce.as_bytes());
    for &(offset, len) in &challenge.ranges {
        hash_range(file, offset, len, &mut hasher)?;
    }
    Ok(hasher.peek())
}

/// Fills `buf` from the connection: the bytes already buffered first,
/// then straight from the socket. Reading a payload through the buffer
/// would copy most of it twice (a read shorter than the buffer goes
/// through it).
fn fill_direct(reader: &mut BufReader<TcpStream>, buf: &mut [u8]) -> (usize, Option<io::Error>) {
    let buffered = reader.buffer().len().min(buf.len());
    buf[..buffered].copy_from_slice(&reader.buffer()[..buffered]);
    reader.consume(buffered);
    let (n, err) = fill(reader.get_mut(), &mut buf[buffered..]);
    (buffered + n, err)
}

/// A partial download: the file, where it is, how much it holds, and the
/// hash of that much.
struct Partial<'a> {
    file: &'a mut File,
    path: &'a Path,
    offset: u64,
    hasher: Hasher,
}

/// The hash of the first `len` bytes of `file`, leaving it positioned at
/// `len`.
fn hash_from(file: &mut File, len: u64) -> io::Result<Hasher> {
    let mut hasher = Hasher::new();
    hash_range(file, 0, len, &mut hasher)?;
    file.seek(SeekFrom::Start(len))?;
    Ok(hasher)
}

/// Sets the MTIME of the local file at `path` to `secs` (a remote time).
pub(crate) fn set_local_time(path: &Path, secs: u64) -> io::Result<()> {
    OpenOptions::new().write(true).open(path)?.set_modified(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Where a download of `remote` to `local` lands.
pub fn download_target(remote: &str, local: &Path) -> PathBuf {
    if local.is_dir() {
        let name = remote.trim_end_matches('/').rsplit('/').next().unwrap_or(remote);
        local.join(name)
    } else {
        local.to_path_buf()
    }
}

/// `NAME.ext` beside `target`.
pub(crate) fn sidecar(target: &Path, ext: &str) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{ext}"));
    target.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecar_names() {
        assert_eq!(sidecar(Path::new("/x/a.txt"), "part"), Path::new("/x/a.txt.part"));
    }
}
