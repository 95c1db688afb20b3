//! HTTP by hand for the tests of the HTTP face: one request per
//! connection (`ask`), or raw bytes and every response they bring
//! (`exchange`, `parse_all`), and Basic credentials (`auth`, `b64`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One response as read off the wire.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Parses the responses in `wire` (`head_only`: bodies are not sent).
pub fn parse_all(mut wire: &[u8], head_only: bool) -> Vec<Resp> {
    let mut out = Vec::new();
    while let Some(end) = wire.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&wire[..end]).into_owned();
        wire = &wire[end + 4..];
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let mut resp = Resp { status, head, body: Vec::new() };
        if status == 100 {
            continue;
        }
        let no_body = head_only || status == 204 || status == 304;
        if let Some(len) = resp.header("content-length").filter(|_| !no_body) {
            let len: usize = len.parse().unwrap();
            let len = len.min(wire.len());
            resp.body = wire[..len].to_vec();
            wire = &wire[len..];
        } else if resp.header("transfer-encoding").is_some() && !no_body {
            while let Some(nl) = wire.windows(2).position(|w| w == b"\r\n") {
                let size = usize::from_str_radix(std::str::from_utf8(&wire[..nl]).unwrap(), 16).unwrap();
                wire = &wire[nl + 2..];
                if size == 0 {
                    wire = &wire[2.min(wire.len())..];
                    break;
                }
                resp.body.extend_from_slice(&wire[..size]);
                wire = &wire[size + 2..];
            }
        } else if !no_body {
            resp.body = wire.to_vec();
            wire = &[];
        }
        out.push(resp);
    }
    out
}

/// Sends `raw` on a new connection and reads until the server closes;
/// the responses, in order.
pub fn exchange(addr: &str, raw: &[u8]) -> Vec<Resp> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let _ = s.write_all(raw);
    // Nothing more comes: the server sees the end after the request.
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut wire = Vec::new();
    let _ = s.read_to_end(&mut wire);
    parse_all(&wire, raw.starts_with(b"HEAD "))
}

/// One request (`Connection: close` added), one response.
pub fn ask(addr: &str, method: &str, path: &str, headers: &str, body: &[u8]) -> Resp {
    let mut raw = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{headers}");
    if !body.is_empty() {
        raw.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    raw.push_str("\r\n");
    let mut raw = raw.into_bytes();
    raw.extend_from_slice(body);
    let mut all = exchange(addr, &raw);
    assert_eq!(all.len(), 1, "one response to {method} {path}: {all:?}");
    all.remove(0)
}

pub fn b64(data: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n =
            (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The `Authorization` line of `user` (password `pw-USER`).
pub fn auth(user: &str) -> String {
    format!("Authorization: Basic {}\r\n", b64(format!("{user}:pw-{user}").as_bytes()))
}
