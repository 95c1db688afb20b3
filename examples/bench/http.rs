//! The HTTP face against its peers, on loopback, each peer or limit
//! measured in the same run, the runs of the two sides alternating:
//!
//! - `GET` of a large file with `curl` against nginx (`sendfile on`)
//!   serving the same inode, both with the file cached, then both with it
//!   dropped from the cache;
//! - `PUT` with `curl -T` (Basic) and a tus upload in 8 MiB chunks with
//!   Debian's tuspy, against min(md5sum, durable write into the data
//!   directory), new content every run; tuspy also against a null server
//!   (the client alone);
//! - a shared folder's `?zip` of 64 files against nginx sending the same
//!   archive prebuilt, and the CRC-32 the ZIP is streamed with;
//! - then `http_load`: idle keep-alive connections and the web app's
//!   first load.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::http_peers::{Nginx, NullTus};
use crate::limits;
use crate::peers::{find, free_port};
use crate::server::{self, PASSWORD, Server};
use crate::stats::{Limit, Stats, line, mb_per_s, missing, plain};
use crate::{Opts, fresh, http_load};

/// The account the rows use.
pub const USER: &str = "web";
/// Files in the shared folder zipped.
const ZIP_FILES: u64 = 64;
/// tus chunk size (the web app's too).
const TUS_CHUNK: u64 = 8 << 20;

/// A server with its HTTP face, and an account on it.
pub struct Web {
    pub server: Server,
    /// `127.0.0.1:PORT` of the HTTP face.
    pub http: String,
    pub data: PathBuf,
}

impl Web {
    pub fn start(data: &Path) -> Web {
        let http = format!("127.0.0.1:{}", free_port());
        let server = server::start_with(data, &["--http", &http]);
        drop(server::client(&server.addr, USER));
        assert!(crate::peers::wait_listening(&http), "the HTTP face did not come up");
        Web { server, http, data: data.to_path_buf() }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    /// Where a file of the account lies in the data directory.
    fn stored(&self, name: &str) -> PathBuf {
        self.data.join("home").join(USER).join(name)
    }
}

/// `curl -sS` with `args`, the body thrown away: seconds taken and the
/// response heads (`-D -`). Panics with curl's complaint if it fails.
pub fn curl(args: &[&str]) -> (f64, String) {
    let started = Instant::now();
    let out = Command::new("curl").args(["-sS", "-o", "/dev/null", "-D", "-"]).args(args).output().expect("curl");
    let took = started.elapsed().as_secs_f64();
    assert!(out.status.success(), "curl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    (took, String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The status of the last response head in `heads`, and its `field`.
fn last_head(heads: &str, field: &str) -> (u16, Option<String>) {
    let last = heads.rsplit("HTTP/1.1 ").next().unwrap_or("");
    let status = last.get(..3).and_then(|s| s.parse().ok()).unwrap_or(0);
    let value = last.lines().find_map(|l| l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case(field)));
    (status, value.map(|(_, v)| v.trim().to_string()))
}

fn credentials() -> String {
    format!("{USER}:{PASSWORD}")
}

/// Base64 (RFC 4648, padded), for a Basic `Authorization`.
pub fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for group in bytes.chunks(3) {
        let n = group.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            let c = if i <= group.len() { ABC[(n >> (18 - 6 * i) & 63) as usize] } else { b'=' };
            out.push(c as char);
        }
    }
    out
}

/// Reads `files` whole (into the page cache), or drops them from it.
fn cache_state(files: &[PathBuf], cached: bool) {
    for f in files {
        if cached {
            let _ = File::open(f).and_then(|mut f| io::copy(&mut f, &mut io::sink()));
        } else {
            limits::uncache(f);
        }
    }
}

