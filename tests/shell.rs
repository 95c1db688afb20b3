//! The example client as people use it, against a real server: script mode
//! (stop at the first failure, `-` lines, comments, `--keep-going`, `-c`),
//! `~` paths and passwords from the environment; and, in a terminal driven
//! through tmux, line editing, history, Tab completion, Ctrl-C during an
//! upload, a password prompt that does not echo, and the terminal settings
//! given back on every way out. The tmux tests are skipped, with a message,
//! where tmux is missing.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Server, bytes, client_command, example_client, fixture, run, wait_until};
use netdisk::client::Client;

/// Runs the client with `args` in `cwd`, `HOME` set to `home`, `stdin` piped in.
fn client(args: &[&str], cwd: &Path, home: &Path, env: &[(&str, &str)], stdin: &str) -> (i32, String, String) {
    let ran = run(client_command().args(args).current_dir(cwd).env("HOME", home).envs(env.iter().copied()), stdin);
    (ran.code, ran.out, ran.err)
}

fn names(s: &Server, path: &str) -> Vec<String> {
    let mut c = Client::connect(&s.addr).unwrap();
    c.login("bob", "pw").unwrap();
    c.ls(Some(path)).unwrap().into_iter().map(|e| e.name).collect()
}

#[test]
fn scripts_stop_at_the_first_failure_unless_the_line_says_otherwise() {
    let s = fixture!();
    let dir = &s.dir;
    let text = "register bob pw\nlogin bob pw\n# a comment\n-rm missing.txt\nmkdir -p backups/2026\n\
                mkdir -p /backups/2026\ncd nowhere\nmkdir wrong-place\n";
    let (code, out, err) = client(&[&s.addr], dir.path(), dir.path(), &[], text);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("(ignored, the line starts with -)"), "{err}");
    assert!(err.contains("stopped at line 7: cd nowhere"), "{err}");
    assert_eq!(names(&s, "/"), ["backups"], "nothing after the failed cd; mkdir -p twice is fine");
    assert_eq!(names(&s, "/backups"), ["2026"]);

    let (code, _, err) = client(&["--keep-going", &s.addr], dir.path(), dir.path(), &[], text);
    assert_eq!(code, 1, "{err}");
    assert!(names(&s, "/").contains(&"wrong-place".to_string()), "--keep-going runs every line");

    let (code, out, err) =
        client(&["-c", "login bob pw; cd backups; pwd; cd nowhere; mkdir x", &s.addr], dir.path(), dir.path(), &[], "");
    assert_eq!(code, 1, "{err}");
    assert!(out.contains("/backups\n") && err.contains("stopped at line 4: cd nowhere"), "{out}\n{err}");
    assert!(!names(&s, "/backups").contains(&"x".to_string()));
    let (code, out, _) = client(&["-c", "help upload", &s.addr], dir.path(), dir.path(), &[], "");
    assert_eq!(code, 0);
    assert!(out.contains("usage: upload LOCAL [REMOTE]") && out.contains("example: upload"), "{out}");
}

/// Protocol 2.1: `quota` also tells files and directories held and
/// allowed; the shell shows both.
#[test]
fn quota_shows_bytes_and_entries() {
    let s = fixture!(&["--quota", "1K", "--max-entries", "50"]);
    let dir = &s.dir;
    let script = "register bob pw; login bob pw; mkdir -p a/b; quota";
    let (code, out, err) = client(&["-c", script, &s.addr], dir.path(), dir.path(), &[], "");
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("; 2 of 50 files and folders\n"), "{out}");
    let mut c = Client::connect(&s.addr).unwrap();
    c.login("bob", "pw").unwrap();
    let quota = c.quota().unwrap();
    assert_eq!((quota.used, quota.limit, quota.entries, quota.max_entries), (0, Some(1024), Some(2), Some(50)));
}

#[test]
fn tilde_paths_and_passwords_from_the_environment() {
    let s = fixture!();
    let dir = &s.dir;
    let home = dir.path().join("home me");
    fs::create_dir_all(home.join("my docs")).unwrap();
    fs::write(home.join("my docs/notes.txt"), b"hello\n").unwrap();
    let (code, _, err) = client(&[&s.addr], dir.path(), &home, &[], "register bob pw\nlogin bob\n");
    assert_eq!(code, 1);
    assert!(err.contains("NETDISK_PASSWORD"), "no terminal and no password: {err}");
    let text = "login bob\nupload ~/my\\ docs/notes.txt\n-download notes.txt '~/copy.txt'\n\
                download notes.txt ~/\"my docs\"/back.txt\n-download notes.txt nodir/x.txt\nlcd ~\nlpwd\nls\n";
    let (code, out, err) = client(&[&s.addr], dir.path(), &home, &[("NETDISK_PASSWORD", "pw")], text);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("logged in as bob"), "{out}");
    assert_eq!(fs::read(home.join("my docs/back.txt")).unwrap(), b"hello\n", "~ expands");
    assert!(err.contains("local directory ~ does not exist"), "a quoted ~ does not expand: {err}");
    assert!(err.contains("local directory nodir does not exist"), "{err}");
    assert!(out.contains(&format!("{}\n", home.display())), "lcd ~: {out}");
    assert!(out.contains(" UTC  notes.txt"), "ls says its times are UTC: {out}");
}

