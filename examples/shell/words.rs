//! Command lines split like a shell's: blanks separate words; `"double"`
//! quotes group (inside them `\"` and `\\` are escapes), `'single'` quotes
//! take everything literally, and a backslash outside quotes escapes the
//! next character. A word whose first character is an unquoted `~` may
//! name the home directory (`~`, `~/...`); only local paths expand it.
//!
//! Also splits `-c "cmd; cmd"` at unquoted `;`, and quotes names back for
//! completion. Owns no I/O besides reading `HOME`.

use std::path::PathBuf;

/// One word of a command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word {
    /// The text with quotes and escapes removed.
    pub text: String,
    /// The word began with an unquoted `~`.
    pub tilde: bool,
    /// Index (in chars) of the word's first character in the line.
    pub start: usize,
}

impl Word {
    /// The word as a local path: `~` and `~/...` become the home directory.
    pub fn local(&self) -> PathBuf {
        expand_tilde(&self.text, self.tilde)
    }
}

/// A line cut into words; `open` is a quote left open at the end.
#[derive(Debug, Default)]
pub struct Split {
    pub words: Vec<Word>,
    pub open: Option<char>,
    /// The line ended inside a word (no blank after the last one).
    pub in_word: bool,
}

/// Splits a whole line; an unterminated quote is an error.
pub fn split(line: &str) -> Result<Vec<Word>, String> {
    let s = scan(line);
    match s.open {
        Some(q) => Err(format!("unterminated {} quote", if q == '"' { "double" } else { "single" })),
        None => Ok(s.words),
    }
}

/// Splits the start of a line, tolerating an open quote (for completion).
pub fn scan(line: &str) -> Split {
    let mut out = Split::default();
    let mut cur: Option<Word> = None;
    let mut chars = line.chars().enumerate().peekable();
    while let Some((i, c)) = chars.next() {
        if out.open.is_none() && (c == ' ' || c == '\t') {
            out.words.extend(cur.take());
            continue;
        }
        let word = cur.get_or_insert(Word { text: String::new(), tilde: c == '~', start: i });
        match (out.open, c) {
            (None, '"' | '\'') => out.open = Some(c),
            (Some(q), c) if c == q => out.open = None,
            (Some('"'), '\\') if chars.peek().is_some_and(|(_, n)| matches!(n, '"' | '\\')) => {
                word.text.extend(chars.next().map(|(_, n)| n))
            }
            (None, '\\') => word.text.extend(chars.next().map(|(_, n)| n)),
            (_, c) => word.text.push(c),
        }
    }
    out.in_word = cur.is_some();
    out.words.extend(cur);
    out
}

/// `~` or `~/rest` with `tilde` set becomes `$HOME` or `$HOME/rest`.
pub fn expand_tilde(text: &str, tilde: bool) -> PathBuf {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty());
    match (tilde, home) {
        (true, Some(home)) if text == "~" => PathBuf::from(home),
        (true, Some(home)) if text.starts_with("~/") => PathBuf::from(home).join(&text[2..]),
        _ => PathBuf::from(text),
    }
}

/// Splits `-c` text into commands at `;` outside quotes.
pub fn split_commands(text: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut open: Option<char> = None;
    let mut escaped = false;
    for c in text.chars() {
        match (open, c) {
            _ if escaped => escaped = false,
            (Some('"') | None, '\\') => escaped = true,
            (None, '"' | '\'') => open = Some(c),
            (Some(q), c) if c == q => open = None,
            (None, ';') => {
                out.push(String::new());
                continue;
            }
            _ => {}
        }
        out.last_mut().expect("never empty").push(c);
    }
    out.into_iter().map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).collect()
}

/// A name as typed on a command line: quoted when it holds a blank, a quote
/// or a backslash. With `open`, the closing quote is left off (a directory
/// whose contents come next).
pub fn quote(name: &str, open: bool) -> String {
    if !name.is_empty() && !name.contains([' ', '\t', '"', '\'', '\\', ';']) {
        return name.to_string();
    }
    let mut out = String::from("\"");
    for c in name.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    if !open {
        out.push('"');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(line: &str) -> Vec<String> {
        split(line).unwrap().into_iter().map(|w| w.text).collect()
    }

    #[test]
    fn quotes_and_escapes_like_a_shell() {
        assert_eq!(texts(r#"upload "my file.txt" 'it''s' a\ b"#), ["upload", "my file.txt", "its", "a b"]);
        assert_eq!(texts(r#"x "a \"q\" \\ \n" 'a\b'"#), ["x", r#"a "q" \ \n"#, r"a\b"]);
        assert_eq!(texts("  ls  "), ["ls"]);
        assert_eq!(texts(r#"pre"mid dle"post"#), ["premid dlepost"]);
        assert!(split("ls \"open").is_err());
        assert!(split("ls 'open").is_err());
    }

    #[test]
    fn tilde_only_when_unquoted_and_leading() {
        let w = split(r#"~/a "~/b" \~/c ~"#).unwrap();
        assert_eq!(w.iter().map(|w| w.tilde).collect::<Vec<_>>(), [true, false, false, true]);
        let home = std::env::var("HOME").unwrap_or_default();
        if !home.is_empty() {
            assert_eq!(w[0].local(), PathBuf::from(&home).join("a"));
            assert_eq!(w[3].local(), PathBuf::from(&home));
        }
        assert_eq!(w[1].local(), PathBuf::from("~/b"));
        assert_eq!(expand_tilde("~bob/x", true), PathBuf::from("~bob/x"));
    }

    #[test]
    fn scan_reports_the_unfinished_word() {
        let s = scan(r#"upload "my fi"#);
        assert_eq!((s.open, s.in_word, s.words[1].text.as_str(), s.words[1].start), (Some('"'), true, "my fi", 7));
        let s = scan("ls ");
        assert!(!s.in_word && s.words.len() == 1);
    }

    #[test]
    fn commands_split_at_unquoted_semicolons() {
        assert_eq!(
            split_commands(r#"login a; cd "x;y" ; ls 'a;b';;pwd"#),
            ["login a", r#"cd "x;y""#, "ls 'a;b'", "pwd"]
        );
        assert_eq!(split_commands(r"ls a\;b"), [r"ls a\;b"]);
    }

    #[test]
    fn quote_round_trips() {
        for name in ["plain", "my file", r#"q"uo\te"#, "it's", ""] {
            assert_eq!(texts(&format!("x {}", quote(name, false)))[1..], [name.to_string()]);
        }
        assert_eq!(quote("my docs/", true), "\"my docs/");
    }
}
