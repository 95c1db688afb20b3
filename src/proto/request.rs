//! Requests, both directions: a request line parsed into a [`Command`], and
//! a [`Command`] printed back into its line.
//!
//! One table, [`COMMANDS`], names every command with its argument usage,
//! its one-line help and how its arguments become a [`Command`]; parsing,
//! the arity check, usage errors and `help` all read it. Handlers never see
//! raw request text.

use std::fmt;

use crate::digest::Digest;
use crate::proto::{Code, Reply};

/// Longest request line, counting its `\n` (and `\r`, if any).
pub const MAX_LINE: usize = 4096;

pub use crate::secret::Password;

/// A parsed request. Each variant is the command of the same name in
/// [`COMMANDS`], whose usage names its fields.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Register { user: String, pass: Password },
    Login { user: String, pass: Password },
    Pwd,
    Ls { path: Option<String> },
    Makedir { path: String },
    Cd { path: String },
    Upload { path: String, size: u64, md5: Option<Digest>, from: Option<u64> },
    Download { path: String, offset: u64 },
    Stat { path: String },
    Rm { path: String },
    Rmdir { path: String },
    Mv { from: String, to: String },
    Quota,
    Help,
    Quit,
    Trash,
    Restore { id: String, path: Option<String> },
    Purge { target: Purge },
    Makedirs { path: String },
    Cp { from: String, to: String },
    Find { path: Option<String> },
    Passwd { old: Password, new: Password },
    Claim { path: String, size: u64, md5: Digest },
    Share { path: String, days: Option<u32> },
    Shares,
    Unshare { code: String },
    Peek { code: String },
    Save { code: String, path: Option<String> },
}

/// What `purge` removes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Purge {
    /// One trash entry.
    Id(String),
    /// The whole trash.
    All,
}

/// Longest share, in days.
pub const MAX_SHARE_DAYS: u32 = 3650;

/// Why a request line was refused before reaching a handler.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// `500` (syntax) or `501` (arguments).
    pub code: Code,
    /// What the client is told.
    pub text: String,
    /// The first word was `upload`: payload bytes may follow, so the
    /// connection must close after the reply.
    pub upload: bool,
}

impl ParseError {
    fn syntax(text: &str) -> ParseError {
        ParseError { code: Code::Syntax, text: text.to_string(), upload: false }
    }

    /// The reply that refuses the line.
    pub fn reply(&self) -> Reply {
        Reply::new(self.code, self.text.clone())
    }
}

/// Parses one request line (without its `\n`; a trailing `\r` is dropped).
/// `Ok(None)` is a blank line, which gets no reply.
pub fn parse_line(raw: &[u8]) -> Result<Option<Command>, ParseError> {
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    let upload = first_word_is_upload(raw);
    let fail = |mut e: ParseError| {
        e.upload = upload;
        e
    };
    let line = std::str::from_utf8(raw).map_err(|_| fail(ParseError::syntax("line is not UTF-8")))?;
    if line.chars().any(|c| c.is_control() && c != '\t') {
        return Err(fail(ParseError::syntax("control character in line")));
    }
    let words = split_words(line).map_err(fail)?;
    let Some((verb, args)) = words.split_first() else {
        return Ok(None);
    };
    let verb = verb.to_ascii_lowercase();
    parse_command(&verb, args).map(Some).map_err(|mut e| {
        e.upload = upload || verb == "upload";
        e
    })
}

fn first_word_is_upload(raw: &[u8]) -> bool {
    let start = raw.iter().position(|b| *b != b' ' && *b != b'\t').unwrap_or(raw.len());
    let rest = &raw[start..];
    let end = rest.iter().position(|b| *b == b' ' || *b == b'\t').unwrap_or(rest.len());
    rest[..end].eq_ignore_ascii_case(b"upload")
}

/// Splits a line into words: blanks separate, double quotes group, and
/// inside quotes `\"` is a quote and `\\` a backslash.
pub fn split_words(line: &str) -> Result<Vec<String>, ParseError> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
        let Some(&first) = chars.peek() else {
            return Ok(words);
        };
        let mut word = String::new();
        if first == '"' {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(ParseError::syntax("unterminated quote")),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(c @ ('"' | '\\')) => word.push(c),
                        _ => return Err(ParseError::syntax("bad escape in quotes")),
                    },
                    Some(c) => word.push(c),
                }
            }
            if chars.peek().is_some_and(|c| *c != ' ' && *c != '\t') {
                return Err(ParseError::syntax("text right after a closing quote"));
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ' ' && *c != '\t') {
                word.push(c);
            }
        }
        words.push(word);
    }
}

