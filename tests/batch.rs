//! Folders, globs, mirror, many-path commands and pipelining, through the
//! client library (and the example client for exit codes) against a real
//! server.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use common::{TempDir, bytes, client_command, fixture, run};
use netdisk::client::{Client, DigestCache, Event, Options};

fn login(addr: &str, dir: &TempDir) -> Client {
    let mut c = Client::connect(addr).unwrap();
    let _ = c.register("alice", "pw");
    c.login("alice", "pw").unwrap();
    c.set_cache(Some(DigestCache::open(&dir.path().join("cache/digests"))));
    c
}

fn quiet() -> impl FnMut(&Event) -> bool {
    |_| true
}

/// A tree with nested and empty directories, spaces and unicode, and one
/// file large enough to stream (and be claimed).
fn make_tree(root: &Path) {
    for d in ["dir one/sub two/deep", "empty dir", "ünï cödé/leer"] {
        fs::create_dir_all(root.join(d)).unwrap();
    }
    for i in 0..12 {
        fs::write(root.join(format!("dir one/f {i}.txt")), format!("file {i}\n")).unwrap();
    }
    fs::write(root.join("dir one/sub two/deep/nested file.bin"), bytes(5000, 3)).unwrap();
    fs::write(root.join("ünï cödé/grüße.txt"), "hallo\n").unwrap();
    fs::write(root.join("big.bin"), bytes(1_500_000, 7)).unwrap();
    fs::write(root.join("zero"), b"").unwrap();
}

/// Every path below `root` with its content (`None` for a directory).
fn snapshot(root: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for item in fs::read_dir(&dir).unwrap().flatten() {
            let p = item.path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            if p.is_dir() {
                out.insert(rel, None);
                stack.push(p);
            } else {
                out.insert(rel, Some(fs::read(&p).unwrap()));
            }
        }
    }
    out
}

/// The remote tree as `TYPE SIZE MD5 PATH` lines (through `find` when the
/// server has it, else the library's own walk).
fn remote_listing(c: &mut Client, path: &str) -> Vec<String> {
    match c.find(Some(path)) {
        Ok(lines) => lines.iter().map(|l| format!("{} {} {:?} {}", l.kind, l.size, l.md5, l.path)).collect(),
        Err(_) => {
            let out = TempDir::new("remote-listing");
            c.download_tree(path, &out.path().join("t"), Options::default(), &mut quiet()).unwrap();
            snapshot(&out.path().join("t"))
                .into_iter()
                .map(|(p, d)| format!("{} {}", p, d.map_or("dir".into(), |d| netdisk::Digest::of(&d).to_string())))
                .collect()
        }
    }
}

#[test]
fn a_tree_goes_up_and_down_byte_for_byte_and_reruns_send_nothing() {
    let s = fixture!();
    let dir = &s.dir;
    let mut c = login(&s.addr, dir);
    let src = dir.path().join("src tree");
    make_tree(&src);
    let r = c.upload_any(&src, None, &mut quiet()).unwrap();
    assert!(r.ok(), "{:?}", r.failures);
    assert_eq!(r.transferred, 16);
    let again = c.upload_any(&src, None, &mut quiet()).unwrap();
    assert_eq!((again.transferred, again.up_to_date), (0, 16), "a re-run merges: all up to date");
    let out = dir.path().join("out");
    fs::create_dir(&out).unwrap();
    let r = c.download_any("src tree", Some(&out), &mut quiet()).unwrap();
    assert!(r.ok(), "{:?}", r.failures);
    assert_eq!(snapshot(&out.join("src tree")), snapshot(&src), "byte for byte, empty dirs included");
    let r = c.download_any("/src tree", Some(&out), &mut quiet()).unwrap();
    assert_eq!((r.transferred, r.up_to_date), (0, 16));
}

#[test]
fn an_interrupted_tree_upload_finishes_only_what_is_missing() {
    let s = fixture!();
    let dir = &s.dir;
    let mut c = login(&s.addr, dir);
    let src = dir.path().join("many");
    fs::create_dir_all(src.join("a/b")).unwrap();
    for i in 0..150 {
        fs::write(src.join(if i % 2 == 0 { "a" } else { "a/b" }).join(format!("{i}.txt")), format!("{i}\n")).unwrap();
    }
    fs::write(src.join("big.bin"), bytes(2_000_000, 9)).unwrap();
    // Stop at the first file done: the rest of that group lands, no more.
    let first = c
        .upload_tree(&src, "many", Options::default(), &mut |e| !matches!(e, Event::Done { action: "uploaded", .. }))
        .unwrap();
    assert!(first.stopped && first.transferred > 0 && first.transferred < 151, "{}", first.summary());
    let rest = c.upload_tree(&src, "many", Options::default(), &mut quiet()).unwrap();
    assert!(rest.ok(), "{:?}", rest.failures);
    assert_eq!((rest.transferred, rest.up_to_date), (151 - first.transferred, first.transferred));
}

