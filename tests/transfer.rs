//! Uploads and downloads through real sockets: verification, resume,
//! staging, limits, concurrency and crashes.

mod common;

use std::fs;
use std::thread;

use common::{EVENT_WAIT, Raw, Server, bytes, files_under, fixture, md5_hex, staged_len, wait_until};

const EMPTY: &str = "d41d8cd98f00b204e9800998ecf8427e";

/// Starts an upload, sends `part` bytes of `data`, and drops the connection.
fn interrupted_upload(s: &Server, user: &str, path: &str, data: &[u8], md5: &str, part: usize) {
    let before = interruptions(s);
    let mut c = s.user(user);
    c.ok(&format!("upload {path} {} {md5}", data.len()), "150 0 ");
    c.send(&data[..part]);
    drop(c);
    // The server notices the close, saves the staged state, and logs it.
    s.wait_log("outcome=interrupted", before + 1);
}

fn interruptions(s: &Server) -> usize {
    s.log_text().matches("outcome=interrupted").count()
}

#[test]
fn both_digest_modes_and_downloads_from_offsets() {
    let s = fixture!();
    let mut c = s.user("ann");
    let data = bytes(300_000, 1);
    assert_eq!(c.upload("a.bin", &data), format!("226 300000 {}", md5_hex(&data)));
    c.ok(&format!("upload b.bin {} -", data.len()), &format!("150 0 {EMPTY}"));
    c.send(&data);
    c.send(format!("{}\r\n", md5_hex(&data).to_uppercase()).as_bytes());
    assert_eq!(c.line(), format!("226 300000 {}", md5_hex(&data)));
    assert_eq!(c.download("b.bin"), data);
    for offset in [0usize, 1, 65_536, 299_999, 300_000] {
        let head = c.ok(&format!("download a.bin {offset}"), "150 ");
        assert_eq!(head, format!("150 300000 {} {offset}", md5_hex(&data)));
        assert_eq!(c.bytes(300_000 - offset), &data[offset..]);
        assert_eq!(c.line(), "226 transfer complete");
    }
    assert!(c.cmd("download a.bin 300001").starts_with("501"));
    assert!(c.cmd("download nope").starts_with("550"));
    c.ok("mkdir d", "257");
    assert!(c.cmd("download d").starts_with("550"));
    assert!(c.cmd("pwd").starts_with("257"), "download refusals keep the session");
}

#[test]
fn empty_file() {
    let s = fixture!();
    let mut c = s.user("bea");
    assert_eq!(c.cmd(&format!("upload e 0 {EMPTY}")), format!("150 0 {EMPTY}"));
    assert_eq!(c.line(), format!("226 0 {EMPTY}"));
    assert_eq!(c.cmd("upload f 0 -"), format!("150 0 {EMPTY}"));
    assert_eq!(c.cmd(EMPTY), format!("226 0 {EMPTY}"));
    assert_eq!(c.cmd("download e"), format!("150 0 {EMPTY} 0"));
    assert_eq!(c.line(), "226 transfer complete");
}

#[test]
fn wrong_md5_is_refused_and_the_old_file_stays() {
    let s = fixture!();
    let mut c = s.user("cat");
    assert!(c.upload("f", b"original").starts_with("226"));
    c.ok(&format!("upload f 5 {}", md5_hex(b"other")), "150 0");
    c.send(b"wrong");
    assert!(c.line().starts_with("554"), "{}", c.transcript);
    assert_eq!(c.download("f"), b"original");
    c.ok("upload g 5 -", "150 0");
    c.send(b"abcde");
    c.send(format!("{}\n", md5_hex(b"xxxxx")).as_bytes());
    assert!(c.line().starts_with("554"));
    assert_eq!(c.ls("/"), vec!["f"], "nothing committed, session goes on");
    assert_eq!(files_under(&s.data.join("staging")), Vec::<String>::new(), "staged bytes thrown away");
}

