//! WebDAV at `/dav/` through real sockets: raw requests for the
//! contract's rules (credentials, depth, hostile XML, locks binding the
//! text face, dead properties travelling with their resource, the trash,
//! a streamed listing), and the real clients: `litmus`, `rclone`,
//! `cadaver` and a `davfs2` mount (installed by `make test` when root; a
//! test whose tool is missing says so and skips, except in CI, where it
//! fails).

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::http::auth;
use common::{Fixture, Raw, bytes, md5_hex, run, wait_until};
use netdisk::proto::body::TrashLine;

/// One response.
#[derive(Debug)]
struct Resp {
    status: u16,
    head: String,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// Reads one response off `s` (`head_only`: a `HEAD`'s).
fn read_resp(s: &mut TcpStream, head_only: bool) -> Resp {
    let mut wire = Vec::new();
    let mut buf = [0u8; 65536];
    let end = loop {
        if let Some(end) = wire.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed before a response head: {:?}", String::from_utf8_lossy(&wire));
        wire.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&wire[..end]).into_owned();
    let mut rest = wire[end + 4..].to_vec();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut resp = Resp { status, head, body: String::new() };
    let mut fill = |rest: &mut Vec<u8>, want: usize| {
        while rest.len() < want {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "closed inside a body");
            rest.extend_from_slice(&buf[..n]);
        }
    };
    if head_only || status == 204 || status == 304 {
        return resp;
    }
    let mut body = Vec::new();
    if let Some(len) = resp.header("content-length") {
        let len: usize = len.parse().unwrap();
        fill(&mut rest, len);
        body = rest[..len].to_vec();
    } else if resp.header("transfer-encoding").is_some() {
        loop {
            let nl = loop {
                if let Some(nl) = rest.windows(2).position(|w| w == b"\r\n") {
                    break nl;
                }
                let have = rest.len() + 1;
                fill(&mut rest, have);
            };
            let size = usize::from_str_radix(std::str::from_utf8(&rest[..nl]).unwrap(), 16).unwrap();
            fill(&mut rest, nl + 2 + size + 2);
            body.extend_from_slice(&rest[nl + 2..nl + 2 + size]);
            rest.drain(..nl + 2 + size + 2);
            if size == 0 {
                break;
            }
        }
    }
    resp.body = String::from_utf8_lossy(&body).into_owned();
    resp
}

/// One request as `ann` (or with `extra` headers only, when `who` is
/// empty) on its own connection.
fn req(addr: &str, who: &str, method: &str, path: &str, extra: &str, body: &[u8]) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let creds = if who.is_empty() { String::new() } else { auth(who) };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{creds}{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    read_resp(&mut s, method == "HEAD")
}

/// A server with HTTP on and `ann` registered.
fn dav_fixture(name: &str, args: &[&str]) -> Fixture {
    let mut all = vec!["--http", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let s = Fixture::new(name, &all);
    s.user("ann");
    s
}

fn trash(c: &mut Raw) -> Vec<TrashLine> {
    let head = c.ok("trash", "212 ");
    c.lines_after(&head).iter().map(|l| l.parse().unwrap()).collect()
}

/// Whether `tool` runs here; else the test skips (and fails in CI).
fn have(tool: &str) -> bool {
    let ok = Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "{tool} is not installed in CI (make test installs it as root)");
        eprintln!("SKIPPED: {tool} is not installed (make test installs it when run as root)");
    }
    ok
}

const PROPFIND_ETAG: &str =
    r#"<?xml version="1.0"?><propfind xmlns="DAV:"><prop><getetag/><getcontentlength/></prop></propfind>"#;

#[test]
fn options_needs_no_credentials_and_depth_infinity_is_refused() {
    let s = dav_fixture(common::test_name!(), &[]);
    for path in ["/", "/dav/", "/dav/nothing/here"] {
        let r = req(&s.http, "", "OPTIONS", path, "", b"");
        assert_eq!(r.status, 200, "{path}: {r:?}");
        assert_eq!(r.header("dav").as_deref(), Some("1, 2"), "{path}");
        assert!(r.header("allow").unwrap().contains("PROPFIND"));
    }
    let r = req(&s.http, "", "PROPFIND", "/dav/", "Depth: 0\r\n", b"");
    assert_eq!(r.status, 401, "other methods need an account");
    for depth in ["Depth: infinity\r\n", ""] {
        let r = req(&s.http, "ann", "PROPFIND", "/dav/", depth, b"");
        assert_eq!(r.status, 403, "{depth:?}");
        assert!(r.body.contains("propfind-finite-depth"), "{}", r.body);
    }
    let r = req(&s.http, "ann", "PROPFIND", "/dav/", "Depth: 1\r\n", b"");
    assert_eq!(r.status, 207);
    assert!(r.body.contains("<D:href>/dav/</D:href>") && r.body.contains("<D:collection/>"), "{}", r.body);
}