#[test]
fn mput_and_mget_with_each_kind_of_glob() {
    let s = fixture!();
    let dir = &s.dir;
    let mut c = login(&s.addr, dir);
    let here = dir.path().join("here");
    fs::create_dir(&here).unwrap();
    for name in ["a1.txt", "a2.txt", "b1.txt", "c.md", "notes.md", "x y.log"] {
        fs::write(here.join(name), name).unwrap();
    }
    let pats = |p: &[&str]| p.iter().map(|s| format!("{}/{s}", here.display())).collect::<Vec<_>>();
    let r = c.mput(&pats(&["*.md", "a?.txt"]), &mut quiet()).unwrap();
    assert!(r.ok(), "{:?}", r.failures);
    let names = |c: &mut Client| c.ls(None).unwrap().into_iter().map(|l| l.name).collect::<Vec<_>>();
    assert_eq!(names(&mut c), ["a1.txt", "a2.txt", "c.md", "notes.md"]);
    c.mput(&pats(&["[bx]*"]), &mut quiet()).unwrap();
    assert_eq!(names(&mut c), ["a1.txt", "a2.txt", "b1.txt", "c.md", "notes.md", "x y.log"]);
    let there = dir.path().join("there");
    fs::create_dir(&there).unwrap();
    std::env::set_current_dir(&there).unwrap();
    let r = c.mget(&["/*.md".into(), "[!ac]*".into(), "a?.t?t".into()], &mut quiet()).unwrap();
    assert!(r.ok(), "{:?}", r.failures);
    let got: Vec<String> = snapshot(&there).into_keys().collect();
    assert_eq!(got, ["a1.txt", "a2.txt", "b1.txt", "c.md", "notes.md", "x y.log"]);
    assert_eq!(fs::read(there.join("x y.log")).unwrap(), b"x y.log");
    let r = c.mget(&["*.none".into()], &mut quiet()).unwrap();
    assert!(!r.ok(), "no match is a failure");
}

#[test]
fn mirror_both_ways_with_delete_and_dry_run() {
    let s = fixture!();
    let dir = &s.dir;
    let mut c = login(&s.addr, dir);
    let src = dir.path().join("src");
    make_tree(&src);
    let r = c.mirror(src.to_str().unwrap(), "/m", true, Options::default(), &mut quiet()).unwrap();
    assert_eq!((r.transferred, r.deleted), (16, 0), "{}", r.summary());
    // Change the local side: one file gone, one changed, one new.
    fs::remove_file(src.join("dir one/f 0.txt")).unwrap();
    fs::remove_dir_all(src.join("empty dir")).unwrap();
    fs::write(src.join("dir one/f 1.txt"), "changed\n").unwrap();
    fs::write(src.join("new.txt"), "new\n").unwrap();
    let before = remote_listing(&mut c, "/m");
    let dry = Options { delete: true, dry_run: true };
    let mut said = Vec::new();
    let r = c
        .mirror(src.to_str().unwrap(), "/m", true, dry, &mut |e| {
            if let Event::Done { action, path, .. } = e {
                said.push(format!("{action} {path}"));
            }
            true
        })
        .unwrap();
    assert_eq!((r.transferred, r.deleted), (2, 2), "{said:?}");
    assert_eq!(r.summary(), "dry run: 2 to transfer, 14 up to date, 2 to delete, 12 bytes");
    assert!(said.contains(&"would delete /m/empty dir".to_string()), "{said:?}");
    assert!(said.contains(&"would upload /m/new.txt".to_string()), "{said:?}");
    assert_eq!(remote_listing(&mut c, "/m"), before, "a dry run changes nothing");
    let r =
        c.mirror(src.to_str().unwrap(), "/m", true, Options { delete: true, dry_run: false }, &mut quiet()).unwrap();
    assert!(r.ok(), "{:?}", r.failures);
    assert_eq!((r.transferred, r.up_to_date, r.deleted), (2, 14, 2), "{}", r.summary());
    assert!(r.summary().starts_with("2 transferred, 14 up to date, 2 deleted, 12 bytes in "), "{}", r.summary());
    // And back: a local copy with an extra file, mirrored from the server.
    let back = dir.path().join("back");
    c.mirror("/m", back.to_str().unwrap(), false, Options::default(), &mut quiet()).unwrap();
    fs::write(back.join("extra.txt"), "x").unwrap();
    let local_before = snapshot(&back);
    let r = c.mirror("/m", back.to_str().unwrap(), false, dry, &mut quiet()).unwrap();
    assert_eq!((r.transferred, r.deleted), (0, 1));
    assert_eq!(snapshot(&back), local_before, "a dry run changes nothing");
    let r =
        c.mirror("/m", back.to_str().unwrap(), false, Options { delete: true, dry_run: false }, &mut quiet()).unwrap();
    assert_eq!((r.transferred, r.deleted), (0, 1), "{}", r.summary());
    assert_eq!(snapshot(&back), snapshot(&src));
}

