//! Typed reply bodies: the text of replies whose form the contract fixes.
//!
//! Each type prints (`Display`) exactly what the server sends and parses
//! (`FromStr`) exactly what the client reads, so the two sides cannot
//! drift; every type has a round-trip test. Names and paths come last on
//! their line, unquoted, so they may hold spaces.

// Fields are named as in the wire form each type's doc gives.
#![allow(missing_docs)]

use std::fmt;
use std::str::FromStr;

use crate::clock;
use crate::digest::Digest;

/// Why a reply body could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadBody(pub String);

impl fmt::Display for BadBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed reply: {:?}", self.0)
    }
}

impl std::error::Error for BadBody {}

type Parsed<T> = Result<T, BadBody>;

/// `d` or `f`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if *self == Kind::Dir { "d" } else { "f" })
    }
}

impl FromStr for Kind {
    type Err = BadBody;
    fn from_str(s: &str) -> Parsed<Kind> {
        match s {
            "d" => Ok(Kind::Dir),
            "f" => Ok(Kind::File),
            _ => Err(BadBody(s.into())),
        }
    }
}

/// Splits `text` into `n` words and the rest of the line (which may hold
/// spaces); the rest must not be empty.
fn words_then_rest(text: &str, n: usize) -> Parsed<(Vec<&str>, &str)> {
    let mut parts = text.splitn(n + 1, ' ');
    let words: Vec<&str> = parts.by_ref().take(n).collect();
    let rest = parts.next().filter(|r| !r.is_empty());
    match rest {
        Some(rest) if words.len() == n => Ok((words, rest)),
        _ => Err(BadBody(text.into())),
    }
}

/// Exactly `n` words.
fn exact_words(text: &str, n: usize) -> Parsed<Vec<&str>> {
    let words: Vec<&str> = text.split(' ').collect();
    if words.len() == n { Ok(words) } else { Err(BadBody(text.into())) }
}

fn num(text: &str) -> Parsed<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BadBody(text.into()));
    }
    text.parse().map_err(|_| BadBody(text.into()))
}

fn digest(text: &str) -> Parsed<Digest> {
    Digest::from_hex(text).ok_or_else(|| BadBody(text.into()))
}

/// A digest, or `-` (directories).
fn maybe_digest(text: &str) -> Parsed<Option<Digest>> {
    if text == "-" { Ok(None) } else { digest(text).map(Some) }
}

fn show_digest(d: &Option<Digest>) -> String {
    d.map_or("-".into(), |d| d.to_string())
}

/// A UTC time in whole seconds since 1970.
fn time(text: &str) -> Parsed<u64> {
    clock::parse_utc(text).ok_or_else(|| BadBody(text.into()))
}

/// A time, or `-` (never).
fn maybe_time(text: &str) -> Parsed<Option<u64>> {
    if text == "-" { Ok(None) } else { time(text).map(Some) }
}

fn show_time(t: &Option<u64>) -> String {
    t.map_or("-".into(), clock::utc_secs)
}

/// Declares `FromStr` for a body from a function of its text.
macro_rules! from_text {
    ($ty:ty, $parse:expr) => {
        impl FromStr for $ty {
            type Err = BadBody;
            fn from_str(s: &str) -> Parsed<$ty> {
                $parse(s)
            }
        }
    };
}

/// The `150` reply to `upload`: `OFFSET PREFIX_MD5`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offer {
    pub offset: u64,
    pub prefix: Digest,
}

impl fmt::Display for Offer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.offset, self.prefix)
    }
}

from_text!(Offer, |s: &str| {
    let w = exact_words(s, 2)?;
    Ok(Offer { offset: num(w[0])?, prefix: digest(w[1])? })
});

/// The `150` reply to `download`: `SIZE MD5 OFFSET`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DownloadHead {
    pub size: u64,
    pub md5: Digest,
    pub offset: u64,
}

impl fmt::Display for DownloadHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.size, self.md5, self.offset)
    }
}

