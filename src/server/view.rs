//! How engine values print in the text protocol: the one place that
//! turns the engine's entries, finds, trash items and shares into the
//! typed reply bodies of `proto::body`.

use crate::clock;
use crate::digest::Digest;
use crate::proto::body::{self, FindLine, ListLine, ShareLine, StatLine, TrashLine};
use crate::storage::find::Found;
use crate::storage::shares::Share;
use crate::storage::trash::TrashItem;
use crate::storage::tree::{Entry, Kind};

impl From<Kind> for body::Kind {
    fn from(kind: Kind) -> body::Kind {
        match kind {
            Kind::Dir => body::Kind::Dir,
            Kind::File => body::Kind::File,
        }
    }
}

/// The `ls` line of an entry.
pub(crate) fn list_line(e: &Entry) -> ListLine {
    ListLine { kind: e.kind.into(), size: e.size, mtime: clock::secs(e.mtime), name: e.name.clone() }
}

/// The `stat` reply of an entry, given the file's MD5 (`None` for a
/// directory).
pub(crate) fn stat_line(e: &Entry, md5: Option<Digest>) -> StatLine {
    StatLine { kind: e.kind.into(), size: e.size, mtime: clock::secs(e.mtime), md5, name: e.name.clone() }
}

impl From<Found> for FindLine {
    fn from(f: Found) -> FindLine {
        FindLine { kind: f.kind.into(), size: f.size, mtime: f.mtime, md5: f.md5, path: f.path }
    }
}

impl From<TrashItem> for TrashLine {
    fn from(t: TrashItem) -> TrashLine {
        TrashLine { id: t.id, kind: t.kind.into(), size: t.size, deleted: t.deleted, path: t.path }
    }
}

/// The `shares` line of a share.
pub(crate) fn share_line(s: &Share) -> ShareLine {
    ShareLine { code: s.code.clone(), expires: s.expires, kind: s.kind.into(), path: s.path.clone() }
}