#[test]
fn refused_uploads_close_the_connection() {
    let s = fixture!(&["--max-file-size", "1000"]);
    let mut setup = s.user("dan");
    setup.ok("mkdir dir", "257");
    let cases = [
        ("upload dir 3 -", "550"),
        ("upload / 3 -", "550"),
        ("upload nope/x 3 -", "550"),
        ("upload bad\\name 3 -", "553"),
        ("upload big 1001 -", "552"),
        ("upload x 3 -", "501 FROM"),
        ("upload x 3", "501"),
        ("upload x -3 -", "501"),
        ("upload x 3 nothex", "501"),
        ("upload \"x 3 -", "500"),
    ];
    for (i, (line, want)) in cases.iter().enumerate() {
        let mut c = s.user("dan");
        let line = if i == 5 { "upload x 3 - 2" } else { line };
        let reply = c.cmd(line);
        assert!(reply.starts_with(want), "{line}: {reply}");
        assert!(c.closed(), "{line}: connection must close");
    }
}

#[test]
fn interrupted_upload_resumes_byte_identical() {
    let s = fixture!();
    let data = bytes(1_000_000, 2);
    let md5 = md5_hex(&data);
    interrupted_upload(&s, "eve", "big", &data, &md5, 400_000);
    let mut c = s.user("eve");
    assert_eq!(c.ls("/"), Vec::<String>::new(), "staged bytes are not a file");
    assert!(c.cmd("stat big").starts_with("550"));
    assert!(c.cmd("download big").starts_with("550"));
    assert_eq!(c.cmd("quota").rsplitn(3, ' ').nth(2).unwrap(), "213 400000 -", "staged bytes count");
    let head = c.cmd(&format!("upload big {} {md5}", data.len()));
    assert_eq!(head, format!("150 400000 {}", md5_hex(&data[..400_000])));
    c.send(&data[400_000..]);
    assert_eq!(c.line(), format!("226 1000000 {md5}"));
    assert_eq!(c.download("big"), data);
    assert_eq!(files_under(&s.data.join("staging")), Vec::<String>::new());
}

#[test]
fn resume_in_digest_after_mode_and_from_zero_restarts() {
    let s = fixture!();
    let data = bytes(200_000, 3);
    interrupted_upload(&s, "fay", "f", &data, "-", 50_000);
    let mut c = s.user("fay");
    assert_eq!(c.cmd("upload f 200000 -"), format!("150 50000 {}", md5_hex(&data[..50_000])));
    c.send(&data[50_000..100_000]);
    let before = interruptions(&s);
    drop(c);
    s.wait_log("outcome=interrupted", before + 1);
    // netcat style: FROM 0, header and whole payload in one write.
    let mut c = s.user("fay");
    let mut all = format!("upload f 200000 {} 0\n", md5_hex(&data)).into_bytes();
    all.extend_from_slice(&data);
    all.extend_from_slice(b"ls\n");
    c.send(&all);
    assert_eq!(c.line(), format!("150 0 {EMPTY}"));
    assert_eq!(c.line(), format!("226 200000 {}", md5_hex(&data)));
    assert_eq!(c.line(), "212 1");
    c.line();
    assert_eq!(c.download("f"), data);
}

#[test]
fn different_content_of_the_same_size_never_splices() {
    let s = fixture!();
    let old = bytes(100_000, 4);
    let new = bytes(100_000, 5);
    // Announced digests differ: no resume is offered.
    interrupted_upload(&s, "gus", "f", &old, &md5_hex(&old), 60_000);
    let mut c = s.user("gus");
    assert_eq!(c.cmd(&format!("upload f 100000 {}", md5_hex(&new))), format!("150 0 {EMPTY}"));
    c.send(&new);
    assert!(c.line().starts_with("226"));
    // Digest after payload: a resume is offered; a client that ignores
    // PREFIX_MD5 and sends the rest of another file gets 554, no file.
    interrupted_upload(&s, "gus", "g", &old, "-", 60_000);
    let mut c = s.user("gus");
    assert!(c.cmd("upload g 100000 -").starts_with("150 60000 "));
    c.send(&new[60_000..]);
    c.send(format!("{}\n", md5_hex(&new)).as_bytes());
    assert!(c.line().starts_with("554"));
    assert_eq!(c.ls("/"), vec!["f"]);
    assert_eq!(c.download("f"), new);
}