/// The section: every HTTP row.
pub fn section(o: &Opts, dir: &Path) {
    let dir = fresh(&dir.join("http"));
    if find("curl").is_none() {
        missing("http", "curl not installed (make bench-peers)");
        return;
    }
    let asked = |part: &str| o.only.split(',').any(|s| s == part);
    if !asked("http") {
        // `--only tus` or `--only idle` (or both): those rows alone.
        if asked("tus") {
            tus_row(o.runs, &Web::start(&dir.join("data")), &dir, o.size_mib << 20);
        }
        if asked("idle") {
            http_load::idle(&dir);
        }
        let _ = fs::remove_dir_all(&dir);
        return;
    }
    let web = Web::start(&dir.join("data"));
    let www = dir.join("www");
    fs::create_dir_all(&www).expect("nginx root");
    let nginx = Nginx::start(&dir.join("nginx"), &www);
    if nginx.is_none() {
        missing("nginx", "peer not installed (make bench-peers): the GET and ZIP rows have no peer");
    }
    let size = o.size_mib << 20;
    let put = put_row(o.runs, &web, &dir, size);
    get_row(o.runs, &web, nginx.as_ref(), &www, &put);
    tus_row(o.runs, &web, &dir, size);
    let zipped = zip_row(o.runs, &web, nginx.as_ref(), &www, &dir, size);
    crc_row(zipped);
    drop((nginx, web));
    http_load::idle(&dir);
    http_load::first_page(&dir);
    let _ = fs::remove_dir_all(&dir);
}

/// The upload limits of one run on a new file: md5sum of it and a
/// durable write of its size into the data directory (MB/s each).
fn upload_limits(src: &Path, data: &Path, size: u64, run: usize) -> (f64, f64, String) {
    let (md5_rate, md5) = limits::md5sum(src, size);
    let scratch = data.join("bench-durable");
    fs::create_dir_all(&scratch).expect("scratch dir");
    let durable = limits::durable_write(&scratch, size, run);
    let _ = fs::remove_dir_all(&scratch);
    (md5_rate, durable, md5)
}

/// Prints the two limits and returns the lower.
fn show_limits(md5: &Stats, durable: &Stats) -> Limit<'static> {
    plain("  limit: md5sum of each new file", md5, "MB/s", "");
    plain("  limit: durable write, data dir", durable, "MB/s", "");
    match md5.median() < durable.median() {
        true => Limit { name: "md5sum", value: md5.median() },
        false => Limit { name: "durable write", value: durable.median() },
    }
}

/// `curl -T` of new content; returns where the first one is stored.
fn put_row(runs: usize, web: &Web, dir: &Path, size: u64) -> PathBuf {
    let src = dir.join("put.bin");
    let (mut md5s, mut durables, mut puts) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..runs {
        limits::make_file(&src, size, 100 + i as u64);
        let (md5_rate, durable, md5) = upload_limits(&src, &web.data, size, i);
        let url = web.url(&format!("/files/put-{i}.bin"));
        let (took, heads) = curl(&["-u", &credentials(), "-T", &src.display().to_string(), &url]);
        let (status, etag) = last_head(&heads, "etag");
        assert!(status == 201 && etag == Some(format!("\"{md5}\"")), "PUT: {heads}");
        md5s.push(md5_rate);
        durables.push(durable);
        puts.push(size as f64 / 1e6 / took);
    }
    let _ = fs::remove_file(&src);
    let limit = show_limits(&Stats(md5s), &Stats(durables));
    line("HTTP PUT, curl -T, new file (loopback)", &Stats(puts), "MB/s", limit, "(target >= 0.85)");
    web.stored("put-0.bin")
}

/// `curl` GET of `file` from netdisk and from nginx (a hard link to the
/// same inode in nginx's root), cached and not.
fn get_row(runs: usize, web: &Web, nginx: Option<&Nginx>, www: &Path, file: &Path) {
    let size = fs::metadata(file).expect("the uploaded file").len();
    fs::hard_link(file, www.join("big.bin")).expect("link into nginx's root");
    let ours = web.url("/files/put-0.bin");
    let theirs = nginx.map(|n| format!("http://{}/big.bin", n.addr));
    let files = [file.to_path_buf()];
    for cached in [true, false] {
        let (mut us, mut them) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            if let Some(url) = &theirs {
                cache_state(&files, cached);
                them.push(mb_per_s(size, secs(curl(&[url]).0)));
            }
            cache_state(&files, cached);
            let (took, heads) = curl(&["-u", &credentials(), &ours]);
            assert_eq!(last_head(&heads, "etag").0, 200, "GET: {heads}");
            us.push(mb_per_s(size, secs(took)));
        }
        let state = if cached { "cached" } else { "not cached" };
        let what = format!("HTTP GET, curl, {state} (loopback)");
        if theirs.is_none() {
            plain(&what, &Stats(us), "MB/s", "nginx not installed");
            continue;
        }
        let limit = Limit { name: "nginx sendfile", value: Stats(them.clone()).median() };
        line(&what, &Stats(us), "MB/s", limit, "(target >= 0.9)");
        plain(&format!("  nginx sendfile, {state}"), &Stats(them), "MB/s", "");
    }
}

