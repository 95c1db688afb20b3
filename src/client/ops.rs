//! Commands over many paths at once: `rm [-r]`, `mkdir [-p]`, `mv FROM...
//! TO`, `mput`/`mget` globs, and `upload`/`download` of a file or folder
//! with their target rules. Requests for many paths go out pipelined.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use super::glob;
use super::item::Item;
use super::mirror::Options;
use super::report::{Event, OnEvent, Report};
use super::tree::{PIPE_REQUESTS, RemoteRoot, join};
use super::{Client, ClientError, Result};
use crate::proto::body::{Kind, ListLine};
use crate::proto::{Code, Command, Reply};

/// The last name of a remote path.
fn base_name(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

/// Splits a pattern into its directory and its last name.
fn split_remote(pattern: &str) -> (Option<&str>, &str) {
    match pattern.rsplit_once('/') {
        Some(("", name)) => (Some("/"), name),
        Some((dir, name)) => (Some(dir), name),
        None => (None, pattern),
    }
}

impl Client {
    /// Sends `cmds` pipelined; each reply goes to `done` with its command's
    /// index.
    fn each_reply(&mut self, cmds: &[Command], mut done: impl FnMut(usize, Reply)) -> Result<()> {
        for (k, chunk) in cmds.chunks(PIPE_REQUESTS).enumerate() {
            for (i, reply) in self.pipeline(chunk)?.into_iter().enumerate() {
                done(k * PIPE_REQUESTS + i, reply);
            }
        }
        Ok(())
    }

    /// `makedir` of each path (parents first), pipelined.
    pub(crate) fn make_dirs(&mut self, dirs: &[String], dry_run: bool, report: &mut Report, on: OnEvent) -> Result<()> {
        let action = if dry_run { "would make" } else { "made" };
        if dry_run {
            dirs.iter().for_each(|d| _ = report.tell(on, &Event::Done { action, path: d, bytes: 0 }));
            return Ok(());
        }
        let cmds: Vec<Command> = dirs.iter().map(|d| Command::Makedir { path: d.clone() }).collect();
        self.each_reply(&cmds, |i, reply| {
            if reply.is_ok() {
                report.tell(on, &Event::Done { action, path: &dirs[i], bytes: 0 });
            } else {
                report.fail(&dirs[i], &ClientError::Refused(reply).to_string(), on);
            }
        })
    }

    /// `rm` of each path (a directory with everything in it), pipelined;
    /// on a server whose `rm` takes only files, directories are emptied
    /// file by file and removed deepest first.
    pub(crate) fn remove_remote(
        &mut self,
        paths: &[String],
        dry_run: bool,
        report: &mut Report,
        on: OnEvent,
    ) -> Result<()> {
        let action = if dry_run { "would delete" } else { "deleted" };
        if dry_run {
            report.deleted += paths.len();
            paths.iter().for_each(|p| _ = report.tell(on, &Event::Done { action, path: p, bytes: 0 }));
            return Ok(());
        }
        let cmds: Vec<Command> = paths.iter().map(|p| Command::Rm { path: p.clone() }).collect();
        let mut dirs = Vec::new();
        self.each_reply(&cmds, |i, reply| {
            if reply.is_ok() {
                report.deleted += 1;
                report.tell(on, &Event::Done { action, path: &paths[i], bytes: 0 });
            } else if reply.text.contains("is a directory") {
                dirs.push(paths[i].clone());
            } else {
                report.fail(&paths[i], &ClientError::Refused(reply).to_string(), on);
            }
        })?;
        for dir in dirs {
            match self.remove_tree_by_parts(&dir) {
                Ok(()) => {
                    report.deleted += 1;
                    report.tell(on, &Event::Done { action, path: &dir, bytes: 0 });
                }
                Err(e) => _ = report.fail(&dir, &e.to_string(), on),
            }
        }
        Ok(())
    }

    /// A directory removed through `rm` of each file and `rmdir` of each
    /// directory, deepest first.
    fn remove_tree_by_parts(&mut self, dir: &str) -> Result<()> {
        let RemoteRoot::Dir(tree) = self.remote_root(dir)? else { return Ok(()) };
        let mut cmds: Vec<Command> = tree
            .iter()
            .filter(|(_, e)| e.kind == Kind::File)
            .map(|(r, _)| Command::Rm { path: join(dir, r) })
            .collect();
        let dirs = tree.iter().rev().filter(|(_, e)| e.kind == Kind::Dir);
        cmds.extend(dirs.map(|(r, _)| Command::Rmdir { path: join(dir, r) }));
        cmds.push(Command::Rmdir { path: dir.to_string() });
        let mut first_refusal = None;
        self.each_reply(&cmds, |_, reply| {
            if !reply.is_ok() && first_refusal.is_none() {
                first_refusal = Some(reply);
            }
        })?;
        first_refusal.map_or(Ok(()), |r| Err(ClientError::Refused(r)))
    }

    /// `rm [-r] PATH...`: a directory without `recursive` is refused here.
    pub fn rm(&mut self, paths: &[String], recursive: bool, on: OnEvent) -> Result<Report> {
        let mut report = Report::new();
        let mut go = Vec::new();
        for (path, st) in paths.iter().zip(self.stats(paths)?) {
            match st {
                None => _ = report.fail(path, "no such file or directory", on),
                Some(st) if st.kind == Kind::Dir && !recursive => {
                    report.fail(path, "is a directory; use rm -r to remove it and everything in it", on);
                }
                Some(_) => go.push(path.clone()),
            }
        }
        self.remove_remote(&go, false, &mut report, on)?;
        Ok(report)
    }

    /// `mkdir [-p] PATH...`: with `parents`, missing parents are made and
    /// an existing directory is fine.
    pub fn mkdir(&mut self, paths: &[String], parents: bool, on: OnEvent) -> Result<Report> {
        let mut report = Report::new();
        if !parents {
            self.make_dirs(paths, false, &mut report, on)?;
            return Ok(report);
        }
        let cmds: Vec<Command> = paths.iter().map(|p| Command::Makedirs { path: p.clone() }).collect();
        let mut old_server = Vec::new();
        self.each_reply(&cmds, |i, reply| match reply.code {
            Code::Path => _ = report.tell(on, &Event::Done { action: "made", path: &paths[i], bytes: 0 }),
            Code::Syntax => old_server.push(paths[i].clone()),
            _ => _ = report.fail(&paths[i], &ClientError::Refused(reply).to_string(), on),
        })?;
        for path in old_server {
            self.makedirs_by_parts(&path, &mut report, on)?;
        }
        Ok(report)
    }

    /// `makedirs` for a server without it: `makedir` of each prefix.
    fn makedirs_by_parts(&mut self, path: &str, report: &mut Report, on: OnEvent) -> Result<()> {
        let mut prefixes = Vec::new();
        let mut at = if path.starts_with('/') { "/".to_string() } else { String::new() };
        for name in path.split('/').filter(|n| !n.is_empty()) {
            at = join(&at, name);
            prefixes.push(Command::Makedir { path: at.clone() });
        }
        self.each_reply(&prefixes, |_, _| {})?;
        match self.is_remote_dir(path)? {
            true => _ = report.tell(on, &Event::Done { action: "made", path, bytes: 0 }),
            false => _ = report.fail(path, "could not make it (a file in the way?)", on),
        }
        Ok(())
    }

    /// `mv FROM... TO`: into TO when it is a directory (or when there are
    /// several FROMs), else a rename.
    pub fn mv(&mut self, from: &[String], to: &str, on: OnEvent) -> Result<Report> {
        let mut report = Report::new();
        let into = from.len() > 1 || self.is_remote_dir(to)?;
        let targets: Vec<String> =
            from.iter().map(|f| if into { join(to, base_name(f)) } else { to.to_string() }).collect();
        let cmds: Vec<Command> =
            from.iter().zip(&targets).map(|(f, t)| Command::Mv { from: f.clone(), to: t.clone() }).collect();
        self.each_reply(&cmds, |i, reply| {
            let shown = format!("{} -> {}", from[i], targets[i]);
            if reply.is_ok() {
                report.tell(on, &Event::Done { action: "moved", path: &shown, bytes: 0 });
            } else {
                report.fail(&shown, &ClientError::Refused(reply).to_string(), on);
            }
        })?;
        Ok(report)
    }

    /// `upload LOCAL [REMOTE]` of a file or a folder: without REMOTE into
    /// the working directory under its own name; an existing remote
    /// directory means inside it; otherwise REMOTE is the copy.
    pub fn upload_any(&mut self, local: &Path, remote: Option<&str>, on: OnEvent) -> Result<Report> {
        let name = local.file_name().map(super::tree::carry).transpose().map_err(|why| {
            ClientError::Local(local.to_path_buf(), std::io::Error::new(std::io::ErrorKind::InvalidInput, why))
        })?;
        let name = name.unwrap_or_else(|| ".".into());
        let target = match remote {
            None => name.clone(),
            Some(r) if r.ends_with('/') || self.is_remote_dir(r)? => join(r, &name),
            Some(r) => r.to_string(),
        };
        let report = if local.is_dir() {
            self.upload_tree(local, &target, Options::default(), on)
        } else {
            let mut report = Report::new();
            let item = Item { local: local.to_path_buf(), remote: target, size: 0, md5: None, mtime: None };
            self.send_checked(vec![item], &mut report, on)?;
            Ok(report)
        };
        let _ = self.save_cache();
        report
    }

    /// Sends single files, skipping those the server holds already.
    fn send_checked(&mut self, items: Vec<Item>, report: &mut Report, on: OnEvent) -> Result<()> {
        let paths: Vec<String> = items.iter().map(|i| i.remote.clone()).collect();
        let mut go = Vec::new();
        for (mut item, st) in items.into_iter().zip(self.stats(&paths)?) {
            match fs::metadata(&item.local) {
                Ok(m) if m.is_file() => item.size = m.len(),
                Ok(_) => {
                    report.fail(&item.local.display().to_string(), "not a regular file", on);
                    continue;
                }
                Err(e) => {
                    report.fail(&item.local.display().to_string(), &format!("cannot read: {e}"), on);
                    continue;
                }
            }
            let there = st.map(|s| super::tree::Entry { kind: s.kind, size: s.size, md5: s.md5, mtime: Some(s.mtime) });
            if let Some(item) = self.unless_same_remote(item, there.as_ref(), report, on) {
                go.push(item);
            }
        }
        let bytes = go.iter().map(|i| i.size).sum();
        report.tell(on, &Event::Planned { files: go.len(), bytes });
        self.send_files(go, report, on);
        Ok(())
    }

    /// `download REMOTE [LOCAL]` of a file or a folder, with the same
    /// target rules as [`Client::upload_any`].
    pub fn download_any(&mut self, remote: &str, local: Option<&Path>, on: OnEvent) -> Result<Report> {
        let name = base_name(remote);
        let name = if name.is_empty() || name == "." || name == ".." { "download" } else { name };
        let target = match local {
            None => PathBuf::from(name),
            Some(l) if l.is_dir() => l.join(name),
            Some(l) => l.to_path_buf(),
        };
        let st = self.stat(remote)?;
        let report = if st.kind == Kind::Dir {
            self.download_tree(remote, &target, Options::default(), on)
        } else {
            let mut report = Report::new();
            let item =
                Item { local: target, remote: remote.to_string(), size: st.size, md5: st.md5, mtime: Some(st.mtime) };
            let bytes = item.size;
            report.tell(on, &Event::Planned { files: 1, bytes });
            self.fetch_files(vec![item], &mut report, on);
            Ok(report)
        };
        let _ = self.save_cache();
        report
    }

    /// `mput PATTERN...`: local files and folders matching each pattern,
    /// into the remote working directory.
    pub fn mput(&mut self, patterns: &[String], on: OnEvent) -> Result<Report> {
        let mut total = Report::new();
        let mut files = Vec::new();
        let mut seen = HashSet::new();
        for pattern in patterns {
            let matched = local_matches(pattern);
            if matched.is_empty() {
                total.fail(pattern, "no local name matches", on);
            }
            // Overlapping patterns name a path once, where first matched.
            let fresh = matched.into_iter().filter(|p| seen.insert(std::path::absolute(p).unwrap_or(p.clone())));
            for path in fresh {
                if path.is_dir() {
                    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                    let sub = self.upload_tree(&path, &name, Options::default(), on);
                    merge(&mut total, sub, pattern, on);
                } else {
                    let name = path.file_name().map(super::tree::carry);
                    match name {
                        Some(Ok(name)) => {
                            files.push(Item { local: path, remote: name, size: 0, md5: None, mtime: None })
                        }
                        Some(Err(why)) => _ = total.fail(&path.display().to_string(), &why, on),
                        None => {}
                    }
                }
            }
        }
        self.send_checked(files, &mut total, on)?;
        let _ = self.save_cache();
        Ok(total)
    }

    /// `mget PATTERN...`: remote files and folders matching each pattern
    /// (matched here against listings), into the local working directory.
    pub fn mget(&mut self, patterns: &[String], on: OnEvent) -> Result<Report> {
        let mut total = Report::new();
        let mut files = Vec::new();
        let mut seen = HashSet::new();
        for pattern in patterns {
            let (dir, name) = split_remote(pattern);
            let listed = match self.ls(dir) {
                Ok(listed) => listed,
                Err(e) => {
                    total.fail(pattern, &e.to_string(), on);
                    continue;
                }
            };
            let hits: Vec<ListLine> = listed.into_iter().filter(|l| glob::matches(name, &l.name)).collect();
            if hits.is_empty() {
                total.fail(pattern, "no remote name matches", on);
            }
            for hit in hits {
                let remote = dir.map_or(hit.name.clone(), |d| join(d, &hit.name));
                // Overlapping patterns name a path once, where first matched.
                if !seen.insert(absolute_remote(self.cwd(), &remote)) {
                    continue;
                }
                if hit.kind == Kind::Dir {
                    let sub = self.download_tree(&remote, Path::new(&hit.name), Options::default(), on);
                    merge(&mut total, sub, pattern, on);
                } else {
                    files.push(Item {
                        local: PathBuf::from(&hit.name),
                        remote,
                        size: hit.size,
                        md5: None,
                        mtime: Some(hit.mtime),
                    });
                }
            }
        }
        let stats = self.stats(&files.iter().map(|i| i.remote.clone()).collect::<Vec<_>>())?;
        let mut go = Vec::new();
        for (mut item, st) in files.into_iter().zip(stats) {
            item.md5 = st.and_then(|s| s.md5);
            let here = fs::metadata(&item.local).ok().filter(|m| m.is_file() && m.len() == item.size);
            let same = here.is_some_and(|m| self.local_digest(&item.local, &m).ok() == item.md5);
            if same { total.up_to_date += 1 } else { go.push(item) }
        }
        let bytes = go.iter().map(|i| i.size).sum();
        total.tell(on, &Event::Planned { files: go.len(), bytes });
        self.fetch_files(go, &mut total, on);
        let _ = self.save_cache();
        Ok(total)
    }
}

/// `path` from the root, `.` and `..` taken away: the same text for
/// every way of naming one remote path.
fn absolute_remote(cwd: &str, path: &str) -> String {
    let mut names: Vec<&str> = Vec::new();
    let from_cwd = if path.starts_with('/') { "" } else { cwd };
    for name in from_cwd.split('/').chain(path.split('/')) {
        match name {
            "" | "." => {}
            ".." => _ = names.pop(),
            name => names.push(name),
        }
    }
    format!("/{}", names.join("/"))
}

/// Adds a sub-batch's outcome to `total`.
fn merge(total: &mut Report, sub: Result<Report>, what: &str, on: OnEvent) {
    match sub {
        Ok(r) => {
            total.transferred += r.transferred;
            total.up_to_date += r.up_to_date;
            total.deleted += r.deleted;
            total.skipped += r.skipped;
            total.bytes += r.bytes;
            total.failures.extend(r.failures);
            total.stopped |= r.stopped;
        }
        Err(e) => _ = total.fail(what, &e.to_string(), on),
    }
}

/// Local paths matching `pattern` (a glob in its last name only), sorted;
/// hidden names only when the pattern starts with a dot.
fn local_matches(pattern: &str) -> Vec<PathBuf> {
    let path = Path::new(pattern);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if !glob::is_glob(name) {
        return if path.exists() { vec![path.to_path_buf()] } else { Vec::new() };
    }
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let Ok(items) = fs::read_dir(dir.unwrap_or(Path::new("."))) else { return Vec::new() };
    let mut out: Vec<PathBuf> = items
        .flatten()
        .filter(|i| {
            let n = i.file_name().to_string_lossy().into_owned();
            (!n.starts_with('.') || name.starts_with('.')) && glob::matches(name, &n)
        })
        .map(|i| dir.map_or(PathBuf::from(i.file_name()), |d| d.join(i.file_name())))
        .collect();
    out.sort();
    out
}
