//! The trash through real sockets: `rm`, `trash`, `restore`, `purge`,
//! replaced files, retention, quota, restarts, and `kill -9` in the middle.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use common::{Raw, Server, bytes, files_under, fixture, md5_hex};
use netdisk::proto::body::{Kind, TrashLine};

/// Parses the `trash` listing, checking its framing.
fn trash(c: &mut Raw) -> Vec<TrashLine> {
    let head = c.ok("trash", "212 ");
    let lines = c.lines_after(&head);
    lines.iter().map(|l| l.parse().unwrap_or_else(|_| panic!("bad trash line {l:?}\n{}", c.transcript))).collect()
}

#[test]
fn every_trash_reply_in_its_exact_format() {
    let server = fixture!();
    let mut anon = server.connect();
    for cmd in ["trash", "restore a1", "purge all", "purge a1"] {
        assert!(anon.cmd(cmd).starts_with("530"), "{cmd} before login\n{}", anon.transcript);
    }
    let mut c = server.user("ann");
    assert_eq!(c.cmd("trash"), "212 0");
    assert!(c.upload("f", b"hello").starts_with("226"));
    assert_eq!(c.cmd("rm f"), "250 removed /f");
    assert!(c.cmd("rm f").starts_with("550 "), "missing");
    assert!(c.cmd("rm /").starts_with("550 "), "the top");
    let lines = trash(&mut c);
    assert_eq!(lines.len(), 1);
    let line = &lines[0];
    assert_eq!((line.kind, line.size, line.path.as_str()), (Kind::File, 5, "/f"));
    assert!(line.id.len() <= 32 && line.id.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()));
    for bad in ["restore nope", "restore ALL", "restore all", "restore ../x", "purge nope", "purge ../../x"] {
        assert!(c.cmd(bad).starts_with("550 "), "{bad}\n{}", c.transcript);
    }
    assert!(c.cmd(&format!("restore {} bad\\name", line.id)).starts_with("553 "));
    assert!(c.cmd("restore").starts_with("501"), "no ID");
    assert!(c.cmd("purge").starts_with("501"), "no ID");
    assert_eq!(c.cmd(&format!("restore {} \"my f\"", line.id)), "257 \"/my f\"");
    assert_eq!(c.download("my f"), b"hello");
    assert!(c.cmd(&format!("restore {}", line.id)).starts_with("550 "), "restored already");
    c.ok("rm \"my f\"", "250");
    let id = trash(&mut c)[0].id.clone();
    assert_eq!(c.cmd(&format!("purge {id}")), format!("250 purged {id}"));
    assert!(c.cmd(&format!("purge {id}")).starts_with("550 "));
    assert_eq!(c.cmd("purge all"), "250 trash emptied");
    assert_eq!(c.cmd("trash"), "212 0");
}

/// Uploads a small nested tree; returns path -> bytes.
fn upload_tree(c: &mut Raw, top: &str) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for d in [top.to_string(), format!("{top}/a"), format!("{top}/a/b c"), format!("{top}/a/b c/d"), format!("{top}/e")]
    {
        c.ok(&format!("mkdir {}", common::quote(&d)), "257");
        for i in 0..3 {
            let path = format!("{d}/f{i}.bin");
            let data = bytes(1000 * i + d.len() * 37, (d.len() * 10 + i) as u64);
            assert!(c.upload(&path, &data).starts_with("226"), "{}", c.transcript);
            files.insert(path, data);
        }
    }
    files
}

#[test]
fn rm_of_a_tree_and_its_restore_keep_every_byte() {
    let server = fixture!();
    let mut c = server.user("ann");
    let files = upload_tree(&mut c, "/top");
    let total: usize = files.values().map(Vec::len).sum();
    c.ok("rm top", "250");
    assert!(c.ls("/").is_empty(), "gone from ls");
    assert!(c.cmd("stat top/a").starts_with("550"));
    let lines = trash(&mut c);
    assert_eq!(lines.len(), 1);
    assert_eq!((lines[0].kind, lines[0].size, lines[0].path.as_str()), (Kind::Dir, total as u64, "/top"));
    assert_eq!(c.cmd(&format!("restore {}", lines[0].id)), "257 \"/top\"");
    for (path, data) in &files {
        assert_eq!(&fetch_checked(&mut c, path), data, "{path}");
    }
    assert_eq!(c.cmd("trash"), "212 0");
}

