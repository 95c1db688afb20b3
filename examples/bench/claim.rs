//! Instant upload: `claim` of a large file the server already holds (it
//! answers `350`, the bench proves it, the server answers `226`), against
//! sending it to a server with `--dedup off` (where the client's `claim`
//! is answered `550` and the file is sent), on each link. A server
//! without `claim` answers `500`: the bench then prints "claim not
//! available".
//!
//! A claimed file gets its own inode (PROTOCOL.md 2.1: it is dated by its
//! creation, never by another user's copy), so where the file system
//! cannot share extents (ext4) the claim copies the bytes on the server;
//! its floor is then a durable local copy of the file, measured here in
//! the same run, in the same file system.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::Instant;

use netdisk::digest::Hasher;

use crate::server::{Lines, Link, client};
use crate::stats::{Limit, Stats, line, measure, missing, ms};

/// The proof of a `350 NONCE RANGES` challenge: MD5 of NONCE, then the
/// bytes of each `OFFSET:LENGTH` range of `path`, in order.
fn prove(path: &Path, nonce: &str, ranges: &str) -> String {
    let mut h = Hasher::new();
    h.update(nonce.as_bytes());
    let mut f = File::open(path).expect("open");
    for range in ranges.split(',') {
        let (off, len) = range.split_once(':').expect("OFFSET:LENGTH");
        let (off, len): (u64, u64) = (off.parse().expect("offset"), len.parse().expect("length"));
        let mut buf = Vec::new();
        f.seek(SeekFrom::Start(off)).expect("seek");
        (&mut f).take(len).read_to_end(&mut buf).expect("read range");
        h.update(&buf);
    }
    h.peek().to_string()
}

/// One claim of `path` to `remote`: milliseconds, or the refusal's line.
fn claim_once(c: &mut Lines, path: &Path, remote: &str, size: u64, md5: &str) -> Result<f64, String> {
    let t = Instant::now();
    let head = c.ask(&format!("claim {remote} {size} {md5}")).remove(0);
    let Some(challenge) = head.strip_prefix("350 ") else {
        return Err(head);
    };
    let mut words = challenge.split_whitespace();
    let (nonce, ranges) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let end = c.ask(&prove(path, nonce, ranges)).remove(0);
    if !end.starts_with("226") {
        return Err(end);
    }
    Ok(ms(t.elapsed()))
}

/// Claims on `link` (a server that holds the file after one untimed
/// upload) against sending on `sender` (the same link to a server with
/// `--dedup off`) and against a durable copy of the file beside it.
pub fn run(runs: usize, link: &Link, sender: &Link, path: &Path, md5: &str) {
    let size = std::fs::metadata(path).expect("file").len();
    let tag = link.name.split(' ').next().unwrap_or("x");
    let mut c = client(&sender.addr, "claimer");
    let send = measure(runs.min(3), |i| {
        let t = Instant::now();
        let done = c.upload(path, &format!("/sent-{tag}-{i}"), &mut |_| true).expect("upload");
        assert!(!done.instant, "the --dedup off server must not hold the file");
        ms(t.elapsed())
    });
    let mut c = client(&link.addr, "claimer");
    c.upload(path, &format!("/held-{tag}"), &mut |_| true).expect("upload the held copy");
    let mut switched = 0;
    let held = measure(runs.min(3), |i| {
        let t = Instant::now();
        let done = c.upload(path, &format!("/again-{tag}-{i}"), &mut |_| true).expect("upload");
        switched += usize::from(done.instant);
        ms(t.elapsed())
    });
    let what = format!("claim of {} MiB, held, 350+proof ({})", size >> 20, link.name);
    let mut lines = Lines::login(&link.addr, "claimer");
    let (mut times, mut copies) = (Vec::new(), Vec::new());
    // What the uploads above left to write back would slow whichever
    // came first; then a copy and a claim in turn, in the same state.
    crate::limits::flush_all();
    for i in 0..runs {
        copies.push(durable_copy(path, i));
        match claim_once(&mut lines, path, &format!("/claimed-{tag}-{i}"), size, md5) {
            Ok(t) => times.push(t),
            Err(reply) if reply.starts_with("500") => {
                missing(&what, &format!("claim not available (server answers {reply:?})"));
                crate::stats::plain(&format!("sending it instead ({})", link.name), &send, "ms", "");
                return;
            }
            Err(reply) => panic!("claim refused: {reply}"),
        }
    }
    let (times, copy) = (Stats(times), Stats(copies));
    crate::stats::plain(&format!("  limit: durable copy on the server's disk ({})", link.name), &copy, "ms", "");
    let target = "(target < 50 ms where extents are shared; here a private copy)";
    line(&what, &times, "ms", Limit { name: "durable copy", value: copy.median() }, target);
    line(
        &format!("  the same claim ({})", link.name),
        &times,
        "ms",
        Limit { name: "sending it", value: send.median() },
        "",
    );
    let note = format!("(client upload, no digest cached: {switched}/{} switched to claim)", held.0.len());
    crate::stats::plain(&format!("  upload of it, held ({})", link.name), &held, "ms", &note);
}

/// Milliseconds to copy `path` beside itself and flush the copy (what a
/// claim does on a file system that cannot share extents). The copy is
/// kept, as a claim's file is (removing it frees blocks that the next
/// copy would then find busy); the section's directory goes at its end.
fn durable_copy(path: &Path, i: usize) -> f64 {
    let to = path.with_extension(format!("copy{i}"));
    let t = Instant::now();
    fs::copy(path, &to).expect("copy");
    File::open(&to).and_then(|f| f.sync_all()).expect("sync the copy");
    ms(t.elapsed())
}
