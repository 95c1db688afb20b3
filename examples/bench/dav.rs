//! The WebDAV rows of `make bench` (issue 26): 1,000 `PUT`s of 4 KiB,
//! 4 connections at a time, and a `PROPFIND` depth 1 of a 10,000-file
//! folder, each beside `rclone serve webdav` (which does not fsync) on
//! the same machine, in the same run.
//!
//! The client is our own, on std sockets (keep-alive, HTTP Basic on every
//! request, as WebDAV clients send it): rclone's own client waits 10 ms
//! between calls and curl starts a process per file, either of which would
//! hide the server. rclone is this process's child on a port of its own,
//! over a directory in the bench's temporary directory, killed when
//! dropped (also on a panic).

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::Instant;

use netdisk::client::{Client, Options};

use crate::http::base64;
use crate::peers::{Daemon, find, free_port, wait_listening};
use crate::server::{PASSWORD, Server, client};
use crate::stats::{Limit, Stats, line, measure, missing, ms};

const USER: &str = "davbench";
const PUTS: usize = 1_000;
const PUT_BYTES: usize = 4096;
const CONNECTIONS: usize = 4;
const LISTED: usize = 10_000;
const PUT_TARGET: &str = "target ≤ 1.5× rclone's time";
const LIST_TARGET: &str = "target ≤ 1.0× rclone's time";

/// A WebDAV server to measure: where it listens and the URL path of its
/// root (`/dav` for netdisk, `` for rclone).
pub struct Site {
    addr: String,
    root: &'static str,
}

/// netdisk with its HTTP face on a loopback port of its own, `USER`
/// registered.
pub fn start_netdisk(data: &Path) -> (Server, Site) {
    let exe = std::env::current_exe().expect("own path");
    let bin = exe.parent().and_then(|p| p.parent()).expect("target dir").join("netdisk");
    let mut child = Command::new(bin)
        .args(["--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--max-per-ip", "1000"])
        .arg("--data")
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(fs::File::create(data.with_extension("log")).map_or(Stdio::null(), Stdio::from))
        .spawn()
        .expect("start the server");
    let mut out = BufReader::new(child.stdout.take().expect("server stdout"));
    let mut read = || {
        let mut l = String::new();
        out.read_line(&mut l).expect("server's first lines");
        l.split_whitespace().last().unwrap_or_default().to_string()
    };
    let (text, http) = (read(), read());
    let server = Server { child, addr: text };
    drop(client(&server.addr, USER));
    (server, Site { addr: http, root: "/dav" })
}

/// `rclone serve webdav` over `root` on a loopback port, with the same
/// user and password and its defaults; `None` when rclone is not
/// installed.
pub struct Rclone {
    _daemon: Daemon,
    pub site: Site,
}

impl Rclone {
    pub fn start(root: &Path, dir: &Path) -> Option<Rclone> {
        let bin = find("rclone")?;
        let config = dir.join("rclone.conf");
        fs::write(&config, "").ok()?;
        let addr = format!("127.0.0.1:{}", free_port());
        let child = Command::new(bin)
            .args(["serve", "webdav"])
            .arg(root)
            .args(["--addr", &addr, "--user", USER, "--pass", PASSWORD])
            .arg("--config")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let daemon = Daemon(child);
        wait_listening(&addr).then_some(Rclone { _daemon: daemon, site: Site { addr, root: "" } })
    }
}

/// One keep-alive HTTP/1.1 connection sending Basic credentials.
struct Http {
    reader: BufReader<TcpStream>,
    stream: TcpStream,
    host: String,
    auth: String,
}

impl Http {
    fn connect(addr: &str) -> Http {
        let stream = TcpStream::connect(addr).expect("connect");
        let _ = stream.set_nodelay(true);
        let reader = BufReader::new(stream.try_clone().expect("clone"));
        let auth = base64(format!("{USER}:{PASSWORD}").as_bytes());
        Http { reader, stream, host: addr.to_string(), auth }
    }

    /// Sends one request; returns the status and the body.
    fn send(&mut self, method: &str, path: &str, extra: &str, body: &[u8]) -> (u16, Vec<u8>) {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Basic {}\r\n{extra}Content-Length: {}\r\n\r\n",
            self.host,
            self.auth,
            body.len()
        );
        let mut all = head.into_bytes();
        all.extend_from_slice(body);
        self.stream.write_all(&all).expect("send");
        self.reply()
    }

    fn reply(&mut self) -> (u16, Vec<u8>) {
        let mut status = String::new();
        self.reader.read_line(&mut status).expect("status line");
        let code = status.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        let (mut length, mut chunked) = (0usize, false);
        loop {
            let mut l = String::new();
            self.reader.read_line(&mut l).expect("header");
            let l = l.trim_end();
            if l.is_empty() {
                break;
            }
            let (name, value) = l.split_once(':').unwrap_or((l, ""));
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap_or(0),
                "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
                _ => {}
            }
        }
        (code, if chunked { self.chunks() } else { self.exactly(length) })
    }

    fn exactly(&mut self, n: usize) -> Vec<u8> {
        let mut body = vec![0; n];
        self.reader.read_exact(&mut body).expect("body");
        body
    }

    fn chunks(&mut self) -> Vec<u8> {
        let mut body = Vec::new();
        loop {
            let mut size = String::new();
            self.reader.read_line(&mut size).expect("chunk size");
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16).expect("chunk size");
            body.extend(self.exactly(n));
            self.exactly(2);
            if n == 0 {
                return body;
            }
        }
    }
}

