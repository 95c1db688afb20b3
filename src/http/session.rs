//! Browser sessions (HTTP.md "Who is asking"): `/login`, `/logout`,
//! `/register`, and the session cookie they hand out.
//!
//! A session is a random 128-bit token in a cookie (`HttpOnly;
//! SameSite=Strict; Path=/`, and `Secure` with the `__Host-` prefix when
//! the request is secure). At rest only its MD5 is kept, as a file
//! `sessions/MD5` under the data directory (so several processes share
//! them), holding the user, whether it was made over TLS (then it is
//! never accepted over a plain connection) and a tag of their password
//! record: a
//! `passwd` on any face, `netdisk user passwd` or a deleted account
//! changes or removes that record, and every session made before dies
//! with it. The file's MTIME is its last use; after `--web-session-days`
//! without use it is gone. `POST /logout` removes it.
//!
//! Must never: log or keep a token or a password, or send a browser
//! anywhere but a path of this server after a login.

use std::fs;
use std::io;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::digest::Digest;
use crate::http::auth::Client;
use crate::http::decode::parse_form;
use crate::http::engine::{self, Shared};
use crate::http::wire::Request;
use crate::http::{Cx, Reply, html, not_allowed};
use crate::secret::Password;
use crate::storage::users::check_user;

/// A session's last use is written at most this often.
const TOUCH_EVERY: Duration = Duration::from_secs(3600);
const COOKIE: &str = "netdisk";
const SECURE_COOKIE: &str = "__Host-netdisk";
/// A login or register form is small.
const MAX_FORM: u64 = 16 * 1024;

fn dir(shared: &Shared) -> PathBuf {
    shared.data.root().join("sessions")
}

/// How long a session lasts without use (`--web-session-days`).
fn lifetime(shared: &Shared) -> Duration {
    Duration::from_secs(shared.config.web_session_days.saturating_mul(86_400))
}

/// The tag of `user`'s password record: changes with every `passwd`, gone
/// with the account.
fn tag(shared: &Shared, user: &str) -> Option<Digest> {
    shared.users.credential_tag(user)
}

/// The account of the request's session cookie, if it has a live one.
pub(crate) fn user_of(shared: &Shared, client: &Client, req: &Request) -> Option<String> {
    let token = token_of(client, req)?;
    let file = dir(shared).join(Digest::of(token.as_bytes()).to_string());
    let text = fs::read_to_string(&file).ok()?;
    let mut words = text.split_whitespace();
    let (user, stored, secure) = (words.next()?, words.next()?, words.next() == Some("secure"));
    let age = fs::metadata(&file).ok()?.modified().ok()?.elapsed().unwrap_or_default();
    // A session made over TLS is never used over a plain connection.
    if secure && !client.secure {
        return None;
    }
    let live = age < lifetime(shared) && tag(shared, user).is_some_and(|t| t.to_string() == stored);
    if !live {
        let _ = fs::remove_file(&file);
        return None;
    }
    if age > TOUCH_EVERY
        && let Ok(f) = fs::File::options().write(true).open(&file)
    {
        let _ = f.set_modified(SystemTime::now());
    }
    Some(user.to_string())
}

/// The token of the cookie this request may carry (the `__Host-` one
/// only over a secure request).
fn token_of(client: &Client, req: &Request) -> Option<String> {
    let want = if client.secure { SECURE_COOKIE } else { COOKIE };
    let cookies = req.header("cookie")?;
    let found = cookies.split(';').filter_map(|c| c.trim().split_once('=')).find(|(k, _)| *k == want);
    let token = found?.1.trim();
    (token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit())).then(|| token.to_string())
}

/// `/login`, `/logout`, `/register`.
pub(crate) fn route(cx: &mut Cx, what: &str) -> Reply {
    let mut reply = match (what, cx.req.method.as_str()) {
        ("login", "GET" | "HEAD") => login_page(cx, "", 200, &next_asked(cx)),
        ("login", "POST") => login(cx),
        ("logout", "POST") => logout(cx),
        ("register", _) if !cx.shared.config.registration_open => {
            cx.failure(404, "registration is closed on this server")
        }
        ("register", "GET" | "HEAD") => register_page(cx, "", 200, &next_asked(cx)),
        ("register", "POST") => register(cx),
        ("logout", _) => not_allowed(cx, "POST"),
        _ => not_allowed(cx, "GET, HEAD, POST"),
    };
    reply.head.set("Cache-Control", "no-store");
    reply
}

