//! Version-2 operations at scale, each beside a baseline measured in the
//! same run: `rm` (to the trash) and `cp` of a 10,000-file tree beside
//! `rm -r` and `cp -r`, `find` of 100,000 files (time and the server's peak
//! memory) beside pipelined `ls`, registration and login with 200,000
//! accounts beside 10, and an upload's quota check with 100,000 files in
//! the user's tree beside 10 files. Trees are made directly in the data
//! directory (the server reads what is on disk).

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use netdisk::Digest;
use netdisk::client::Client;

use crate::server::{self, Lines, Link, PASSWORD, Server, status_kib};
use crate::stats::{Limit, Stats, line, measure, ms, plain};

/// `dirs` directories of `per` files of `size` bytes.
pub fn make_tree(top: &Path, dirs: usize, per: usize, size: usize) {
    for d in 0..dirs {
        let sub = top.join(format!("d{d:04}"));
        fs::create_dir_all(&sub).expect("tree dir");
        for f in 0..per {
            let mut data = format!("{d} {f} ").into_bytes();
            data.resize(size, b'x');
            fs::write(sub.join(format!("f{f:04}")), data).expect("tree file");
        }
    }
}

fn local_ms(program: &str, args: &[&Path]) -> f64 {
    let t = Instant::now();
    let status = Command::new(program).args(args).status().expect(program);
    assert!(status.success(), "{program} failed");
    ms(t.elapsed())
}

/// `rm` and `cp` of a 10,000-file tree (40 MB) on `link`, `runs` times:
/// the tree is made once on each side, each run copies it and removes
/// the copy.
pub fn rm_cp(runs: usize, link: &Link, home: &Path, scratch: &Path) {
    let mut c = Lines::login(&link.addr, "copier");
    let tag = link.name.split(' ').next().unwrap_or("x");
    let tree = scratch.join(format!("t-{tag}"));
    make_tree(&tree, 100, 100, 4096);
    make_tree(&home.join(format!("tree-{tag}")), 100, 100, 4096);
    let (mut rm_base, mut cp_base, mut rm) = (Vec::new(), Vec::new(), Vec::new());
    let cp = measure(runs, |i| {
        let copy = scratch.join(format!("c-{tag}-{i}"));
        cp_base.push(local_ms("cp", &[Path::new("-r"), &tree, &copy]));
        rm_base.push(local_ms("rm", &[Path::new("-r"), &copy]));
        let t = Instant::now();
        let got = c.ask(&format!("cp /tree-{tag} /copy-{tag}-{i}")).remove(0);
        assert!(got.starts_with("250"), "{got}");
        let took = ms(t.elapsed());
        let t = Instant::now();
        let got = c.ask(&format!("rm /copy-{tag}-{i}")).remove(0);
        assert!(got.starts_with("250"), "{got}");
        rm.push(ms(t.elapsed()));
        took
    });
    let what = format!("cp of 10,000 files ({})", link.name);
    line(&what, &cp, "ms", Limit { name: "cp -r", value: Stats(cp_base).median() }, "(target < 100 ms)");
    let what = format!("rm (to trash) of 10,000 files ({})", link.name);
    line(&what, &Stats(rm), "ms", Limit { name: "rm -r", value: Stats(rm_base).median() }, "(target < 100 ms)");
}

/// `find` of 100,000 files, first (MD5s computed) and again (recorded),
/// with the server's peak memory; beside 1,000 pipelined `ls`.
pub fn find(link: &Link, server: &Server, home: &Path, first: bool) {
    let mut c = Lines::login(&link.addr, "finder");
    if first {
        make_tree(&home.join("big"), 1000, 100, 16);
    }
    let idle = status_kib(server.pid(), "VmHWM:");
    let pass = if first { "first, hashes" } else { "again" };
    let t = Instant::now();
    let got = c.ask("find /big");
    assert_eq!(got.len(), 101_001, "{}", got[0]);
    let took = Stats(vec![ms(t.elapsed())]);
    let t = Instant::now();
    for d in 0..1000 {
        c.stream.write_all(format!("ls /big/d{d:04}\r\n").as_bytes()).expect("send");
    }
    let lines: usize = (0..1000).map(|_| c.read_reply().len() - 1).sum();
    assert_eq!(lines, 100_000);
    let ls = ms(t.elapsed());
    let hwm = status_kib(server.pid(), "VmHWM:");
    let what = format!("find of 100,000 files, {pass} ({})", link.name);
    line(&what, &took, "ms", Limit { name: "1,000 pipelined ls", value: ls }, "");
    println!("{:<40} {:9} MiB peak (VmHWM; {} MiB before this find)", "  server memory", hwm / 1024, idle / 1024);
}