/// Builds a command from its arguments, whose count the table checked.
type Build = fn(&[String]) -> Result<Command, ParseError>;

/// One command of the protocol, as the table knows it.
pub struct Spec {
    /// The command word.
    pub name: &'static str,
    /// Its arguments as the usage writes them: `[X]` is optional.
    pub args: &'static str,
    /// What it does, in one line.
    pub help: &'static str,
    build: Build,
}

impl Spec {
    /// `name args`, as in a usage error.
    pub fn usage(&self) -> String {
        format!("{} {}", self.name, self.args).trim_end().to_string()
    }

    /// The fewest and the most arguments, read from [`Spec::args`].
    pub fn arity(&self) -> (usize, usize) {
        let words = self.args.split_whitespace();
        let optional = words.clone().filter(|w| w.starts_with('[')).count();
        let all = words.count();
        (all - optional, all)
    }

    /// The line of `help` for this command.
    pub fn help_line(&self) -> String {
        format!("{:<40} {}", format!("{} {}", self.name, self.args), self.help)
    }
}

const fn spec(name: &'static str, args: &'static str, help: &'static str, build: Build) -> Spec {
    Spec { name, args, help, build }
}

/// Every command, in the order `help` lists them.
pub const COMMANDS: &[Spec] = &[
    spec("register", "USER PASS", "create an account", |a| {
        Ok(Command::Register { user: a[0].clone(), pass: Password(a[1].clone()) })
    }),
    spec("login", "USER PASS", "log in (again, to switch user)", |a| {
        Ok(Command::Login { user: a[0].clone(), pass: Password(a[1].clone()) })
    }),
    spec("pwd", "", "print the working directory", |_| Ok(Command::Pwd)),
    spec("ls", "[PATH]", "list a directory (or one file)", |a| Ok(Command::Ls { path: a.first().cloned() })),
    spec("makedir", "PATH", "make a directory (alias mkdir)", |a| Ok(Command::Makedir { path: a[0].clone() })),
    spec("mkdir", "PATH", "make a directory", |a| Ok(Command::Makedir { path: a[0].clone() })),
    spec("cd", "PATH", "change the working directory", |a| Ok(Command::Cd { path: a[0].clone() })),
    spec("upload", "PATH SIZE MD5|- [FROM]", "store a file; MD5 - sends it after the payload", parse_upload),
    spec("download", "PATH [OFFSET]", "fetch a file, from OFFSET", |a| {
        let offset = a.get(1).map_or(Ok(0), |o| number(o, "OFFSET"))?;
        Ok(Command::Download { path: a[0].clone(), offset })
    }),
    spec("stat", "PATH", "type, size, mtime and MD5 of a file", |a| Ok(Command::Stat { path: a[0].clone() })),
    spec("rm", "PATH", "move a file or a directory tree to the trash", |a| Ok(Command::Rm { path: a[0].clone() })),
    spec("rmdir", "PATH", "remove an empty directory", |a| Ok(Command::Rmdir { path: a[0].clone() })),
    spec("mv", "FROM TO", "move or rename; replaces a file at TO", |a| {
        Ok(Command::Mv { from: a[0].clone(), to: a[1].clone() })
    }),
    spec("makedirs", "PATH", "make a directory and its missing parents", |a| {
        Ok(Command::Makedirs { path: a[0].clone() })
    }),
    spec("cp", "FROM TO", "copy a file or a directory tree (instant)", |a| {
        Ok(Command::Cp { from: a[0].clone(), to: a[1].clone() })
    }),
    spec("find", "[PATH]", "every file and directory below PATH, with MD5s", |a| {
        Ok(Command::Find { path: a.first().cloned() })
    }),
    spec("trash", "", "list the trash, newest first", |_| Ok(Command::Trash)),
    spec("restore", "ID [PATH]", "put a trash entry back, or at PATH", |a| {
        Ok(Command::Restore { id: a[0].clone(), path: a.get(1).cloned() })
    }),
    spec("purge", "ID|all", "delete a trash entry (or all) for good", |a| {
        let target = if a[0] == "all" { Purge::All } else { Purge::Id(a[0].clone()) };
        Ok(Command::Purge { target })
    }),
    spec("claim", "PATH SIZE MD5", "store a file the server already holds, with proof", parse_claim),
    spec("share", "PATH [DAYS]", "make a code (and, with HTTP on, a link anyone can open) for PATH", |a| {
        Ok(Command::Share { path: a[0].clone(), days: a.get(1).map(|d| days(d)).transpose()? })
    }),
    spec("shares", "", "list your shares", |_| Ok(Command::Shares)),
    spec("unshare", "CODE", "revoke a share", |a| Ok(Command::Unshare { code: share_code(&a[0]) })),
    spec("peek", "CODE", "list what a share holds", |a| Ok(Command::Peek { code: share_code(&a[0]) })),
    spec("save", "CODE [PATH]", "copy a share into your tree", |a| {
        Ok(Command::Save { code: share_code(&a[0]), path: a.get(1).cloned() })
    }),
    spec("passwd", "OLD NEW", "change your password", |a| {
        Ok(Command::Passwd { old: Password(a[0].clone()), new: Password(a[1].clone()) })
    }),
    spec("quota", "", "bytes used and the limit", |_| Ok(Command::Quota)),
    spec("help", "", "this list", |_| Ok(Command::Help)),
    spec("quit", "", "end the session", |_| Ok(Command::Quit)),
];

