//! netdisk on XFS, made on a loop device (the other suites run on the file
//! system of `$TMPDIR`, ext4 here; MooseFS is `tests/cluster.rs`): every
//! durable operation of both faces, a server killed with `-9` in the middle
//! of an upload, then a cut of the file system itself.
//!
//! The cut is `xfs_io -x -c shutdown`: XFS stops at once and drops what its
//! log had not written, as a power cut would (without `-f` nothing is
//! flushed first). After the log is replayed at the next mount, every
//! change a reply acknowledged must be there, and the unfinished upload
//! must not look like a file.
//!
//! Needs root, `mkfs.xfs` and `xfs_io` (xfsprogs; `make test` installs it as
//! root) and XFS in the kernel; skipped, saying so, otherwise (a failure
//! under `NETDISK_REQUIRE_ALL=1`). The mount and its loop device go on
//! every exit path, panics included (kit's `Mount`).

mod common;
#[path = "faults/kit.rs"]
mod kit;

use std::path::Path;

use common::http::{ask, auth, b64};
use common::{EVENT_WAIT, Raw, Server, bytes, can_run, md5_hex, proof, quote, staged_len, test_dir, wait_until};
use kit::{Mount, sh};
use netdisk::proto::body::TrashLine;

const ARGS: &[&str] = &["--http", "127.0.0.1:0"];

