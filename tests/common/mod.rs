//! Test fixtures, the one set every `tests/*.rs` file uses (`mod common;`).
//!
//! A test gets its server from `fixture!()` (or `fixture!(&["--quota", "100"])`):
//!
//! ```ignore
//! let s = fixture!(&["--idle-timeout", "1"]);
//! let mut c = s.user("ann");           // registered and logged in, password `pw-ann`
//! assert!(c.upload("f", b"hi").starts_with("226"));
//! s.wait_log("action=upload", 1);      // wait on events, never on sleeps
//! ```
//!
//! - [`Fixture`]: a test's own directory, `$TMPDIR/netdisk-TEST-PID-N/`, named
//!   after the test (cut to 40 characters) (`fixture!`, `test_dir!` find the enclosing function's
//!   name; `Fixture::new("name", &args)` takes it), holding `data/` and one
//!   `server-N.log` per server start, and a server on port 0 over `data/`.
//!   It derefs to [`Server`]; `dir()` is the directory (free for local files),
//!   `restart(&args)` replaces the server by a new one over the same data,
//!   `another(&args)` starts a second process over it. The server is killed
//!   and the directory removed when the fixture drops; the directory is kept
//!   (and its path printed) when the test fails.
//! - [`TempDir`] (`test_dir!()`): the directory alone, for tests that start
//!   servers in their own way ([`Server::launch`]) or none.
//! - [`Server`]: `addr`, `data`, `log`, `child`; `connect()` (a [`Raw`] at
//!   the greeting), `user(name)` (a logged-in [`Raw`]), `client(name)` (a
//!   logged-in library `Client`), `logs_in(user, pass)`, `log_text()`,
//!   `wait_log(needle, count)`, `kill()`.
//! - [`Raw`]: the protocol by hand with a transcript for failure messages:
//!   `send`, `line`, `cmd`, `ok`, `lines_after`, `ls`, `bytes`, `upload`,
//!   `download`, `closed`, `half_close`.
//! - Data: [`bytes`] (deterministic pseudo-random bytes), [`md5_hex`],
//!   [`md5_file`], [`quote`], [`write_file`].
//! - Files on disk: [`files_under`], [`staged_len`].
//! - Waiting: [`wait_until`], polling with a deadline, is the one polling
//!   primitive; `wait_log` and the rest are built on it. No fixed sleeps.
//! - Programs: [`run`] (a command with standard input, giving a [`Ran`]),
//!   [`netdisk`] (the server binary), [`example_client`] and
//!   [`client_command`] (the example client, built once per test process).
//! - HTTP by hand: [`http`] (`ask`, `exchange`, `parse_all`, `auth`).
#![allow(dead_code, unused_macros, unused_imports)]

pub mod http;

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use netdisk::client::Client;

/// The name of the enclosing function (the test), from the type name of a
/// function item declared inside it; closures around it are skipped.
macro_rules! test_name {
    () => {{
        fn f() {}
        fn name_of<T>(_: T) -> &'static str {
            std::any::type_name::<T>()
        }
        let path = name_of(f);
        let path = path.strip_suffix("::f").unwrap_or(path);
        path.rsplit("::").find(|part| !part.starts_with('{')).unwrap_or(path)
    }};
}
pub(crate) use test_name;

/// A [`Fixture`] named after the enclosing test, with optional server flags.
macro_rules! fixture {
    () => {
        $crate::common::Fixture::new($crate::common::test_name!(), &[])
    };
    ($args:expr) => {
        $crate::common::Fixture::new($crate::common::test_name!(), $args)
    };
}
pub(crate) use fixture;

/// A [`TempDir`] named after the enclosing test.
macro_rules! test_dir {
    () => {
        $crate::common::TempDir::new($crate::common::test_name!())
    };
}
pub(crate) use test_dir;

/// A test's directory and the server over its `data/`. Fields drop in
/// order: the server is killed before its directory goes.
pub struct Fixture {
    pub server: Server,
    pub dir: TempDir,
}

impl Fixture {
    /// A directory named after `name` and a server started with `args`.
    pub fn new(name: &str, args: &[&str]) -> Fixture {
        let dir = TempDir::new(name);
        let server = Server::start(&dir.data(), args);
        Fixture { server, dir }
    }