#[test]
fn hostile_xml_is_refused() {
    let s = dav_fixture(common::test_name!(), &[]);
    let bomb = r#"<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><propfind xmlns="DAV:"><prop><x>&b;</x></prop></propfind>"#;
    let external =
        r#"<!DOCTYPE p [<!ENTITY e SYSTEM "file:///etc/passwd">]><propfind xmlns="DAV:"><prop>&e;</prop></propfind>"#;
    let deep = format!("<propfind xmlns=\"DAV:\">{}{}</propfind>", "<a>".repeat(40), "</a>".repeat(40));
    let unknown_entity = r#"<propfind xmlns="DAV:"><prop>&nbsp;</prop></propfind>"#;
    for body in [bomb, external, &deep, unknown_entity, "<propfind xmlns='DAV:'><prop>"] {
        let r = req(&s.http, "ann", "PROPFIND", "/dav/", "Depth: 0\r\n", body.as_bytes());
        assert_eq!(r.status, 400, "{body}: {r:?}");
    }
    let huge = format!("<propfind xmlns=\"DAV:\"><prop><x>{}</x></prop></propfind>", "y".repeat(1 << 20));
    let r = req(&s.http, "ann", "PROPPATCH", "/dav/", "", huge.as_bytes());
    assert_eq!(r.status, 413);
    let r = req(&s.http, "ann", "PROPFIND", "/dav/", "Depth: 0\r\n", PROPFIND_ETAG.as_bytes());
    assert_eq!(r.status, 207, "the server still answers");
}

#[test]
fn a_lock_binds_the_text_face_and_other_processes() {
    let s = dav_fixture(common::test_name!(), &[]);
    let other = s.another(&["--http", "127.0.0.1:0"]);
    let mut c = s.user("ann");
    assert!(c.upload("f", b"one").starts_with("226"));
    let info = r#"<?xml version="1.0"?><lockinfo xmlns="DAV:"><lockscope><exclusive/></lockscope><locktype><write/></locktype><owner>t</owner></lockinfo>"#;
    let r = req(&s.http, "ann", "LOCK", "/dav/f", "Timeout: Second-100000\r\n", info.as_bytes());
    assert_eq!(r.status, 200, "{r:?}");
    let token = r.header("lock-token").unwrap();
    assert!(
        r.body.contains("<D:timeout>Second-3600</D:timeout>") || r.body.contains("Second-359"),
        "capped: {}",
        r.body
    );
    // The text protocol submits no token: 450 for every writer of the path.
    assert!(c.cmd(&format!("upload f 3 {}", md5_hex(b"two"))).starts_with("450"));
    // A refused upload closes its connection (its payload may follow).
    let mut c = s.user("ann");
    assert!(c.cmd("rm f").starts_with("450"));
    assert!(c.cmd("mv f g").starts_with("450"));
    c.ok("cp f g", "250");
    // So does HTTP's /files/.
    assert_eq!(req(&s.http, "ann", "PUT", "/files/f", "", b"two").status, 423);
    assert_eq!(req(&s.http, "ann", "DELETE", "/files/f", "", b"").status, 423);
    // Another server process over the same data sees the lock.
    let r = req(&other.http, "ann", "PUT", "/dav/f", "", b"two");
    assert_eq!(r.status, 423, "{r:?}");
    assert!(r.body.contains("lock-token-submitted"));
    let r = req(&other.http, "ann", "PUT", "/dav/f", &format!("If: ({token})\r\n"), b"two");
    assert!(matches!(r.status, 200 | 204), "{r:?}");
    let r = req(&other.http, "ann", "UNLOCK", "/dav/f", &format!("Lock-Token: {token}\r\n"), b"");
    assert_eq!(r.status, 204);
    assert!(c.cmd("rm f").starts_with("250"), "{}", c.transcript);
    // A lock of an unmapped URL makes an empty file.
    let r = req(&s.http, "ann", "LOCK", "/dav/new", "", info.as_bytes());
    assert_eq!(r.status, 201, "{r:?}");
    assert!(c.cmd("stat new").starts_with("213"));
}