fn secs(s: f64) -> std::time::Duration {
    std::time::Duration::from_secs_f64(s)
}

/// Debian's tuspy uploading FILE to URL in chunks of CHUNK bytes with
/// the request headers HEADERS (JSON); prints the seconds of the upload
/// itself (from creation to the last PATCH's answer), not the
/// interpreter's start.
const TUSPY: &str = "
import sys, time, json
from tusclient import client
url, path, name, headers, chunk = sys.argv[1:6]
up = client.TusClient(url, headers=json.loads(headers)).uploader(
    path, chunk_size=int(chunk), metadata={'filename': name})
t = time.monotonic()
up.upload()
print(time.monotonic() - t)
";

/// Seconds tuspy took to upload `file` to `url` as `name` with
/// `headers`, or `None` when tuspy is not installed.
fn tuspy(url: &str, file: &Path, name: &str, headers: &str) -> Option<f64> {
    let chunk = TUS_CHUNK.to_string();
    let args = [url, &file.display().to_string(), name, headers, &chunk];
    let out = Command::new("/usr/bin/python3").arg("-c").arg(TUSPY).args(args).output().ok()?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("No module named"), "tuspy failed: {err}");
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// The request headers (JSON) of a client with Basic credentials, and of
/// a browser session (cookie from `/login`, and its origin): the latter
/// costs the server no password hash per request.
fn tus_headers(web: &Web) -> [String; 2] {
    let basic = format!("{{\"Authorization\": \"Basic {}\"}}", base64(credentials().as_bytes()));
    let form = format!("user={USER}&password={PASSWORD}");
    let (_, heads) = curl(&["-d", &form, &web.url("/login")]);
    let cookie = last_head(&heads, "set-cookie").1.expect("a session cookie");
    let cookie = cookie.split(';').next().unwrap_or_default();
    let origin = web.url("");
    [basic, format!("{{\"Cookie\": \"{cookie}\", \"Origin\": \"{origin}\"}}")]
}

/// tus uploads of new content by tuspy: to netdisk with Basic and with a
/// session cookie, and to a null server (the client alone).
fn tus_row(runs: usize, web: &Web, dir: &Path, size: u64) {
    let src = dir.join("tus.bin");
    let null = NullTus::start();
    let [basic, session] = tus_headers(web);
    let (mut md5s, mut durables) = (Vec::new(), Vec::new());
    let (mut ours, mut cookie, mut alone) = (Vec::new(), Vec::new(), Vec::new());
    let rate = |took: Option<f64>| size as f64 / 1e6 / took.unwrap_or(f64::NAN);
    for i in 0..runs {
        limits::make_file(&src, size, 200 + i as u64);
        let (md5_rate, durable, md5) = upload_limits(&src, &web.data, size, i);
        for (headers, rates, name) in [(&basic, &mut ours, "basic"), (&session, &mut cookie, "cookie")] {
            let name = format!("tus-{name}-{i}.bin");
            let Some(took) = tuspy(&web.url("/tus/"), &src, &name, headers) else {
                missing("tus upload, tuspy", "python3-tuspy not installed (make bench-peers)");
                return;
            };
            let (_, heads) = curl(&["-I", "-u", &credentials(), &web.url(&format!("/files/{name}"))]);
            assert_eq!(last_head(&heads, "etag").1, Some(format!("\"{md5}\"")), "tus upload: {heads}");
            rates.push(rate(Some(took)));
        }
        alone.push(rate(tuspy(&null.url, &src, "null.bin", &basic)));
        md5s.push(md5_rate);
        durables.push(durable);
    }
    let _ = fs::remove_file(&src);
    let limit = show_limits(&Stats(md5s), &Stats(durables));
    let value = limit.value;
    line("tus upload, tuspy, 8 MiB chunks, Basic", &Stats(ours), "MB/s", limit, "(target >= 0.8)");
    let limit = Limit { name: "the same limit", value };
    line("  the same with a session cookie", &Stats(cookie), "MB/s", limit, "(no password hash per PATCH)");
    plain("  tuspy alone, to a null tus server", &Stats(alone), "MB/s", "(the client's own bound)");
}

