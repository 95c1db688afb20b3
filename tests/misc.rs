//! Digest records that never outlive their file, flag validation, start-up
//! errors, the client library's request encoding, and what the log and the
//! client are told about failures.

mod common;

use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{EVENT_WAIT, Server, TempDir, fixture, md5_hex, netdisk, staged_len, test_dir, wait_until};
use netdisk::client::Client;
use netdisk::proto::{Command as Request, Password};

/// Files in `data/sums`, temporary ones included.
fn records(data: &Path) -> usize {
    fs::read_dir(data.join("sums")).map_or(0, |d| d.count())
}

#[test]
fn replacing_and_removing_files_leaves_no_digest_record_behind() {
    // Without a trash (and without the content store, whose links the
    // sweeper collects later), every replaced file is gone at once.
    let server = fixture!(&["--trash-days", "0", "--dedup", "off"]);
    let mut c = server.user("alice");
    assert!(c.upload("a", b"first").starts_with("226"));
    let mut last = Vec::new();
    for i in 0..1000 {
        last = format!("version {i:04}").into_bytes();
        assert!(c.upload("b", &last).starts_with("226"), "{}", c.transcript);
        c.ok("mv b a", "250");
    }
    assert_eq!(records(&server.data), 1, "one file, one record");
    let stat = c.ok("stat a", "213");
    assert!(stat.contains(&md5_hex(&last)), "{stat}");
    assert_eq!(c.download("a"), last);
    c.ok("rm a", "250");
    c.ok("purge all", "250");
    assert_eq!(records(&server.data), 0, "no file, no record");
}

/// A file that reuses the inode of a replaced one, with the same size and
/// mtime (as on a file system with 1-second timestamps), even when the old
/// record survived (a crash between the rename and its removal).
#[test]
fn a_reused_inode_never_gets_the_md5_of_the_file_it_replaced() {
    let server = fixture!();
    let mut c = server.user("alice");
    assert!(c.upload("a", b"AAAAAA").starts_with("226"));
    c.ok("stat a", "213");
    let home = server.data.join("home/alice");
    let old = fs::metadata(home.join("a")).unwrap();
    let record = server.data.join("sums").join(old.ino().to_string());
    let saved = server.dir().join("record");
    fs::copy(&record, &saved).unwrap();
    assert!(c.upload("b", b"BBBBBB").starts_with("226"));
    c.ok("mv b a", "250");
    fs::copy(&saved, &record).unwrap();
    // A file put in place by hand takes the freed inode (ext4 hands it out
    // again at once), with the old file's size and mtime.
    let mut reused = None;
    for i in 0..50 {
        let path = home.join(format!("c{i}"));
        fs::write(&path, b"CCCCCC").unwrap();
        if fs::metadata(&path).unwrap().ino() == old.ino() {
            reused = Some(path);
            break;
        }
    }
    let Some(path) = reused else {
        eprintln!("the file system did not reuse the inode; nothing to check");
        return;
    };
    File::options().write(true).open(&path).unwrap().set_modified(old.modified().unwrap()).unwrap();
    let name = path.file_name().unwrap().to_str().unwrap();
    let stat = c.ok(&format!("stat {name}"), "213");
    assert!(stat.contains(&md5_hex(b"CCCCCC")), "wrong MD5 for a reused inode: {stat}");
    assert_eq!(c.download(name), b"CCCCCC");
}

/// Runs the server binary, which must refuse to start; returns its exit
/// status and what it wrote on stderr.
fn refused(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let dir = TempDir::new("refused");
    refused_over(&dir.data(), args, env)
}

fn refused_over(data: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let logs = TempDir::new("refused-stderr");
    let err = logs.path().join("stderr");
    let mut child = Command::new(netdisk())
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    if !line.is_empty() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the server started with {args:?} {env:?}: {line}");
    }
    let status = child.wait().unwrap();
    (status.code().unwrap_or(-1), fs::read_to_string(err).unwrap())
}

#[test]
fn durations_out_of_range_are_refused_with_status_2() {
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        (&["--idle-timeout", "18446744073709551615"], &[], "--idle-timeout"),
        (&["--idle-timeout", "2592001"], &[], "--idle-timeout"),
        (&["--stall-timeout", "0"], &[], "--stall-timeout"),
        (&["--login-timeout=0"], &[], "--login-timeout"),
        (&["--partial-ttl", "99999999999"], &[], "--partial-ttl"),
        (&[], &[("NETDISK_STALL_TIMEOUT", "0")], "NETDISK_STALL_TIMEOUT"),
    ];
    for (args, env, flag) in cases {
        let (code, err) = refused(args, env);
        assert_eq!(code, 2, "{args:?} {env:?}: {err}");
        assert!(err.contains(flag) && err.contains("1 to 2592000 seconds"), "{args:?} {env:?}: {err}");
    }
}

#[test]
fn the_largest_durations_work() {
    let server = fixture!(&["--idle-timeout", "2592000", "--stall-timeout", "2592000"]);
    let mut c = server.user("alice");
    assert!(c.upload("f", b"hello").starts_with("226"));
    c.ok("pwd", "257");
}

