//! Protocol 2.1 "Entries count" (issue 19 #12), through sockets: a user's
//! files and directories (tree and trash) are limited by `--max-entries`
//! (or `netdisk user entries`); a request that would pass the limit is
//! `552` and creates nothing; `quota` answers `USED LIMIT ENTRIES
//! MAX_ENTRIES`.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Barrier};

use common::{Raw, files_under, fixture, md5_hex, netdisk, run};

/// The four figures of `quota`: USED LIMIT ENTRIES MAX_ENTRIES.
fn quota(c: &mut Raw) -> [String; 4] {
    let reply = c.ok("quota", "213 ");
    let w: Vec<String> = reply.split(' ').skip(1).map(String::from).collect();
    assert_eq!(w.len(), 4, "quota answers four figures: {reply:?}");
    [w[0].clone(), w[1].clone(), w[2].clone(), w[3].clone()]
}

/// ENTRIES of `quota`.
fn entries(c: &mut Raw) -> u64 {
    quota(c)[2].parse().unwrap()
}

/// Every file and directory under `dir`, relative, sorted.
fn entries_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        for item in std::fs::read_dir(&at).into_iter().flatten().flatten() {
            let p = item.path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if item.file_type().unwrap().is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Every file and directory under the user's home and trash on disk.
fn on_disk(data: &Path, user: &str) -> (Vec<String>, Vec<String>) {
    let trash = entries_under(&data.join("trash").join(user));
    (entries_under(&data.join("home").join(user)), trash)
}

/// Runs `netdisk user ARGS... --data DATA`, asserting success.
fn admin(data: &Path, args: &[&str]) {
    let ran = run(Command::new(netdisk()).arg("user").args(args).arg("--data").arg(data), "");
    assert!(ran.code == 0 && ran.err.is_empty(), "{args:?}: {ran:?}");
}

/// The attack: with `--quota 1K`, `cp` doubling a tree of empty
/// folders made 32,767 directories while `quota` said 0. Now the copy
/// that would pass `--max-entries` is refused and makes nothing.
#[test]
fn cp_doubling_empty_folders_stops_at_the_entries_limit() {
    let s = fixture!(&["--quota", "1K", "--max-entries", "50"]);
    let mut c = s.user("eve");
    c.ok("makedirs d/e", "257");
    let mut refused = None;
    for round in 0..8 {
        let reply = c.cmd("cp d c");
        if reply.starts_with("552") {
            refused = Some(round);
            break;
        }
        assert!(reply.starts_with("250"), "cp d c: {reply}\n{}", c.transcript);
        c.ok(&format!("mv c d/c{round}"), "250");
    }
    // d holds 2^(k+1) - 1... directories after k rounds: 2, 4, 8, 16, 32;
    // the copy of 32 beside them would make 64.
    assert_eq!(refused, Some(4), "the doubling stops at the limit\n{}", c.transcript);
    assert_eq!(quota(&mut c), ["0", "1024", "32", "50"].map(String::from));
    let (tree, trash) = on_disk(&s.data, "eve");
    assert_eq!((tree.len(), trash.len()), (32, 0), "the refused copy left nothing: {tree:?}");
    assert!(!c.ls("/").contains(&"c".to_string()));
    assert!(files_under(&s.data.join("staging/eve")).is_empty(), "no scratch copy is left");
}

/// Each request that creates entries is refused at the limit, and leaves
/// the tree, the trash and the figure as they were; requests that create
/// nothing still work.
#[test]
fn each_refused_request_creates_nothing() {
    let s = fixture!(&["--max-entries", "5"]);
    let mut owner = s.user("own");
    assert!(owner.upload("gift", b"a present").starts_with("226"));
    let code = owner.ok("share gift", "200 ").split(' ').nth(1).unwrap().to_string();
    let mut c = s.user("amy");
    c.ok("makedir a", "257");
    assert!(c.upload("a/f", b"hello").starts_with("226"));
    c.ok("makedir b", "257");
    assert!(c.upload("g", b"x").starts_with("226"));
    c.ok("rm a", "250");
    let head = c.ok("trash", "212 1");
    let id = c.lines_after(&head)[0].split(' ').next().unwrap().to_string();
    c.ok("makedir c", "257");
    assert_eq!(entries(&mut c), 5, "a, a/f (in the trash), b, g, c\n{}", c.transcript);
    let before = on_disk(&s.data, "amy");

    c.ok("makedir x", "552");
    c.ok("makedirs x/y", "552");
    c.ok("cp g h", "552");
    c.ok("cp b h", "552");
    c.ok(&format!("save {code}"), "552");
    c.ok(&format!("restore {id} /n/m/a"), "552");
    c.ok(&format!("claim h 5 {}", md5_hex(b"hello")), "552");
    c.ok(&format!("upload h 1 {}", md5_hex(b"y")), "552");
    assert!(c.closed(), "a refused upload closes the connection");
    let mut c = s.user("amy");
    // Replacing g keeps the old g in the trash: one entry more.
    c.ok(&format!("upload g 1 {}", md5_hex(b"z")), "552");
    let mut c = s.user("amy");
    assert_eq!(on_disk(&s.data, "amy"), before, "nothing was created");
    let staged = files_under(&s.data.join("staging/amy"));
    assert!(staged.iter().all(|f| !f.ends_with(".part") && !f.contains("claim-")), "nothing staged: {staged:?}");
    assert_eq!(entries(&mut c), 5);

    // What creates nothing still works: a path that exists, a move, and
    // the restore that needs no new parent.
    c.ok("makedirs b", "257");
    c.ok("mv g c/g", "250");
    c.ok(&format!("restore {id}"), "257");
    assert_eq!(entries(&mut c), 5);
    // Room made by purging the trash is found.
    c.ok("rm a", "250");
    c.ok("purge all", "250");
    c.ok("makedir x", "257");
}

/// Sessions in two server processes on one data directory make
/// directories at once: together they never pass the limit.
#[test]
fn concurrent_makedirs_cannot_pass_the_limit() {
    let s = fixture!(&["--max-entries", "30"]);
    let other = s.another(&["--max-entries", "30"]);
    s.user("cat");
    let addrs = [s.addr.clone(), s.addr.clone(), other.addr.clone(), other.addr.clone()];
    let start = Arc::new(Barrier::new(addrs.len()));
    let threads: Vec<_> = addrs
        .into_iter()
        .enumerate()
        .map(|(t, addr)| {
            let start = start.clone();
            std::thread::spawn(move || {
                let mut c = Raw::connect(&addr);
                c.ok("login cat pw-cat", "230");
                start.wait();
                let mut made = 0;
                for i in 0..12 {
                    let reply = c.cmd(&format!("makedirs t{t}-{i}/u"));
                    match &reply[..3] {
                        "257" => made += 2,
                        "552" => {}
                        _ => panic!("makedirs: {reply}\n{}", c.transcript),
                    }
                }
                made
            })
        })
        .collect();
    let made: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let (tree, _) = on_disk(&s.data, "cat");
    assert!(tree.len() <= 30, "{} entries under a limit of 30: {tree:?}", tree.len());
    assert_eq!(made, tree.len() as u64, "every 257 made its two directories, every 552 none");
    assert_eq!(made, 30, "the limit is reached, not passed");
    let mut c = s.user("cat");
    assert_eq!(entries(&mut c), 30);
}

/// `netdisk user entries NAME N|-|default` counts at once in a running
/// server, and `user list` shows it.
#[test]
fn the_admin_command_takes_effect_at_once() {
    let s = fixture!(&["--max-entries", "4"]);
    let mut c = s.user("dan");
    for d in ["a", "b", "c"] {
        c.ok(&format!("makedir {d}"), "257");
    }
    admin(&s.data, &["entries", "dan", "3"]);
    c.ok("makedir d", "552");
    assert_eq!(quota(&mut c), ["0", "-", "3", "3"].map(String::from));
    admin(&s.data, &["entries", "dan", "5"]);
    c.ok("makedir d", "257");
    admin(&s.data, &["entries", "dan", "-"]);
    assert_eq!(quota(&mut c)[3], "-");
    c.ok("makedirs e/f/g", "257");
    admin(&s.data, &["entries", "dan", "default"]);
    assert_eq!(quota(&mut c)[2..], ["7", "4"].map(String::from));
    c.ok("makedir h", "552");
    c.ok("makedirs e/f", "257");
    let list = run(Command::new(netdisk()).args(["user", "list", "--data"]).arg(&s.data), "");
    assert_eq!(list.out, "dan default 0 default 7\n");
    admin(&s.data, &["entries", "dan", "9"]);
    let list = run(Command::new(netdisk()).args(["user", "list", "--data"]).arg(&s.data), "");
    assert_eq!(list.out, "dan default 0 9 7\n");
}

/// `quota` shows four figures; a directory in the trash counts with
/// everything in it; `/` is not an entry.
#[test]
fn quota_shows_four_fields() {
    let s = fixture!(&["--quota", "1K", "--max-entries", "50"]);
    let mut c = s.user("fox");
    assert_eq!(quota(&mut c), ["0", "1024", "0", "50"].map(String::from));
    c.ok("makedirs a/b", "257");
    assert!(c.upload("a/b/f", b"abc").starts_with("226"));
    assert_eq!(quota(&mut c), ["3", "1024", "3", "50"].map(String::from));
    c.ok("rm a", "250");
    assert_eq!(quota(&mut c), ["3", "1024", "3", "50"].map(String::from), "the trash entry counts a, b and f");
    c.ok("purge all", "250");
    assert_eq!(quota(&mut c), ["0", "1024", "0", "50"].map(String::from));
    let s = common::Fixture::new("quota_shows_four_fields_unlimited", &["--max-entries", "-"]);
    let mut c = s.user("fox");
    assert_eq!(quota(&mut c), ["0", "-", "0", "-"].map(String::from));
}