#[test]
fn dead_properties_travel_with_their_resource() {
    let s = dav_fixture(common::test_name!(), &[]);
    let mut c = s.user("ann");
    c.ok("makedir d", "257");
    assert!(c.upload("d/f", b"data").starts_with("226"));
    let set = |v: &str| {
        format!(
            r#"<?xml version="1.0"?><propertyupdate xmlns="DAV:" xmlns:Z="urn:z"><set><prop><Z:tag>{v}</Z:tag></prop></set></propertyupdate>"#
        )
    };
    let get = r#"<?xml version="1.0"?><propfind xmlns="DAV:" xmlns:Z="urn:z"><prop><Z:tag/></prop></propfind>"#;
    let tag_of = |path: &str| {
        let r = req(&s.http, "ann", "PROPFIND", path, "Depth: 0\r\n", get.as_bytes());
        if r.status == 404 {
            return None;
        }
        assert_eq!(r.status, 207, "{path}: {r:?}");
        let body = r.body;
        body.split_once("urn:z\">").and_then(|(_, rest)| rest.split_once('<')).map(|(v, _)| v.to_string())
    };
    assert_eq!(req(&s.http, "ann", "PROPPATCH", "/dav/d/f", "", set("file").as_bytes()).status, 207);
    assert_eq!(req(&s.http, "ann", "PROPPATCH", "/dav/d/", "", set("folder").as_bytes()).status, 207);
    assert_eq!(tag_of("/dav/d/f").as_deref(), Some("file"));
    // Moved by the text protocol, file and folder.
    c.ok("mv d/f d/g", "250");
    assert_eq!(tag_of("/dav/d/g").as_deref(), Some("file"));
    assert_eq!(tag_of("/dav/d/f"), None, "a new file at the old name has none");
    c.ok("mv d e", "250");
    assert_eq!(tag_of("/dav/e/").as_deref(), Some("folder"));
    assert_eq!(tag_of("/dav/e/g").as_deref(), Some("file"));
    // Trashed and restored (a file alone, then the folder), over WebDAV and text.
    assert_eq!(req(&s.http, "ann", "DELETE", "/dav/e/g", "", b"").status, 204);
    assert!(c.upload("e/g", b"other").starts_with("226"));
    assert_eq!(tag_of("/dav/e/g"), None);
    let id = trash(&mut c).into_iter().find(|t| t.path == "/e/g").unwrap().id;
    c.ok(&format!("restore {id} /e/back"), "257");
    assert_eq!(tag_of("/dav/e/back").as_deref(), Some("file"));
    c.ok("rm e", "250");
    let id = trash(&mut c).into_iter().find(|t| t.path == "/e").unwrap().id;
    c.ok(&format!("restore {id}"), "257");
    assert_eq!(tag_of("/dav/e/").as_deref(), Some("folder"));
    assert_eq!(tag_of("/dav/e/back").as_deref(), Some("file"));
    // Copied (by hard links), and the copy's properties are its own.
    let r = req(&s.http, "ann", "COPY", "/dav/e/", &format!("Destination: http://{}/dav/c/\r\n", s.http), b"");
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(tag_of("/dav/c/back").as_deref(), Some("file"));
    assert_eq!(req(&s.http, "ann", "PROPPATCH", "/dav/c/back", "", set("copy").as_bytes()).status, 207);
    assert_eq!(tag_of("/dav/e/back").as_deref(), Some("file"));
    // A text upload over a file keeps its properties, as a PUT does.
    assert!(c.upload("c/back", b"new content").starts_with("226"));
    assert_eq!(tag_of("/dav/c/back").as_deref(), Some("copy"));
    // Listings never show where they are kept.
    assert_eq!(c.ls("e"), vec!["back".to_string(), "g".to_string()]);
    // A folder whose only content is its own properties is empty to rmdir.
    c.ok("makedir p", "257");
    assert_eq!(req(&s.http, "ann", "PROPPATCH", "/dav/p/", "", set("x").as_bytes()).status, 207);
    c.ok("rmdir p", "250");
}

