//! Handlers of the commands that read or change the user's tree and trash:
//! `pwd`, `cd`, `ls`, `stat`, `touch`, `find`, `makedir(s)`, `rm`, `rmdir`,
//! `mv`, `cp`, `trash`, `restore`, `purge`.
//!
//! Each resolves its paths through the login's jail, does one storage
//! operation and returns its reply; those that change something log it.

use crate::proto::body::{QuotedPath, TrashLine};
use crate::proto::{Code, Purge, Reply};
use crate::server::error::Result;
use crate::server::handler::{Cx, Handled};
use crate::server::listing::{send_find, send_lines};
use crate::server::quota;
use crate::server::view;
use crate::service::login::Login;
use crate::storage::content::Store;
use crate::storage::locks::Locks;
use crate::storage::mtime::set_mtime;
use crate::storage::props;
use crate::storage::replace::Replace;
use crate::storage::staging::Download;
use crate::storage::tree::{Kind, ListLimit, Tree, UserPath};

/// Refuses (`450`) a write of `path` that a WebDAV lock holds: the text
/// protocol submits no lock token (`whole`: what is under it counts too).
pub(crate) fn unlocked(cx: &Cx, login: &Login, path: &UserPath, whole: bool) -> Result<()> {
    Locks::refuse_locked(&cx.shared.data, &login.user, path, whole)
}

/// `257 "PATH"`.
fn path_reply(code: Code, path: &UserPath) -> Reply {
    Reply::new(code, QuotedPath(path.to_string()).to_string())
}

pub(crate) fn pwd(login: &Login) -> Handled {
    Ok(path_reply(Code::Path, &login.cwd).into())
}

/// Keeps only each entry's line while reading (not its metadata), at most
/// `--max-list` of them, and writes them through the listing buffer.
pub(crate) fn ls(cx: &mut Cx, login: &Login, text: &str) -> Handled {
    let (tree, path) = login.resolve(text)?;
    let mut limit = ListLimit::new(cx.shared.config.max_list);
    let mut lines = Vec::new();
    tree.scan(&path, &mut limit, |e| lines.push(view::list_line(&e)))?;
    lines.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    send_lines(cx, lines.iter())
}

pub(crate) fn makedir(cx: &Cx, login: &Login, text: &str) -> Handled {
    let result = login.resolve(text).and_then(|(tree, path)| {
        unlocked(cx, login, &path, false)?;
        tree.makedir(&path, login.quota(cx.shared))?;
        Ok(path_reply(Code::Path, &path))
    });
    cx.note(&login.user, "makedir", &login.shown(text), &result);
    Ok(result?.into())
}

pub(crate) fn cd(login: &mut Login, text: &str) -> Handled {
    let (tree, path) = login.resolve(text)?;
    tree.dir(&path)?;
    let reply = path_reply(Code::ActionDone, &path);
    login.cwd = path;
    Ok(reply.into())
}

pub(crate) fn stat(cx: &Cx, login: &Login, text: &str) -> Handled {
    let (tree, path) = login.resolve(text)?;
    let entry = tree.entry(&path)?;
    let md5 = match entry.kind {
        Kind::Dir => None,
        Kind::File => Some(Download::open(tree, &cx.shared.sums, &path, 0)?.md5),
    };
    Ok(Reply::new(Code::Status, view::stat_line(&entry, md5).to_string()).into())
}

/// `touch PATH TIME`: the file's own mtime (see `storage::mtime`).
pub(crate) fn touch(cx: &Cx, login: &Login, text: &str, time: std::time::SystemTime) -> Handled {
    Ok(touched(cx, login, text, time)?.into())
}

