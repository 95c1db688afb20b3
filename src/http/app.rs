//! The web app (HTTP.md "The web app"): one page, its style and its
//! script, compiled into the binary (no build step, nothing from another
//! origin). `/` needs a session: without one the browser is sent to
//! `/login` by the usual rule of `http::auth`. The assets themselves are
//! public (they hold nothing of anyone's) and revalidated by ETag.
//!
//! The page inserts every name as text (never as markup), and the policy
//! `default-src 'self'` keeps inline script and style out: all of it
//! lives in `app.js` and `app.css`.

use std::sync::OnceLock;

use crate::digest::Digest;
use crate::http::{Cx, Payload, Reply, not_allowed};

const INDEX: &str = include_str!("app/index.html");
const CSS: &str = include_str!("app/app.css");
const JS: &str = include_str!("app/app.js");
const ICON: &str = include_str!("app/icon.svg");

/// `GET /`: the page, for a logged-in browser.
pub(crate) fn index(cx: &mut Cx) -> Reply {
    if !matches!(cx.req.method.as_str(), "GET" | "HEAD") {
        return not_allowed(cx, "GET, HEAD");
    }
    if let Err(reply) = cx.authenticate() {
        return reply;
    }
    let mut r = Reply::page(200, INDEX.to_string());
    r.head.set("Cache-Control", "no-store");
    r
}

/// `/app/NAME`: an asset, or `None` if there is no such one.
pub(crate) fn asset(cx: &Cx, name: &str) -> Option<Reply> {
    let (body, kind) = match name {
        "app.css" => (CSS, "text/css; charset=utf-8"),
        "app.js" => (JS, "text/javascript; charset=utf-8"),
        "icon.svg" => (ICON, "image/svg+xml"),
        _ => return None,
    };
    if !matches!(cx.req.method.as_str(), "GET" | "HEAD") {
        return Some(not_allowed(cx, "GET, HEAD"));
    }
    let tag = etag(name, body);
    let fresh = cx.req.header("if-none-match").is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    let mut r = Reply::new(if fresh { 304 } else { 200 });
    if !fresh {
        r.head.set("Content-Type", kind);
        r.body = Payload::Bytes(body.as_bytes().to_vec());
    }
    r.head.set("ETag", tag);
    r.head.set("Cache-Control", "no-cache");
    Some(r)
}

/// The strong ETag of an asset (its MD5, computed once).
fn etag(name: &str, body: &str) -> String {
    static TAGS: OnceLock<[String; 3]> = OnceLock::new();
    let tags = TAGS.get_or_init(|| [CSS, JS, ICON].map(|b| format!("\"{}\"", Digest::of(b.as_bytes()))));
    match name {
        "app.css" => tags[0].clone(),
        "app.js" => tags[1].clone(),
        "icon.svg" => tags[2].clone(),
        _ => format!("\"{}\"", Digest::of(body.as_bytes())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// HTTP.md: from `/` to the file list at most 150 KiB on the wire.
    #[test]
    fn first_load_is_small() {
        let total = INDEX.len() + CSS.len() + JS.len() + ICON.len();
        assert!(total < 100 * 1024, "the app's assets weigh {total} bytes");
    }

    /// No inline script or style: the policy would block it.
    #[test]
    fn page_has_no_inline_script_or_style() {
        assert!(!INDEX.contains("<style"), "inline <style>");
        assert!(!INDEX.contains(" style="), "inline style attribute");
        let handler = INDEX.split(" on").skip(1).any(|rest| {
            let word: String = rest.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
            !word.is_empty() && rest[word.len()..].starts_with('=')
        });
        assert!(!handler, "inline event handler");
        for script in INDEX.split("<script").skip(1) {
            assert!(script.trim_start().starts_with("src="), "inline <script>");
        }
        assert!(!JS.contains("innerHTML") && !JS.contains("insertAdjacentHTML") && !JS.contains("document.write"));
    }
}
