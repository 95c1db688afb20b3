//! The client library and the example client against a real server.

mod common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use common::{Server, TempDir, bytes, md5_hex};
use netdisk::client::{Client, ClientError};
use netdisk::proto::body::Kind;

fn setup(tag: &str, args: &[&str]) -> (TempDir, Server, Client) {
    let dir = TempDir::new(tag);
    let server = Server::start(&dir.path().join("data"), args);
    let mut c = Client::connect(&server.addr).unwrap();
    c.register("alice", "pw").unwrap();
    c.login("alice", "pw").unwrap();
    (dir, server, c)
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, data).unwrap();
    p
}

/// A progress callback that stops once `limit` bytes are in place.
fn stop_at(limit: u64) -> impl FnMut(&netdisk::client::Progress) -> bool {
    move |p| p.done < limit
}

#[test]
fn every_command_through_the_library() {
    let (dir, _s, mut c) = setup("lib", &[]);
    c.expect(&netdisk::proto::Command::Makedir { path: "my docs".into() }).unwrap();
    c.cd("my docs").unwrap();
    assert_eq!(c.cwd(), "/my docs");
    let local = write(dir.path(), "a file.txt", b"hello\n");
    let t = c.upload(&local, "a file.txt", &mut |_| true).unwrap();
    assert_eq!(t.md5.to_string(), "b1946ac92492d2347c6235b4d2611184");
    let ls = c.ls(None).unwrap();
    assert_eq!(ls.len(), 1);
    assert_eq!((ls[0].kind, ls[0].size, ls[0].name.as_str()), (Kind::File, 6, "a file.txt"));
    let st = c.stat("a file.txt").unwrap();
    let md5 = st.md5.unwrap().to_string();
    assert_eq!((st.size, md5.as_str(), st.name.as_str()), (6, "b1946ac92492d2347c6235b4d2611184", "a file.txt"));
    let out = dir.path().join("out");
    fs::create_dir(&out).unwrap();
    c.download("/my docs/a file.txt", &out, &mut |_| true).unwrap();
    assert_eq!(fs::read(out.join("a file.txt")).unwrap(), b"hello\n", "a directory means: inside it");
    c.expect(&netdisk::proto::Command::Mv { from: "a file.txt".into(), to: "/b.txt".into() }).unwrap();
    c.expect(&netdisk::proto::Command::Rm { path: "/b.txt".into() }).unwrap();
    c.cd("/").unwrap();
    c.expect(&netdisk::proto::Command::Rmdir { path: "my docs".into() }).unwrap();
    match c.cd("nope") {
        Err(ClientError::Refused(r)) => assert_eq!(r.code.number(), 550),
        other => panic!("{other:?}"),
    }
    c.quit().unwrap();
}

#[test]
fn interrupted_upload_resumes_automatically() {
    let (dir, _s, mut c) = setup("upresume", &[]);
    // Large enough for the threaded hashing paths on both sides.
    let data = bytes(6_000_000, 1);
    let local = write(dir.path(), "big.bin", &data);
    match c.upload(&local, "big.bin", &mut stop_at(700_000)) {
        Err(ClientError::Interrupted(n)) => assert!(n >= 700_000),
        other => panic!("{other:?}"),
    }
    thread::sleep(Duration::from_millis(200));
    let t = c.upload(&local, "big.bin", &mut |_| true).unwrap();
    assert!(t.resumed_at >= 700_000, "resumed at {}", t.resumed_at);
    assert_eq!(t.md5.to_string(), md5_hex(&data));
    let out = dir.path().join("back.bin");
    c.download("big.bin", &out, &mut |_| true).unwrap();
    assert_eq!(fs::read(&out).unwrap(), data);
}

#[test]
fn changed_local_file_restarts_the_upload_from_zero() {
    let (dir, _s, mut c) = setup("uprestart", &[]);
    let data = bytes(1_000_000, 2);
    let local = write(dir.path(), "f.bin", &data);
    assert!(c.upload(&local, "f.bin", &mut stop_at(500_000)).is_err());
    thread::sleep(Duration::from_millis(200));
    let other = bytes(1_000_000, 3);
    fs::write(&local, &other).unwrap();
    let t = c.upload(&local, "f.bin", &mut |_| true).unwrap();
    assert_eq!(t.resumed_at, 0, "prefix differs: start over");
    assert_eq!(t.md5.to_string(), md5_hex(&other));
}

#[test]
fn interrupted_download_resumes_and_never_touches_the_target_early() {
    let (dir, _s, mut c) = setup("downresume", &[]);
    let data = bytes(6_000_000, 4);
    let local = write(dir.path(), "src.bin", &data);
    c.upload(&local, "f.bin", &mut |_| true).unwrap();
    let target = write(dir.path(), "dst.bin", b"old contents");
    assert!(matches!(c.download("f.bin", &target, &mut stop_at(1_000_000)), Err(ClientError::Interrupted(_))));
    assert_eq!(fs::read(&target).unwrap(), b"old contents");
    assert!(dir.path().join("dst.bin.part").exists());
    let t = c.download("f.bin", &target, &mut |_| true).unwrap();
    assert!(t.resumed_at >= 1_000_000, "resumed at {}", t.resumed_at);
    assert_eq!(fs::read(&target).unwrap(), data);
    assert!(!dir.path().join("dst.bin.part").exists(), "no partial file left");
    assert!(!dir.path().join("dst.bin.part.info").exists());
}

