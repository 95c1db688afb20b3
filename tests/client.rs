//! The client library and the example client against a real server.

mod common;

use std::fs;
use std::path::Path;

use common::{bytes, client_command, fixture, md5_hex, run, write_file};
use netdisk::client::ClientError;
use netdisk::proto::body::Kind;

/// A progress callback that stops once `limit` bytes are in place.
fn stop_at(limit: u64) -> impl FnMut(&netdisk::client::Progress) -> bool {
    move |p| p.done < limit
}

#[test]
fn every_command_through_the_library() {
    let s = fixture!();
    let mut c = s.client("alice");
    c.expect(&netdisk::proto::Command::Makedir { path: "my docs".into() }).unwrap();
    c.cd("my docs").unwrap();
    assert_eq!(c.cwd(), "/my docs");
    let local = write_file(s.dir(), "a file.txt", b"hello\n");
    let t = c.upload(&local, "a file.txt", &mut |_| true).unwrap();
    assert_eq!(t.md5.to_string(), "b1946ac92492d2347c6235b4d2611184");
    let ls = c.ls(None).unwrap();
    assert_eq!(ls.len(), 1);
    assert_eq!((ls[0].kind, ls[0].size, ls[0].name.as_str()), (Kind::File, 6, "a file.txt"));
    let st = c.stat("a file.txt").unwrap();
    let md5 = st.md5.unwrap().to_string();
    assert_eq!((st.size, md5.as_str(), st.name.as_str()), (6, "b1946ac92492d2347c6235b4d2611184", "a file.txt"));
    let out = s.dir().join("out");
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
    let s = fixture!();
    let mut c = s.client("alice");
    // Large enough for the threaded hashing paths on both sides.
    let data = bytes(6_000_000, 1);
    let local = write_file(s.dir(), "big.bin", &data);
    match c.upload(&local, "big.bin", &mut stop_at(700_000)) {
        Err(ClientError::Interrupted(n)) => assert!(n >= 700_000),
        other => panic!("{other:?}"),
    }
    s.wait_log("action=disconnect", 1);
    let t = c.upload(&local, "big.bin", &mut |_| true).unwrap();
    assert!(t.resumed_at >= 700_000, "resumed at {}", t.resumed_at);
    assert_eq!(t.md5.to_string(), md5_hex(&data));
    let out = s.dir().join("back.bin");
    c.download("big.bin", &out, &mut |_| true).unwrap();
    assert_eq!(fs::read(&out).unwrap(), data);
}

#[test]
fn changed_local_file_restarts_the_upload_from_zero() {
    let s = fixture!();
    let mut c = s.client("alice");
    let data = bytes(1_000_000, 2);
    let local = write_file(s.dir(), "f.bin", &data);
    assert!(c.upload(&local, "f.bin", &mut stop_at(500_000)).is_err());
    s.wait_log("action=disconnect", 1);
    let other = bytes(1_000_000, 3);
    fs::write(&local, &other).unwrap();
    let t = c.upload(&local, "f.bin", &mut |_| true).unwrap();
    assert_eq!(t.resumed_at, 0, "prefix differs: start over");
    assert_eq!(t.md5.to_string(), md5_hex(&other));
}

#[test]
fn interrupted_download_resumes_and_never_touches_the_target_early() {
    let s = fixture!();
    let mut c = s.client("alice");
    let data = bytes(6_000_000, 4);
    let local = write_file(s.dir(), "src.bin", &data);
    c.upload(&local, "f.bin", &mut |_| true).unwrap();
    let target = write_file(s.dir(), "dst.bin", b"old contents");
    assert!(matches!(c.download("f.bin", &target, &mut stop_at(1_000_000)), Err(ClientError::Interrupted(_))));
    assert_eq!(fs::read(&target).unwrap(), b"old contents");
    assert!(s.dir().join("dst.bin.part").exists());
    let t = c.download("f.bin", &target, &mut |_| true).unwrap();
    assert!(t.resumed_at >= 1_000_000, "resumed at {}", t.resumed_at);
    assert_eq!(fs::read(&target).unwrap(), data);
    assert!(!s.dir().join("dst.bin.part").exists(), "no partial file left");
    assert!(!s.dir().join("dst.bin.part.info").exists());
}

