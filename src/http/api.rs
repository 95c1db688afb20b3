//! `/api/`: the small JSON API of the web app (docs/HTTP.md "The web
//! app's API"): list a folder, make one, rename or move, delete to the
//! trash, the trash (list, restore, delete forever, empty), shares (list,
//! create with an expiry, stop), the quota, the password, and the
//! unfinished tus uploads.
//!
//! Reads are `GET`, changes `POST` with an urlencoded body (so the
//! cross-site rule of `http::auth` covers them: a cookie needs our own
//! `Origin`). Answers are JSON; a failure is `{"error": SENTENCE}` with
//! the status of the one table, the sentence meant for a person. Every
//! change goes through the engine exactly as the text protocol's command
//! of the same name; nothing here decides a rule of the product.

use crate::http::decode::Form;
use crate::http::engine::{self, Error, ErrorKind, Login};
use crate::http::{Cx, Reply, not_allowed, tus};
use crate::storage::replace::Replace;
use crate::storage::shares::Shares;
use crate::storage::tree::{Kind, ListLimit, UserPath};
use crate::storage::users::check_password;

/// Request bodies of the API are small forms.
const MAX_FORM: u64 = 64 * 1024;

/// Serves `/api/` + `names`.
pub(crate) fn route(cx: &mut Cx, names: &[String]) -> Reply {
    let user = match cx.authenticate() {
        Ok(user) => user,
        Err(reply) => return reply,
    };
    let login = match engine::login(cx.shared, &user) {
        Ok(login) => login,
        Err(e) => return failed(cx, &e),
    };
    let method = cx.req.method.clone();
    let get = method == "GET" || method == "HEAD";
    let first = names.first().map(String::as_str).unwrap_or("");
    match (first, get) {
        ("me", true) => me(cx, &login),
        ("list", true) => list(cx, &login, &names[1..]),
        ("trash", true) => trash(cx, &login),
        ("shares", true) => shares(cx, &login),
        ("uploads", true) => uploads(cx, &login),
        ("zip", true) => match crate::http::files::user_path(&names[1..]) {
            Ok(path) => crate::http::share::own_zip(cx, &login.tree, &path),
            Err(e) => failed(cx, &e),
        },
        (_, true) if method == "HEAD" => not_allowed(cx, "GET, HEAD"),
        (_, false) if method != "POST" => not_allowed(cx, "POST"),
        (_, false) if engine::read_only(cx.shared) => {
            error(503, "The server is read-only for now: its storage failed. Try again after it restarts.")
        }
        _ => post(cx, &login, first),
    }
}

/// The changes, each with its form.
fn post(cx: &mut Cx, login: &Login, what: &str) -> Reply {
    let form = match read_form(cx) {
        Ok(form) => form,
        Err(reply) => return reply,
    };
    let result = match what {
        "mkdir" => mkdir(cx, login, &form),
        "move" => move_to(cx, login, &form),
        "delete" => delete(cx, login, &form),
        "restore" => restore(cx, login, &form),
        "purge" => purge(cx, login, &form),
        "share" => share(cx, login, &form),
        "unshare" => unshare(cx, login, &form),
        "passwd" => return passwd(cx, login, &form),
        _ => return error(404, "There is no such request."),
    };
    let detail = form.iter().filter(|(k, _)| k != "old" && k != "new" && k != "code");
    let detail = detail.map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ");
    match result {
        Ok(body) => json(200, body).with_note(detail),
        Err(e) => failed(cx, &e).with_note(format!("{detail}: {}", engine::cause_of(&e))),
    }
}

// ---- reads ----

fn me(cx: &Cx, login: &Login) -> Reply {
    match login.count_usage(cx.shared) {
        Ok(held) => {
            let limit = |l: Option<u64>| l.map_or("null".to_string(), |q| q.to_string());
            let quota = limit(cx.shared.quota_of(&login.user));
            let (used, entries, max) = (held.bytes, held.entries, limit(cx.shared.entries_of(&login.user)));
            let body = format!(
                "{{\"user\":{},\"used\":{used},\"quota\":{quota},\"entries\":{entries},\"max_entries\":{max}}}",
                string(&login.user)
            );
            json(200, body)
        }
        Err(e) => failed(cx, &e),
    }
}

