//! `share`, `shares`, `unshare`, `peek` and `save`, through real sockets.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::Instant;

use common::{Raw, Server, bytes, files_under, fixture, md5_hex, test_dir};

fn home(server: &Server, user: &str) -> PathBuf {
    server.data.join("home").join(user)
}

/// `share ARGS`: the code of the `200 CODE` reply.
fn share(c: &mut Raw, args: &str) -> String {
    let reply = c.ok(&format!("share {args}"), "200 ");
    let code = reply[4..].to_string();
    assert!(code.len() == 16 && code.bytes().all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)), "{code}");
    code
}

fn listing(c: &mut Raw, line: &str) -> Vec<String> {
    let head = c.ok(line, "212 ");
    c.lines_after(&head)
}

#[test]
fn a_shared_file_is_peeked_and_saved_by_another_user() {
    let server = fixture!();
    let data = bytes(20_000, 1);
    let mut alice = server.user("alice");
    alice.upload("report.pdf", &data);
    let code = share(&mut alice, "report.pdf 7");
    let mut bob = server.user("bob");
    let peeked = listing(&mut bob, &format!("peek {code}"));
    assert_eq!(peeked.len(), 1);
    assert!(
        peeked[0].starts_with(&format!("f {} ", data.len()))
            && peeked[0].ends_with(&format!("{} report.pdf", md5_hex(&data)))
    );
    assert_eq!(bob.cmd(&format!("save {code}")), "257 \"/report.pdf\"");
    assert_eq!(bob.download("report.pdf"), data);
    // A code in capitals is the same code, not a wrong guess.
    assert_eq!(listing(&mut bob, &format!("peek {}", code.to_uppercase())), peeked);
    // Protocol 2.1: the copy is the saver's own, with its own time.
    let (a, b) = (home(&server, "alice").join("report.pdf"), home(&server, "bob").join("report.pdf"));
    assert_ne!(fs::metadata(a).unwrap().ino(), fs::metadata(b).unwrap().ino(), "bob's own inode");
    // Never replaces: not a file, not a directory.
    assert!(bob.cmd(&format!("save {code}")).starts_with("550 "));
    bob.ok("makedir d", "257");
    assert!(bob.cmd(&format!("save {code} d")).starts_with("550 "));
    assert_eq!(bob.cmd(&format!("save {code} d/copy.pdf")), "257 \"/d/copy.pdf\"");
    // The code is never logged.
    assert!(!server.log_text().contains(&code), "{}", server.log_text());
}

#[test]
fn a_folder_of_a_thousand_files_is_saved_whole() {
    let server = fixture!();
    let mut alice = server.user("alice");
    alice.ok("makedir docs", "257");
    let docs = home(&server, "alice").join("docs");
    for d in 0..10 {
        fs::create_dir(docs.join(format!("d{d}"))).unwrap();
        for f in 0..100 {
            fs::write(docs.join(format!("d{d}/f{f:03}")), format!("file {d} {f}")).unwrap();
        }
    }
    let code = share(&mut alice, "docs");
    let mut bob = server.user("bob");
    assert_eq!(listing(&mut bob, &format!("peek {code}")).len(), 1010);
    bob.ok("makedir in", "257");
    bob.ok("cd in", "250");
    assert_eq!(bob.cmd(&format!("save {code}")), "257 \"/in/docs\"");
    let saved = home(&server, "bob").join("in/docs");
    assert_eq!(files_under(&saved), files_under(&docs));
    for name in files_under(&docs) {
        let (a, b) = (fs::metadata(docs.join(&name)).unwrap(), fs::metadata(saved.join(&name)).unwrap());
        assert_ne!(a.ino(), b.ino(), "{name}: the saver's own inode, with its own time (protocol 2.1)");
        assert_eq!(a.len(), b.len());
    }
    assert_eq!(bob.download("/in/docs/d3/f042"), b"file 3 42");
    assert!(bob.cmd(&format!("save {code} /in/docs")).starts_with("550 "));
}

#[test]
fn shares_lists_unshare_removes_and_expired_shares_are_gone() {
    let server = fixture!(&["--partial-ttl", "2", "--max-login-failures", "10"]);
    let mut alice = server.user("alice");
    alice.upload("a", b"a");
    alice.ok("makedir d", "257");
    let first = share(&mut alice, "a");
    let second = share(&mut alice, "d 30");
    assert!(alice.cmd("share /").starts_with("550 "));
    assert!(alice.cmd("share missing").starts_with("550 "));
    assert!(alice.cmd("share a 0").starts_with("501 "));
    let lines = listing(&mut alice, "shares");
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0], format!("{first} - f /a"));
    assert!(lines[1].starts_with(&format!("{second} 20")) && lines[1].ends_with("Z d /d"), "{}", lines[1]);
    let mut bob = server.user("bob");
    assert_eq!(listing(&mut bob, "shares").len(), 0);
    assert!(bob.cmd(&format!("unshare {first}")).starts_with("550 "), "not one of bob's");
    alice.ok(&format!("unshare {first}"), "250");
    assert!(alice.cmd(&format!("unshare {first}")).starts_with("550 "));
    assert!(bob.cmd(&format!("peek {first}")).starts_with("550 "));
    // Expiry: the record says it ended a second ago.
    let record = server.data.join("shares/alice").join(&second);
    let text = fs::read_to_string(&record).unwrap();
    let past = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() - 1;
    let text: Vec<String> =
        text.lines().map(|l| if l.starts_with("expires ") { format!("expires {past}") } else { l.into() }).collect();
    fs::write(&record, text.join("\n") + "\n").unwrap();
    assert!(bob.cmd(&format!("peek {second}")).starts_with("550 "));
    assert!(bob.cmd(&format!("save {second}")).starts_with("550 "));
    assert_eq!(listing(&mut alice, "shares").len(), 0);
    assert!(alice.cmd(&format!("unshare {second}")).starts_with("550 "));
    server.wait_log("shares: removed 1 expired", 1);
    assert!(!record.exists());
}

