//! `claim` (instant upload with proof of possession), through real sockets.

mod common;

use std::fs;
use std::path::PathBuf;
use std::time::Instant;

use common::{Raw, Server, bytes, fixture, md5_hex, proof, test_dir};

fn home(server: &Server, user: &str) -> PathBuf {
    server.data.join("home").join(user)
}

/// `claim PATH` of `data`, answering the challenge from `answer_from`;
/// returns the final reply.
fn claim(c: &mut Raw, path: &str, data: &[u8], answer_from: &[u8]) -> String {
    let head = c.cmd(&format!("claim {path} {} {}", data.len(), md5_hex(data)));
    if !head.starts_with("350 ") {
        return head;
    }
    let answer = proof(&head, answer_from);
    c.cmd(&answer)
}

#[test]
fn held_content_is_claimed_by_its_owner_and_by_another_user() {
    let server = fixture!();
    let data = bytes(300_000, 1);
    let mut alice = server.user("alice");
    assert!(alice.upload("a.bin", &data).starts_with("226 "));
    let want = format!("226 {} {}", data.len(), md5_hex(&data));
    assert_eq!(claim(&mut alice, "again.bin", &data, &data), want, "{}", alice.transcript);
    let mut bob = server.user("bob");
    assert_eq!(claim(&mut bob, "mine.bin", &data, &data), want, "{}", bob.transcript);
    assert_eq!(bob.download("mine.bin"), data);
    assert_eq!(alice.download("again.bin"), data);
    // A claim replaces a file like an upload: the old one goes to the trash.
    bob.upload("other.bin", b"old content");
    assert_eq!(claim(&mut bob, "other.bin", &data, &data), want);
    assert_eq!(bob.download("other.bin"), data);
    let head = bob.ok("trash", "212 1");
    assert!(bob.lines_after(&head)[0].ends_with(" /other.bin"));
}

#[test]
fn a_wrong_proof_creates_nothing_and_is_slowed_down() {
    let server = fixture!(&["--max-login-failures", "10"]);
    let data = bytes(100_000, 2);
    let mut alice = server.user("alice");
    alice.upload("a.bin", &data);
    let mut bob = server.user("bob");
    let head = bob.ok(&format!("claim x.bin {} {}", data.len(), md5_hex(&data)), "350 ");
    assert_eq!(bob.cmd(&"0".repeat(32)), "554 proof does not match", "{head}");
    assert!(bob.cmd("not even hex").starts_with("500 "), "a new request after the 554");
    let started = Instant::now();
    bob.ok(&format!("claim x.bin {} {}", data.len(), md5_hex(&data)), "350 ");
    assert_eq!(bob.cmd(&"F".repeat(32)), "554 proof does not match");
    assert!(started.elapsed().as_millis() >= 200, "the back-off applies to wrong proofs (the second failure)");
    assert!(bob.ls("").is_empty(), "nothing created");
    assert!(fs::read_dir(home(&server, "bob")).unwrap().next().is_none());
    bob.ok("pwd", "257 ");
}

/// Issue 19 #8: after a `350`, a line that is not 32 hex digits is a
/// failed proof, `554` then `421`; what follows (here an upload's
/// payload of commands) is never run.
#[test]
fn a_line_that_is_not_a_proof_closes_the_connection() {
    let server = fixture!();
    let data = bytes(100_000, 12);
    let mut alice = server.user("alice");
    alice.upload("a.bin", &data);
    alice.upload("keep.txt", b"keep me");
    let payload = "rm /keep.txt\r\npurge all\r\n";
    let upload = format!("upload y.txt {} {}", payload.len(), md5_hex(payload.as_bytes()));
    let pipelined = format!("claim x.bin {} {}\r\n{upload}\r\n{payload}", data.len(), md5_hex(&data));
    alice.send(pipelined.as_bytes());
    assert!(alice.line().starts_with("350 "), "{}", alice.transcript);
    assert_eq!(alice.line(), "554 proof does not match", "{}", alice.transcript);
    assert!(alice.line().starts_with("421 "), "{}", alice.transcript);
    assert!(alice.closed(), "{}", alice.transcript);
    let mut again = server.user("alice");
    assert_eq!(again.ls(""), ["a.bin", "keep.txt"], "the payload's lines never ran");
    assert!(again.ok("trash", "212 ").ends_with(" 0"));
}

