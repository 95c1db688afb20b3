//! `makedirs`, `cp` and `find` (protocol version 2), through real sockets.

mod common;

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use common::{Fixture, Raw, Server, bytes, files_under, fixture, md5_hex, test_dir};

fn home(server: &Server, user: &str) -> PathBuf {
    server.data.join("home").join(user)
}

/// The lines of `find PATH` (after checking the `212 N` head).
fn find(c: &mut Raw, path: &str) -> Vec<String> {
    let head = c.ok(format!("find {path}").trim_end(), "212 ");
    c.lines_after(&head)
}

/// `TYPE SIZE MTIME MD5` of a path, from `stat`.
fn stat_head(c: &mut Raw, path: &str) -> String {
    let reply = c.ok(&format!("stat {path}"), "213 ");
    reply.splitn(6, ' ').skip(1).take(4).collect::<Vec<_>>().join(" ")
}

/// Files under `dir`, made directly on disk: `n` directories of `per` files.
fn make_files(dir: &Path, n: usize, per: usize) -> Vec<(String, Vec<u8>)> {
    let mut made = Vec::new();
    for d in 0..n {
        let sub = dir.join(format!("d{d:03}"));
        fs::create_dir_all(&sub).unwrap();
        for f in 0..per {
            let data = format!("file {d} {f}").into_bytes();
            fs::write(sub.join(format!("f{f:03}")), &data).unwrap();
            made.push((format!("d{d:03}/f{f:03}"), data));
        }
    }
    made
}

/// A chain of `depth` directories named `a` below `dir`, made one by one.
fn make_deep(dir: &Path, depth: usize) -> PathBuf {
    let mut p = dir.to_path_buf();
    fs::create_dir(&p).unwrap();
    for _ in 0..depth {
        p.push("a");
        fs::create_dir(&p).unwrap();
    }
    fs::write(p.join("f"), b"deep").unwrap();
    p
}

#[test]
fn makedirs_makes_parents_is_idempotent_and_stops_at_files() {
    let server = fixture!();
    let mut c = server.user("alice");
    assert_eq!(c.cmd("makedirs \"a/b c/d\""), "257 \"/a/b c/d\"");
    assert!(c.cmd("makedirs /a/b\\c/d").starts_with("553 "), "backslash in a name\n{}", c.transcript);
    assert_eq!(c.cmd("makedirs \"/a/b c/d\""), "257 \"/a/b c/d\"", "an existing directory is success");
    assert_eq!(c.cmd("makedirs /"), "257 \"/\"");
    assert!(home(&server, "alice").join("a/b c/d").is_dir());
    c.ok("cd /a", "250");
    assert_eq!(c.cmd("makedirs x/../y/z"), "257 \"/a/y/z\"");
    assert_eq!(c.upload("/f", b"file"), format!("226 4 {}", md5_hex(b"file")));
    let through = c.cmd("makedirs /f/g");
    assert!(through.starts_with("550 "), "{through}\n{}", c.transcript);
    assert!(c.cmd("makedirs /f").starts_with("550 "), "{}", c.transcript);
    assert_eq!(c.download("/f"), b"file", "the file in the way is untouched");
    let mut anon = server.connect();
    assert!(anon.cmd("makedirs x").starts_with("530 "));
}

#[test]
fn find_lists_depth_first_in_contract_format() {
    let server = fixture!();
    let mut c = server.user("alice");
    c.ok("makedirs /t/sub/inner", "257");
    assert_eq!(c.upload("/t/sub/x y", b"hello\n"), format!("226 6 {}", md5_hex(b"hello\n")));
    assert_eq!(c.upload("/t/b", b""), format!("226 0 {}", md5_hex(b"")));
    assert_eq!(c.upload("/t/sub/inner/z", b"zz"), format!("226 2 {}", md5_hex(b"zz")));
    let want: Vec<String> = ["b", "sub", "sub/inner", "sub/inner/z", "sub/x y"]
        .iter()
        .map(|rel| format!("{} {rel}", stat_head(&mut c, &format!("\"/t/{rel}\""))))
        .collect();
    assert!(want[1].starts_with("d 0 ") && want[1].contains(" - sub"), "{want:?}");
    assert!(want[4].starts_with("f 6 ") && want[4].ends_with(&format!("{} sub/x y", md5_hex(b"hello\n"))));
    assert_eq!(find(&mut c, "/t"), want);
    c.ok("cd /t", "250");
    assert_eq!(find(&mut c, ""), want, "the working directory by default");
    assert_eq!(find(&mut c, "\"sub/x y\""), vec![want[4].replace("sub/x y", "x y")], "a file lists itself by name");
    let empty = c.cmd("find sub/inner/z/..");
    assert_eq!(empty, "212 1", "{}", c.transcript);
    c.line();
    assert!(c.cmd("find /nope").starts_with("550 "), "{}", c.transcript);
    assert!(c.cmd("find a\\b").starts_with("553 "), "{}", c.transcript);
}

