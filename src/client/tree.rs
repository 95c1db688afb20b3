//! Both sides of a folder transfer as flat maps from a relative path
//! (`a/b`, `/` between names) to what is there: the local tree from one
//! iterative walk, the remote tree from one `find` (or, on a server
//! without `find`, one `ls` per level and one pipelined `stat` per file).
//!
//! Local names the protocol cannot carry are reported here, never sent.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io;
use std::path::Path;

use super::transfer::parse_body;
use super::{Client, ClientError, Result};
use crate::digest::Digest;
use crate::proto::body::{FindLine, Kind, ListLine, StatLine};
use crate::proto::{Code, Command};

/// Longest name the protocol carries, in bytes.
const MAX_NAME: usize = 255;
/// Requests sent in one write when walking or stat-ing many paths.
pub(crate) const PIPE_REQUESTS: usize = 128;

/// One file or directory of a tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub kind: Kind,
    pub size: u64,
    /// Known for remote files; local digests come from the cache.
    pub md5: Option<Digest>,
    /// Remote MTIME, whole seconds, where a listing gave it.
    pub mtime: Option<u64>,
}

/// A tree: relative path to entry, parents before their children.
pub type Tree = BTreeMap<String, Entry>;

/// What is at a remote path.
pub(crate) enum RemoteRoot {
    Missing,
    File,
    Dir(Tree),
}

/// A local tree, the names in it that cannot be sent (with why), and
/// those left out on purpose (with why).
pub(crate) struct LocalTree {
    pub entries: Tree,
    pub bad: Vec<(String, String)>,
    pub skipped: Vec<(String, String)>,
}

/// `rel/name`, or `name` at the top.
pub(crate) fn join(base: &str, name: &str) -> String {
    match base {
        "" => name.to_string(),
        b if b.ends_with('/') => format!("{b}{name}"),
        b => format!("{b}/{name}"),
    }
}

/// The name as the protocol carries it, or why it cannot.
pub fn carry(name: &OsStr) -> std::result::Result<String, String> {
    let name = name.to_str().ok_or("name is not UTF-8")?;
    if name.chars().any(char::is_control) {
        return Err("name holds a control character the protocol cannot carry".into());
    }
    if name.len() > MAX_NAME {
        return Err(format!("name is longer than {MAX_NAME} bytes"));
    }
    if name.contains('\\') {
        return Err("name holds a backslash, which the server does not allow".into());
    }
    Ok(name.to_string())
}

/// Walks `root` (a directory) without recursion. Symbolic links to files
/// are followed; links to directories are skipped (they could loop), as
/// rsync skips what it does not copy: not a failure.
pub(crate) fn walk_local(root: &Path) -> io::Result<LocalTree> {
    let mut tree = LocalTree { entries: Tree::new(), bad: Vec::new(), skipped: Vec::new() };
    let mut stack = vec![String::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        let items = match fs::read_dir(&dir) {
            Ok(items) => items,
            Err(e) if rel.is_empty() => return Err(e),
            Err(e) => {
                tree.bad.push((rel, e.to_string()));
                continue;
            }
        };
        for item in items.flatten() {
            let shown = join(&rel, &item.file_name().to_string_lossy());
            let child = match carry(&item.file_name()) {
                Ok(name) => join(&rel, &name),
                Err(why) => {
                    tree.bad.push((shown.escape_debug().to_string(), why));
                    continue;
                }
            };
            let link = item.file_type().is_ok_and(|t| t.is_symlink());
            match fs::metadata(item.path()) {
                Ok(m) if m.is_dir() && !link => {
                    tree.entries.insert(child.clone(), Entry { kind: Kind::Dir, size: 0, md5: None, mtime: None });
                    stack.push(child);
                }
                Ok(m) if m.is_dir() => tree.skipped.push((child, "symbolic link to a directory".into())),
                Ok(m) if m.is_file() => {
                    tree.entries.insert(child, Entry { kind: Kind::File, size: m.len(), md5: None, mtime: None });
                }
                Ok(_) => tree.bad.push((child, "not a regular file or directory".into())),
                Err(e) => tree.bad.push((child, format!("cannot read: {e}"))),
            }
        }
    }
    Ok(tree)
}

