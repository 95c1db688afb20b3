//! Folder transfers and `mirror`: make a target tree like a source tree,
//! comparing by size and MD5 (the remote side from one `find`, the local
//! side from the digest cache), transferring only what differs and, with
//! `delete`, removing what the source lacks (on the server: `rm`, so into
//! the trash). A dry run reports every action and changes nothing.

use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use super::item::Item;
use super::report::{Event, OnEvent, Report};
use super::tree::{Entry, LocalTree, RemoteRoot, Tree, join, walk_local};
use super::{Client, ClientError, Result};
use crate::proto::body::Kind;
use crate::proto::{Code, Reply};

/// How a folder transfer treats the target.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Remove what the source lacks.
    pub delete: bool,
    /// Report the actions, change nothing.
    pub dry_run: bool,
}

/// Paths of `target` to remove so it holds nothing `source` lacks: those
/// missing from `source` or of another type, topmost only.
fn to_delete(source: &Tree, target: &Tree) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (rel, entry) in target {
        if out.last().is_some_and(|top| rel.starts_with(&format!("{top}/"))) {
            continue;
        }
        if source.get(rel).is_none_or(|s| s.kind != entry.kind) {
            out.push(rel.clone());
        }
    }
    out
}

fn refused(text: String) -> ClientError {
    ClientError::Refused(Reply::new(Code::Unavailable, text))
}

impl Client {
    /// Makes the remote directory `remote` like the local directory
    /// `local` (created if missing, merged into otherwise).
    pub fn upload_tree(&mut self, local: &Path, remote: &str, opts: Options, on: OnEvent) -> Result<Report> {
        let mut report = Report { dry_run: opts.dry_run, ..Report::new() };
        let tree = walk_local(local).map_err(|e| ClientError::Local(local.to_path_buf(), e))?;
        let LocalTree { entries: source, bad, skipped } = tree;
        bad.iter().for_each(|(p, why)| _ = report.fail(&local.join(p).display().to_string(), why, on));
        for (p, why) in &skipped {
            report.skipped += 1;
            report.tell(on, &Event::Skipped { path: &local.join(p).display().to_string(), why });
        }
        let target = match self.remote_root(remote)? {
            RemoteRoot::File => return Err(refused(format!("{remote}: is a file"))),
            RemoteRoot::Missing => None,
            RemoteRoot::Dir(tree) => Some(tree),
        };
        let mut dirs: Vec<String> = if target.is_none() { vec![remote.to_string()] } else { Vec::new() };
        let target = target.unwrap_or_default();
        if opts.delete {
            let gone: Vec<String> = to_delete(&source, &target).iter().map(|r| join(remote, r)).collect();
            self.remove_remote(&gone, opts.dry_run, &mut report, on)?;
        }
        let is_dir = |rel: &String| target.get(rel).is_some_and(|e| e.kind == Kind::Dir);
        let new_dirs = source.iter().filter(|(rel, e)| e.kind == Kind::Dir && !is_dir(rel));
        dirs.extend(new_dirs.map(|(rel, _)| join(remote, rel)));
        self.make_dirs(&dirs, opts.dry_run, &mut report, on)?;
        let mut items = Vec::new();
        for (rel, entry) in source.iter().filter(|(_, e)| e.kind == Kind::File) {
            let item =
                Item { local: local.join(rel), remote: join(remote, rel), size: entry.size, md5: None, mtime: None };
            if let Some(item) = self.unless_same_remote(item, target.get(rel), &mut report, on) {
                items.push(item);
            }
        }
        self.run(items, true, opts, &mut report, on);
        Ok(report)
    }

    /// `item`, unless the remote entry holds the same content already.
    pub(crate) fn unless_same_remote(
        &mut self,
        mut item: Item,
        there: Option<&Entry>,
        report: &mut Report,
        on: OnEvent,
    ) -> Option<Item> {
        let meta = match fs::metadata(&item.local) {
            Ok(meta) => meta,
            Err(e) => {
                report.fail(&item.local.display().to_string(), &format!("cannot read: {e}"), on);
                return None;
            }
        };
        let same_size = there.is_some_and(|t| t.kind == Kind::File && t.size == meta.len());
        if !same_size {
            // Nothing to compare with: the file is hashed once, as it is sent.
            return Some(item);
        }
        match self.local_digest(&item.local, &meta) {
            Ok(md5) => item.md5 = Some(md5),
            Err(e) => {
                report.fail(&item.local.display().to_string(), &e.to_string(), on);
                return None;
            }
        }
        if there.is_some_and(|t| t.md5 == item.md5) {
            report.up_to_date += 1;
            return None;
        }
        Some(item)
    }

