//! The netdisk client: an interactive shell with line editing, history and
//! completion when stdin is a terminal; otherwise (or with `-c`) a script
//! runner that stops at the first failing command. A thin front end over
//! `netdisk::client`; the shell's parts live in `examples/shell/`.
//!
//! ```text
//! cargo run --release --example client -- [HOST[:PORT]]
//! ```

#[path = "shell/batch.rs"]
mod batch;
#[path = "shell/commands.rs"]
mod commands;
#[path = "shell/complete.rs"]
mod complete;
#[path = "shell/history.rs"]
mod history;
#[path = "shell/lineedit.rs"]
mod lineedit;
#[path = "shell/progress.rs"]
mod progress;
#[path = "shell/script.rs"]
mod script;
#[path = "shell/sharing.rs"]
mod sharing;
#[path = "shell/show.rs"]
mod show;
#[path = "shell/term.rs"]
mod term;
#[path = "shell/width.rs"]
mod width;
#[path = "shell/words.rs"]
mod words;

use std::io::{self, BufRead, IsTerminal, Write};
use std::process::ExitCode;

use netdisk::client::{Client, ClientError, DigestCache};

use script::Flow;
use term::Input;

const USAGE: &str = "\
usage: netdisk-client [--keep-going] [--bytes] [-c \"CMD; CMD\"] [HOST[:PORT]]
       (default 127.0.0.1:9021; the port defaults to 9021)

Interactive when stdin is a terminal. Otherwise reads commands from stdin,
one per line, and stops at the first one that fails (exit status 1):
  # a comment          -rm old.txt   (a leading - ignores that line's failure)
  --keep-going         run every line; exit status 1 if any failed
  -c \"CMD; CMD\"        run these commands instead of reading stdin
  --bytes              exact sizes in bytes and times in UTC, as scripts get;
                       a person at a terminal gets 1.5 MiB and local times
`login USER` without a password asks for it on a terminal, else takes
NETDISK_PASSWORD; `passwd` alone takes NETDISK_PASSWORD and
NETDISK_NEW_PASSWORD. A batch (folders, mput, mget, mirror, rm -r...) with
any failure is a failed command; Ctrl-C stops it and the script.
Type `help` for the commands.";

const DEFAULT_PORT: u16 = 9021;

/// What the command line asked for.
struct Options {
    addr: String,
    keep_going: bool,
    /// Exact sizes (bytes) and UTC times, as in a script.
    bytes: bool,
    commands: Option<String>,
}

fn options(args: &[String]) -> Result<Options, ExitCode> {
    let mut o = Options { addr: format!("127.0.0.1:{DEFAULT_PORT}"), keep_going: false, bytes: false, commands: None };
    let mut addr = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Err(usage(ExitCode::SUCCESS)),
            "--keep-going" => o.keep_going = true,
            "--bytes" => o.bytes = true,
            "-c" => o.commands = Some(args.next().ok_or_else(|| usage(ExitCode::from(2)))?.clone()),
            a if a.starts_with('-') || addr.is_some() => return Err(usage(ExitCode::from(2))),
            a => addr = Some(with_port(a)),
        }
    }
    if let Some(Err(why)) = addr.as_deref().map(check_addr) {
        eprintln!("netdisk-client: {why}; give HOST or HOST:PORT (see --help)");
        return Err(ExitCode::from(2));
    }
    o.addr = addr.unwrap_or(o.addr);
    Ok(o)
}

fn usage(code: ExitCode) -> ExitCode {
    println!("{USAGE}");
    code
}

/// `HOST` becomes `HOST:9021`; `HOST:PORT`, `[V6]:PORT` stay as they are.
fn with_port(addr: &str) -> String {
    let bare_v6 = addr.matches(':').count() > 1 && !addr.starts_with('[');
    match addr.rsplit_once(':') {
        _ if bare_v6 => format!("[{addr}]:{DEFAULT_PORT}"),
        Some((_, port)) if !port.ends_with(']') => addr.to_string(),
        _ => format!("{addr}:{DEFAULT_PORT}"),
    }
}

/// A usage error for an address no server can have: an empty host, or a
/// port that is not a number from 1 to 65535.
fn check_addr(addr: &str) -> Result<(), String> {
    let (host, port) = addr.rsplit_once(':').unwrap_or((addr, ""));
    if host.is_empty() || host == "[]" {
        return Err(format!("bad address {addr}: no host"));
    }
    match port.parse::<u16>() {
        Ok(1..) => Ok(()),
        _ => Err(format!("bad address {addr}: the port must be a number from 1 to 65535")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match options(&args) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let keyboard = term::editing_available();
    term::install(keyboard);
    let mut client = match Client::connect(&opts.addr) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot reach a netdisk server at {}: {e}", opts.addr);
            if matches!(&e, ClientError::Io(io) if io.kind() == io::ErrorKind::ConnectionRefused) {
                eprintln!("is it running? start one with `make run-server`");
            }
            return ExitCode::from(2);
        }
    };
    client.set_cache(DigestCache::open_default());
    let bar = io::stderr().is_terminal();
    let scripted = opts.commands.is_some() || !io::stdin().is_terminal();
    let human = !scripted && !opts.bytes;
    let completer = complete::Completer::default();
    let mut shell = Shell { client, addr: opts.addr, bar, keyboard, scripted, human, completer };
    let code = match opts.commands {
        Some(text) => {
            script::run(words::split_commands(&text).into_iter(), opts.keep_going, &mut |l| shell.scripted(l))
        }
        None if io::stdin().is_terminal() => shell.interactive(),
        None => {
            let lines = io::stdin().lock().lines().map_while(Result::ok);
            script::run(lines, opts.keep_going, &mut |l| shell.scripted(l))
        }
    };
    term::restore();
    code
}

