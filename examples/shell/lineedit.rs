//! The line editor's logic, without a terminal: bytes from the keyboard
//! become [`Key`]s ([`Decoder`]), and keys change a line and a cursor
//! ([`Editor`]), with history; [`position`] says where text lands on a
//! terminal of a given width (by display width: a CJK character takes two
//! columns, a combining mark none, and a wide character that does not fit
//! at the end of a row starts the next). Drawing and raw mode live in
//! `term.rs`; this module never does I/O, so tables of key sequences and
//! layouts test it.

use crate::width::char_width;

/// A key press, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Left,
    Right,
    Home,
    End,
    Up,
    Down,
    Backspace,
    Delete,
    /// Ctrl-D: delete under the cursor, or end of input on an empty line.
    CtrlD,
    KillToEnd,
    KillToStart,
    KillWord,
    Clear,
    Interrupt,
    Suspend,
    Tab,
    Enter,
    /// A sequence this editor does not handle.
    Ignored,
}

/// Turns keyboard bytes into keys; keeps an unfinished escape sequence or
/// UTF-8 character until the rest arrives.
#[derive(Default)]
pub struct Decoder {
    pending: Vec<u8>,
}

impl Decoder {
    pub const fn new() -> Decoder {
        Decoder { pending: Vec::new() }
    }

    /// Adds bytes read from the keyboard.
    pub fn push(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
    }

    /// The next whole key, if one has arrived; keys typed ahead wait here.
    pub fn next_key(&mut self) -> Option<Key> {
        let (key, used) = decode(&self.pending)?;
        self.pending.drain(..used);
        Some(key)
    }

    /// Every whole key in `bytes` (and what was pending).
    #[cfg(test)]
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Key> {
        self.push(bytes);
        std::iter::from_fn(|| self.next_key()).collect()
    }

    /// Whether a lone ESC (or a cut sequence) is waiting for more bytes.
    pub fn waiting(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Gives up on what is pending (nothing more came): it is dropped.
    pub fn flush(&mut self) {
        self.pending.clear();
    }
}

/// One key from the start of `b`, and how many bytes it took; `None` when
/// more bytes are needed.
fn decode(b: &[u8]) -> Option<(Key, usize)> {
    let key = match *b.first()? {
        0x01 => Key::Home,
        0x02 => Key::Left,
        0x03 => Key::Interrupt,
        0x04 => Key::CtrlD,
        0x05 => Key::End,
        0x06 => Key::Right,
        0x08 | 0x7f => Key::Backspace,
        0x09 => Key::Tab,
        0x0a | 0x0d => Key::Enter,
        0x0b => Key::KillToEnd,
        0x0c => Key::Clear,
        0x0e => Key::Down,
        0x10 => Key::Up,
        0x15 => Key::KillToStart,
        0x17 => Key::KillWord,
        0x1a => Key::Suspend,
        0x1b => return escape(b),
        c if c < 0x20 => Key::Ignored,
        _ => return utf8(b),
    };
    Some((key, 1))
}

/// `ESC [ ...` (CSI) and `ESC O x` (SS3) sequences.
fn escape(b: &[u8]) -> Option<(Key, usize)> {
    match b.get(1)? {
        b'O' => Some((final_key(*b.get(2)?, b""), 3)),
        b'[' => {
            let end = b[2..].iter().position(|c| (0x40..=0x7e).contains(c))? + 2;
            Some((final_key(b[end], &b[2..end]), end + 1))
        }
        _ => Some((Key::Ignored, 2)),
    }
}

fn final_key(last: u8, params: &[u8]) -> Key {
    match (last, params) {
        (b'A', _) => Key::Up,
        (b'B', _) => Key::Down,
        (b'C', _) => Key::Right,
        (b'D', _) => Key::Left,
        (b'H', _) | (b'~', b"1" | b"7") => Key::Home,
        (b'F', _) | (b'~', b"4" | b"8") => Key::End,
        (b'~', b"3") => Key::Delete,
        _ => Key::Ignored,
    }
}

fn utf8(b: &[u8]) -> Option<(Key, usize)> {
    let len = match b[0] {
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        0x80..=0xff => return Some((Key::Ignored, 1)),
        _ => 1,
    };
    let bytes = b.get(..len)?;
    match std::str::from_utf8(bytes).ok().and_then(|s| s.chars().next()) {
        Some(c) => Some((Key::Char(c), len)),
        None => Some((Key::Ignored, 1)),
    }
}

/// What the caller should do after a key.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Redraw the line.
    Edited,
    /// The line is done.
    Submit(String),
    /// Ctrl-D on an empty line.
    Eof,
    /// Ctrl-C: the line was dropped.
    Interrupted,
    /// Tab: complete at the cursor.
    Complete,
    /// Ctrl-L: clear the screen, then redraw.
    ClearScreen,
    /// Ctrl-Z: suspend, then redraw.
    Suspend,
}