/// A download whose `150` MD5 matches the bytes received.
fn fetch_checked(c: &mut Raw, path: &str) -> Vec<u8> {
    let head = c.ok(&format!("download {}", common::quote(path)), "150 ");
    let words: Vec<&str> = head.split(' ').collect();
    let (size, md5) = (words[1].parse::<usize>().unwrap(), words[2].to_string());
    let data = c.bytes(size);
    assert_eq!(c.line(), "226 transfer complete");
    assert_eq!(md5, md5_hex(&data), "{path}: MD5");
    data
}

#[test]
fn replaced_files_go_to_the_trash_unless_identical() {
    let server = fixture!();
    let mut c = server.user("ann");
    assert!(c.upload("a", b"first").starts_with("226"));
    assert!(c.upload("a", b"second!").starts_with("226"));
    let lines = trash(&mut c);
    assert_eq!(lines.len(), 1, "upload over a file keeps the old one");
    assert_eq!((lines[0].kind, lines[0].size, lines[0].path.as_str()), (Kind::File, 5, "/a"));
    assert!(c.upload("a", b"second!").starts_with("226"));
    assert_eq!(trash(&mut c).len(), 1, "an identical re-upload keeps nothing");
    assert!(c.upload("b", b"third..").starts_with("226"));
    c.ok("mv b a", "250");
    let lines = trash(&mut c);
    assert_eq!(lines.len(), 2, "mv over a file keeps the old one");
    assert_eq!((lines[0].size, lines[0].path.as_str()), (7, "/a"), "newest first");
    c.ok(&format!("restore {} /old", lines[0].id), "257 \"/old\"");
    assert_eq!(fetch_checked(&mut c, "old"), b"second!");
    c.ok(&format!("restore {} /older", lines[1].id), "257 \"/older\"");
    assert_eq!(fetch_checked(&mut c, "older"), b"first");
    assert_eq!(fetch_checked(&mut c, "a"), b"third..");
}

#[test]
fn restore_refuses_an_existing_target_and_remakes_missing_parents() {
    let server = fixture!();
    let mut c = server.user("ann");
    c.ok("mkdir x", "257");
    c.ok("mkdir x/y", "257");
    assert!(c.upload("x/y/f", b"deep").starts_with("226"));
    c.ok("rm x/y/f", "250");
    let id = trash(&mut c)[0].id.clone();
    assert!(c.upload("x/y/f", b"newer").starts_with("226"));
    assert!(c.cmd(&format!("restore {id}")).starts_with("550 "), "the target exists");
    assert!(c.cmd(&format!("restore {id} /x")).starts_with("550 "), "a directory exists there");
    assert!(c.cmd(&format!("restore {id} /x/y/f/g")).starts_with("550 "), "a file is in the way");
    assert_eq!(trash(&mut c).len(), 1, "nothing changed");
    assert_eq!(c.download("x/y/f"), b"newer");
    c.ok("rm x", "250");
    assert_eq!(c.cmd(&format!("restore {id}")), "257 \"/x/y/f\"", "parents made again");
    assert_eq!(fetch_checked(&mut c, "/x/y/f"), b"deep");
    c.ok("cd x", "250");
    let back = trash(&mut c).into_iter().find(|l| l.path == "/x").unwrap();
    assert_eq!(c.cmd(&format!("restore {} p/q", back.id)), "257 \"/x/p/q\"", "relative to the working directory");
    assert_eq!(fetch_checked(&mut c, "/x/p/q/y/f"), b"newer");
}

