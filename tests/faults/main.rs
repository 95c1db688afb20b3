//! Disk faults (issue 27; protocol 2.1 "Failing storage"): never
//! acknowledge what the disk did not keep, never delete what could not be
//! read, and once a sync failed, stay read-only until restarted.
//!
//! Real faults: an ext4 on a loop device over an image on a small tmpfs,
//! its free blocks punched out (`fstrim`) and the tmpfs then filled, so
//! the kernel's write-back fails for real. Injected faults: the server
//! under `strace -f -e inject=...` failing one system call on one path
//! (see `kit`). The full-disk `452` is tested in `hostile.rs` (a tmpfs in
//! a user namespace, no root needed). Every test needs root and the tools
//! of `kit::TOOLS`, and skips without them (never in CI).

#[path = "../common/mod.rs"]
mod common;
mod kit;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime};

use common::http::{hold_replace_lock, holds, http_group, upload, uploads_while};
use common::{EVENT_WAIT, Raw, Server, bytes, http, md5_hex, proof, test_dir, wait_until};
use kit::{Mount, Traced, can_fault, fill, part_of, sh, staged};

const READ_ONLY: &str = "451 storage failing: read-only until restart";

/// Sends an upload's header and payload at once, whatever the server does
/// meanwhile (it may refuse and close before taking it all).
fn send_upload(c: &mut Raw, path: &str, data: &[u8]) {
    let mut all = format!("upload {path} {} {}\r\n", data.len(), md5_hex(data)).into_bytes();
    all.extend_from_slice(data);
    c.transcript.push_str(&format!(">> upload {path} {} + payload\n", data.len()));
    let _ = c.stream.write_all(&all);
}

/// The reply to an upload after its `150`.
fn upload_reply(c: &mut Raw, path: &str, data: &[u8]) -> String {
    send_upload(c, path, data);
    let offer = c.line();
    assert!(offer.starts_with("150 "), "{offer}\n{}", c.transcript);
    c.line()
}

/// Lines of the server's log holding `needle`.
fn log_lines(s: &Server, needle: &str) -> usize {
    s.log_text().lines().filter(|l| l.contains(needle)).count()
}

/// A user registered (and given a home) by a plain server, then stopped.
fn with_user(data: &std::path::Path, user: &str) {
    let s = Server::start(data, &[]);
    s.user(user);
}

/// The ID of the one entry of `user`'s trash.
/// Ann's trash ID for a file `f` of `content`, uploaded and removed by a
/// server over `data` that has ended.
fn trashed(data: &Path, content: &[u8]) -> String {
    let s = Server::start(data, &[]);
    let mut c = s.user("ann");
    assert!(c.upload("f", content).starts_with("226"));
    c.ok("rm f", "250");
    only_trash_id(&mut c)
}

fn only_trash_id(c: &mut Raw) -> String {
    let head = c.ok("trash", "212 1");
    let lines = c.lines_after(&head);
    lines[0].split(' ').next().unwrap().to_string()
}