#[test]
fn find_records_digests_of_files_it_hashes() {
    let server = fixture!();
    let mut c = server.user("alice");
    let dir = home(&server, "alice").join("raw");
    let made = make_files(&dir, 2, 3);
    let lines = find(&mut c, "/raw");
    let files: Vec<&String> = lines.iter().filter(|l| l.starts_with("f ")).collect();
    assert_eq!(files.len(), made.len());
    for ((rel, data), line) in made.iter().zip(files) {
        assert!(line.ends_with(&format!(" {} {rel}", md5_hex(data))), "{line}");
        let meta = fs::metadata(dir.join(rel)).unwrap();
        let record = server.data.join("sums").join(meta.ino().to_string());
        assert!(record.exists(), "{rel}: MD5 recorded");
    }
}

#[test]
fn find_of_ten_thousand_files() {
    let server = fixture!();
    let mut c = server.user("alice");
    let made = make_files(&home(&server, "alice").join("many"), 100, 100);
    let lines = find(&mut c, "/many");
    assert_eq!(lines.len(), 10_100);
    let mut want = Vec::new();
    for (i, (rel, data)) in made.iter().enumerate() {
        if i % 100 == 0 {
            want.push(format!("{} -", &rel[..4]));
        }
        want.push(format!("{} {rel}", md5_hex(data)));
    }
    let got: Vec<String> = lines.iter().map(|l| l.splitn(4, ' ').nth(3).unwrap().to_string()).collect();
    assert_eq!(got, want.iter().map(|w| reorder(w)).collect::<Vec<_>>());
}

/// `REL MD5` (as built above) to `MD5 REL`, the order of a `find` line.
fn reorder(w: &str) -> String {
    let (a, b) = w.split_once(' ').unwrap();
    if b.len() == 32 || b == "-" { format!("{b} {a}") } else { w.to_string() }
}

#[test]
fn find_of_a_2000_deep_tree_and_its_copy() {
    // A short directory name: the copy's host path is near `PATH_MAX`.
    let server = Fixture::new("deep", &[]);
    let mut c = server.user("alice");
    make_deep(&home(&server, "alice").join("d"), 2000);
    let lines = find(&mut c, "/d");
    assert_eq!(lines.len(), 2001);
    let bottom = format!("{}f", "a/".repeat(2000));
    assert!(lines[2000].ends_with(&format!("{} {bottom}", md5_hex(b"deep"))), "{}", &lines[2000][..80]);
    assert!(lines[1999].starts_with("d 0 "), "a directory line comes before what is in it");
    assert_eq!(c.cmd("cp /d /e"), "250 copied /d to /e", "{}", &c.transcript[..200]);
    assert_eq!(find(&mut c, "/e"), lines, "same names, sizes, mtimes and MD5s");
    c.ok("pwd", "257");
}

#[test]
fn find_is_bounded_by_max_list() {
    let server = fixture!(&["--max-list", "5"]);
    let mut c = server.user("alice");
    make_files(&home(&server, "alice").join("m"), 1, 4);
    assert_eq!(find(&mut c, "/m").len(), 5, "exactly the bound is fine");
    fs::write(home(&server, "alice").join("m/d000/f999"), b"x").unwrap();
    assert_eq!(c.cmd("find /m"), "550 too many entries");
    assert_eq!(find(&mut c, "/m/d000").len(), 5, "the session goes on");
    fs::create_dir(home(&server, "alice").join("m/d000/zz")).unwrap();
    assert_eq!(c.cmd("find /m/d000"), "550 too many entries");
}