#[test]
fn second_session_on_the_same_target_is_busy() {
    let s = fixture!();
    let mut first = s.user("hal");
    first.ok("upload f 10 -", "150 0");
    first.send(b"12345");
    let mut second = s.user("hal");
    assert!(second.cmd("upload f 10 -").starts_with("450"));
    assert!(second.closed());
    first.send(b"67890");
    first.send(format!("{}\n", md5_hex(b"1234567890")).as_bytes());
    assert!(first.line().starts_with("226"));
    // Once the first is done, the target is free again.
    let mut third = s.user("hal");
    assert!(third.upload("f", b"again").starts_with("226"));
}

#[test]
fn quota_counts_files_and_staged_bytes() {
    let s = fixture!(&["--quota", "1000"]);
    let mut c = s.user("ida");
    assert_eq!(c.cmd("quota").rsplitn(3, ' ').nth(2).unwrap(), "213 0 1000");
    assert!(c.upload("a", &bytes(600, 6)).starts_with("226"));
    interrupted_upload(&s, "ida", "b", &bytes(300, 7), "-", 200);
    let mut c = s.user("ida");
    assert_eq!(c.cmd("quota").rsplitn(3, ' ').nth(2).unwrap(), "213 800 1000");
    assert!(c.cmd("upload c 201 -").starts_with("552"), "600 + 200 staged + 201 > 1000");
    assert!(c.closed());
    // The file an upload replaces counts until the upload ends.
    let mut c = s.user("ida");
    assert!(c.cmd("upload a 201 -").starts_with("552"), "600 + 200 staged + 201 > 1000");
    assert!(c.closed());
    let mut c = s.user("ida");
    c.ok("rm a", "250");
    assert!(c.cmd("upload a 201 -").starts_with("552"), "the trash counts too");
    let mut c = s.user("ida");
    c.ok("purge all", "250");
    assert!(c.upload("a", &bytes(700, 8)).starts_with("226"), "200 staged + 700");
}