fn login(cx: &mut Cx) -> Reply {
    let form = match read_form(cx) {
        Some(form) => form,
        None => return login_page(cx, "The form did not arrive whole. Try again.", 400, "/"),
    };
    let get = |k: &str| form.iter().find(|(key, _)| key == k).map_or("", |(_, v)| v.as_str());
    let (user, pass) = (get("user").trim().to_string(), Password::new(get("password")));
    let turn = engine::login_turn(cx.shared, cx.client.key());
    let ok = check_user(&user).is_ok() & cx.shared.users.verify(&user, &pass);
    if !ok {
        turn.failed();
        // The way back survives a wrong password.
        return login_page(cx, "Wrong user or password.", 401, get("next")).with_note("login failed");
    }
    cx.user = user.clone();
    start(cx, &user, get("next"))
}

/// A new session for `user`: the cookie, and `303` to `next` (a path of
/// this server) or `/`.
fn start(cx: &Cx, user: &str, next: &str) -> Reply {
    let made = new_token().and_then(|token| {
        let tag = tag(cx.shared, user).ok_or_else(|| io::Error::other("no such account"))?;
        fs::create_dir_all(dir(cx.shared))?;
        let file = dir(cx.shared).join(Digest::of(token.as_bytes()).to_string());
        let how = if cx.client.secure { "secure" } else { "plain" };
        crate::storage::durable::replace_file(&file, format!("{user} {tag} {how}\n").as_bytes())?;
        Ok(token)
    });
    let token = match made {
        Ok(t) => t,
        Err(e) => return cx.failure(500, "cannot start a session").with_note(e.to_string()),
    };
    let mut reply = Reply::redirect(303, &safe_next(next));
    reply.head.set("Set-Cookie", cookie(cx, &token, None));
    reply.with_note("session started")
}

fn cookie(cx: &Cx, value: &str, max_age: Option<u64>) -> String {
    let (name, secure) = if cx.client.secure { (SECURE_COOKIE, "; Secure") } else { (COOKIE, "") };
    let age = max_age.map_or(String::new(), |a| format!("; Max-Age={a}"));
    format!("{name}={value}; HttpOnly; SameSite=Strict; Path=/{secure}{age}")
}

/// Only a path of this server: `/` then printable ASCII, never `//host`,
/// and no backslash, space or control character anywhere (browsers read
/// `\` as `/` and drop tabs and line breaks, so `/\host` or `/<TAB>/host`
/// would leave the origin); anything else becomes `/`.
fn safe_next(next: &str) -> String {
    let plain = next.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    let ok = plain && next.starts_with('/') && !next.starts_with("//");
    if ok { next.to_string() } else { "/".to_string() }
}

fn logout(cx: &mut Cx) -> Reply {
    if let Some(token) = token_of(&cx.client, cx.req) {
        let _ = fs::remove_file(dir(cx.shared).join(Digest::of(token.as_bytes()).to_string()));
    }
    let mut reply = Reply::redirect(303, "/login");
    reply.head.set("Set-Cookie", cookie(cx, "", Some(0)));
    reply.with_note("session ended")
}

fn register(cx: &mut Cx) -> Reply {
    let Some(form) = read_form(cx) else {
        return register_page(cx, "The form did not arrive whole. Try again.", 400, "/");
    };
    let get = |k: &str| form.iter().find(|(key, _)| key == k).map_or("", |(_, v)| v.as_str());
    let user = get("user").trim().to_string();
    if get("password") != get("again") {
        return register_page(cx, "The two passwords differ.", 400, get("next"));
    }
    let pass = Password::new(get("password"));
    let users = &cx.shared.users;
    let result = users.check_new(&user, &pass).and_then(|_| match cx.shared.may_register(cx.client.key()) {
        true => users.register(&user, &pass),
        false => Err(engine::Error::new(engine::ErrorKind::Busy, "too many registrations from here, try later")),
    });
    match result {
        Ok(()) => {
            engine::event(cx.client.logged(), &user, "register", &user, "ok", 0);
            cx.user = user.clone();
            start(cx, &user, get("next"))
        }
        Err(e) => {
            let status = engine::status_of(&e);
            register_page(cx, &format!("{}.", capitalised(&e.to_string())), status, get("next"))
        }
    }
}

fn capitalised(text: &str) -> String {
    let mut c = text.chars();
    c.next().map_or(String::new(), |f| f.to_uppercase().collect::<String>() + c.as_str())
}

fn read_form(cx: &mut Cx) -> Option<Vec<(String, String)>> {
    cx.form(MAX_FORM).ok()
}

