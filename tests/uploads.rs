//! Uploads under pressure: the quota against concurrent and cross-process
//! uploads, refused requests that must change nothing, rewinds that must
//! not re-read everything, and staged leftovers of a crash.

mod common;

use std::fs;

use common::{EVENT_WAIT, Raw, Server, bytes, files_under, fixture, md5_hex, staged_len, wait_until};

/// USED from `quota`.
fn used(c: &mut Raw) -> u64 {
    let reply = c.ok("quota", "213 ");
    reply.split(' ').nth(1).unwrap().parse().unwrap()
}

fn parts(data: &std::path::Path) -> Vec<String> {
    files_under(&data.join("staging")).into_iter().filter(|f| f.ends_with(".part")).collect()
}

#[test]
fn concurrent_uploads_cannot_pass_the_quota() {
    let s = fixture!(&["--quota", "1000000"]);
    let data = bytes(900_000, 1);
    let md5 = md5_hex(&data);
    let mut sessions: Vec<Raw> = (0..8).map(|_| s.user("qed")).collect();
    // Every request is on its way before any payload.
    for (i, c) in sessions.iter_mut().enumerate() {
        c.send(format!("upload f{i} 900000 {md5} 0\r\n").as_bytes());
    }
    let heads: Vec<String> = sessions.iter_mut().map(|c| c.line()).collect();
    let accepted: Vec<usize> = (0..8).filter(|i| heads[*i].starts_with("150")).collect();
    assert!(accepted.len() <= 1, "{heads:?}");
    for (i, c) in sessions.iter_mut().enumerate() {
        if accepted.contains(&i) {
            c.send(&data);
            assert_eq!(c.line(), format!("226 900000 {md5}"));
        } else {
            assert!(heads[i].starts_with("552"), "{}", c.transcript);
            assert!(c.closed(), "a refused upload closes");
        }
    }
    let mut c = s.user("qed");
    assert!(used(&mut c) <= 1_000_000, "{}", c.transcript);
    assert_eq!(parts(&s.data), Vec::<String>::new(), "refused uploads leave no staged file");
}

#[test]
fn moving_the_replaced_file_away_makes_no_room() {
    let s = fixture!(&["--quota", "1000000"]);
    let mut c = s.user("mo");
    assert!(c.upload("f", &bytes(600_000, 2)).starts_with("226"));
    let data = bytes(600_000, 3);
    let mut up = s.user("mo");
    let head = up.cmd(&format!("upload f 600000 {}", md5_hex(&data)));
    // The file an upload replaces counts until the upload ends; were it
    // not counted, moving it away would make room for both.
    if head.starts_with("150") {
        c.ok("mv f g", "250");
        up.send(&data);
        let _ = up.line();
    } else {
        assert!(head.starts_with("552"), "{}", up.transcript);
    }
    assert!(used(&mut c) <= 1_000_000, "{}", c.transcript);
}

#[test]
fn the_quota_is_checked_again_at_commit() {
    // Two processes do not share bookings: the second commit finds the
    // tree grown and is refused, its staged bytes dropped.
    let first = fixture!(&["--quota", "1000000"]);
    let servers = [&first.server, &first.another(&["--quota", "1000000"])];
    let (one, two) = (bytes(900_000, 4), bytes(900_000, 5));
    let mut a = servers[0].user("cat");
    let mut b = servers[1].user("cat");
    a.ok(&format!("upload f 900000 {}", md5_hex(&one)), "150 0 ");
    b.ok(&format!("upload g 900000 {}", md5_hex(&two)), "150 0 ");
    a.send(&one);
    assert!(a.line().starts_with("226"), "{}", a.transcript);
    b.send(&two);
    assert!(b.line().starts_with("552"), "{}", b.transcript);
    assert_eq!(used(&mut b), 900_000, "{}", b.transcript);
    assert_eq!(b.ls("/"), vec!["f"]);
}

#[test]
fn a_refused_from_changes_nothing() {
    let s = fixture!();
    let data = bytes(1000, 6);
    let mut c = s.user("fay");
    c.ok("upload f 1000 -", "150 0 ");
    c.send(&data[..500]);
    drop(c);
    s.wait_log("outcome=interrupted", 1);
    // Another size (nothing held for it), then more than is held.
    for request in ["upload f 2000 - 5", "upload f 1000 - 600"] {
        let mut c = s.user("fay");
        assert!(c.cmd(request).starts_with("501"), "{}", c.transcript);
        assert!(c.closed());
        assert_eq!(staged_len(&s.data), 500, "after {request}");
    }
    let mut c = s.user("fay");
    c.ok("upload f 1000 -", &format!("150 500 {}", md5_hex(&data[..500])));
    c.send(&data[500..]);
    c.send(format!("{}\n", md5_hex(&data)).as_bytes());
    assert_eq!(c.line(), format!("226 1000 {}", md5_hex(&data)));
    assert_eq!(c.download("f"), data);
}