from_text!(DownloadHead, |s: &str| {
    let w = exact_words(s, 3)?;
    Ok(DownloadHead { size: num(w[0])?, md5: digest(w[1])?, offset: num(w[2])? })
});

/// The `226` reply to `upload` and `claim`: `SIZE MD5`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stored {
    pub size: u64,
    pub md5: Digest,
}

impl fmt::Display for Stored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.size, self.md5)
    }
}

from_text!(Stored, |s: &str| {
    let w = exact_words(s, 2)?;
    Ok(Stored { size: num(w[0])?, md5: digest(w[1])? })
});

/// One line of `ls`: `TYPE SIZE MTIME NAME`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListLine {
    pub kind: Kind,
    pub size: u64,
    /// Seconds since 1970, UTC.
    pub mtime: u64,
    pub name: String,
}

impl fmt::Display for ListLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {} {}", self.kind, self.size, clock::utc_secs(self.mtime), self.name)
    }
}

from_text!(ListLine, |s: &str| {
    let (w, name) = words_then_rest(s, 3)?;
    Ok(ListLine { kind: w[0].parse()?, size: num(w[1])?, mtime: time(w[2])?, name: name.into() })
});

/// The `213` reply to `stat`: `TYPE SIZE MTIME MD5 NAME` (MD5 `-` for a
/// directory).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatLine {
    pub kind: Kind,
    pub size: u64,
    pub mtime: u64,
    pub md5: Option<Digest>,
    pub name: String,
}

impl fmt::Display for StatLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (t, md5) = (clock::utc_secs(self.mtime), show_digest(&self.md5));
        write!(f, "{} {} {t} {md5} {}", self.kind, self.size, self.name)
    }
}

from_text!(StatLine, |s: &str| {
    let (w, name) = words_then_rest(s, 4)?;
    let (kind, size, mtime, md5) = (w[0].parse()?, num(w[1])?, time(w[2])?, maybe_digest(w[3])?);
    Ok(StatLine { kind, size, mtime, md5, name: name.into() })
});

/// One line of `find` and `peek`: `TYPE SIZE MTIME MD5 RELPATH`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FindLine {
    pub kind: Kind,
    pub size: u64,
    pub mtime: u64,
    pub md5: Option<Digest>,
    /// Relative to the listed path, `/` between names.
    pub path: String,
}

impl fmt::Display for FindLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (t, md5) = (clock::utc_secs(self.mtime), show_digest(&self.md5));
        write!(f, "{} {} {t} {md5} {}", self.kind, self.size, self.path)
    }
}

from_text!(FindLine, |s: &str| {
    let (w, path) = words_then_rest(s, 4)?;
    let (kind, size, mtime, md5) = (w[0].parse()?, num(w[1])?, time(w[2])?, maybe_digest(w[3])?);
    Ok(FindLine { kind, size, mtime, md5, path: path.into() })
});

/// One line of `trash`: `ID TYPE SIZE DELETED PATH`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrashLine {
    pub id: String,
    pub kind: Kind,
    pub size: u64,
    /// Time of removal, seconds since 1970, UTC.
    pub deleted: u64,
    /// The absolute path it had.
    pub path: String,
}

impl fmt::Display for TrashLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = clock::utc_secs(self.deleted);
        write!(f, "{} {} {} {t} {}", self.id, self.kind, self.size, self.path)
    }
}

from_text!(TrashLine, |s: &str| {
    let (w, path) = words_then_rest(s, 4)?;
    let (kind, size, deleted) = (w[1].parse()?, num(w[2])?, time(w[3])?);
    Ok(TrashLine { id: w[0].into(), kind, size, deleted, path: path.into() })
});

/// One line of `shares`: `CODE EXPIRES TYPE PATH`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShareLine {
    pub code: String,
    /// Seconds since 1970, UTC; `None` is `-` (until revoked).
    pub expires: Option<u64>,
    pub kind: Kind,
    pub path: String,
}

