//! The machine's own limits, measured in the same run as the figures they
//! bound: MD5 (`md5sum` and the md-5 crate), a durable write of the same
//! size into the data directory, a plain loopback TCP copy, and how many
//! small files one process commits durably per second.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use netdisk::digest::Hasher;

use crate::stats::mb_per_s;

/// A file of `size` pseudo-random bytes (`seed` makes different content).
pub fn make_file(path: &Path, size: u64, seed: u64) {
    let mut f = File::create(path).expect("create a test file");
    let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ seed.wrapping_mul(0x2545_f491_4f6c_dd1d);
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        for chunk in buf.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        let n = left.min(buf.len() as u64) as usize;
        f.write_all(&buf[..n]).expect("write a test file");
        left -= n as u64;
    }
}

/// `md5sum FILE` on a warm page cache: MB/s and the digest.
pub fn md5sum(path: &Path, size: u64) -> (f64, String) {
    let started = Instant::now();
    let out = Command::new("md5sum").arg(path).output().expect("md5sum");
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    (mb_per_s(size, took), text.split(' ').next().unwrap_or("").to_string())
}

/// Drops `path` from the page cache (`dd iflag=nocache count=0`), so the
/// next read comes from the disk, as a server's download of a file it
/// does not hold in memory does.
pub fn uncache(path: &Path) {
    let _ = Command::new("dd")
        .arg(format!("if={}", path.display()))
        .args(["iflag=nocache", "count=0", "status=none"])
        .status();
}

/// `md5sum FILE` read from the disk (dropped from the cache first).
pub fn md5sum_cold(path: &Path, size: u64) -> f64 {
    uncache(path);
    md5sum(path, size).0
}

/// The md-5 crate on the same file, one thread.
pub fn crate_md5(path: &Path, size: u64) -> f64 {
    let started = Instant::now();
    let mut f = File::open(path).expect("open");
    let mut h = Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    let _ = h.peek();
    mb_per_s(size, started.elapsed())
}

/// Writing `size` bytes into a NEW file in `dir` (the data directory) and
/// `fdatasync` at the end, as `dd bs=1M conv=fdatasync` does: what a
/// verified upload must do at least before its `226`. The file is kept
/// until `dir` is cleaned, like an upload's.
pub fn durable_write(dir: &Path, size: u64, run: usize) -> f64 {
    let path = dir.join(format!("durable-{run}.bin"));
    let started = Instant::now();
    let mut f = File::create(&path).expect("create");
    write_filler(&mut f, size);
    f.sync_data().expect("fdatasync");
    mb_per_s(size, started.elapsed())
}

/// Writes `size` filler bytes in 1 MiB writes.
pub fn write_filler(out: &mut impl Write, size: u64) {
    let buf = vec![7u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        out.write_all(&buf[..n]).expect("write");
        left -= n as u64;
    }
}

/// A plain TCP copy of `size` bytes over loopback.
pub fn loopback(size: u64) -> f64 {
    copy_through(size, None)
}

/// The raw link: `size` bytes pushed over one connection through a delay
/// proxy like the one in front of the server (no hashing, no disk), timed
/// until the receiver has them all. What one connection at that delay can
/// carry at most on this machine.
pub fn raw_link(size: u64, one_way: Duration) -> f64 {
    copy_through(size, Some(one_way))
}

/// `work` (MD5 or a write of `size` bytes) while `size` bytes go over the
/// raw link at the same time: MB/s by the slower of the two. On two CPUs
/// the proxy's copies take CPU from the work, as during a transfer.
pub fn beside_link(size: u64, one_way: Duration, work: impl FnOnce()) -> f64 {
    let started = Instant::now();
    let link = thread::spawn(move || raw_link(size, one_way));
    work();
    link.join().expect("raw link");
    mb_per_s(size, started.elapsed())
}