fn list(cx: &Cx, login: &Login, names: &[String]) -> Reply {
    let path = match crate::http::files::user_path(names) {
        Ok(p) => p,
        Err(e) => return failed(cx, &e),
    };
    let mut limit = ListLimit::new(cx.shared.config.max_list);
    let mut entries = match login.tree.list(&path, &mut limit) {
        Ok(entries) => entries,
        Err(e) => return failed(cx, &e),
    };
    entries.sort_by(|a, b| (a.kind != Kind::Dir, &a.name).cmp(&(b.kind != Kind::Dir, &b.name)));
    let rows = entries.iter().map(|e| {
        let kind = if e.kind == Kind::Dir { "dir" } else { "file" };
        let mtime = crate::clock::secs(e.mtime);
        format!("{{\"name\":{},\"type\":\"{kind}\",\"size\":{},\"mtime\":{mtime}}}", string(&e.name), e.size)
    });
    json(200, format!("{{\"path\":{},\"entries\":[{}]}}", string(&path.to_string()), join(rows)))
}

fn trash(cx: &Cx, login: &Login) -> Reply {
    match login.trash(cx.shared).list(cx.shared.config.max_list) {
        Ok(lines) => {
            let rows = lines.iter().map(|l| {
                let kind = if l.kind == Kind::Dir { "dir" } else { "file" };
                format!(
                    "{{\"id\":{},\"path\":{},\"type\":\"{kind}\",\"size\":{},\"deleted\":{}}}",
                    string(&l.id),
                    string(&l.path),
                    l.size,
                    l.deleted
                )
            });
            json(200, format!("{{\"entries\":[{}]}}", join(rows)))
        }
        Err(e) => failed(cx, &e),
    }
}

fn shares(cx: &Cx, login: &Login) -> Reply {
    match Shares::new(&cx.shared.data).list(&login.user, cx.shared.config.max_list) {
        Ok(list) => {
            let rows = list.iter().map(|s| {
                let kind = if s.kind == Kind::Dir { "dir" } else { "file" };
                let expires = s.expires.map_or("null".to_string(), |e| e.to_string());
                format!(
                    "{{\"code\":{},\"link\":{},\"path\":{},\"type\":\"{kind}\",\"expires\":{expires}}}",
                    string(&s.code),
                    string(&link(cx, &s.code)),
                    string(&s.path)
                )
            });
            json(200, format!("{{\"shares\":[{}]}}", join(rows)))
        }
        Err(e) => failed(cx, &e),
    }
}

/// The unfinished tus uploads, for the page to resume one when the same
/// file is chosen again in the same folder.
fn uploads(cx: &Cx, login: &Login) -> Reply {
    let rows = tus::unfinished(cx, login).into_iter().map(|(id, path, size, held, mtime)| {
        let mtime = mtime.map_or("null".to_string(), |t| t.to_string());
        format!(
            "{{\"url\":{},\"path\":{},\"size\":{size},\"offset\":{held},\"mtime\":{mtime}}}",
            string(&format!("/tus/{id}")),
            string(&path)
        )
    });
    json(200, format!("{{\"uploads\":[{}]}}", join(rows)))
}

// ---- changes ----

type Done = engine::Result<String>;

fn field<'a>(form: &'a Form, key: &str) -> engine::Result<&'a str> {
    let found = form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    found.ok_or_else(|| Error::new(ErrorKind::BadArgs, format!("the request lacks its {key}")))
}

fn path_of(form: &Form, key: &str) -> engine::Result<UserPath> {
    UserPath::root().resolve(field(form, key)?)
}

