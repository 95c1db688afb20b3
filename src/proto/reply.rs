//! Replies: a `CODE TEXT` line and the lines that may follow it. The text
//! of replies with a fixed form is typed in [`crate::proto::body`].

use crate::proto::Code;

/// One reply: a `CODE TEXT` line and, for listings and help, the lines that
/// follow (their count is the first word of the text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The reply code.
    pub code: Code,
    /// The rest of the status line.
    pub text: String,
    /// The lines that follow (listings and help).
    pub lines: Vec<String>,
}

impl Reply {
    /// A one-line reply.
    pub fn new(code: Code, text: impl Into<String>) -> Reply {
        Reply { code, text: text.into(), lines: Vec::new() }
    }

    /// A multi-line reply whose text is the number of lines.
    pub fn multi(code: Code, lines: Vec<String>) -> Reply {
        Reply { code, text: lines.len().to_string(), lines }
    }

    /// The bytes on the wire, every line ended by `\r\n`.
    pub fn to_wire(&self) -> String {
        let mut out = format!("{} {}\r\n", self.code.number(), self.text);
        for line in &self.lines {
            out.push_str(line);
            out.push_str("\r\n");
        }
        out
    }

    /// Whether the code is 1xx or 2xx.
    pub fn is_ok(&self) -> bool {
        self.code.number() < 400
    }

    /// The words of the text, for replies whose text has a fixed form.
    pub fn words(&self) -> Vec<&str> {
        self.text.split(' ').collect()
    }
}

/// Splits a status line `CODE TEXT` into its parts (client side).
pub fn parse_status(line: &str) -> Option<(u16, &str)> {
    let digits = line.get(..3)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rest = &line[3..];
    let text = rest.strip_prefix(' ').unwrap_or(rest);
    if !rest.is_empty() && !rest.starts_with(' ') {
        return None;
    }
    Some((digits.parse().ok()?, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_print_crlf_and_counts() {
        let r = Reply::multi(Code::Listing, vec!["a".into(), "b".into()]);
        assert_eq!(r.to_wire(), "212 2\r\na\r\nb\r\n");
        assert_eq!(parse_status("226 6 abc"), Some((226, "6 abc")));
        assert_eq!(parse_status("2x6 no"), None);
    }
}