#[test]
fn batch_commands_in_a_script_folders_find_trash_restore_and_mirror() {
    let s = fixture!();
    let dir = &s.dir;
    let work = dir.path().join("work");
    fs::create_dir_all(work.join("tree/sub/empty")).unwrap();
    fs::write(work.join("tree/a.txt"), b"alpha\n").unwrap();
    fs::write(work.join("tree/sub/b.txt"), b"beta\n").unwrap();
    let text = "register bob pw\nlogin bob pw\nupload tree\nupload tree\nfind tree\nrm -r tree\ntrash\n";
    let (code, out, err) = client(&[&s.addr], &work, dir.path(), &[], text);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("uploaded tree/sub/b.txt") && out.contains("made tree/sub/empty"), "{out}");
    assert!(out.contains("2 transferred, 0 up to date, 0 deleted, 11 bytes in"), "a summary: {out}");
    assert!(out.contains("0 transferred, 2 up to date, 0 deleted, 0 bytes in"), "a re-run says so: {out}");
    let md5_b = netdisk::Digest::of(b"beta\n").to_string();
    assert!(out.contains(&format!("{md5_b}  sub/b.txt")), "find shows MD5 and path: {out}");
    assert!(out.contains("moved to the trash: tree\n"), "rm -r says where the folder went: {out}");
    let trashed = out.lines().find(|l| l.ends_with("  /tree")).expect("trash lists /tree");
    let id = trashed.split_whitespace().next().unwrap();
    assert!(names(&s, "/").is_empty(), "rm -r took the tree");

    let text = format!("login bob pw\nrestore {id}\nmirror --dry-run tree copy\nfind tree\n");
    let (code, out, err) = client(&[&s.addr], &work, dir.path(), &[], &text);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("restored /tree"), "{out}");
    assert!(out.contains("would download copy/sub/b.txt"), "{out}");
    assert!(
        out.contains("dry run: 2 to transfer, 0 up to date, 0 to delete, 11 bytes\n"),
        "the summary of what would be done: {out}"
    );
    assert!(!work.join("copy").exists(), "a dry run changes nothing");
    assert_eq!(names(&s, "/tree"), ["a.txt", "sub"]);

    // A batch with a failure is a failing command: the script stops there.
    let text = "login bob pw\nrm tree/a.txt missing.txt\nmkdir after\n";
    let (code, _, err) = client(&[&s.addr], &work, dir.path(), &[], text);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("failed: missing.txt") && err.contains("stopped at line 2"), "{err}");
    assert_eq!(names(&s, "/tree"), ["sub"], "the other path of the batch went");
    assert!(!names(&s, "/").contains(&"after".to_string()));

    // passwd alone in a script takes both passwords from the environment.
    let env = [("NETDISK_PASSWORD", "pw"), ("NETDISK_NEW_PASSWORD", "pw2")];
    let (code, out, err) = client(&[&s.addr], &work, dir.path(), &env, "login bob\npasswd\n");
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, _, err) = client(&[&s.addr], &work, dir.path(), &[("NETDISK_PASSWORD", "pw2")], "login bob\npasswd\n");
    assert_eq!(code, 1);
    assert!(err.contains("NETDISK_NEW_PASSWORD"), "{err}");
}

#[test]
fn overlapping_patterns_move_each_file_once() {
    let s = fixture!();
    let dir = &s.dir;
    let work = dir.path().join("work");
    fs::create_dir_all(work.join("back")).unwrap();
    for i in 1..=5 {
        fs::write(work.join(format!("a{i}.log")), format!("log {i}\n")).unwrap();
    }
    let text = "register bob pw\nlogin bob pw\nmput *.log \"a[12].log\" ./a1.log\nlcd back\n\
                mget *.log \"a[12].log\" /a1.log ./a2.log\n";
    let (code, out, err) = client(&[&s.addr], &work, dir.path(), &[], text);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(out.matches("uploaded a1.log").count(), 1, "{out}");
    assert_eq!(out.matches("downloaded a2.log").count(), 1, "{out}");
    assert_eq!(out.matches("5 transferred, 0 up to date, 0 deleted, 30 bytes in").count(), 2, "{out}");
}

#[test]
fn an_instant_upload_says_so_and_a_resumed_download_says_received() {
    let s = fixture!();
    let dir = &s.dir;
    let data = bytes(1_500_000, 5);
    fs::write(dir.path().join("big.bin"), &data).unwrap();
    let text = "register bob pw\nlogin bob pw\nupload big.bin /a.bin\nupload big.bin /b.bin\n";
    let (code, out, err) = client(&[&s.addr], dir.path(), dir.path(), &[], text);
    assert_eq!(code, 0, "{out}\n{err}");
    let second = out.lines().skip_while(|l| !l.starts_with("uploaded big.bin -> /a.bin")).skip(1).collect::<Vec<_>>();
    assert_eq!(second[0], "instant: the server already has this content", "{out}");
    assert!(second[1].starts_with("uploaded big.bin -> /b.bin: 1.4 MiB, instant (nothing sent), MD5 "), "{out}");
    assert!(!err.contains("resuming") && !out.contains("sent 0 B"), "no resume wording: {out}\n{err}");

    // A download that finds the first 500,000 bytes in place.
    fs::write(dir.path().join("got.bin.part"), &data[..500_000]).unwrap();
    let info = format!("{} {} /a.bin\n", data.len(), netdisk::Digest::of(&data));
    fs::write(dir.path().join("got.bin.part.info"), info).unwrap();
    let (code, out, err) = client(&[&s.addr], dir.path(), dir.path(), &[], "login bob pw\ndownload /a.bin got.bin\n");
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("-> got.bin: received 976.6 KiB of 1.4 MiB in "), "{out}");
    assert_eq!(fs::read(dir.path().join("got.bin")).unwrap(), data);
}