/// A users file of `n` accounts with cheap 1-round records (never checked).
fn write_users(data: &Path, n: usize) {
    fs::create_dir_all(data).expect("data dir");
    let mut text = String::from("# netdisk users v1\n");
    for i in 0..n {
        let salt = Digest::of(format!("salt{i}").as_bytes());
        let hash = Digest::of(format!("hash{i}").as_bytes());
        text.push_str(&format!("filler{i}:md5$1${salt}${hash}\n"));
    }
    fs::write(data.join("users"), text).expect("users file");
}

/// Milliseconds for `register`, and for a fresh connection's `login`
/// right after it, with `n` accounts, on both links.
fn account_times(runs: usize, dir: &Path, n: usize) -> Vec<(Stats, Stats)> {
    let data = dir.join(format!("accounts-{n}"));
    write_users(&data, n);
    let server = server::start(&data);
    let mut out = Vec::new();
    for link in server.links() {
        let mut c = Client::connect(&link.addr).expect("connect");
        let mut logins = Vec::new();
        let register = measure(runs * 2, |i| {
            let user = format!("new{}{i}", link.name.len());
            let t = Instant::now();
            c.register(&user, PASSWORD).expect("register");
            let took = ms(t.elapsed());
            let t = Instant::now();
            Client::connect(&link.addr).expect("connect").login(&user, PASSWORD).expect("login");
            logins.push(ms(t.elapsed()));
            took
        });
        out.push((register, Stats(logins)));
    }
    drop(server);
    let _ = fs::remove_dir_all(&data);
    out
}

pub fn accounts(runs: usize, dir: &Path) {
    let small = account_times(runs, dir, 10);
    let big = account_times(runs, dir, 200_000);
    for (n, link) in ["loopback", "50 ms RTT"].iter().enumerate() {
        let (reg, login) = (&big[n].0, &big[n].1);
        let target = "(target ratio ~1)";
        line(
            &format!("register, 200,000 accounts ({link})"),
            reg,
            "ms",
            Limit { name: "10 accounts", value: small[n].0.median() },
            target,
        );
        let base = Limit { name: "10 accounts", value: small[n].1.median() };
        line(&format!("connect+login, 200,000 accounts ({link})"), login, "ms", base, target);
    }
}

/// Milliseconds of `runs` 4 KiB uploads (header and payload in one write)
/// by `user`, the first one apart.
fn upload_times(runs: usize, addr: &str, user: &str, tag: &str) -> (f64, Stats) {
    let mut c = Lines::login(addr, user);
    let data = vec![5u8; 4096];
    let md5 = Digest::of(&data);
    let mut one = |i: usize| {
        let mut wire = format!("upload /q-{tag}-{i} 4096 {md5} 0\r\n").into_bytes();
        wire.extend_from_slice(&data);
        let t = Instant::now();
        c.stream.write_all(&wire).expect("send");
        let head = c.read_reply().remove(0);
        assert!(head.starts_with("150"), "{head}");
        let end = c.read_reply().remove(0);
        assert!(end.starts_with("226"), "{end}");
        ms(t.elapsed())
    };
    let first = one(0);
    (first, measure(runs * 2, |i| one(i + 1)))
}

/// An upload's quota check with 100,000 files in the user's tree, beside
/// the same with 10 files (the server runs with a quota). The trees are
/// made once, before the first link.
pub fn quota(runs: usize, link: &Link, home_of: impl Fn(&str) -> std::path::PathBuf) {
    let (few, many) = ("few", "many");
    if !home_of(many).join("t").exists() {
        drop(server::client(&link.addr, few));
        drop(server::client(&link.addr, many));
        make_tree(&home_of(few).join("t"), 1, 10, 16);
        make_tree(&home_of(many).join("t"), 1000, 100, 16);
    }
    let tag = link.name.split(' ').next().unwrap_or("x");
    let (first_few, few_t) = upload_times(runs, &link.addr, few, tag);
    let (first_many, many_t) = upload_times(runs, &link.addr, many, tag);
    let what = format!("4 KiB upload, 100,000 files in tree ({})", link.name);
    line(&what, &many_t, "ms", Limit { name: "10 files", value: few_t.median() }, "(target ratio ~1)");
    // The server counts a user's tree once, at its first quota decision for
    // that user: the first upload on loopback; the figures above are after.
    let when = if link.name == "loopback" { "first since server start, counts the tree" } else { "already counted" };
    let base = format!("10 files: {first_few:.1} ms ({when})");
    plain(&format!("  first upload of the session ({})", link.name), &Stats(vec![first_many]), "ms", &base);
}
