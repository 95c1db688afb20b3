//! The shell's commands: one table gives each its usage, help text,
//! example and the kind of each argument (which drives completion), and
//! the [`Shell`] methods that carry them out over `netdisk::client`.
//! Protocol text is never written here; the library does that.

use std::path::Path;

use netdisk::client::{ClientError, download_target, unquote};
use netdisk::proto::Command;

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
    Spec { kinds: &[Other], ..spec("register", "USER [PASS]", "create an account (asks for PASS)", "register alice") },
    Spec { kinds: &[Other], ..spec("login", "USER [PASS]", "log in (asks for PASS)", "login alice") },
    Spec { kinds: &[Remote], ..spec("ls", "[PATH]", "list a remote directory (times in UTC)", "ls /backups") },
    Spec {
        alias: "makedir",
        kinds: &[Remote, Remote],
        ..spec(
            "mkdir",
            "[-p] PATH",
            "make a remote directory; -p: with its parents, fine if it exists",
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
            "send a file (into REMOTE if a directory); resumes",
            "upload ~/db.dump backups/",
        )
    },
    Spec {
        kinds: &[Remote, Local],
        ..spec(
            "download",
            "REMOTE [LOCAL]",
            "fetch a file (into LOCAL if a directory); resumes",
            "download db.dump ~/restore/",
        )
    },
    Spec { kinds: &[Remote], ..spec("stat", "PATH", "size, time (UTC) and MD5 of a remote file", "stat db.dump") },
    Spec { kinds: &[Remote], ..spec("rm", "PATH", "remove a remote file", "rm old.txt") },
    Spec { kinds: &[Remote], ..spec("rmdir", "PATH", "remove an empty remote directory", "rmdir empty") },
    Spec {
        kinds: &[Remote, Remote],
        ..spec("mv", "FROM TO", "move or rename a remote file or directory", "mv a.txt docs/")
    },
    spec("quota", "", "space used and allowed", "quota"),
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

/// The kind of argument number `index` (0: the first after the command).
pub fn arg_kind(command: &str, index: usize) -> Arg {
    let kinds = find(command).map_or(&[][..], |c| c.kinds);
    kinds.get(index).or(kinds.last().filter(|_| command == "mkdir")).copied().unwrap_or(Other)
}

fn usage(spec: &Spec) -> String {
    format!("{} {}", spec.name, spec.args).trim_end().to_string()
}

/// The line as history keeps it: a password given on the line becomes `***`
/// (which, run again, asks for the password).
pub fn redact(line: &str) -> String {
    match words::split(line) {
        Ok(w) if w.len() >= 3 && matches!(w[0].text.as_str(), "login" | "register") => {
            format!("{} {} ***", w[0].text, words::quote(&w[1].text, false))
        }
        _ => line.to_string(),
    }
}

