//! Account administration through real processes and sockets: the
//! `netdisk user ...` subcommands on a data directory (also while a server
//! runs on it), `passwd`, per-user quotas, `--registration` and size
//! suffixes in flags.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Ran, Raw, files_under, fixture, md5_hex, netdisk, run, test_dir};

/// Runs `netdisk ARGS...` with `stdin`; `--data DATA` is appended.
fn admin(data: &Path, args: &[&str], stdin: &str) -> Ran {
    run(Command::new(netdisk()).args(args).arg("--data").arg(data), stdin)
}

/// Asserts success (exit 0, nothing on stderr); returns standard output.
fn admin_ok(data: &Path, args: &[&str], stdin: &str) -> String {
    let ran = admin(data, args, stdin);
    assert!(ran.code == 0 && ran.err.is_empty(), "{args:?}: {ran:?}");
    ran.out
}

/// Asserts failure with `code` and a message on stderr containing `says`.
fn admin_fails(data: &Path, args: &[&str], stdin: &str, code: i32, says: &str) {
    let ran = admin(data, args, stdin);
    assert!(ran.code == code && ran.err.contains(says), "{args:?}: wanted {code} {says:?}, got {ran:?}");
}

/// The first reply line to an upload of `len` bytes announced with its MD5.
fn try_upload(c: &mut Raw, path: &str, len: usize) -> String {
    let data = vec![b'x'; len];
    let head = c.cmd(&format!("upload {path} {len} {}", md5_hex(&data)));
    if !head.starts_with("150") {
        return head;
    }
    c.send(&data);
    c.line()
}

#[test]
fn admin_commands_report_success_and_failure() {
    let dir = test_dir!();
    let data = dir.data();
    assert_eq!(admin_ok(&data, &["user", "add", "ann"], "pw-ann\n"), "added ann\n");
    admin_fails(&data, &["user", "add", "ann"], "other\n", 1, "exists");
    admin_fails(&data, &["user", "add", ".bad"], "pw\n", 1, "user name");
    admin_fails(&data, &["user", "add", "bo"], "", 1, "standard input");
    admin_fails(&data, &["user", "add", "bo"], "\n", 1, "password");
    admin_ok(&data, &["user", "passwd", "ann"], "new-ann\r\n");
    admin_fails(&data, &["user", "passwd", "nobody"], "pw\n", 1, "no user nobody");
    admin_ok(&data, &["user", "quota", "ann", "5K"], "");
    admin_fails(&data, &["user", "quota", "nobody", "5K"], "", 1, "no user nobody");
    admin_fails(&data, &["user", "quota", "ann", "5X"], "", 2, "quota");
    admin_fails(&data, &["user", "quota", "ann"], "", 2, "wrong number of arguments");
    admin_fails(&data, &["user", "frob"], "", 2, "unknown command");
    admin_fails(&data, &["user", "list", "--listen", "x"], "", 2, "unknown option");
    admin_fails(&data, &["user", "del", "nobody"], "", 1, "no user nobody");
    admin_ok(&data, &["user", "entries", "ann", "40"], "");
    admin_fails(&data, &["user", "entries", "ann", "4K"], "", 2, "entries");
    assert_eq!(admin_ok(&data, &["user", "list"], ""), "ann 5120 0 40 0\n");
    assert_eq!(admin_ok(&data, &["user", "del", "ann"], ""), "deleted ann and its files\n");
    assert_eq!(admin_ok(&data, &["user", "list"], ""), "");
    admin_fails(&dir.path().join("none"), &["user", "list"], "", 1, "no such data directory");
    assert!(admin_ok(&data, &["user", "--help"], "").contains("user quota NAME"));
    // `--data` anywhere on the line (the helper puts one last; an earlier
    // one is overridden by it).
    let ran = Command::new(netdisk()).arg("--data").arg(&data).args(["user", "list"]).output();
    assert!(ran.unwrap().status.success());
    let ran = Command::new(netdisk()).args(["user", "--data"]).arg(&data).arg("list").output();
    assert!(ran.unwrap().status.success());
}

#[test]
fn added_and_changed_passwords_count_at_once_in_a_running_server() {
    let s = fixture!();
    admin_ok(&s.data, &["user", "add", "carl"], "first pw\n");
    assert!(s.logs_in("carl", "\"first pw\""));
    let mut c = s.connect();
    c.ok("register carl x", "550");
    admin_ok(&s.data, &["user", "passwd", "carl"], "second\n");
    assert!(s.logs_in("carl", "second"));
    assert!(!s.logs_in("carl", "\"first pw\""));
}

#[test]
fn deleting_a_logged_in_user_ends_their_sessions_and_removes_their_files() {
    let s = fixture!();
    let mut a = s.user("dave");
    let mut b = s.user("dave");
    a.ok("mkdir docs", "257");
    assert!(try_upload(&mut a, "docs/f", 3000).starts_with("226"));
    // A staged, interrupted upload.
    let mut p = s.user("dave");
    p.ok(&format!("upload big 100000 {}", md5_hex(b"whatever")), "150 0");
    p.send(&[b'y'; 1000]);
    drop(p);
    s.wait_log("interrupted", 1);
    assert!(!files_under(&s.data.join("staging/dave")).is_empty());
    // An upload under way when the account goes.
    let mut u = s.user("dave");
    let late = vec![b'z'; 100];
    u.ok(&format!("upload late 100 {}", md5_hex(&late)), "150 0");
    u.send(&late[..50]);
    s.user("erin");
    admin_ok(&s.data, &["user", "del", "dave"], "");
    assert_eq!(a.cmd("pwd"), "421 account deleted");
    assert!(a.closed());
    u.send(&late[50..]);
    assert_eq!(u.line(), "421 account deleted");
    for top in ["home", "staging"] {
        let names: Vec<_> = fs::read_dir(s.data.join(top)).unwrap().flatten().map(|e| e.file_name()).collect();
        assert!(names.iter().all(|n| n == "erin"), "{top}: only the other user is left: {names:?}");
    }
    assert!(!s.logs_in("dave", "pw-dave"));
    // The name can be registered again, with nothing of the old account;
    // a session of the old account still ends.
    let mut c = s.user("dave");
    assert!(c.ls("/").is_empty());
    assert_eq!(b.cmd("ls"), "421 account deleted");
    assert!(b.closed());
    c.ok("pwd", "257");
}

