//! Requests, both directions: a request line parsed into a [`Command`], and
//! a [`Command`] printed back into its line.
//!
//! One table, [`COMMANDS`], names every command with its argument usage,
//! its one-line help and how its arguments become a [`Command`]; parsing,
//! the arity check, usage errors and `help` all read it. Handlers never see
//! raw request text.

use std::fmt;
use std::time::SystemTime;

use crate::clock;

use crate::digest::Digest;
use crate::proto::{Code, Reply};

/// Longest request line, counting its `\n` (and `\r`, if any).
pub const MAX_LINE: usize = 4096;

pub use crate::secret::Password;

/// Defines every command once: from one entry per command it makes the
/// [`Command`] variant, its [`Spec`] in [`COMMANDS`] (name, aliases,
/// usage, help, parse) and its printed line ([`Command::verb`],
/// [`Command::to_line`], `Display`). Each field names its usage word and
/// the [`ArgKind`] that reads and writes it, in the order of the line.
macro_rules! commands {
    ($(
        $variant:ident $name:literal $([$($alias:literal),*])? $help:literal
        $({ $($field:ident : $ty:ty = $usage:literal as $kind:ident),* $(,)? })?;
    )*) => {
        /// A parsed request. Each variant is the command of the same name
        /// in [`COMMANDS`], whose usage names its fields.
        #[allow(missing_docs)]
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum Command {
            $($variant $({ $($field: $ty),* })?,)*
        }

        /// Every command, in the order `help` lists them.
        pub const COMMANDS: &[Spec] = &[$(
            Spec {
                name: $name,
                aliases: &[$($($alias),*)?],
                args: concat!($($($usage, " ",)*)?),
                help: $help,
                build: |words| {
                    #[allow(unused_mut, unused_variables)]
                    let mut words = words.iter().map(String::as_str);
                    Ok(Command::$variant { $($($field: <$kind as ArgKind<$ty>>::parse(words.next(), bare($usage))?),*)? })
                },
            },
        )*];

        impl Command {
            /// The command word.
            pub fn verb(&self) -> &'static str {
                match self {
                    $(Command::$variant { .. } => $name,)*
                }
            }

            /// Each argument as it is sent, with the usage word naming it;
            /// an absent optional argument is left out.
            fn words(&self) -> Vec<(&'static str, String)> {
                #[allow(unused_mut)]
                let mut out = Vec::new();
                match self {
                    $(Command::$variant { $($($field),*)? } => {
                        $($(out.extend(<$kind as ArgKind<$ty>>::word($field).map(|w| (bare($usage), w)));)*)?
                    })*
                }
                out
            }
        }
    };
}

commands! {
    Register "register" "create an account" { user: String = "USER" as Text, pass: Password = "PASS" as Secret };
    Login "login" "log in (again, to switch user)" { user: String = "USER" as Text, pass: Password = "PASS" as Secret };
    Pwd "pwd" "print the working directory";
    Ls "ls" "list a directory (or one file)" { path: Option<String> = "[PATH]" as Text };
    Makedir "makedir" ["mkdir"] "make a directory (alias mkdir)" { path: String = "PATH" as Text };
    Cd "cd" "change the working directory" { path: String = "PATH" as Text };
    Upload "upload" "store a file; MD5 - sends it after the payload" {
        path: String = "PATH" as Text,
        size: u64 = "SIZE" as Number,
        md5: Option<Digest> = "MD5|-" as Md5OrDash,
        from: Option<u64> = "[FROM]" as Number,
    };
    Download "download" "fetch a file, from OFFSET" { path: String = "PATH" as Text, offset: u64 = "[OFFSET]" as Number };
    Stat "stat" "type, size, mtime and MD5 of a file" { path: String = "PATH" as Text };
    Touch "touch" "set a file's mtime (UTC, fraction allowed)" {
        path: String = "PATH" as Text,
        time: SystemTime = "TIME" as Time,
    };
    Rm "rm" "move a file or a directory tree to the trash" { path: String = "PATH" as Text };
    Rmdir "rmdir" "remove an empty directory" { path: String = "PATH" as Text };
    Mv "mv" "move or rename; replaces a file at TO" { from: String = "FROM" as Text, to: String = "TO" as Text };
    Makedirs "makedirs" "make a directory and its missing parents" { path: String = "PATH" as Text };
    Cp "cp" "copy a file or a directory tree (instant)" { from: String = "FROM" as Text, to: String = "TO" as Text };
    Find "find" "every file and directory below PATH, with MD5s" { path: Option<String> = "[PATH]" as Text };
    Trash "trash" "list the trash, newest first";
    Restore "restore" "put a trash entry back, or at PATH" {
        id: String = "ID" as Text,
        path: Option<String> = "[PATH]" as Text,
    };
    Purge "purge" "delete a trash entry (or all) for good" { target: Purge = "ID|all" as Target };
    Claim "claim" "store a file the server already holds, with proof" {
        path: String = "PATH" as Text,
        size: u64 = "SIZE" as Number,
        md5: Digest = "MD5" as Md5,
    };
    Share "share" "a code (with HTTP on, a link) to see PATH" {
        path: String = "PATH" as Text,
        days: Option<u32> = "[DAYS]" as Days,
    };
    Shares "shares" "list your shares";
    Unshare "unshare" "revoke a share" { code: String = "CODE" as ShareCode };
    Peek "peek" "list what a share holds" { code: String = "CODE" as ShareCode };
    Save "save" "copy a share into your tree" { code: String = "CODE" as ShareCode, path: Option<String> = "[PATH]" as Text };
    Passwd "passwd" "change your password" { old: Password = "OLD" as Secret, new: Password = "NEW" as Secret };
    Quota "quota" "bytes and entries used, and their limits";
    Help "help" "this list";
    Quit "quit" "end the session";
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
    /// Other words for the same command.
    pub aliases: &'static [&'static str],
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
        format!("{:<40} {}", format!("{} {}", self.name, self.args.trim_end()), self.help)
    }

    /// Whether the argument at `index` is a secret (a password or a share
    /// code), which a client never echoes or keeps in its history.
    pub fn secret(&self, index: usize) -> bool {
        self.args.split_whitespace().nth(index).is_some_and(|w| SECRETS.contains(&bare(w)))
    }
}

