//! Handlers of the account commands of a logged-in user: `passwd` and
//! `quota`.

use crate::proto::body::Quota;
use crate::proto::{Code, Password, Reply};
use crate::server::error::Replied;
use crate::server::handler::{Cx, Handled, Outcome};
use crate::service::login::Login;
use crate::storage::users::check_password;

/// `passwd OLD NEW`: NEW is checked first (a bad one costs no hash and
/// counts as no failure), then OLD, which counts as a failed login when
/// wrong; the session stays logged in unless that failure was one too
/// many.
pub(crate) fn passwd(cx: &mut Cx, login: &Login, old: &Password, new: &Password) -> Handled {
    let (user, users) = (&login.user, &cx.shared.users);
    if let Err(e) = check_password(new) {
        cx.log(user, "passwd", "", 501, 0);
        return Ok(e.reply().into());
    }
    let turn = cx.turn();
    match users.check_login(user, old) {
        Ok(true) => {}
        Ok(false) => {
            let wrong = Reply::new(Code::NotLoggedIn, "old password incorrect");
            return Ok(cx.wrong_guess(turn, user, "passwd", "", wrong));
        }
        Err(e) => {
            cx.log(user, "passwd", "", e.outcome(), 0);
            return Ok(e.reply().into());
        }
    }
    drop(turn);
    let result = users.set_password(user, new).map(|_| Reply::new(Code::Done, "password changed"));
    cx.note(user, "passwd", "", &result);
    Ok(Outcome::Reply(result.unwrap_or_else(|e| e.reply())))
}

/// `quota`: the tree, staged uploads and the trash all count; then the
/// files and directories of the tree and the trash, and their limit.
pub(crate) fn quota(cx: &Cx, login: &Login) -> Handled {
    let result = login.count_usage(cx.shared).map(|held| {
        let (limit, max_entries) = (cx.shared.quota_of(&login.user), cx.shared.entries_of(&login.user));
        let figures = Quota { used: held.bytes, limit, entries: Some(held.entries), max_entries };
        Reply::new(Code::Status, figures.to_string())
    });
    if let Err(e) = &result {
        cx.note(&login.user, "quota", &e.to_string(), &result);
    }
    Ok(result?.into())
}
