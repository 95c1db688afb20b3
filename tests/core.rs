//! Server core through real sockets: framing, accounts, directories.

mod common;

use std::process::Command;
use std::thread;

use common::{Raw, files_under, fixture, netdisk};

#[test]
fn greets_and_walks_through_the_contract_example() {
    let s = fixture!();
    let mut c = s.connect();
    assert_eq!(c.greeting, "220 netdisk ready");
    assert_eq!(c.cmd("register alice s3cret"), "201 registered alice");
    assert_eq!(c.cmd("login alice s3cret"), "230 logged in as alice");
    assert_eq!(c.cmd("makedir docs"), "257 \"/docs\"");
    assert_eq!(c.cmd("cd docs"), "250 \"/docs\"");
    assert_eq!(c.cmd("pwd"), "257 \"/docs\"");
    assert_eq!(c.cmd("ls"), "212 0");
    assert_eq!(c.cmd("quit"), "221 bye");
    assert!(c.closed());
}

#[test]
fn framing_crlf_blank_lines_pipelining_and_case() {
    let s = fixture!();
    let mut c = s.connect();
    c.send(b"\r\n   \n\t\nREGISTER bob pw\r\nLoGiN bob pw\nmkdir a\r\nmkdir b\nPWD\n");
    assert_eq!(c.line(), "201 registered bob");
    assert_eq!(c.line(), "230 logged in as bob");
    assert_eq!(c.line(), "257 \"/a\"");
    assert_eq!(c.line(), "257 \"/b\"");
    assert_eq!(c.line(), "257 \"/\"");
    // A request split into fragments is one request.
    c.send(b"l");
    c.send(b"s /");
    c.send(b"\r\n");
    let head = c.line();
    assert_eq!(c.lines_after(&head).len(), 2);
}

#[test]
fn lines_at_and_over_the_limit() {
    let s = fixture!();
    let mut c = s.connect();
    // 4096 bytes counting "\r\n": accepted (an unknown command, 500, session kept).
    let mut line = "x".repeat(4094).into_bytes();
    line.extend_from_slice(b"\r\n");
    c.send(&line);
    assert!(c.line().starts_with("500 unknown"), "{}", c.transcript);
    // 4097 bytes: too long, and the connection closes.
    let mut line = "y".repeat(4096).into_bytes();
    line.push(b'\n');
    c.send(&line);
    assert_eq!(c.line(), "500 line too long");
    assert!(c.closed());
}

#[test]
fn quoting_names_with_spaces_quotes_and_backslashes() {
    let s = fixture!();
    let mut c = s.user("carol");
    assert_eq!(c.cmd("makedir \"my docs\""), "257 \"/my docs\"");
    assert_eq!(c.cmd("makedir \"say \\\"hi\\\"\""), "257 \"/say \\\"hi\\\"\"");
    assert_eq!(c.cmd("cd \"my docs\""), "250 \"/my docs\"");
    assert_eq!(c.ls("/"), vec!["my docs", "say \"hi\""]);
    assert!(c.cmd("cd \"unterminated").starts_with("500"));
    assert!(c.cmd("makedir a\\b").starts_with("553"));
    assert!(c.cmd("pwd").starts_with("257 \"/my docs\""), "session kept");
}

#[test]
fn before_login_only_register_login_help_quit() {
    let s = fixture!();
    let mut c = s.connect();
    for cmd in ["pwd", "ls", "mkdir x", "cd /", "stat x", "rm x", "rmdir x", "mv a b", "quota", "download x"] {
        assert!(c.cmd(cmd).starts_with("530"), "{cmd}: {}", c.transcript);
    }
    let head = c.ok("help", "214 ");
    let lines = c.lines_after(&head);
    assert!(lines.iter().any(|l| l.starts_with("upload")), "{lines:?}");
    assert!(c.cmd("frobnicate").starts_with("500"));
    assert!(c.cmd("upload x 1 -").starts_with("530"));
    assert!(c.closed(), "a refused upload closes the connection");
}

#[test]
fn every_command_success_and_failure() {
    let s = fixture!();
    let mut c = s.user("dave");
    c.ok("mkdir d", "257");
    assert!(c.cmd("mkdir d").starts_with("550"), "exists");
    assert!(c.cmd("mkdir nope/x").starts_with("550"), "parent missing");
    assert!(c.cmd("mkdir /").starts_with("550"));
    assert!(c.cmd("cd nope").starts_with("550"));
    assert!(c.upload("d/f", b"data").starts_with("226 4 "));
    assert!(c.cmd("cd d/f").starts_with("550"), "not a directory");
    let stat = c.ok("stat d/f", "213 f 4 ");
    assert!(stat.ends_with(&format!("{} f", common::md5_hex(b"data"))), "{stat}");
    assert!(c.ok("stat d", "213 d 0 ").ends_with(" - d"));
    assert!(c.ok("stat /", "213 d 0 ").ends_with(" - /"));
    assert!(c.cmd("stat nope").starts_with("550"));
    assert_eq!(c.ls("d/f"), vec!["f"], "ls of a file lists it");
    assert!(c.cmd("ls nope").starts_with("550"));
    assert!(c.cmd("rm nope").starts_with("550"), "rm of a missing path");
    assert!(c.cmd("rmdir d").starts_with("550"), "not empty");
    assert!(c.cmd("rmdir /").starts_with("550"));
    assert!(c.cmd("rmdir d/f").starts_with("550"), "rmdir of a file");
    c.ok("mv d/f g", "250");
    assert!(c.cmd("mv d/f g").starts_with("550"), "from missing");
    assert!(c.cmd("mv / x").starts_with("550"));
    assert!(c.cmd("mv d d/inner").starts_with("550"), "into itself");
    c.ok("mkdir e", "257");
    assert!(c.cmd("mv g e").starts_with("550"), "to an existing directory");
    assert!(c.cmd("mv g bad\\name").starts_with("553"));
    assert!(c.upload("h", b"other").starts_with("226"));
    c.ok("mv h g", "250");
    assert_eq!(c.download("g"), b"other", "mv replaced the file");
    c.ok("rm g", "250");
    assert!(c.cmd("rm g").starts_with("550"));
    c.ok("rmdir d", "250");
    // The replaced "data" and the removed "other" wait in the trash.
    assert_eq!(c.cmd("quota").rsplitn(3, ' ').nth(2).unwrap(), "213 9 -");
    assert!(c.cmd("ls a b").starts_with("501"));
    assert!(c.cmd("mv onlyone").starts_with("501"));
    assert_eq!(c.ls(""), vec!["e"]);
}