    /// Sends or fetches `items`, or in a dry run only says so.
    fn run(&mut self, items: Vec<Item>, up: bool, opts: Options, report: &mut Report, on: OnEvent) {
        if opts.dry_run {
            for item in &items {
                let (action, path) = if up {
                    ("would upload", item.remote.clone())
                } else {
                    ("would download", item.local.display().to_string())
                };
                report.transferred += 1;
                report.bytes += item.size;
                report.tell(on, &Event::Done { action, path: &path, bytes: item.size });
            }
            return;
        }
        let bytes = items.iter().map(|i| i.size).sum();
        report.tell(on, &Event::Planned { files: items.len(), bytes });
        if up {
            self.send_files(items, report, on);
        } else {
            self.fetch_files(items, report, on);
        }
    }

    /// Makes the local directory `local` like the remote directory
    /// `remote` (created if missing, merged into otherwise).
    pub fn download_tree(&mut self, remote: &str, local: &Path, opts: Options, on: OnEvent) -> Result<Report> {
        let mut report = Report { dry_run: opts.dry_run, ..Report::new() };
        let source = match self.remote_root(remote)? {
            RemoteRoot::Dir(tree) => tree,
            RemoteRoot::File => return Err(refused(format!("{remote}: is a file"))),
            RemoteRoot::Missing => return Err(refused(format!("{remote}: no such directory"))),
        };
        if local.exists() && !local.is_dir() {
            let why = format!("a local file is in the way of folder {remote}; move it or give another target");
            return Err(ClientError::Local(local.to_path_buf(), std::io::Error::new(ErrorKind::AlreadyExists, why)));
        }
        let target = if local.exists() {
            walk_local(local).map_err(|e| ClientError::Local(local.to_path_buf(), e))?.entries
        } else {
            Tree::new()
        };
        if opts.delete {
            for rel in to_delete(&source, &target) {
                self.remove_local(&local.join(rel), opts.dry_run, &mut report, on);
            }
        }
        let mut dirs = vec![local.to_path_buf()];
        dirs.extend(source.iter().filter(|(_, e)| e.kind == Kind::Dir).map(|(rel, _)| local.join(rel)));
        for dir in dirs.iter().filter(|d| !d.is_dir()) {
            let shown = dir.display().to_string();
            let action = if opts.dry_run { "would make" } else { "made" };
            match if opts.dry_run { Ok(()) } else { fs::create_dir_all(dir) } {
                Ok(()) => _ = report.tell(on, &Event::Done { action, path: &shown, bytes: 0 }),
                Err(e) => _ = report.fail(&shown, &e.to_string(), on),
            }
        }
        let mut items = Vec::new();
        for (rel, entry) in source.iter().filter(|(_, e)| e.kind == Kind::File) {
            let item = Item {
                local: local.join(rel),
                remote: join(remote, rel),
                size: entry.size,
                md5: entry.md5,
                mtime: entry.mtime,
            };
            if self.same_local(&item, target.get(rel)) {
                report.up_to_date += 1;
            } else {
                items.push(item);
            }
        }
        self.run(items, false, opts, &mut report, on);
        Ok(report)
    }

    /// Whether the local file already holds the remote item's content.
    fn same_local(&mut self, item: &Item, there: Option<&Entry>) -> bool {
        let Some(meta) =
            there.filter(|t| t.kind == Kind::File && t.size == item.size).and(fs::metadata(&item.local).ok())
        else {
            return false;
        };
        self.local_digest(&item.local, &meta).ok().is_some_and(|d| Some(d) == item.md5)
    }

    fn remove_local(&mut self, path: &Path, dry_run: bool, report: &mut Report, on: OnEvent) {
        let shown = path.display().to_string();
        let removed = if dry_run {
            Ok(())
        } else if path.is_dir() {
            fs::remove_dir_all(path)
        } else {
            fs::remove_file(path)
        };
        match removed {
            Ok(()) => {
                report.deleted += 1;
                let action = if dry_run { "would delete" } else { "deleted" };
                report.tell(on, &Event::Done { action, path: &shown, bytes: 0 });
            }
            Err(e) => _ = report.fail(&shown, &e.to_string(), on),
        }
    }

    /// `mirror SOURCE TARGET` (remote to local) or, with `reverse`,
    /// `mirror -R SOURCE TARGET` (local to remote): TARGET becomes like
    /// SOURCE.
    pub fn mirror(&mut self, source: &str, target: &str, reverse: bool, opts: Options, on: OnEvent) -> Result<Report> {
        let report = if reverse {
            self.upload_tree(Path::new(source), target, opts, on)
        } else {
            self.download_tree(source, Path::new(target), opts, on)
        };
        let _ = self.save_cache();
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deletes_topmost_missing_or_retyped_paths() {
        let e = |kind| Entry { kind, size: 0, md5: None, mtime: None };
        let source: Tree = [("a".into(), e(Kind::Dir)), ("b".into(), e(Kind::File))].into();
        let target: Tree = [
            ("a".into(), e(Kind::Dir)),
            ("a/x".into(), e(Kind::File)),
            ("b".into(), e(Kind::Dir)),
            ("b/y".into(), e(Kind::File)),
            ("c".into(), e(Kind::File)),
        ]
        .into();
        assert_eq!(to_delete(&source, &target), vec!["a/x", "b", "c"]);
    }
}