    /// The test's directory (the parent of `data/`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Kills the server and starts a new one over the same data.
    pub fn restart(&mut self, args: &[&str]) {
        self.server.kill();
        self.server = Server::start(&self.dir.data(), args);
    }

    /// A second server process over the same data directory.
    pub fn another(&self, args: &[&str]) -> Server {
        Server::start(&self.dir.data(), args)
    }
}

impl Deref for Fixture {
    type Target = Server;

    fn deref(&self) -> &Server {
        &self.server
    }
}

impl DerefMut for Fixture {
    fn deref_mut(&mut self) -> &mut Server {
        &mut self.server
    }
}

/// A directory removed when dropped, kept (and named on stderr) when the
/// test is failing.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// `$TMPDIR/netdisk-TAG-PID-N`, with TAG cut to 40 characters (a
    /// Unix socket's path inside must stay under 108 bytes).
    pub fn new(tag: &str) -> TempDir {
        let tag: String = tag.chars().take(40).collect();
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

    /// `data/` inside it: where fixtures put the server's data directory.
    pub fn data(&self) -> PathBuf {
        self.0.join("data")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test directory kept: {}", self.0.display());
            return;
        }
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A server process over a data directory; killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: String,
    /// The HTTP face's address (`http on ADDR`), empty without `--http`.
    pub http: String,
    pub data: PathBuf,
    pub log: PathBuf,
}

impl Server {
    /// The server binary on `data` with `args`, listening on port 0.
    pub fn start(data: &Path, args: &[&str]) -> Server {
        let mut cmd = Command::new(netdisk());
        cmd.args(["--listen", "127.0.0.1:0", "--data"]).arg(data).args(args);
        Server::launch(cmd, data).expect("the server did not start")
    }