/// The first `size` bytes of `path` sent over one connection (direct on
/// `None`, else through a delay proxy like the one in front of the
/// server) into `md5sum` reading its standard input, timed until md5sum
/// has the digest: the least a verified download over that link does on
/// this machine (the link's copies and MD5 on the same CPUs), without
/// writing the file. The sender is `io::copy` from the file, as a server
/// sends it.
pub fn into_md5sum(path: &Path, size: u64, one_way: Option<Duration>) -> f64 {
    let (listener, addr) = sink(one_way);
    let receiver = thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        let mut md5 = Command::new("md5sum").stdin(Stdio::piped()).stdout(Stdio::null()).spawn().expect("md5sum");
        let mut input = md5.stdin.take().expect("md5sum's input");
        let n = std::io::copy(&mut s, &mut input).expect("into md5sum");
        drop(input);
        md5.wait().expect("md5sum");
        n
    });
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).expect("connect");
    let mut file = File::open(path).expect("open").take(size);
    std::io::copy(&mut file, &mut stream).expect("send the file");
    drop(stream);
    assert_eq!(receiver.join().expect("receiver"), size);
    mb_per_s(size, started.elapsed())
}

/// `md5sum FILE` and [`into_md5sum`] of the same file at the same time,
/// timed until both are done: the two MD5 passes of an upload of new
/// content (the client's, for the digest it sends, and the server's over
/// what it receives) and the link's copies, on this machine's CPUs.
pub fn two_md5(path: &Path, size: u64, one_way: Option<Duration>) -> f64 {
    let started = Instant::now();
    let other = path.to_path_buf();
    let link = thread::spawn(move || into_md5sum(&other, size, one_way));
    md5sum(path, size);
    link.join().expect("into md5sum");
    mb_per_s(size, started.elapsed())
}

/// A listener on loopback, and the address to dial it by: its own, or
/// that of a delay proxy in front of it with `one_way` delay.
fn sink(one_way: Option<Duration>) -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let own = listener.local_addr().expect("address").to_string();
    let addr = match one_way {
        Some(delay) => crate::proxy::start(&own, delay).addr,
        None => own,
    };
    (listener, addr)
}

/// One connection's copy of `size` bytes to a sink, direct or through a
/// proxy with `one_way` delay.
fn copy_through(size: u64, one_way: Option<Duration>) -> f64 {
    let (listener, addr) = sink(one_way);
    let reader = thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        let mut buf = vec![0u8; 256 << 10];
        let mut total = 0u64;
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            total += n as u64;
        }
        total
    });
    let started = Instant::now();
    write_filler(&mut TcpStream::connect(addr).expect("connect"), size);
    assert_eq!(reader.join().expect("reader"), size);
    mb_per_s(size, started.elapsed())
}

/// Small files one process commits per second in `dir`: write `size`
/// bytes to a temporary file, then (when `durable`) fsync it, rename it
/// into place, and (when `durable`) fsync the directory, as the server
/// commits an upload. Not durable: what a client writing a download does.
pub fn commit_rate(dir: &Path, size: usize, durable: bool, seconds: f64) -> f64 {
    let d = dir.join(format!("commit-{}", if durable { "durable" } else { "plain" }));
    fs::create_dir_all(&d).expect("commit dir");
    let data = vec![3u8; size];
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < Duration::from_secs_f64(seconds) {
        let tmp = d.join("tmp");
        let mut f = File::create(&tmp).expect("create");
        f.write_all(&data).expect("write");
        if durable {
            f.sync_all().expect("fsync");
        }
        fs::rename(&tmp, d.join(format!("f{n}"))).expect("rename");
        if durable {
            File::open(&d).and_then(|d| d.sync_all()).expect("fsync dir");
        }
        n += 1;
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    let _ = fs::remove_dir_all(&d);
    rate
}

/// Every file system's dirty pages written back (`sync`): what one
/// figure wrote must not slow the next one's syncs.
pub fn flush_all() {
    let done = std::process::Command::new("sync").status().expect("run sync");
    assert!(done.success(), "sync failed");
}
