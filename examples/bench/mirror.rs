//! Mirror: a tree of files from 1 KiB to 1 MiB sent with the client
//! library's `mirror -R` three times (first run, 1% of files changed,
//! nothing changed), on each link; the same three runs with rsync against
//! an rsync daemon (the peer users would pick), and, on loopback, lftp
//! `mirror -R` against vsftpd. A peer that is not installed (`make
//! bench-peers`) prints "peer not installed" instead of a figure.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use netdisk::client::{Client, DigestCache, Options};

use crate::limits::make_file;
use crate::peers;
use crate::server::{Link, PASSWORD};
use crate::stats::{Stats, missing, ms};

pub const RUNS: [&str; 3] = ["first run", "1% changed", "nothing changed"];

/// Size of file `i`: one in 25 from 512 KiB to 1 MiB, the rest spread
/// evenly on a log scale from 1 KiB to 128 KiB (about 55 KiB on average).
fn size_of(i: usize) -> u64 {
    let h = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 11;
    let u = (h % 1_000_000) as f64 / 1e6;
    if i.is_multiple_of(25) { (512 << 10) + (h % (512 << 10)) } else { (1024.0 * 2f64.powf(7.0 * u)) as u64 }
}

fn file_of(top: &Path, i: usize) -> PathBuf {
    top.join(format!("d{:03}", i / 100)).join(format!("f{i:05}"))
}

/// The tree of `files` files, 100 per folder; returns its bytes.
pub fn make_tree(top: &Path, files: usize) -> u64 {
    let mut bytes = 0;
    for i in 0..files {
        let path = file_of(top, i);
        fs::create_dir_all(path.parent().expect("parent")).expect("tree dir");
        make_file(&path, size_of(i), i as u64);
        bytes += size_of(i);
    }
    bytes
}

/// The 1% of the files a re-run finds changed: one per folder of 100, at
/// a place that moves from folder to folder, so the set has the tree's mix
/// of sizes (about one in 25 from 512 KiB to 1 MiB). Every tool on every
/// link gets the same set, so their re-runs move the same bytes.
fn changed(files: usize) -> impl Iterator<Item = usize> {
    (0..files.div_ceil(100)).map(|k| 100 * k + (37 * k + 13) % 100).filter(move |&i| i < files)
}

/// Rewrites the changed files with new content of the same size (`round`
/// makes the content new each time).
pub fn change_some(top: &Path, files: usize, round: usize) {
    for i in changed(files) {
        make_file(&file_of(top, i), size_of(i), (i + 1_000_000 * (round + 1)) as u64);
    }
}

/// Bytes of the files `change_some` rewrites.
pub fn changed_bytes(files: usize) -> u64 {
    changed(files).map(size_of).sum()
}

/// Times of the three runs of one tool on one link, in milliseconds.
pub type Three = [f64; 3];

/// Three `mirror -R` runs with a fresh client each (connect, login, load
/// the digest cache), as a user runs the command.
pub fn netdisk(link: &Link, tree: &Path, files: usize, round: &mut usize, cache: &Path) -> Three {
    let tag = link.name.split(' ').next().unwrap_or("x");
    let mut out = [0.0; 3];
    for (n, slot) in out.iter_mut().enumerate() {
        if n == 0 {
            // A first run starts with no digests cached.
            let _ = fs::remove_file(cache);
        }
        if n == 1 {
            change_some(tree, files, *round);
            *round += 1;
        }
        let t = Instant::now();
        let mut c = Client::connect(&link.addr).expect("connect");
        c.login("mirror", PASSWORD).expect("login");
        c.set_cache(Some(DigestCache::open(cache)));
        let source = tree.to_str().expect("utf-8 path");
        let report = c.mirror(source, &format!("/mirror-{tag}"), true, Options::default(), &mut |_| true);
        let report = report.expect("mirror");
        *slot = ms(t.elapsed());
        assert!(report.ok(), "{}", report.summary());
        let _ = c.quit();
    }
    out
}

/// Prints one tool's three runs beside the peer's (when it has one).
pub fn show(tool: &str, link: &Link, ours: &Three, peer: Option<(&str, &Three)>) {
    for (n, what) in RUNS.iter().enumerate() {
        let label = format!("mirror -R, {what} ({})", link.name);
        let got = Stats(vec![ours[n]]);
        match peer {
            Some((name, theirs)) => crate::stats::line(
                &format!("{tool} {label}"),
                &got,
                "ms",
                crate::stats::Limit { name, value: theirs[n] },
                if n == 2 { "(target: faster than the peer, < 1 s)" } else { "(target: re-runs faster than the peer)" },
            ),
            None => crate::stats::plain(&format!("{tool} {label}"), &got, "ms", ""),
        }
    }
}