    /// Runs `cmd`, a server over `data` that prints `listening on ADDR`
    /// first (perhaps through `sh -c '... exec netdisk ...'`); its stderr
    /// goes to a log beside `data`. `None` if it does not start or listen.
    pub fn launch(mut cmd: Command, data: &Path) -> Option<Server> {
        static STARTS: AtomicUsize = AtomicUsize::new(0);
        let n = STARTS.fetch_add(1, Ordering::SeqCst);
        let log = data.parent().unwrap().join(format!("server-{n}.log"));
        let stderr = fs::File::create(&log).unwrap();
        let with_http = cmd.get_args().any(|a| a == "--http");
        let mut child = cmd.stdout(Stdio::piped()).stderr(stderr).spawn().ok()?;
        let mut line = String::new();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let _ = out.read_line(&mut line);
        let data = data.to_path_buf();
        let mut server = Server { child, addr: String::new(), http: String::new(), data, log };
        server.addr = line.trim().strip_prefix("listening on ")?.to_string();
        if with_http {
            line.clear();
            let _ = out.read_line(&mut line);
            server.http = line.trim().strip_prefix("http on ")?.to_string();
        }
        Some(server)
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

    /// A library client that has registered (if needed) and logged in
    /// `user` with the password `pw-USER`.
    pub fn client(&self, user: &str) -> Client {
        let mut c = Client::connect(&self.addr).unwrap();
        let _ = c.register(user, &format!("pw-{user}"));
        c.login(user, &format!("pw-{user}")).unwrap();
        c
    }

    /// Whether `user` can log in with `pass` on a new connection.
    pub fn logs_in(&self, user: &str, pass: &str) -> bool {
        self.connect().cmd(&format!("login {user} {pass}")).starts_with("230")
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log holds `count` lines containing `needle`.
    pub fn wait_log(&self, needle: &str, count: usize) {
        wait_until(EVENT_WAIT, needle, || self.log_text().lines().filter(|l| l.contains(needle)).count() >= count);
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

/// How long a test waits for a reply (or a close) before it fails: a
/// bound for a hung server, not an expected time. A loaded machine can
/// stall one durable step for tens of seconds (a sync that waits for
/// other programs' writes on the same disk).
const REPLY_WAIT: Duration = Duration::from_secs(120);

/// Whether a read failed only because nothing came within its timeout.
fn timed_out(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
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
        stream.set_read_timeout(Some(REPLY_WAIT)).unwrap();
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
            Err(e) if timed_out(&e) => panic!("no reply within {REPLY_WAIT:?}\n{}", self.transcript),
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

    /// Whether the server closes the connection (EOF or a reset) with
    /// nothing more to read; waits up to [`REPLY_WAIT`] for it.
    pub fn closed(&mut self) -> bool {
        self.stream.set_read_timeout(Some(REPLY_WAIT)).unwrap();
        let mut buf = [0u8; 64];
        match self.reader.read(&mut buf) {
            Ok(n) => n == 0,
            Err(e) => !timed_out(&e),
        }
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

/// The answer to a `350 NONCE RANGES` challenge, from the bytes `data`.
pub fn proof(challenge: &str, data: &[u8]) -> String {
    let mut words = challenge.split(' ').skip(1);
    let (nonce, ranges) = (words.next().unwrap(), words.next().unwrap());
    let mut input = nonce.as_bytes().to_vec();
    for range in ranges.split(',') {
        let (offset, len) = range.split_once(':').unwrap();
        let (offset, len): (usize, usize) = (offset.parse().unwrap(), len.parse().unwrap());
        input.extend_from_slice(&data[offset..offset + len]);
    }
    md5_hex(&input)
}

/// The MD5 of a local file, in hex.
pub fn md5_file(path: &Path) -> String {
    md5_hex(&fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// Writes `data` to `dir/name`; returns the path.
pub fn write_file(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, data).unwrap();
    path
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

/// How many seconds a test waits for an event (a file staged, a sweep,
/// a daemon listening) before it fails: like [`REPLY_WAIT`], a bound for
/// something hung on a loaded machine, not the time it should take.
pub const EVENT_WAIT: u64 = 120;

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

/// What a program did.
#[derive(Debug)]
pub struct Ran {
    pub code: i32,
    pub out: String,
    pub err: String,
}

/// Runs `cmd` to its end with `stdin` written to it.
pub fn run(cmd: &mut Command, stdin: &str) -> Ran {
    let mut child =
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start program");
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let out = child.wait_with_output().unwrap();
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    Ran { code: out.status.code().unwrap_or(-1), out: text(out.stdout), err: text(out.stderr) }
}

/// The server binary.
pub fn netdisk() -> &'static str {
    env!("CARGO_BIN_EXE_netdisk")
}

/// The example client binary, brought up to date by `cargo build` once per
/// test process (`cargo test` builds examples only as test harnesses, so a
/// client binary left from an earlier build may be stale).
pub fn example_client() -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        let mut cargo = Command::new(env!("CARGO"));
        cargo.args(["build", "--example", "client"]).current_dir(env!("CARGO_MANIFEST_DIR"));
        let built = cargo.status().unwrap();
        assert!(built.success(), "cargo build --example client");
    });
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join("examples/client")
}

/// The example client, with no password from the environment.
pub fn client_command() -> Command {
    let mut cmd = Command::new(example_client());
    cmd.env_remove("NETDISK_PASSWORD");
    cmd
}

/// Whether a test that needs root and `programs` can run here. When not,
/// it says what is missing on stderr and the test returns early (skips);
/// with `NETDISK_REQUIRE_ALL=1` (CI, where `make test` installed them) it
/// fails instead.
pub fn can_run(test: &str, programs: &[&str]) -> bool {
    let root = fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false);
    let mut missing = missing_programs(programs);
    if !root {
        missing.insert(0, "root".into());
    }
    runs_without(test, &missing)
}

/// As [`can_run`], for a test that needs `programs` but not root.
pub fn installed(test: &str, programs: &[&str]) -> bool {
    runs_without(test, &missing_programs(programs))
}

/// Which of `programs` are not in `PATH`.
fn missing_programs(programs: &[&str]) -> Vec<String> {
    let in_path = |p: &str| {
        std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(p).is_file()))
    };
    programs.iter().filter(|p| !in_path(p)).map(|p| p.to_string()).collect()
}

/// True when nothing is `missing`; else says so and skips (fails under
/// `NETDISK_REQUIRE_ALL`).
fn runs_without(test: &str, missing: &[String]) -> bool {
    if missing.is_empty() {
        return true;
    }
    let why = format!("{test}: skipped, needs {} (`sudo make test` installs them)", missing.join(", "));
    assert!(std::env::var_os("NETDISK_REQUIRE_ALL").is_none(), "{why}");
    eprintln!("{why}");
    false
}