/// The usage words whose values are secrets.
const SECRETS: &[&str] = &["PASS", "OLD", "NEW", "CODE"];

/// A usage word without the brackets of an optional argument.
fn bare(usage: &'static str) -> &'static str {
    usage.trim_start_matches('[').trim_end_matches(']')
}

/// The table's entry for a command word (or one of its aliases).
pub fn spec_of(verb: &str) -> Option<&'static Spec> {
    COMMANDS.iter().find(|s| s.name == verb || s.aliases.contains(&verb))
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

/// How one kind of argument is read from its word and written back: the
/// parse and the print of an argument, side by side. `name` is the usage
/// word, for error messages.
pub trait ArgKind<T> {
    /// The value of `word` (`None`: an optional argument left out).
    fn parse(word: Option<&str>, name: &str) -> Result<T, ParseError>;
    /// The word to send (`None`: left out).
    fn word(value: &T) -> Option<String>;
}

/// A word taken as it is (a path, a user name, an ID).
pub struct Text;
/// A password.
pub struct Secret;
/// Decimal digits.
pub struct Number;
/// 32 hex digits.
pub struct Md5;
/// 32 hex digits, or `-` for "after the payload".
pub struct Md5OrDash;
/// Days of a share: 1 to [`MAX_SHARE_DAYS`].
pub struct Days;
/// A share code: capitals (a code read aloud) mean the same.
pub struct ShareCode;
/// `ID` or `all`.
pub struct Target;
/// UTC `YYYY-MM-DDTHH:MM:SS[.F]Z`, up to 9 digits of fraction.
pub struct Time;

fn required<'a>(word: Option<&'a str>, name: &str) -> Result<&'a str, ParseError> {
    word.ok_or_else(|| bad_args(&format!("{name} is missing")))
}

impl ArgKind<String> for Text {
    fn parse(word: Option<&str>, name: &str) -> Result<String, ParseError> {
        required(word, name).map(str::to_string)
    }
    fn word(value: &String) -> Option<String> {
        Some(value.clone())
    }
}

/// Any kind is optional as an `Option` of its type.
impl<T, K: ArgKind<T>> ArgKind<Option<T>> for K {
    fn parse(word: Option<&str>, name: &str) -> Result<Option<T>, ParseError> {
        word.map(|w| K::parse(Some(w), name)).transpose()
    }
    fn word(value: &Option<T>) -> Option<String> {
        value.as_ref().and_then(K::word)
    }
}

impl ArgKind<Password> for Secret {
    fn parse(word: Option<&str>, name: &str) -> Result<Password, ParseError> {
        required(word, name).map(Password::new)
    }
    fn word(value: &Password) -> Option<String> {
        Some(value.0.clone())
    }
}

impl ArgKind<u64> for Number {
    /// A left-out number is 0 (`download`'s OFFSET).
    fn parse(word: Option<&str>, name: &str) -> Result<u64, ParseError> {
        word.map_or(Ok(0), |w| number(w, name))
    }
    fn word(value: &u64) -> Option<String> {
        Some(value.to_string())
    }
}

