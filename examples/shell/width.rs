//! How many terminal columns text takes: Unicode East Asian Width (wide
//! and fullwidth characters take 2 columns, combining marks 0), from the
//! ranges in `width_table.rs`, which `width.py` generates from the Unicode
//! data (the rules are written there). Also the helpers that lay text out
//! by columns: cutting a name in the middle, padding a column.
//!
//! Owns no I/O; every place the shell measures text on screen (the line
//! editor, the prompt, completion lists, progress bars, listings) goes
//! through [`width`], never through `chars().count()` or `len()`.

#[path = "width_table.rs"]
mod table;

#[cfg(test)]
use table::UNICODE_VERSION;

/// Columns `c` takes on a terminal: 0, 1 or 2.
pub fn char_width(c: char) -> usize {
    let c = c as u32;
    if (0x20..0x7f).contains(&c) {
        return 1;
    }
    let ranges = table::RANGES;
    match ranges.binary_search_by(|&(lo, hi, _)| {
        if hi < c {
            std::cmp::Ordering::Less
        } else if lo > c {
            std::cmp::Ordering::Greater
        } else {
            std::cmp::Ordering::Equal
        }
    }) {
        Ok(i) => usize::from(ranges[i].2),
        Err(_) => 1,
    }
}

/// Columns `text` takes on one line.
pub fn width(text: &str) -> usize {
    text.chars().map(char_width).sum()
}

/// The longest start of `text` that fits in `cols` columns.
pub fn head(text: &str, cols: usize) -> &str {
    let mut used = 0;
    for (i, c) in text.char_indices() {
        used += char_width(c);
        if used > cols {
            return &text[..i];
        }
    }
    text
}

/// The longest end of `text` that fits in `cols` columns (combining marks
/// stay with their character).
pub fn tail(text: &str, cols: usize) -> &str {
    let mut used = 0;
    let mut start = text.len();
    for (i, c) in text.char_indices().rev() {
        used += char_width(c);
        if used > cols {
            break;
        }
        start = i;
    }
    // A combining mark at the start would float alone: drop it too.
    let rest = &text[start..];
    let skip: usize = rest.chars().take_while(|c| char_width(*c) == 0).map(char::len_utf8).sum();
    &rest[skip..]
}

/// `text` in at most `cols` columns: whole when it fits, else its start
/// and end around `…`, so that both the folder and the file's extension
/// stay readable.
pub fn shorten(text: &str, cols: usize) -> String {
    if width(text) <= cols {
        return text.to_string();
    }
    if cols == 0 {
        return String::new();
    }
    let room = cols - 1;
    let start = head(text, room / 2);
    let end = tail(text, room - width(start));
    format!("{start}…{end}")
}

/// `text` padded with spaces to `cols` columns (never cut).
pub fn pad(text: &str, cols: usize) -> String {
    let fill = cols.saturating_sub(width(text));
    format!("{text}{}", " ".repeat(fill))
}

/// `text` padded on the left to `cols` columns (never cut).
pub fn pad_left(text: &str, cols: usize) -> String {
    let fill = cols.saturating_sub(width(text));
    format!("{}{text}", " ".repeat(fill))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_characters() {
        let table = [
            ('a', 1),
            (' ', 1),
            ('é', 1),
            ('文', 2),
            ('档', 2),
            ('大', 2),
            ('。', 2),
            ('Ａ', 2), // fullwidth A
            ('ｱ', 1),  // halfwidth katakana
            ('가', 2), // Hangul syllable
            ('\u{1160}', 0),
            ('\u{0301}', 0), // combining acute
            ('\u{20DD}', 0), // combining enclosing circle
            ('\u{200B}', 0), // zero width space
            ('\u{200D}', 0), // zero width joiner
            ('\u{00AD}', 1), // soft hyphen
            ('\u{3099}', 0), // combining kana voiced mark: wide block, still 0
            ('😀', 2),
            ('\u{1F1E6}', 1), // regional indicator: neutral
            ('\u{20000}', 2),
            ('\u{2FFFD}', 2), // unassigned, in a block that defaults to wide
            ('\u{0378}', 1),  // unassigned elsewhere
            ('\u{7}', 0),
            ('\u{9B}', 0),
            ('─', 1), // box drawing: ambiguous, 1
            ('…', 1),
        ];
        for (c, w) in table {
            assert_eq!(char_width(c), w, "{c:?} U+{:04X}", c as u32);
        }
        assert_eq!(width("ls 文档文档"), 11);
        assert_eq!(width("e\u{301}te\u{301}"), 3);
    }

    #[test]
    fn ranges_are_sorted_and_apart() {
        for pair in table::RANGES.windows(2) {
            assert!(pair[0].0 <= pair[0].1 && pair[0].1 < pair[1].0, "{pair:?}");
        }
    }

    #[test]
    fn shortening_keeps_both_ends_and_never_exceeds() {
        assert_eq!(shorten("My Project/big video 大.bin", 100), "My Project/big video 大.bin");
        assert_eq!(shorten("abcdefghij", 7), "abc…hij");
        assert_eq!(shorten("abcdefghij", 6), "ab…hij");
        let name = "My Project/big video 大.bin";
        for cols in 0..30 {
            let s = shorten(name, cols);
            assert!(width(&s) <= cols, "{cols}: {s:?}");
            assert!(cols < 8 || s.ends_with(".bin"), "{cols}: {s:?}");
        }
        assert_eq!(shorten("文档文档文档", 7), "文…文档");
        assert_eq!(head("文档x", 3), "文");
        assert_eq!(tail("x文档", 3), "档");
        assert_eq!(tail("ae\u{301}", 1), "e\u{301}");
        assert_eq!(tail("e\u{301}", 0), "", "no lone combining mark");
        assert_eq!(pad("文", 4), "文  ");
        assert_eq!(pad_left("文", 4), "  文");
    }

    /// Compares every code point with Python's `unicodedata`, through the
    /// generator's own rules, when Python is there with the same Unicode
    /// version (the table says which).
    #[test]
    fn width_matches_python_unicodedata() {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/shell/width.py");
        let version = std::process::Command::new("python3")
            .args(["-c", "import unicodedata; print(unicodedata.unidata_version)"])
            .output();
        match version {
            Ok(out) if String::from_utf8_lossy(&out.stdout).trim() == UNICODE_VERSION => {}
            _ => {
                eprintln!("SKIPPED: no python3 with Unicode {UNICODE_VERSION} to compare with");
                return;
            }
        }
        let out = std::process::Command::new("python3").args([script, "--check"]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        let mut expected = std::collections::HashMap::new();
        for line in text.lines() {
            let (cp, w) = line.split_once(' ').unwrap();
            expected.insert(u32::from_str_radix(cp, 16).unwrap(), w.parse::<usize>().unwrap());
        }
        assert!(expected.len() > 100_000, "python listed {} code points", expected.len());
        let mut wrong = Vec::new();
        for cp in 0..0x110000u32 {
            let Some(c) = char::from_u32(cp) else { continue };
            let want = expected.get(&cp).copied().unwrap_or(1);
            if char_width(c) != want {
                wrong.push(format!("U+{cp:04X}: {} not {want}", char_width(c)));
            }
        }
        assert!(wrong.is_empty(), "{} differ, first: {:?}", wrong.len(), &wrong[..wrong.len().min(10)]);
    }
}
