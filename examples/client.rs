//! The netdisk client: an interactive shell, or a script runner when stdin
//! is not a terminal. A thin front end over `netdisk::client`.
//!
//! ```text
//! cargo run --release --example client -- [HOST:PORT]
//! ```

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use netdisk::client::{Client, ClientError, DigestCache, OnEvent, Options, Printer, Progress, Report, Transferred};
use netdisk::clock::utc_secs;
use netdisk::proto::body::{Kind, ListLine};
use netdisk::proto::split_words;

const USAGE: &str = "\
usage: client [HOST:PORT]      (default 127.0.0.1:9021)

Interactive when stdin is a terminal; otherwise reads commands from stdin,
one per line, and exits 0 only if every command succeeded.
Type `help` for the commands.";

const HELP: [(&str, &str); 28] = [
    ("register USER PASS", "create an account"),
    ("login USER PASS", "log in"),
    ("ls [PATH]", "list a directory"),
    ("makedir NAME", "make a directory (also mkdir)"),
    ("cd PATH", "change the remote directory"),
    ("pwd", "print the remote directory"),
    ("upload LOCAL [REMOTE]", "send a file or folder (into REMOTE if a directory); resumes"),
    ("download REMOTE [LOCAL]", "fetch a file or folder (into LOCAL if a directory); resumes"),
    ("mput PATTERN...", "send local files matching *, ?, [..]: mput *.txt"),
    ("mget PATTERN...", "fetch remote files matching *, ?, [..]: mget docs/*.md"),
    ("mirror [-R] [--delete] [--dry-run] SRC DST", "make DST like SRC: mirror -R photos /photos"),
    ("rm [-r] PATH...", "remove files (-r: folders too) into the trash: rm -r old"),
    ("mkdir [-p] PATH...", "make directories (-p: parents too): mkdir -p a/b/c"),
    ("cp FROM TO", "copy a remote file or folder: cp notes.txt notes.bak"),
    ("mv FROM... TO", "move or rename (into TO if a directory): mv a.txt b.txt docs"),
    ("find [PATH]", "every file and folder below PATH, with MD5: find docs"),
    ("trash", "list the trash: ID TYPE SIZE DELETED PATH"),
    ("restore ID [PATH]", "bring a trash entry back: restore k3x9"),
    ("purge ID|all", "delete a trash entry for good: purge all"),
    ("passwd OLD NEW", "change your password"),
    ("stat PATH", "size, time and MD5 of a remote file"),
    ("rmdir PATH", "remove an empty remote directory"),
    ("mv FROM TO", "move or rename a remote file or directory"),
    ("quota", "space used and allowed"),
    ("lcd DIR", "change the local directory"),
    ("lpwd", "print the local directory"),
    ("help", "this list"),
    ("quit", "leave (also exit, Ctrl-D)"),
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") || args.len() > 1 {
        println!("{USAGE}");
        return if args.len() > 1 { ExitCode::from(2) } else { ExitCode::SUCCESS };
    }
    let addr = args.first().cloned().unwrap_or_else(|| "127.0.0.1:9021".into());
    let client = match Client::connect(&addr) {
        Ok(mut c) => {
            c.set_cache(DigestCache::open_default());
            c
        }
        Err(e) => {
            eprintln!("cannot reach a netdisk server at {addr}: {e}");
            eprintln!("is it running? start one with `make run-server`");
            return ExitCode::from(2);
        }
    };
    let mut shell = Shell { client, addr, interactive: io::stdin().is_terminal(), bar: io::stderr().is_terminal() };
    if shell.interactive {
        println!("connected to {}; type help for commands", shell.addr);
    }
    if shell.run() { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

struct Shell {
    client: Client,
    addr: String,
    interactive: bool,
    bar: bool,
}

impl Shell {
    /// Runs commands until `quit` or end of input; true if all succeeded.
    fn run(&mut self) -> bool {
        let mut all_ok = true;
        let stdin = io::stdin();
        let mut lines = stdin.lock().lines();
        loop {
            if self.interactive {
                print!("{}", self.prompt());
                let _ = io::stdout().flush();
            }
            let Some(Ok(line)) = lines.next() else { break };
            let words = match split_words(&line) {
                Ok(w) if w.is_empty() => continue,
                Ok(w) => w,
                Err(e) => {
                    eprintln!("error: {}", e.text);
                    all_ok = false;
                    continue;
                }
            };
            if matches!(words[0].as_str(), "quit" | "exit") {
                let _ = self.client.quit();
                break;
            }
            if let Err(e) = self.command(&words) {
                eprintln!("error: {e}");
                all_ok = false;
            }
        }
        all_ok
    }

    fn prompt(&self) -> String {
        let user = self.client.user().unwrap_or("(not logged in)");
        format!("{user}@{}:{}> ", self.addr, self.client.cwd())
    }

    fn command(&mut self, words: &[String]) -> Result<(), String> {
        let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
        let c = &mut self.client;
        let said = |r: Result<netdisk::proto::Reply, ClientError>| r.map(|r| println!("{}", r.text));
        match (words[0].to_ascii_lowercase().as_str(), args.as_slice()) {
            ("register", [u, p]) => said(c.register(u, p)),
            ("login", [u, p]) => said(c.login(u, p)),
            ("ls", [] | [_]) => return self.ls(args.first().copied()),
            ("makedir", [p]) => c.makedir(p).map(|path| println!("created {path}")),
            ("cd", [p]) => c.cd(p).map(|_| ()),
            ("pwd", []) => {
                println!("{}", c.cwd());
                Ok(())
            }
            ("stat", [p]) => return self.stat(p),
            ("rmdir", [p]) => said(c.expect(&netdisk::proto::Command::Rmdir { path: p.to_string() })),
            ("quota", []) => return self.quota(),
            ("upload", [local, ..]) if Path::new(local).is_dir() => {
                return self.batch(|c, on| c.upload_any(Path::new(local), args.get(1).copied(), on));
            }
            ("download", [remote, ..]) if c.is_remote_dir(remote).unwrap_or(false) => {
                return self.batch(|c, on| c.download_any(remote, args.get(1).map(Path::new), on));
            }
            ("mput", [_, ..]) => return self.batch(|c, on| c.mput(&words[1..], on)),
            ("mget", [_, ..]) => return self.batch(|c, on| c.mget(&words[1..], on)),
            ("mirror", [_, _, ..]) => return self.mirror(&args),
            ("rm", ["-r", _, ..]) => return self.batch(|c, on| c.rm(&words[2..], true, on)),
            ("rm", [_, ..]) => return self.batch(|c, on| c.rm(&words[1..], false, on)),
            ("mkdir", ["-p", _, ..]) => return self.batch(|c, on| c.mkdir(&words[2..], true, on)),
            ("mkdir", [_, ..]) => return self.batch(|c, on| c.mkdir(&words[1..], false, on)),
            ("mv", [_, .., _]) => {
                return self.batch(|c, on| c.mv(&words[1..words.len() - 1], &words[words.len() - 1], on));
            }
            ("cp", [a, b]) => said(c.cp(a, b)),
            ("find", [] | [_]) => c.find(args.first().copied()).map(|l| l.iter().for_each(|l| println!("{l}"))),
            ("trash", []) => c.trash().map(|l| l.iter().for_each(|l| println!("{l}"))),
            ("restore", [id, rest @ ..]) if rest.len() < 2 => {
                c.restore(id, rest.first().copied()).map(|p| println!("restored {p}"))
            }
            ("purge", [id]) => said(c.purge(id)),
            ("passwd", [old, new]) => said(c.passwd(old, new)),
            ("upload", [local]) => return self.upload(local, &local_name(local)?),
            ("upload", [local, remote]) => return self.upload(local, remote),
            ("download", [remote]) => return self.download(remote, "."),
            ("download", [remote, local]) => return self.download(remote, local),
            ("lcd", [dir]) => return std::env::set_current_dir(dir).map_err(|e| format!("{dir}: {e}")),
            ("lpwd", []) => {
                println!("{}", std::env::current_dir().map_err(|e| e.to_string())?.display());
                Ok(())
            }
            ("help", _) => {
                HELP.iter().for_each(|(cmd, what)| println!("  {cmd:<26} {what}"));
                Ok(())
            }
            (verb, _) => match HELP.iter().find(|(cmd, _)| cmd.split(' ').next() == Some(verb)) {
                Some((usage, _)) => return Err(format!("usage: {usage}")),
                None => return Err(format!("unknown command {verb:?}; type help")),
            },
        }
        .map_err(|e| e.to_string())
    }

    /// Runs a batch with progress (lines, or a bar on a terminal); fails
    /// when any file failed.
    fn batch(&mut self, run: impl FnOnce(&mut Client, OnEvent) -> Result<Report, ClientError>) -> Result<(), String> {
        let mut printer = Printer::new(self.bar);
        let report = run(&mut self.client, &mut |e| printer.show(e));
        printer.finish();
        let report = report.map_err(|e| e.to_string())?;
        if report.failures.is_empty() { Ok(()) } else { Err(format!("{} failed", report.failures.len())) }
    }

    /// `mirror [-R] [--delete] [--dry-run] SOURCE TARGET`, ending with its
    /// summary line.
    fn mirror(&mut self, args: &[&str]) -> Result<(), String> {
        let (flags, paths): (Vec<&str>, Vec<&str>) = args.iter().partition(|a| a.starts_with('-'));
        let mut opts = Options::default();
        let mut reverse = false;
        for flag in flags {
            match flag {
                "-R" | "--reverse" => reverse = true,
                "--delete" => opts.delete = true,
                "--dry-run" => opts.dry_run = true,
                other => return Err(format!("mirror: unknown option {other}")),
            }
        }
        let [source, target] = paths[..] else {
            return Err("usage: mirror [-R] [--delete] [--dry-run] SOURCE TARGET".into());
        };
        let mut summary = String::new();
        let result = self.batch(|c, on| {
            let r = c.mirror(source, target, reverse, opts, on)?;
            summary = r.summary();
            Ok(r)
        });
        if !summary.is_empty() {
            println!("{summary}");
        }
        result
    }

    fn ls(&mut self, path: Option<&str>) -> Result<(), String> {
        let entries = self.client.ls(path).map_err(|e| e.to_string())?;
        let is_dir = |e: &ListLine| e.kind == Kind::Dir;
        let sizes: Vec<String> = entries.iter().map(|e| if is_dir(e) { "-".into() } else { human(e.size) }).collect();
        let width = sizes.iter().map(String::len).max().unwrap_or(0);
        for (e, size) in entries.iter().zip(&sizes) {
            let when = utc_secs(e.mtime).replace('T', " ").trim_end_matches('Z').to_string();
            let suffix = if is_dir(e) { "/" } else { "" };
            println!("{}  {size:>width$}  {when}  {}{suffix}", e.kind, e.name);
        }
        Ok(())
    }

    fn stat(&mut self, path: &str) -> Result<(), String> {
        let st = self.client.stat(path).map_err(|e| e.to_string())?;
        let kind = if st.kind == Kind::Dir { "directory" } else { "file" };
        let (size, mtime) = (st.size, utc_secs(st.mtime));
        let md5 = st.md5.map_or("-".into(), |d| d.to_string());
        println!("{}: {kind}, {} ({size} bytes), modified {mtime}, MD5 {md5}", st.name, human(size));
        Ok(())
    }

    fn quota(&mut self) -> Result<(), String> {
        let reply = self.client.expect(&netdisk::proto::Command::Quota).map_err(|e| e.to_string())?;
        let words = reply.words();
        let used = words.first().and_then(|w| w.parse().ok()).unwrap_or(0);
        let limit = match words.get(1).and_then(|w| w.parse().ok()) {
            Some(l) => human(l),
            None => "unlimited".into(),
        };
        println!("used {} of {limit}", human(used));
        Ok(())
    }

    fn upload(&mut self, local: &str, remote: &str) -> Result<(), String> {
        // A remote directory means: inside it, under the local name.
        let into_dir = remote.ends_with('/') || self.client.stat(remote).is_ok_and(|s| s.kind == Kind::Dir);
        let remote =
            if into_dir { format!("{}/{}", remote.trim_end_matches('/'), local_name(local)?) } else { remote.into() };
        let remote = remote.as_str();
        let mut bar = Bar::new(self.bar);
        let sent = self.client.upload(Path::new(local), remote, &mut |p| bar.show(p));
        bar.finish(sent.as_ref().ok());
        let _ = self.client.save_cache();
        let t = sent.map_err(|e| e.to_string())?;
        if t.instant {
            println!("instant: the server already has this content");
        }
        println!("uploaded {local} -> {remote}: {}, MD5 {} verified by the server", summary(&t), t.md5);
        Ok(())
    }

    fn download(&mut self, remote: &str, local: &str) -> Result<(), String> {
        let target = netdisk::client::download_target(remote, Path::new(local));
        let mut bar = Bar::new(self.bar);
        let got = self.client.download(remote, &target, &mut |p| bar.show(p));
        bar.finish(got.as_ref().ok());
        let t = got.map_err(|e| e.to_string())?;
        println!("downloaded {remote} -> {}: {}, MD5 {} verified", target.display(), summary(&t), t.md5);
        Ok(())
    }
}

/// The local file's name, the default remote name of an upload.
fn local_name(local: &str) -> Result<String, String> {
    let name = PathBuf::from(local).file_name().map(|n| n.to_string_lossy().into_owned());
    name.ok_or_else(|| format!("{local}: not a file name"))
}

/// A progress bar on stderr, redrawn in place at most ten times a second.
struct Bar {
    on: bool,
    announced: bool,
    last: Option<Instant>,
}

impl Bar {
    fn new(on: bool) -> Bar {
        Bar { on, announced: false, last: None }
    }

    fn show(&mut self, p: &Progress) -> bool {
        if !self.announced && p.resumed_at > 0 {
            eprintln!("resuming at {} bytes ({}%)", p.resumed_at, percent(p.resumed_at, p.total));
        }
        self.announced = true;
        let due = self.last.is_none_or(|t| t.elapsed() >= Duration::from_millis(100));
        if self.on && (due || p.done == p.total) {
            self.last = Some(Instant::now());
            eprint!("\r{}", line(p));
        }
        true
    }

    fn finish(&mut self, done: Option<&Transferred>) {
        if let Some(t) = done.filter(|t| !self.announced && t.resumed_at > 0) {
            eprintln!("resuming at {} bytes ({}%)", t.resumed_at, percent(t.resumed_at, t.size));
        }
        if self.on && self.last.is_some() {
            eprintln!();
        }
    }
}

fn line(p: &Progress) -> String {
    let pct = percent(p.done, p.total);
    let filled = (pct as usize) / 5;
    let rate = rate(p.done - p.resumed_at, p.elapsed);
    let left = p.total - p.done;
    let eta = if rate > 0.0 { format_secs(left as f64 / rate) } else { "--:--".into() };
    format!(
        "{pct:>3}% [{}{}] {} / {}  {}/s  ETA {eta}   ",
        "#".repeat(filled),
        ".".repeat(20 - filled),
        human(p.done),
        human(p.total),
        human(rate as u64)
    )
}

fn percent(done: u64, total: u64) -> u64 {
    (u128::from(done) * 100).checked_div(u128::from(total)).map_or(100, |p| p as u64)
}

fn rate(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / elapsed.as_secs_f64().max(1e-6)
}

fn summary(t: &Transferred) -> String {
    let resumed = if t.resumed_at > 0 { format!(" (resumed at {})", human(t.resumed_at)) } else { String::new() };
    format!(
        "{} in {:.2} s, {}/s{resumed}",
        human(t.size),
        t.elapsed.as_secs_f64(),
        human(rate(t.moved, t.elapsed) as u64)
    )
}

fn format_secs(secs: f64) -> String {
    let s = secs.round() as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

/// Sizes as people read them: 1023 B, 1.5 KiB, 20.0 MiB.
fn human(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}
