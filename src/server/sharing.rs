//! `share`, `shares`, `unshare`, `peek` and `save`: handing a file or a
//! directory to another user with a code (records: `storage::shares`).
//!
//! A code is a secret: log lines name the owner and the shared path,
//! never the code. An unknown or expired code on `peek` or `save` counts
//! like a failed login, so codes cannot be guessed quickly. `save` copies
//! by hard links through `service::saving`, the one save both faces use.

use crate::proto::body::QuotedPath;
use crate::proto::{Code, Reply};
use crate::server::error::{Error, ErrorKind, Replied, Result};
use crate::server::handler::{Cx, Handled, Outcome};
use crate::server::listing::{send_find, send_lines};
use crate::server::view;
use crate::service::login::Login;
use crate::service::saving;
use crate::storage::shares::{Share, Shares};
use crate::storage::tree::{Tree, UserPath};

fn records(cx: &Cx) -> Shares {
    Shares::new(&cx.shared.data)
}

pub(crate) fn share(cx: &Cx, login: &Login, text: &str, days: Option<u32>) -> Handled {
    let result = login.resolve(text).and_then(|(tree, path)| {
        if path.is_root() {
            return Err(Error::new(ErrorKind::Refused, "/: cannot share the top directory"));
        }
        let entry = tree.entry(&path)?;
        let share = records(cx).create(&login.user, &path, entry.kind, days);
        let share = share.map_err(|e| Error::server("share record", e))?;
        // With the HTTP face on: `200 CODE URL` (the first word stays the code).
        let text = match cx.shared.link_base() {
            Some(base) => format!("{} {base}/s/{}", share.code, share.code),
            None => share.code,
        };
        Ok(Reply::new(Code::Done, text))
    });
    cx.note(&login.user, "share", &login.shown(text), &result);
    Ok(result?.into())
}

pub(crate) fn shares(cx: &mut Cx, login: &Login) -> Handled {
    let list = records(cx).list(&login.user, cx.shared.config.max_list)?;
    send_lines(cx, list.iter().map(view::share_line))
}

pub(crate) fn unshare(cx: &Cx, login: &Login, code: &str) -> Handled {
    let result = records(cx).remove(&login.user, code);
    let shown = result.as_ref().map_or(String::new(), |s| s.path.clone());
    let result = result.map(|_| Reply::new(Code::ActionDone, "share removed"));
    cx.note(&login.user, "unshare", &shown, &result);
    Ok(result?.into())
}

/// The live share of `code`, or what a wrong guess gets.
fn shared_by(cx: &mut Cx, login: &Login, action: &str, code: &str) -> std::result::Result<Share, Outcome> {
    let turn = cx.turn();
    match records(cx).lookup(code) {
        Ok(Some(share)) => Ok(share),
        Ok(None) => {
            let reply = Reply::new(Code::Unavailable, "unknown or expired code");
            Err(cx.wrong_guess(turn, &login.user, action, "", reply))
        }
        // The server's own record unreadable: not the client's guess.
        Err(e) => {
            let e = Error::server("share record", e);
            cx.log(&login.user, action, "", e.outcome(), 0);
            Err(e.reply().into())
        }
    }
}

pub(crate) fn peek(cx: &mut Cx, login: &Login, code: &str) -> Handled {
    let share = match shared_by(cx, login, "peek", code) {
        Ok(share) => share,
        Err(outcome) => return Ok(outcome),
    };
    let owner = Tree::new(cx.shared.home(&share.owner));
    let shown = format!("{}:{}", share.owner, share.path);
    let result = share.user_path().and_then(|path| send_find(cx, &owner, &path));
    let outcome = match &result {
        Ok(Outcome::Go) => "212".to_string(),
        Ok(_) => "closed".to_string(),
        Err(e) => e.outcome(),
    };
    cx.log(&login.user, "peek", &shown, outcome, 0);
    result
}

pub(crate) fn save(cx: &mut Cx, login: &Login, code: &str, to: Option<&str>) -> Handled {
    let share = match shared_by(cx, login, "save", code) {
        Ok(share) => share,
        Err(outcome) => return Ok(outcome),
    };
    let result =
        save_copy(cx, login, &share, to).map(|p| Reply::new(Code::Path, QuotedPath(p.to_string()).to_string()));
    cx.note(&login.user, "save", &format!("{}:{}", share.owner, share.path), &result);
    Ok(result?.into())
}

/// Copies the shared item into the caller's tree (`service::saving`):
/// to `to`, or the shared item's name in the working directory.
fn save_copy(cx: &Cx, login: &Login, share: &Share, to: Option<&str>) -> Result<UserPath> {
    let source = share.user_path()?;
    let (_, target) = login.resolve(to.unwrap_or(source.name()))?;
    saving::save(cx.shared, login, share, &source, &target)?;
    Ok(target)
}