#[test]
fn a_command_with_one_target_reports_its_failure_once() {
    let s = fixture!();
    let dir = &s.dir;
    fs::write(dir.path().join("f.txt"), b"f\n").unwrap();
    let text = "register bob pw\nlogin bob pw\nupload f.txt\nmkdir sub\n-mkdir /f.txt/x\n-rm /sub\n-mv /nope /sub\n";
    let (code, out, err) = client(&[&s.addr], dir.path(), dir.path(), &[], text);
    assert_eq!(code, 0, "{out}\n{err}");
    for path in ["/f.txt/x", "/sub: is a directory", "/nope -> "] {
        assert_eq!(err.matches(path).count(), 1, "{path} once: {err}");
    }
    assert!(err.contains("error (ignored, the line starts with -): /sub: is a directory; use rm -r"), "{err}");
}

#[test]
fn a_bad_address_is_a_usage_error() {
    let dir = common::TempDir::new("bad-address");
    for addr in ["localhost:99999", "localhost:0", "localhost:x"] {
        let (code, out, err) = client(&[addr], dir.path(), dir.path(), &[], "");
        assert_eq!(code, 2, "{out}\n{err}");
        assert!(err.contains(&format!("bad address {addr}: the port must be a number from 1 to 65535")), "{err}");
        assert!(!err.contains("make run-server") && !err.contains("cannot reach"), "no hint: {err}");
    }
}

#[test]
fn help_fits_80_columns_and_pwd_wants_a_login() {
    let s = fixture!();
    let dir = &s.dir;
    let (code, out, err) = client(&["-c", "help", &s.addr], dir.path(), dir.path(), &[], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().all(|l| l.chars().count() <= 80), "{out}");
    assert!(out.lines().count() < 24, "help fits a 24-row screen with its prompt: {out}");
    assert!(out.contains("  transfers  upload download mput mget mirror\n"), "grouped: {out}");
    let (code, out, err) = client(&["-c", "help all", &s.addr], dir.path(), dir.path(), &[], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().all(|l| l.chars().count() <= 80), "{out}");
    assert!(out.contains("  mirror [-R] [--delete] [--dry-run] SOURCE TARGET\n"), "{out}");
    let (code, out, err) = client(&["-c", "pwd", &s.addr], dir.path(), dir.path(), &[], "");
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.is_empty() && err.contains("error: not logged in; log in first (login USER)"), "{out}\n{err}");
}

#[test]
fn local_problems_are_named_before_anything_starts() {
    let s = fixture!();
    let dir = &s.dir;
    fs::write(dir.path().join("sub"), b"a file\n").unwrap();
    let text = "register bob pw\nlogin bob pw\nmkdir sub\n-upload nope.txt\n-download /sub\n";
    let (code, out, err) = client(&[&s.addr], dir.path(), dir.path(), &[], text);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(err.contains("): no such local file: nope.txt\n"), "{err}");
    assert!(err.contains("): sub: a local file is in the way of folder /sub; move it or give another target"), "{err}");
    assert_eq!(fs::read(dir.path().join("sub")).unwrap(), b"a file\n");
}

#[test]
fn a_folder_upload_skips_links_to_directories_and_follows_links_to_files() {
    let s = fixture!();
    let dir = &s.dir;
    let tree = dir.path().join("tree");
    fs::create_dir_all(tree.join("real")).unwrap();
    fs::write(tree.join("real/a.txt"), b"alpha\n").unwrap();
    std::os::unix::fs::symlink(tree.join("real"), tree.join("dirlink")).unwrap();
    std::os::unix::fs::symlink(tree.join("real/a.txt"), tree.join("filelink")).unwrap();
    let (code, out, err) =
        client(&[&s.addr], dir.path(), dir.path(), &[], "register bob pw\nlogin bob pw\nupload tree\n");
    assert_eq!(code, 0, "a skipped link is not a failure: {out}\n{err}");
    assert!(out.contains("skipped: tree/dirlink: symbolic link to a directory\n"), "{out}");
    assert!(out.contains("2 transferred, 0 up to date, 0 deleted, 1 skipped, 12 bytes in"), "{out}");
    assert_eq!(names(&s, "/tree"), ["filelink", "real"]);
}

/// A tmux server of its own, with one bash pane in `dir` and `HOME=dir`
/// (keeping no history file, which would outlive the test's directory).
struct Tmux {
    socket: PathBuf,
    dir: PathBuf,
}

impl Tmux {
    /// `None` (after saying why) when tmux is not installed.
    fn start(dir: &Path) -> Option<Tmux> {
        Tmux::sized(dir, 200, 50)
    }

