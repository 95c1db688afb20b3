//! A file as a response (HTTP.md "Serving a file"): strong ETag from the
//! recorded MD5, `Last-Modified`, one byte range, `If-Range`,
//! `If-None-Match`, `If-Modified-Since`, and a name and type that never
//! let uploaded content run on our origin.
//!
//! The bytes come from the file opened by the engine (the inode it
//! checked), so a file replaced meanwhile never comes out mixed.

use std::io::{Seek, SeekFrom};
use std::time::SystemTime;

use crate::digest::Digest;
use crate::http::target::encode_name;
use crate::http::wire::Request;
use crate::http::{Payload, Reply, date};
use crate::storage::staging::Download;

/// A file ready to be served: the engine's open file and its facts.
pub(crate) struct Served {
    pub(crate) open: Download,
    pub(crate) mtime: SystemTime,
    pub(crate) name: String,
}

impl Served {
    /// The opened file's modification time is the one served.
    pub(crate) fn new(open: Download, name: &str) -> Served {
        let mtime = open.file.metadata().and_then(|m| m.modified()).unwrap_or(SystemTime::UNIX_EPOCH);
        Served { open, mtime, name: name.to_string() }
    }
}

/// Which byte range a request wants of a file of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Want {
    Whole,
    /// First and last byte, inclusive.
    Part(u64, u64),
    Unsatisfiable,
}