/// Item 1: an upload of 32 MiB or more is flushed in the background
/// (`fdatasync` on a second descriptor); its failure, here a real one on
/// a loop device whose backing store is full, fails the upload, and the
/// server turns read-only. Room comes back before the rest is sent, so
/// the final fsync succeeds: it never hears of the first failure (the
/// kernel reports a write-back error once), and before this the reply was
/// `226` for 32 MiB that were not on the disk.
#[test]
fn a_failed_background_write_back_fails_the_upload() {
    if !can_fault() {
        return;
    }
    let dir = test_dir!();
    let tmp = Mount::tmpfs(&dir.path().join("tmpfs"), 160);
    let disk = Mount::ext4(&tmp.at.join("img"), 128, None, &dir.data());
    // Only watched: every failure here is the device's.
    let s = Traced::run(&disk.at, "trace=fdatasync", Some(&part_of(&disk.at, "ann", "/big")), &[]);
    s.user("ann");
    sh("sync", &["-f", disk.at.to_str().unwrap()]);
    // Free blocks of the ext4 become holes of its image, then the tmpfs is
    // filled: new data written back to the image finds no room.
    sh("fstrim", &[disk.at.to_str().unwrap()]);
    let filler = fill(&tmp.at);
    let data = bytes(40 << 20, 1);
    let first = 33 << 20;
    let mut c = s.user("ann");
    c.ok(&format!("upload big {} {}", data.len(), md5_hex(&data)), "150 0 ");
    c.send(&data[..first]);
    wait_until(60, "the background flush to fail", || s.trace_text().contains("= -1"));
    fs::remove_file(filler).unwrap();
    c.send(&data[first..]);
    let reply = c.line();
    assert!(reply.starts_with("451"), "a failed write-back must fail the upload: {reply}\n{}", c.transcript);
    let mut d = s.user("ann");
    assert_eq!(d.cmd("makedir later"), READ_ONLY, "{}", d.transcript);
    assert!(!d.ls("").contains(&"big".to_string()), "{}", d.transcript);
    s.wait_log("action=storage", 1);
    assert!(staged(&disk.at).iter().all(|f| !f.ends_with(".part")), "{:?}", staged(&disk.at));
}

/// Item 2: after a failed fsync the staged bytes are discarded, never
/// resumed (before: the retry got `150 100000` and `226`, and the file was
/// zeros after a remount); the retry meets a read-only server; after a
/// restart nothing is offered for a resume. Item 6: the failed commit
/// logs its real outcome.
#[test]
fn staged_bytes_whose_fsync_failed_are_discarded_not_resumed() {
    if !can_fault() {
        return;
    }
    let dir = test_dir!();
    let data = dir.data();
    with_user(&data, "ann");
    let body = bytes(100_000, 2);
    let s = Traced::start(&data, "fsync:error=EIO:when=1", &part_of(&data, "ann", "/f"), &[]);
    let mut c = s.user("ann");
    let reply = upload_reply(&mut c, "f", &body);
    assert!(reply.starts_with("451"), "{reply}\n{}", c.transcript);
    assert_eq!(s.injected(), 1, "{}", s.trace_text());
    assert_eq!(staged(&data), Vec::<String>::new(), "nothing staged after a failed sync");
    let mut c = s.user("ann");
    send_upload(&mut c, "f", &body);
    assert_eq!(c.line(), READ_ONLY, "{}", c.transcript);
    assert_eq!(s.user("ann").ls(""), Vec::<String>::new());
    s.wait_log("action=storage", 1);
    let log = s.log_text();
    let commit = log.lines().find(|l| l.contains("action=commit")).unwrap_or_default();
    assert!(commit.contains("outcome=451 files=0"), "{commit}");
    assert_eq!(log_lines(&s, "action=storage"), 1, "the cause is logged once:\n{log}");
    assert!(log.contains("fsync failed: Input/output error"), "{log}");
    drop(s);
    let s = Server::start(&data, &[]);
    let mut c = s.user("ann");
    c.ok(&format!("upload f 100000 {}", md5_hex(&body)), "150 0 ");
}

/// Item 2, pipelined: a group's `syncfs` fails; every upload of the group
/// gets `451` and keeps nothing staged (before: kept for a resume).
#[test]
fn a_group_whose_syncfs_failed_keeps_nothing_staged() {
    if !can_fault() {
        return;
    }
    let dir = test_dir!();
    let data = dir.data();
    with_user(&data, "ann");
    let s = Traced::start(&data, "syncfs,fsync:error=EIO:when=1", &part_of(&data, "ann", "/a"), &[]);
    let mut c = s.user("ann");
    let (a, b) = (bytes(5000, 3), bytes(6000, 4));
    let mut all = Vec::new();
    for (name, body) in [("a", &a), ("b", &b)] {
        all.extend_from_slice(format!("upload {name} {} {}\r\n", body.len(), md5_hex(body)).as_bytes());
        all.extend_from_slice(body);
    }
    c.send(&all);
    let replies: Vec<String> = (0..4).map(|_| c.line()).collect();
    let done: Vec<&String> = replies.iter().filter(|r| !r.starts_with("150 ")).collect();
    assert_eq!(done.len(), 2, "{}", c.transcript);
    assert!(done.iter().all(|r| r.starts_with("451")), "{}", c.transcript);
    assert_eq!(staged(&data), Vec::<String>::new());
    s.wait_log("action=commit", 1);
    assert!(s.log_text().contains("failed=2"), "one group of two:\n{}", s.log_text());
    assert_eq!(c.cmd("makedir x"), READ_ONLY);
}