fn new_token() -> io::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(io::Error::other)?;
    Ok(hex::encode(bytes))
}

/// The warning of a login over a plain connection from the network.
fn clear_text_note(cx: &Cx) -> &'static str {
    let loopback = cx.client.addr.to_canonical().is_loopback();
    if cx.client.secure || loopback {
        ""
    } else {
        "<p class=\"warn\">This connection is not encrypted: your password travels in clear. \
         The server's administrator can put HTTPS in front (see docs/DEPLOY.md).</p>"
    }
}

/// The `next` of the login or register page's query (`/login?next=PATH`).
fn next_asked(cx: &Cx) -> String {
    let query = cx.req.path_and_query().1;
    let next = query.split('&').find_map(|p| p.strip_prefix("next=")).unwrap_or("/");
    parse_form(&format!("n={next}")).and_then(|f| f.into_iter().next()).map_or("/".into(), |(_, v)| v)
}

/// `?next=NEXT` for a link between the login and register pages, when
/// `next` (a path of this server) is not `/`.
fn next_query(next: &str) -> String {
    match safe_next(next).as_str() {
        "/" => String::new(),
        path => format!("?next={}", html::escape(&crate::http::target::encode_name(path))),
    }
}

/// The login form, which goes on to `next` (a path of this server, else `/`).
fn login_page(cx: &Cx, error: &str, status: u16, next: &str) -> Reply {
    let register = if cx.shared.config.registration_open {
        format!("<p class=\"alt\">No account yet? <a href=\"/register{}\">Register</a></p>", next_query(next))
    } else {
        String::new()
    };
    let body = format!(
        "<form method=\"post\" action=\"/login\" class=\"card\">\
         <h1><img src=\"/app/icon.svg\" alt=\"\" width=\"32\" height=\"32\"> netdisk</h1>{}{}\
         <input type=\"hidden\" name=\"next\" value=\"{}\">\
         <label for=\"user\">User</label><input id=\"user\" name=\"user\" autocomplete=\"username\" required autofocus>\
         <label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\" class=\"primary\">Log in</button>{register}</form>",
        error_html(error),
        clear_text_note(cx),
        html::escape(&safe_next(next))
    );
    Reply::page(status, frame("Log in", &body))
}

/// The register form, which goes on to `next` as the login form does.
fn register_page(cx: &Cx, error: &str, status: u16, next: &str) -> Reply {
    let body = format!(
        "<form method=\"post\" action=\"/register\" class=\"card\">\
         <h1><img src=\"/app/icon.svg\" alt=\"\" width=\"32\" height=\"32\"> New account</h1>{}{}\
         <input type=\"hidden\" name=\"next\" value=\"{}\">\
         <label for=\"user\">User</label><input id=\"user\" name=\"user\" autocomplete=\"username\" required autofocus>\
         <label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" required>\
         <label for=\"again\">Password again</label>\
         <input id=\"again\" name=\"again\" type=\"password\" autocomplete=\"new-password\" required>\
         <button type=\"submit\" class=\"primary\">Register</button>\
         <p class=\"alt\">Have an account? <a href=\"/login{}\">Log in</a></p></form>",
        error_html(error),
        clear_text_note(cx),
        html::escape(&safe_next(next)),
        next_query(next)
    );
    Reply::page(status, frame("Register", &body))
}

fn error_html(error: &str) -> String {
    match error {
        "" => String::new(),
        e => format!("<p class=\"error\" role=\"alert\">{}</p>", html::escape(e)),
    }
}

/// The frame of the login and register pages: the app's style, no script.
fn frame(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · netdisk</title><link rel=\"icon\" href=\"/app/icon.svg\">\
         <link rel=\"stylesheet\" href=\"/app/app.css\"></head>\n<body class=\"entry\">\n{body}\n</body></html>\n",
        html::escape(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_server_are_followed() {
        assert_eq!(safe_next("/#/files/a/"), "/#/files/a/");
        assert_eq!(safe_next("/s/abcdefghijkmnpq2/%E5%AD%90/"), "/s/abcdefghijkmnpq2/%E5%AD%90/");
        let bad = [
            "//evil.example/",
            "/\\evil.example",
            "/.\\/evil.example",
            "/\t/evil.example",
            "/ /x",
            "https://evil.example/",
            "http:/evil.example",
            "javascript:alert(1)",
            "",
            "/a\r\nSet-Cookie: x",
            "/文件",
        ];
        for bad in bad {
            assert_eq!(safe_next(bad), "/", "{bad:?}");
        }
    }
}