/// Issue 19 #10: files up to 1 MiB are proven whole; a larger one by a
/// range at each end and others at random.
#[test]
fn challenges_cover_small_files_whole_and_the_ends_of_large_ones() {
    let server = fixture!(&["--max-login-failures", "100"]);
    let small = bytes(64 * 1024, 13);
    let large = bytes((1 << 20) + 4097, 14);
    let mut alice = server.user("alice");
    alice.upload("small.bin", &small);
    alice.upload("large.bin", &large);
    for _ in 0..3 {
        let head = alice.ok(&format!("claim s {} {}", small.len(), md5_hex(&small)), "350 ");
        assert_eq!(head.split(' ').nth(2), Some(format!("0:{}", small.len()).as_str()), "{head}");
        alice.ok(&proof(&head, &small), "226 ");
    }
    for _ in 0..10 {
        let head = alice.ok(&format!("claim l {} {}", large.len(), md5_hex(&large)), "350 ");
        let ranges: Vec<(usize, usize)> = head
            .split(' ')
            .nth(2)
            .unwrap()
            .split(',')
            .map(|r| {
                let (o, l) = r.split_once(':').unwrap();
                (o.parse().unwrap(), l.parse().unwrap())
            })
            .collect();
        assert!(ranges.len() >= 2 && ranges[0].0 == 0, "{head}");
        assert!(ranges.iter().any(|(o, l)| o + l == large.len()), "{head}");
        alice.ok(&proof(&head, &large), "226 ");
    }
}

/// Issue 19 #10: a connection closed after the `350` costs what a wrong
/// proof costs, so challenges cannot be re-rolled for free.
#[test]
fn an_abandoned_challenge_counts_as_a_failed_proof() {
    let server = fixture!();
    let data = bytes(50_000, 15);
    server.user("alice").upload("a.bin", &data);
    for n in 1..=3 {
        let mut bob = server.user("bob");
        bob.ok(&format!("claim x.bin {} {}", data.len(), md5_hex(&data)), "350 ");
        drop(bob);
        server.wait_log("no proof", n);
    }
    let started = Instant::now();
    assert!(server.connect().cmd("login bob wrong").starts_with("530 "));
    let waited = started.elapsed().as_millis();
    assert!(waited >= 800, "the fourth failure from this address waits 800 ms, waited {waited} ms");
}

#[test]
fn content_not_held_keeps_the_session() {
    let server = fixture!();
    let mut c = server.user("alice");
    assert_eq!(c.cmd(&format!("claim x 5 {}", md5_hex(b"12345"))), "550 not held");
    c.ok("pwd", "257 \"/\"");
    // Empty content is always held; another digest of size 0 never.
    assert_eq!(c.cmd(&format!("claim e 0 {}", md5_hex(b""))), format!("226 0 {}", md5_hex(b"")));
    assert_eq!(c.download("e"), b"");
    assert_eq!(c.cmd(&format!("claim e2 0 {}", md5_hex(b"x"))), "550 not held");
    // Checks in order: a directory at PATH, then the limits.
    c.ok("makedir d", "257");
    assert!(c.cmd(&format!("claim d 5 {}", md5_hex(b"12345"))).starts_with("550 "));
    assert!(c.cmd(&format!("claim big {} {}", 2u64 << 40, md5_hex(b"1"))).starts_with("552 "));
    c.ok("pwd", "257 ");
}

#[test]
fn the_quota_applies_whether_or_not_held() {
    let server = fixture!(&["--quota", "150000"]);
    let data = bytes(100_000, 3);
    let mut alice = server.user("alice");
    alice.upload("a.bin", &data);
    assert!(alice.cmd(&format!("claim b.bin {} {}", data.len(), md5_hex(&data))).starts_with("552 "));
    let mut bob = server.user("bob");
    assert!(claim(&mut bob, "b.bin", &data, &data).starts_with("226 "));
}

#[test]
fn dedup_user_finds_only_the_claimers_content_and_off_finds_nothing() {
    let server = fixture!(&["--dedup", "user"]);
    let data = bytes(50_000, 4);
    let mut alice = server.user("alice");
    alice.upload("a.bin", &data);
    let mut bob = server.user("bob");
    assert_eq!(bob.cmd(&format!("claim b.bin {} {}", data.len(), md5_hex(&data))), "550 not held");
    assert!(claim(&mut alice, "copy.bin", &data, &data).starts_with("226 "));
    drop(server);

    let server = fixture!(&["--dedup", "off"]);
    let mut alice = server.user("alice");
    alice.upload("a.bin", &data);
    assert_eq!(alice.cmd(&format!("claim c.bin {} {}", data.len(), md5_hex(&data))), "550 not held");
    assert_eq!(alice.cmd(&format!("claim e 0 {}", md5_hex(b""))), "550 not held");
}