#[test]
fn cp_of_a_file_shares_it_and_keeps_its_mtime() {
    let server = fixture!();
    let mut c = server.user("alice");
    let data = bytes(100_000, 7);
    c.upload("/a", &data);
    c.ok("makedir /dir", "257");
    assert_eq!(c.cmd("cp a dir/b"), "250 copied /a to /dir/b");
    assert_eq!(c.download("/dir/b"), data);
    assert_eq!(stat_head(&mut c, "/dir/b"), stat_head(&mut c, "/a"), "size, mtime and MD5 of the source");
    let (a, b) = (home(&server, "alice").join("a"), home(&server, "alice").join("dir/b"));
    assert_eq!(fs::metadata(&a).unwrap().ino(), fs::metadata(&b).unwrap().ino(), "one inode, no new blocks");
    assert!(files_under(&server.data.join("staging")).is_empty(), "no scratch left");
    c.upload("/a", b"changed");
    assert_eq!(c.download("/dir/b"), data, "the copy does not change with its source");
}

#[test]
fn cp_replaces_a_file_atomically() {
    let server = fixture!();
    let mut c = server.user("alice");
    c.upload("/new", b"new content");
    c.upload("/old", b"old content");
    assert_eq!(c.cmd("cp new old"), "250 copied /new to /old");
    assert_eq!(c.download("/old"), b"new content");
    assert_eq!(c.ls("/"), vec!["new", "old"], "no temporary name left in the tree");
}

#[test]
fn cp_refusals() {
    let server = fixture!();
    let mut c = server.user("alice");
    c.ok("makedirs /d/sub", "257");
    c.upload("/d/sub/f", b"x");
    c.upload("/file", b"y");
    for (line, code) in [
        ("cp /missing /x", "550 "),
        ("cp /d /d", "550 "),
        ("cp /d /d/sub/x", "550 "),
        ("cp / /x", "550 "),
        ("cp /file /file", "550 "),
        ("cp /file /d", "550 "),
        ("cp /d /file", "550 "),
        ("cp /file /nope/x", "550 "),
        ("cp /file /file/x", "550 "),
        ("cp /file a\\b", "553 "),
        ("cp /file", "501 "),
    ] {
        let reply = c.cmd(line);
        assert!(reply.starts_with(code), "{line}: {reply}\n{}", c.transcript);
    }
    assert_eq!(c.download("/file"), b"y");
    assert_eq!(find(&mut c, "/d").len(), 2, "nothing copied into itself");
}

#[test]
fn cp_of_a_tree_is_byte_exact_and_costs_no_blocks() {
    let server = fixture!();
    let mut c = server.user("alice");
    let root = home(&server, "alice");
    let made = make_files(&root.join("src"), 10, 100);
    c.upload("/src/d000/big", &bytes(300_000, 3));
    let before = find(&mut c, "/src");
    assert_eq!(c.cmd("cp /src /dst"), "250 copied /src to /dst");
    assert_eq!(find(&mut c, "/dst"), before, "same names, sizes, mtimes and MD5s");
    assert_eq!(c.download("/dst/d000/big"), bytes(300_000, 3));
    for (rel, data) in made.iter().step_by(97) {
        assert_eq!(&c.download(&format!("/dst/{rel}")), data, "{rel}");
    }
    let inodes = |dir: &Path| -> HashSet<u64> {
        files_under(dir).iter().map(|f| fs::metadata(dir.join(f)).unwrap().ino()).collect()
    };
    assert_eq!(inodes(&root.join("dst")), inodes(&root.join("src")), "every copied file shares its inode");
    let blocks: u64 =
        files_under(&root.join("dst")).iter().map(|f| fs::metadata(root.join("dst").join(f)).unwrap().blocks()).sum();
    assert!(blocks > 0);
    assert!(files_under(&server.data.join("staging")).is_empty(), "no scratch left");
}

#[test]
fn cp_counts_the_full_size_in_the_quota() {
    let server = fixture!(&["--quota", "1000"]);
    let mut c = server.user("alice");
    c.upload("/a", &bytes(400, 1));
    c.ok("cp /a /b", "250 ");
    assert_eq!(c.cmd("quota").rsplitn(3, ' ').nth(2).unwrap(), "213 800 1000", "each path counts in full");
    let refused = c.cmd("cp /a /c");
    assert!(refused.starts_with("552 "), "{refused}\n{}", c.transcript);
    assert_eq!(c.ls("/"), vec!["a", "b"]);
}