/// A line being edited, and the history it can walk through.
#[derive(Default)]
pub struct Editor {
    line: Vec<char>,
    cursor: usize,
    history: Vec<String>,
    /// Position in `history` while walking it (`history.len()`: the draft).
    back: usize,
    draft: String,
}

impl Editor {
    pub fn new(history: Vec<String>) -> Editor {
        let back = history.len();
        Editor { history, back, ..Editor::default() }
    }

    pub fn line(&self) -> String {
        self.line.iter().collect()
    }

    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Remembers a line for Up/Down (not twice in a row).
    pub fn remember(&mut self, line: &str) {
        if !line.trim().is_empty() && self.history.last().is_none_or(|l| l != line) {
            self.history.push(line.to_string());
        }
        self.back = self.history.len();
    }

    /// Replaces chars `start..cursor` with `text`; the cursor follows it.
    pub fn replace(&mut self, start: usize, text: &str) {
        let (start, end) = (start.min(self.cursor), self.cursor);
        let new: Vec<char> = text.chars().collect();
        self.cursor = start + new.len();
        self.line.splice(start..end, new);
    }

    pub fn apply(&mut self, key: Key) -> Outcome {
        match key {
            Key::Char(c) => self.insert(c),
            Key::Enter => return self.submit(),
            Key::CtrlD if self.line.is_empty() => return Outcome::Eof,
            Key::Interrupt => {
                self.reset();
                return Outcome::Interrupted;
            }
            Key::Tab => return Outcome::Complete,
            Key::Clear => return Outcome::ClearScreen,
            Key::Suspend => return Outcome::Suspend,
            Key::Up => self.walk(-1),
            Key::Down => self.walk(1),
            other => self.edit(other),
        }
        Outcome::Edited
    }

    /// The start of the character before `at`, with its combining marks
    /// (a mark takes no column: the cursor never stops before one).
    fn back_from(&self, at: usize) -> usize {
        let mut i = at.saturating_sub(1);
        while i > 0 && char_width(self.line[i]) == 0 {
            i -= 1;
        }
        i
    }

    /// The end of the character at `at`, with the combining marks after it.
    fn forward_from(&self, at: usize) -> usize {
        let mut i = (at + 1).min(self.line.len());
        while i < self.line.len() && char_width(self.line[i]) == 0 {
            i += 1;
        }
        i
    }

    fn edit(&mut self, key: Key) {
        let (n, c) = (self.line.len(), self.cursor);
        match key {
            Key::Left => self.cursor = self.back_from(c),
            Key::Right => self.cursor = self.forward_from(c),
            Key::Home => self.cursor = 0,
            Key::End => self.cursor = n,
            Key::Backspace if c > 0 => {
                let start = self.back_from(c);
                self.line.drain(start..c);
                self.cursor = start;
            }
            Key::Delete | Key::CtrlD if c < n => {
                let end = self.forward_from(c);
                self.line.drain(c..end);
            }
            Key::KillToEnd => self.line.truncate(c),
            Key::KillToStart => {
                self.line.drain(..c);
                self.cursor = 0;
            }
            Key::KillWord => {
                let mut start = c;
                while start > 0 && self.line[start - 1] == ' ' {
                    start -= 1;
                }
                while start > 0 && self.line[start - 1] != ' ' {
                    start -= 1;
                }
                self.line.drain(start..c);
                self.cursor = start;
            }
            _ => {}
        }
    }

    fn insert(&mut self, c: char) {
        self.line.insert(self.cursor, c);
        self.cursor += 1;
    }