fn mkdir(cx: &Cx, login: &Login, form: &Form) -> Done {
    let path = path_of(form, "path")?;
    login.tree.makedir(&path, login.quota(cx.shared))?;
    engine::event(cx.client.logged(), &login.user, "makedir", &path.to_string(), "ok", 0);
    Ok(format!("{{\"path\":{}}}", string(&path.to_string())))
}

/// Rename and move are one request: `from` and `to`, both full paths.
/// Nothing is replaced: a name already taken is refused.
fn move_to(cx: &Cx, login: &Login, form: &Form) -> Done {
    let (from, to) = (path_of(form, "from")?, path_of(form, "to")?);
    login.tree.entry(&from)?;
    // Under the replace lock, so no commit puts a file at `to` between
    // the check and the rename.
    let _replace = Replace::lock(&cx.shared.data, &login.user)?;
    if from != to && login.tree.entry(&to).is_ok() {
        return Err(Error::new(ErrorKind::Exists, format!("{to}: exists already")));
    }
    login.tree.rename(&from, &to)?;
    engine::event(cx.client.logged(), &login.user, "mv", &format!("{from} -> {to}"), "ok", 0);
    Ok(format!("{{\"path\":{}}}", string(&to.to_string())))
}

fn delete(cx: &Cx, login: &Login, form: &Form) -> Done {
    let path = path_of(form, "path")?;
    if path.is_root() {
        return Err(Error::new(ErrorKind::Refused, "/: the top folder cannot be deleted"));
    }
    let replace = Replace::lock(&cx.shared.data, &login.user)?;
    login.trash(cx.shared).remove(&login.tree, &path, &cx.shared.sums)?;
    drop(replace);
    if cx.shared.config.trash_days == 0 {
        login.usage_changed(cx.shared);
    }
    engine::event(cx.client.logged(), &login.user, "rm", &path.to_string(), "ok", 0);
    Ok(format!("{{\"trash\":{}}}", cx.shared.config.trash_days > 0))
}

fn restore(cx: &Cx, login: &Login, form: &Form) -> Done {
    let replace = Replace::lock(&cx.shared.data, &login.user)?;
    let put_new = |item: &std::path::Path, at: &std::path::Path| replace.put_new(item, at);
    let quota = login.quota(cx.shared);
    let back = login.trash(cx.shared).restore(put_new, &login.tree, field(form, "id")?, None, quota)?;
    engine::event(cx.client.logged(), &login.user, "restore", &back.to_string(), "ok", 0);
    Ok(format!("{{\"path\":{}}}", string(&back.to_string())))
}

/// `id=ID` deletes one entry forever; `all=1` empties the trash.
fn purge(cx: &Cx, login: &Login, form: &Form) -> Done {
    let (trash, sums) = (login.trash(cx.shared), &cx.shared.sums);
    let all = field(form, "all").is_ok_and(|v| v == "1");
    if all {
        trash.purge_all(sums)?
    } else {
        trash.purge(field(form, "id")?, sums)?
    }
    login.usage_changed(cx.shared);
    engine::event(cx.client.logged(), &login.user, "purge", if all { "all" } else { "one" }, "ok", 0);
    Ok("{}".to_string())
}

/// `path`, and `days` (1 to 3650; absent or empty: until stopped).
fn share(cx: &Cx, login: &Login, form: &Form) -> Done {
    let path = path_of(form, "path")?;
    if path.is_root() {
        return Err(Error::new(ErrorKind::Refused, "/: cannot share the top folder"));
    }
    let days = match field(form, "days").unwrap_or("") {
        "" => None,
        d => match d.parse::<u32>() {
            Ok(n @ 1..=3650) => Some(n),
            _ => return Err(Error::new(ErrorKind::BadArgs, "the expiry must be 1 to 3650 days")),
        },
    };
    let entry = login.tree.entry(&path)?;
    let share = Shares::new(&cx.shared.data).create(&login.user, &path, entry.kind, days);
    let share = share.map_err(|e| Error::io("share record", e))?;
    engine::event(cx.client.logged(), &login.user, "share", &path.to_string(), "ok", 0);
    let expires = share.expires.map_or("null".to_string(), |e| e.to_string());
    Ok(format!("{{\"link\":{},\"expires\":{expires}}}", string(&link(cx, &share.code))))
}

