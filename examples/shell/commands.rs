//! The shell's commands: one table gives each its usage, help text,
//! example and the kind of each argument (which drives completion), and
//! the [`Shell`] methods that carry them out over `netdisk::client`.
//! Protocol text is never written here; the library does that.

use std::path::Path;

use netdisk::client::{ClientError, download_target};
use netdisk::proto::Command;
use netdisk::proto::body::Kind;

use crate::Shell;
use crate::show::{self, Bar};
use crate::term;
use crate::words::{self, Word};

/// What an argument names, for completion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    Command,
    Remote,
    Local,
    Other,
}

/// One command of the shell.
pub struct Spec {
    pub name: &'static str,
    pub alias: &'static str,
    pub args: &'static str,
    pub what: &'static str,
    pub example: &'static str,
    pub kinds: &'static [Arg],
}

const fn spec(name: &'static str, args: &'static str, what: &'static str, example: &'static str) -> Spec {
    Spec { name, alias: "", args, what, example, kinds: &[] }
}

use Arg::{Local, Other, Remote};

pub const COMMANDS: &[Spec] = &[
    Spec {
        kinds: &[Other],
        ..spec("register", "USER [PASS]", "create an account (asks for PASS twice)", "register alice")
    },
    Spec { kinds: &[Other], ..spec("login", "USER [PASS]", "log in (asks for PASS)", "login alice") },
    Spec { kinds: &[Other], ..spec("passwd", "[OLD NEW]", "change your password (asks for both)", "passwd") },
    Spec { kinds: &[Remote], ..spec("ls", "[PATH]", "list a remote directory (times in UTC)", "ls /backups") },
    Spec {
        alias: "makedir",
        kinds: &[Remote],
        ..spec(
            "mkdir",
            "[-p] PATH...",
            "make remote directories; -p: with their parents, fine if they exist",
            "mkdir -p backups/2026",
        )
    },
    Spec { kinds: &[Remote], ..spec("cd", "PATH", "change the remote directory", "cd \"my docs\"") },
    spec("pwd", "", "print the remote directory", "pwd"),
    Spec {
        kinds: &[Local, Remote],
        ..spec(
            "upload",
            "LOCAL [REMOTE]",
            "send a file or folder (into REMOTE if a directory); resumes",
            "upload ~/photos backups/",
        )
    },
    Spec {
        kinds: &[Remote, Local],
        ..spec(
            "download",
            "REMOTE [LOCAL]",
            "fetch a file or folder (into LOCAL if a directory); resumes",
            "download db.dump ~/restore/",
        )
    },
    Spec {
        kinds: &[Local],
        ..spec("mput", "PATTERN...", "send local files and folders matching *, ?, [..]", "mput *.txt")
    },
    Spec {
        kinds: &[Remote],
        ..spec("mget", "PATTERN...", "fetch remote files and folders matching *, ?, [..]", "mget docs/*.md")
    },
    Spec {
        kinds: &[Remote, Local],
        ..spec(
            "mirror",
            "[-R] [--delete] [--dry-run] SOURCE TARGET",
            "make local TARGET like remote SOURCE (-R: remote TARGET like local SOURCE)",
            "mirror -R --delete ~/photos /photos",
        )
    },
    Spec { kinds: &[Remote], ..spec("stat", "PATH", "size, time (UTC) and MD5 of a remote file", "stat db.dump") },
    Spec {
        kinds: &[Remote],
        ..spec("rm", "[-r] PATH...", "move remote files to the trash (-r: folders too)", "rm -r old")
    },
    Spec { kinds: &[Remote], ..spec("rmdir", "PATH", "remove an empty remote directory", "rmdir empty") },
    Spec {
        kinds: &[Remote],
        ..spec("mv", "FROM... TO", "move or rename (into TO if a directory)", "mv a.txt b.txt docs/")
    },
    Spec {
        kinds: &[Remote, Remote],
        ..spec("cp", "FROM TO", "copy a remote file or folder", "cp notes.txt notes.bak")
    },
    Spec { kinds: &[Remote], ..spec("find", "[PATH]", "every file and folder below PATH, with MD5", "find docs") },
    spec("trash", "", "list the trash: ID, type, size, when removed (UTC), path", "trash"),
    Spec {
        kinds: &[Other, Remote],
        ..spec("restore", "ID [PATH]", "bring a trash entry back (to PATH)", "restore k3x9")
    },
    spec("purge", "ID|all", "delete a trash entry (or all of them) for good", "purge all"),
    spec("quota", "", "space used and allowed", "quota"),
    Spec {
        kinds: &[Remote, Other],
        ..spec("share", "PATH [DAYS]", "make a code that lets others copy PATH (for DAYS days)", "share photos 7")
    },
    spec("shares", "", "list your shares: code, type, expiry (UTC), path", "shares"),
    Spec { kinds: &[Other], ..spec("unshare", "CODE", "revoke one of your shares", "unshare ob3kfy7dcxq2mz4a") },
    Spec { kinds: &[Other], ..spec("peek", "CODE", "list what a share holds, with MD5", "peek ob3kfy7dcxq2mz4a") },
    Spec {
        kinds: &[Other, Remote],
        ..spec("save", "CODE [PATH]", "copy a share into your tree (at PATH)", "save ob3kfy7dcxq2mz4a from-alice")
    },
    Spec {
        kinds: &[Local],
        ..spec("lcd", "[DIR]", "change the local directory (home without DIR)", "lcd ~/Downloads")
    },
    spec("lpwd", "", "print the local directory", "lpwd"),
    Spec { kinds: &[Arg::Command], ..spec("help", "[COMMAND]", "this list, or one command's usage", "help upload") },
    Spec { alias: "exit", ..spec("quit", "", "leave (also exit, Ctrl-D)", "quit") },
];