#[test]
fn rm_of_one_copy_keeps_the_digest_record_of_the_other() {
    // Without the content store, whose link would keep the inode (and its
    // record) until the sweeper collects it.
    let server = fixture!(&["--dedup", "off"]);
    let mut c = server.user("alice");
    c.upload("/a", b"shared bytes");
    c.ok("cp /a /b", "250 ");
    let meta = fs::metadata(home(&server, "alice").join("b")).unwrap();
    let record = server.data.join("sums").join(meta.ino().to_string());
    assert!(record.exists());
    c.ok("rm /a", "250 ");
    assert!(record.exists(), "the copy still has its recorded MD5");
    c.ok("rm /b", "250 ");
    assert!(record.exists(), "the trash still holds it");
    c.ok("purge all", "250 ");
    assert!(!record.exists(), "forgotten with the last link");
}

#[test]
fn a_crashed_copys_scratch_is_removed_at_start_up() {
    let dir = test_dir!();
    let data = dir.data();
    let scratch = data.join("staging/alice/cp-00112233aabbccdd");
    make_files(&scratch.join("c"), 3, 3);
    make_deep(&scratch.join("c/deep"), 50);
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    fs::File::open(&scratch).unwrap().set_modified(hour_ago).unwrap();
    let fresh = data.join("staging/alice/cp-ffeeddccbbaa0011");
    fs::create_dir_all(&fresh).unwrap();
    let server = Server::start(&data, &[]);
    server.wait_log("action=sweep", 1);
    assert!(!scratch.exists(), "the leftover is gone");
    assert!(fresh.exists(), "a scratch made just now may belong to a copy in progress");
}

/// Entries in the `c` directory of the one copy scratch under `staging`
/// (the directories a tree copy has started), if a scratch is there.
fn scratch_progress(staging: &Path) -> Option<usize> {
    let scratch = fs::read_dir(staging).ok()?.flatten().find(|i| i.file_name().to_string_lossy().starts_with("cp-"))?;
    Some(fs::read_dir(scratch.path().join("c")).ok()?.count())
}

/// The directories a copy to `target` has started, wherever it builds.
fn copy_progress(staging: &Path, target: &Path) -> usize {
    let at_target = fs::read_dir(target).map_or(0, |d| d.count());
    scratch_progress(staging).unwrap_or(0).max(at_target)
}

#[test]
fn a_server_killed_during_a_cp_leaves_the_target_absent_or_complete() {
    let mut server = fixture!();
    server.user("alice");
    let root = home(&server, "alice");
    let made = make_files(&root.join("src"), 20, 100);
    let staging = server.data.join("staging/alice");
    // SIGKILL once the copy has started 1, 5, 10, 15 and 19 of its 20
    // directories (polled without pause: the build takes milliseconds),
    // and once after the reply. A copy built in place, or renamed into
    // place before it is complete, leaves an incomplete target here.
    let mut mid_build = 0;
    for (round, started) in [1, 5, 10, 15, 19, 20].into_iter().enumerate() {
        let mut c = server.user("alice");
        let target = root.join(format!("copy{round}"));
        c.send(format!("cp /src /copy{round}\r\n").as_bytes());
        if round == 5 {
            assert_eq!(c.line(), format!("250 copied /src to /copy{round}"));
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while copy_progress(&staging, &target) < started {
            assert!(std::time::Instant::now() < deadline, "round {round}: the copy never progressed");
        }
        server.kill();
        if !target.exists() && scratch_progress(&staging).is_some() {
            mid_build += 1;
        }
        server.restart(&[]);
    }
    let mut c = server.user("alice");
    for round in 0..6 {
        let copy = root.join(format!("copy{round}"));
        if !copy.exists() {
            continue;
        }
        assert_eq!(files_under(&copy), files_under(&root.join("src")), "copy{round}: complete");
        for (rel, data) in &made {
            assert_eq!(&fs::read(copy.join(rel)).unwrap(), data, "copy{round}/{rel}");
        }
    }
    assert!(root.join("copy5").exists(), "a copy answered 250 is there after the crash");
    // How many kills landed mid-build depends on the machine's timing (two
    // of five in the runs seen): said, not asserted, so the test never
    // fails for being fast.
    eprintln!("{mid_build} of 5 kills landed while a copy was being built");
    for (rel, data) in made.iter().step_by(37) {
        assert_eq!(&c.download(&format!("/src/{rel}")), data, "the source is intact: {rel}");
    }
}