/// Item 3: EIO reading the users file past its first 8 KiB at start-up,
/// with a superseded line in what was read: no compaction from that
/// partial read (before: the accounts past 8 KiB vanished).
#[test]
fn a_read_error_at_start_up_never_rewrites_the_users_file() {
    if !can_fault() {
        return;
    }
    let dir = test_dir!();
    let data = dir.data();
    {
        let s = Server::start(&data, &["--register-burst", "1000"]);
        let mut c = s.connect();
        for i in 0..122 {
            c.ok(&format!("register user{i:03} pw-user{i:03}"), "201");
            if i == 5 {
                let mut me = s.connect();
                me.ok("login user000 pw-user000", "230");
                me.ok("passwd pw-user000 pw-new", "200");
            }
        }
    }
    let before = fs::read(data.join("users")).unwrap();
    assert!(before.len() > 10_000, "{}", before.len());
    let s = Traced::start(&data, "read:error=EIO:when=2+", &data.join("users"), &[]);
    assert!(s.injected() >= 1, "{}", s.trace_text());
    drop(s);
    let after = fs::read(data.join("users")).unwrap();
    assert!(after == before, "the users file was rewritten: {} bytes, then {}", before.len(), after.len());
    let s = Server::start(&data, &[]);
    for (user, pass) in [("user000", "pw-new"), ("user060", "pw-user060"), ("user121", "pw-user121")] {
        assert!(s.logs_in(user, pass), "{user}");
    }
}

/// Item 3: a torn last line and an EMFILE opening the users file at
/// start-up: no compaction from an empty read (before: the users file
/// was rewritten with no accounts).
#[test]
fn a_failed_open_at_start_up_never_empties_the_users_file() {
    if !can_fault() {
        return;
    }
    let dir = test_dir!();
    let data = dir.data();
    with_user(&data, "ann");
    with_user(&data, "bob");
    fs::OpenOptions::new().append(true).open(data.join("users")).unwrap().write_all(b"carl:md5$torn").unwrap();
    // The first open cuts the torn line; the next two, to read it for the
    // compaction, fail.
    let s = Traced::start(&data, "openat:error=EMFILE:when=2..3", &data.join("users"), &[]);
    assert!(s.injected() >= 1, "{}", s.trace_text());
    drop(s);
    let s = Server::start(&data, &[]);
    assert!(s.logs_in("ann", "pw-ann") && s.logs_in("bob", "pw-bob"));
}

/// Item 4: EMFILE opening a trash entry's `info` during the start-up
/// sweep leaves the entry alone (before: removed for good).
#[test]
fn the_trash_sweep_never_deletes_what_it_could_not_read() {
    if !can_fault() {
        return;
    }
    let dir = test_dir!();
    let data = dir.data();
    let id = trashed(&data, b"keep me for 30 days");
    let info = data.join("trash/ann").join(&id).join("info");
    let s = Traced::start(&data, "openat:error=EMFILE:when=1", &info, &[]);
    s.wait_log("trash: removed", 1);
    assert_eq!(s.injected(), 1, "{}", s.trace_text());
    drop(s);
    let s = Server::start(&data, &[]);
    let mut c = s.user("ann");
    assert_eq!(only_trash_id(&mut c), id);
    c.ok(&format!("restore {id}"), "257");
}