#[test]
fn user_list_shows_quota_and_bytes_used() {
    let s = fixture!();
    let mut c = s.user("zed");
    assert!(try_upload(&mut c, "a", 1500).starts_with("226"));
    c.ok("mkdir d", "257");
    assert!(try_upload(&mut c, "d/b", 500).starts_with("226"));
    s.user("amy");
    s.user("max");
    admin_ok(&s.data, &["user", "quota", "amy", "-"], "");
    admin_ok(&s.data, &["user", "quota", "max", "1G"], "");
    let listed = admin_ok(&s.data, &["user", "list"], "");
    assert_eq!(listed, "amy - 0 default 0\nmax 1073741824 0 default 0\nzed default 2000 default 3\n");
    admin_ok(&s.data, &["user", "quota", "max", "default"], "");
    assert!(admin_ok(&s.data, &["user", "list"], "").contains("max default 0 default 0\n"));
}

#[test]
fn a_users_own_quota_overrides_the_server_quota_at_once() {
    let s = fixture!(&["--quota", "1K"]);
    let mut c = s.user("fay");
    assert_eq!(c.cmd("quota").rsplitn(3, ' ').nth(2).unwrap(), "213 0 1024");
    admin_ok(&s.data, &["user", "quota", "fay", "4K"], "");
    assert_eq!(c.cmd("quota").rsplitn(3, ' ').nth(2).unwrap(), "213 0 4096");
    assert!(try_upload(&mut c, "one", 2000).starts_with("226"), "{}", c.transcript);
    admin_ok(&s.data, &["user", "quota", "fay", "3K"], "");
    assert!(try_upload(&mut c, "two", 2000).starts_with("552"), "{}", c.transcript);
    let mut c = s.user("fay");
    admin_ok(&s.data, &["user", "quota", "fay", "-"], "");
    assert_eq!(c.cmd("quota").rsplitn(3, ' ').nth(2).unwrap(), "213 2000 -");
    assert!(try_upload(&mut c, "two", 2000).starts_with("226"), "{}", c.transcript);
    admin_ok(&s.data, &["user", "quota", "fay", "default"], "");
    assert_eq!(c.cmd("quota").rsplitn(3, ' ').nth(2).unwrap(), "213 4000 1024");
    // Another user is still under the server's quota.
    let mut g = s.user("gil");
    assert!(try_upload(&mut g, "big", 2000).starts_with("552"));
}

#[test]
fn closed_registration_refuses_register_but_not_admin() {
    let s = fixture!(&["--registration", "closed"]);
    let mut c = s.connect();
    assert_eq!(c.cmd("register hal pw"), "550 registration is closed");
    admin_ok(&s.data, &["user", "add", "hal"], "pw\n");
    c.ok("login hal pw", "230");
}

#[test]
fn passwd_changes_the_password_and_keeps_the_quota() {
    let s = fixture!();
    let mut c = s.user("ivy");
    admin_ok(&s.data, &["user", "quota", "ivy", "7K"], "");
    admin_ok(&s.data, &["user", "entries", "ivy", "9"], "");
    assert_eq!(c.cmd("passwd pw-ivy \"new pw\""), "200 password changed");
    assert!(s.logs_in("ivy", "\"new pw\""));
    assert!(!s.logs_in("ivy", "pw-ivy"));
    assert_eq!(admin_ok(&s.data, &["user", "list"], ""), "ivy 7168 0 9 0\n");
    c.ok("pwd", "257");
}

#[test]
fn passwd_with_a_wrong_old_password_is_a_failed_login() {
    let s = fixture!(&["--max-login-failures", "2"]);
    let mut c = s.user("jo");
    let started = Instant::now();
    assert_eq!(c.cmd("passwd wrong newer").split(' ').next(), Some("530"));
    assert_eq!(c.cmd("pwd"), "257 \"/\"", "still logged in");
    assert!(c.cmd(&format!("passwd pw-jo {}", "x".repeat(129))).starts_with("501"));
    assert!(c.cmd("passwd pw-jo \"a\tb\"").starts_with("501"));
    c.ok("pwd", "257");
    // The per-address back-off counted the failure: 100 ms, then 200.
    let mut d = s.connect();
    assert_eq!(d.cmd("login jo wrong"), "530 login incorrect");
    assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());
    // The second failure on this connection closes it.
    assert_eq!(c.cmd("passwd wrong again"), "421 too many failed logins");
    assert!(c.closed());
    assert!(s.logs_in("jo", "pw-jo"), "refused passwd changed nothing");
}

#[test]
fn size_flags_take_suffixes() {
    let s = fixture!(&["--max-file-size", "1K", "--quota=3k"]);
    let mut c = s.user("kim");
    assert_eq!(c.cmd("quota").rsplitn(3, ' ').nth(2).unwrap(), "213 0 3072");
    assert!(try_upload(&mut c, "ok", 1024).starts_with("226"));
    assert!(try_upload(&mut c, "big", 1025).starts_with("552"));
    let mut c = s.user("kim");
    c.ok("upload x 1K -", "501");
    let bad = Command::new(netdisk()).args(["--quota", "1Q"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--quota"));
}