/// Reads `Range` (one `bytes` range; several, or anything malformed,
/// is the whole file, as RFC 9110 §14.2 allows).
pub(crate) fn range(value: Option<&str>, size: u64) -> Want {
    let Some(spec) = value.and_then(|v| v.trim().strip_prefix("bytes=")) else { return Want::Whole };
    if spec.contains(',') {
        return Want::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else { return Want::Whole };
    let num =
        |t: &str| (!t.is_empty() && t.len() <= 19 && t.bytes().all(|b| b.is_ascii_digit())).then(|| t.parse().ok())?;
    match (num(first), num(last), first.is_empty(), last.is_empty()) {
        (None, Some(n), true, false) => match n {
            0 => Want::Unsatisfiable,
            _ if size == 0 => Want::Unsatisfiable,
            n => Want::Part(size.saturating_sub(n), size - 1),
        },
        (Some(a), None, false, true) if a < size => Want::Part(a, size - 1),
        (Some(a), Some(b), false, false) if a <= b && a < size => Want::Part(a, b.min(size - 1)),
        (Some(a), Some(b), false, false) if a <= b => Want::Unsatisfiable,
        (Some(_), None, false, true) => Want::Unsatisfiable,
        _ => Want::Whole,
    }
}

/// Whether an `If-None-Match` list matches `etag` (weak comparison).
fn none_match(list: &str, etag: &str) -> bool {
    list.split(',').map(str::trim).any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
}

/// Whether `If-Range` holds: the same strong tag, or the same date to
/// the second. A weak tag never matches.
fn if_range(value: &str, etag: &str, mtime: u64) -> bool {
    let value = value.trim();
    if value.starts_with('"') {
        return value == etag;
    }
    date::parse(value) == Some(mtime)
}

/// The response for `served`: `200`, `206`, `304` or `416`, with the
/// headers of HTTP.md "Serving a file". `inline` asks to show the file
/// in the browser (only safe types are).
pub(crate) fn file(req: &Request, served: Served, inline: bool) -> Reply {
    let Served { open, mtime, name } = served;
    let (size, etag) = (open.size, etag(open.md5));
    let modified = date::unix(mtime);
    let mut reply = Reply::new(200);
    let head = &mut reply.head;
    head.set("ETag", etag.clone());
    head.set("Last-Modified", date::format_secs(modified));
    head.set("Accept-Ranges", "bytes");
    head.set("Cache-Control", "private, no-store");
    head.set("Content-Security-Policy", "sandbox");
    let shown = inline.then(|| inline_type(&name)).flatten();
    head.set("Content-Type", shown.unwrap_or("application/octet-stream"));
    head.set("Content-Disposition", disposition(if shown.is_some() { "inline" } else { "attachment" }, &name));
    let unchanged = match req.header("if-none-match") {
        Some(list) => none_match(&list, &etag),
        None => req.header("if-modified-since").and_then(|d| date::parse(&d)).is_some_and(|since| modified <= since),
    };
    if unchanged {
        head.status = 304;
        head.fields.retain(|(n, _)| !matches!(*n, "Content-Type" | "Content-Disposition" | "Accept-Ranges"));
        return reply;
    }
    let ranged = req.header("if-range").is_none_or(|v| if_range(&v, &etag, modified));
    let want = if ranged { range(req.header("range").as_deref(), size) } else { Want::Whole };
    let mut file = open.file;
    match want {
        Want::Whole => {
            if file.seek(SeekFrom::Start(0)).is_err() {
                return Reply::text(500, "cannot read the file").with_note("seek failed");
            }
            reply.body = Payload::File { file, len: size };
        }
        Want::Part(a, b) => {
            if file.seek(SeekFrom::Start(a)).is_err() {
                return Reply::text(500, "cannot read the file").with_note("seek failed");
            }
            reply.head.status = 206;
            reply.head.set("Content-Range", format!("bytes {a}-{b}/{size}"));
            reply.body = Payload::File { file, len: b - a + 1 };
        }
        Want::Unsatisfiable => {
            let mut refused = Reply::text(416, "range not satisfiable");
            refused.head.set("Content-Range", format!("bytes */{size}"));
            refused.head.set("Cache-Control", "private, no-store");
            return refused;
        }
    }
    reply
}

/// The strong entity tag of content with `md5`.
pub(crate) fn etag(md5: Digest) -> String {
    format!("\"{md5}\"")
}

/// `Content-Disposition` (RFC 6266) with an ASCII fallback and the real
/// name in RFC 8187 form.
pub(crate) fn disposition(kind: &str, name: &str) -> String {
    let fallback: String =
        name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{}", encode_name(name))
}

/// The type a file is shown with under `?inline`: images, audio, video
/// and plain text only; anything else (HTML, SVG, XML, scripts, styles,
/// PDF) is never shown, whatever its name says.
pub(crate) fn inline_type(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "ogg" | "oga" | "opus" => "audio/ogg",
        "wav" => "audio/wav",
        "flac" => "audio/flac",
        "mp4" | "m4v" => "video/mp4",
        "webm" => "video/webm",
        "ogv" => "video/ogg",
        "txt" | "text" | "log" | "md" | "csv" => "text/plain; charset=utf-8",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_table() {
        let cases = [
            ("bytes=0-0", 10, Want::Part(0, 0)),
            ("bytes=2-", 10, Want::Part(2, 9)),
            ("bytes=-3", 10, Want::Part(7, 9)),
            ("bytes=-30", 10, Want::Part(0, 9)),
            ("bytes=5-100", 10, Want::Part(5, 9)),
            ("bytes=10-", 10, Want::Unsatisfiable),
            ("bytes=10-12", 10, Want::Unsatisfiable),
            ("bytes=-0", 10, Want::Unsatisfiable),
            ("bytes=0-", 0, Want::Unsatisfiable),
            ("bytes=5-2", 10, Want::Whole),
            ("bytes=0-1,3-4", 10, Want::Whole),
            ("bytes=x-", 10, Want::Whole),
            ("items=0-1", 10, Want::Whole),
            ("bytes=99999999999999999999-", 10, Want::Whole),
            ("bytes=-", 10, Want::Whole),
        ];
        for (value, size, want) in cases {
            assert_eq!(range(Some(value), size), want, "{value} of {size}");
        }
    }

    #[test]
    fn validators_and_names() {
        let tag = "\"0123\"";
        assert!(none_match("\"x\", W/\"0123\"", tag) && none_match("*", tag) && !none_match("\"x\"", tag));
        assert!(if_range(tag, tag, 5) && !if_range("W/\"0123\"", tag, 5));
        assert!(
            if_range("Thu, 01 Jan 1970 00:00:05 GMT", tag, 5) && !if_range("Thu, 01 Jan 1970 00:00:06 GMT", tag, 5)
        );
        assert_eq!(
            disposition("attachment", "报告 \"v2\".pdf"),
            "attachment; filename=\"__ _v2_.pdf\"; filename*=UTF-8''%E6%8A%A5%E5%91%8A%20%22v2%22.pdf"
        );
        assert_eq!(inline_type("a.PNG"), Some("image/png"));
        for unsafe_name in ["a.html", "a.svg", "a.xml", "a.js", "a.css", "a.pdf", "noext"] {
            assert_eq!(inline_type(unsafe_name), None, "{unsafe_name}");
        }
    }
}