    /// As [`Tmux::start`], with a window `cols` wide and `rows` high.
    fn sized(dir: &Path, cols: usize, rows: usize) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            eprintln!("SKIPPED: tmux is not installed (apt-get install tmux)");
            return None;
        }
        let tmux = Tmux { socket: dir.join("tmux.sock"), dir: dir.to_path_buf() };
        let home = format!("HOME={}", dir.display());
        let shell = [
            "env",
            "-i",
            "PATH=/usr/bin:/bin",
            &home,
            "TERM=xterm",
            "PS1=$ ",
            "HISTFILE=",
            "bash",
            "--norc",
            "--noprofile",
        ];
        tmux.run(
            &[
                &["new-session", "-d", "-s", "t", "-x", &cols.to_string(), "-y", &rows.to_string(), "-c"],
                &[dir.to_str().unwrap()][..],
                &shell,
            ]
            .concat(),
        );
        Some(tmux)
    }

    fn run(&self, args: &[&str]) -> String {
        // A UTF-8 locale, so that tmux counts wide characters as wide.
        let out =
            Command::new("tmux").env("LC_ALL", "C.UTF-8").arg("-S").arg(&self.socket).args(args).output().unwrap();
        assert!(out.status.success(), "tmux {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Types `text` literally.
    fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "t", "-l", text]);
    }

    /// Presses keys by name (`Enter`, `Up`, `Tab`, `C-c`).
    fn keys(&self, keys: &[&str]) {
        self.run(&[&["send-keys", "-t", "t"][..], keys].concat());
    }

    fn line(&self, text: &str) {
        self.type_text(text);
        self.keys(&["Enter"]);
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-J", "-t", "t", "-S", "-"])
    }

    /// Waits until `text` is on the screen `count` times.
    fn wait(&self, text: &str, count: usize) {
        let mut screen = String::new();
        let mut seen = || {
            screen = self.screen();
            screen.matches(text).count() >= count
        };
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| wait_until(60, text, &mut seen))).is_err() {
            panic!("timed out waiting for {count} x {text:?}; screen:\n{screen}");
        }
    }

    /// The visible screen, row by row, trailing blanks cut (no joining of
    /// wrapped rows: what the eye sees).
    fn rows(&self) -> Vec<String> {
        self.run(&["capture-pane", "-p", "-t", "t"]).lines().map(|l| l.trim_end().to_string()).collect()
    }

    /// The cursor: (column, row) of the visible screen.
    fn cursor(&self) -> (usize, usize) {
        let at = self.run(&["display-message", "-p", "-t", "t", "#{cursor_x} #{cursor_y}"]);
        let (x, y) = at.trim().split_once(' ').unwrap();
        (x.parse().unwrap(), y.parse().unwrap())
    }

    /// Waits until the screen's rows satisfy `cond`.
    fn wait_rows(&self, what: &str, cond: impl Fn(&[String]) -> bool) {
        let mut rows = Vec::new();
        let mut seen = || {
            rows = self.rows();
            cond(&rows)
        };
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| wait_until(60, what, &mut seen))).is_err() {
            panic!("timed out waiting for {what}; screen:\n{}", rows.join("\n"));
        }
    }

    /// Starts the client in the pane, saving `stty -g` before and after it
    /// under `tag`; `exited-TAG` is printed when it has ended.
    fn client(&self, addr: &str, tag: &str) {
        let exe = example_client();
        self.line(&format!(
            "stty -g > before-{tag}; {} {addr}; stty -g > after-{tag}; echo exit\"\"ed-{tag}",
            exe.display()
        ));
    }

    fn stty(&self, name: &str) -> String {
        fs::read_to_string(self.dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn assert_restored(&self, tag: &str) {
        self.wait(&format!("exited-{tag}"), 1);
        assert_eq!(self.stty(&format!("before-{tag}")), self.stty(&format!("after-{tag}")), "stty -g after {tag}");
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").arg("-S").arg(&self.socket).arg("kill-server").output();
    }
}

fn signal(server: &Server, sig: &str) {
    let ok = Command::new("kill").args([sig, &server.child.id().to_string()]).status().unwrap();
    assert!(ok.success());
}

#[test]
fn a_terminal_session_with_history_completion_ctrl_c_and_a_hidden_password() {
    let s = fixture!();
    let dir = &s.dir;
    let Some(t) = Tmux::start(dir.path()) else { return };
    fs::write(dir.path().join("big.bin"), bytes(8 << 20, 7)).unwrap();
    t.client(&s.addr, "quit");
    t.wait("type help for commands", 1);
    t.line("register alice");
    t.wait("Password: ", 1);
    t.line("pw-secret-1");
    t.wait("Password again: ", 1);
    t.line("pw-secret-1");
    t.wait("registered alice", 1);
    t.line("login alice");
    t.wait("Password: ", 2);
    t.line("pw-secret-1");
    t.wait("logged in as alice", 1);
    assert!(!t.screen().contains("pw-secret-1"), "the password was echoed:\n{}", t.screen());

    t.line("help quota");
    t.wait("usage: quota", 1);
    t.keys(&["Up", "Enter"]);
    t.wait("usage: quota", 2);

    let mut lib = Client::connect(&s.addr).unwrap();
    lib.login("alice", "pw-secret-1").unwrap();
    fs::write(dir.path().join("r.txt"), b"report\n").unwrap();
    lib.upload(&dir.path().join("r.txt"), "report 2026.txt", &mut |_| true).unwrap();
    t.type_text("stat rep");
    t.keys(&["Tab", "Enter"]);
    t.wait("report 2026.txt: file, 7 B", 1);
    assert!(t.screen().contains("> stat \"report 2026.txt\""), "{}", t.screen());

    // Hold the server still so that Ctrl-C lands during the upload.
    signal(&s, "-STOP");
    t.line("upload big.bin");
    t.wait("uploading big.bin", 1);
    t.keys(&["C-c"]);
    signal(&s, "-CONT");
    t.wait("repeat the command to resume", 1);
    t.line("help rm");
    t.wait("usage: rm [-r] PATH", 1);
    t.keys(&["Up", "Up", "Enter"]);
    t.wait("verified by the server", 1);
    // How much was sent before the Ctrl-C depends on the socket buffers;
    // what matters is that the upload resumed instead of starting over.
    assert!(t.screen().contains("(resumed at "), "{}", t.screen());

    t.line("login alice pw-secret-1");
    t.wait("logged in as alice", 2);
    t.line("peek abcdefghijkmnp27");
    t.wait("unknown or expired code", 1);
    t.line("quit");
    t.assert_restored("quit");
    let history = fs::read_to_string(dir.path().join(".netdisk_history")).unwrap();
    assert!(history.contains("login alice ***\n") && !history.contains("secret"), "{history}");
    assert!(history.contains("peek ***\n") && !history.contains("abcdefghijkmnp27"), "share codes too: {history}");
}

#[test]
fn a_terminal_asks_a_new_password_twice_and_checks_a_local_file_first() {
    let s = fixture!();
    let dir = &s.dir;
    let Some(t) = Tmux::start(dir.path()) else { return };
    t.client(&s.addr, "twice");
    t.wait("type help for commands", 1);
    t.line("register bob");
    t.wait("Password: ", 1);
    t.line("pw-one");
    t.wait("Password again: ", 1);
    t.line("pw-typo");
    t.wait("error: the passwords differ; no account made", 1);
    assert!(!s.logs_in("bob", "pw-one") && !s.logs_in("bob", "pw-typo"), "no account made");
    t.line("upload nope.txt");
    t.wait("error: no such local file: nope.txt", 1);
    assert!(!t.screen().contains("uploading nope.txt"), "{}", t.screen());
    t.line("quit");
    t.assert_restored("twice");
}

#[test]
fn the_terminal_is_restored_on_every_way_out() {
    let s = fixture!();
    let dir = &s.dir;
    let Some(t) = Tmux::start(dir.path()) else { return };
    let prompt = "(not logged in)@";
    t.client(&s.addr, "eof");
    t.wait(prompt, 1);
    t.keys(&["C-d"]);
    t.assert_restored("eof");

    t.client(&s.addr, "ctrlc");
    t.wait(prompt, 2);
    t.type_text("some text");
    t.keys(&["C-c", "C-c"]);
    t.assert_restored("ctrlc");

    // Ctrl-Z: the shell around the client runs the rest of its line while
    // the client is stopped; `fg` brings it back with its line redrawn.
    t.line(&format!("stty -g > before-z; {} {}", example_client().display(), s.addr));
    t.wait(prompt, 3);
    t.type_text("help qu");
    t.wait("> help qu", 1);
    t.keys(&["C-z"]);
    t.wait("Stopped", 1);
    // The rest of the list runs once the client exits after `fg`, so
    // nothing is typed while the client could still read it.
    t.line("stty -g > stopped-z; fg; stty -g > after-z; echo exit\"\"ed-z");
    t.wait("> help qu", 2);
    t.line("ota");
    t.wait("usage: quota", 1);
    t.line("quit");
    t.assert_restored("z");
    assert_eq!(t.stty("before-z"), t.stty("stopped-z"), "stty -g while stopped");
}

/// Display width as a terminal counts it, for the tests' own checks:
/// CJK ideographs and fullwidth forms 2, the rest of these tests' text 1.
fn columns_of(text: &str) -> usize {
    text.chars().map(|c| if matches!(c as u32, 0x3000..=0x9fff | 0xff00..=0xff60) { 2 } else { 1 }).sum()
}

#[test]
fn cjk_names_edit_in_place_in_the_prompt_and_wrapped_lines_at_80_columns() {
    let s = fixture!();
    let dir = &s.dir;
    let mut c = s.client("bob");
    c.makedir("文档").unwrap();
    fs::write(dir.path().join("one.txt"), b"1").unwrap();
    let photos: Vec<String> = (0..12).map(|i| format!("夏天的照片第{i:02}号.jpg")).collect();
    for name in &photos {
        c.upload(&dir.path().join("one.txt"), &format!("/文档/{name}"), &mut |_| true).unwrap();
    }
    let Some(t) = Tmux::sized(dir.path(), 80, 24) else { return };
    t.client(&s.addr, "cjk");
    t.wait("type help for commands", 1);
    t.line("login bob pw-bob");
    t.wait("logged in as bob", 1);
    t.line("cd 文档");
    let prompt = format!("bob@{}:/文档> ", s.addr);
    t.wait(&prompt, 1);

    // Ctrl-A then X: the line reads as typed, the cursor right after X.
    t.type_text("ls 文档文档");
    t.keys(&["C-a"]);
    t.type_text("X");
    let want = format!("{prompt}Xls 文档文档");
    t.wait_rows("the edited line", |rows| rows.contains(&want));
    let (x, y) = t.cursor();
    assert_eq!(x, columns_of(&prompt) + 1, "cursor after X; screen:\n{}", t.rows().join("\n"));
    assert_eq!(t.rows()[y], want);
    // Right over a wide character moves two columns; typing inserts there.
    t.keys(&["Right", "Right", "Right", "Right"]);
    t.type_text("Y");
    let want = format!("{prompt}Xls 文Y档文档");
    t.wait_rows("an insertion after a wide character", |rows| rows.contains(&want));
    assert_eq!(t.cursor().0, columns_of(&prompt) + 7);
    t.keys(&["C-e", "C-u"]);

    // A line longer than the terminal wraps; editing its start keeps
    // both rows right, with nothing left over.
    let long = "文".repeat(40);
    t.type_text(&format!("ls {long}"));
    t.keys(&["C-a"]);
    t.type_text("Z");
    let all = format!("{prompt}Zls {long}");
    let first = all.chars().scan(0, |w, c| {
        *w += columns_of(&c.to_string());
        (*w <= 80).then_some(c)
    });
    let first: String = first.collect();
    let second: String = all.chars().skip(first.chars().count()).collect();
    t.wait_rows("the wrapped line", |rows| {
        rows.iter().position(|r| *r == first).is_some_and(|i| rows.get(i + 1) == Some(&second))
    });
    let rows = t.rows();
    assert_eq!(rows.iter().filter(|r| r.contains('文')).count(), 3, "the cd line and two rows:\n{}", rows.join("\n"));
    t.keys(&["C-e", "C-u"]);

    // Tab lists the names in columns by display width: none is cut.
    t.type_text("stat ");
    t.keys(&["Tab"]);
    t.wait("> stat 夏天的照片第", 1);
    t.keys(&["Tab"]);
    t.wait(&photos[11], 1);
    let rows = t.rows();
    for name in &photos {
        assert_eq!(rows.iter().filter(|r| r.contains(name.as_str())).count(), 1, "{name} whole:\n{}", rows.join("\n"));
    }
    let listed = rows.iter().filter(|r| r.contains("夏天")).count();
    assert!(listed <= 6 && rows.iter().all(|r| columns_of(r) <= 80), "in columns:\n{}", rows.join("\n"));
    t.keys(&["C-u"]);
    t.line("quit");
    t.assert_restored("cjk");
}

/// A TCP proxy to `server` that forwards what the client sends only as
/// far as its allowance goes: a transfer through it can be held still at
/// a chosen byte and let go on.
struct Gate {
    addr: String,
    allowed: std::sync::Arc<(std::sync::Mutex<u64>, std::sync::Condvar)>,
}

impl Gate {
    fn new(server: &str, allowed: u64) -> Gate {
        use std::io::{Read, Write};
        use std::net::{TcpListener, TcpStream};
        use std::sync::{Arc, Condvar, Mutex};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let allowed = Arc::new((Mutex::new(allowed), Condvar::new()));
        let (gate, server) = (allowed.clone(), server.to_string());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(upstream) = TcpStream::connect(&server) else { return };
                let (down, mut up) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                std::thread::spawn(move || std::io::copy(&mut up, &mut down.try_clone().unwrap()));
                let (gate, mut from, mut to) = (gate.clone(), client, upstream);
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 64 << 10];
                    loop {
                        let budget = {
                            let (lock, cv) = &*gate;
                            let mut left = lock.lock().unwrap();
                            while *left == 0 {
                                left = cv.wait(left).unwrap();
                            }
                            *left
                        };
                        let want = buf.len().min(budget.min(usize::MAX as u64) as usize);
                        let n = match from.read(&mut buf[..want]) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        // Several connections share the budget (the client's
                        // hash-ahead claim opens a second), so two may read
                        // at once: what both took is taken, down to zero.
                        let mut left = gate.0.lock().unwrap();
                        *left = left.saturating_sub(n as u64);
                        drop(left);
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        Gate { addr, allowed }
    }

    /// Lets `more` bytes through.
    fn allow(&self, more: u64) {
        let (lock, cv) = &*self.allowed;
        let mut left = lock.lock().unwrap();
        *left = left.saturating_add(more);
        cv.notify_all();
    }
}

/// Rows that look like a progress bar.
fn bars(rows: &[String]) -> Vec<&String> {
    rows.iter().filter(|r| r.contains(" files") && r.contains("MiB /")).collect()
}

#[test]
fn progress_fits_the_terminal_and_ctrl_c_says_one_thing_at_80_columns() {
    let s = fixture!();
    let dir = &s.dir;
    let proj = dir.path().join("My Project");
    fs::create_dir_all(&proj).unwrap();
    for i in 0..50 {
        fs::write(proj.join(format!("note {i:02}.txt")), format!("note {i}\n")).unwrap();
    }
    let big = "a rather long name for a big video of the summer 大文件.bin";
    fs::write(proj.join(big), bytes(24 << 20, 3)).unwrap();
    s.client("bob");
    // Hold the upload 6 MiB into the big file (the small files go first).
    let gate = Gate::new(&s.addr, 6 << 20);
    let Some(t) = Tmux::sized(dir.path(), 80, 24) else { return };
    t.client(&gate.addr, "bars");
    t.wait("type help for commands", 1);
    t.line("login bob pw-bob");
    t.wait("logged in as bob", 1);
    t.line("upload \"My Project\"");
    t.wait_rows("a bar for the big file", |rows| bars(rows).iter().any(|r| r.contains(".bin")));
    let rows = t.rows();
    let bar = bars(&rows)[0].clone();
    assert!(columns_of(&bar) < 80 && bar.contains("…") && bar.contains("50/51 files"), "{bar}");
    assert!(bar.contains(" MiB / 24.0 MiB") && bar.ends_with("文件.bin"), "shortened in the middle: {bar}");

    // Narrower: the next redraw fits, and nothing is left of the wider one.
    t.run(&["resize-window", "-t", "t", "-x", "60"]);
    gate.allow(2 << 20);
    t.wait_rows("a bar at 60 columns", |rows| {
        let bars = bars(rows);
        bars.len() == 1 && columns_of(bars[0]) < 60 && bars[0].ends_with(".bin")
    });
    t.run(&["resize-window", "-t", "t", "-x", "80"]);

    // One Ctrl-C: one message, no bar, no failure, no separate summary.
    t.keys(&["C-c"]);
    gate.allow(u64::MAX);
    t.wait("repeat the command", 1);
    let rows: Vec<String> = t.screen().lines().map(|l| l.trim_end().to_string()).collect();
    let said: Vec<&String> = rows.iter().filter(|r| r.contains("interrupted") || r.contains("failed")).collect();
    assert_eq!(said.len(), 1, "one message:\n{}", rows.join("\n"));
    assert!(said[0].contains(&format!("in My Project/{big} at ")) || said[0].contains("interrupted in"), "{}", said[0]);
    assert!(said[0].contains("50 transferred") && said[0].contains("MiB moved"), "{}", said[0]);
    assert!(bars(&rows).is_empty(), "no bar left:\n{}", rows.join("\n"));
    assert_eq!(rows.iter().filter(|r| r.contains("transferred")).count(), 1, "{}", rows.join("\n"));

    // Again: it finishes, with a summary in human units and no bar left.
    t.keys(&["Up", "Enter"]);
    t.wait("1 transferred, 50 up to date, 0 deleted, ", 1);
    let rows = t.rows();
    assert!(bars(&rows).is_empty(), "no bar left:\n{}", rows.join("\n"));
    assert!(rows.iter().any(|r| r.contains("1 transferred, 50 up to date, 0 deleted, ") && r.contains(" MiB in ")));
    t.line("quit");
    t.assert_restored("bars");
}

#[test]
fn tab_leaves_a_valid_word_for_names_with_spaces_and_completes_trash_ids() {
    let s = fixture!();
    let dir = &s.dir;
    fs::create_dir_all(dir.path().join("My Project")).unwrap();
    fs::write(dir.path().join("My Project/a b.txt"), b"ab\n").unwrap();
    s.client("bob");
    let Some(t) = Tmux::sized(dir.path(), 80, 24) else { return };
    t.client(&s.addr, "tab");
    t.wait("type help for commands", 1);
    t.line("login bob pw-bob");
    t.wait("logged in as bob", 1);
    // A folder: the quote is closed, so Enter runs it as it stands.
    t.type_text("upload My");
    t.keys(&["Tab"]);
    t.wait("> upload \"My Project/\"", 1);
    t.keys(&["Enter"]);
    t.wait("1 transferred, 0 up to date", 1);
    assert!(!t.screen().contains("unterminated"), "{}", t.screen());
    // Tab again goes on inside the folder.
    t.type_text("rm My");
    t.keys(&["Tab"]);
    t.wait("> rm \"My Project/\"", 1);
    t.keys(&["Tab"]);
    t.wait("> rm \"My Project/a b.txt\" ", 1);
    t.keys(&["Enter"]);
    t.wait("moved to the trash: My Project/a b.txt", 1);
    // The one trash ID completes.
    t.type_text("restore ");
    t.keys(&["Tab", "Enter"]);
    t.wait("restored /My Project/a b.txt", 1);
    t.line("quit");
    t.assert_restored("tab");
}

#[test]
fn patterns_in_ls_rm_stat_find_a_new_account_logged_in_and_folder_targets_said() {
    let s = fixture!();
    let dir = &s.dir;
    let work = dir.path().join("work");
    fs::create_dir_all(work.join("docs")).unwrap();
    for name in ["a.md", "b.md", "x.log", "y.log", "docs/in.txt"] {
        fs::write(work.join(name), name).unwrap();
    }
    // `register` logs in: the next line needs no `login`.
    let text = "register bob pw\nmput *.md *.log docs\nls *.md\nls -l\nrm *.log\nstat *.md\nfind do*\n\
                -ls *.zip\n-mget *.zip\ndownload docs copy\ndownload docs into/\n";
    let (code, out, err) = client(&[&s.addr], &work, dir.path(), &[], text);
    assert_eq!(code, 0, "{out}\n{err}");
    let ls_md: Vec<&str> = out.lines().skip_while(|l| !l.contains("transferred")).skip(1).take(2).collect();
    assert!(ls_md[0].ends_with("  a.md") && ls_md[1].ends_with("  b.md"), "ls *.md: {out}");
    assert!(out.contains("  docs/\n") && out.contains("  x.log\n"), "ls -l lists the folder: {out}");
    assert!(out.contains("moved to the trash: x.log\nmoved to the trash: y.log\n"), "{out}");
    assert!(out.contains("a.md: file, 4 B (4 bytes)") && out.contains("b.md: file"), "stat *.md: {out}");
    assert!(out.contains("  in.txt\n"), "find do*: {out}");
    assert_eq!(err.matches("*.zip").count(), 2, "each failed pattern said once: {err}");
    assert!(out.contains("copy does not exist, so it becomes the copy of docs (as cp -r does)"), "{out}");
    assert_eq!(fs::read(work.join("copy/in.txt")).unwrap(), b"docs/in.txt");
    assert_eq!(fs::read(work.join("into/docs/in.txt")).unwrap(), b"docs/in.txt", "a trailing / means into");
    assert_eq!(names(&s, "/"), ["a.md", "b.md", "docs"]);
}

/// A server that answers only what `login`, `share` and `shares` need,
/// as a 2.1 server with its HTTP face on does; `quit` ends it.
fn fake_share_server() -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let mut out = conn.try_clone().unwrap();
            let _ = out.write_all(b"220 netdisk ready\r\n");
            for line in BufReader::new(conn).lines().map_while(Result::ok) {
                let reply = match line.split_whitespace().next().unwrap_or("") {
                    "login" => "230 logged in as bob\r\n".to_string(),
                    "share" => "200 abcdefghijkmnp27 http://disk.example:9080/s/abcdefghijkmnp27\r\n".into(),
                    "shares" => "212 1\r\nabcdefghijkmnp27 - d /docs\r\n".into(),
                    "quit" => "221 bye\r\n".into(),
                    _ => "500 not here\r\n".into(),
                };
                if out.write_all(reply.as_bytes()).is_err() || line == "quit" {
                    break;
                }
            }
        }
    });
    addr
}