#[test]
fn puts_keep_what_they_replace_in_the_trash_and_take_a_time() {
    let s = dav_fixture(common::test_name!(), &[]);
    let mut c = s.user("ann");
    let put = |path: &str, body: &[u8], extra: &str| req(&s.http, "ann", "PUT", path, extra, body);
    assert_eq!(put("/dav/empty", b"", "").status, 201);
    let r = put("/dav/empty", b"real content", "X-OC-Mtime: 1000000000\r\n");
    assert_eq!(r.status, 204, "{r:?}");
    assert_eq!(r.header("x-oc-mtime").as_deref(), Some("accepted"));
    assert!(trash(&mut c).is_empty(), "a replaced empty file is not kept");
    let r = req(&s.http, "ann", "HEAD", "/dav/empty", "", b"");
    assert_eq!(r.header("last-modified").as_deref(), Some("Sun, 09 Sep 2001 01:46:40 GMT"), "X-OC-Mtime set it");
    assert_eq!(put("/dav/empty", b"newer", "").status, 204);
    let kept = trash(&mut c);
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0].size, 12);
    let r = req(&s.http, "ann", "PROPFIND", "/dav/empty", "Depth: 0\r\n", PROPFIND_ETAG.as_bytes());
    assert!(r.body.contains(&format!("\"{}\"", md5_hex(b"newer"))), "ETag is the MD5: {}", r.body);
    // Windows sets times by PROPPATCH.
    let win = r#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop><Z:Win32LastModifiedTime>Wed, 01 Jan 2020 00:00:00 GMT</Z:Win32LastModifiedTime></D:prop></D:set></D:propertyupdate>"#;
    let r = req(&s.http, "ann", "PROPPATCH", "/dav/empty", "", win.as_bytes());
    assert!(r.body.contains("200 OK"), "{r:?}");
    let r = req(&s.http, "ann", "HEAD", "/dav/empty", "", b"");
    assert_eq!(r.header("last-modified").as_deref(), Some("Wed, 01 Jan 2020 00:00:00 GMT"));
    // DELETE goes to the trash too.
    assert_eq!(req(&s.http, "ann", "DELETE", "/dav/empty", "", b"").status, 204);
    assert_eq!(trash(&mut c).len(), 2);
}

/// Resident-set high-water mark of a process, in KiB.
fn peak_kib(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_listing_of_100000_entries_streams() {
    let s = dav_fixture(common::test_name!(), &[]);
    let big = s.data.join("home/ann/big");
    fs::create_dir_all(&big).unwrap();
    for i in 0..100_000 {
        fs::File::create(big.join(format!("file-with-a-rather-long-name-{i:06}"))).unwrap();
    }
    let r = req(&s.http, "ann", "PROPFIND", "/dav/", "Depth: 0\r\n", b"");
    assert_eq!(r.status, 207);
    let before = peak_kib(s.child.id());
    let mut conn = TcpStream::connect(&s.http).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    // HTTP/1.0: the body is not chunked, the close ends it.
    let head = format!("PROPFIND /dav/big/ HTTP/1.0\r\nHost: x\r\n{}Depth: 1\r\n\r\n", auth("ann"));
    conn.write_all(head.as_bytes()).unwrap();
    let mut total = 0usize;
    let mut responses = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    let mut tail = Vec::new();
    loop {
        let n = conn.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        total += n;
        tail.extend_from_slice(&buf[..n]);
        responses += tail.windows(13).filter(|w| w == b"</D:response>").count();
        let keep = tail.len().min(12);
        tail.drain(..tail.len() - keep);
    }
    assert_eq!(responses, 100_001, "the folder and each entry");
    let grown = peak_kib(s.child.id()).saturating_sub(before);
    assert!(total > 40 << 20, "{total} bytes");
    assert!(grown < 16 * 1024, "the server grew by {grown} KiB for a {total}-byte listing");
}

#[test]
fn litmus_suites_pass_without_warnings() {
    if !have("litmus") {
        return;
    }
    let s = dav_fixture(common::test_name!(), &[]);
    let url = format!("http://{}/dav/", s.http);
    let out = run(
        // litmus writes debug.log and child.log where it runs: in the test's directory.
        Command::new("litmus")
            .env("TESTS", "basic copymove props locks http")
            .env("HOME", s.dir())
            .current_dir(s.dir())
            .args([url.as_str(), "ann", "pw-ann"]),
        "",
    );
    let summaries: Vec<&str> = out.out.lines().filter(|l| l.contains("summary for")).collect();
    assert_eq!(summaries.len(), 5, "{}\n{}", out.out, out.err);
    for line in &summaries {
        assert!(line.contains(" 0 failed"), "{line}\n{}", out.out);
        assert!(!line.contains("warning"), "{line}: every warning is explained in docs/HTTP.md\n{}", out.out);
    }
    assert_eq!(out.code, 0, "{}", out.out);
    eprintln!("{}", summaries.join("\n"));
}

/// Writes a small tree of files under `top`: the names and contents.
fn make_tree(top: &Path) -> Vec<(String, Vec<u8>)> {
    let files = vec![
        ("a.txt".to_string(), b"alpha".to_vec()),
        ("sub/b.bin".to_string(), bytes(300_000, 7)),
        ("sub/deeper/c d.txt".to_string(), b"with a space".to_vec()),
        ("sub/deeper/ü.txt".to_string(), b"unicode".to_vec()),
        ("empty".to_string(), Vec::new()),
    ];
    for (name, data) in &files {
        let p = top.join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, data).unwrap();
    }
    files
}