impl fmt::Display for ShareLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {} {}", self.code, show_time(&self.expires), self.kind, self.path)
    }
}

from_text!(ShareLine, |s: &str| {
    let (w, path) = words_then_rest(s, 3)?;
    Ok(ShareLine { code: w[0].into(), expires: maybe_time(w[1])?, kind: w[2].parse()?, path: path.into() })
});

/// The `213` reply to `quota`: `USED LIMIT ENTRIES MAX_ENTRIES` (a limit
/// is `-` when there is none). A server before 2.1 sends `USED LIMIT`
/// only (`entries` is then `None`); words after the fourth are left for
/// later versions and ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    pub used: u64,
    pub limit: Option<u64>,
    /// Files and directories held (tree and trash).
    pub entries: Option<u64>,
    pub max_entries: Option<u64>,
}

/// A limit as the wire shows it.
fn limit_text(limit: Option<u64>) -> String {
    limit.map_or("-".to_string(), |n| n.to_string())
}

impl fmt::Display for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.used, limit_text(self.limit))?;
        match self.entries {
            Some(entries) => write!(f, " {entries} {}", limit_text(self.max_entries)),
            None => Ok(()),
        }
    }
}

from_text!(Quota, |s: &str| {
    let w: Vec<&str> = s.split(' ').collect();
    let limit = |w: &str| if w == "-" { Ok(None) } else { num(w).map(Some) };
    let (used, max) = match w.len() {
        2 => (exact_words(s, 2)?, None),
        n if n >= 4 => (w[..2].to_vec(), Some(limit(w[3])?)),
        _ => return Err(BadBody(s.into())),
    };
    let entries = if max.is_some() { Some(num(w[2])?) } else { None };
    Ok(Quota { used: num(used[0])?, limit: limit(used[1])?, entries, max_entries: max.flatten() })
});

/// The `350` reply to `claim`: `NONCE RANGES`, RANGES being 1 to 4
/// `OFFSET:LENGTH` pairs joined by `,`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// 32 lowercase hex digits.
    pub nonce: String,
    pub ranges: Vec<(u64, u64)>,
}

/// Most ranges in a challenge.
pub const MAX_RANGES: usize = 4;

impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ranges: Vec<String> = self.ranges.iter().map(|(o, l)| format!("{o}:{l}")).collect();
        write!(f, "{} {}", self.nonce, ranges.join(","))
    }
}

from_text!(Challenge, |s: &str| {
    let w = exact_words(s, 2)?;
    let nonce_ok = w[0].len() == 32 && w[0].bytes().all(|b| b.is_ascii_hexdigit());
    let pairs: Vec<&str> = w[1].split(',').collect();
    if !nonce_ok || pairs.is_empty() || pairs.len() > MAX_RANGES {
        return Err(BadBody(s.into()));
    }
    let range = |p: &str| p.split_once(':').ok_or_else(|| BadBody(p.into())).and_then(|(o, l)| Ok((num(o)?, num(l)?)));
    let ranges = pairs.into_iter().map(range).collect::<Parsed<Vec<_>>>()?;
    Ok(Challenge { nonce: w[0].to_ascii_lowercase(), ranges })
});

/// The text of `257` replies and of `cd`'s `250`: an absolute path in
/// double quotes, `"` and `\` escaped by a backslash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuotedPath(pub String);

impl fmt::Display for QuotedPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for c in self.0.chars() {
            if c == '"' || c == '\\' {
                f.write_str("\\")?;
            }
            write!(f, "{c}")?;
        }
        f.write_str("\"")
    }
}

