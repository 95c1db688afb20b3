//! Sharing and instant upload as people use them, with the example client
//! in script mode against a real server: alice shares a folder, bob peeks
//! and saves it; `shares` and `unshare`; a share code never reaches the
//! history; and a re-upload of content the server holds goes by `claim`,
//! with no payload. The library's typed share calls are tested here too.

mod common;

use std::fs;
use std::path::Path;

use common::{Server, bytes, client_command, files_under, fixture, run};
use netdisk::client::is_share_code;
use netdisk::proto::body::Kind;

/// Runs a client script in `cwd` (also its `HOME` and cache); asserts that
/// it succeeded, and returns its stdout.
fn script(s: &Server, cwd: &Path, text: &str) -> String {
    let ran = client(s, cwd, text);
    assert_eq!(ran.code, 0, "script:\n{text}\nstdout:\n{}\nstderr:\n{}", ran.out, ran.err);
    ran.out
}

fn client(s: &Server, cwd: &Path, text: &str) -> common::Ran {
    fs::create_dir_all(cwd).unwrap();
    let mut cmd = client_command();
    cmd.arg(&s.addr).current_dir(cwd).env("HOME", cwd).env("XDG_CACHE_HOME", cwd.join(".cache"));
    run(&mut cmd, text)
}

/// The code printed by `share`: the word after `share code:`.
fn code_in(out: &str) -> String {
    let line = out.lines().find_map(|l| l.strip_prefix("share code: ")).unwrap_or_else(|| panic!("no code: {out}"));
    assert!(is_share_code(line), "{line:?}");
    line.to_string()
}

fn album(dir: &Path) {
    fs::create_dir_all(dir.join("album/2026/empty")).unwrap();
    fs::write(dir.join("album/cover.jpg"), bytes(70_000, 1)).unwrap();
    fs::write(dir.join("album/2026/a b.txt"), b"spaces in a name\n").unwrap();
    fs::write(dir.join("album/2026/big.bin"), bytes(1_500_000, 2)).unwrap();
}

#[test]
fn alice_shares_a_folder_and_bob_peeks_saves_and_downloads_it() {
    let s = fixture!();
    let (alice, bob) = (s.dir().join("alice"), s.dir().join("bob"));
    album(&alice);
    let out = script(&s, &alice, "register alice pw-a\nlogin alice pw-a\nupload album\nshare album 7\n");
    let code = code_in(&out);
    assert!(out.contains("save a copy of album, for 7 days"), "{out}");

    let text = format!("register bob pw-b\nlogin bob pw-b\npeek {code}\nsave {code} from-alice\nls\n");
    let out = script(&s, &bob, &text);
    let md5 = netdisk::Digest::of(&bytes(1_500_000, 2)).to_string();
    assert!(out.contains(&format!("{md5}  2026/big.bin")), "peek shows MD5 and path: {out}");
    assert!(out.contains("  2026/a b.txt\n") && out.contains("  2026/empty\n"), "{out}");
    assert!(out.contains("saved /from-alice\n"), "{out}");
    assert!(out.contains("  from-alice/"), "ls after save: {out}");

    fs::create_dir(bob.join("got")).unwrap();
    script(&s, &bob, "login bob pw-b\ndownload from-alice got\n");
    let (sent, got) = (alice.join("album"), bob.join("got/from-alice"));
    assert_eq!(files_under(&got), files_under(&sent));
    for name in files_under(&sent).iter().filter(|n| sent.join(n).is_file()) {
        assert!(fs::read(got.join(name)).unwrap() == fs::read(sent.join(name)).unwrap(), "{name} differs");
    }
    assert!(!s.log_text().contains(&code), "the server never logs a code");
}

#[test]
fn shares_lists_and_unshare_revokes() {
    let s = fixture!();
    let (alice, bob) = (s.dir().join("alice"), s.dir().join("bob"));
    fs::create_dir_all(&alice).unwrap();
    fs::write(alice.join("notes.txt"), b"notes\n").unwrap();
    let out = script(&s, &alice, "register alice pw-a\nlogin alice pw-a\nshares\nupload notes.txt\nshare notes.txt\n");
    assert!(out.contains("no shares\n") && out.contains("until you unshare it"), "{out}");
    let first = code_in(&out);
    let out = script(&s, &alice, "login alice pw-a\nshare notes.txt 30\nshares\n");
    let second = code_in(&out);
    let listed: Vec<&str> = out.lines().filter(|l| l.starts_with(&first) || l.starts_with(&second)).collect();
    assert_eq!(listed.len(), 2, "{out}");
    assert!(listed[0].contains("until revoked") && listed[0].ends_with("  /notes.txt"), "{out}");
    assert!(listed[1].contains(" UTC") && listed[1].contains("  f  until 20"), "{out}");

    script(&s, &bob, &format!("register bob pw-b\nlogin bob pw-b\npeek {first}\n"));
    let out = script(&s, &alice, &format!("login alice pw-a\nunshare {first}\nshares\n"));
    assert!(out.contains("share removed") && !out.contains(&first) && out.contains(&second), "{out}");
    let ran = client(&s, &bob, &format!("login bob pw-b\nsave {first}\n"));
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(ran.err.contains("unknown or expired code [550]"), "{}", ran.err);
    let ran = client(&s, &alice, &format!("login alice pw-a\nunshare {first}\n"));
    assert!(ran.code == 1 && ran.err.contains("[550]"), "{ran:?}");
}