fn same_tree(top: &Path, files: &[(String, Vec<u8>)]) {
    for (name, data) in files {
        let got = fs::read(top.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&got, data, "{name}");
    }
}

fn rclone(s: &Fixture, args: &[&str]) -> common::Ran {
    let conf = s.dir().join("rclone.conf");
    let obscured = run(Command::new("rclone").args(["obscure", "pw-ann"]), "");
    let text = format!(
        "[nd]\ntype = webdav\nurl = http://{}/dav/\nvendor = other\nuser = ann\npass = {}\n",
        s.http,
        obscured.out.trim()
    );
    fs::write(&conf, text).unwrap();
    let out = run(Command::new("rclone").arg("--config").arg(&conf).args(args), "");
    assert_eq!(out.code, 0, "rclone {args:?}\n{}\n{}", out.out, out.err);
    out
}

#[test]
fn rclone_copies_up_and_down_and_syncs_into_the_trash() {
    if !have("rclone") {
        return;
    }
    let s = dav_fixture(common::test_name!(), &[]);
    let mut c = s.user("ann");
    c.ok("makedir r", "257");
    let up = s.dir().join("up");
    let files = make_tree(&up);
    rclone(&s, &["copy", up.to_str().unwrap(), "nd:r"]);
    let down = s.dir().join("down");
    rclone(&s, &["copy", "nd:r", down.to_str().unwrap()]);
    same_tree(&down, &files);
    assert_eq!(c.download("r/sub/b.bin"), files[1].1);
    // Changes and a deletion, then sync: what it replaces or deletes is kept.
    fs::write(up.join("a.txt"), b"alpha, changed").unwrap();
    fs::remove_file(up.join("sub/deeper/c d.txt")).unwrap();
    rclone(&s, &["sync", up.to_str().unwrap(), "nd:r"]);
    assert_eq!(c.download("r/a.txt"), b"alpha, changed");
    assert!(c.cmd("stat \"r/sub/deeper/c d.txt\"").starts_with("550"));
    let kept: Vec<String> = trash(&mut c).into_iter().map(|t| t.path).collect();
    assert!(kept.contains(&"/r/a.txt".to_string()), "{kept:?}");
    assert!(kept.contains(&"/r/sub/deeper/c d.txt".to_string()), "{kept:?}");
    let down2 = s.dir().join("down2");
    rclone(&s, &["copy", "nd:r", down2.to_str().unwrap()]);
    assert_eq!(fs::read(down2.join("a.txt")).unwrap(), b"alpha, changed");
    assert!(!down2.join("sub/deeper/c d.txt").exists());
}

#[test]
fn cadaver_runs_a_script() {
    if !have("cadaver") {
        return;
    }
    let s = dav_fixture(common::test_name!(), &[]);
    let mut c = s.user("ann");
    let home = s.dir().join("home");
    fs::create_dir_all(&home).unwrap();
    let host = s.http.split(':').next().unwrap().to_string();
    fs::write(home.join(".netrc"), format!("machine {host} login ann password pw-ann\n")).unwrap();
    let local = s.dir().join("local.txt");
    fs::write(&local, b"from cadaver").unwrap();
    let back = s.dir().join("back.txt");
    let script = format!(
        "mkcol box\ncd box\nput {} one.txt\ncopy one.txt two.txt\nmove two.txt three.txt\npropset one.txt colour blue\npropget one.txt colour\nlock one.txt\nunlock one.txt\nget three.txt {}\nls\ndelete one.txt\nquit\n",
        local.display(),
        back.display()
    );
    let url = format!("http://{}/dav/", s.http);
    let out = run(Command::new("cadaver").env("HOME", &home).arg(&url), &script);
    let all = format!("{}\n{}", out.out, out.err);
    assert!(!all.contains("failed"), "{all}");
    assert!(all.contains("blue"), "propget: {all}");
    assert_eq!(fs::read(&back).unwrap(), b"from cadaver");
    assert_eq!(c.download("box/three.txt"), b"from cadaver");
    assert!(c.cmd("stat box/one.txt").starts_with("550"));
    assert!(trash(&mut c).iter().any(|t| t.path == "/box/one.txt"));
}

