//! Handlers of the commands that read or change the user's tree and trash:
//! `pwd`, `cd`, `ls`, `stat`, `find`, `makedir(s)`, `rm`, `rmdir`, `mv`,
//! `cp`, `trash`, `restore`, `purge`.
//!
//! Each resolves its paths through the login's jail, does one storage
//! operation and returns its reply; those that change something log it.

use std::os::unix::fs::MetadataExt;

use crate::proto::body::QuotedPath;
use crate::proto::{Code, Purge, Reply};
use crate::server::error::Result;
use crate::server::handler::{Cx, Handled, Login};
use crate::server::quota;
use crate::storage::find::find as find_lines;
use crate::storage::locks::Locks;
use crate::storage::props;
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

/// Keeps only each entry's line while reading (not its metadata), and at
/// most `--max-list` of them.
pub(crate) fn ls(cx: &Cx, login: &Login, text: &str) -> Handled {
    let (tree, path) = login.resolve(text)?;
    let mut limit = ListLimit::new(cx.shared.config.max_list);
    let mut named = Vec::new();
    tree.scan(&path, &mut limit, |e| named.push((e.name.len(), e.list_line().to_string())))?;
    named.sort_unstable_by(|(a_len, a), (b_len, b)| a[a.len() - a_len..].cmp(&b[b.len() - b_len..]));
    Ok(Reply::multi(Code::Listing, named.into_iter().map(|(_, line)| line).collect()).into())
}

pub(crate) fn makedir(cx: &Cx, login: &Login, text: &str) -> Handled {
    let result = login.resolve(text).and_then(|(tree, path)| {
        unlocked(cx, login, &path, false)?;
        tree.makedir(&path)?;
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
    Ok(Reply::new(Code::Status, entry.stat_line(md5).to_string()).into())
}

pub(crate) fn rm(cx: &Cx, login: &Login, text: &str) -> Handled {
    let result = login.resolve(text).and_then(|(tree, path)| {
        unlocked(cx, login, &path, true)?;
        login.trash(cx.shared).remove(tree, &path, &cx.shared.sums)?;
        if cx.shared.config.trash_days == 0 {
            login.usage_changed(cx.shared);
        }
        Ok(Reply::new(Code::ActionDone, format!("removed {path}")))
    });
    cx.note(&login.user, "rm", &login.shown(text), &result);
    Ok(result?.into())
}

pub(crate) fn trash_list(cx: &Cx, login: &Login) -> Handled {
    let lines = login.trash(cx.shared).list(cx.shared.config.max_list)?;
    Ok(Reply::multi(Code::Listing, lines.iter().map(|l| l.to_string()).collect()).into())
}

pub(crate) fn restore(cx: &Cx, login: &Login, id: &str, to: Option<&str>) -> Handled {
    let result = login.resolve(to.unwrap_or(".")).and_then(|(tree, path)| {
        if to.is_some() {
            unlocked(cx, login, &path, true)?;
        }
        let back = login.trash(cx.shared).restore(tree, id, to.map(|_| path))?;
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
        let replaced = replaced_by_move(tree, &a, &b);
        let kept = std::cell::Cell::new(false);
        tree.rename_with(&a, &b, || keep_replaced(cx, login, &a, &b).map(|k| kept.set(k)))?;
        if let (Ok(from), Ok(to)) = (tree.checked(&a), tree.checked(&b)) {
            let _ = props::moved(&from, &to);
        }
        // A file kept in the trash keeps its record.
        if let Some(gone) = replaced.filter(|_| !kept.get()) {
            cx.shared.sums.forget(&gone);
            login.usage_changed(cx.shared);
        }
        Ok(Reply::new(Code::ActionDone, format!("moved {a} to {b}")))
    });
    cx.note(&login.user, "mv", &format!("{} -> {}", login.shown(from), login.shown(to)), &result);
    Ok(result?.into())
}

/// Before `mv` or `cp` replaces a file at `to`: keeps it in the trash
/// unless `from` holds the same content; true if it was kept.
fn keep_replaced(cx: &Cx, login: &Login, from: &UserPath, to: &UserPath) -> Result<bool> {
    if from == to {
        return Ok(false);
    }
    let (tree, sums) = (&login.tree, &cx.shared.sums);
    let md5 = tree.checked(from).ok().and_then(|p| std::fs::symlink_metadata(p).ok()).and_then(|m| sums.get(&m));
    login.trash(cx.shared).keep_replaced(tree, to, md5, sums)
}

pub(crate) fn makedirs(cx: &Cx, login: &Login, text: &str) -> Handled {
    let result = login.resolve(text).and_then(|(tree, path)| {
        unlocked(cx, login, &path, false)?;
        tree.makedirs(&path)?;
        Ok(path_reply(Code::Path, &path))
    });
    cx.note(&login.user, "makedirs", &login.shown(text), &result);
    Ok(result?.into())
}

/// `cp`: checks like `mv`, then the quota for the full size of what is
/// copied, then the copy itself (hard links: see `storage::copies`).
pub(crate) fn cp(cx: &Cx, login: &Login, from: &str, to: &str) -> Handled {
    let staging = login.staging(cx.shared);
    let result = login.resolve(from).and_then(|(tree, a)| {
        let (_, b) = login.resolve(to)?;
        unlocked(cx, login, &b, true)?;
        let plan = tree.plan_copy(&a, &b)?;
        tree.check_copy_length(&b, &plan, &staging)?;
        let booking = quota::book(cx, login, plan.bytes, &b)?;
        let kept = std::cell::Cell::new(true);
        let keep = || keep_replaced(cx, login, &a, &b).map(|k| kept.set(k));
        let copy = || tree.copy((&a, &b), &plan, &staging, &cx.shared.sums, keep);
        quota::within_booking(cx, login, booking.as_ref(), copy)?;
        if !kept.get() {
            login.usage_changed(cx.shared);
        }
        Ok(Reply::new(Code::ActionDone, format!("copied {a} to {b}")))
    });
    cx.note(&login.user, "cp", &format!("{} -> {}", login.shown(from), login.shown(to)), &result);
    Ok(result?.into())
}

pub(crate) fn find(cx: &Cx, login: &Login, text: &str) -> Handled {
    let (tree, path) = login.resolve(text)?;
    let lines = find_lines(tree, &cx.shared.sums, &path, cx.shared.config.max_list)?;
    Ok(Reply::multi(Code::Listing, lines.iter().map(|l| l.to_string()).collect()).into())
}

/// The file that moving `from` to `to` would replace (not `from` itself,
/// which `to` may name through another link), for forgetting its MD5.
fn replaced_by_move(tree: &Tree, from: &UserPath, to: &UserPath) -> Option<std::fs::Metadata> {
    let (source, target) = (tree.entry(from).ok()?, tree.entry(to).ok()?);
    let same = source.meta.dev() == target.meta.dev() && source.meta.ino() == target.meta.ino();
    (target.kind == Kind::File && !same).then_some(target.meta)
}