from_text!(QuotedPath, |s: &str| {
    let inner = s.strip_prefix('"').and_then(|r| r.strip_suffix('"')).ok_or_else(|| BadBody(s.into()))?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next().ok_or_else(|| BadBody(s.into()))?),
            '"' => return Err(BadBody(s.into())),
            c => out.push(c),
        }
    }
    Ok(QuotedPath(out))
});

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T>(value: T, wire: &str)
    where
        T: fmt::Display + FromStr<Err = BadBody> + PartialEq + fmt::Debug,
    {
        assert_eq!(value.to_string(), wire);
        assert_eq!(wire.parse::<T>(), Ok(value), "{wire}");
    }

    const T0: u64 = 1_795_521_600; // 2026-11-24T12:00:00Z

    #[test]
    fn bodies_round_trip() {
        let d = Digest::of(b"hello\n");
        let dh = "b1946ac92492d2347c6235b4d2611184";
        round_trip(Offer { offset: 3, prefix: d }, &format!("3 {dh}"));
        round_trip(DownloadHead { size: 6, md5: d, offset: 0 }, &format!("6 {dh} 0"));
        round_trip(Stored { size: 6, md5: d }, &format!("6 {dh}"));
        let name = "my file.txt".to_string();
        round_trip(
            ListLine { kind: Kind::File, size: 6, mtime: T0, name: name.clone() },
            "f 6 2026-11-24T12:00:00Z my file.txt",
        );
        round_trip(
            StatLine { kind: Kind::Dir, size: 0, mtime: T0, md5: None, name: "/".into() },
            "d 0 2026-11-24T12:00:00Z - /",
        );
        round_trip(
            FindLine { kind: Kind::File, size: 6, mtime: T0, md5: Some(d), path: "a b/c".into() },
            &format!("f 6 2026-11-24T12:00:00Z {dh} a b/c"),
        );
        round_trip(
            TrashLine { id: "k3x9".into(), kind: Kind::Dir, size: 12, deleted: T0, path: "/docs/old one".into() },
            "k3x9 d 12 2026-11-24T12:00:00Z /docs/old one",
        );
        round_trip(
            ShareLine { code: "abcdefghijkmnpq2".into(), expires: None, kind: Kind::Dir, path: "/pics".into() },
            "abcdefghijkmnpq2 - d /pics",
        );
        round_trip(
            ShareLine { code: "x".into(), expires: Some(T0), kind: Kind::File, path: "/a".into() },
            "x 2026-11-24T12:00:00Z f /a",
        );
        round_trip(Quota { used: 10, limit: None, entries: None, max_entries: None }, "10 -");
        round_trip(Quota { used: 10, limit: Some(20), entries: None, max_entries: None }, "10 20");
        round_trip(Quota { used: 10, limit: Some(20), entries: Some(3), max_entries: Some(50) }, "10 20 3 50");
        round_trip(Quota { used: 10, limit: None, entries: Some(3), max_entries: None }, "10 - 3 -");
        let later: Quota = "10 20 3 50 more words".parse().unwrap();
        assert_eq!(later, Quota { used: 10, limit: Some(20), entries: Some(3), max_entries: Some(50) });
        round_trip(Challenge { nonce: dh.into(), ranges: vec![(0, 5), (100, 7)] }, &format!("{dh} 0:5,100:7"));
        round_trip(QuotedPath("/a \"b\"\\c".into()), "\"/a \\\"b\\\"\\\\c\"");
    }

    #[test]
    fn refuses_malformed_bodies() {
        assert!("3".parse::<Offer>().is_err());
        assert!("x 00".parse::<Offer>().is_err());
        assert!("f 6 2026-11-24T12:00:00Z".parse::<ListLine>().is_err());
        assert!("q 6 2026-11-24T12:00:00Z a".parse::<ListLine>().is_err());
        assert!("f 6 yesterday a".parse::<ListLine>().is_err());
        assert!("10".parse::<Quota>().is_err());
        assert!("10 20 3".parse::<Quota>().is_err());
        assert!("10 20 x 5".parse::<Quota>().is_err());
        assert!("00 0:1,1:1,2:2,3:3,4:4".parse::<Challenge>().is_err());
        assert!("/a".parse::<QuotedPath>().is_err());
    }
}
