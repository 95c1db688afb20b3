//! Pipelined uploads committed as a group, through real sockets: fewer
//! directory syncs than files, the replies in order, later commands seeing
//! the committed state, and `kill -9` at varied moments losing nothing
//! acknowledged and showing nothing half-done.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Command;

use common::{Raw, Server, bytes, files_under, fixture, md5_hex, netdisk, quote, test_dir};
use netdisk::client::Options;

/// The wire form of pipelined uploads (header with MD5 and FROM 0, then
/// the payload), as the client library sends a group.
fn pipelined(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut wire = Vec::new();
    for (path, data) in files {
        let line = format!("upload {} {} {} 0\r\n", quote(path), data.len(), md5_hex(data));
        wire.extend_from_slice(line.as_bytes());
        wire.extend_from_slice(data);
    }
    wire
}

/// Reads the `150` and final reply of each of `n` uploads; returns the
/// final replies.
fn upload_replies(c: &mut Raw, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let head = c.line();
            assert!(head.starts_with("150 0 "), "wanted 150, got {head:?}\n{}", c.transcript);
            c.line()
        })
        .collect()
}

/// The `files=` and `dirs=` of every commit line in the log.
fn commits(log: &str) -> Vec<(usize, usize)> {
    let field = |line: &str, key: &str| -> usize {
        let at = line.find(key).unwrap_or_else(|| panic!("no {key} in {line}"));
        line[at + key.len()..].split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
    };
    log.lines().filter(|l| l.contains("action=commit")).map(|l| (field(l, "files="), field(l, "dirs="))).collect()
}

#[test]
fn a_pipelined_run_into_one_folder_syncs_the_folder_far_fewer_times_than_files() {
    let server = fixture!();
    let mut c = server.user("ann");
    c.ok("mkdir d", "257");
    let files: Vec<_> = (0..100).map(|i| (format!("d/f{i}"), bytes(1000 + i * 37, i as u64))).collect();
    c.send(&pipelined(&files));
    let replies = upload_replies(&mut c, files.len());
    for ((path, data), reply) in files.iter().zip(&replies) {
        assert_eq!(reply, &format!("226 {} {}", data.len(), md5_hex(data)), "{path}\n{}", c.transcript);
    }
    // Logged before the replies were sent.
    let groups = commits(&server.log_text());
    let (files_done, dirs): (usize, usize) = groups.iter().fold((0, 0), |(f, d), (gf, gd)| (f + gf, d + gd));
    assert_eq!(files_done, 100, "every file in a commit line: {groups:?}");
    assert!(dirs <= 10, "100 files into one folder took {dirs} directory syncs: {groups:?}");
    for (path, data) in &files {
        assert_eq!(c.download(path), *data, "{path}");
    }
}

#[test]
fn a_mirror_of_small_files_sent_in_one_write_is_committed_as_one_group_and_keeps_their_times() {
    let server = fixture!();
    let tree = server.dir().join("tree");
    fs::create_dir_all(&tree).unwrap();
    // Small enough for the client's one write to reach the server whole:
    // the grouping then depends on no scheduling.
    let old = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000);
    for i in 0..10u64 {
        let file = fs::File::create(tree.join(format!("f{i}"))).unwrap();
        (&file).write_all(&bytes(200 + i as usize, i)).unwrap();
        file.set_modified(old + std::time::Duration::from_secs(i)).unwrap();
    }
    let mut c = server.client("ann");
    let report = c.mirror(tree.to_str().unwrap(), "/m", true, Options::default(), &mut |_| true).unwrap();
    assert_eq!((report.transferred, report.failures.len()), (10, 0), "{report:?}");
    // Each upload is followed by a `touch` of it: held behind the group,
    // not a reason to commit it alone.
    let groups = commits(&server.log_text());
    assert_eq!(groups, vec![(10, 1)], "one group of 10 files into one folder");
    for i in 0..10u64 {
        assert_eq!(c.stat(&format!("/m/f{i}")).unwrap().mtime, 1_600_000_000 + i, "f{i}");
    }
}

#[test]
fn a_touch_held_behind_a_group_answers_in_its_turn() {
    let server = fixture!();
    let mut c = server.user("cy");
    let (one, two) = (bytes(300, 1), bytes(400, 2));
    let mut wire = pipelined(&[("a".into(), one.clone())]);
    wire.extend_from_slice(b"touch a 2001-02-03T04:05:06Z\r\n");
    wire.extend_from_slice(&pipelined(&[("b".into(), two.clone())]));
    wire.extend_from_slice(b"touch b 2002-02-03T04:05:06Z\r\ntouch nowhere 2001-02-03T04:05:06Z\r\nstat a\r\n");
    c.send(&wire);
    assert_eq!(upload_replies(&mut c, 1), vec![format!("226 300 {}", md5_hex(&one))], "{}", c.transcript);
    assert_eq!(c.line(), "250 \"/a\"", "{}", c.transcript);
    assert_eq!(upload_replies(&mut c, 1), vec![format!("226 400 {}", md5_hex(&two))], "{}", c.transcript);
    assert_eq!(c.line(), "250 \"/b\"", "{}", c.transcript);
    assert!(c.line().starts_with("550 "), "{}", c.transcript);
    let stat = c.line();
    assert!(stat.contains("2001-02-03T04:05:06Z"), "{stat}\n{}", c.transcript);
    // Both uploads in one group; the touch of a file not waiting
    // commits it (and the touches held) before it is done.
    assert_eq!(commits(&server.log_text()), vec![(2, 1)]);
}