/// A connection and what the shell needs around it.
pub(crate) struct Shell {
    client: Client,
    addr: String,
    /// Progress bars on stderr.
    bar: bool,
    /// A terminal to edit lines and ask passwords on.
    keyboard: bool,
    /// Commands come from `-c` or a script, not from a person typing.
    scripted: bool,
    /// Sizes and times for people (`1.5 MiB`, local time); else exact
    /// figures (bytes, UTC), for scripts and `--bytes`.
    human: bool,
    completer: complete::Completer,
}

impl Shell {
    /// Runs one command line.
    fn execute(&mut self, line: &str) -> Flow {
        term::clear_interrupt();
        let _keyboard = term::watch();
        let words = match words::split(line) {
            Ok(w) if w.is_empty() => return Flow::Done,
            Ok(w) => w,
            Err(e) => return Flow::Failed(e),
        };
        if matches!(words[0].text.as_str(), "quit" | "exit") {
            let _ = self.client.quit();
            return Flow::Quit;
        }
        match self.command(&words) {
            Ok(()) => Flow::Done,
            Err(e) => Flow::Failed(e),
        }
    }

    /// A script's command: Ctrl-C during it stops the script.
    fn scripted(&mut self, line: &str) -> Flow {
        let flow = self.execute(line);
        if !term::interrupted() || matches!(flow, Flow::Quit) {
            return flow;
        }
        Flow::Abort(match flow {
            Flow::Failed(e) => e,
            _ => "interrupted".into(),
        })
    }

    /// The prompt loop: errors are reported and the shell carries on.
    fn interactive(&mut self) -> ExitCode {
        let history = history::History::open();
        let mut editor = lineedit::Editor::new(history.load());
        println!("connected to {}; type help for commands, Tab completes", self.addr);
        loop {
            let prompt = self.prompt();
            let input = if self.keyboard {
                let (completer, client) = (&mut self.completer, &mut self.client);
                term::read_line(&prompt, &mut editor, false, &mut |before| completer.complete(before, client))
            } else {
                plain_line(&prompt)
            };
            match input {
                Ok(Input::Line(line)) => {
                    let kept = commands::redact(line.trim());
                    editor.remember(&kept);
                    history.append(&kept);
                    match self.execute(&line) {
                        Flow::Quit => break,
                        Flow::Failed(e) | Flow::Abort(e) => eprintln!("error: {e}"),
                        Flow::Done => {}
                    }
                }
                Ok(Input::Interrupted) if term::note_interrupt() => break,
                Ok(Input::Interrupted) => {}
                Ok(Input::Eof) | Err(_) => {
                    let _ = self.client.quit();
                    break;
                }
            }
        }
        ExitCode::SUCCESS
    }

    fn prompt(&self) -> String {
        let user = self.client.user().unwrap_or("(not logged in)");
        format!("{user}@{}:{}> ", self.addr, self.client.cwd())
    }
}

/// A line read without editing (a terminal this client cannot drive).
fn plain_line(prompt: &str) -> io::Result<Input> {
    print!("{prompt}");
    io::stdout().flush()?;
    let mut line = String::new();
    match io::stdin().lock().read_line(&mut line)? {
        0 => Ok(Input::Eof),
        _ => Ok(Input::Line(line.trim_end_matches(['\r', '\n']).to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_defaults_to_9021() {
        assert_eq!(with_port("localhost"), "localhost:9021");
        assert_eq!(with_port("example.org:7000"), "example.org:7000");
        assert_eq!(with_port("[::1]"), "[::1]:9021");
        assert_eq!(with_port("[::1]:7000"), "[::1]:7000");
        assert_eq!(with_port("::1"), "[::1]:9021");
    }

    #[test]
    fn addresses_no_server_can_have_are_usage_errors() {
        assert!(check_addr("localhost:9021").is_ok() && check_addr("[::1]:7000").is_ok());
        for bad in ["localhost:99999", "localhost:0", "localhost:x", ":9021", "[]:9021", "host:"] {
            assert!(check_addr(bad).is_err(), "{bad}");
        }
    }
}