#[test]
fn a_missing_parent_of_the_data_directory_is_an_error() {
    let dir = test_dir!();
    let deep = dir.path().join("no/such/parent/data");
    let (code, err) = refused_over(&deep, &[], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("data directory {}: its parent directory does not exist", deep.display())), "{err}");
    assert!(!dir.path().join("no").exists(), "nothing created");
}

#[test]
fn a_missing_data_directory_is_created_and_logged() {
    let dir = test_dir!();
    let data = dir.path().join("fresh");
    let server = Server::start(&data, &[]);
    assert!(data.join("home").is_dir());
    server.wait_log(&format!("created the data directory {}", data.display()), 1);
}

#[test]
fn a_busy_address_is_named_in_the_error() {
    let first = fixture!();
    let (code, err) = refused(&["--listen", &first.addr], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("cannot listen on {}", first.addr)), "{err}");
}

/// What became of a request: its error's text, or `sent`.
fn said<T>(result: Result<T, netdisk::client::ClientError>) -> String {
    result.map_or_else(|e| e.to_string(), |_| "sent".to_string())
}

#[test]
fn the_client_library_never_sends_a_second_line() {
    let server = fixture!();
    let mut raw = server.user("alice");
    assert!(raw.upload("victim", b"keep me").starts_with("226"));
    raw.ok("mkdir a", "257");
    let mut c = Client::connect(&server.addr).unwrap();
    c.login("alice", "pw-alice").unwrap();
    let cmds = [
        Request::Mv { from: "nothing\nrm".into(), to: "victim".into() },
        Request::Login { user: "alice\nrm".into(), pass: Password::new("victim") },
        Request::Cd { path: "a\nrm victim".into() },
        Request::Stat { path: "a\r\nrm victim".into() },
        Request::Ls { path: Some("a\u{85}rm victim".into()) },
    ];
    let mut errors: Vec<String> = cmds.iter().map(|cmd| said(c.request(cmd))).collect();
    errors.push(said(c.send_line("pwd\nrm victim")));
    errors.push(said(c.cd("a\nrm victim")));
    let stat = raw.cmd("stat victim");
    assert!(stat.starts_with("213"), "the victim was removed: {stat}");
    assert_eq!(raw.download("victim"), b"keep me");
    for err in errors {
        assert!(err.contains("control character"), "{err}");
    }
    assert_eq!(c.stat("victim").unwrap().size, 7, "the session goes on");
    let log = server.log_text();
    assert!(!log.contains("action=rm") && !log.contains("action=mv"), "the server saw a command:\n{log}");
}

#[test]
fn a_missing_digest_line_is_a_stall_timeout() {
    let server = fixture!(&["--stall-timeout", "1"]);
    let mut c = server.user("alice");
    c.ok("upload f 3 -", "150 0 ");
    c.send(b"abc");
    assert_eq!(c.line(), "421 stall timeout");
    assert!(c.closed());
}

#[test]
fn an_unexpected_failure_is_logged_with_its_cause_and_told_briefly() {
    let server = fixture!();
    let mut c = server.user("alice");
    c.ok("pwd", "257");
    // The digest records' directory replaced by a file: a committed
    // upload's record can neither be written nor an old one removed.
    let sums = server.data.join("sums");
    fs::remove_dir_all(&sums).unwrap();
    fs::write(&sums, b"in the way").unwrap();
    let reply = c.upload("f", b"hello");
    assert!(reply.starts_with("451 ") && !reply.contains("os error"), "{reply}");
    server.wait_log("outcome=451", 1);
    let log = server.log_text();
    let line = log.lines().find(|l| l.contains("outcome=451")).unwrap();
    assert!(line.contains("action=upload") && line.contains("cause=\"") && line.contains("os error"), "{line}");
}

#[test]
fn a_large_upload_holds_four_descriptors() {
    let server = fixture!();
    let fds = || fs::read_dir(format!("/proc/{}/fd", server.child.id())).unwrap().count();
    let mut c = server.user("alice");
    c.ok("pwd", "257");
    let idle = fds();
    let size = 8 << 20;
    c.ok(&format!("upload big {size} -"), "150 0 ");
    c.send(&vec![7u8; 5 << 20]);
    wait_until(EVENT_WAIT, "5 MiB staged", || staged_len(&server.data) >= 5 << 20);
    assert_eq!(fds(), idle + 3, "socket (counted in idle), staged file, its flusher's handle, the holder's socket");
}

#[test]
fn the_log_names_the_absolute_path_whatever_the_working_directory() {
    let server = fixture!();
    let mut alice = server.user("alice");
    alice.ok("makedir docs", "257");
    alice.ok("cd docs", "250");
    alice.upload("a.txt", b"hello");
    alice.download("a.txt");
    alice.ok("makedir sub", "257");
    alice.ok("mv a.txt sub/b.txt", "250");
    alice.ok("cp sub ../copy", "250");
    alice.ok("rm sub", "250");
    alice.ok("quit", "221");
    server.wait_log("action=disconnect", 1);
    let log = server.log_text();
    for line in [
        "action=makedir path=\"/docs/sub\"",
        "action=download path=\"/docs/a.txt\"",
        "action=mv path=\"/docs/a.txt -> /docs/sub/b.txt\"",
        "action=cp path=\"/docs/sub -> /copy\"",
        "action=rm path=\"/docs/sub\"",
    ] {
        assert!(log.contains(line), "{line} in:\n{log}");
    }
}