#[test]
fn fifty_clients_at_once_are_byte_identical() {
    // Sixty racing `register`s from one address: more than the default burst.
    let s = fixture!(&["--register-burst", "1000"]);
    let addr = s.addr.clone();
    let threads: Vec<_> = (0..60)
        .map(|i| {
            let addr = addr.clone();
            thread::spawn(move || {
                let mut c = Raw::connect(&addr);
                let user = format!("user{}", i % 6);
                c.cmd(&format!("register {user} pw"));
                c.ok(&format!("login {user} pw"), "230");
                let data = bytes(50_000 + i * 997, i as u64);
                let name = format!("file{i}");
                assert!(c.upload(&name, &data).starts_with("226"), "{}", c.transcript);
                assert_eq!(c.download(&name), data, "client {i}");
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn sigkill_mid_upload_then_restart_and_resume() {
    let data = bytes(3_000_000, 9);
    let md5 = md5_hex(&data);
    let mut s = fixture!();
    let data_dir = s.data.clone();
    let mut c = s.user("jon");
    c.ok(&format!("upload f {} {md5}", data.len()), "150 0");
    c.send(&data[..1_234_567]);
    wait_until(EVENT_WAIT, "the bytes to be staged", || staged_len(&data_dir) == 1_234_567);
    s.kill();
    drop(c);
    s.restart(&[]);
    let mut c = s.user("jon");
    assert_eq!(c.ls("/"), Vec::<String>::new());
    // The saved hasher state stops before the tail: the tail is hashed.
    let head = c.cmd(&format!("upload f {} {md5}", data.len()));
    assert_eq!(head, format!("150 1234567 {}", md5_hex(&data[..1_234_567])));
    c.send(&data[1_234_567..]);
    assert_eq!(c.line(), format!("226 3000000 {md5}"));
    assert_eq!(c.download("f"), data);
}

#[test]
fn sigkill_mid_large_upload_resumes_from_the_saved_snapshot() {
    let data = bytes(80 << 20, 11);
    let md5 = md5_hex(&data);
    let mut s = fixture!();
    let data_dir = s.data.clone();
    let mut c = s.user("kay");
    c.ok(&format!("upload f {} -", data.len()), "150 0");
    c.send(&data[..70 << 20]);
    wait_until(EVENT_WAIT, "the bytes to be staged", || staged_len(&data_dir) == 70 << 20);
    let meta_len = || {
        let staging = data_dir.join("staging");
        let meta = files_under(&staging).into_iter().find(|f| f.ends_with(".meta"));
        let text = meta.and_then(|m| fs::read_to_string(staging.join(m)).ok()).unwrap_or_default();
        text.lines().find_map(|l| l.strip_prefix("len ")).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
    };
    wait_until(EVENT_WAIT, "a snapshot past 64 MiB", || meta_len() >= 64 << 20);
    s.kill();
    drop(c);
    let meta = files_under(&data_dir.join("staging")).into_iter().find(|f| f.ends_with(".meta")).unwrap();
    let record = fs::read_to_string(data_dir.join("staging").join(meta)).unwrap();
    let saved: usize = record.lines().find_map(|l| l.strip_prefix("len ")).unwrap().parse().unwrap();
    assert!(saved >= 64 << 20, "a snapshot past 64 MiB was saved:\n{record}");
    s.restart(&[]);
    let mut c = s.user("kay");
    let head = c.cmd(&format!("upload f {} -", data.len()));
    let offset: usize = head.split(' ').nth(1).unwrap().parse().unwrap();
    assert!(offset >= saved, "{head}");
    assert_eq!(head, format!("150 {offset} {}", md5_hex(&data[..offset])), "tail past the snapshot hashed");
    c.send(&data[offset..]);
    c.send(format!("{md5}\n").as_bytes());
    assert_eq!(c.line(), format!("226 {} {md5}", data.len()));
}

#[test]
fn bad_digest_line_keeps_staged_bytes() {
    let s = fixture!();
    let mut c = s.user("kim");
    c.ok("upload f 4 -", "150 0");
    c.send(b"abcd");
    assert!(c.cmd("not a digest").starts_with("501"));
    assert_eq!(c.cmd("upload f 4 -"), format!("150 4 {}", md5_hex(b"abcd")));
    assert_eq!(c.cmd(&md5_hex(b"abcd")), format!("226 4 {}", md5_hex(b"abcd")));
}

#[test]
fn stale_staged_uploads_are_swept() {
    let s = fixture!(&["--partial-ttl", "1"]);
    interrupted_upload(&s, "lee", "f", &bytes(1000, 10), "-", 500);
    assert_eq!(files_under(&s.data.join("staging")).len(), 2, "part and meta");
    wait_until(EVENT_WAIT, "the sweeper to remove them", || files_under(&s.data.join("staging")).is_empty());
    let mut c = s.user("lee");
    assert_eq!(c.cmd("upload f 1000 -"), format!("150 0 {EMPTY}"));
}

#[test]
fn recorded_md5_follows_changes_behind_the_servers_back() {
    let s = fixture!();
    let mut c = s.user("max");
    assert!(c.upload("f", b"version one").starts_with("226"));
    c.ok("mv f g", "250");
    assert!(c.ok("stat g", "213").contains(&md5_hex(b"version one")), "record survives mv");
    let real = s.data.join("home/max/g");
    // Same size, so only the modification time tells the change.
    let before = fs::metadata(&real).unwrap().modified().unwrap();
    wait_until(EVENT_WAIT, "a new modification time", || {
        fs::write(&real, b"version two").unwrap();
        fs::metadata(&real).unwrap().modified().unwrap() != before
    });
    assert!(c.ok("stat g", "213").contains(&md5_hex(b"version two")));
    assert_eq!(c.download("g"), b"version two");
}

#[test]
fn two_processes_on_one_data_directory_share_uploads_and_locks() {
    let first = fixture!();
    let servers = [&first.server, &first.another(&[])];
    let addrs: Vec<String> = servers.iter().map(|s| s.addr.clone()).collect();
    let threads: Vec<_> = (0..12)
        .map(|i| {
            let addr = addrs[i % 2].clone();
            thread::spawn(move || {
                let mut c = Raw::connect(&addr);
                c.cmd("register pat pw");
                c.ok("login pat pw", "230");
                let data = bytes(100_000 + i * 1000, 100 + i as u64);
                assert!(c.upload(&format!("f{i}"), &data).starts_with("226"), "{}", c.transcript);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    // Every file, through either server.
    for (i, addr) in addrs.iter().cycle().take(12).enumerate() {
        let mut c = Raw::connect(addr);
        c.ok("login pat pw", "230");
        assert_eq!(c.download(&format!("f{i}")), bytes(100_000 + i * 1000, 100 + i as u64));
    }
    // One writer per target across processes.
    let mut a = Raw::connect(&addrs[0]);
    a.ok("login pat pw", "230");
    a.ok("upload same 10 -", "150 0");
    a.send(b"12345");
    let mut b = Raw::connect(&addrs[1]);
    b.ok("login pat pw", "230");
    assert!(b.cmd("upload same 10 -").starts_with("450"));
    a.send(b"67890");
    a.send(format!("{}\n", md5_hex(b"1234567890")).as_bytes());
    assert!(a.line().starts_with("226"));
}

#[test]
fn the_digest_of_this_request_decides_not_an_earlier_attempts() {
    let s = fixture!();
    let a = bytes(200_000, 20);
    let mut b = a.clone();
    b[150_000..].copy_from_slice(&bytes(50_000, 21));
    // Interrupted with A's MD5 in the header, restarted from 0 with B and
    // the digest after the payload.
    interrupted_upload(&s, "val", "f", &a, &md5_hex(&a), 100_000);
    let mut c = s.user("val");
    assert_eq!(c.cmd("upload f 200000 - 0"), format!("150 0 {EMPTY}"));
    c.send(&b);
    c.send(format!("{}\n", md5_hex(&b)).as_bytes());
    assert_eq!(c.line(), format!("226 200000 {}", md5_hex(&b)));
    // Interrupted with A's MD5, resumed without one: the common prefix is
    // kept and B's digest, sent after, is the one checked.
    interrupted_upload(&s, "val", "g", &a, &md5_hex(&a), 100_000);
    let mut c = s.user("val");
    assert_eq!(c.cmd("upload g 200000 -"), format!("150 100000 {}", md5_hex(&a[..100_000])));
    c.send(&b[100_000..]);
    c.send(format!("{}\n", md5_hex(&b)).as_bytes());
    assert_eq!(c.line(), format!("226 200000 {}", md5_hex(&b)));
    assert_eq!(c.download("g"), b);
}

#[test]
fn a_silent_upload_is_taken_over_by_the_next_attempt() {
    // Half the stall timeout without a byte makes an upload "silent".
    let s = fixture!(&["--stall-timeout", "4"]);
    let data = bytes(300_000, 30);
    let mut a = s.user("zoe");
    a.ok("upload f 300000 -", "150 0");
    a.send(&data[..100_000]);
    wait_until(EVENT_WAIT, "the bytes to be staged", || staged_len(&s.data) == 100_000);
    // While the first session moves bytes, a second one is refused.
    let mut b = s.user("zoe");
    assert!(b.cmd("upload f 300000 -").starts_with("450"));
    // The first client vanishes without closing; 2 s later, well before
    // the 4 s stall timeout, the next attempt takes over and resumes.
    let (mut c, mut reply) = (s.user("zoe"), String::new());
    wait_until(EVENT_WAIT, "the next attempt to take over", || {
        c = s.user("zoe");
        reply = c.cmd("upload f 300000 -");
        !reply.starts_with("450")
    });
    assert_eq!(reply, format!("150 100000 {}", md5_hex(&data[..100_000])));
    c.send(&data[100_000..]);
    c.send(format!("{}\n", md5_hex(&data)).as_bytes());
    assert_eq!(c.line(), format!("226 300000 {}", md5_hex(&data)));
    assert!(a.closed(), "the silent session was closed");
    assert!(s.log_text().contains("action=takeover"));
}