#[test]
fn rm_r_of_500_files_and_mv_into_a_directory() {
    let s = fixture!();
    let dir = &s.dir;
    let mut c = login(&s.addr, dir);
    let src = dir.path().join("five hundred");
    fs::create_dir_all(src.join("inner")).unwrap();
    for i in 0..500 {
        fs::write(src.join(if i < 250 { "inner" } else { "" }).join(format!("{i}")), format!("{i}")).unwrap();
    }
    assert!(c.upload_any(&src, None, &mut quiet()).unwrap().ok());
    let refused = c.rm(&["five hundred".into()], false, &mut quiet()).unwrap();
    assert!(refused.failures[0].1.contains("rm -r"), "{:?}", refused.failures);
    let r = c.rm(&["five hundred".into()], true, &mut quiet()).unwrap();
    assert!(r.ok() && r.deleted == 1, "{:?}", r.failures);
    assert!(c.ls(None).unwrap().is_empty());
    c.mkdir(&["d/e/f".into()], true, &mut quiet()).unwrap();
    fs::write(dir.path().join("m1"), "1").unwrap();
    fs::write(dir.path().join("m2"), "2").unwrap();
    let items: Vec<String> = ["m1", "m2"].iter().map(|n| dir.path().join(n).display().to_string()).collect();
    c.mput(&items, &mut quiet()).unwrap();
    let r = c.mv(&["m1".into(), "m2".into()], "d/e", &mut quiet()).unwrap();
    assert!(r.ok(), "{:?}", r.failures);
    let names: Vec<String> = c.ls(Some("d/e")).unwrap().into_iter().map(|l| l.name).collect();
    assert_eq!(names, ["f", "m1", "m2"]);
    c.mv(&["d/e/m1".into()], "d", &mut quiet()).unwrap();
    assert_eq!(c.ls(Some("d")).unwrap().into_iter().map(|l| l.name).collect::<Vec<_>>(), ["e", "m1"]);
}

#[test]
fn one_bad_local_file_fails_alone_and_the_script_exits_non_zero() {
    let server = fixture!();
    let dir = &server.dir;
    let src = dir.path().join("src");
    fs::create_dir(&src).unwrap();
    for i in 0..5 {
        fs::write(src.join(format!("ok{i}")), "fine").unwrap();
    }
    std::os::unix::fs::symlink("/nonexistent/target", src.join("broken link")).unwrap();
    fs::write(src.join("new\nline"), "cannot be named on the wire").unwrap();
    let script = "register bob pw\nlogin bob pw\nupload src\nls src\n";
    let ran = run(
        client_command().arg(&server.addr).current_dir(dir.path()).env("XDG_CACHE_HOME", dir.path().join("cache")),
        script,
    );
    let (stdout, stderr) = (ran.out, ran.err);
    assert_eq!(ran.code, 1, "{stdout}\n{stderr}");
    assert!(stderr.contains("broken link") && stderr.contains("new\\nline"), "{stderr}");
    assert!(stderr.contains("control character"), "{stderr}");
    for i in 0..5 {
        assert!(stdout.contains(&format!("ok{i}\n")), "the rest went: {stdout}");
    }
}

/// A TCP proxy that delays every chunk by `delay` each way and counts the
/// turns: times the client sends after having received since it last sent.
struct DelayProxy {
    addr: String,
    turns: Arc<AtomicUsize>,
}