#[test]
fn a_code_kept_out_of_history_is_never_sent() {
    let s = fixture!();
    let bob = s.dir().join("bob");
    for line in ["peek ***", "save *** x", "unshare ***"] {
        let ran = client(&s, &bob, &format!("-register bob pw-b\nlogin bob pw-b\n{line}\n"));
        assert!(ran.code == 1 && ran.err.contains("history keeps no share code"), "{line}: {ran:?}");
    }
    let ran = client(&s, &bob, "login bob pw-b\npeek not-a-code\n");
    assert!(ran.code == 1 && ran.err.contains("not a share code"), "{ran:?}");
    let ran = client(&s, &bob, "login bob pw-b\nshare x 0\n");
    assert!(ran.code == 1 && ran.err.contains("DAYS must be"), "{ran:?}");
    let log = s.log_text();
    assert!(!log.contains("action=peek") && !log.contains("action=save") && !log.contains("action=unshare"), "{log}");
    let out = script(&s, &bob, "help share\nhelp peek\nhelp save\nhelp all\n");
    assert!(out.contains("usage: share PATH [DAYS]") && out.contains("example: share photos 7"), "{out}");
    assert!(out.contains("usage: save CODE [PATH]") && out.contains("usage: peek CODE"), "{out}");
    assert!(out.contains("  shares ") && out.contains("  unshare CODE "), "{out}");
}

#[test]
fn an_instant_re_upload_by_another_user_sends_no_payload() {
    let s = fixture!();
    let (alice, bob) = (s.dir().join("alice"), s.dir().join("bob"));
    let data = bytes(2 << 20, 9);
    fs::create_dir_all(bob.join("folder")).unwrap();
    fs::create_dir_all(&alice).unwrap();
    fs::write(alice.join("movie.bin"), &data).unwrap();
    fs::write(bob.join("copy.bin"), &data).unwrap();
    fs::write(bob.join("folder/again.bin"), &data).unwrap();
    let out = script(&s, &alice, "register alice pw-a\nlogin alice pw-a\nupload movie.bin\n");
    assert!(!out.contains("instant"), "the first upload sends the bytes: {out}");
    s.wait_log("user=alice action=upload path=\"/movie.bin\" outcome=226", 1);

    let out = script(&s, &bob, "register bob pw-b\nlogin bob pw-b\nupload copy.bin\nupload folder\n");
    assert!(out.contains("instant: the server already has this content\nuploaded copy.bin"), "{out}");
    assert!(out.contains("folder/again.bin: instant: the server already has this content"), "{out}");
    s.wait_log("user=bob action=claim path=\"/folder/again.bin\" outcome=226", 1);
    let log = s.log_text();
    let bobs: Vec<&str> = log.lines().filter(|l| l.contains("user=bob") && l.contains(".bin")).collect();
    // Each claimed file then takes the local file's time (protocol 2.1).
    let touched = bobs.iter().filter(|l| l.contains("action=touch") && l.ends_with("outcome=250 bytes=0")).count();
    assert_eq!(touched, 2, "{bobs:#?}");
    let bobs: Vec<&str> = bobs.into_iter().filter(|l| !l.contains("action=touch")).collect();
    assert_eq!(bobs.len(), 2, "one claim line per file, no upload: {bobs:#?}");
    assert!(bobs.iter().all(|l| l.contains("action=claim") && l.ends_with("outcome=226 bytes=0")), "{bobs:#?}");

    let mut c = netdisk::client::Client::connect(&s.addr).unwrap();
    c.login("bob", "pw-b").unwrap();
    for path in ["/copy.bin", "/folder/again.bin"] {
        let st = c.stat(path).unwrap();
        assert_eq!((st.size, st.md5), (data.len() as u64, Some(netdisk::Digest::of(&data))), "{path}");
    }
    c.download("/copy.bin", &bob.join("back.bin"), &mut |_| true).unwrap();
    assert!(fs::read(bob.join("back.bin")).unwrap() == data);
}

#[test]
fn the_library_shares_lists_peeks_saves_and_unshares() {
    let s = fixture!();
    let (mut alice, mut bob) = (s.client("alice"), s.client("bob"));
    alice.makedir("docs").unwrap();
    common::write_file(s.dir(), "r.txt", b"report\n");
    alice.upload(&s.dir().join("r.txt"), "docs/r.txt", &mut |_| true).unwrap();
    let code = alice.share("docs", Some(2)).unwrap();
    assert!(is_share_code(&code), "{code}");
    let list = alice.shares().unwrap();
    assert_eq!((list.len(), list[0].code.as_str(), list[0].kind), (1, code.as_str(), Kind::Dir));
    assert!(list[0].expires.is_some() && list[0].path == "/docs");
    let peeked = bob.peek(&code).unwrap();
    assert_eq!(peeked.len(), 1, "{peeked:?}");
    assert_eq!((peeked[0].path.as_str(), peeked[0].md5), ("r.txt", Some(netdisk::Digest::of(b"report\n"))));
    assert_eq!(bob.save(&code, None).unwrap(), "/docs");
    assert_eq!(bob.save(&code, Some("again")).unwrap(), "/again");
    assert!(bob.save(&code, Some("again")).is_err(), "save never replaces");
    alice.unshare(&code).unwrap();
    assert!(alice.shares().unwrap().is_empty());
    assert!(bob.peek(&code).is_err());
}