    fn submit(&mut self) -> Outcome {
        let line = self.line();
        self.reset();
        Outcome::Submit(line)
    }

    fn reset(&mut self) {
        self.line.clear();
        self.cursor = 0;
        self.back = self.history.len();
    }

    /// Up (`-1`) or Down (`1`) through history; the draft is kept.
    fn walk(&mut self, step: isize) {
        let to = self.back as isize + step;
        if to < 0 || to as usize > self.history.len() {
            return;
        }
        if self.back == self.history.len() {
            self.draft = self.line();
        }
        self.back = to as usize;
        let text = self.history.get(self.back).unwrap_or(&self.draft);
        self.line = text.chars().collect();
        self.cursor = self.line.len();
    }
}

/// Where the cursor is after writing `text` from the first column of row
/// 0 on a terminal `cols` columns wide: `(row, column)`. A column equal to
/// `cols` is a full row, whose next character starts the next row.
pub fn position(text: &str, cols: usize) -> (usize, usize) {
    let cols = cols.max(2);
    let (mut row, mut col) = (0, 0);
    for w in text.chars().map(char_width).filter(|w| *w > 0) {
        if col + w > cols {
            row += 1;
            col = 0;
        }
        col += w;
    }
    (row, col)
}

/// Where a cursor after `text` shows: as [`position`], a full row's end
/// being the start of the next row.
pub fn cursor_position(text: &str, cols: usize) -> (usize, usize) {
    match position(text, cols) {
        (row, col) if col >= cols.max(2) => (row + 1, 0),
        at => at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `keys` to an editor with `history`; the line and cursor after.
    fn run(history: &[&str], keys: &[u8]) -> (String, usize, Vec<Outcome>) {
        let mut ed = Editor::new(history.iter().map(|s| s.to_string()).collect());
        let mut dec = Decoder::default();
        let outcomes: Vec<Outcome> = dec.feed(keys).into_iter().map(|k| ed.apply(k)).collect();
        (ed.line(), ed.cursor(), outcomes.into_iter().filter(|o| *o != Outcome::Edited).collect())
    }

    #[test]
    fn key_sequences_give_line_and_cursor() {
        let table: &[(&[u8], &str, usize)] = &[
            (b"abc", "abc", 3),
            (b"abc\x1b[D\x1b[DX", "aXbc", 2),
            (b"abc\x1bOD\x1bOC\x1b[C", "abc", 3),
            (b"abc\x01X", "Xabc", 1),
            (b"abc\x1b[H\x1b[FX", "abcX", 4),
            (b"abc\x1b[1~Y\x1b[4~Z", "YabcZ", 5),
            (b"abc\x02\x02\x06", "abc", 2),
            (b"abc\x7f", "ab", 2),
            (b"abc\x08\x08", "a", 1),
            (b"abc\x01\x7f", "abc", 0),
            (b"abc\x01\x1b[3~", "bc", 0),
            (b"abc\x01\x04", "bc", 0),
            (b"abc\x1b[3~", "abc", 3),
            (b"hello world\x1b[D\x1b[D\x0b", "hello wor", 9),
            (b"hello world\x1b[D\x1b[D\x15", "ld", 0),
            (b"upload my file\x17", "upload my ", 10),
            (b"upload my file  \x17", "upload my ", 10),
            (b"a b\x1b[D\x17", "b", 0),
            (b"ab\x1b[D\x1b[D\x17", "ab", 0),
            ("é€x\x1b[D\x1b[Dü".as_bytes(), "éü€x", 2),
            (b"ab\x1b[5~c\x1b[1;5Dd", "abdc", 3),
            (b"ab\x1bxc", "abc", 3),
            (b"a\tb", "ab", 2),
            ("ls 文档文档\x01X".as_bytes(), "Xls 文档文档", 1),
            ("文档\x1b[DX".as_bytes(), "文X档", 2),
            ("文档\x7f".as_bytes(), "文", 1),
            ("e\u{301}x\x1b[D\x1b[D!".as_bytes(), "!e\u{301}x", 1),
            ("e\u{301}x\x1b[D\x7f".as_bytes(), "x", 0),
            ("ae\u{301}\x01\x1b[C\x1b[3~".as_bytes(), "a", 1),
        ];
        for (keys, line, cursor) in table {
            let (got, at, _) = run(&[], keys);
            assert_eq!((got.as_str(), at), (*line, *cursor), "keys {:?}", String::from_utf8_lossy(keys));
        }
    }

    #[test]
    fn layout_by_display_width() {
        type Case = (&'static str, usize, (usize, usize), (usize, usize));
        let table: &[Case] = &[
            ("abc", 80, (0, 3), (0, 3)),
            ("ls 文档文档", 80, (0, 11), (0, 11)),
            ("abcd", 4, (0, 4), (1, 0)),
            ("abcde", 4, (1, 1), (1, 1)),
            // A wide character that does not fit starts the next row.
            ("abc文", 4, (1, 2), (1, 2)),
            ("ab文", 4, (0, 4), (1, 0)),
            ("文档文档文档", 5, (2, 4), (2, 4)),
            ("e\u{301}", 80, (0, 1), (0, 1)),
            ("alice@127.0.0.1:9021:/文档> ", 20, (1, 8), (1, 8)),
        ];
        for (text, cols, end, cursor) in table {
            assert_eq!(position(text, *cols), *end, "{text:?} at {cols}");
            assert_eq!(cursor_position(text, *cols), *cursor, "{text:?} at {cols}");
        }
    }

    #[test]
    fn history_walks_up_and_down_keeping_the_draft() {
        let h = &["ls", "cd docs", "pwd"];
        let table: &[(&[u8], &str, usize)] = &[
            (b"\x1b[A", "pwd", 3),
            (b"\x1b[A\x1b[A", "cd docs", 7),
            (b"\x1b[A\x1b[A\x1b[A\x1b[A\x1b[A", "ls", 2),
            (b"dra\x1b[A\x1b[B", "dra", 3),
            (b"dra\x10\x10\x0e", "pwd", 3),
            (b"\x1b[B", "", 0),
            (b"\x1b[A\x7f\x7fx", "px", 2),
        ];
        for (keys, line, cursor) in table {
            let (got, at, _) = run(h, keys);
            assert_eq!((got.as_str(), at), (*line, *cursor), "keys {:?}", String::from_utf8_lossy(keys));
        }
    }

    #[test]
    fn enter_ctrl_c_ctrl_d_tab_and_friends() {
        let (line, _, out) = run(&["ls"], b"\x1b[A\r");
        assert_eq!((line.as_str(), out), ("", vec![Outcome::Submit("ls".into())]));
        assert_eq!(run(&[], b"abc\x03").2, [Outcome::Interrupted]);
        assert_eq!(run(&[], b"abc\x03").0, "");
        assert_eq!(run(&[], b"\x04").2, [Outcome::Eof]);
        assert_eq!(run(&[], b"a\x04").2, []);
        assert_eq!(run(&[], b"a\t\x0c\x1a").2, [Outcome::Complete, Outcome::ClearScreen, Outcome::Suspend]);
        assert_eq!(run(&[], b"a\nb\r").2, [Outcome::Submit("a".into()), Outcome::Submit("b".into())]);
    }

    #[test]
    fn cut_sequences_wait_for_the_rest() {
        let mut dec = Decoder::default();
        assert_eq!(dec.feed(b"\x1b["), []);
        assert!(dec.waiting());
        assert_eq!(dec.feed(b"A\xc3"), [Key::Up]);
        assert_eq!(dec.feed(b"\xa9"), [Key::Char('é')]);
        dec.feed(b"\x1b");
        dec.flush();
        assert_eq!(dec.feed(b"x"), [Key::Char('x')]);
    }

    #[test]
    fn replace_puts_a_completion_at_the_cursor() {
        let mut ed = Editor::default();
        for c in "stat rep tail".chars() {
            ed.apply(Key::Char(c));
        }
        (0..5).for_each(|_| {
            ed.apply(Key::Left);
        });
        ed.replace(5, "\"report 2026.txt\" ");
        assert_eq!((ed.line().as_str(), ed.cursor()), ("stat \"report 2026.txt\"  tail", 23));
        ed.remember("stat x");
        ed.remember("stat x");
        assert_eq!(ed.history.len(), 1);
    }
}