impl Shell {
    /// Runs one split command line.
    pub(crate) fn command(&mut self, words: &[Word]) -> Result<(), String> {
        let name = words[0].text.to_ascii_lowercase();
        let args: Vec<&str> = words[1..].iter().map(|w| w.text.as_str()).collect();
        let local = |i: usize| words[i + 1].local();
        let c = &mut self.client;
        let said = |r: Result<netdisk::proto::Reply, ClientError>| r.map(|r| println!("{}", r.text));
        match (find(&name).map_or(name.as_str(), |s| s.name), args.as_slice()) {
            ("register", [u, rest @ ..]) if rest.len() < 2 => {
                let pass = self.password(rest.first().copied())?;
                said(self.client.register(u, &pass))
            }
            ("login", [u, rest @ ..]) if rest.len() < 2 => {
                let pass = self.password(rest.first().copied())?;
                said(self.client.login(u, &pass))
            }
            ("ls", [] | [_]) => return self.ls(args.first().copied()),
            ("mkdir", ["-p", p]) => return self.mkdir_parents(p),
            ("mkdir", [p]) => c.expect(&Command::Makedir { path: p.to_string() }).map(|r| created(&r.text)),
            ("cd", [p]) => c.cd(p).map(|_| ()),
            ("pwd", []) => {
                println!("{}", c.cwd());
                Ok(())
            }
            ("stat", [p]) => return self.stat(p),
            ("rm", [p]) => said(c.expect(&Command::Rm { path: p.to_string() })),
            ("rmdir", [p]) => said(c.expect(&Command::Rmdir { path: p.to_string() })),
            ("mv", [a, b]) => said(c.expect(&Command::Mv { from: a.to_string(), to: b.to_string() })),
            ("quota", []) => return self.quota(),
            ("upload", [_]) => return self.upload(&local(0), None),
            ("upload", [_, remote]) => return self.upload(&local(0), Some(remote)),
            ("download", [remote]) => return self.download(remote, Path::new(".")),
            ("download", [remote, _]) => return self.download(remote, &local(1)),
            ("lcd", []) => return lcd(&words::expand_tilde("~", true)),
            ("lcd", [_]) => return lcd(&local(0)),
            ("lpwd", []) => return lpwd(),
            ("help", []) => return help(None),
            ("help", [topic]) => return help(Some(topic)),
            (_, _) => return Err(wrong_use(&name)),
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

    fn ls(&mut self, path: Option<&str>) -> Result<(), String> {
        let entries = self.client.ls(path).map_err(|e| e.to_string())?;
        let sizes: Vec<String> =
            entries.iter().map(|(t, size, _, _)| if *t == 'd' { "-".into() } else { show::human(*size) }).collect();
        let width = sizes.iter().map(String::len).max().unwrap_or(0);
        for ((t, _, mtime, name), size) in entries.iter().zip(&sizes) {
            let suffix = if *t == 'd' { "/" } else { "" };
            println!("{t}  {size:>width$}  {}  {name}{suffix}", show::utc(mtime));
        }
        Ok(())
    }

    fn stat(&mut self, path: &str) -> Result<(), String> {
        let (t, size, mtime, md5, name) = self.client.stat(path).map_err(|e| e.to_string())?;
        let kind = if t == 'd' { "directory" } else { "file" };
        println!("{name}: {kind}, {} ({size} bytes), modified {}, MD5 {md5}", show::human(size), show::utc(&mtime));
        Ok(())
    }

    fn quota(&mut self) -> Result<(), String> {
        let reply = self.client.expect(&Command::Quota).map_err(|e| e.to_string())?;
        let words = reply.words();
        let used = words.first().and_then(|w| w.parse().ok()).unwrap_or(0);
        let limit = match words.get(1).and_then(|w| w.parse().ok()) {
            Some(l) => show::human(l),
            None => "unlimited".into(),
        };
        println!("used {} of {limit}", show::human(used));
        Ok(())
    }

    /// `mkdir -p`: each missing directory along `path`, one `makedir` at a
    /// time; one that exists already is fine if it is a directory.
    fn mkdir_parents(&mut self, path: &str) -> Result<(), String> {
        let mut prefix = if path.starts_with('/') { "/".to_string() } else { String::new() };
        for part in path.split('/').filter(|p| !p.is_empty()) {
            prefix.push_str(part);
            match self.client.expect(&Command::Makedir { path: prefix.clone() }) {
                Ok(r) => created(&r.text),
                Err(ClientError::Refused(r)) if !self.client.stat(&prefix).is_ok_and(|s| s.0 == 'd') => {
                    return Err(ClientError::Refused(r).to_string());
                }
                Err(ClientError::Refused(_)) => {}
                Err(e) => return Err(e.to_string()),
            }
            prefix.push('/');
        }
        Ok(())
    }

    fn upload(&mut self, local: &Path, remote: Option<&str>) -> Result<(), String> {
        let name = local_name(local)?;
        let mut bar = Bar::new(self.bar);
        bar.start("uploading", &local.display().to_string());
        let remote = remote.unwrap_or(&name);
        // A remote directory means: inside it, under the local name.
        let into_dir = remote.ends_with('/') || self.client.stat(remote).is_ok_and(|s| s.0 == 'd');
        let remote = if into_dir { format!("{}/{name}", remote.trim_end_matches('/')) } else { remote.into() };
        let sent = self.client.upload(local, &remote, &mut |p| bar.show(p) && !term::interrupted());
        let t = bar.finish(sent)?;
        println!(
            "uploaded {} -> {remote}: {}, MD5 {} verified by the server",
            local.display(),
            show::summary(&t),
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
        println!("downloaded {remote} -> {}: {}, MD5 {} verified", target.display(), show::summary(&t), t.md5);
        Ok(())
    }
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn created(text: &str) {
    println!("created {}", unquote(text));
}

/// The local file's name, the default remote name of an upload.
fn local_name(local: &Path) -> Result<String, String> {
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
        COMMANDS.iter().for_each(|c| println!("  {:<26} {}", usage(c), c.what));
        println!("Quote names with spaces (\"my file\", 'my file' or my\\ file); ~ is your home directory.");
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

fn wrong_use(name: &str) -> String {
    match find(name) {
        Some(spec) => format!("usage: {}  (example: {})", usage(spec), spec.example),
        None => format!("unknown command {name:?}; type help"),
    }
}
