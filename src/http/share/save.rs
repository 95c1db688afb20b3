//! *Save to my disk* (HTTP.md "Share links"): a `POST` to the URL of a
//! share's item (the shared file, the shared folder or a folder or file
//! below it) copies that item into the visitor's own tree, through the
//! very `save` of the text protocol (`service::saving`: hard links,
//! booked against the quota, placed by one rename that never replaces).
//!
//! The copy lands at `/NAME` in the visitor's tree, or at the path of the
//! form's optional `to` field; a name already taken is refused, as the
//! text `save` refuses it, and the page then offers *Save as* with
//! another name. Without a session (and without HTTP Basic credentials)
//! the visitor is sent to `/login` and back to the page. The cross-site
//! rule (`http::auth::cross_site`) has run before: a cookie needs our own
//! `Origin`. Works without script; the answer is a page with a sentence.

use super::Asked;
use crate::http::engine::{self, Error, ErrorKind};
use crate::http::target::{encode_name, encode_path};
use crate::http::{Cx, Reply, html, session};
use crate::storage::tree::{Kind, UserPath};

/// The form is one optional field.
const MAX_FORM: u64 = 16 * 1024;

pub(super) fn save(cx: &mut Cx, asked: &Asked) -> Reply {
    let user = match visitor(cx) {
        Ok(user) => user,
        Err(reply) => return reply,
    };
    if engine::read_only(cx.shared) {
        let why = "The server is read-only for now: its storage failed. Try again after it restarts.";
        return answer(503, "Not saved", why, "");
    }
    let form = match cx.form(MAX_FORM) {
        Ok(form) => form,
        Err(why) => return answer(400, "Not saved", why, ""),
    };
    let to = form.iter().find(|(k, _)| k == "to").map(|(_, v)| v.trim()).filter(|v| !v.is_empty());
    let result = asked.item().and_then(|source| {
        let target = UserPath::root().resolve(to.unwrap_or(source.name()))?;
        let login = engine::login(cx.shared, &user)?;
        engine::save(cx.shared, &login, &asked.share, &source, &target)?;
        Ok((source, target))
    });
    match result {
        Ok((source, target)) => {
            let note = format!("saved {}:{source} as {target}", asked.share.owner);
            saved(asked, (&source, &target), cx.req.path_and_query().0).with_note(note)
        }
        Err(e) => refused(cx, asked, &e, to),
    }
}

/// The visitor's account: their session, or their Basic credentials
/// (by the usual rules); without either, `303` to the login page, which
/// comes back to the page the form was on.
fn visitor(cx: &mut Cx) -> Result<String, Reply> {
    if let Some(user) = session::user_of(cx.shared, &cx.client, cx.req) {
        cx.user = user.clone();
        return Ok(user);
    }
    if cx.req.header("authorization").is_some() {
        return cx.authenticate();
    }
    let back = encode_name(cx.req.path_and_query().0);
    Err(Reply::redirect(303, &format!("/login?next={back}")).with_note("no session: to the login"))
}

/// The page after a save: where the copy is, with a link into the web app.
fn saved(asked: &Asked, (source, target): (&UserPath, &UserPath), back: &str) -> Reply {
    let folder = match asked.owner.entry(source).map(|e| e.kind) {
        Ok(Kind::Dir) => target.clone(),
        _ => target.parent(),
    };
    let app = if folder.is_root() {
        "/#/files/".to_string()
    } else {
        format!("/#/files{}/", encode_path(&folder.to_string()))
    };
    let text = format!("“{}” is now {target} in your files.", source.name());
    let links = format!(
        "<p><a href=\"{}\">Open in your files</a> · <a href=\"{}\">Back to the share</a></p>",
        html::escape(&app),
        html::escape(back)
    );
    answer(200, "Saved to your disk", &text, &links)
}

/// The page of a refused save: the sentence, and for a name already
/// taken, *Save as* with another name.
fn refused(cx: &Cx, asked: &Asked, e: &Error, to: Option<&str>) -> Reply {
    let status = engine::status_of(e);
    let mut more = String::new();
    if e.kind() == ErrorKind::Exists {
        let wanted = to.map_or_else(|| format!("/{}", asked.base.name()), str::to_string);
        more = format!(
            "<form method=\"post\" action=\"{}\"><label for=\"to\">Save as</label> \
             <input id=\"to\" name=\"to\" value=\"{}\" required> <button type=\"submit\">Save to my disk</button></form>",
            html::escape(cx.req.path_and_query().0),
            html::escape(&another_name(&wanted))
        );
    }
    answer(status, "Not saved", &engine::sentence(e), &more).with_note(engine::cause_of(e))
}

/// `path` with ` (2)` before its extension: a name to suggest instead.
fn another_name(path: &str) -> String {
    let name_at = path.rfind('/').map_or(0, |i| i + 1);
    match path[name_at..].rfind('.') {
        Some(dot) if dot > 0 => format!("{} (2){}", &path[..name_at + dot], &path[name_at + dot..]),
        _ => format!("{path} (2)"),
    }
}

/// A page: a heading, a sentence, and more HTML (escaped pieces).
fn answer(status: u16, title: &str, sentence: &str, more: &str) -> Reply {
    let body = format!("<h1>{}</h1>\n<p role=\"status\">{}</p>\n{more}", html::escape(title), html::escape(sentence));
    Reply::page(status, html::page(title, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_name_goes_before_the_extension() {
        assert_eq!(another_name("/report.pdf"), "/report (2).pdf");
        assert_eq!(another_name("/a.b/docs"), "/a.b/docs (2)");
        assert_eq!(another_name("/.profile"), "/.profile (2)");
        assert_eq!(another_name("/photos"), "/photos (2)");
    }
}