#[test]
fn purge_one_and_all() {
    let server = fixture!();
    let mut c = server.user("ann");
    let files = upload_tree(&mut c, "/t");
    c.ok("rm t", "250");
    for name in ["p", "q"] {
        assert!(c.upload(name, name.as_bytes()).starts_with("226"));
        c.ok(&format!("rm {name}"), "250");
    }
    let lines = trash(&mut c);
    assert_eq!(lines.iter().map(|l| l.path.as_str()).collect::<Vec<_>>(), ["/q", "/p", "/t"]);
    c.ok(&format!("purge {}", lines[2].id), "250");
    assert_eq!(trash(&mut c).len(), 2);
    let trash_dir = server.data.join("trash/ann");
    let left: usize = files_under(&trash_dir).len();
    assert_eq!(left, 4, "two entries, info and item each: {:?}", files_under(&trash_dir));
    assert!(files.len() > 4);
    c.ok("purge all", "250");
    assert_eq!(c.cmd("trash"), "212 0");
    assert!(files_under(&trash_dir).is_empty());
    assert_eq!(c.cmd("quota").rsplitn(3, ' ').nth(2).unwrap(), "213 0 -");
}

#[test]
fn no_trash_with_zero_days() {
    let server = fixture!(&["--trash-days", "0"]);
    let data = server.data.clone();
    let mut c = server.user("ann");
    upload_tree(&mut c, "/t");
    c.ok("rm t", "250");
    assert!(c.upload("a", b"one").starts_with("226"));
    assert!(c.upload("a", b"two").starts_with("226"));
    c.ok("mv a b", "250");
    assert!(c.upload("a", b"three").starts_with("226"));
    c.ok("mv a b", "250");
    assert_eq!(c.cmd("trash"), "212 0");
    assert_eq!(files_under(&data.join("trash")), Vec::<String>::new(), "deleted at once");
    assert_eq!(c.cmd("quota").rsplitn(3, ' ').nth(2).unwrap(), "213 5 -");
    assert!(c.cmd("rm /").starts_with("550"));
}

#[test]
fn trash_counts_in_the_quota() {
    let server = fixture!(&["--quota", "100"]);
    let mut c = server.user("ann");
    assert!(c.upload("a", &[7u8; 60]).starts_with("226"));
    c.ok("rm a", "250");
    assert_eq!(c.cmd("quota").rsplitn(3, ' ').nth(2).unwrap(), "213 60 100");
    let refused = c.cmd(&format!("upload b 50 {}", md5_hex(&[1u8; 50])));
    assert!(refused.starts_with("552"), "the trash holds 60 of 100 bytes: {refused}");
    let mut c = server.user("ann");
    c.ok("purge all", "250");
    assert_eq!(c.cmd("quota").rsplitn(3, ' ').nth(2).unwrap(), "213 0 100");
    assert!(c.upload("b", &[1u8; 50]).starts_with("226"));
}

#[test]
fn trash_survives_a_restart_and_expired_entries_go() {
    let mut server = fixture!();
    let data = server.data.clone();
    let mut c = server.user("ann");
    assert!(c.upload("keep", b"kept").starts_with("226"));
    assert!(c.upload("old", b"expired").starts_with("226"));
    c.ok("rm keep", "250");
    c.ok("rm old", "250");
    let before = trash(&mut c);
    server.kill();
    // Age one entry past the retention by rewriting its removal time.
    let old = before.iter().find(|l| l.path == "/old").unwrap();
    let info = data.join("trash/ann").join(&old.id).join("info");
    let text = fs::read_to_string(&info).unwrap();
    let text: String =
        text.lines().map(|l| if l.starts_with("deleted ") { "deleted 0\n".into() } else { format!("{l}\n") }).collect();
    fs::write(&info, text).unwrap();
    server.restart(&["--trash-days", "1"]);
    server.wait_log("trash: removed", 1);
    let mut c = server.user("ann");
    let after = trash(&mut c);
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0], before.iter().find(|l| l.path == "/keep").unwrap().clone());
    c.ok(&format!("restore {}", after[0].id), "257");
    assert_eq!(fetch_checked(&mut c, "keep"), b"kept");
}

/// Where the big tree is after a crash.
#[derive(Debug, PartialEq)]
enum Place {
    Tree,
    Trash(String),
    Gone,
}

/// Files of the big tree, relative path -> bytes, made on disk.
fn make_big(home: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for i in 0..2000usize {
        let rel = format!("d{}/e{}/f{i}", i % 10, i % 7);
        let data = bytes(i % 300 + 1, i as u64);
        let path = home.join("big").join(&rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, &data).unwrap();
        files.insert(rel, data);
    }
    files
}

fn contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    files_under(dir).into_iter().map(|rel| (rel.clone(), fs::read(dir.join(&rel)).unwrap())).collect()
}