/// `touch` done and logged; its reply (also for a `touch` held behind a
/// commit group, see `server::group`).
pub(crate) fn touched(cx: &Cx, login: &Login, text: &str, time: std::time::SystemTime) -> Result<Reply> {
    let result = login.resolve(text).and_then(|(tree, path)| {
        // A shared file gets its own inode by a rename over the path: a
        // replacing request like any other.
        let _replace = Replace::lock(&cx.shared.data, &login.user)?;
        let store = Store::new(&cx.shared.data, cx.shared.config.dedup);
        let at = (&cx.shared.sums, &store, login.user.as_str());
        set_mtime(tree, at, &path, &login.staging(cx.shared), time)?;
        Ok(path_reply(Code::ActionDone, &path))
    });
    cx.note(&login.user, "touch", &login.shown(text), &result);
    result
}

/// The reply of a `touch` whose time its file got at its commit (the
/// `touch` was held behind the file's group, see `server::group`), logged.
pub(crate) fn touched_at_commit(cx: &Cx, login: &Login, text: &str, path: &UserPath) -> Reply {
    let reply = path_reply(Code::ActionDone, path);
    cx.log(&login.user, "touch", &login.shown(text), reply.code.number().to_string(), 0);
    reply
}

pub(crate) fn rm(cx: &Cx, login: &Login, text: &str) -> Handled {
    let result = login.resolve(text).and_then(|(tree, path)| {
        unlocked(cx, login, &path, true)?;
        let replace = Replace::lock(&cx.shared.data, &login.user)?;
        login.trash(cx.shared).remove(tree, &path, &cx.shared.sums)?;
        drop(replace);
        if cx.shared.config.trash_days == 0 {
            login.usage_changed(cx.shared);
        }
        Ok(Reply::new(Code::ActionDone, format!("removed {path}")))
    });
    cx.note(&login.user, "rm", &login.shown(text), &result);
    Ok(result?.into())
}

pub(crate) fn trash_list(cx: &mut Cx, login: &Login) -> Handled {
    let lines = login.trash(cx.shared).list(cx.shared.config.max_list)?;
    send_lines(cx, lines.into_iter().map(TrashLine::from))
}

pub(crate) fn restore(cx: &Cx, login: &Login, id: &str, to: Option<&str>) -> Handled {
    let result = login.resolve(to.unwrap_or(".")).and_then(|(tree, path)| {
        if to.is_some() {
            unlocked(cx, login, &path, true)?;
        }
        let replace = Replace::lock(&cx.shared.data, &login.user)?;
        let put_new = |item: &std::path::Path, at: &std::path::Path| replace.put_new(item, at);
        let quota = login.quota(cx.shared);
        let back = login.trash(cx.shared).restore(put_new, tree, id, to.map(|_| path), quota)?;
        Ok(path_reply(Code::Path, &back))
    });
    cx.note(&login.user, "restore", id, &result);
    Ok(result?.into())
}

pub(crate) fn purge(cx: &Cx, login: &Login, target: &Purge) -> Handled {
    let (trash, sums) = (login.trash(cx.shared), &cx.shared.sums);
    let result = match target {
        Purge::All => trash.purge_all(sums).map(|_| Reply::new(Code::ActionDone, "trash emptied")),
        Purge::Id(id) => trash.purge(id, sums).map(|_| Reply::new(Code::ActionDone, format!("purged {id}"))),
    };
    if result.is_ok() {
        login.usage_changed(cx.shared);
    }
    cx.note(&login.user, "purge", if let Purge::Id(id) = target { id } else { "all" }, &result);
    Ok(result?.into())
}

pub(crate) fn rmdir(cx: &Cx, login: &Login, text: &str) -> Handled {
    let result = login.resolve(text).and_then(|(tree, path)| {
        unlocked(cx, login, &path, true)?;
        if let Ok(real) = tree.dir(&path) {
            let _ = props::clear_if_empty(&real);
        }
        tree.remove_dir(&path)?;
        Ok(Reply::new(Code::ActionDone, format!("removed {path}")))
    });
    cx.note(&login.user, "rmdir", &login.shown(text), &result);
    Ok(result?.into())
}

