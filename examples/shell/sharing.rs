//! The shell's sharing commands: `share`, `shares`, `unshare`, `peek` and
//! `save`, each one call of `netdisk::client`.
//!
//! A code is printed once, by `share`, to its owner (and again by
//! `shares`). History keeps no code: [`crate::commands::redact`] turns it
//! into `***`, and a `***` code, run again from history, is asked for on
//! the terminal (never sent to the server, where a wrong code counts as a
//! failed login).

use std::fs;
use std::path::PathBuf;

use netdisk::client::is_share_code;
use netdisk::proto::MAX_SHARE_DAYS;
use netdisk::proto::body::{Kind, ShareLine};

use crate::Shell;
use crate::show;
use crate::term;

impl Shell {
    /// `share PATH [DAYS]`: prints the new code on a line of its own, and
    /// the link when the server gives one (its base is kept for `shares`).
    pub(crate) fn share(&mut self, path: &str, days: Option<&str>) -> Result<(), String> {
        let days = days.map(parse_days).transpose()?;
        let (code, url) = self.client.share_link(path, days).map_err(|e| e.to_string())?;
        let until = days.map_or("until you unshare it".into(), |d| format!("for {d} day{}", plural(d)));
        println!("share code: {code}");
        if let Some(url) = &url {
            println!("link: {url}");
        }
        Links::open().remember(&self.addr, url.as_deref().and_then(|u| u.strip_suffix(code.as_str())));
        println!("  anyone logged in who has the code can peek at and save a copy of {path}, {until}");
        if url.is_some() {
            println!("  anyone who has the link can open and download it in a browser, no account needed");
        }
        Ok(())
    }

    /// `shares`: code, type, expiry, path and link of each live share.
    pub(crate) fn shares(&mut self) -> Result<(), String> {
        let list = self.client.shares().map_err(|e| e.to_string())?;
        if list.is_empty() {
            println!("no shares");
        }
        let base = Links::open().base(&self.addr);
        list.iter().for_each(|s| println!("{}", share_line(s, self.human, base.as_deref())));
        Ok(())
    }

    pub(crate) fn unshare(&mut self, code: &str) -> Result<(), String> {
        let code = self.code(code)?;
        self.client.unshare(&code).map_err(|e| e.to_string())?;
        println!("share removed");
        Ok(())
    }

    /// `peek CODE`: what the share holds, as `find` shows it.
    pub(crate) fn peek(&mut self, code: &str) -> Result<(), String> {
        let code = self.code(code)?;
        let lines = self.client.peek(&code).map_err(|e| e.to_string())?;
        if lines.is_empty() {
            println!("the shared folder is empty");
        }
        show::found(&lines, self.human);
        Ok(())
    }

    /// `save CODE [PATH]`: prints where the copy is.
    pub(crate) fn save(&mut self, code: &str, path: Option<&str>) -> Result<(), String> {
        let code = self.code(code)?;
        let saved = self.client.save(&code, path).map_err(|e| e.to_string())?;
        println!("saved {saved}");
        Ok(())
    }

    /// The code typed, lowercased and checked here (a malformed one would
    /// cost a failed-login delay on the server); `***`, as history keeps
    /// it, is asked for on the terminal.
    fn code(&mut self, given: &str) -> Result<String, String> {
        let typed = match given {
            "***" if self.keyboard => term::read_secret("Share code: ").ok_or("no code given")?,
            "***" => return Err("history keeps no share code: give the code itself".into()),
            code => code.to_string(),
        };
        let code = typed.trim().to_ascii_lowercase();
        if is_share_code(&code) {
            Ok(code)
        } else {
            Err("not a share code: 16 letters and digits 2-7, as `share` printed it".into())
        }
    }
}

fn parse_days(text: &str) -> Result<u32, String> {
    match text.parse() {
        Ok(d) if (1..=MAX_SHARE_DAYS).contains(&d) => Ok(d),
        _ => Err(format!("DAYS must be a number from 1 to {MAX_SHARE_DAYS}")),
    }
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `CODE  TYPE  until EXPIRES  PATH  [LINK]`.
fn share_line(s: &ShareLine, human: bool, base: Option<&str>) -> String {
    let kind = if s.kind == Kind::Dir { "d" } else { "f" };
    let until = s.expires.map_or("until revoked".into(), |t| format!("until {}", show::time(t, human)));
    let link = base.map_or(String::new(), |b| format!("  {b}{}", s.code));
    format!("{}  {kind}  {until:<29}  {}{link}", s.code, s.path)
}

/// The base of each server's share links (the link of a share is BASE
/// followed by its code), learned from `share` and kept in
/// `~/.netdisk_links` (one `ADDR BASE` a line): `shares` lines carry no
/// link (protocol 2.1), so this is how `shares` shows them.
struct Links {
    path: Option<PathBuf>,
}

impl Links {
    fn open() -> Links {
        let home = std::env::var_os("HOME").filter(|h| !h.is_empty());
        Links { path: home.map(|h| PathBuf::from(h).join(".netdisk_links")) }
    }

    fn lines(&self) -> Vec<(String, String)> {
        let text = self.path.as_ref().and_then(|p| fs::read_to_string(p).ok()).unwrap_or_default();
        text.lines().filter_map(|l| l.split_once(' ')).map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    fn base(&self, addr: &str) -> Option<String> {
        self.lines().into_iter().find(|(a, _)| a == addr).map(|(_, b)| b)
    }

    /// Keeps `base` for `addr`; `None` forgets it (no HTTP face now).
    fn remember(&self, addr: &str, base: Option<&str>) {
        let Some(path) = &self.path else { return };
        if self.base(addr).as_deref() == base {
            return;
        }
        let mut lines: Vec<(String, String)> = self.lines().into_iter().filter(|(a, _)| a != addr).collect();
        lines.extend(base.map(|b| (addr.to_string(), b.to_string())));
        let text: String = lines.iter().map(|(a, b)| format!("{a} {b}\n")).collect();
        let _ = fs::write(path, text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_lines_and_days() {
        let s = ShareLine { code: "abcdefghijkmnp27".into(), expires: None, kind: Kind::Dir, path: "/docs".into() };
        assert_eq!(
            share_line(&s, false, None).split_whitespace().collect::<Vec<_>>(),
            ["abcdefghijkmnp27", "d", "until", "revoked", "/docs"]
        );
        let linked = share_line(&s, false, Some("http://h:9080/s/"));
        assert!(linked.ends_with("  /docs  http://h:9080/s/abcdefghijkmnp27"), "{linked}");
        assert_eq!(parse_days("7"), Ok(7));
        assert!(parse_days("0").is_err() && parse_days("3651").is_err() && parse_days("x").is_err());
    }
}