#[test]
fn corrupted_partial_download_is_reported_not_verified() {
    let (dir, _s, mut c) = setup("verify", &[]);
    let data = bytes(1_000_000, 5);
    let local = write(dir.path(), "src.bin", &data);
    c.upload(&local, "f.bin", &mut |_| true).unwrap();
    let target = dir.path().join("dst.bin");
    assert!(c.download("f.bin", &target, &mut stop_at(400_000)).is_err());
    let part = dir.path().join("dst.bin.part");
    let mut bad = fs::read(&part).unwrap();
    bad[10] ^= 0xff;
    fs::write(&part, bad).unwrap();
    let err = c.download("f.bin", &target, &mut |_| true).unwrap_err();
    assert!(matches!(err, ClientError::Verify(_)), "{err:?}");
    assert!(err.to_string().starts_with("NOT verified"), "{err}");
    assert!(!target.exists() && !part.exists());
    c.download("f.bin", &target, &mut |_| true).unwrap();
    assert_eq!(fs::read(&target).unwrap(), data);
}

#[test]
fn reconnects_after_the_server_closes_the_connection() {
    let (dir, _s, mut c) = setup("reconnect", &["--idle-timeout", "1"]);
    c.expect(&netdisk::proto::Command::Makedir { path: "d".into() }).unwrap();
    c.cd("d").unwrap();
    thread::sleep(Duration::from_millis(1500));
    assert_eq!(c.ls(None).unwrap().len(), 0, "after an idle timeout");
    assert_eq!(c.cwd(), "/d");
    let local = write(dir.path(), "x", b"x");
    c.upload(&local, "x", &mut |_| true).unwrap();
    c.expect(&netdisk::proto::Command::Makedir { path: "sub".into() }).unwrap();
    assert!(matches!(c.upload(&local, "sub", &mut |_| true), Err(ClientError::Refused(_))));
    assert_eq!(c.ls(Some("/d")).unwrap().len(), 2, "after a refused upload closed the connection");
}

/// The example client binary, built by `cargo test --all-targets`.
fn example_client() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join("examples/client");
    if !path.exists() {
        let built = Command::new(env!("CARGO")).args(["build", "--example", "client"]).status().unwrap();
        assert!(built.success());
    }
    path
}

fn script(addr: &str, cwd: &Path, text: &str) -> (i32, String, String) {
    let mut child = Command::new(example_client())
        .arg(addr)
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

#[test]
fn script_mode_exit_statuses_and_output() {
    let dir = TempDir::new("script");
    let s = Server::start(&dir.path().join("data"), &[]);
    write(dir.path(), "my file.txt", b"hello\n");
    let ok = "register bob pw\nlogin bob pw\nmkdir docs\ncd docs\nupload \"my file.txt\"\nls\ndownload \"my file.txt\" copy.txt\nmkdir /inbox\nupload \"my file.txt\" /inbox\nquit\n";
    let (code, out, err) = script(&s.addr, dir.path(), ok);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("verified by the server"), "{out}");
    assert!(out.contains("my file.txt"), "{out}");
    assert!(out.contains("-> /inbox/my file.txt"), "a remote directory means inside it: {out}");
    assert_eq!(fs::read(dir.path().join("copy.txt")).unwrap(), b"hello\n");
    let (code, _, err) = script(&s.addr, dir.path(), "login bob pw\ncd nowhere\npwd\n");
    assert_eq!(code, 1);
    assert!(err.contains("not found [550]"), "{err}");
    let (code, _, err) = script("127.0.0.1:1", dir.path(), "");
    assert_eq!(code, 2);
    assert!(err.contains("cannot reach"), "{err}");
}

#[test]
fn refused_transfers_leave_nothing_behind_locally() {
    let (dir, _s, mut c) = setup("refusedlocal", &[]);
    c.expect(&netdisk::proto::Command::Makedir { path: "d".into() }).unwrap();
    let target = dir.path().join("got");
    assert!(matches!(c.download("d", &target, &mut |_| true), Err(ClientError::Refused(_))));
    assert!(matches!(c.download("missing", &target, &mut |_| true), Err(ClientError::Refused(_))));
    let mut names: Vec<String> =
        fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.retain(|n| !n.starts_with("server-"));
    assert_eq!(names, vec!["data"]);
    let err = c.upload(dir.path(), "x", &mut |_| true).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
    assert_eq!(c.ls(None).unwrap().len(), 1, "session still fine");
}