#[test]
fn a_shared_path_that_is_gone_answers_550_and_saves_count_in_the_quota() {
    let server = fixture!(&["--quota", "30000"]);
    let data = bytes(20_000, 2);
    let mut alice = server.user("alice");
    alice.upload("f", &data);
    let code = share(&mut alice, "f");
    let mut bob = server.user("bob");
    bob.upload("mine", &bytes(15_000, 3));
    assert!(bob.cmd(&format!("save {code}")).starts_with("552 "));
    assert!(bob.ls("").len() == 1);
    alice.ok("rm f", "250");
    assert!(bob.cmd(&format!("peek {code}")).starts_with("550 "));
}

#[test]
fn guessing_codes_is_slowed_by_the_back_off() {
    // Four guesses at once, each on its own connection: they wait their
    // address's turn, so the last is answered after 100 + 200 + 400 +
    // 800 ms, as on one connection (protocol 2.1).
    let server = fixture!();
    server.user("bob");
    let conns: Vec<Raw> = (0..4).map(|_| server.user("bob")).collect();
    let started = Instant::now();
    let guessers: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(i, mut c)| {
            std::thread::spawn(move || {
                let verb = if i % 2 == 0 { "peek" } else { "save" };
                let reply = c.cmd(&format!("{verb} {}", "abcdefgh".repeat(2)));
                assert!(reply.starts_with("550 "), "{}", c.transcript);
            })
        })
        .collect();
    guessers.into_iter().for_each(|g| g.join().unwrap());
    let took = started.elapsed().as_millis();
    assert!(took >= 1_500, "{took} ms");
    assert_eq!(server.log_text().matches(" action=peek outcome=550").count(), 2);
}

#[test]
fn shares_work_across_two_server_processes_and_restarts() {
    let tmp = test_dir!();
    let data_dir = tmp.data();
    let one = Server::start(&data_dir, &[]);
    let mut two = Server::start(&data_dir, &[]);
    let mut alice = one.user("alice");
    alice.ok("makedir pics", "257");
    alice.upload("pics/p1", b"picture one");
    let code = share(&mut alice, "pics");
    let mut bob = two.user("bob");
    let peeked = listing(&mut bob, &format!("peek {code}"));
    assert!(peeked.len() == 1 && peeked[0].ends_with(&format!("{} p1", md5_hex(b"picture one"))), "{peeked:?}");
    assert_eq!(bob.cmd(&format!("save {code} saved")), "257 \"/saved\"");
    assert_eq!(bob.download("saved/p1"), b"picture one");
    two.kill();
    let three = Server::start(&data_dir, &[]);
    let mut carol = three.user("carol");
    assert_eq!(carol.cmd(&format!("save {code}")), "257 \"/pics\"");
    assert_eq!(listing(&mut three.user("alice"), "shares").len(), 1);
}

#[test]
fn a_server_killed_during_a_save_leaves_the_target_absent_or_complete() {
    let tmp = test_dir!();
    let data_dir = tmp.data();
    let mut server = Server::start(&data_dir, &[]);
    let mut alice = server.user("alice");
    alice.ok("makedir docs", "257");
    let docs = home(&server, "alice").join("docs");
    for f in 0..2000 {
        fs::write(docs.join(format!("f{f:04}")), format!("file {f}")).unwrap();
    }
    let code = share(&mut alice, "docs");
    let mut bob = server.user("bob");
    bob.send(format!("save {code}\r\n").as_bytes());
    server.wait_log("action=login", 2);
    server.kill();
    let saved = data_dir.join("home/bob/docs");
    if saved.exists() {
        assert_eq!(files_under(&saved), files_under(&docs), "complete");
    }
    let server = Server::start(&data_dir, &[]);
    let mut bob = server.user("bob");
    if !saved.exists() {
        assert_eq!(bob.cmd(&format!("save {code}")), "257 \"/docs\"");
    }
    assert_eq!(bob.download("docs/f1234"), b"file 1234");
}

#[test]
fn deleting_an_account_removes_its_shares() {
    let server = fixture!();
    let mut alice = server.user("alice");
    alice.upload("f", b"x");
    let code = share(&mut alice, "f");
    drop(alice);
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_netdisk"))
        .args(["user", "del", "alice", "--data"])
        .arg(&server.data)
        .status()
        .unwrap();
    assert!(status.success());
    let mut alice = server.user("alice");
    alice.upload("f", b"x");
    let mut bob = server.user("bob");
    assert!(bob.cmd(&format!("peek {code}")).starts_with("550 "), "an old code never reaches a new account");
    assert!(!server.data.join("shares/alice").join(&code).exists());
}