/// Checks that the big tree is whole in exactly one place (or, when `gone`
/// is allowed, nowhere at all), and returns that place.
fn locate(data: &Path, want: &BTreeMap<String, Vec<u8>>, gone_ok: bool) -> Place {
    let mut places = Vec::new();
    let tree = contents(&data.join("home/ann/big"));
    if !tree.is_empty() {
        places.push((Place::Tree, tree));
    }
    for item in fs::read_dir(data.join("trash/ann")).into_iter().flatten().flatten() {
        let name = item.file_name().into_string().unwrap();
        if name.starts_with('.') || !item.path().join("item").exists() {
            continue;
        }
        places.push((Place::Trash(name), contents(&item.path().join("item"))));
    }
    assert!(places.len() <= 1, "in more than one place: {:?}", places.iter().map(|p| &p.0).collect::<Vec<_>>());
    let Some((place, found)) = places.pop() else {
        assert!(gone_ok, "the tree is lost");
        return Place::Gone;
    };
    assert!(found == *want, "{place:?}: {} of {} files, or bytes differ", found.len(), want.len());
    place
}

/// When the server is killed, counted from sending the request.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kill {
    /// Right after sending it.
    AtOnce,
    /// After the reply to a `pwd` sent in the same write just before it:
    /// the server is starting on the request.
    Starting,
    /// After its reply.
    Answered,
}

fn crash_during(server: &mut Server, line: &str, when: Kill) {
    let mut c = server.user("ann");
    match when {
        Kill::AtOnce => c.send(format!("{line}\r\n").as_bytes()),
        Kill::Starting => {
            c.send(format!("pwd\r\n{line}\r\n").as_bytes());
            assert_eq!(c.line(), "257 \"/\"");
        }
        Kill::Answered => {
            c.send(format!("{line}\r\n").as_bytes());
            let reply = c.line();
            assert!(reply.starts_with("25"), "{line}: {reply}\n{}", c.transcript);
        }
    }
    server.kill();
}

/// Brings the big tree to where an operation can start: in the tree for
/// `rm`, in the trash for `restore` and `purge`.
fn prepare(server: &Server, data: &Path, want: &BTreeMap<String, Vec<u8>>, op: &str) -> String {
    let place = match locate(data, want, true) {
        Place::Gone => {
            make_big(&data.join("home/ann"));
            Place::Tree
        }
        place => place,
    };
    let mut c = server.user("ann");
    match (op, place) {
        ("rm", Place::Tree) => "rm big".into(),
        ("rm", Place::Trash(id)) => {
            c.ok(&format!("restore {id}"), "257");
            "rm big".into()
        }
        (_, Place::Trash(id)) => format!("{op} {id}"),
        (_, _) => {
            c.ok("rm big", "250");
            let id = trash(&mut c).pop().unwrap().id;
            format!("{op} {id}")
        }
    }
}

#[test]
fn kill_9_during_rm_restore_and_purge_loses_nothing() {
    let mut server = fixture!();
    let data = server.data.clone();
    server.user("ann");
    let want = make_big(&data.join("home/ann"));
    for step in 0..12 {
        let op = ["rm", "restore", "rm", "purge"][step % 4];
        let when = [Kill::AtOnce, Kill::Starting, Kill::Answered][step / 4 % 3];
        let line = prepare(&server, &data, &want, op);
        crash_during(&mut server, &line, when);
        server.restart(&[]);
        server.wait_log("trash: removed", 1);
        let place = locate(&data, &want, op == "purge");
        if when == Kill::Answered {
            let done = match op {
                "rm" => matches!(place, Place::Trash(_)),
                "restore" => place == Place::Tree,
                _ => place == Place::Gone,
            };
            assert!(done, "{line} answered, then {place:?}");
        }
        let trash_dir = data.join("trash/ann");
        let leftover =
            |i: &fs::DirEntry| i.file_name().to_string_lossy().starts_with('.') || !i.path().join("item").exists();
        let leftovers: Vec<_> = fs::read_dir(&trash_dir).into_iter().flatten().flatten().filter(leftover).collect();
        assert!(leftovers.is_empty(), "start-up leaves no incomplete entry: {leftovers:?}");
    }
}