/// The table's entry for a command word.
pub fn spec_of(verb: &str) -> Option<&'static Spec> {
    COMMANDS.iter().find(|s| s.name == verb)
}

/// The lines of `help`, one per command.
pub fn help_lines() -> Vec<String> {
    COMMANDS.iter().map(Spec::help_line).collect()
}

fn parse_command(verb: &str, args: &[String]) -> Result<Command, ParseError> {
    let spec = spec_of(verb).ok_or_else(|| ParseError::syntax("unknown command; try help"))?;
    let (min, max) = spec.arity();
    if !(min..=max).contains(&args.len()) {
        return Err(bad_args(&format!("usage: {}", spec.usage())));
    }
    (spec.build)(args)
}

fn parse_upload(args: &[String]) -> Result<Command, ParseError> {
    let size = number(&args[1], "SIZE")?;
    let md5 = match args[2].as_str() {
        "-" => None,
        text => Some(Digest::from_hex(text).ok_or_else(|| bad_args("MD5 must be 32 hex digits or -"))?),
    };
    let from = args.get(3).map(|a| number(a, "FROM")).transpose()?;
    Ok(Command::Upload { path: args[0].clone(), size, md5, from })
}

fn parse_claim(args: &[String]) -> Result<Command, ParseError> {
    let size = number(&args[1], "SIZE")?;
    let md5 = Digest::from_hex(&args[2]).ok_or_else(|| bad_args("MD5 must be 32 hex digits"))?;
    Ok(Command::Claim { path: args[0].clone(), size, md5 })
}

/// A share code as typed: codes are small letters and digits, so capitals
/// (a code read aloud or copied from a capitalised message) mean the same.
fn share_code(text: &str) -> String {
    text.to_ascii_lowercase()
}

/// Days of a share: 1 to [`MAX_SHARE_DAYS`].
fn days(text: &str) -> Result<u32, ParseError> {
    let n = number(text, "DAYS")?;
    match u32::try_from(n) {
        Ok(d) if (1..=MAX_SHARE_DAYS).contains(&d) => Ok(d),
        _ => Err(bad_args(&format!("DAYS must be 1 to {MAX_SHARE_DAYS}"))),
    }
}

fn bad_args(text: &str) -> ParseError {
    ParseError { code: Code::BadArgs, text: text.to_string(), upload: false }
}

/// A decimal number: ASCII digits only, no sign, within `u64`.
pub fn number(text: &str, what: &str) -> Result<u64, ParseError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad_args(&format!("{what} must be decimal digits")));
    }
    text.parse().map_err(|_| bad_args(&format!("{what} is too large")))
}

/// Quotes a word for the wire when it needs it.
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty() && !word.starts_with('"') && !word.contains([' ', '\t']);
    if plain {
        return word.to_string();
    }
    let mut out = String::from("\"");
    for c in word.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Why a command cannot be put on the wire: one of its fields holds a
/// control character (other than tab), which a request line cannot carry;
/// a line feed would even start a second request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodeError {
    /// The field, as the usage names it (`PATH`, `PASS`, ...); never its value.
    pub field: &'static str,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} holds a control character, which a request cannot carry", self.field)
    }
}

impl std::error::Error for EncodeError {}

/// Checks that `text` can travel inside a request line: no control
/// character other than tab.
pub fn check_field(field: &'static str, text: &str) -> Result<(), EncodeError> {
    match text.chars().any(|c| c.is_control() && c != '\t') {
        true => Err(EncodeError { field }),
        false => Ok(()),
    }
}

