//! Request text decoded: standard base64 (`Authorization: Basic`,
//! `Content-MD5`, tus metadata) and urlencoded forms (the web app's
//! posts). A leaf of the HTTP face: it imports none of its other files.

/// A urlencoded form: its pairs in order.
pub(crate) type Form = Vec<(String, String)>;

/// Standard base64 with padding (RFC 4648 §4); `None` if malformed.
pub(crate) fn base64(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let b = text.as_bytes();
    if !b.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(b.len() / 4 * 3);
    for (i, quad) in b.chunks(4).enumerate() {
        let last = i + 1 == b.len() / 4;
        let pad = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &quad[..4 - pad] {
            n = (n << 6) | value(c)?;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

/// `a=b&c=d`, `+` as a space, each part percent-decoded as UTF-8.
pub(crate) fn parse_form(text: &str) -> Option<Form> {
    let decode = |s: &str| -> Option<String> {
        let s = s.replace('+', " ");
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8(out).ok()
    };
    let pairs = text.split('&').filter(|p| !p.is_empty());
    pairs
        .map(|p| p.split_once('=').map_or(Some((decode(p)?, String::new())), |(k, v)| Some((decode(k)?, decode(v)?))))
        .collect()
}