/// Bytes re-read by the last upload of `/big`, from its log line.
fn rehashed(s: &Server) -> u64 {
    let log = s.log_text();
    let line = log.lines().rfind(|l| l.contains("action=upload path=\"/big\"")).unwrap();
    let field = line.split(' ').find_map(|w| w.strip_prefix("rehashed="));
    field.unwrap_or_else(|| panic!("no rehashed= in {line:?}")).parse().unwrap()
}

/// Asks for `upload big SIZE - from`, checks the offered prefix, and hangs
/// up without sending.
fn rewind_to(s: &Server, data: &[u8], from: usize, nth: usize) {
    let mut c = s.user("rex");
    c.ok(&format!("upload big {} - {from}", 200 << 20), &format!("150 {from} {}", md5_hex(&data[..from])));
    drop(c);
    s.wait_log("outcome=interrupted", nth);
}

#[test]
fn a_rewind_reads_again_only_from_the_nearest_mark() {
    const MIB: usize = 1 << 20;
    let s = fixture!();
    let data = bytes(150 * MIB, 7);
    let mut c = s.user("rex");
    c.ok(&format!("upload big {} -", 200 << 20), "150 0 ");
    c.send(&data);
    drop(c);
    s.wait_log("outcome=interrupted", 1);
    // 150 MiB held: without marks, each of these would re-read ~100 MiB.
    rewind_to(&s, &data, 150 * MIB - 1000, 2);
    assert!(rehashed(&s) < 64 * MIB as u64, "{}", rehashed(&s));
    rewind_to(&s, &data, 100 * MIB, 3);
    assert!(rehashed(&s) < 64 * MIB as u64, "{}", rehashed(&s));
    // What is held now is where the last attempt stopped: nothing to re-read.
    let mut c = s.user("rex");
    c.ok(&format!("upload big {} -", 200 << 20), &format!("150 {} ", 100 * MIB));
}

#[test]
fn a_small_upload_cut_by_a_crash_is_swept_at_start() {
    let data = bytes(100_000, 8);
    let mut s = fixture!();
    let data_dir = s.data.clone();
    let mut c = s.user("ora");
    c.ok(&format!("upload f 100000 {}", md5_hex(&data)), "150 0 ");
    c.send(&data[..50_000]);
    wait_until(EVENT_WAIT, "the bytes to be staged", || staged_len(&data_dir) == 50_000);
    s.kill();
    drop(c);
    assert_eq!(parts(&data_dir).len(), 1, "a staged file without a record");
    s.restart(&[]);
    wait_until(EVENT_WAIT, "the leftover to go", || parts(&data_dir).is_empty());
    let mut c = s.user("ora");
    assert_eq!(c.cmd("quota").rsplitn(3, ' ').nth(2).unwrap(), "213 0 -");
}

#[test]
fn the_sweeper_leaves_a_live_small_upload_alone() {
    let s = fixture!(&["--partial-ttl", "2"]);
    let data = bytes(100_000, 9);
    let mut c = s.user("liv");
    c.ok(&format!("upload f 100000 {}", md5_hex(&data)), "150 0 ");
    c.send(&data[..50_000]);
    wait_until(EVENT_WAIT, "the bytes to be staged", || staged_len(&s.data) == 50_000);
    // A leftover planted beside it: once it is gone, a sweep has passed.
    let planted = s.data.join("staging/liv/00000000000000000000000000000000.part");
    fs::write(&planted, b"leftover").unwrap();
    wait_until(EVENT_WAIT, "the planted leftover to go", || !planted.exists());
    assert_eq!(staged_len(&s.data), 50_000, "the live upload keeps its bytes");
    c.send(&data[50_000..]);
    assert_eq!(c.line(), format!("226 100000 {}", md5_hex(&data)));
}

#[test]
fn a_folder_removed_during_an_upload_gets_550_and_the_bytes_wait_for_a_retry() {
    let server = fixture!();
    let data = bytes(300_000, 7);
    let md5 = md5_hex(&data);
    let mut alice = server.user("alice");
    alice.ok("makedir up", "257");
    alice.ok(&format!("upload up/x.bin {} {md5}", data.len()), "150 0 ");
    alice.send(&data[..1000]);
    let mut other = server.user("alice");
    other.ok("rm up", "250");
    alice.send(&data[1000..]);
    assert!(alice.line().starts_with("550 "), "the folder is gone");
    assert!(used(&mut alice) >= data.len() as u64, "the verified bytes stay staged");
    // The folder again: the same upload resumes at its end and commits.
    alice.ok("makedir up", "257");
    alice.ok(&format!("upload up/x.bin {} {md5}", data.len()), &format!("150 {} {md5}", data.len()));
    assert_eq!(alice.line(), format!("226 {} {md5}", data.len()));
    assert_eq!(alice.download("up/x.bin"), data);
}