impl Client {
    /// What is at `root` on the server: one `stat` and one `find`, sent
    /// together.
    pub(crate) fn remote_root(&mut self, root: &str) -> Result<RemoteRoot> {
        let cmds = [Command::Stat { path: root.into() }, Command::Find { path: Some(root.into()) }];
        let replies = self.pipeline(&cmds)?;
        let (stat, find) = (&replies[0], &replies[1]);
        if stat.code == Code::Unavailable {
            return Ok(RemoteRoot::Missing);
        }
        if !stat.is_ok() {
            return Err(ClientError::Refused(stat.clone()));
        }
        let st: StatLine = parse_body(stat)?;
        if st.kind == Kind::File {
            return Ok(RemoteRoot::File);
        }
        match find.code {
            Code::Listing => {
                let lines: Vec<FindLine> = super::lines_of(find)?;
                let entry =
                    |l: FindLine| (l.path, Entry { kind: l.kind, size: l.size, md5: l.md5, mtime: Some(l.mtime) });
                Ok(RemoteRoot::Dir(lines.into_iter().map(entry).collect()))
            }
            Code::Syntax => self.walk_remote(root).map(RemoteRoot::Dir),
            _ => Err(ClientError::Refused(find.clone())),
        }
    }

    /// The tree below `root` for a server without `find`: `ls` level by
    /// level, then the digests by `stat`, each step pipelined.
    fn walk_remote(&mut self, root: &str) -> Result<Tree> {
        let mut tree = Tree::new();
        let mut level = vec![String::new()];
        while !level.is_empty() {
            let mut next = Vec::new();
            for chunk in level.chunks(PIPE_REQUESTS) {
                let cmds: Vec<Command> = chunk.iter().map(|rel| Command::Ls { path: Some(join(root, rel)) }).collect();
                for (rel, reply) in chunk.iter().zip(self.pipeline(&cmds)?) {
                    for line in super::lines_of::<ListLine>(&reply)? {
                        let path = join(rel, &line.name);
                        if line.kind == Kind::Dir {
                            next.push(path.clone());
                        }
                        tree.insert(
                            path,
                            Entry { kind: line.kind, size: line.size, md5: None, mtime: Some(line.mtime) },
                        );
                    }
                }
            }
            level = next;
        }
        let files: Vec<String> = tree.iter().filter(|(_, e)| e.kind == Kind::File).map(|(p, _)| p.clone()).collect();
        let paths: Vec<String> = files.iter().map(|rel| join(root, rel)).collect();
        for (rel, st) in files.iter().zip(self.stats(&paths)?) {
            if let (Some(st), Some(entry)) = (st, tree.get_mut(rel)) {
                entry.md5 = st.md5;
            }
        }
        Ok(tree)
    }

    /// `stat` of many paths, pipelined: `None` where the path is missing.
    pub(crate) fn stats(&mut self, paths: &[String]) -> Result<Vec<Option<StatLine>>> {
        let mut out = Vec::with_capacity(paths.len());
        for chunk in paths.chunks(PIPE_REQUESTS) {
            let cmds: Vec<Command> = chunk.iter().map(|p| Command::Stat { path: p.clone() }).collect();
            for reply in self.pipeline(&cmds)? {
                out.push(if reply.code == Code::Status { Some(parse_body(&reply)?) } else { None });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_protocol_cannot_carry() {
        assert!(carry(OsStr::new("a b é.txt")).is_ok());
        assert!(carry(OsStr::new("a\nb")).is_err());
        assert!(carry(OsStr::new(&"x".repeat(256))).is_err());
        assert_eq!(join("", "a"), "a");
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("d", "a"), "d/a");
    }
}