/// New content for each file of each run (netdisk deduplicates).
fn content(run: usize, file: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(PUT_BYTES);
    let mut x = (run as u64) << 32 | file as u64 | 1;
    while out.len() < PUT_BYTES {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out
}

/// 1,000 `PUT`s of 4 KiB into a new folder `tag`, 4 connections at a
/// time: milliseconds.
fn puts(site: &Site, tag: &str, run: usize) -> f64 {
    let folder = format!("{}/{tag}", site.root);
    let (status, _) = Http::connect(&site.addr).send("MKCOL", &format!("{folder}/"), "", b"");
    assert_eq!(status, 201, "MKCOL {folder}");
    let t = Instant::now();
    let workers: Vec<_> = (0..CONNECTIONS)
        .map(|w| {
            let (addr, folder) = (site.addr.clone(), folder.clone());
            thread::spawn(move || {
                let mut http = Http::connect(&addr);
                for i in (w..PUTS).step_by(CONNECTIONS) {
                    let (status, _) = http.send("PUT", &format!("{folder}/f{i}"), "", &content(run, i));
                    assert!(status == 201 || status == 204, "PUT {folder}/f{i}: {status}");
                }
            })
        })
        .collect();
    workers.into_iter().for_each(|w| w.join().expect("PUT worker"));
    ms(t.elapsed())
}

/// One `PROPFIND` depth 1 (allprop) of `folder`: milliseconds, after
/// checking every entry is listed.
fn propfind(site: &Site, folder: &str) -> f64 {
    let mut http = Http::connect(&site.addr);
    let t = Instant::now();
    let (status, body) = http.send("PROPFIND", &format!("{}/{folder}/", site.root), "Depth: 1\r\n", b"");
    let took = ms(t.elapsed());
    assert_eq!(status, 207, "PROPFIND {folder}");
    let listed = body.windows(10).filter(|w| w.eq_ignore_ascii_case(b":response>")).count() / 2;
    assert_eq!(listed, LISTED + 1, "PROPFIND {folder}: entries listed");
    took
}

/// The 10,000 small files of the listing, uploaded by the text client
/// into `/listed` (so each has its recorded digest, as uploads do).
fn make_listed(site_addr: &str, local: &Path) {
    fs::create_dir_all(local).expect("listed folder");
    for i in 0..LISTED {
        fs::write(local.join(format!("entry-{i:05}.txt")), format!("{i}\n")).expect("listed file");
    }
    let mut c = Client::connect(site_addr).expect("connect");
    c.login(USER, PASSWORD).expect("login");
    let report = c.mirror(local.to_str().expect("utf-8"), "/listed", true, Options::default(), &mut |_| true);
    assert!(report.expect("mirror").ok(), "uploading the listed folder");
}

/// The section: both rows, netdisk beside rclone.
pub fn run(runs: usize, dir: &Path) {
    let data = dir.join("data");
    let (server, ours) = start_netdisk(&data);
    let home = data.join("home").join(USER);
    let peer = Rclone::start(&home, dir);
    let label = format!("WebDAV {PUTS} PUTs of 4 KiB, {CONNECTIONS} connections");
    let got = measure(runs, |r| puts(&ours, &format!("put-{r}"), r));
    match &peer {
        Some(rclone) => {
            let theirs = measure(runs, |r| puts(&rclone.site, &format!("rclone-put-{r}"), r + 1000));
            line(&label, &got, "ms", Limit { name: "rclone", value: theirs.median() }, PUT_TARGET);
        }
        None => missing(&label, "peer not installed (make bench-peers): rclone"),
    }
    drop(peer);
    make_listed(&server.addr, &dir.join("listed"));
    let label = format!("WebDAV PROPFIND depth 1, {LISTED} entries");
    let got = measure(runs, |_| propfind(&ours, "listed"));
    // Started afresh: rclone keeps what it listed for 5 minutes (its
    // default, kept: with `--dir-cache-time 0s` one listing of 10,000
    // files took it over a minute), so it would not see the new folder,
    // and its runs after the first are served from that cache.
    match Rclone::start(&home, dir) {
        Some(rclone) => {
            let theirs: Stats = measure(runs, |_| propfind(&rclone.site, "listed"));
            line(&label, &got, "ms", Limit { name: "rclone", value: theirs.median() }, LIST_TARGET);
            println!("{:<46} rclone's first (uncached) listing {:.0} ms", "", theirs.0[0]);
        }
        None => missing(&label, "peer not installed (make bench-peers): rclone"),
    }
    drop(server);
}
