//! Tab completion: command names, remote paths (from a listing of the
//! directory, kept for a few seconds), local paths and trash IDs, by the
//! argument kinds of the command table. Names that need it are completed
//! quoted, and the quote is closed: what Tab leaves is a valid word as it
//! stands (Enter works), and Tab again goes on inside a folder.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use netdisk::client::Client;
use netdisk::proto::body::Kind;

use crate::commands::{self, Arg};
use crate::term::Completion;
use crate::words::{self, Word};

/// How long a remote listing is reused for completion.
const LISTING_TTL: Duration = Duration::from_secs(5);

/// A name that could complete the word, and whether it is a directory.
type Entry = (String, bool);

#[derive(Default)]
pub struct Completer {
    listings: HashMap<String, (Instant, Vec<Entry>)>,
}

impl Completer {
    /// What Tab does with `before`, the line up to the cursor.
    pub fn complete(&mut self, before: &str, client: &mut Client) -> Option<Completion> {
        let scanned = words::scan(before);
        let at = before.chars().count();
        let (index, word) = match scanned.words.last() {
            Some(w) if scanned.in_word => (scanned.words.len() - 1, w.clone()),
            _ => (scanned.words.len(), Word { text: String::new(), tilde: false, start: at }),
        };
        let kind = match index {
            0 => Arg::Command,
            i => commands::arg_kind(&scanned.words[..i].iter().map(|w| w.text.as_str()).collect::<Vec<_>>()),
        };
        let (dir, base) = match word.text.rfind('/') {
            Some(i) => word.text.split_at(i + 1),
            None => ("", word.text.as_str()),
        };
        let entries = match kind {
            Arg::Command => commands::COMMANDS.iter().map(|c| (c.name.to_string(), false)).collect(),
            Arg::Trash if !dir.is_empty() => return None,
            Arg::Remote => self.remote(dir, client),
            Arg::Local => local(dir, word.tilde),
            Arg::Trash => self.trash(client),
            Arg::Other => return None,
        };
        let found: Vec<&Entry> = entries.iter().filter(|(n, _)| n.starts_with(base)).collect();
        let mut completion = choose(&found, base, |name, done| rewrite(&word, dir, name, done))?;
        completion.start = word.start;
        Some(completion)
    }

    fn remote(&mut self, dir: &str, client: &mut Client) -> Vec<Entry> {
        let key = format!("{}\n{dir}", client.cwd());
        if let Some((_, entries)) = self.listings.get(&key).filter(|(t, _)| t.elapsed() < LISTING_TTL) {
            return entries.clone();
        }
        let path = if dir.is_empty() { None } else { Some(dir) };
        let entries: Vec<Entry> = match client.ls(path) {
            Ok(list) => list.into_iter().map(|l| (l.name, l.kind == Kind::Dir)).collect(),
            Err(_) => return Vec::new(),
        };
        self.listings.insert(key, (Instant::now(), entries.clone()));
        entries
    }
}

impl Completer {
    /// The IDs in the trash (a listing kept as long as a directory's).
    fn trash(&mut self, client: &mut Client) -> Vec<Entry> {
        let key = "\ntrash".to_string();
        if let Some((_, entries)) = self.listings.get(&key).filter(|(t, _)| t.elapsed() < LISTING_TTL) {
            return entries.clone();
        }
        let entries: Vec<Entry> = match client.trash() {
            Ok(list) => list.into_iter().map(|l| (l.id, false)).collect(),
            Err(_) => return Vec::new(),
        };
        self.listings.insert(key, (Instant::now(), entries.clone()));
        entries
    }
}

fn local(dir: &str, tilde: bool) -> Vec<Entry> {
    let path = if dir.is_empty() { ".".into() } else { words::expand_tilde(dir, tilde) };
    let Ok(items) = std::fs::read_dir(path) else { return Vec::new() };
    items.flatten().map(|e| (e.file_name().to_string_lossy().into_owned(), e.path().is_dir())).collect()
}

/// One match completes fully; several complete to their common start or
/// are listed.
fn choose(found: &[&Entry], base: &str, rewrite: impl Fn(&str, bool) -> String) -> Option<Completion> {
    match found {
        [] => None,
        [(name, is_dir)] => {
            let name = if *is_dir { format!("{name}/") } else { name.clone() };
            Some(Completion { start: 0, text: rewrite(&name, !*is_dir), choices: Vec::new() })
        }
        many => {
            let common = many.iter().map(|(n, _)| n.as_str()).reduce(common_prefix).unwrap_or("");
            if common.len() > base.len() {
                return Some(Completion { start: 0, text: rewrite(common, false), choices: Vec::new() });
            }
            let mut choices: Vec<String> =
                many.iter().map(|(n, d)| if *d { format!("{n}/") } else { n.clone() }).collect();
            choices.sort();
            Some(Completion { start: 0, text: String::new(), choices })
        }
    }
}

fn common_prefix<'a>(a: &'a str, b: &str) -> &'a str {
    let len = a
        .char_indices()
        .zip(b.chars())
        .take_while(|((_, x), y)| x == y)
        .last()
        .map_or(0, |((i, c), _)| i + c.len_utf8());
    &a[..len]
}

/// The word rewritten to `dir` + `name`, quoted if needed (and the quote
/// closed: a folder's name is a valid word too); `done` ends it with a
/// space. A leading `~/` stays unquoted so that it still expands.
fn rewrite(word: &Word, dir: &str, name: &str, done: bool) -> String {
    let full = format!("{dir}{name}");
    let (home, rest) = match full.strip_prefix("~/") {
        Some(rest) if word.tilde => ("~/", rest),
        _ => ("", full.as_str()),
    };
    let body = words::quote(rest, false);
    let end = if done { " " } else { "" };
    format!("{home}{body}{end}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str, tilde: bool) -> Word {
        Word { text: text.into(), tilde, start: 0 }
    }

    #[test]
    fn rewrites_quote_what_needs_it() {
        assert_eq!(rewrite(&word("rep", false), "", "report.txt", true), "report.txt ");
        assert_eq!(rewrite(&word("rep", false), "", "report 2026.txt", true), "\"report 2026.txt\" ");
        assert_eq!(rewrite(&word("my", false), "docs/", "my docs/", false), "\"docs/my docs/\"");
        assert_eq!(rewrite(&word("~/v", true), "~/", "my videos/", false), "~/\"my videos/\"");
        // What Tab leaves is one whole word, also for a folder.
        let line = format!("upload {}", rewrite(&word("My", false), "", "My Project/", false));
        assert_eq!(words::split(&line).unwrap()[1].text, "My Project/");
        // And Tab again goes on inside it.
        let s = words::scan(&line);
        assert!(s.in_word && s.words[1].text == "My Project/" && s.words[1].start == 7);
        assert_eq!(common_prefix("report-a", "report-b"), "report-");
    }

    #[test]
    fn one_match_completes_several_list_or_extend() {
        let a = ("alpha".to_string(), false);
        let b = ("alps".to_string(), true);
        let c = ("beta".to_string(), false);
        let r = |n: &str, done: bool| format!("{n}{}", if done { " " } else { "" });
        assert_eq!(choose(&[&c], "b", r).unwrap().text, "beta ");
        assert_eq!(choose(&[&b], "a", r).unwrap().text, "alps/");
        assert_eq!(choose(&[&a, &b], "a", r).unwrap().text, "alp");
        assert_eq!(choose(&[&a, &b], "alp", r).unwrap().choices, ["alpha", "alps/"]);
        assert!(choose(&[], "x", r).is_none());
    }
}
