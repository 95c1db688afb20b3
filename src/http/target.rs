//! Request targets to names and names to URLs: the path percent-decoded
//! once as UTF-8 into checked segments, the query's flags, and the
//! encoding of every name the server puts in a URL or header.
//!
//! A segment that decodes to `.`, `..`, holds `/` (from `%2F`), NUL or
//! any control character, or is not UTF-8 is refused here; the jail
//! (`storage::tree`) then checks the names as it does for the text
//! protocol. Nothing here touches the file system.

/// The decoded segments of a path (empty segments, as in `a//b` or a
/// trailing `/`, dropped) and whether it ended with `/`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Segments {
    pub(crate) names: Vec<String>,
    pub(crate) trailing_slash: bool,
}

/// Why a path is refused (always `400`).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct BadPath(pub(crate) &'static str);

/// Decodes `path` (the part of a target before `?`, starting with `/`).
pub(crate) fn segments(path: &str) -> Result<Segments, BadPath> {
    let mut names = Vec::new();
    for raw in path.split('/').filter(|s| !s.is_empty()) {
        let bytes = decode(raw)?;
        let name = String::from_utf8(bytes).map_err(|_| BadPath("a segment is not UTF-8"))?;
        if name == "." || name == ".." {
            return Err(BadPath("a segment is . or .."));
        }
        if name.contains('/') {
            return Err(BadPath("a segment holds an encoded /"));
        }
        if name.chars().any(char::is_control) {
            return Err(BadPath("a segment holds a control character"));
        }
        names.push(name);
    }
    Ok(Segments { names, trailing_slash: path.ends_with('/') && path.len() > 1 })
}

/// Percent-decodes once; a `%` not followed by two hex digits is refused.
fn decode(raw: &str) -> Result<Vec<u8>, BadPath> {
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            let byte = hex.and_then(|h| u8::from_str_radix(h, 16).ok()).ok_or(BadPath("a bad % escape"))?;
            out.push(byte);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// Whether the query holds the flag `name` (`?zip`, `?inline`, `?a&zip`,
/// `?zip=1`).
pub(crate) fn has_flag(query: &str, name: &str) -> bool {
    query.split('&').any(|p| p.split('=').next() == Some(name))
}

/// Percent-encodes everything but unreserved characters and `/` (RFC
/// 3986 §2.3): a user path as it goes into a URL.
pub(crate) fn encode_path(text: &str) -> String {
    encode(text, |b| b == b'/')
}

/// Percent-encodes one name (a `/` in it too).
pub(crate) fn encode_name(text: &str) -> String {
    encode(text, |_| false)
}

fn encode(text: &str, keep: impl Fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_paths_are_refused_table() {
        let bad = [
            "/files/%2e%2e/x",
            "/files/..",
            "/files/./a",
            "/files/a%2fb",
            "/files/a%2Fb",
            "/files/a%00b",
            "/files/%c0%ae%c0%ae/x",
            "/files/%ff",
            "/files/a%1",
            "/files/a%zz",
            "/files/a%0ab",
            "/files/%7f",
        ];
        for path in bad {
            assert!(segments(path).is_err(), "{path}");
        }
        let ok = segments("/files/%E6%96%87%E4%BB%B6//a%20b/").unwrap();
        assert_eq!(ok.names, ["files", "文件", "a b"]);
        assert!(ok.trailing_slash);
        assert_eq!(segments("/files/a\\b").unwrap().names, ["files", "a\\b"], "the jail refuses it");
    }

    #[test]
    fn names_are_encoded_for_urls_and_round_trip() {
        assert_eq!(encode_path("/a b/文/x?#%"), "/a%20b/%E6%96%87/x%3F%23%25");
        assert_eq!(encode_name("a/b"), "a%2Fb");
        let name = "résumé 100%.txt";
        assert_eq!(segments(&format!("/{}", encode_name(name))).unwrap().names, [name]);
        assert!(has_flag("a=1&zip", "zip") && has_flag("inline", "inline") && !has_flag("zipper", "zip"));
    }
}