#[test]
fn commands_pipelined_after_uploads_see_them_committed_and_in_order() {
    let server = fixture!();
    let mut c = server.user("bob");
    let (one, two, three) = (bytes(3000, 1), bytes(4000, 2), bytes(5000, 3));
    // The same path twice in one run, a move, then a download of the moved file.
    let mut wire = pipelined(&[("a".into(), one.clone()), ("a".into(), two.clone()), ("c".into(), three.clone())]);
    wire.extend_from_slice(b"mv a b\r\ndownload b\r\nstat c\r\n");
    c.send(&wire);
    let replies = upload_replies(&mut c, 3);
    assert!(replies.iter().all(|r| r.starts_with("226 ")), "{replies:?}\n{}", c.transcript);
    assert!(c.line().starts_with("250 "), "mv\n{}", c.transcript);
    let head = c.line();
    assert!(head.starts_with(&format!("150 {} {} ", two.len(), md5_hex(&two))), "download b\n{}", c.transcript);
    assert_eq!(c.bytes(two.len()), two);
    assert_eq!(c.line(), "226 transfer complete");
    assert!(c.line().starts_with("213 "), "stat c\n{}", c.transcript);
    // The first content of `a` went to the trash when the second replaced it.
    let head = c.ok("trash", "212 1");
    let lines = c.lines_after(&head);
    assert!(lines[0].ends_with(" /a") && lines[0].contains(&format!(" {} ", one.len())), "{lines:?}");
}

#[test]
fn a_client_waiting_for_the_150_gets_it_and_a_refusal_comes_after_the_held_replies() {
    let server = fixture!();
    let mut c = server.user("cy");
    let first = bytes(2000, 4);
    let mut wire = pipelined(&[("x".into(), first.clone())]);
    let second = bytes(100, 5);
    wire.extend_from_slice(format!("upload y {} {}\r\n", second.len(), md5_hex(&second)).as_bytes());
    c.send(&wire);
    // Nothing of y's payload is sent before its 150.
    let replies = upload_replies(&mut c, 1);
    assert!(replies[0].starts_with("226 "), "{}", c.transcript);
    assert_eq!(c.line(), format!("150 0 {}", md5_hex(b"")));
    let mut rest = second.clone();
    rest.extend_from_slice(&pipelined(&[("z".into(), bytes(10, 6))]));
    rest.extend_from_slice(b"upload w notasize\r\n");
    c.send(&rest);
    assert!(c.line().starts_with("226 "), "y\n{}", c.transcript);
    let replies = upload_replies(&mut c, 1);
    assert!(replies[0].starts_with("226 "), "z\n{}", c.transcript);
    assert!(c.line().starts_with("501"), "the refusal comes last\n{}", c.transcript);
    assert!(c.closed());
    let mut again = server.user("cy");
    assert_eq!(again.download("z"), bytes(10, 6));
    assert_eq!(again.download("x"), first);
}

/// One file of the kill test: its new content, what it replaces, and
/// whether its `226` came before the kill.
struct Case {
    path: String,
    new: Vec<u8>,
    old: Option<Vec<u8>>,
    acked: bool,
}

/// One round of the kill test: old contents for the even files, then a
/// pipelined run replacing them and adding the odd ones, the server killed
/// after the `k`-th `226`.
fn killed_run(server: &mut common::Fixture, round: u64, k: usize) -> Vec<Case> {
    let mut c = server.user("dee");
    c.ok(&format!("mkdir r{round}"), "257");
    let old: Vec<_> =
        (0..40).step_by(2).map(|i| (format!("r{round}/f{i}"), bytes(700 + i * 300, round * 1000 + i as u64))).collect();
    c.send(&pipelined(&old));
    assert!(upload_replies(&mut c, old.len()).iter().all(|r| r.starts_with("226 ")), "{}", c.transcript);
    let new: Vec<_> =
        (0..40).map(|i| (format!("r{round}/f{i}"), bytes(500 + i * 900, round * 1000 + 500 + i as u64))).collect();
    let wire = pipelined(&new);
    let mut stream = c.stream.try_clone().unwrap();
    // Written from a thread: the server dies while it is being written.
    let writer = std::thread::spawn(move || _ = stream.write_all(&wire));
    let mut acked = 0;
    while acked < k.min(new.len()) && c.line().starts_with("150 ") && c.line().starts_with("226 ") {
        acked += 1;
    }
    server.server.kill();
    let _ = writer.join();
    let olds: BTreeMap<_, _> = old.into_iter().collect();
    let cases = new.into_iter().enumerate();
    cases.map(|(i, (path, new))| Case { old: olds.get(&path).cloned(), path, new, acked: i < acked }).collect()
}