#[test]
fn share_prints_the_link_and_shares_lists_it() {
    let dir = common::TempDir::new("share-link");
    let addr = fake_share_server();
    let (code, out, err) = client(&[&addr], dir.path(), dir.path(), &[], "login bob pw\nshare /docs\nshares\n");
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("share code: abcdefghijkmnp27\nlink: http://disk.example:9080/s/abcdefghijkmnp27\n"), "{out}");
    let listed = out.lines().find(|l| l.starts_with("abcdefghijkmnp27  d")).unwrap_or_else(|| panic!("{out}"));
    assert!(listed.ends_with("  /docs  http://disk.example:9080/s/abcdefghijkmnp27"), "{out}");
    // Another session knows the link too.
    let (code, out, _) = client(&[&addr], dir.path(), dir.path(), &[], "login bob pw\nshares\n");
    assert_eq!(code, 0);
    assert!(out.contains("  /docs  http://disk.example:9080/s/abcdefghijkmnp27\n"), "{out}");
}

#[test]
fn ctrl_c_during_a_transfer_reaches_the_client_only_not_make() {
    let s = fixture!();
    let dir = &s.dir;
    fs::write(dir.path().join("big.bin"), bytes(32 << 20, 9)).unwrap();
    s.client("bob");
    let gate = Gate::new(&s.addr, 2 << 20);
    let Some(t) = Tmux::sized(dir.path(), 80, 24) else { return };
    let recipe = format!("client:\n\t{} {}\n", example_client().display(), gate.addr);
    fs::write(dir.path().join("mk"), recipe).unwrap();
    t.line("make -s -f mk client; echo make-ex\"\"it-$?");
    t.wait("type help for commands", 1);
    t.line("login bob pw-bob");
    t.wait("logged in as bob", 1);
    t.line("upload big.bin");
    t.wait("uploading big.bin", 1);
    t.keys(&["C-c"]);
    gate.allow(u64::MAX);
    t.wait("repeat the command to resume", 1);
    t.line("quit");
    t.wait("make-exit-", 1);
    let screen = t.screen();
    assert!(screen.contains("make-exit-0") && !screen.contains("Interrupt"), "{screen}");
}

#[test]
fn a_command_line_script_on_a_terminal_takes_the_password_from_the_environment() {
    let s = fixture!();
    let dir = &s.dir;
    s.client("bob");
    let Some(t) = Tmux::sized(dir.path(), 80, 24) else { return };
    let exe = example_client();
    t.line(&format!("NETDISK_PASSWORD=pw-bob {} -c 'login bob; pwd' {}; echo do\"\"ne-$?", exe.display(), s.addr));
    t.wait("done-", 1);
    let screen = t.screen();
    assert!(screen.contains("logged in as bob\n/\ndone-0"), "{screen}");
    assert!(!screen.contains("Password:"), "{screen}");
}
