//! Test fixtures: a temporary directory, a server process on port 0, and a
//! raw connection that keeps a transcript for failure messages.
#![allow(dead_code)]

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("netdisk-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A server process over a data directory; killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: String,
    pub data: PathBuf,
    pub log: PathBuf,
}

impl Server {
    pub fn start(data: &Path, args: &[&str]) -> Server {
        static STARTS: AtomicUsize = AtomicUsize::new(0);
        let n = STARTS.fetch_add(1, Ordering::SeqCst);
        let log = data.parent().unwrap().join(format!("server-{n}.log"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_netdisk"))
            .args(["--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(fs::File::create(&log).unwrap())
            .spawn()
            .expect("start server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr =
            line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("first line: {line:?}")).to_string();
        Server { child, addr, data: data.to_path_buf(), log }
    }

    pub fn connect(&self) -> Raw {
        Raw::connect(&self.addr)
    }

    /// A connection that has registered (if needed) and logged in `user`.
    pub fn user(&self, user: &str) -> Raw {
        let mut c = self.connect();
        c.cmd(&format!("register {user} pw-{user}"));
        c.ok(&format!("login {user} pw-{user}"), "230");
        c
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log holds `count` lines containing `needle`.
    pub fn wait_log(&self, needle: &str, count: usize) {
        wait_until(20, needle, || self.log_text().lines().filter(|l| l.contains(needle)).count() >= count);
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A plain socket speaking the protocol by hand.
pub struct Raw {
    pub reader: BufReader<TcpStream>,
    pub stream: TcpStream,
    pub transcript: String,
    pub greeting: String,
}

impl Raw {
    pub fn connect(addr: &str) -> Raw {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        let mut raw = Raw { reader, stream, transcript: String::new(), greeting: String::new() };
        raw.greeting = raw.line();
        raw
    }

    /// Writes bytes as they are.
    pub fn send(&mut self, bytes: &[u8]) {
        self.transcript.push_str(&format!(">> {}\n", String::from_utf8_lossy(&bytes[..bytes.len().min(200)])));
        self.stream.write_all(bytes).unwrap();
    }

    /// Reads one reply line, CRLF stripped; `<closed>` at EOF.
    pub fn line(&mut self) -> String {
        let mut buf = Vec::new();
        match self.reader.read_until(b'\n', &mut buf) {
            Ok(0) => return "<closed>".into(),
            Ok(_) => {}
            Err(e) => return format!("<error {e}>"),
        }
        assert!(
            buf.ends_with(b"\r\n"),
            "reply not ended by CRLF: {:?}\n{}",
            String::from_utf8_lossy(&buf),
            self.transcript
        );
        let line = String::from_utf8_lossy(&buf[..buf.len() - 2]).into_owned();
        self.transcript.push_str(&format!("<< {line}\n"));
        line
    }

    /// Sends a line and returns the first line of the reply.
    pub fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes());
        self.line()
    }

    /// Sends a line and asserts the reply starts with `prefix`.
    pub fn ok(&mut self, line: &str, prefix: &str) -> String {
        let reply = self.cmd(line);
        assert!(reply.starts_with(prefix), "{line:?}: wanted {prefix:?}, got {reply:?}\n{}", self.transcript);
        reply
    }

    /// Reads the N lines a `212 N`/`214 N` announces.
    pub fn lines_after(&mut self, head: &str) -> Vec<String> {
        let n: usize = head.split(' ').nth(1).unwrap().parse().unwrap();
        (0..n).map(|_| self.line()).collect()
    }

    /// `ls` names.
    pub fn ls(&mut self, path: &str) -> Vec<String> {
        let head = self.ok(format!("ls {path}").trim_end(), "212");
        self.lines_after(&head).iter().map(|l| l.splitn(4, ' ').nth(3).unwrap().to_string()).collect()
    }

    /// Reads exactly `n` payload bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0u8; n];
        self.reader.read_exact(&mut buf).unwrap();
        buf
    }

    /// Whether the server has closed the connection (EOF within 5 s).
    pub fn closed(&mut self) -> bool {
        self.stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 64];
        matches!(self.reader.read(&mut buf), Ok(0) | Err(_))
    }

    /// A full upload with the MD5 in the header; returns the final reply.
    pub fn upload(&mut self, path: &str, data: &[u8]) -> String {
        let md5 = md5_hex(data);
        self.ok(&format!("upload {} {} {md5}", quote(path), data.len()), "150 0 ");
        self.send(data);
        self.line()
    }

    /// A full download; returns the payload.
    pub fn download(&mut self, path: &str) -> Vec<u8> {
        let head = self.ok(&format!("download {}", quote(path)), "150 ");
        let size: usize = head.split(' ').nth(1).unwrap().parse().unwrap();
        let data = self.bytes(size);
        assert_eq!(self.line(), "226 transfer complete", "{}", self.transcript);
        data
    }

    pub fn half_close(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

pub fn quote(word: &str) -> String {
    netdisk::proto::quote(word)
}

pub fn md5_hex(data: &[u8]) -> String {
    netdisk::Digest::of(data).to_string()
}

/// Deterministic pseudo-random bytes.
pub fn bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Polls `cond` every 20 ms until it holds; panics after `secs` seconds.
pub fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Size of the one staged `.part` file under `data/staging`, if any.
pub fn staged_len(data: &Path) -> u64 {
    let staging = data.join("staging");
    files_under(&staging)
        .iter()
        .find(|f| f.ends_with(".part"))
        .and_then(|f| fs::metadata(staging.join(f)).ok())
        .map_or(0, |m| m.len())
}

/// Every regular file under `dir`, relative, sorted.
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for item in fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = item.path();
        if p.is_dir() {
            walk(root, &p, out);
        } else {
            out.push(p.strip_prefix(root).unwrap().display().to_string());
        }
    }
}
