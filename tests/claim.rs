//! `claim` (instant upload with proof of possession), through real sockets.

mod common;

use std::fs;
use std::path::PathBuf;
use std::time::Instant;

use common::{Raw, Server, bytes, fixture, md5_hex, test_dir};

fn home(server: &Server, user: &str) -> PathBuf {
    server.data.join("home").join(user)
}

/// The answer to a `350 NONCE RANGES` challenge, from the bytes `data`.
fn proof(challenge: &str, data: &[u8]) -> String {
    let mut words = challenge.split(' ').skip(1);
    let (nonce, ranges) = (words.next().unwrap(), words.next().unwrap());
    let mut input = nonce.as_bytes().to_vec();
    for range in ranges.split(',') {
        let (offset, len) = range.split_once(':').unwrap();
        let (offset, len): (usize, usize) = (offset.parse().unwrap(), len.parse().unwrap());
        input.extend_from_slice(&data[offset..offset + len]);
    }
    md5_hex(&input)
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
    assert_eq!(bob.cmd("garbage"), "554 proof does not match");
    assert!(started.elapsed().as_millis() >= 100, "the back-off applies to wrong proofs");
    assert!(bob.ls("").is_empty(), "nothing created");
    assert!(fs::read_dir(home(&server, "bob")).unwrap().next().is_none());
    bob.ok("pwd", "257 ");
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