#[test]
fn users_are_isolated_and_dotdot_clamps() {
    let s = fixture!();
    let mut a = s.user("erin");
    let mut b = s.user("frank");
    assert!(a.upload("secret.txt", b"erin's").starts_with("226"));
    assert_eq!(b.ls("/"), Vec::<String>::new());
    assert!(b.cmd("download ../erin/secret.txt").starts_with("550"));
    assert!(b.cmd("stat /../../home/erin/secret.txt").starts_with("550"));
    assert_eq!(b.cmd("cd ../../../.."), "250 \"/\"");
    assert_eq!(b.cmd("cd /../.."), "250 \"/\"");
    // Logging in again switches user.
    b.ok("login erin pw-erin", "230");
    assert_eq!(b.ls("/"), vec!["secret.txt"]);
}

#[test]
fn registration_rules() {
    let s = fixture!();
    let mut c = s.connect();
    c.ok("register gina pw", "201");
    assert!(c.cmd("register gina other").starts_with("550"));
    for bad in ["register .x pw", "register -x pw", "register a:b pw", &format!("register {} pw", "x".repeat(33))] {
        assert!(c.cmd(bad).starts_with("501"), "{bad}");
    }
    assert!(c.cmd(&format!("register ok {}", "p".repeat(129))).starts_with("501"));
    let wrong = c.cmd("login gina nope");
    let unknown = c.cmd("login nobody nope");
    assert_eq!(wrong, unknown, "same reply for unknown user and wrong password");
    assert!(wrong.starts_with("530"));
}

#[test]
fn accounts_and_trees_survive_a_restart() {
    let mut s = fixture!();
    let data = s.data.clone();
    let pass = "\"p: #$ with \\\\ spaces\"";
    {
        let mut c = s.connect();
        c.ok(&format!("register henry {pass}"), "201");
        c.ok(&format!("login henry {pass}"), "230");
        c.ok("mkdir keep", "257");
        assert!(c.upload("keep/a.txt", b"persist").starts_with("226"));
    }
    s.restart(&[]);
    let mut c = s.connect();
    c.ok(&format!("login henry {pass}"), "230");
    assert_eq!(c.download("keep/a.txt"), b"persist");
    let users = std::fs::read_to_string(data.join("users")).unwrap();
    assert!(!users.contains("with spaces") && !users.contains("p: #$"), "no password in the users file: {users}");
    assert!(!s.log_text().contains("with spaces"), "no password in the log");
}

#[test]
fn two_processes_register_concurrently_without_losing_anyone() {
    let burst = ["--register-burst", "1000"];
    let first = fixture!(&burst);
    let data = first.data.clone();
    let servers = [&first.server, &first.another(&burst)];
    let addrs: Vec<String> = servers.iter().map(|s| s.addr.clone()).collect();
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let addr = addrs[i % 2].clone();
            thread::spawn(move || {
                let mut c = Raw::connect(&addr);
                for j in 0..5 {
                    let reply = c.cmd(&format!("register u{i}x{j} pw"));
                    assert!(reply.starts_with("201"), "{reply}");
                }
                // The same name from both processes: exactly one wins.
                c.cmd("register contested pw")
            })
        })
        .collect();
    let contested: Vec<String> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(contested.iter().filter(|r| r.starts_with("201")).count(), 1, "{contested:?}");
    let users = std::fs::read_to_string(data.join("users")).unwrap();
    assert_eq!(users.lines().filter(|l| !l.starts_with('#')).count(), 81, "{users}");
    for (i, addr) in addrs.iter().enumerate() {
        let mut c = Raw::connect(addr);
        c.ok(&format!("login u{}x4 pw", 15 - i), "230");
    }
}

#[test]
fn binary_flags_help_version_and_errors() {
    let bin = netdisk();
    let out = Command::new(bin).arg("--help").output().unwrap();
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("--listen"));
    let out = Command::new(bin).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("netdisk "));
    let out = Command::new(bin).arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown option --bogus"));
    let out = Command::new(bin).env("NETDISK_MAX_CLIENTS", "many").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn logs_one_line_per_event_without_passwords() {
    let s = fixture!();
    let mut c = s.connect();
    c.ok("register ivy hunter2", "201");
    c.cmd("login ivy wrong-one");
    c.ok("login ivy hunter2", "230");
    c.ok("mkdir x", "257");
    c.cmd("quit");
    assert!(c.closed());
    let log = s.log_text();
    assert!(!log.contains("hunter2") && !log.contains("wrong-one"), "{log}");
    assert!(log.lines().any(|l| l.contains("user=ivy action=login outcome=530")), "{log}");
    assert!(log.lines().any(|l| l.contains("user=ivy action=makedir path=\"/x\" outcome=257")), "{log}");
    assert!(log.lines().all(|l| l.contains(" peer=") && l.contains(" outcome=")), "{log}");
    assert_eq!(files_under(&s.data.join("home")), Vec::<String>::new());
}
