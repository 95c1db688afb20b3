//! The HTTP face's weight: server memory per idle keep-alive connection
//! (beside a text session on a server of its own, in the same run), and
//! the bytes of the web app's first load with every URL it references.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::Duration;

use crate::http::{USER, Web, base64};
use crate::server::{self, PASSWORD, status_kib};

/// Idle connections opened on each face.
const IDLE: usize = 1000;
/// Idle connections after an authenticated request (as many: only the
/// first costs the server a password hash, the others find the
/// credential verified lately, `service::credentials`).
const IDLE_API: usize = IDLE;
/// The first load's budget (bytes on the wire, heads included).
const PAGE_BUDGET: usize = 150_000;

/// `Pss` of `/proc/PID/smaps_rollup` (KiB): resident memory with shared
/// pages split among their users.
fn pss_kib(pid: u32) -> u64 {
    let text = fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    let line = text.lines().find(|l| l.starts_with("Pss:")).unwrap_or("");
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// A keep-alive connection that has had `request` answered and now
/// waits for the next.
fn open_http(addr: &str, request: &str) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    (&stream).write_all(request.as_bytes()).expect("send");
    let mut reader = BufReader::new(&stream);
    let mut length = 0;
    loop {
        let mut l = String::new();
        reader.read_line(&mut l).expect("response head");
        if let Some((_, v)) = l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case("content-length")) {
            length = v.trim().parse().expect("length");
        }
        if l == "\r\n" {
            break;
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).expect("body");
    stream
}

/// A text session that has read its greeting.
fn open_text(addr: &str) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    BufReader::new(&stream).read_line(&mut String::new()).expect("greeting");
    stream
}

/// Server memory (RSS, PSS; KiB) before and after `count` connections
/// made by `open`, after one connection made and closed first.
fn idle_memory(pid: u32, count: usize, open: impl Fn() -> TcpStream) -> [(u64, u64); 2] {
    drop(open());
    thread::sleep(Duration::from_millis(300));
    let before = (status_kib(pid, "VmRSS:"), pss_kib(pid));
    let conns: Vec<TcpStream> = (0..count).map(|_| open()).collect();
    // Each answered; its thread goes back to waiting for the next request.
    thread::sleep(Duration::from_millis(500));
    let after = (status_kib(pid, "VmRSS:"), pss_kib(pid));
    drop(conns);
    [before, after]
}

/// Prints KiB per connection; returns the RSS figure.
fn show_idle(what: &str, count: usize, [before, after]: [(u64, u64); 2], text: Option<f64>) -> f64 {
    let rss = after.0.saturating_sub(before.0) as f64 / count as f64;
    let pss = after.1.saturating_sub(before.1) as f64 / count as f64;
    let against = text.map_or(String::new(), |t| {
        format!("   vs a text session {t:.1} KiB   ratio {:5.2}   (target <= 16 KiB)", t / rss)
    });
    println!(
        "{what:<46} {rss:8.1} KiB RSS, {pss:.1} KiB PSS each   ({count}: RSS {} -> {} KiB){against}",
        before.0, after.0
    );
    rss
}

/// Memory per idle connection, each kind on a new server: text sessions
/// after their greeting; HTTP keep-alive connections after a public
/// asset, and after an API request with Basic.
pub fn idle(dir: &Path) {
    let text = server::start(&dir.join("idle-text"));
    let memory = idle_memory(text.pid(), IDLE, || open_text(&text.addr));
    let text_kib = show_idle("text sessions, idle after the greeting", IDLE, memory, None);
    drop(text);
    let web = Web::start(&dir.join("idle-http"));
    let asset = "GET /app/icon.svg HTTP/1.1\r\nHost: bench\r\n\r\n";
    let memory = idle_memory(web.server.pid(), IDLE, || open_http(&web.http, asset));
    show_idle("HTTP keep-alive, idle after an asset", IDLE, memory, Some(text_kib));
    drop(web);
    let web = Web::start(&dir.join("idle-api"));
    let basic = base64(format!("{USER}:{PASSWORD}").as_bytes());
    let api = format!("GET /api/list/ HTTP/1.1\r\nHost: bench\r\nAuthorization: Basic {basic}\r\n\r\n");
    let memory = idle_memory(web.server.pid(), IDLE_API, || open_http(&web.http, &api));
    show_idle("HTTP keep-alive, idle after an API call (Basic)", IDLE_API, memory, Some(text_kib));
}

/// `curl` GET with Basic: bytes on the wire (head and body), and the body.
fn fetch(url: &str) -> (usize, String) {
    let cred = format!("{USER}:{PASSWORD}");
    let out = Command::new("curl").args(["-sS", "-D", "-", "-u", &cred, url]).output().expect("curl");
    assert!(out.status.success(), "GET {url}: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_string();
    (out.stdout.len(), body)
}

/// The values of `src="..."`, `href="..."` and CSS `url(...)` in `text`.
fn references(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for opener in ["src=\"", "href=\"", "url("] {
        for rest in text.split(opener).skip(1) {
            let end = if opener == "url(" { ')' } else { '"' };
            let value = rest.split(end).next().unwrap_or("").trim_matches(['"', '\'']);
            out.push(value.to_string());
        }
    }
    out
}

/// A reference that a browser would fetch from another origin.
fn foreign(reference: &str) -> bool {
    let scheme = reference.split_once(':').is_some_and(|(s, _)| s.chars().all(|c| c.is_ascii_alphanumeric()));
    reference.starts_with("//") || (scheme && !reference.starts_with("data:"))
}

/// `/` and everything it references (fragments aside), fetched once as
/// a first visit does: bytes on the wire and requests to other origins.
pub fn first_page(dir: &Path) {
    let web = Web::start(&dir.join("page"));
    let (mut total, page) = fetch(&web.url("/"));
    let (mut requests, mut foreigners) = (1, Vec::new());
    let mut todo = references(&page);
    let mut seen = Vec::new();
    while let Some(r) = todo.pop() {
        if r.starts_with('#') || r.is_empty() || seen.contains(&r) {
            continue;
        }
        seen.push(r.clone());
        if foreign(&r) {
            foreigners.push(r);
            continue;
        }
        let (bytes, body) = fetch(&web.url(&r));
        total += bytes;
        requests += 1;
        if r.ends_with(".css") {
            todo.extend(references(&body));
        }
    }
    println!(
        "{:<46} {:8.1} KB in {requests} requests (heads included), {} to other origins{}   budget {:.0} KB   ratio {:5.2}   (target <= 150 KB, none elsewhere)",
        "web app first load: / and what it references",
        total as f64 / 1000.0,
        foreigners.len(),
        if foreigners.is_empty() { String::new() } else { format!(" ({})", foreigners.join(" ")) },
        PAGE_BUDGET as f64 / 1000.0,
        PAGE_BUDGET as f64 / total as f64
    );
}