/// The command called `name` (or its alias).
pub fn find(name: &str) -> Option<&'static Spec> {
    COMMANDS.iter().find(|c| c.name == name || (!c.alias.is_empty() && c.alias == name))
}

/// The kind of the next argument of `line` (the command and the words
/// before the one completed). Options (`-r`) are skipped; the last kind
/// repeats for `PATH...`; `mirror -R` goes from local to remote.
pub fn arg_kind(line: &[&str]) -> Arg {
    let Some(spec) = line.first().and_then(|name| find(name)) else { return Other };
    let reverse = spec.name == "mirror" && line.iter().any(|w| matches!(*w, "-R" | "--reverse"));
    let kinds = if reverse { &[Local, Remote][..] } else { spec.kinds };
    let index = line[1..].iter().filter(|w| !w.starts_with('-')).count();
    let repeat = spec.args.contains("...");
    kinds.get(index).or(kinds.last().filter(|_| repeat)).copied().unwrap_or(Other)
}

fn usage(spec: &Spec) -> String {
    format!("{} {}", spec.name, spec.args).trim_end().to_string()
}

/// The line as history keeps it: a password given on the line becomes `***`
/// (which, run again, asks for the password); `passwd OLD NEW` becomes
/// `passwd` (which asks for both); so does the share code of `peek`,
/// `save` and `unshare` (asked for again too).
pub fn redact(line: &str) -> String {
    match words::split(line) {
        Ok(w) if w.len() >= 3 && matches!(w[0].text.as_str(), "login" | "register") => {
            format!("{} {} ***", w[0].text, words::quote(&w[1].text, false))
        }
        Ok(w) if w.len() >= 2 && w[0].text == "passwd" => "passwd".to_string(),
        Ok(w) if w.len() >= 2 && matches!(w[0].text.to_ascii_lowercase().as_str(), "peek" | "save" | "unshare") => {
            let rest: Vec<String> = w[2..].iter().map(|a| words::quote(&a.text, false)).collect();
            [w[0].text.clone(), "***".into()].into_iter().chain(rest).collect::<Vec<_>>().join(" ")
        }
        _ => line.to_string(),
    }
}