#[test]
fn corrupted_partial_download_is_reported_not_verified() {
    let s = fixture!();
    let mut c = s.client("alice");
    let data = bytes(1_000_000, 5);
    let local = write_file(s.dir(), "src.bin", &data);
    c.upload(&local, "f.bin", &mut |_| true).unwrap();
    let target = s.dir().join("dst.bin");
    assert!(c.download("f.bin", &target, &mut stop_at(400_000)).is_err());
    let part = s.dir().join("dst.bin.part");
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
    let s = fixture!(&["--idle-timeout", "1"]);
    let mut c = s.client("alice");
    c.expect(&netdisk::proto::Command::Makedir { path: "d".into() }).unwrap();
    c.cd("d").unwrap();
    s.wait_log("action=disconnect", 1);
    assert_eq!(c.ls(None).unwrap().len(), 0, "after an idle timeout");
    assert_eq!(c.cwd(), "/d");
    let local = write_file(s.dir(), "x", b"x");
    c.upload(&local, "x", &mut |_| true).unwrap();
    c.expect(&netdisk::proto::Command::Makedir { path: "sub".into() }).unwrap();
    assert!(matches!(c.upload(&local, "sub", &mut |_| true), Err(ClientError::Refused(_))));
    assert_eq!(c.ls(Some("/d")).unwrap().len(), 2, "after a refused upload closed the connection");
}

/// Runs the example client on `addr` in `cwd` with a script on stdin.
fn script(addr: &str, cwd: &Path, text: &str) -> (i32, String, String) {
    let ran = run(client_command().arg(addr).current_dir(cwd), text);
    (ran.code, ran.out, ran.err)
}

#[test]
fn script_mode_exit_statuses_and_output() {
    let s = fixture!();
    write_file(s.dir(), "my file.txt", b"hello\n");
    let ok = "register bob pw\nlogin bob pw\nmkdir docs\ncd docs\nupload \"my file.txt\"\nls\ndownload \"my file.txt\" copy.txt\nmkdir /inbox\nupload \"my file.txt\" /inbox\nquit\n";
    let (code, out, err) = script(&s.addr, s.dir(), ok);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("verified by the server"), "{out}");
    assert!(out.contains("my file.txt"), "{out}");
    assert!(out.contains("-> /inbox/my file.txt"), "a remote directory means inside it: {out}");
    assert_eq!(fs::read(s.dir().join("copy.txt")).unwrap(), b"hello\n");
    let (code, _, err) = script(&s.addr, s.dir(), "login bob pw\ncd nowhere\npwd\n");
    assert_eq!(code, 1);
    assert!(err.contains("not found [550]"), "{err}");
    let (code, _, err) = script("127.0.0.1:1", s.dir(), "");
    assert_eq!(code, 2);
    assert!(err.contains("cannot reach"), "{err}");
}