/// A first field and an optional `PATH`.
fn with_path<'a>(first: (&'static str, &'a str), path: &'a Option<String>) -> Vec<(&'static str, &'a str)> {
    let mut out = vec![first];
    out.extend(path.as_deref().map(|p| ("PATH", p)));
    out
}

impl Command {
    /// The command word.
    pub fn verb(&self) -> &'static str {
        match self {
            Command::Register { .. } => "register",
            Command::Login { .. } => "login",
            Command::Pwd => "pwd",
            Command::Ls { .. } => "ls",
            Command::Makedir { .. } => "makedir",
            Command::Cd { .. } => "cd",
            Command::Upload { .. } => "upload",
            Command::Download { .. } => "download",
            Command::Stat { .. } => "stat",
            Command::Rm { .. } => "rm",
            Command::Rmdir { .. } => "rmdir",
            Command::Mv { .. } => "mv",
            Command::Quota => "quota",
            Command::Help => "help",
            Command::Quit => "quit",
            Command::Trash => "trash",
            Command::Restore { .. } => "restore",
            Command::Purge { .. } => "purge",
            Command::Makedirs { .. } => "makedirs",
            Command::Cp { .. } => "cp",
            Command::Find { .. } => "find",
            Command::Passwd { .. } => "passwd",
            Command::Claim { .. } => "claim",
            Command::Share { .. } => "share",
            Command::Shares => "shares",
            Command::Unshare { .. } => "unshare",
            Command::Peek { .. } => "peek",
            Command::Save { .. } => "save",
        }
    }

    /// The text fields, named as in the usage.
    fn fields(&self) -> Vec<(&'static str, &str)> {
        match self {
            Command::Register { user, pass } | Command::Login { user, pass } => {
                vec![("USER", user), ("PASS", pass.expose())]
            }
            Command::Ls { path: Some(path) }
            | Command::Makedir { path }
            | Command::Cd { path }
            | Command::Upload { path, .. }
            | Command::Download { path, .. }
            | Command::Stat { path }
            | Command::Rm { path }
            | Command::Rmdir { path } => vec![("PATH", path)],
            Command::Mv { from, to } | Command::Cp { from, to } => vec![("FROM", from), ("TO", to)],
            Command::Makedirs { path }
            | Command::Find { path: Some(path) }
            | Command::Claim { path, .. }
            | Command::Share { path, .. } => vec![("PATH", path)],
            Command::Restore { id, path } => with_path(("ID", id), path),
            Command::Purge { target: Purge::Id(id) } => vec![("ID", id)],
            Command::Passwd { old, new } => vec![("OLD", old.expose()), ("NEW", new.expose())],
            Command::Unshare { code } | Command::Peek { code } => vec![("CODE", code)],
            Command::Save { code, path } => with_path(("CODE", code), path),
            Command::Ls { path: None }
            | Command::Find { path: None }
            | Command::Purge { target: Purge::All }
            | Command::Pwd
            | Command::Quota
            | Command::Help
            | Command::Quit
            | Command::Trash
            | Command::Shares => Vec::new(),
        }
    }

    /// The request line to send, without its `\r\n`; an error, never a
    /// second line, when a field holds a control character.
    pub fn to_line(&self) -> Result<String, EncodeError> {
        for (field, text) in self.fields() {
            check_field(field, text)?;
        }
        Ok(self.to_string())
    }
}

