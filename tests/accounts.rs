//! Accounts through real sockets: the append-only users file, damage after
//! a crash, several processes on one data directory, leftovers, and the
//! registration rate of one address.

mod common;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{EVENT_WAIT, Server, fixture, test_dir, wait_until};

fn users_file(data: &Path) -> Vec<u8> {
    fs::read(data.join("users")).unwrap()
}

fn append_raw(data: &Path, bytes: &[u8]) {
    OpenOptions::new().append(true).open(data.join("users")).unwrap().write_all(bytes).unwrap();
}

/// The record (after `NAME:`) of the last line for `user`.
fn record_of(data: &Path, user: &str) -> String {
    let text = String::from_utf8(users_file(data)).unwrap();
    let prefix = format!("{user}:");
    text.lines().filter_map(|l| l.strip_prefix(&prefix)).next_back().unwrap().to_string()
}

#[test]
fn register_appends_to_the_users_file_instead_of_rewriting_it() {
    let s = fixture!();
    let data = s.data.clone();
    let mut c = s.connect();
    c.ok("register alice pw-a", "201");
    let before = users_file(&data);
    let inode = fs::metadata(data.join("users")).unwrap().ino();
    c.ok("register bob pw-b", "201");
    let after = users_file(&data);
    assert_eq!(fs::metadata(data.join("users")).unwrap().ino(), inode, "the file was replaced");
    assert!(after.starts_with(&before), "old bytes are not a prefix");
    let added = String::from_utf8(after[before.len()..].to_vec()).unwrap();
    assert!(added.starts_with("bob:md5$") && added.ends_with('\n') && added.lines().count() == 1, "{added:?}");
    assert!(s.logs_in("alice", "pw-a") && s.logs_in("bob", "pw-b"));
}

#[test]
fn a_torn_last_line_is_ignored_and_cut_by_the_next_registration() {
    let s = fixture!();
    let data = s.data.clone();
    let mut c = s.connect();
    c.ok("register alice pw-a", "201");
    c.ok("register bob pw-b", "201");
    let whole = users_file(&data);
    // A crash in the middle of appending carol's record, seen by a running
    // server: carol is not an account, and dave's record must not run into it.
    append_raw(&data, b"carol:md5$60000$00112233");
    assert!(!s.logs_in("carol", "x"));
    assert!(s.logs_in("alice", "pw-a"));
    c.ok("register dave pw-d", "201");
    let text = String::from_utf8(users_file(&data)).unwrap();
    assert!(text.starts_with(std::str::from_utf8(&whole).unwrap()), "{text}");
    assert!(!text.contains("carol") && text.ends_with('\n'), "{text}");
    for (user, pass) in [("alice", "pw-a"), ("bob", "pw-b"), ("dave", "pw-d")] {
        assert!(s.logs_in(user, pass), "{user}");
    }
    c.ok("register carol pw-c", "201");
    assert!(s.logs_in("carol", "pw-c"));
}

#[test]
fn garbage_lines_after_a_crash_break_no_account_across_a_restart() {
    let mut s = fixture!();
    let data = s.data.clone();
    s.user("alice");
    s.user("bob");
    s.kill();
    append_raw(&data, b"\xff\xfe not a record\nzed:\nbob\n:md5$1$00$00\n#comment\nerin:md5$600");
    let s = Server::start(&data, &[]);
    assert!(s.logs_in("alice", "pw-alice") && s.logs_in("bob", "pw-bob"));
    s.user("erin");
    s.user("zed");
    for user in ["alice", "bob", "erin", "zed"] {
        assert!(s.logs_in(user, &format!("pw-{user}")), "{user}");
    }
    // Start-up compaction left one line per account.
    let text = String::from_utf8(users_file(&data)).unwrap();
    assert!(text.lines().skip(1).all(|l| l.split_once(':').is_some_and(|(_, r)| r.starts_with("md5$"))), "{text}");
}

#[test]
fn the_last_record_wins_and_records_may_carry_fields() {
    let s = fixture!();
    let data = s.data.clone();
    s.user("alice");
    s.user("bob");
    let alice = record_of(&data, "alice");
    let bob = record_of(&data, "bob");
    // What later versions will append while this server runs: a password
    // change, a quota field, a removal.
    append_raw(&data, format!("alice:{bob} quota=1000\nbob:-\n").as_bytes());
    assert!(s.logs_in("alice", "pw-bob"), "alice's new password, with a field after it");
    assert!(!s.logs_in("alice", "pw-alice"));
    assert!(!s.logs_in("bob", "pw-bob"), "bob was removed");
    let mut c = s.connect();
    c.ok("register bob again", "201");
    assert!(s.logs_in("bob", "again"));
    assert_ne!(alice, bob);
}