#[test]
fn refused_transfers_leave_nothing_behind_locally() {
    let s = fixture!();
    let mut c = s.client("alice");
    c.expect(&netdisk::proto::Command::Makedir { path: "d".into() }).unwrap();
    let target = s.dir().join("got");
    assert!(matches!(c.download("d", &target, &mut |_| true), Err(ClientError::Refused(_))));
    assert!(matches!(c.download("missing", &target, &mut |_| true), Err(ClientError::Refused(_))));
    let mut names: Vec<String> =
        fs::read_dir(s.dir()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.retain(|n| !n.starts_with("server-"));
    assert_eq!(names, vec!["data"]);
    let err = c.upload(s.dir(), "x", &mut |_| true).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
    assert_eq!(c.ls(None).unwrap().len(), 1, "session still fine");
}

/// Overwrites 8 bytes of `path` at `at`, keeping its size.
fn overwrite(path: &Path, at: u64) {
    use std::os::unix::fs::FileExt;
    fs::OpenOptions::new().write(true).open(path).unwrap().write_all_at(b"changed!", at).unwrap();
}

#[test]
fn a_held_file_found_while_sending_switches_to_claim_and_leaves_nothing_staged() {
    let s = fixture!();
    let data = bytes(netdisk::client::AHEAD_FROM as usize + (4 << 20), 11);
    let local = write_file(s.dir(), "movie.bin", &data);
    s.client("bob").upload(&local, "held.bin", &mut |_| true).unwrap();
    // Alice's client has no digest cached: it sends at once and hashes
    // ahead; her first progress report waits until the claim is done.
    let mut alice = s.client("alice");
    let mut reports = 0;
    let t = alice
        .upload(&local, "copy.bin", &mut |_| {
            reports += 1;
            if reports == 1 {
                s.wait_log("user=alice action=claim path=\"/copy.bin\" outcome=226", 1);
            }
            true
        })
        .unwrap();
    assert!(t.instant && t.moved > 0, "bytes went first, then the claim: {t:?}");
    assert_eq!(t.md5.to_string(), md5_hex(&data));
    s.wait_log("user=alice action=upload path=\"/copy.bin\" outcome=interrupted", 1);
    let staged = common::files_under(&s.data.join("staging").join("alice"));
    assert!(staged.is_empty(), "the cut upload's bytes are dropped: {staged:?}");
    let used = alice.quota().unwrap().used;
    assert_eq!(used, data.len() as u64, "no staged bytes counted");
    let st = alice.stat("copy.bin").unwrap();
    assert_eq!((st.size, st.md5.unwrap().to_string()), (data.len() as u64, md5_hex(&data)));
}

#[test]
fn an_upload_cut_while_hashing_ahead_resumes_where_it_stopped() {
    let s = fixture!();
    let data = bytes(netdisk::client::AHEAD_FROM as usize + (4 << 20), 12);
    let local = write_file(s.dir(), "big.bin", &data);
    let mut c = s.client("alice");
    match c.upload(&local, "big.bin", &mut stop_at(3 << 20)) {
        Err(ClientError::Interrupted(n)) => assert!(n >= 3 << 20),
        other => panic!("{other:?}"),
    }
    s.wait_log("action=upload path=\"/big.bin\" outcome=interrupted", 1);
    let t = c.upload(&local, "big.bin", &mut |_| true).unwrap();
    assert!(t.resumed_at >= 3 << 20 && !t.instant, "{t:?}");
    assert_eq!(t.md5.to_string(), md5_hex(&data));
    let out = s.dir().join("back.bin");
    c.download("big.bin", &out, &mut |_| true).unwrap();
    assert!(fs::read(&out).unwrap() == data);
}

#[test]
fn a_file_changed_while_being_sent_is_refused() {
    let s = fixture!();
    let size = netdisk::client::AHEAD_FROM + (4 << 20);
    // Changed where it was sent already, and where it was not yet.
    for (name, at) in [("head.bin", 0), ("tail.bin", size - 8), ("small.bin", 0)] {
        let len = if name == "small.bin" { 900_000 } else { size as usize };
        let local = write_file(s.dir(), name, &bytes(len, 13));
        let mut c = s.client("alice");
        let mut changed = false;
        let sent = c.upload(&local, name, &mut |_| {
            if !changed {
                overwrite(&local, at);
                changed = true;
            }
            true
        });
        assert!(sent.is_err(), "{name}: {sent:?}");
        match c.stat(name) {
            Err(ClientError::Refused(r)) => assert_eq!(r.code.number(), 550, "{name}: nothing stored"),
            other => panic!("{name}: {other:?}"),
        }
    }
}
