//! The server under test (the release binary beside this one, on
//! `127.0.0.1:0`), the links to reach it (loopback and through the delay
//! proxy), a raw line connection, and the server's memory from `/proc`.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use netdisk::client::Client;

use crate::proxy;

/// One-way delay of the slow link: a 50 ms round trip.
pub const ONE_WAY: Duration = Duration::from_millis(25);

pub struct Server {
    pub child: Child,
    pub addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A way to the server: its name in the output, the address to dial, its
/// one-way delay (none on loopback), and the server's process id.
#[derive(Clone)]
pub struct Link {
    pub name: &'static str,
    pub addr: String,
    pub one_way: Option<Duration>,
    pub server: u32,
}

impl Server {
    /// Loopback, and the same server at a 50 ms round trip.
    pub fn links(&self) -> [Link; 2] {
        let slow = proxy::start(&self.addr, ONE_WAY);
        let server = self.pid();
        [
            Link { name: "loopback", addr: self.addr.clone(), one_way: None, server },
            Link { name: "50 ms RTT", addr: slow.addr, one_way: Some(ONE_WAY), server },
        ]
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

pub fn start(data: &Path) -> Server {
    start_with(data, &[])
}

/// The server with `extra` flags.
pub fn start_with(data: &Path, extra: &[&str]) -> Server {
    let exe = std::env::current_exe().expect("own path");
    let bin = exe.parent().and_then(|p| p.parent()).expect("target dir").join("netdisk");
    assert!(bin.exists(), "build the server first: make build");
    let mut child = Command::new(bin)
        .args(["--listen", "127.0.0.1:0", "--max-clients", "20000", "--max-per-ip", "20000"])
        .args(["--register-burst", "1000000"])
        .args(extra)
        .arg("--data")
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(log_file(data))
        .spawn()
        .expect("start the server");
    let mut first = String::new();
    let out = child.stdout.take().expect("server stdout");
    BufReader::new(out).read_line(&mut first).expect("server's first line");
    let addr = first.trim().strip_prefix("listening on ").expect("listening on ADDR").to_string();
    Server { child, addr }
}

/// The server's log, beside its data directory (kept if the bench fails).
fn log_file(data: &Path) -> Stdio {
    let path = data.with_extension("log");
    fs::File::create(path).map_or(Stdio::null(), Stdio::from)
}

pub const PASSWORD: &str = "bench-pw";

/// A client logged in as `user` (registered first if new).
pub fn client(addr: &str, user: &str) -> Client {
    let mut c = Client::connect(addr).expect("connect");
    let _ = c.register(user, PASSWORD);
    c.login(user, PASSWORD).expect("login");
    c
}

/// A logged-in raw line connection: sends one line, returns the reply's
/// lines (the head, then any listed lines).
pub struct Lines {
    reader: BufReader<TcpStream>,
    pub stream: TcpStream,
}

impl Lines {
    pub fn login(addr: &str, user: &str) -> Lines {
        drop(client(addr, user));
        let stream = TcpStream::connect(addr).expect("connect");
        let _ = stream.set_nodelay(true);
        let reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut l = Lines { reader, stream };
        l.read_reply();
        l.ask(&format!("login {user} {PASSWORD}"));
        l
    }

    pub fn ask(&mut self, line: &str) -> Vec<String> {
        self.stream.write_all(format!("{line}\r\n").as_bytes()).expect("send");
        self.read_reply()
    }

    pub fn read_reply(&mut self) -> Vec<String> {
        let mut head = String::new();
        self.reader.read_line(&mut head).expect("reply");
        let head = head.trim_end().to_string();
        let n = head.strip_prefix("212 ").map_or(0, |n| n.parse().unwrap_or(0));
        let mut out = vec![head];
        for _ in 0..n {
            let mut l = String::new();
            self.reader.read_line(&mut l).expect("listed line");
            out.push(l);
        }
        out
    }
}

/// A field of `/proc/PID/status` in KiB (`VmHWM`, `VmRSS`).
pub fn status_kib(pid: u32, field: &str) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or("");
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0)
}