#[test]
fn a_running_server_follows_another_process_through_a_compaction() {
    let a = fixture!();
    let data = a.data.clone();
    a.user("alice");
    // A superseded line makes the next process compact at start-up, which
    // replaces the file under `a`.
    let alice = record_of(&data, "alice");
    append_raw(&data, format!("alice:{alice}\n").as_bytes());
    let inode = fs::metadata(data.join("users")).unwrap().ino();
    let b = a.another(&[]);
    assert_ne!(fs::metadata(data.join("users")).unwrap().ino(), inode, "b compacted");
    b.user("bob");
    assert!(a.logs_in("bob", "pw-bob") && a.logs_in("alice", "pw-alice"));
    a.user("carol");
    assert!(b.logs_in("carol", "pw-carol"));
}

#[test]
fn one_address_gets_450_after_its_burst_of_registrations() {
    let s = fixture!();
    let mut c = s.connect();
    // Requests refused for their arguments or a taken name cost nothing.
    c.ok("register u0 pw", "201");
    for _ in 0..40 {
        c.ok("register u0 pw", "550");
        c.ok("register .bad pw", "501");
    }
    // The default burst is 30 accounts, refilled at one a second: on a
    // slow machine a few more may pass, never more than the refill allows.
    let started = Instant::now();
    let mut made = 1;
    let refused = loop {
        let reply = c.cmd(&format!("register u{made} pw"));
        if !reply.starts_with("201") || made > 1000 {
            break reply;
        }
        made += 1;
    };
    assert_eq!(refused, "450 too many registrations, try later");
    let refills = started.elapsed().as_secs() as usize + 1;
    assert!((30..=30 + refills).contains(&made), "{made} accounts before the first 450");
    // Another connection from the same address is no way around it, and
    // the refused connections stay usable.
    let mut d = s.connect();
    let last = made - 1;
    let reply = d.cmd("register late pw");
    assert!(reply.starts_with("450") || started.elapsed().as_secs() >= 1, "{reply}");
    d.ok(&format!("login u{last} pw"), "230");
    s.wait_log("action=register path=\"u0\" outcome=201", 1);
}

#[test]
fn the_bucket_refills_at_one_registration_a_second() {
    let s = fixture!(&["--register-burst", "2"]);
    let mut c = s.connect();
    c.ok("register a pw", "201");
    c.ok("register b pw", "201");
    let emptied = Instant::now();
    c.ok("register c pw", "450");
    wait_until(EVENT_WAIT, "a registration to be allowed again", || c.cmd("register c pw").starts_with("201"));
    assert!(emptied.elapsed() >= Duration::from_millis(500), "refilled after {:?}", emptied.elapsed());
    c.ok("register d pw", "450");
}

#[test]
fn leftover_temporary_users_files_go_at_start_up_and_in_the_sweeper() {
    let dir = test_dir!();
    let data = dir.data();
    fs::create_dir_all(&data).unwrap();
    fs::write(data.join("users.tmp.0123456789abcdef"), "alice:md5$1$00$00\n").unwrap();
    let s = common::Server::start(&data, &["--partial-ttl", "2"]);
    assert!(!data.join("users.tmp.0123456789abcdef").exists(), "left at start-up");
    s.user("alice");
    fs::write(data.join("users.tmp.fedcba9876543210"), "x").unwrap();
    wait_until(EVENT_WAIT, "the sweeper to remove users.tmp.*", || !data.join("users.tmp.fedcba9876543210").exists());
    assert!(data.join("users").exists());
    assert!(s.logs_in("alice", "pw-alice"));
}

#[test]
fn logins_go_on_while_another_process_holds_the_writers_lock() {
    let s = fixture!();
    let data = s.data.clone();
    s.user("alice");
    // Another process (this test) is in the middle of a write.
    let lock = OpenOptions::new().write(true).open(data.join("users.lock")).unwrap();
    lock.lock().unwrap();
    let addr = s.addr.clone();
    let writer = std::thread::spawn(move || common::Raw::connect(&addr).cmd("register bob pw-bob"));
    assert!(s.logs_in("alice", "pw-alice"), "a login waited for the writers' lock");
    lock.unlock().unwrap();
    assert!(writer.join().unwrap().starts_with("201"));
    assert!(s.logs_in("bob", "pw-bob"));
}