pub(crate) fn mv(cx: &Cx, login: &Login, from: &str, to: &str) -> Handled {
    let result = login.resolve(from).and_then(|(tree, a)| {
        let (_, b) = login.resolve(to)?;
        unlocked(cx, login, &a, true)?;
        unlocked(cx, login, &b, true)?;
        move_over(cx, login, (tree, &a, &b))?;
        if let (Ok(from), Ok(to)) = (tree.checked(&a), tree.checked(&b)) {
            let _ = props::moved(&from, &to);
        }
        Ok(Reply::new(Code::ActionDone, format!("moved {a} to {b}")))
    });
    cx.note(&login.user, "mv", &format!("{} -> {}", login.shown(from), login.shown(to)), &result);
    Ok(result?.into())
}

/// `mv` through the commit primitive: under the user's replace lock, a
/// file at `b` is kept in the trash (unless `a` holds the same content),
/// then `a` is renamed over it.
fn move_over(cx: &Cx, login: &Login, (tree, a, b): (&Tree, &UserPath, &UserPath)) -> Result<()> {
    let replace = Replace::lock(&cx.shared.data, &login.user)?;
    let (trash, sums) = (login.trash(cx.shared), &cx.shared.sums);
    let mut displaced = None;
    let moved = tree.rename_with(a, b, || {
        if a == b || tree.entry(a)?.kind != Kind::File {
            return Ok(());
        }
        let md5 = tree.entry(a).ok().and_then(|e| sums.get(&e.meta));
        let d = replace.displace((tree, &trash, sums), b, md5)?;
        d.sync().map_err(|e| crate::server::error::Error::io(&b.to_string(), e))?;
        displaced = Some(d);
        Ok(())
    });
    let settled = displaced.map(|d| d.finish(&tree.real(b), sums)).unwrap_or_default();
    if settled.freed() {
        login.usage_changed(cx.shared);
    }
    moved
}

pub(crate) fn makedirs(cx: &Cx, login: &Login, text: &str) -> Handled {
    let result = login.resolve(text).and_then(|(tree, path)| {
        unlocked(cx, login, &path, false)?;
        tree.makedirs(&path, login.quota(cx.shared))?;
        Ok(path_reply(Code::Path, &path))
    });
    cx.note(&login.user, "makedirs", &login.shown(text), &result);
    Ok(result?.into())
}

/// `cp`: checks like `mv`, then the quota for the full size of what is
/// copied, then the copy (hard links: see `storage::copies`), booked as
/// built and put in place through the commit primitive.
pub(crate) fn cp(cx: &Cx, login: &Login, from: &str, to: &str) -> Handled {
    let result = login.resolve(from).and_then(|(tree, a)| {
        let (_, b) = login.resolve(to)?;
        unlocked(cx, login, &b, true)?;
        copy(cx, login, (tree, &a, &b))?;
        Ok(Reply::new(Code::ActionDone, format!("copied {a} to {b}")))
    });
    cx.note(&login.user, "cp", &format!("{} -> {}", login.shown(from), login.shown(to)), &result);
    Ok(result?.into())
}

fn copy(cx: &Cx, login: &Login, (tree, a, b): (&Tree, &UserPath, &UserPath)) -> Result<()> {
    let staging = login.staging(cx.shared);
    let replace = Replace::lock(&cx.shared.data, &login.user)?;
    let plan = tree.plan_copy(a, b)?;
    tree.check_copy_length(b, &plan, &staging)?;
    let booking = quota::book(cx, login, plan.booked(), b)?;
    let (trash, sums) = (login.trash(cx.shared), &cx.shared.sums);
    let built = tree.build_copy(a, &plan, &staging, sums)?;
    let settled = crate::storage::quota::within(booking.as_ref(), plan.placed(&built), || {
        replace.put((tree, &trash, sums), &built.path, b, built.md5)
    })?;
    if settled.freed() {
        login.usage_changed(cx.shared);
    }
    Ok(())
}

pub(crate) fn find(cx: &mut Cx, login: &Login, text: &str) -> Handled {
    let (tree, path) = login.resolve(text)?;
    send_find(cx, tree, &path)
}