/// A file a reply acknowledged: its owner, path and content.
type Kept = (&'static str, String, Vec<u8>);

#[test]
fn every_acknowledged_change_on_xfs_survives_a_kill_and_a_cut() {
    if !can_run("filesystems", &["mkfs.xfs", "xfs_io", "mount", "umount", "truncate"]) || !kernel_has_xfs() {
        return;
    }
    let dir = test_dir!();
    let (img, at) = (dir.path().join("xfs.img"), dir.path().join("mnt"));
    let disk = Mount::xfs(&img, 320, &at);
    let data = at.join("data");
    let mut s = Server::start(&data, ARGS);
    let mut kept = durable_operations(&s);
    let big = bytes(8 << 20, 40);
    let mut c = s.user("ann");
    c.ok(&format!("upload big {} {}", big.len(), md5_hex(&big)), "150 0 ");
    c.send(&big[..4 << 20]);
    wait_until(EVENT_WAIT, "2 MiB staged", || staged_len(&data) >= 2 << 20);
    s.kill();
    let mut s = Server::start(&data, ARGS);
    check(&s, &kept);
    let mut c = s.user("ann");
    assert!(c.cmd("stat big").starts_with("550 "), "a partial upload looks like a file\n{}", c.transcript);
    let head = c.cmd(&format!("upload big {} {}", big.len(), md5_hex(&big)));
    let from: usize = head.strip_prefix("150 ").and_then(|r| r.split(' ').next()?.parse().ok()).unwrap();
    assert!(from > 0, "the staged bytes were kept: {head}");
    c.send(&big[from..]);
    assert!(c.line().starts_with("226"), "{}", c.transcript);
    kept.push(("ann", "big".into(), big));
    // An upload left half sent; a group committed; then XFS cut at once,
    // with nothing synced after the group's acknowledgements.
    let mut half = s.user("ann");
    half.ok(&format!("upload half {} {}", 1 << 20, md5_hex(&bytes(1 << 20, 41))), "150 0 ");
    half.send(&bytes(1 << 20, 41)[..1 << 19]);
    wait_until(EVENT_WAIT, "half staged", || staged_len(&data) > 0);
    kept.extend(pipelined_group(&mut c));
    s.kill();
    sh("xfs_io", &["-x", "-c", "shutdown", at.to_str().unwrap()]);
    drop(disk);
    let _disk = Mount::image(&img, &at, "loop");
    let s = Server::start(&data, ARGS);
    check(&s, &kept);
    assert!(s.user("ann").cmd("stat half").starts_with("550 "), "a partial upload looks like a file after the cut");
}

/// Whether the kernel mounts XFS (built in, or its module loads); if not,
/// says so (and fails under `NETDISK_REQUIRE_ALL`).
fn kernel_has_xfs() -> bool {
    let listed = || std::fs::read_to_string("/proc/filesystems").unwrap_or_default().contains("\txfs\n");
    let _ = listed() || std::process::Command::new("modprobe").arg("xfs").status().is_ok_and(|s| s.success());
    if listed() {
        return true;
    }
    let why = "filesystems: skipped, the kernel has no XFS";
    assert!(std::env::var_os("NETDISK_REQUIRE_ALL").is_none(), "{why}");
    eprintln!("{why}");
    false
}

/// Every durable operation but the pipelined group (the last before the
/// cut), each acknowledged: uploads (one replacing an older version, which
/// goes to the trash), claim,
/// cp, mv, rm and restore, rm and purge, share and save, an HTTP `PUT`, a
/// tus upload. The files they leave.
fn durable_operations(s: &Server) -> Vec<Kept> {
    let (v1, v2, a) = (bytes(70_000, 30), bytes(90_000, 31), bytes(300_000, 32));
    let mut ann = s.user("ann");
    assert!(ann.upload("doc", &v1).starts_with("226"));
    assert!(ann.upload("doc", &v2).starts_with("226"), "{}", ann.transcript);
    ann.ok("mkdir dir", "257");
    assert!(ann.upload("dir/a", &a).starts_with("226"));
    ann.ok("cp dir/a dir/b", "250");
    ann.ok("mv dir/b moved", "250");
    ann.ok("rm dir/a", "250");
    let id = trash_id(&mut ann, "/dir/a");
    ann.ok(&format!("restore {id}"), "257");
    assert!(ann.upload("junk", b"junk").starts_with("226"));
    ann.ok("rm junk", "250");
    let id = trash_id(&mut ann, "/junk");
    ann.ok(&format!("purge {id}"), "250");
    let code = ann.ok("share dir 1", "200 ").split(' ').nth(1).unwrap().to_string();
    let mut bob = s.user("bob");
    bob.ok(&format!("save {code}"), "257");
    let head = bob.ok(&format!("claim c {} {}", v2.len(), md5_hex(&v2)), "350 ");
    bob.ok(&proof(&head, &v2), "226");
    let mut kept: Vec<Kept> = vec![
        ("ann", "doc".into(), v2.clone()),
        ("ann", "dir/a".into(), a.clone()),
        ("ann", "moved".into(), a.clone()),
        ("bob", "dir/a".into(), a),
        ("bob", "c".into(), v2),
    ];
    kept.extend(over_http(s));
    kept
}

fn trash(c: &mut Raw) -> Vec<TrashLine> {
    let head = c.ok("trash", "212 ");
    c.lines_after(&head).iter().map(|l| l.parse().unwrap()).collect()
}

/// The ID of the trash item that was at `path`.
fn trash_id(c: &mut Raw, path: &str) -> String {
    let items = trash(c);
    items.iter().find(|t| t.path == path).unwrap_or_else(|| panic!("{path}: {items:?}")).id.clone()
}

/// Eight uploads sent at once: committed as one group (one `syncfs` on
/// XFS, where it flushes every file).
fn pipelined_group(c: &mut Raw) -> Vec<Kept> {
    let files: Vec<Kept> = (0..8).map(|i| ("ann", format!("g{i}"), bytes(50_000, 50 + i))).collect();
    let mut wire = Vec::new();
    for (_, path, data) in &files {
        wire.extend_from_slice(format!("upload {} {} {}\r\n", quote(path), data.len(), md5_hex(data)).as_bytes());
        wire.extend_from_slice(data);
    }
    c.send(&wire);
    for _ in &files {
        assert!(c.line().starts_with("150 0 "), "{}", c.transcript);
        assert!(c.line().starts_with("226"), "{}", c.transcript);
    }
    files
}

/// A `PUT /files/` and a tus upload (creation, then one `PATCH`).
fn over_http(s: &Server) -> Vec<Kept> {
    let (put, tus) = (bytes(200_000, 60), bytes(600_000, 61));
    let made = ask(&s.http, "PUT", "/files/put.bin", &auth("ann"), &put);
    assert_eq!(made.status, 201, "{}", made.text());
    let meta = format!("filename {},md5 {}", b64(b"tus.bin"), b64(md5_hex(&tus).as_bytes()));
    let head =
        format!("Tus-Resumable: 1.0.0\r\n{}Upload-Length: {}\r\nUpload-Metadata: {meta}\r\n", auth("ann"), tus.len());
    let created = ask(&s.http, "POST", "/tus/", &head, b"");
    assert_eq!(created.status, 201, "{}", created.text());
    let url = created.header("location").unwrap();
    let patch = format!(
        "Tus-Resumable: 1.0.0\r\n{}Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n",
        auth("ann")
    );
    let done = ask(&s.http, "PATCH", &url[url.find("/tus/").unwrap()..], &patch, &tus);
    assert_eq!(done.status, 204, "{}", done.text());
    vec![("ann", "put.bin".into(), put), ("ann", "tus.bin".into(), tus)]
}

/// Every kept file reads back whole; ann's trash holds exactly the old
/// `doc` (the restored and the purged items are gone from it).
fn check(s: &Server, kept: &[Kept]) {
    for (user, path, data) in kept {
        let got = s.user(user).download(path);
        assert!(got == *data, "{user}'s {path}: {} bytes, {} acknowledged", got.len(), data.len());
    }
    let items = trash(&mut s.user("ann"));
    let kept: Vec<(&str, u64)> = items.iter().map(|t| (t.path.as_str(), t.size)).collect();
    assert_eq!(kept, [("/doc", 70_000)], "ann's trash");
    assert!(home_has_no_partials(&s.data), "staged bytes leaked into a home");
}

/// No `.part` (or other staging file) under `home/`.
fn home_has_no_partials(data: &Path) -> bool {
    common::files_under(&data.join("home")).iter().all(|f| !f.ends_with(".part") && !f.contains(".tmp"))
}