/// A davfs2 mount, unmounted however the test ends.
struct Mount {
    point: std::path::PathBuf,
}

impl Drop for Mount {
    fn drop(&mut self) {
        if is_mounted(&self.point) {
            let _ = Command::new("umount").arg(&self.point).status();
            if is_mounted(&self.point) {
                let _ = Command::new("umount").arg("-l").arg(&self.point).status();
            }
        }
    }
}

fn is_mounted(point: &Path) -> bool {
    let mounts = fs::read_to_string("/proc/mounts").unwrap_or_default();
    let p = point.to_string_lossy().replace(' ', "\\040");
    mounts.lines().any(|l| l.split(' ').nth(1) == Some(p.as_str()))
}

/// Mounts `/dav/` of `s` at `point` with davfs2 (its configuration and
/// cache under `conf`), or says why it cannot.
fn mount(s: &Fixture, conf: &Path, point: &Path) -> Result<Mount, String> {
    fs::create_dir_all(point).unwrap();
    let cache = conf.join("cache");
    fs::create_dir_all(&cache).unwrap();
    let chown = Command::new("chown").args(["root:davfs2"]).arg(&cache).status();
    let _ = Command::new("chmod").arg("775").arg(&cache).status();
    if !chown.is_ok_and(|st| st.success()) {
        return Err("cannot give the cache to root:davfs2 (no davfs2 group?)".into());
    }
    let secrets = conf.join("secrets");
    let url = format!("http://{}/dav/", s.http);
    fs::write(&secrets, format!("{url} ann pw-ann\n")).unwrap();
    let _ = Command::new("chmod").arg("600").arg(&secrets).status();
    let cfg = conf.join("davfs2.conf");
    fs::write(
        &cfg,
        format!(
            "buf_size 64\ncache_dir {}\nsecrets {}\nuse_locks 1\ndelay_upload 0\nask_auth 0\nif_match_bug 0\n",
            cache.display(),
            secrets.display()
        ),
    )
    .unwrap();
    let out =
        run(Command::new("mount.davfs").arg(&url).arg(point).args(["-o", &format!("conf={}", cfg.display())]), "");
    let m = Mount { point: point.to_path_buf() };
    if out.code != 0 || !is_mounted(point) {
        return Err(format!("mount.davfs failed ({}): {} {}", out.code, out.out, out.err));
    }
    Ok(m)
}

#[test]
fn davfs2_mount_copies_a_tree_in_and_rm_goes_to_the_trash() {
    if !have("mount.davfs") {
        return;
    }
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0"));
    if !root {
        assert!(std::env::var_os("CI").is_none(), "CI runs as root");
        eprintln!("SKIPPED: a davfs2 mount needs root");
        return;
    }
    let s = dav_fixture(common::test_name!(), &[]);
    let mut c = s.user("ann");
    let conf = s.dir().join("davfs");
    let point = s.dir().join("mnt");
    let src = s.dir().join("src");
    let files = make_tree(&src);
    {
        let m = mount(&s, &conf, &point).unwrap_or_else(|why| panic!("davfs2 cannot mount: {why}"));
        let cp = Command::new("cp").arg("-r").arg(&src).arg(point.join("tree")).status().unwrap();
        assert!(cp.success());
        // Unmounting uploads what is cached and waits for it.
        let st = Command::new("umount").arg(&m.point).status().unwrap();
        assert!(st.success(), "umount");
        wait_until(60, "the mount is gone", || !is_mounted(&point));
    }
    assert_eq!(c.download("tree/sub/b.bin"), files[1].1, "on the server after unmount");
    {
        let m = mount(&s, &conf, &point).unwrap_or_else(|why| panic!("davfs2 cannot mount again: {why}"));
        same_tree(&m.point.join("tree"), &files);
        fs::remove_file(m.point.join("tree/a.txt")).unwrap();
        let st = Command::new("umount").arg(&m.point).status().unwrap();
        assert!(st.success());
    }
    assert!(c.cmd("stat tree/a.txt").starts_with("550"));
    let kept: Vec<String> = trash(&mut c).into_iter().map(|t| t.path).collect();
    assert!(kept.contains(&"/tree/a.txt".to_string()), "{kept:?}");
}

