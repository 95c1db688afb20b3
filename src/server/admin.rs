//! `netdisk user ...`: account administration on the server machine.
//!
//! Works on a data directory while servers run on it: every change is one
//! record appended under the users file's writers' lock (the lock
//! `register` takes), and running servers read it on their next lookup, so
//! a new password, a removed account or a new quota counts at once. This
//! module only parses the command line and prints; the work is done by
//! `storage` ([`Users`] and `accounts`). It never prints a password.

use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::proto::Password;
use crate::service::config::size;
use crate::storage::DataDir;
use crate::storage::accounts::{self, delete_user};
use crate::storage::digests::Sums;
use crate::storage::users::{UserQuota, Users};

/// The text of `netdisk user --help`.
pub const USAGE: &str = "\
usage: netdisk user add NAME          add an account; the password is one line on standard input
       netdisk user passwd NAME       set a password, read as one line from standard input
       netdisk user del NAME          remove an account and all its files
       netdisk user list              one line per account: NAME QUOTA USED MAX_ENTRIES ENTRIES
                                      (QUOTA in bytes, MAX_ENTRIES in files and directories,
                                      `-` for no limit, `default` for --quota / --max-entries)
       netdisk user quota NAME BYTES|-|default
                                      the account's own quota (BYTES may end in K, M, G or T;
                                      `-`: no limit whatever --quota says; `default`: --quota)
       netdisk user entries NAME N|-|default
                                      the account's own limit of files and directories (tree
                                      and trash; `-`: no limit; `default`: --max-entries)

`--data DIR` (default ./data, or NETDISK_DATA) may stand anywhere on the line.
Safe while servers run on the same data directory; changes count at once.
Exits 0 on success, 1 when the change is refused, 2 on a usage error.
";

/// One administration command.
#[derive(Debug, PartialEq, Eq)]
enum Action {
    Add(String),
    Passwd(String),
    Del(String),
    List,
    Quota(String, UserQuota),
    Entries(String, UserQuota),
}

/// What the command line asked for.
#[derive(Debug, PartialEq, Eq)]
enum Parsed {
    Run { data: PathBuf, action: Action },
    Help,
}

/// Whether the arguments (without the program name) are an
/// administration command: `user` is their first word besides `--data DIR`.
pub fn wants(args: &[String]) -> bool {
    split_data(args).is_ok_and(|(_, words)| words.first().is_some_and(|w| w == "user"))
}