impl fmt::Display for Command {
    /// The request line as sent on the wire, without its `\r\n`. Fields
    /// are not checked: send [`Command::to_line`], which refuses control
    /// characters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let q = |s: &str| quote(s);
        match self {
            Command::Register { user, pass } => write!(f, "register {} {}", q(user), q(&pass.0)),
            Command::Login { user, pass } => write!(f, "login {} {}", q(user), q(&pass.0)),
            Command::Pwd => f.write_str("pwd"),
            Command::Ls { path: None } => f.write_str("ls"),
            Command::Ls { path: Some(p) } => write!(f, "ls {}", q(p)),
            Command::Makedir { path } => write!(f, "makedir {}", q(path)),
            Command::Cd { path } => write!(f, "cd {}", q(path)),
            Command::Upload { path, size, md5, from } => {
                let md5 = md5.map_or("-".to_string(), |d| d.to_string());
                write!(f, "upload {} {size} {md5}", q(path))?;
                from.map_or(Ok(()), |from| write!(f, " {from}"))
            }
            Command::Download { path, offset } => write!(f, "download {} {offset}", q(path)),
            Command::Stat { path } => write!(f, "stat {}", q(path)),
            Command::Rm { path } => write!(f, "rm {}", q(path)),
            Command::Rmdir { path } => write!(f, "rmdir {}", q(path)),
            Command::Mv { from, to } => write!(f, "mv {} {}", q(from), q(to)),
            Command::Quota => f.write_str("quota"),
            Command::Help => f.write_str("help"),
            Command::Quit => f.write_str("quit"),
            Command::Trash => f.write_str("trash"),
            Command::Restore { id, path } => write!(f, "restore {}{}", q(id), opt(path)),
            Command::Purge { target: Purge::All } => f.write_str("purge all"),
            Command::Purge { target: Purge::Id(id) } => write!(f, "purge {}", q(id)),
            Command::Makedirs { path } => write!(f, "makedirs {}", q(path)),
            Command::Cp { from, to } => write!(f, "cp {} {}", q(from), q(to)),
            Command::Find { path } => write!(f, "find{}", opt(path)),
            Command::Passwd { old, new } => write!(f, "passwd {} {}", q(&old.0), q(&new.0)),
            Command::Claim { path, size, md5 } => write!(f, "claim {} {size} {md5}", q(path)),
            Command::Share { path, days } => write!(f, "share {}{}", q(path), opt(&days.map(|d| d.to_string()))),
            Command::Shares => f.write_str("shares"),
            Command::Unshare { code } => write!(f, "unshare {}", q(code)),
            Command::Peek { code } => write!(f, "peek {}", q(code)),
            Command::Save { code, path } => write!(f, "save {}{}", q(code), opt(path)),
        }
    }
}