impl Shell {
    /// Runs one split command line.
    pub(crate) fn command(&mut self, words: &[Word]) -> Result<(), String> {
        let typed = words[0].text.to_ascii_lowercase();
        let name = find(&typed).map_or(typed.as_str(), |s| s.name);
        let args: Vec<&str> = words[1..].iter().map(|w| w.text.as_str()).collect();
        if let Some(done) = self.many(name, words) {
            return done;
        }
        let local = |i: usize| words[i + 1].local();
        let c = &mut self.client;
        let said = |r: Result<netdisk::proto::Reply, ClientError>| r.map(|r| println!("{}", r.text));
        match (name, args.as_slice()) {
            ("register", [u, rest @ ..]) if rest.len() < 2 => {
                let pass = self.new_account_password(rest.first().copied())?;
                said(self.client.register(u, &pass))
            }
            ("login", [u, rest @ ..]) if rest.len() < 2 => {
                let pass = self.password(rest.first().copied())?;
                said(self.client.login(u, &pass))
            }
            ("passwd", [] | [_, _]) => return self.passwd(&args),
            ("ls", [] | [_]) => return self.ls(args.first().copied()),
            ("cd", [p]) => c.cd(p).map(|_| ()),
            ("pwd", []) if c.user().is_none() => return Err("not logged in; log in first (login USER)".into()),
            ("pwd", []) => {
                println!("{}", c.cwd());
                Ok(())
            }
            ("stat", [p]) => return self.stat(p),
            ("rmdir", [p]) => said(c.expect(&Command::Rmdir { path: p.to_string() })),
            ("cp", [a, b]) => said(c.cp(a, b)),
            ("find", [] | [_]) => c.find(args.first().copied()).map(|l| show::found(&l)),
            ("trash", []) => c.trash().map(|l| show::trash(&l)),
            ("restore", [id]) => c.restore(id, None).map(|p| println!("restored {p}")),
            ("restore", [id, p]) => c.restore(id, Some(p)).map(|p| println!("restored {p}")),
            ("purge", [id]) => said(c.purge(id)),
            ("quota", []) => return self.quota(),
            ("share", [p]) => return self.share(p, None),
            ("share", [p, days]) => return self.share(p, Some(days)),
            ("shares", []) => return self.shares(),
            ("unshare", [code]) => return self.unshare(code),
            ("peek", [code]) => return self.peek(code),
            ("save", [code]) => return self.save(code, None),
            ("save", [code, p]) => return self.save(code, Some(p)),
            ("upload", [_]) => return self.upload(&local(0), None),
            ("upload", [_, remote]) => return self.upload(&local(0), Some(remote)),
            ("download", [remote]) => return self.download(remote, Path::new(".")),
            ("download", [remote, _]) => return self.download(remote, &local(1)),
            ("lcd", []) => return lcd(&words::expand_tilde("~", true)),
            ("lcd", [_]) => return lcd(&local(0)),
            ("lpwd", []) => return lpwd(),
            ("help", []) => return help(None),
            ("help", [topic]) => return help(Some(topic)),
            (_, _) => return Err(wrong_use(&typed)),
        }
        .map_err(|e| e.to_string())
    }

    /// A password given on the line, else asked for on the terminal, else
    /// `NETDISK_PASSWORD`; `***` (as history keeps it) means "ask".
    fn password(&mut self, given: Option<&str>) -> Result<String, String> {
        if let Some(p) = given.filter(|p| *p != "***") {
            return Ok(p.to_string());
        }
        if self.keyboard {
            return term::read_secret("Password: ").ok_or_else(|| "no password given".to_string());
        }
        std::env::var("NETDISK_PASSWORD").map_err(|_| {
            "no password: stdin is not a terminal, so give it on the line or set NETDISK_PASSWORD".to_string()
        })
    }

    /// The password of a new account: asked twice on a terminal (a typo
    /// would lock the account), else as [`Shell::password`].
    fn new_account_password(&mut self, given: Option<&str>) -> Result<String, String> {
        if !self.keyboard || given.is_some_and(|p| p != "***") {
            return self.password(given);
        }
        let ask = |prompt| term::read_secret(prompt).ok_or_else(|| "no password given; no account made".to_string());
        let pass = ask("Password: ")?;
        if ask("Password again: ")? != pass {
            return Err("the passwords differ; no account made".into());
        }
        Ok(pass)
    }