/// Item 4: EMFILE reading a share's index entry during the sweep leaves
/// the share alone (before: a live share destroyed).
#[test]
fn the_share_sweep_never_deletes_what_it_could_not_read() {
    if !can_fault() {
        return;
    }
    let dir = test_dir!();
    let data = dir.data();
    let code = {
        let s = Server::start(&data, &[]);
        let mut c = s.user("ann");
        assert!(c.upload("f", b"shared").starts_with("226"));
        c.ok("share f", "200 ").split(' ').nth(1).unwrap().to_string()
    };
    let index = data.join("share-codes").join(&code);
    // Old enough that an index entry without a record would be swept.
    let old = SystemTime::now() - Duration::from_secs(3600);
    fs::File::options().write(true).open(&index).unwrap().set_modified(old).unwrap();
    let s = Traced::start(&data, "openat:error=EMFILE:when=1", &index, &[]);
    let swept = || s.log_text().contains("start-up sweep done") || !index.exists();
    wait_until(EVENT_WAIT, "the start-up sweep", swept);
    assert_eq!(s.injected(), 1, "{}", s.trace_text());
    drop(s);
    let s = Server::start(&data, &[]);
    let mut c = s.user("bob");
    c.ok(&format!("peek {code}"), "212 1");
}

/// Item 4: an error looking for a staged upload's record during the
/// start-up sweep does not make its bytes an orphan (before: a resumable
/// upload deleted).
#[test]
fn the_staging_sweep_never_deletes_what_it_could_not_look_at() {
    if !can_fault() {
        return;
    }
    let dir = test_dir!();
    let data = dir.data();
    let body = bytes(2 << 20, 6);
    {
        let s = Server::start(&data, &[]);
        let mut c = s.user("ann");
        c.ok(&format!("upload f {} {}", body.len(), md5_hex(&body)), "150 0 ");
        c.send(&body[..1 << 20]);
        drop(c);
        s.wait_log("interrupted", 1);
    }
    let meta = part_of(&data, "ann", "/f").with_extension("meta");
    assert!(meta.exists(), "{:?}", staged(&data));
    let looks = "statx,newfstatat,lstat,stat:error=EIO:when=1";
    let s = Traced::start(&data, looks, &meta, &[]);
    s.wait_log("trash: removed", 1);
    assert!(s.injected() >= 1, "{}", s.trace_text());
    drop(s);
    let s = Server::start(&data, &[]);
    let mut c = s.user("ann");
    let offer = c.cmd(&format!("upload f {} {}", body.len(), md5_hex(&body)));
    assert_eq!(offer, format!("150 {} {}", 1 << 20, md5_hex(&body[..1 << 20])), "{}", c.transcript);
}

/// Item 5: the directory sync after `makedir` fails: `451`, then every
/// change is refused with the read-only answer while reads go on, and the
/// cause is logged once (before: the next `makedir` got `257`).
#[test]
fn after_a_failed_sync_the_server_is_read_only_until_restart() {
    if !can_fault() {
        return;
    }
    let dir = test_dir!();
    let data = dir.data();
    with_user(&data, "ann");
    let s = Traced::start(&data, "fsync:error=EIO:when=1", &data.join("home/ann"), &[]);
    let mut c = s.user("ann");
    let reply = c.cmd("makedir d");
    assert!(reply.starts_with("451"), "{reply}");
    for change in ["makedir e", "register zed pw", "rm d", "mv d e", "share d", "passwd pw-ann x"] {
        assert_eq!(c.cmd(change), READ_ONLY, "{change}\n{}", c.transcript);
    }
    assert_eq!(c.ls(""), vec!["d".to_string()], "reads go on");
    c.ok("quota", "213");
    send_upload(&mut c, "f", b"late");
    assert_eq!(c.line(), READ_ONLY);
    assert!(c.closed(), "an upload refused closes: its payload may follow");
    let mut other = s.user("ann");
    assert_eq!(other.cmd("makedirs x/y"), READ_ONLY);
    s.wait_log("action=storage", 1);
    assert_eq!(log_lines(&s, "action=storage"), 1, "{}", s.log_text());
    drop(s);
    let s = Server::start(&data, &[]);
    s.user("ann").ok("makedir e", "257");
}

