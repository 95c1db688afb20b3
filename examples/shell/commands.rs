//! The shell's commands: one table gives each its usage, help text,
//! example and the kind of each argument (which drives completion), and
//! the [`Shell`] methods that carry them out over `netdisk::client`.
//! Protocol text is never written here; the library does that.

use std::path::Path;

use netdisk::client::{ClientError, download_target, glob};
use netdisk::proto::Command;
use netdisk::proto::body::{Kind, ListLine};

use crate::Shell;
use crate::progress::Bar;
use crate::show;
use crate::term;
use crate::words::{self, Word};

/// What an argument names, for completion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    Command,
    Remote,
    Local,
    /// An ID in the trash (`restore`, `purge`).
    Trash,
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

use Arg::{Local, Other, Remote, Trash};

pub const COMMANDS: &[Spec] = &[
    Spec {
        kinds: &[Other],
        ..spec("register", "USER [PASS]", "create an account and log in (asks for PASS twice)", "register alice")
    },
    Spec { kinds: &[Other], ..spec("login", "USER [PASS]", "log in (asks for PASS)", "login alice") },
    Spec { kinds: &[Other], ..spec("passwd", "[OLD NEW]", "change your password (asks for both)", "passwd") },
    Spec {
        kinds: &[Remote],
        ..spec("ls", "[-l] [PATH...]", "list remote directories, or what patterns match (*, ?, [..])", "ls *.md")
    },
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
    Spec {
        kinds: &[Remote],
        ..spec("stat", "PATH...", "size, time and MD5 of remote files (patterns too)", "stat *.dump")
    },
    Spec {
        kinds: &[Remote],
        ..spec("rm", "[-r] PATH...", "move remote files to the trash (-r: folders too)", "rm *.log")
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
    Spec { kinds: &[Remote], ..spec("find", "[PATH...]", "every file and folder below PATH, with MD5", "find docs") },
    spec("trash", "", "list the trash: ID, type, size, when removed, path", "trash"),
    Spec {
        kinds: &[Trash, Remote],
        ..spec("restore", "ID [PATH]", "bring a trash entry back (to PATH)", "restore k3x9")
    },
    Spec { kinds: &[Trash], ..spec("purge", "ID|all", "delete a trash entry (or all of them) for good", "purge all") },
    spec("quota", "", "space used and allowed", "quota"),
    Spec {
        kinds: &[Remote, Other],
        ..spec(
            "share",
            "PATH [DAYS]",
            "a code that lets others copy PATH (for DAYS days); with the server's web face on, also a \
             link anyone can open without an account",
            "share photos 7",
        )
    },
    spec("shares", "", "list your shares: code, type, expiry, path, link", "shares"),
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
    Spec {
        kinds: &[Arg::Command],
        ..spec("help", "[COMMAND|all]", "the commands, one command's usage, or all of them", "help upload")
    },
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

/// The line as history keeps it: each argument the protocol's table marks
/// as a secret (a password, a share code) becomes `***` (which, run
/// again, asks for it); `passwd OLD NEW` becomes `passwd` (which asks for
/// both).
pub fn redact(line: &str) -> String {
    let Ok(w) = words::split(line) else { return line.to_string() };
    let Some(spec) = w.first().and_then(|verb| netdisk::proto::spec_of(&verb.text.to_ascii_lowercase())) else {
        return line.to_string();
    };
    let secret = |i: usize| spec.secret(i);
    if !w[1..].iter().enumerate().any(|(i, _)| secret(i)) {
        return line.to_string();
    }
    if spec.name == "passwd" {
        return "passwd".to_string();
    }
    let shown =
        w[1..].iter().enumerate().map(|(i, a)| if secret(i) { "***".into() } else { words::quote(&a.text, false) });
    [w[0].text.clone()].into_iter().chain(shown).collect::<Vec<_>>().join(" ")
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
                // A new account is logged in at once, as on most services.
                let pass = self.new_account_password(rest.first().copied())?;
                said(self.client.register(u, &pass)).and_then(|()| said(self.client.login(u, &pass)))
            }
            ("login", [u, rest @ ..]) if rest.len() < 2 => {
                let pass = self.password(rest.first().copied())?;
                said(self.client.login(u, &pass))
            }
            ("passwd", [] | [_, _]) => return self.passwd(&args),
            ("ls", _) => return self.ls(&args),
            ("cd", [p]) => c.cd(p).map(|_| ()),
            ("pwd", []) if c.user().is_none() => return Err("not logged in; log in first (login USER)".into()),
            ("pwd", []) => {
                println!("{}", c.cwd());
                Ok(())
            }
            ("stat", [_, ..]) => return self.each(&args, Shell::stat),
            ("rmdir", [p]) => said(c.expect(&Command::Rmdir { path: p.to_string() })),
            ("cp", [a, b]) => said(c.cp(a, b)),
            ("find", []) => c.find(None).map(|l| show::found(&l, self.human)),
            ("find", [_, ..]) => return self.each(&args, Shell::find),
            ("trash", []) => c.trash().map(|l| show::trash(&l, self.human)),
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

    /// A password given on the line; else, in a script (`-c` too, even on
    /// a terminal), `NETDISK_PASSWORD` when set; else asked for on the
    /// terminal, else `NETDISK_PASSWORD`. `***` (as history keeps it)
    /// means "ask".
    fn password(&mut self, given: Option<&str>) -> Result<String, String> {
        if let Some(p) = given.filter(|p| *p != "***") {
            return Ok(p.to_string());
        }
        if let Some(p) = std::env::var("NETDISK_PASSWORD").ok().filter(|_| self.scripted) {
            return Ok(p);
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
        let from_env = self.scripted && std::env::var_os("NETDISK_PASSWORD").is_some();
        if !self.keyboard || from_env || given.is_some_and(|p| p != "***") {
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

    /// `ls [-l] [PATH...]`: a pattern lists the entries it matches (as
    /// `ls -d` would); several paths each get a heading. `-l`, `-a`, `-h`
    /// change nothing: the listing is long, shows every name, and sizes
    /// are for people already.
    fn ls(&mut self, args: &[&str]) -> Result<(), String> {
        let (flags, paths): (Vec<&str>, Vec<&str>) = args.iter().partition(|a| a.len() > 1 && a.starts_with('-'));
        if flags.iter().any(|f| !f[1..].chars().all(|c| matches!(c, 'l' | 'a' | 'h'))) {
            return Err(wrong_use("ls"));
        }
        if paths.is_empty() {
            let entries = self.client.ls(None).map_err(|e| e.to_string())?;
            show::listing(&entries, self.human);
            return Ok(());
        }
        let mut failed = Vec::new();
        for (i, path) in paths.iter().enumerate() {
            if paths.len() > 1 && !glob::is_glob(path) {
                println!("{}{path}:", if i > 0 { "\n" } else { "" });
            }
            let listed = if glob::is_glob(path) { self.matching(path) } else { self.client.ls(Some(path)) };
            match listed.map_err(|e| e.to_string()) {
                Ok(entries) if entries.is_empty() && glob::is_glob(path) => failed.push(no_match(path)),
                Ok(entries) => show::listing(&entries, self.human),
                Err(e) => failed.push(e),
            }
        }
        one_error(failed)
    }

    /// The entries of a remote directory whose names match the pattern
    /// in the last name of `pattern` (hidden names only for a pattern
    /// starting with a dot), sorted by name.
    fn matching(&mut self, pattern: &str) -> Result<Vec<ListLine>, ClientError> {
        let (dir, name) = match pattern.rsplit_once('/') {
            Some(("", name)) => (Some("/"), name),
            Some((dir, name)) => (Some(dir), name),
            None => (None, pattern),
        };
        let listed = self.client.ls(dir)?;
        let hit = |l: &ListLine| (!l.name.starts_with('.') || name.starts_with('.')) && glob::matches(name, &l.name);
        let prefix = |l: ListLine| match dir {
            Some("/") => ListLine { name: format!("/{}", l.name), ..l },
            Some(d) => ListLine { name: format!("{d}/{}", l.name), ..l },
            None => l,
        };
        Ok(listed.into_iter().filter(hit).map(prefix).collect())
    }

    /// Remote paths with each pattern replaced by the paths it matches; a
    /// pattern that matches nothing is an error.
    pub(crate) fn expand(&mut self, args: &[String]) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for arg in args {
            if !glob::is_glob(arg) || arg.starts_with('-') {
                out.push(arg.clone());
                continue;
            }
            let hits = self.matching(arg).map_err(|e| e.to_string())?;
            if hits.is_empty() {
                return Err(no_match(arg));
            }
            out.extend(hits.into_iter().map(|l| l.name));
        }
        Ok(out)
    }

    /// Runs `one` on each path (patterns expanded); the errors are said
    /// once each, and the command fails if any did.
    fn each(&mut self, args: &[&str], one: fn(&mut Shell, &str) -> Result<(), String>) -> Result<(), String> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let paths = self.expand(&args)?;
        if paths.len() == 1 {
            return one(self, &paths[0]);
        }
        let mut failed = Vec::new();
        for path in &paths {
            if let Err(e) = one(self, path) {
                failed.push(format!("{path}: {e}"));
            }
        }
        one_error(failed)
    }

    fn find(&mut self, path: &str) -> Result<(), String> {
        let lines = self.client.find(Some(path)).map_err(|e| e.to_string())?;
        show::found(&lines, self.human);
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
            show::full_time(st.mtime, self.human)
        );
        Ok(())
    }

    /// `used 1.5 MiB, 10.0 MiB allowed`, and the count of files and folders
    /// against its limit when the server says it.
    fn quota(&mut self) -> Result<(), String> {
        let reply = self.client.expect(&Command::Quota).map_err(|e| e.to_string())?;
        let words = reply.words();
        let number = |i: usize| words.get(i).and_then(|w| w.parse::<u64>().ok());
        let used = show::size(number(0).unwrap_or(0), self.human);
        let limit = number(1).map_or("no limit".into(), |l| format!("{} allowed", show::size(l, self.human)));
        let entries = match (number(2), number(3)) {
            (Some(n), Some(max)) => format!("; {n} of {max} files and folders"),
            (Some(n), None) => format!("; {n} files and folders"),
            _ => String::new(),
        };
        println!("used {used}, {limit}{entries}");
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
        let mut bar = Bar::new(self.bar, "uploading", &local.display().to_string());
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
        let mut bar = Bar::new(self.bar, "downloading", remote);
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

/// The commands by what they are for, as `help` shows them (a test
/// keeps this in step with [`COMMANDS`]).
const GROUPS: &[(&str, &[&str])] = &[
    ("files", &["ls", "cd", "pwd", "mkdir", "mv", "cp", "rm", "rmdir", "stat", "find"]),
    ("transfers", &["upload", "download", "mput", "mget", "mirror"]),
    ("trash", &["trash", "restore", "purge"]),
    ("sharing", &["share", "shares", "unshare", "peek", "save"]),
    ("account", &["register", "login", "passwd", "quota"]),
    ("local", &["lcd", "lpwd"]),
    ("shell", &["help", "quit"]),
];

/// `help`: the commands by group, on one screen (24 rows); `help
/// COMMAND`: its usage and an example; `help all`: every command with
/// what it does.
fn help(topic: Option<&str>) -> Result<(), String> {
    match topic {
        None => {
            println!("Commands (`help COMMAND` for one with an example, `help all` for all):");
            for (group, names) in GROUPS {
                println!("  {group:<10} {}", names.join(" "));
            }
            println!("Quote names with spaces (\"my file\", 'my file' or my\\ file); ~ is your home.");
            println!("Patterns (*, ?, [..]) work in ls, rm, stat, find, mput and mget.");
            println!("Tab completes commands, names and trash IDs; Up and Down walk the history.");
            println!("Ctrl-C stops a transfer; run the same command again to resume it.");
            Ok(())
        }
        Some("all") => {
            COMMANDS.iter().for_each(|c| println!("{}", help_line(c)));
            Ok(())
        }
        Some(topic) => {
            let spec = find(topic).ok_or_else(|| format!("no command {topic:?}; type help"))?;
            println!("usage: {}\n{}\nexample: {}", usage(spec), wrapped(spec.what, 2), spec.example);
            if !spec.alias.is_empty() {
                println!("also: {}", spec.alias);
            }
            Ok(())
        }
    }
}

/// `text` in lines of at most [`HELP_WIDTH`] columns, each indented.
fn wrapped(text: &str, indent: usize) -> String {
    let mut lines = vec![" ".repeat(indent)];
    for word in text.split(' ') {
        let line = lines.last_mut().expect("never empty");
        if line.len() > indent && line.len() + 1 + word.len() > HELP_WIDTH {
            lines.push(format!("{}{word}", " ".repeat(indent)));
        } else {
            if line.len() > indent {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines.join("\n")
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

fn no_match(pattern: &str) -> String {
    format!("no remote name matches {pattern}")
}

/// Several errors as one: the last is the command's error, the others are
/// said before it.
fn one_error(mut errors: Vec<String>) -> Result<(), String> {
    let last = errors.pop();
    errors.iter().for_each(|e| eprintln!("error: {e}"));
    last.map_or(Ok(()), Err)
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
    fn every_command_is_in_one_help_group() {
        let grouped: Vec<&str> = GROUPS.iter().flat_map(|(_, names)| names.iter().copied()).collect();
        let mut names: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
        let mut sorted = grouped.clone();
        sorted.sort();
        names.sort();
        assert_eq!(sorted, names);
    }

    #[test]
    fn history_keeps_no_password_and_no_share_code() {
        assert_eq!(redact("login alice s3cret"), "login alice ***");
        assert_eq!(redact("peek ob3kfy7dcxq2mz4a"), "peek ***");
        assert_eq!(redact("save ob3kfy7dcxq2mz4a \"from alice\""), "save *** \"from alice\"");
        assert_eq!(redact("UNSHARE ob3kfy7dcxq2mz4a"), "UNSHARE ***");
        assert_eq!(redact("share docs 7"), "share docs 7", "share holds no code");
    }
}