    /// `passwd OLD NEW`, or `passwd` alone: asked for (without echo, the
    /// new one twice) on a terminal, else `NETDISK_PASSWORD` (the old one)
    /// and `NETDISK_NEW_PASSWORD`.
    fn passwd(&mut self, args: &[&str]) -> Result<(), String> {
        let (old, new) = match args {
            [old, new] => (old.to_string(), new.to_string()),
            _ => self.new_password()?,
        };
        let reply = self.client.passwd(&old, &new).map_err(|e| e.to_string())?;
        println!("{}", reply.text);
        Ok(())
    }

    fn new_password(&mut self) -> Result<(String, String), String> {
        let ask = |prompt| term::read_secret(prompt).ok_or_else(|| "no password given; nothing changed".to_string());
        if self.keyboard {
            let (old, new) = (ask("Old password: ")?, ask("New password: ")?);
            if ask("New password again: ")? != new {
                return Err("the new passwords differ; nothing changed".into());
            }
            return Ok((old, new));
        }
        match (std::env::var("NETDISK_PASSWORD"), std::env::var("NETDISK_NEW_PASSWORD")) {
            (Ok(old), Ok(new)) => Ok((old, new)),
            _ => Err("no password: stdin is not a terminal, so give OLD NEW on the line or set \
                      NETDISK_PASSWORD and NETDISK_NEW_PASSWORD"
                .into()),
        }
    }

    fn ls(&mut self, path: Option<&str>) -> Result<(), String> {
        let entries = self.client.ls(path).map_err(|e| e.to_string())?;
        let sizes: Vec<String> =
            entries.iter().map(|e| if e.kind == Kind::Dir { "-".into() } else { show::human(e.size) }).collect();
        let width = sizes.iter().map(String::len).max().unwrap_or(0);
        for (e, size) in entries.iter().zip(&sizes) {
            let suffix = if e.kind == Kind::Dir { "/" } else { "" };
            println!("{}  {size:>width$}  {}  {}{suffix}", e.kind, show::utc(e.mtime), e.name);
        }
        Ok(())
    }

    fn stat(&mut self, path: &str) -> Result<(), String> {
        let st = self.client.stat(path).map_err(|e| e.to_string())?;
        let kind = if st.kind == Kind::Dir { "directory" } else { "file" };
        let (size, md5) = (st.size, st.md5.map_or("-".into(), |d| d.to_string()));
        println!(
            "{}: {kind}, {} ({size} bytes), modified {}, MD5 {md5}",
            st.name,
            show::human(size),
            show::utc(st.mtime)
        );
        Ok(())
    }

    fn quota(&mut self) -> Result<(), String> {
        let quota = self.client.quota().map_err(|e| e.to_string())?;
        let limit = quota.limit.map_or("unlimited".into(), show::human);
        println!("used {} of {limit}", show::human(quota.used));
        // Protocol 2.1 adds ENTRIES MAX_ENTRIES; an older server sends neither.
        if let Some(entries) = quota.entries {
            let max = quota.max_entries.map_or("unlimited".into(), |m| m.to_string());
            println!("{entries} entries of {max}");
        }
        Ok(())
    }