impl DelayProxy {
    fn start(target: &str, delay: Duration) -> DelayProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let turns = Arc::new(AtomicUsize::new(0));
        let (target, counter) = (target.to_string(), turns.clone());
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let server = TcpStream::connect(&target).unwrap();
                forward(client.try_clone().unwrap(), server.try_clone().unwrap(), delay, Some(counter.clone()));
                forward(server, client, delay, None);
            }
        });
        DelayProxy { addr, turns }
    }
}

/// Forwards `from` to `to`, each chunk `delay` after it was read. Upstream
/// (`turns` given) counts a turn when the client sends after data came
/// back; the downstream half marks data delivered through the shared flag.
fn forward(mut from: TcpStream, mut to: TcpStream, delay: Duration, turns: Option<Arc<AtomicUsize>>) {
    static DELIVERED: AtomicUsize = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    let downstream = turns.is_none();
    thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        let mut seen = DELIVERED.load(Ordering::SeqCst);
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if let Some(count) = &turns {
                let now = DELIVERED.load(Ordering::SeqCst);
                if now != seen {
                    count.fetch_add(1, Ordering::SeqCst);
                    seen = now;
                }
            }
            if tx.send((Instant::now() + delay, buf[..n].to_vec())).is_err() {
                break;
            }
        }
    });
    thread::spawn(move || {
        for (due, data) in rx {
            thread::sleep(due.saturating_duration_since(Instant::now()));
            if to.write_all(&data).is_err() {
                break;
            }
            if downstream {
                DELIVERED.fetch_add(1, Ordering::SeqCst);
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
}

#[test]
fn a_hundred_small_uploads_take_a_few_round_trips() {
    let server = fixture!();
    let dir = &server.dir;
    let proxy = DelayProxy::start(&server.addr, Duration::from_millis(25));
    let mut c = login(&proxy.addr, dir);
    let src = dir.path().join("small");
    fs::create_dir(&src).unwrap();
    for i in 0..100 {
        fs::write(src.join(format!("{i:03}.txt")), format!("nine b {i:02}")).unwrap();
    }
    let start = proxy.turns.load(Ordering::SeqCst);
    let r = c.upload_tree(&src, "small", Options::default(), &mut quiet()).unwrap();
    assert!(r.ok() && r.transferred == 100, "{:?}", r.failures);
    let turns = proxy.turns.load(Ordering::SeqCst) - start;
    assert!(turns <= 10, "100 uploads took {turns} round trips");
    let mut check = login(&server.addr, dir);
    assert_eq!(check.ls(Some("small")).unwrap().len(), 100);
}

#[test]
fn a_refused_upload_in_a_pipelined_group_reconnects_and_sends_the_rest() {
    let s = fixture!();
    let dir = &s.dir;
    let mut c = login(&s.addr, dir);
    c.mkdir(&["m05".into()], false, &mut quiet()).unwrap();
    let here = dir.path().join("here");
    fs::create_dir(&here).unwrap();
    for i in 0..10 {
        fs::write(here.join(format!("m{i:02}")), format!("{i}")).unwrap();
    }
    let r = c.mput(&[format!("{}/m*", here.display())], &mut quiet()).unwrap();
    assert_eq!(r.transferred, 9, "{:?}", r.failures);
    assert_eq!(r.failures.len(), 1);
    assert!(r.failures[0].0.ends_with("m05"), "{:?}", r.failures);
    assert_eq!(c.ls(None).unwrap().len(), 10);
}

#[test]
fn a_first_mirror_records_every_digest_as_it_sends_so_a_rerun_reads_nothing() {
    let s = fixture!();
    let dir = TempDir::new("first-mirror");
    let tree = dir.path().join("tree");
    make_tree(&tree);
    let mut c = login(&s.addr, &dir);
    let report = c.mirror(tree.to_str().unwrap(), "/m", true, Options::default(), &mut quiet()).unwrap();
    assert!(report.ok() && report.transferred == 16, "{}", report.summary());
    // Every file's digest was recorded while it was sent (none was read
    // beforehand: the remote held nothing to compare with).
    let mut cache = DigestCache::open(&dir.path().join("cache/digests"));
    for (rel, content) in snapshot(&tree) {
        let (Some(_), path) = (content, tree.join(&rel)) else { continue };
        let meta = fs::metadata(&path).unwrap();
        cache.digest(&path, &meta, |p| panic!("{} read again", p.display())).unwrap();
    }
    let again = c.mirror(tree.to_str().unwrap(), "/m", true, Options::default(), &mut quiet()).unwrap();
    assert_eq!((again.transferred, again.up_to_date), (0, 16), "{}", again.summary());
}