/// Runs an administration command; `env` reads the environment.
pub fn run(args: &[String], env: impl Fn(&str) -> Option<String>) -> ExitCode {
    let (data, action) = match parse(args, env) {
        Ok(Parsed::Run { data, action }) => (data, action),
        Ok(Parsed::Help) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("netdisk user: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match execute(&data, &action, &mut io::stdin().lock()) {
        Ok(out) => {
            print!("{out}");
            let _ = io::stdout().flush();
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("netdisk user: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Takes `--data DIR` (or `--data=DIR`) out of the arguments, wherever it
/// stands; returns it (if given) and the other words.
fn split_data(args: &[String]) -> Result<(Option<PathBuf>, Vec<String>), String> {
    let mut data = None;
    let mut words = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == "--data" {
            data = Some(PathBuf::from(args.next().ok_or("--data needs a value")?));
        } else if let Some(dir) = arg.strip_prefix("--data=") {
            data = Some(PathBuf::from(dir));
        } else {
            words.push(arg.clone());
        }
    }
    Ok((data, words))
}

fn parse(args: &[String], env: impl Fn(&str) -> Option<String>) -> Result<Parsed, String> {
    let (data, words) = split_data(args)?;
    if words.iter().any(|w| w == "--help" || w == "-h") {
        return Ok(Parsed::Help);
    }
    if let Some(flag) = words.iter().find(|w| w.starts_with("--")) {
        return Err(format!("unknown option {flag}"));
    }
    let data = data.or_else(|| env("NETDISK_DATA").map(PathBuf::from)).unwrap_or_else(|| PathBuf::from("./data"));
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let action = match words[..] {
        ["user", "add", name] => Action::Add(name.into()),
        ["user", "passwd", name] => Action::Passwd(name.into()),
        ["user", "del", name] => Action::Del(name.into()),
        ["user", "list"] => Action::List,
        ["user", "quota", name, limit] => Action::Quota(name.into(), quota(limit)?),
        ["user", "entries", name, limit] => Action::Entries(name.into(), entries(limit)?),
        ["user", verb, ..] if ["add", "passwd", "del", "list", "quota", "entries"].contains(&verb) => {
            return Err(format!("wrong number of arguments for `user {verb}`"));
        }
        ["user", verb, ..] => return Err(format!("unknown command `user {verb}`")),
        _ => return Err("expected a command: user add|passwd|del|list|quota|entries".into()),
    };
    Ok(Parsed::Run { data, action })
}

fn quota(text: &str) -> Result<UserQuota, String> {
    match text {
        "-" => Ok(UserQuota::Unlimited),
        "default" => Ok(UserQuota::Default),
        _ => size(text).map(UserQuota::Bytes).map_err(|e| format!("quota: {e}, `-` or `default`")),
    }
}

fn entries(text: &str) -> Result<UserQuota, String> {
    let number = text.parse().ok().filter(|_| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()));
    match text {
        "-" => Ok(UserQuota::Unlimited),
        "default" => Ok(UserQuota::Default),
        _ => number
            .map(UserQuota::Bytes)
            .ok_or_else(|| format!("entries: {text:?} is not a whole number, `-` or `default`")),
    }
}

/// Does the work; returns what to print on standard output.
fn execute(data: &Path, action: &Action, stdin: &mut impl BufRead) -> Result<String, String> {
    open_data(data, matches!(action, Action::Add(_)))?;
    let users = Users::attach(data);
    let done = match action {
        Action::Add(name) => users.register(name, &read_password(stdin)?).map(|_| format!("added {name}\n")),
        Action::Passwd(name) => {
            users.set_password(name, &read_password(stdin)?).map(|_| format!("password of {name} changed\n"))
        }
        Action::Del(name) => delete_user(&DataDir::new(data), &users, &Sums::new(DataDir::new(data).sums()), name)
            .map(|_| format!("deleted {name} and its files\n")),
        Action::List => Ok(list(data, &users)),
        Action::Quota(name, q) => users.set_quota(name, *q).map(|_| format!("quota of {name}: {q}\n")),
        Action::Entries(name, n) => users.set_entries(name, *n).map(|_| format!("entries of {name}: {n}\n")),
    };
    done.map_err(|e| e.detail())
}

/// Checks that `data` is a directory; `add` may create it.
fn open_data(data: &Path, create: bool) -> Result<(), String> {
    if create {
        std::fs::create_dir_all(data).map_err(|e| format!("{}: {e}", data.display()))?;
    }
    match data.is_dir() {
        true => Ok(()),
        false => Err(format!("{}: no such data directory", data.display())),
    }
}

fn list(data: &Path, users: &Users) -> String {
    let mut out = String::new();
    for (name, quota, entries) in users.list() {
        let held = accounts::usage(&DataDir::new(data), &name);
        out.push_str(&format!("{name} {quota} {} {entries} {}\n", held.bytes, held.entries));
    }
    out
}

/// One line from standard input, without its line ending.
fn read_password(stdin: &mut impl BufRead) -> Result<Password, String> {
    let mut line = String::new();
    let n = stdin.read_line(&mut line).map_err(|e| format!("reading the password: {e}"))?;
    if n == 0 {
        return Err("expected the password as one line on standard input".into());
    }
    let line = line.strip_suffix('\n').unwrap_or(&line);
    Ok(Password::new(line.strip_suffix('\r').unwrap_or(line)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split(' ').map(String::from).collect()
    }

    #[test]
    fn data_may_stand_anywhere() {
        for line in ["--data /d user del bob", "user --data /d del bob", "user del bob --data=/d"] {
            assert!(wants(&args(line)), "{line}");
            let want = Parsed::Run { data: "/d".into(), action: Action::Del("bob".into()) };
            assert_eq!(parse(&args(line), |_| None), Ok(want), "{line}");
        }
        assert!(!wants(&args("--listen 1:2 --data /d")));
        let q = parse(&args("user quota a 2K"), |_| Some("/e".into())).unwrap();
        assert_eq!(q, Parsed::Run { data: "/e".into(), action: Action::Quota("a".into(), UserQuota::Bytes(2048)) });
        let e = parse(&args("user entries a 50"), |_| Some("/e".into())).unwrap();
        assert_eq!(e, Parsed::Run { data: "/e".into(), action: Action::Entries("a".into(), UserQuota::Bytes(50)) });
        let e = parse(&args("user entries a -"), |_| None).unwrap();
        assert!(matches!(e, Parsed::Run { action: Action::Entries(_, UserQuota::Unlimited), .. }));
        for bad in [
            "user",
            "user add",
            "user list x",
            "user quota a",
            "user quota a 1X",
            "user nope",
            "user list --x",
            "user entries a",
            "user entries a 1K",
        ] {
            assert!(parse(&args(bad), |_| None).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_are_one_line() {
        let mut input: &[u8] = b"s3cret word\r\nnext\n";
        assert_eq!(read_password(&mut input).unwrap().expose(), "s3cret word");
        let mut empty: &[u8] = b"";
        assert!(read_password(&mut empty).is_err());
    }
}