/// Issue 19 #11: with `--dedup user`, only content the claimer holds now
/// (tree or trash) counts, so a claim tells nothing of other users.
#[test]
fn dedup_user_counts_only_what_the_claimer_holds_now() {
    let server = fixture!(&["--dedup", "user"]);
    let data = bytes(40_000, 16);
    let ask = format!("claim x.bin {} {}", data.len(), md5_hex(&data));
    let mut alice = server.user("alice");
    let mut bob = server.user("bob");
    alice.upload("a.bin", &data);
    bob.upload("b.bin", &data);
    alice.ok("rm a.bin", "250");
    assert!(claim(&mut alice, "x.bin", &data, &data).starts_with("226 "), "held in her trash: {}", alice.transcript);
    alice.ok("rm x.bin", "250");
    alice.ok("purge all", "250");
    assert_eq!(alice.cmd(&ask), "550 not held", "bob still holds it, alice does not");
    bob.ok("rm b.bin", "250");
    bob.ok("purge all", "250");
    assert_eq!(alice.cmd(&ask), "550 not held");
    assert_eq!(bob.cmd(&ask), "550 not held");
    bob.upload("again.bin", &data);
    assert!(claim(&mut bob, "x.bin", &data, &data).starts_with("226 "));
}

#[test]
fn a_proof_from_another_file_of_the_same_size_fails() {
    let server = fixture!();
    let held = bytes(64_000, 5);
    let mut other = bytes(64_000, 6);
    // Same size, same first and last bytes: only the sampled ranges differ.
    other[0] = held[0];
    let mut alice = server.user("alice");
    alice.upload("held.bin", &held);
    let mut bob = server.user("bob");
    assert_eq!(claim(&mut bob, "x.bin", &held, &other), "554 proof does not match");
    assert!(bob.ls("").is_empty());
}

#[test]
fn a_claim_racing_the_removal_of_the_only_copy_never_gets_a_broken_file() {
    let server = fixture!(&["--partial-ttl", "2", "--max-login-failures", "100"]);
    let mut alice = server.user("alice");
    let mut bob = server.user("bob");
    for round in 0..6 {
        let data = bytes(200_000, 100 + round);
        alice.upload("only.bin", &data);
        let remover = std::thread::spawn(move || {
            alice.ok("rm only.bin", "250");
            alice.ok("purge all", "250");
            alice
        });
        let target = format!("got{round}.bin");
        let reply = claim(&mut bob, &target, &data, &data);
        alice = remover.join().unwrap();
        if reply.starts_with("226 ") {
            assert_eq!(bob.download(&target), data, "round {round}");
        } else {
            assert_eq!(reply, "550 not held", "round {round}: {}", bob.transcript);
            assert!(!bob.ls("").contains(&target));
        }
    }
}

#[test]
fn store_entries_are_collected_once_every_holder_purged_them() {
    let server = fixture!(&["--partial-ttl", "2"]);
    let data = bytes(10_000, 7);
    let mut alice = server.user("alice");
    alice.upload("a.bin", &data);
    let mut bob = server.user("bob");
    assert!(claim(&mut bob, "b.bin", &data, &data).starts_with("226 "));
    let entry = server.data.join("store").join(format!("{}-{}", md5_hex(&data), data.len()));
    assert!(entry.is_file());
    for c in [&mut alice, &mut bob] {
        c.ok("rm a.bin", "");
        c.ok("rm b.bin", "");
        c.ok("purge all", "250");
    }
    server.wait_log("store: removed 1 unused entries", 1);
    assert!(!entry.exists());
    assert_eq!(bob.cmd(&format!("claim c.bin {} {}", data.len(), md5_hex(&data))), "550 not held");
}

#[test]
fn a_claim_works_from_another_server_process_on_the_same_data() {
    let tmp = test_dir!();
    let data_dir = tmp.data();
    let one = Server::start(&data_dir, &[]);
    let two = Server::start(&data_dir, &[]);
    let data = bytes(80_000, 8);
    one.user("alice").upload("a.bin", &data);
    let mut bob = two.user("bob");
    assert!(claim(&mut bob, "b.bin", &data, &data).starts_with("226 "), "{}", bob.transcript);
    assert_eq!(one.user("bob").download("b.bin"), data);
}

#[test]
fn a_server_killed_during_a_claim_leaves_no_target() {
    let tmp = test_dir!();
    let data_dir = tmp.data();
    let mut server = Server::start(&data_dir, &[]);
    let data = bytes(80_000, 9);
    server.user("alice").upload("a.bin", &data);
    let mut bob = server.user("bob");
    bob.ok(&format!("claim b.bin {} {}", data.len(), md5_hex(&data)), "350 ");
    server.kill();
    assert!(!data_dir.join("home/bob/b.bin").exists());
    let server = Server::start(&data_dir, &[]);
    let mut bob = server.user("bob");
    assert!(bob.ls("").is_empty());
    assert!(claim(&mut bob, "b.bin", &data, &data).starts_with("226 "));
    assert_eq!(bob.download("b.bin"), data);
}