/// A shared folder of 64 files as `?zip`, against nginx sending the
/// same archive (saved from netdisk once, untimed). Returns the archive's
/// rate (MB/s), for the CRC row.
fn zip_row(runs: usize, web: &Web, nginx: Option<&Nginx>, www: &Path, dir: &Path, size: u64) -> f64 {
    let code = share_folder(web, dir, size);
    let ours = web.url(&format!("/s/{code}/?zip"));
    let prebuilt = www.join("folder.zip");
    let saved = Command::new("curl").args(["-sS", "-o"]).arg(&prebuilt).arg(&ours).status().expect("curl");
    assert!(saved.success(), "could not save the archive");
    let zip_len = fs::metadata(&prebuilt).expect("the archive").len();
    let mut files: Vec<PathBuf> =
        fs::read_dir(web.stored("zip")).expect("zipped folder").flatten().map(|e| e.path()).collect();
    files.push(prebuilt);
    let (mut us, mut them) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        cache_state(&files, true);
        if let Some(n) = nginx {
            them.push(mb_per_s(zip_len, secs(curl(&[&format!("http://{}/folder.zip", n.addr)]).0)));
        }
        let (took, heads) = curl(&[&ours]);
        assert_eq!(last_head(&heads, "content-type").0, 200, "zip: {heads}");
        us.push(mb_per_s(zip_len, secs(took)));
    }
    let what = format!("share ?zip, {ZIP_FILES} files, {} MiB (loopback)", zip_len >> 20);
    let got = Stats(us);
    if nginx.is_none() {
        plain(&what, &got, "MB/s", "nginx not installed");
        return got.median();
    }
    let limit = Limit { name: "nginx, prebuilt ZIP", value: Stats(them.clone()).median() };
    line(&what, &got, "MB/s", limit, "(target >= 0.8)");
    plain("  nginx sendfile of the same ZIP", &Stats(them), "MB/s", "");
    got.median()
}

/// `ZIP_FILES` new files, `size` bytes in all, in `/zip` (text client),
/// shared; the share's code.
fn share_folder(web: &Web, dir: &Path, size: u64) -> String {
    let mut c = server::client(&web.server.addr, USER);
    c.makedir("/zip").expect("mkdir /zip");
    let local = dir.join("member.bin");
    for k in 0..ZIP_FILES {
        limits::make_file(&local, size / ZIP_FILES, 300 + k);
        c.upload(&local, &format!("/zip/f{k:02}.bin"), &mut |_| true).expect("upload a member");
    }
    let _ = fs::remove_file(&local);
    c.share("/zip", None).expect("share /zip")
}

/// The CRC-32 of `src/http/crc32.rs` (the ZIPs'), one thread over 64 MiB in memory,
/// beside the ZIP's rate: whether it bounds the archive.
fn crc_row(zip_rate: f64) {
    let data: Vec<u8> = (0..64u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let rates: Vec<f64> = (0..5)
        .map(|_| {
            let started = Instant::now();
            let mut crc = netdisk::http::Crc32::default();
            crc.update(&data);
            std::hint::black_box(crc.value());
            mb_per_s(data.len() as u64, started.elapsed())
        })
        .collect();
    let limit = Limit { name: "the ZIP's rate", value: zip_rate };
    line("CRC-32 (crc32.rs), one thread, in memory", &Stats(rates), "MB/s", limit, "(must stay well above 1)");
}