/// Item 5: `purge` checks its sync (before: `250` whatever it said).
#[test]
fn purge_answers_451_when_its_sync_fails() {
    if !can_fault() {
        return;
    }
    let dir = test_dir!();
    let data = dir.data();
    let id = trashed(&data, b"purge me");
    let s = Traced::start(&data, "fsync:error=EIO:when=1", &data.join("trash/ann"), &[]);
    let mut c = s.user("ann");
    let reply = c.cmd(&format!("purge {id}"));
    assert!(reply.starts_with("451"), "{reply}");
    assert_eq!(c.cmd("purge all"), READ_ONLY);
}

/// Item 6: EDQUOT from the server's own file system is its disk (`452`),
/// not the user's quota (before: `552`), and keeps nothing staged.
#[test]
fn edquot_is_452_and_keeps_nothing_staged() {
    if !can_fault() {
        return;
    }
    let dir = test_dir!();
    let data = dir.data();
    with_user(&data, "ann");
    let s = Traced::start(&data, "write:error=EDQUOT:when=1", &part_of(&data, "ann", "/f"), &[]);
    let mut c = s.user("ann");
    let body = bytes(100_000, 5);
    let reply = upload_reply(&mut c, "f", &body);
    assert!(reply.starts_with("452"), "{reply}\n{}", c.transcript);
    assert_eq!(s.injected(), 1, "{}", s.trace_text());
    assert_eq!(staged(&data), Vec::<String>::new());
    let mut c = s.user("ann");
    c.ok(&format!("upload f 100000 {}", md5_hex(&body)), "150 0 ");
}

/// Item 6: out of inodes for real (an ext4 made with few): the commit
/// cannot make the trash entry of the file it replaces, `452`, and
/// nothing stays staged
/// (before: the staged bytes were kept, holding the disk's space until
/// `--partial-ttl`); the server stays writable.
#[test]
fn out_of_inodes_at_the_commit_is_452_and_keeps_nothing_staged() {
    if !can_fault() {
        return;
    }
    let dir = test_dir!();
    let disk = Mount::ext4(&dir.path().join("img"), 16, Some(64), &dir.data());
    let s = Server::start(&disk.at, &[]);
    let mut c = s.user("ann");
    // Makes the user's directories (staging, sums, usage), and a file
    // whose replacement needs a trash entry (two inodes).
    assert!(c.upload("f", b"first").starts_with("226"));
    // Every inode taken, then one given back: for the staged file.
    let spare = disk.at.join("spare");
    fs::create_dir(&spare).unwrap();
    let mut n = 0;
    while fs::File::create(spare.join(n.to_string())).is_ok() {
        n += 1;
    }
    fs::remove_file(spare.join("0")).unwrap();
    let body = bytes(100_000, 7);
    let reply = upload_reply(&mut c, "f", &body);
    assert!(reply.starts_with("452"), "{reply}\n{}", c.transcript);
    assert_eq!(staged(&disk.at), Vec::<String>::new());
    fs::remove_dir_all(&spare).unwrap();
    let mut c = s.user("ann");
    c.ok("makedir d", "257");
    c.ok(&format!("upload f 100000 {}", md5_hex(&body)), "150 0 ");
}