impl ArgKind<Digest> for Md5 {
    fn parse(word: Option<&str>, name: &str) -> Result<Digest, ParseError> {
        Digest::from_hex(required(word, name)?).ok_or_else(|| bad_args(&format!("{name} must be 32 hex digits")))
    }
    fn word(value: &Digest) -> Option<String> {
        Some(value.to_string())
    }
}

impl ArgKind<Option<Digest>> for Md5OrDash {
    fn parse(word: Option<&str>, name: &str) -> Result<Option<Digest>, ParseError> {
        match required(word, name)? {
            "-" => Ok(None),
            text => Digest::from_hex(text).map(Some).ok_or_else(|| bad_args("MD5 must be 32 hex digits or -")),
        }
    }
    fn word(value: &Option<Digest>) -> Option<String> {
        Some(value.map_or("-".to_string(), |d| d.to_string()))
    }
}

impl ArgKind<u32> for Days {
    fn parse(word: Option<&str>, name: &str) -> Result<u32, ParseError> {
        match u32::try_from(number(required(word, name)?, name)?) {
            Ok(d) if (1..=MAX_SHARE_DAYS).contains(&d) => Ok(d),
            _ => Err(bad_args(&format!("{name} must be 1 to {MAX_SHARE_DAYS}"))),
        }
    }
    fn word(value: &u32) -> Option<String> {
        Some(value.to_string())
    }
}

impl ArgKind<String> for ShareCode {
    fn parse(word: Option<&str>, name: &str) -> Result<String, ParseError> {
        required(word, name).map(str::to_ascii_lowercase)
    }
    fn word(value: &String) -> Option<String> {
        Some(value.clone())
    }
}

impl ArgKind<Purge> for Target {
    fn parse(word: Option<&str>, name: &str) -> Result<Purge, ParseError> {
        Ok(match required(word, name)? {
            "all" => Purge::All,
            id => Purge::Id(id.to_string()),
        })
    }
    fn word(value: &Purge) -> Option<String> {
        Some(match value {
            Purge::All => "all".to_string(),
            Purge::Id(id) => id.clone(),
        })
    }
}

impl ArgKind<SystemTime> for Time {
    fn parse(word: Option<&str>, name: &str) -> Result<SystemTime, ParseError> {
        let text = required(word, name)?;
        clock::parse_utc_fine(text).ok_or_else(|| bad_args(&format!("{name} must be YYYY-MM-DDTHH:MM:SS[.F]Z (UTC)")))
    }
    fn word(value: &SystemTime) -> Option<String> {
        Some(clock::utc_fine(*value))
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

impl Command {
    /// The request line to send, without its `\r\n`; an error, never a
    /// second line, when a field holds a control character.
    pub fn to_line(&self) -> Result<String, EncodeError> {
        for (field, text) in self.words() {
            check_field(field, &text)?;
        }
        Ok(self.to_string())
    }
}

impl fmt::Display for Command {
    /// The request line as sent on the wire, without its `\r\n`. Fields
    /// are not checked: send [`Command::to_line`], which refuses control
    /// characters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.verb())?;
        self.words().iter().try_for_each(|(_, word)| write!(f, " {}", quote(word)))
    }
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
            Command::Touch { path: "a b".into(), time: SystemTime::UNIX_EPOCH + std::time::Duration::new(9, 5) },
            Command::Touch { path: "t".into(), time: SystemTime::UNIX_EPOCH },
            Command::Pwd,
            Command::Help,
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
            assert_eq!(cmd.verb(), spec.name, "what {} builds", spec.name);
            assert!(max >= min);
        }
        assert_eq!(help_lines().len(), COMMANDS.len());
        assert_eq!(parse_line(b"MKDIR x").unwrap(), Some(Command::Makedir { path: "x".into() }));
        let secret = |verb: &str, i| spec_of(verb).unwrap().secret(i);
        assert!(secret("login", 1) && secret("passwd", 0) && secret("save", 0) && !secret("save", 1));
        assert!(!secret("login", 0) && !secret("share", 0) && !secret("touch", 1));
        for bad in ["touch f 2026-11-24", "touch f 2026-11-24T12:00:00.1234567891Z", "touch f now"] {
            assert_eq!(parse_line(bad.as_bytes()).unwrap_err().code, Code::BadArgs, "{bad}");
        }
        assert_eq!(format!("{:?} {}", Password::new("secret"), Password::new("secret")), "*** ***");
        let err = parse_line(b"mv a").unwrap_err();
        assert_eq!((err.code, err.text.as_str()), (Code::BadArgs, "usage: mv FROM TO"));
    }
}