/// rsync's three runs into a daemon on loopback or through `proxy`;
/// `extra` are rsync options (`--fsync`: the receiver syncs each file, the
/// guarantee netdisk gives).
pub fn rsync(
    daemon: Option<&peers::Rsync>,
    link: &Link,
    tree: &Path,
    files: usize,
    round: &mut usize,
    extra: &[&str],
) -> Option<Three> {
    let Some(daemon) = daemon else {
        missing(&format!("rsync {} mirror ({})", extra.join(" "), link.name), "peer not installed (make bench-peers)");
        return None;
    };
    let tag = format!("{}{}", link.name.split(' ').next().unwrap_or("x"), extra.concat());
    let addr = daemon.addr_for(link);
    let mut out = [0.0; 3];
    for (n, slot) in out.iter_mut().enumerate() {
        if n == 1 {
            change_some(tree, files, *round);
            *round += 1;
        }
        *slot = peers::rsync_push(tree, &addr, &tag, extra);
    }
    Some(out)
}

/// lftp `mirror -R` into vsftpd, three runs, on loopback only: FTP's data
/// connections go to ports of their own, which the proxy does not carry.
pub fn lftp(dir: &Path, link: &Link, tree: &Path, files: usize, round: &mut usize) {
    let Some(ftp) = peers::Ftp::start(dir) else {
        missing(&format!("lftp mirror -R, vsftpd ({})", link.name), "peer not installed (make bench-peers)");
        return;
    };
    let mut out = [0.0; 3];
    for (n, slot) in out.iter_mut().enumerate() {
        if n == 1 {
            change_some(tree, files, *round);
            *round += 1;
        }
        *slot = peers::lftp_push(tree, ftp.port, "m");
    }
    show("lftp", link, &out, None);
}

/// First runs alone, netdisk and `rsync --fsync` in turn (issue 26: the
/// peer that syncs each file, as netdisk does; it does not sync the
/// directories), `pairs` of each on link `n`, each netdisk run into a
/// server of its own (content it already holds would be claimed), each
/// rsync run into a new folder, every run after a `sync`. One run each
/// swings too much on this machine's disk to quote.
pub fn first_runs(dir: &Path, daemon: Option<&peers::Rsync>, tree: &Path, n: usize, pairs: usize) {
    let Some(daemon) = daemon else { return };
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let mut name = "";
    for k in 0..pairs {
        let server = crate::server::start(&dir.join(format!("first-{n}-{k}")));
        let link = server.links()[n].clone();
        drop(crate::server::client(&link.addr, "mirror"));
        name = link.name;
        crate::limits::flush_all();
        ours.push(netdisk_first(&link, tree, &dir.join(format!("first-cache-{n}-{k}"))));
        crate::limits::flush_all();
        let tag = format!("first-{n}-{k}");
        theirs.push(peers::rsync_push(tree, &daemon.addr_for(&link), &tag, &["--fsync"]));
    }
    let theirs = Stats(theirs);
    crate::stats::plain(&format!("  rsync --fsync, first run, {pairs} alternated ({name})"), &theirs, "ms", "");
    crate::stats::line(
        &format!("netdisk mirror -R, first run, {pairs} alternated ({name})"),
        &Stats(ours),
        "ms",
        crate::stats::Limit { name: "rsync --fsync", value: theirs.median() },
        "(target: <= 1.0 x its time)",
    );
}

/// One first `mirror -R` of `tree`, with no digest cached, in ms.
fn netdisk_first(link: &Link, tree: &Path, cache: &Path) -> f64 {
    let t = Instant::now();
    let mut c = Client::connect(&link.addr).expect("connect");
    c.login("mirror", PASSWORD).expect("login");
    c.set_cache(Some(DigestCache::open(cache)));
    let source = tree.to_str().expect("utf-8 path");
    let report = c.mirror(source, "/first", true, Options::default(), &mut |_| true).expect("mirror");
    let took = ms(t.elapsed());
    assert!(report.ok(), "{}", report.summary());
    let _ = c.quit();
    took
}