/// Item 6: a failed rename in `mv`, `cp` or `claim` over a file leaves
/// no trash entry behind (before: a spurious entry, counted in the quota).
#[test]
fn a_failed_rename_over_a_file_leaves_no_trash_entry() {
    if !can_fault() {
        return;
    }
    let dir = test_dir!();
    let data = dir.data();
    {
        let s = Server::start(&data, &[]);
        let mut c = s.user("ann");
        assert!(c.upload("a", b"the new one").starts_with("226"));
        assert!(c.upload("b", b"the old one").starts_with("226"));
        assert!(c.upload("c", b"another old one").starts_with("226"));
    }
    // strace 6 matches a rename by its first path only: the source.
    let renames = "rename,renameat,renameat2:error=EIO:when=1";
    let s = Traced::start(&data, renames, &data.join("home/ann/a"), &[]);
    let mut c = s.user("ann");
    let reply = c.cmd("mv a b");
    assert!(reply.starts_with("451"), "{reply}\n{}", s.trace_text());
    assert_eq!(c.cmd("trash"), "212 0", "{}", c.transcript);
    assert_eq!(c.download("b"), b"the old one");
    drop(s);
    // `cp` renames a scratch copy (a random name) over b: the first rename
    // of the session's thread, wherever it is.
    let s = Traced::start_anywhere(&data, renames, &[]);
    let mut c = s.user("ann");
    let reply = c.cmd("cp a b");
    assert!(reply.starts_with("451"), "{reply}\n{}", c.transcript);
    assert_eq!(c.cmd("trash"), "212 0", "{}", c.transcript);
    assert_eq!(c.download("b"), b"the old one");
    c.ok("cp a b", "250");
    c.ok("trash", "212 1");
    // `claim` renames its staged link (a random name) over c.
    let mut c = s.user("ann");
    let content = b"the new one";
    let head = c.ok(&format!("claim c {} {}", content.len(), md5_hex(content)), "350 ");
    let reply = c.cmd(&proof(&head, content));
    assert!(reply.starts_with("451"), "{reply}\n{}", c.transcript);
    let head = c.ok("trash", "212 1");
    assert!(c.lines_after(&head)[0].ends_with(" /b"), "only cp's entry:\n{}", c.transcript);
    assert_eq!(c.download("c"), b"another old one");
}

/// Item 6: a trash entry that cannot be read is `451` for `trash` and
/// `restore`, never hidden or "no such entry" (before: `212 0`, `550`).
#[test]
fn an_unreadable_trash_entry_is_451_not_missing() {
    if !can_fault() {
        return;
    }
    let dir = test_dir!();
    let data = dir.data();
    let id = trashed(&data, b"in the trash");
    let info = data.join("trash/ann").join(&id).join("info");
    let s = Traced::start(&data, "openat:error=EMFILE:when=1", &info, &[]);
    // Each connection's thread meets its own first failure; the second
    // look reads the entry.
    let mut c = s.user("ann");
    let reply = c.cmd("trash");
    assert!(reply.starts_with("451"), "{reply}");
    assert_eq!(only_trash_id(&mut c), id);
    let mut c = s.user("ann");
    let reply = c.cmd(&format!("restore {id}"));
    assert!(reply.starts_with("451"), "{reply}");
    c.ok(&format!("restore {id}"), "257");
}

/// An HTTP group across connections (`service::grouped`) whose `syncfs`
/// fails: every member gets `503` (a 500 that made the storage
/// read-only), none a success; nothing of theirs is a file (the replaced
/// one keeps its old content) and no bytes stay staged, as for a
/// pipelined text group; later `PUT`s get `503`. The group is made as in
/// `groupcommit.rs`: the user's replace lock held here until the three
/// other uploads queued behind the first.
#[test]
fn an_http_group_whose_syncfs_failed_fails_every_member_and_keeps_nothing() {
    if !can_fault() {
        return;
    }
    let dir = test_dir!();
    let data = dir.data();
    with_user(&data, "alice");
    let s = Traced::start_anywhere(&data, "syncfs:error=EIO", &["--http", "127.0.0.1:0"]);
    let files = http_group(&s);
    let held = hold_replace_lock(&data, "alice");
    let replies = uploads_while(&s.http, "alice", &files, || {
        s.wait_log("action=queue", 3);
        drop(held);
    });
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [503; 4], "{}\n{}", s.log_text(), s.trace_text());
    assert!(s.log_text().contains("committed 4 uploads in one group failed=4"), "{}", s.log_text());
    assert_eq!(s.injected(), 1, "one syncfs for the group: {}", s.trace_text());
    assert!(holds(&s, "over", b"old"), "the replaced file is untouched");
    let mut c = s.user("alice");
    assert_eq!(c.ls(""), vec!["over".to_string()], "no new file");
    // Nothing staged, the tus upload's record neither: its bytes are
    // discarded, never resumed (PROTOCOL.md "Failing storage").
    assert_eq!(staged(&data), Vec::<String>::new());
    assert_eq!(upload(&s.http, "alice", "/files/late", b"late").status, 503);
}

