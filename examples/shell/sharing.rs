//! The shell's sharing commands: `share`, `shares`, `unshare`, `peek` and
//! `save`, each one call of `netdisk::client`.
//!
//! A code is printed once, by `share`, to its owner (and again by
//! `shares`). History keeps no code: [`crate::commands::redact`] turns it
//! into `***`, and a `***` code, run again from history, is asked for on
//! the terminal (never sent to the server, where a wrong code counts as a
//! failed login).

use netdisk::client::is_share_code;
use netdisk::proto::MAX_SHARE_DAYS;
use netdisk::proto::body::{Kind, ShareLine};

use crate::Shell;
use crate::show;
use crate::term;

impl Shell {
    /// `share PATH [DAYS]`: prints the new code on a line of its own.
    pub(crate) fn share(&mut self, path: &str, days: Option<&str>) -> Result<(), String> {
        let days = days.map(parse_days).transpose()?;
        let (code, link) = self.client.share_link(path, days).map_err(|e| e.to_string())?;
        let until = days.map_or("until you unshare it".into(), |d| format!("for {d} day{}", plural(d)));
        println!("share code: {code}");
        match link {
            Some(link) => {
                println!("share link: {link}");
                println!("  anyone who has the link or the code can see, download and save a copy of {path}, {until}");
            }
            None => println!("  anyone logged in who has it can peek at and save a copy of {path}, {until}"),
        }
        Ok(())
    }

    /// `shares`: code, type, expiry and path of each live share.
    pub(crate) fn shares(&mut self) -> Result<(), String> {
        let list = self.client.shares().map_err(|e| e.to_string())?;
        if list.is_empty() {
            println!("no shares");
        }
        list.iter().for_each(|s| println!("{}", share_line(s)));
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
        show::found(&lines);
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

/// `CODE  TYPE  until EXPIRES  PATH`.
fn share_line(s: &ShareLine) -> String {
    let kind = if s.kind == Kind::Dir { "d" } else { "f" };
    let until = s.expires.map_or("until revoked".into(), |t| format!("until {}", show::utc(t)));
    format!("{}  {kind}  {until:<29}  {}", s.code, s.path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_lines_and_days() {
        let s = ShareLine { code: "abcdefghijkmnp27".into(), expires: None, kind: Kind::Dir, path: "/docs".into() };
        assert_eq!(
            share_line(&s).split_whitespace().collect::<Vec<_>>(),
            ["abcdefghijkmnp27", "d", "until", "revoked", "/docs"]
        );
        assert_eq!(parse_days("7"), Ok(7));
        assert!(parse_days("0").is_err() && parse_days("3651").is_err() && parse_days("x").is_err());
    }
}
