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

/// The header every tus request carries.
pub const TUS: &str = "Tus-Resumable: 1.0.0\r\n";

/// `POST /tus/` at `http` for `user`'s new file `name` holding `data`
/// (its MD5 in the metadata): the upload's path, `/tus/ID`.
pub fn tus_create(http: &str, user: &str, name: &str, data: &[u8]) -> String {
    let meta = format!("filename {},md5 {}", b64(name.as_bytes()), b64(crate::common::md5_hex(data).as_bytes()));
    let head = format!("{TUS}{}Upload-Length: {}\r\nUpload-Metadata: {meta}\r\n", auth(user), data.len());
    let made = ask(http, "POST", "/tus/", &head, b"");
    assert_eq!(made.status, 201, "{}", made.head);
    let url = made.header("location").unwrap();
    url[url.find("/tus/").unwrap()..].to_string()
}

/// Holds `user`'s replace lock in the data directory `data` (the lock
/// file every replacing request of that user takes, `locks/USER`) until
/// dropped: the server's commits of that user wait for it meanwhile, so
/// a test can make uploads queue behind one.
pub fn hold_replace_lock(data: &std::path::Path, user: &str) -> std::fs::File {
    let dir = data.join("locks");
    std::fs::create_dir_all(&dir).unwrap();
    let mut options = std::fs::OpenOptions::new();
    let file = options.read(true).write(true).create(true).truncate(false).open(dir.join(user)).unwrap();
    file.lock().unwrap();
    file
}

/// One upload of `user` over HTTP: a `/files/` or `/dav/` `PUT` of `path`
/// holding `data`, or (`path` under `/tus/`) a tus upload made there and
/// sent whole in one `PATCH`.
pub fn upload(http: &str, user: &str, path: &str, data: &[u8]) -> Resp {
    let Some(name) = path.strip_prefix("/tus/") else { return ask(http, "PUT", path, &auth(user), data) };
    let id = tus_create(http, user, name, data);
    let head = format!("{TUS}{}Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n", auth(user));
    ask(http, "PATCH", &id, &head, data)
}

/// [`upload`]s of `user`, each on its own connection and thread, all at
/// once, while `meanwhile` runs here: their responses, in the order of
/// `files`.
pub fn uploads_while(http: &str, user: &str, files: &[(&str, Vec<u8>)], meanwhile: impl FnOnce()) -> Vec<Resp> {
    std::thread::scope(|scope| {
        let running: Vec<_> =
            files.iter().map(|(path, data)| scope.spawn(move || upload(http, user, path, data))).collect();
        meanwhile();
        running.into_iter().map(|t| t.join().unwrap()).collect()
    })
}

/// The uploads of the HTTP group tests: a `/files/` PUT, a WebDAV PUT, a
/// tus upload, and a `/files/` PUT over `alice`'s file `over` (made
/// here): all at once, on four connections.
pub fn http_group(server: &crate::common::Server) -> Vec<(&'static str, Vec<u8>)> {
    assert!(server.user("alice").upload("over", b"old").starts_with("226"));
    vec![
        ("/files/a", crate::common::bytes(70_000, 21)),
        ("/dav/b", crate::common::bytes(5_000, 22)),
        ("/tus/c", crate::common::bytes(90_000, 23)),
        ("/files/over", crate::common::bytes(3_000, 24)),
    ]
}

/// Whether `alice`'s file `name` holds `data`, read back over HTTP.
pub fn holds(server: &crate::common::Server, name: &str, data: &[u8]) -> bool {
    let got = ask(&server.http, "GET", &format!("/files/{name}"), &auth("alice"), b"");
    got.status == 200 && got.body == data
}