    fn upload(&mut self, local: &Path, remote: Option<&str>) -> Result<(), String> {
        let name = local_name(local)?;
        match std::fs::metadata(local) {
            Ok(m) if m.is_file() => {}
            Ok(_) => return Err(format!("{}: not a regular file or folder", local.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(format!("no such local file: {}", local.display()));
            }
            Err(e) => return Err(format!("{}: {e}", local.display())),
        }
        let mut bar = Bar::new(self.bar);
        bar.start("uploading", &local.display().to_string());
        let remote = remote.unwrap_or(&name);
        // A remote directory means: inside it, under the local name.
        let into_dir = remote.ends_with('/') || self.client.is_remote_dir(remote).unwrap_or(false);
        let remote = if into_dir { format!("{}/{name}", remote.trim_end_matches('/')) } else { remote.into() };
        let sent = self.client.upload(local, &remote, &mut |p| bar.show(p) && !term::interrupted());
        let _ = self.client.save_cache();
        let t = bar.finish(sent)?;
        if t.instant {
            println!("instant: the server already has this content");
        }
        println!(
            "uploaded {} -> {remote}: {}, MD5 {} verified by the server",
            local.display(),
            show::summary(&t, "sent"),
            t.md5
        );
        Ok(())
    }

    fn download(&mut self, remote: &str, local: &Path) -> Result<(), String> {
        let target = download_target(remote, local);
        let dir = if local.as_os_str().to_string_lossy().ends_with('/') { local } else { parent(&target) };
        if !dir.is_dir() {
            return Err(format!("local directory {} does not exist", dir.display()));
        }
        let mut bar = Bar::new(self.bar);
        bar.start("downloading", remote);
        let got = self.client.download(remote, &target, &mut |p| bar.show(p) && !term::interrupted());
        let t = bar.finish(got)?;
        println!(
            "downloaded {remote} -> {}: {}, MD5 {} verified",
            target.display(),
            show::summary(&t, "received"),
            t.md5
        );
        Ok(())
    }
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The local file's name, the default remote name of an upload.
pub(crate) fn local_name(local: &Path) -> Result<String, String> {
    let name = local.file_name().map(|n| n.to_string_lossy().into_owned());
    name.ok_or_else(|| format!("{}: not a file name", local.display()))
}

fn lcd(dir: &Path) -> Result<(), String> {
    if !dir.is_dir() {
        return Err(format!("no such local directory: {}", dir.display()));
    }
    std::env::set_current_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    lpwd()
}

fn lpwd() -> Result<(), String> {
    println!("{}", std::env::current_dir().map_err(|e| e.to_string())?.display());
    Ok(())
}

fn help(topic: Option<&str>) -> Result<(), String> {
    let Some(topic) = topic else {
        COMMANDS.iter().for_each(|c| println!("{}", help_line(c)));
        println!("Quote names with spaces (\"my file\", 'my file' or my\\ file);");
        println!("~ is your home directory.");
        println!("`help COMMAND` shows one command with an example.");
        return Ok(());
    };
    let spec = find(topic).ok_or_else(|| format!("no command {topic:?}; type help"))?;
    println!("usage: {}\n  {}\nexample: {}", usage(spec), spec.what, spec.example);
    if !spec.alias.is_empty() {
        println!("also: {}", spec.alias);
    }
    Ok(())
}

/// Columns of `help`'s list: its lines never wrap on an 80-column terminal.
const HELP_WIDTH: usize = 80;
const USAGE_WIDTH: usize = 26;

/// One command in `help`'s list: usage, then what it does, wrapped at
/// word boundaries; a usage too long for its column gets a line of its own.
fn help_line(spec: &Spec) -> String {
    let indent = " ".repeat(USAGE_WIDTH + 3);
    let usage = usage(spec);
    let mut out = format!("  {usage:<USAGE_WIDTH$}");
    if usage.len() > USAGE_WIDTH {
        out.push('\n');
        out.push_str(&indent[1..]);
    }
    let mut column = USAGE_WIDTH + 2;
    for word in spec.what.split(' ') {
        if column + 1 + word.len() > HELP_WIDTH {
            out.push('\n');
            out.push_str(&indent[1..]);
            column = USAGE_WIDTH + 2;
        }
        out.push(' ');
        out.push_str(word);
        column += 1 + word.len();
    }
    out
}

pub(crate) fn wrong_use(name: &str) -> String {
    match find(name) {
        Some(spec) => format!("usage: {}  (example: {})", usage(spec), spec.example),
        None => format!("unknown command {name:?}; type help"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_keeps_no_password_and_no_share_code() {
        assert_eq!(redact("login alice s3cret"), "login alice ***");
        assert_eq!(redact("peek ob3kfy7dcxq2mz4a"), "peek ***");
        assert_eq!(redact("save ob3kfy7dcxq2mz4a \"from alice\""), "save *** \"from alice\"");
        assert_eq!(redact("UNSHARE ob3kfy7dcxq2mz4a"), "UNSHARE ***");
        assert_eq!(redact("share docs 7"), "share docs 7", "share holds no code");
    }
}