/// The HTTP face after a failed sync: `PUT` and `DELETE` get `503` (before
/// anything is read or changed) while downloads go on.
#[test]
fn after_a_failed_sync_http_writes_get_503() {
    if !can_fault() {
        return;
    }
    let dir = test_dir!();
    let data = dir.data();
    Server::start(&data, &[]).user("ann").upload("f", b"kept");
    let s = Traced::start(&data, "fsync:error=EIO:when=1", &data.join("home/ann"), &["--http", "127.0.0.1:0"]);
    let mut c = s.user("ann");
    let reply = c.cmd("makedir d");
    assert!(reply.starts_with("451"), "{reply}\n{}", c.transcript);
    let basic = "Authorization: Basic YW5uOnB3LWFubg==\r\n";
    let ask = |method: &str, path: &str, body: &str| {
        let mut sock = std::net::TcpStream::connect(&s.http).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let raw = format!(
            "{method} {path} HTTP/1.1\r\nHost: a\r\n{basic}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        sock.write_all(raw.as_bytes()).unwrap();
        let mut out = String::new();
        let _ = std::io::Read::read_to_string(&mut sock, &mut out);
        out
    };
    assert!(ask("PUT", "/files/g", "new").starts_with("HTTP/1.1 503 "));
    assert!(ask("DELETE", "/files/f", "").starts_with("HTTP/1.1 503 "));
    let got = ask("GET", "/files/f", "");
    assert!(got.starts_with("HTTP/1.1 200 ") && got.ends_with("\r\n\r\nkept"), "reads go on: {got}");
}

/// A tus PATCH cut off mid-body holds its upload while it saves what came
/// (made slow here: from the second `rename` of each thread on, each one
/// waits 3 s; a request's first is its own record of the attempt, the
/// later ones the saves after the cut). A HEAD sent right after the cut,
/// as the web app sends when the file is chosen again, waits for that and
/// answers the offset, never `423`. (`strace -P` cannot single out the
/// record: it matches only the first path of a `rename`.)
#[test]
fn a_tus_head_right_after_a_cut_patch_gets_the_offset_not_423() {
    if !can_fault() {
        return;
    }
    let dir = test_dir!();
    let data = dir.data();
    Server::start(&data, &[]).user("ann");
    let part = part_of(&data, "ann", "/f.bin");
    let s = Traced::start_anywhere(&data, "rename:delay_enter=3000000:when=2+", &["--http", "127.0.0.1:0"]);
    let tus = format!("{}Tus-Resumable: 1.0.0\r\n", http::auth("ann"));
    let meta = "Upload-Length: 4194304\r\nUpload-Metadata: filename Zi5iaW4=\r\nContent-Length: 0\r\n";
    let created = http::ask(&s.http, "POST", "/tus/", &format!("{tus}{meta}"), b"");
    assert_eq!(created.status, 201, "{created:?}");
    let url = created.header("location").unwrap();
    let id = url.rsplit('/').next().unwrap().to_string();
    // 1 MiB of the 4 MiB, then the client is gone (its connection closed).
    let mut cut = std::net::TcpStream::connect(&s.http).unwrap();
    let patch = format!(
        "PATCH /tus/{id} HTTP/1.1\r\nHost: a\r\n{tus}Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\nContent-Length: 4194304\r\n\r\n"
    );
    cut.write_all(patch.as_bytes()).unwrap();
    cut.write_all(&bytes(1 << 20, 5)).unwrap();
    wait_until(60, "the first MiB staged", || fs::metadata(&part).is_ok_and(|m| m.len() == 1 << 20));
    drop(cut);
    let head = http::ask(&s.http, "HEAD", &format!("/tus/{id}"), &tus, b"");
    assert_eq!(head.status, 200, "{head:?}\n{}", s.log_text());
    assert_eq!(head.header("upload-offset").as_deref(), Some("1048576"), "{head:?}");
}