/// An optional last argument: a space and the quoted word, or nothing.
fn opt(word: &Option<String>) -> String {
    word.as_ref().map_or(String::new(), |w| format!(" {}", quote(w)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        split_words(line).unwrap()
    }

    #[test]
    fn splits_words_table() {
        let cases: &[(&str, &[&str])] = &[
            ("ls", &["ls"]),
            ("  ls \t a  ", &["ls", "a"]),
            ("cd \"my docs\"", &["cd", "my docs"]),
            ("cd \"a\\\"b\"", &["cd", "a\"b"]),
            ("cd \"a\\\\b\"", &["cd", "a\\b"]),
            ("cd \"\"", &["cd", ""]),
            ("cd a\"b", &["cd", "a\"b"]),
            ("", &[]),
            (" \t ", &[]),
        ];
        for (line, want) in cases {
            assert_eq!(words(line), *want, "line {line:?}");
        }
    }

    #[test]
    fn refuses_bad_lines_table() {
        let cases: &[(&[u8], Code, bool)] = &[
            (b"frobnicate", Code::Syntax, false),
            (b"cd \"open", Code::Syntax, false),
            (b"cd \"a\"b", Code::Syntax, false),
            (b"cd \"a\\nb\"", Code::Syntax, false),
            (b"ls \x01", Code::Syntax, false),
            (b"ls \xff", Code::Syntax, false),
            (b"ls a\0b", Code::Syntax, false),
            (b"ls a b", Code::BadArgs, false),
            (b"login alice", Code::BadArgs, false),
            (b"upload a 1", Code::BadArgs, true),
            (b"UPLOAD a -1 -", Code::BadArgs, true),
            (b"upload a 1e3 -", Code::BadArgs, true),
            (b"upload a 0x10 -", Code::BadArgs, true),
            (b"upload a 99999999999999999999 -", Code::BadArgs, true),
            (b"upload a 1 abc", Code::BadArgs, true),
            (b"upload a 1 - +1", Code::BadArgs, true),
            (b"upload \xff 1 -", Code::Syntax, true),
            (b"download a -5", Code::BadArgs, false),
            (b"download a 1 2", Code::BadArgs, false),
            (b"\"upload\" a 1", Code::BadArgs, true),
            (b"  \tUpLoAd", Code::BadArgs, true),
        ];
        for (line, code, upload) in cases {
            let err = parse_line(line).unwrap_err();
            assert_eq!((err.code, err.upload), (*code, *upload), "line {:?}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn parses_commands_table() {
        let d = Digest::from_hex("b1946ac92492d2347c6235b4d2611184").unwrap();
        let cases: Vec<(&str, Command)> = vec![
            ("PWD\r", Command::Pwd),
            ("Ls", Command::Ls { path: None }),
            ("mkdir x", Command::Makedir { path: "x".into() }),
            (
                "upload f 6 B1946AC92492D2347C6235B4D2611184",
                Command::Upload { path: "f".into(), size: 6, md5: Some(d), from: None },
            ),
            ("upload f 6 - 0", Command::Upload { path: "f".into(), size: 6, md5: None, from: Some(0) }),
            ("download f 3", Command::Download { path: "f".into(), offset: 3 }),
            ("mv \"a b\" c", Command::Mv { from: "a b".into(), to: "c".into() }),
        ];
        for (line, want) in cases {
            assert_eq!(parse_line(line.as_bytes()).unwrap(), Some(want), "line {line:?}");
        }
        assert_eq!(parse_line(b"   ").unwrap(), None);
    }

    #[test]
    fn commands_round_trip() {
        let cmds = vec![
            Command::Login { user: "bob".into(), pass: Password::new("p a\"s\\s $#:") },
            Command::Ls { path: Some("my \"docs\"".into()) },
            Command::Upload { path: "a b".into(), size: 10, md5: None, from: Some(4) },
            Command::Download { path: "x".into(), offset: 7 },
            Command::Mv { from: "\"q".into(), to: "\\".into() },
            Command::Quota,
            Command::Trash,
            Command::Restore { id: "a1".into(), path: Some("/x y".into()) },
            Command::Restore { id: "a1".into(), path: None },
            Command::Purge { target: Purge::All },
            Command::Purge { target: Purge::Id("k2".into()) },
            Command::Makedirs { path: "a/b c".into() },
            Command::Cp { from: "a".into(), to: "b".into() },
            Command::Find { path: None },
            Command::Find { path: Some("d".into()) },
            Command::Passwd { old: Password::new("o ld"), new: Password::new("n\"ew") },
            Command::Claim { path: "f".into(), size: 9, md5: Digest::of(b"x") },
            Command::Share { path: "p".into(), days: Some(7) },
            Command::Share { path: "p".into(), days: None },
            Command::Shares,
            Command::Unshare { code: "c".into() },
            Command::Peek { code: "c".into() },
            Command::Save { code: "c".into(), path: Some("t".into()) },
            Command::Save { code: "c".into(), path: None },
        ];
        for cmd in cmds {
            let wire = cmd.to_string();
            assert_eq!(parse_line(wire.as_bytes()).unwrap(), Some(cmd), "wire {wire:?}");
        }
    }

    #[test]
    fn control_characters_never_reach_the_wire() {
        let bad = ["a\nrm victim", "a\r\nrm victim", "a\rb", "\0", "a\u{7f}", "a\u{85}b", "\u{1b}[2J"];
        for text in bad {
            let cmds = [
                Command::Cd { path: text.into() },
                Command::Ls { path: Some(text.into()) },
                Command::Upload { path: text.into(), size: 1, md5: None, from: None },
                Command::Mv { from: "ok".into(), to: text.into() },
                Command::Login { user: "bob".into(), pass: Password::new(text) },
            ];
            for cmd in cmds {
                let err = cmd.to_line().unwrap_err();
                assert!(!err.to_string().contains(text), "the value is not echoed: {err}");
            }
        }
        assert_eq!(Command::Mv { from: "a".into(), to: "b\n".into() }.to_line().unwrap_err().field, "TO");
        let tab = Command::Cd { path: "a\tb".into() };
        let line = tab.to_line().unwrap();
        assert_eq!(parse_line(line.as_bytes()).unwrap(), Some(tab));
        assert_eq!(Command::Quota.to_line().unwrap(), "quota");
    }

    #[test]
    fn the_table_is_consistent() {
        for (i, spec) in COMMANDS.iter().enumerate() {
            assert!(COMMANDS[..i].iter().all(|s| s.name != spec.name), "{} twice", spec.name);
            let (min, max) = spec.arity();
            let args: Vec<String> = (0..min).map(|_| "1".to_string()).collect();
            let Ok(cmd) = (spec.build)(&args) else { continue };
            let verb = if spec.name == "mkdir" { "makedir" } else { spec.name };
            assert_eq!(cmd.verb(), verb, "what {} builds", spec.name);
            assert!(max >= min);
        }
        assert_eq!(help_lines().len(), COMMANDS.len());
        assert_eq!(format!("{:?} {}", Password::new("secret"), Password::new("secret")), "*** ***");
        let err = parse_line(b"mv a").unwrap_err();
        assert_eq!((err.code, err.text.as_str()), (Code::BadArgs, "usage: mv FROM TO"));
    }
}