fn unshare(cx: &Cx, login: &Login, form: &Form) -> Done {
    let share = Shares::new(&cx.shared.data).remove(&login.user, field(form, "code")?)?;
    engine::event(cx.client.logged(), &login.user, "unshare", &share.path, "ok", 0);
    Ok("{}".to_string())
}

/// `old` and `new`: the new one checked first (costs no hash), then the
/// old one, whose failure waits out the login back-off like a login.
fn passwd(cx: &Cx, login: &Login, form: &Form) -> Reply {
    let (Ok(old), Ok(new)) = (field(form, "old"), field(form, "new")) else {
        return error(400, "Give the current password and the new one.");
    };
    let (old, new) = (crate::secret::Password::new(old), crate::secret::Password::new(new));
    if let Err(e) = check_password(&new) {
        return error(400, &format!("The new password cannot be used: {}.", e.to_string().trim_end_matches('.')));
    }
    let turn = engine::login_turn(cx.shared, cx.client.key());
    if !cx.shared.users.verify(&login.user, &old) {
        turn.failed();
        return error(403, "The current password is not right.").with_note("passwd: wrong old password");
    }
    match cx.shared.users.set_password(&login.user, &new) {
        Ok(()) => {
            engine::event(cx.client.logged(), &login.user, "passwd", "", "ok", 0);
            json(200, "{}".to_string())
        }
        Err(e) => failed(cx, &e),
    }
}

// ---- the wire: forms in, JSON out ----

/// The urlencoded body, read whole (at most [`MAX_FORM`] bytes).
fn read_form(cx: &mut Cx) -> Result<Form, Reply> {
    cx.form(MAX_FORM).map_err(|why| error(400, why))
}

/// A JSON string, with `<`, `>` and `&` escaped too (the text is never
/// markup, wherever it ends up).
pub(crate) fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || matches!(c, '<' | '>' | '&' | '\u{2028}' | '\u{2029}') => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn join(rows: impl Iterator<Item = String>) -> String {
    rows.collect::<Vec<_>>().join(",")
}

fn json(status: u16, body: String) -> Reply {
    let mut r = Reply::new(status);
    r.head.set("Content-Type", "application/json");
    r.body = crate::http::Payload::Bytes(body.into_bytes());
    r
}

/// A failure as `{"error": SENTENCE}`.
fn error(status: u16, sentence: &str) -> Reply {
    json(status, format!("{{\"error\":{}}}", string(sentence)))
}

/// An engine failure: the status of the one table, and a sentence.
fn failed(cx: &Cx, e: &Error) -> Reply {
    let status = engine::status_of(e);
    let _ = cx;
    error(status, &engine::sentence(e)).with_note(engine::cause_of(e))
}

/// The link of a share code: `--public-url`, else the `Host` asked for.
pub(crate) fn link(cx: &Cx, code: &str) -> String {
    let base = match (&cx.shared.config.public_url, cx.req.header("host")) {
        (Some(url), _) => url.trim_end_matches('/').to_string(),
        (None, Some(host)) => format!("{}://{host}", if cx.client.secure { "https" } else { "http" }),
        (None, None) => String::new(),
    };
    format!("{base}/s/{code}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::decode::parse_form;

    #[test]
    fn forms_decode_and_json_escapes() {
        let form = parse_form("path=%2Fa+b%2F%E6%96%87&all=1&x").unwrap();
        assert_eq!(form, vec![("path".into(), "/a b/文".into()), ("all".into(), "1".into()), ("x".into(), "".into())]);
        assert!(parse_form("a=%zz").is_none());
        assert!(parse_form("a=%ff").is_none());
        assert_eq!(string("a\"<img>\\\n"), "\"a\\\"\\u003cimg\\u003e\\\\\\u000a\"");
    }
}