/// MD5s of every item in the user's trash.
fn trash_md5s(data: &Path, user: &str) -> Vec<String> {
    let trash = data.join("trash").join(user);
    let items = files_under(&trash).into_iter().filter(|f| f.ends_with("/item"));
    items.map(|f| md5_hex(&fs::read(trash.join(f)).unwrap())).collect()
}

#[test]
fn kill_9_at_varied_moments_loses_nothing_acknowledged_and_shows_nothing_half_done() {
    let mut server = fixture!();
    for (round, k) in [0, 1, 3, 8, 17, 30, 40].into_iter().enumerate() {
        let cases = killed_run(&mut server, round as u64, k);
        server.restart(&[]);
        let data = server.dir.data();
        let home = data.join("home").join("dee");
        let kept = trash_md5s(&data, "dee");
        for case in &cases {
            let now = fs::read(home.join(&case.path)).ok();
            let shown = |b: &Option<Vec<u8>>| b.as_ref().map(|b| md5_hex(b));
            let what = format!("round {round} (kill after {k}) {}: holds {:?}", case.path, shown(&now));
            if case.acked {
                assert_eq!(shown(&now), shown(&Some(case.new.clone())), "acknowledged: {what}");
                if let Some(old) = &case.old {
                    assert!(kept.contains(&md5_hex(old)), "replaced file not in the trash: {what}");
                }
            } else {
                assert!(now == case.old || now.as_ref() == Some(&case.new), "neither old nor new: {what}");
            }
        }
        let mut c = server.user("dee");
        assert!(c.cmd("trash").starts_with("212 "), "the server serves after the kill");
    }
}

#[test]
fn a_low_soft_limit_on_open_files_is_raised_so_a_full_group_commits() {
    let dir = test_dir!();
    let data = dir.data();
    fs::create_dir_all(&data).unwrap();
    let hard = Command::new("sh").args(["-c", "ulimit -Hn"]).output().unwrap();
    let hard: u64 = String::from_utf8_lossy(&hard.stdout).trim().parse().unwrap_or(u64::MAX);
    if hard < 1024 {
        eprintln!("skipped: the hard limit on open files is {hard}, too low to raise past 256 staged files");
        return;
    }
    let script = format!("ulimit -Sn 64 && exec {} --listen 127.0.0.1:0 --data {}", netdisk(), data.display());
    let mut sh = Command::new("sh");
    sh.args(["-c", &script]);
    let server = Server::launch(sh, &data).expect("server under ulimit -Sn 64");
    server.wait_log("open files limit", 1);
    let mut c = server.user("ann");
    let files: Vec<_> = (0..200).map(|i| (format!("f{i}"), bytes(100 + i, i as u64))).collect();
    c.send(&pipelined(&files));
    for (reply, (path, data)) in upload_replies(&mut c, files.len()).iter().zip(&files) {
        assert_eq!(reply, &format!("226 {} {}", data.len(), md5_hex(data)), "{path}\n{}", server.log_text());
    }
}

#[test]
fn a_large_payload_is_not_received_before_the_226s_ahead_of_it_are_sent() {
    let server = fixture!(&["--stall-timeout", "5"]);
    let mut c = server.user("ann");
    let small = bytes(10, 1);
    let big = bytes(2 << 20, 2);
    let mut wire = pipelined(&[("a".to_string(), small.clone())]);
    wire.extend_from_slice(format!("upload b {} {} 0\r\n", big.len(), md5_hex(&big)).as_bytes());
    wire.extend_from_slice(&big[..1 << 20]);
    c.send(&wire);
    // `a`'s 226 comes while `b`'s payload is still on its way.
    assert!(c.line().starts_with("150 0 "), "{}", c.transcript);
    assert_eq!(c.line(), format!("226 10 {}", md5_hex(&small)), "{}", c.transcript);
    assert!(c.line().starts_with("150 0 "), "{}", c.transcript);
    c.send(&big[1 << 20..]);
    assert_eq!(c.line(), format!("226 {} {}", big.len(), md5_hex(&big)), "{}", c.transcript);
}

/// Bytes of memory the process `pid` holds (`VmRSS`).
fn resident(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

#[test]
fn a_client_that_never_reads_cannot_make_the_server_hold_replies_without_bound() {
    let server = fixture!();
    let mut c = server.user("ann");
    c.send(&pipelined(&[("a".to_string(), bytes(10, 1))]));
    // Then bad lines, each answered `500`, without ever reading a reply:
    // the server must stop reading once its replies are not taken, so
    // the writes block (seen as a write timeout) long before 256 MiB.
    let line = format!("{}\r\n", "x".repeat(398));
    let chunk = line.repeat(160);
    c.stream.set_write_timeout(Some(std::time::Duration::from_secs(2))).unwrap();
    let mut sent = 0usize;
    while sent < 256 << 20 {
        match c.stream.write(chunk.as_bytes()) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    let rss = resident(server.child.id());
    assert!(sent < 256 << 20, "the server took all {sent} bytes without sending a reply; it holds {rss} bytes");
    assert!(rss < 128 << 20, "server memory {rss}");
}