#[test]
fn quota_properties_are_the_text_protocols_figures() {
    let s = dav_fixture(common::test_name!(), &["--quota", "1M"]);
    let mut c = s.user("ann");
    assert!(c.upload("f", &bytes(1000, 1)).starts_with("226"));
    // `213 USED LIMIT`
    let used: u64 = c.ok("quota", "213").split(' ').nth(1).unwrap().parse().unwrap();
    assert!(used >= 1000);
    let ask = r#"<?xml version="1.0"?><propfind xmlns="DAV:"><prop><quota-used-bytes/><quota-available-bytes/></prop></propfind>"#;
    let r = req(&s.http, "ann", "PROPFIND", "/dav/", "Depth: 0\r\n", ask.as_bytes());
    assert!(r.body.contains(&format!("<D:quota-used-bytes>{used}</D:quota-used-bytes>")), "{}", r.body);
    assert!(
        r.body.contains(&format!("<D:quota-available-bytes>{}</D:quota-available-bytes>", (1 << 20) - used)),
        "{}",
        r.body
    );
    // Not in allprop (RFC 4331).
    let r = req(&s.http, "ann", "PROPFIND", "/dav/", "Depth: 0\r\n", b"");
    assert!(!r.body.contains("quota-used-bytes"), "{}", r.body);
    // Over the quota: 507 before the body is read.
    let r = req(&s.http, "ann", "PUT", "/dav/big", "", &bytes(2 << 20, 2));
    assert_eq!(r.status, 507, "{r:?}");
}

#[test]
fn a_chunked_put_as_finder_sends_it() {
    let s = dav_fixture(common::test_name!(), &[]);
    let mut conn = TcpStream::connect(&s.http).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "PUT /dav/._chunked HTTP/1.1\r\nHost: x\r\n{}Transfer-Encoding: chunked\r\nX-Expected-Entity-Length: 11\r\n\r\n",
        auth("ann")
    );
    conn.write_all(head.as_bytes()).unwrap();
    conn.write_all(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n").unwrap();
    let r = read_resp(&mut conn, false);
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.header("etag"), Some(format!("\"{}\"", md5_hex(b"hello world"))));
    // The connection goes on: a PROPFIND of the new file on it.
    let again =
        format!("PROPFIND /dav/._chunked HTTP/1.1\r\nHost: x\r\n{}Depth: 0\r\nContent-Length: 0\r\n\r\n", auth("ann"));
    conn.write_all(again.as_bytes()).unwrap();
    let r = read_resp(&mut conn, false);
    assert_eq!(r.status, 207);
    assert!(r.body.contains("<D:getcontentlength>11</D:getcontentlength>"), "{}", r.body);
    assert_eq!(s.user("ann").download("._chunked"), b"hello world");
}

/// Protocol 2.1 "Entries count" holds on the WebDAV face too (it books
/// through the engine): at the limit, `MKCOL`, `PUT` of a new file and
/// `COPY` are `507` and make nothing.
#[test]
fn the_entries_limit_holds_over_webdav() {
    let s = dav_fixture(common::test_name!(), &["--max-entries", "2"]);
    assert_eq!(req(&s.http, "ann", "MKCOL", "/dav/a/", "", b"").status, 201);
    assert_eq!(req(&s.http, "ann", "PUT", "/dav/a/f", "", b"one").status, 201);
    assert_eq!(req(&s.http, "ann", "MKCOL", "/dav/b/", "", b"").status, 507);
    assert_eq!(req(&s.http, "ann", "PUT", "/dav/g", "", b"two").status, 507);
    let to = format!("Destination: http://{}/dav/c/\r\n", s.http);
    assert_eq!(req(&s.http, "ann", "COPY", "/dav/a/", &to, b"").status, 507);
    let mut c = s.user("ann");
    assert_eq!(c.ls("/"), ["a"]);
    assert_eq!(c.ok("quota", "213 "), "213 3 - 2 2");
}
