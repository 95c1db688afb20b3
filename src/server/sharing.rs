//! `share`, `shares`, `unshare`, `peek` and `save`: handing a file or a
//! directory to another user with a code (records: `storage::shares`).
//!
//! A code is a secret: log lines name the owner and the shared path,
//! never the code. An unknown or expired code on `peek` or `save` counts
//! like a failed login, so codes cannot be guessed quickly. `save` copies
//! by hard links (as `cp` does, see `storage::copies`), builds the copy
//! in the saver's staging area and puts it in place with one rename that
//! never replaces anything.

use std::io;
use std::path::Path;

use super::{Flow, Session};
use crate::error::{Error, Result};
use crate::fs::{Kind, Tree, UserPath, sync_dir};
use crate::proto::{Code, Reply, quoted_path};
use crate::storage::copies::{Plan, Scratch, copy_tree, measure, share_file};
use crate::storage::find::find;
use crate::storage::shares::{Share, Shares};
use crate::storage::trash::rename_noreplace;

impl Session<'_> {
    fn shares_store(&self) -> Shares {
        Shares::new(&self.shared.config.data)
    }

    pub(super) fn share(&self, text: &str, days: Option<u32>) -> Result<Reply> {
        let result = self.resolve(text).and_then(|(tree, path)| {
            if path.is_root() {
                return Err(Error::Refused("/: cannot share the top directory".into()));
            }
            let entry = tree.entry(&path)?;
            let share = self.shares_store().create(self.user(), &path, entry.kind, days);
            let share = share.map_err(|e| Error::internal("share record", e))?;
            Ok(Reply::new(Code::Done, share.code))
        });
        self.note("share", text, &result);
        result
    }

    pub(super) fn shares(&self) -> Result<Reply> {
        let list = self.shares_store().list(self.user(), self.shared.config.max_list)?;
        Ok(Reply::multi(Code::Listing, list.iter().map(|s| s.line().to_string()).collect()))
    }

    pub(super) fn unshare(&self, code: &str) -> Result<Reply> {
        let result = self.shares_store().remove(self.user(), code);
        let shown = result.as_ref().map_or(String::new(), |s| s.path.clone());
        let result = result.map(|_| Reply::new(Code::ActionDone, "share removed"));
        self.note("unshare", &shown, &result);
        result
    }

    /// The live share of `code`, or a counted wrong guess.
    fn shared_by(&mut self, action: &str, code: &str) -> io::Result<std::result::Result<Share, Flow>> {
        match self.shares_store().lookup(code) {
            Some(share) => Ok(Ok(share)),
            None => {
                let reply = Reply::new(Code::Unavailable, "unknown or expired code");
                self.refused_guess(action, "", reply).map(Err)
            }
        }
    }

    pub(super) fn peek(&mut self, code: &str) -> io::Result<Flow> {
        let share = match self.shared_by("peek", code)? {
            Ok(share) => share,
            Err(flow) => return Ok(flow),
        };
        let owner = Tree::new(self.shared.home(&share.owner));
        let result = share.user_path().and_then(|path| {
            let lines = find(&owner, &self.shared.sums, &path, self.shared.config.max_list)?;
            Ok(Reply::multi(Code::Listing, lines.iter().map(|l| l.to_string()).collect()))
        });
        self.note("peek", &format!("{}:{}", share.owner, share.path), &result);
        self.send(&result.unwrap_or_else(|e| e.reply())).map(|_| Flow::Go)
    }

    pub(super) fn save(&mut self, code: &str, to: Option<&str>) -> io::Result<Flow> {
        let share = match self.shared_by("save", code)? {
            Ok(share) => share,
            Err(flow) => return Ok(flow),
        };
        let result = self.save_copy(&share, to).map(|p| Reply::new(Code::Path, quoted_path(&p.to_string())));
        self.note("save", &format!("{}:{}", share.owner, share.path), &result);
        self.send(&result.unwrap_or_else(|e| e.reply())).map(|_| Flow::Go)
    }

    /// Copies the shared item into the caller's tree: checks (target free,
    /// its directory there, path length, quota), then the copy.
    fn save_copy(&self, share: &Share, to: Option<&str>) -> Result<UserPath> {
        let owner = Tree::new(self.shared.home(&share.owner));
        let source = share.user_path()?;
        let entry = owner.entry(&source)?;
        let (tree, target) = self.resolve(to.unwrap_or(source.name()))?;
        if target.is_root() || tree.entry(&target).is_ok() {
            return Err(Error::Exists(format!("{target}: exists already")));
        }
        tree.dir(&target.parent())?;
        let real_source = owner.checked(&source)?;
        let plan = match entry.kind {
            Kind::File => Plan { kind: Kind::File, bytes: entry.size, deepest: 0 },
            Kind::Dir => {
                let (bytes, deepest) = measure(&real_source).map_err(|e| Error::io(&share.path, e))?;
                Plan { kind: Kind::Dir, bytes, deepest }
            }
        };
        tree.check_copy_length(&target, &plan, &self.staging())?;
        let booking = self.book(tree, plan.bytes, &target)?;
        self.build_and_place(tree, (&real_source, &target), &plan, booking.as_ref())?;
        Ok(target)
    }

    /// Builds the copy in a scratch directory, then renames it to the
    /// target unless something is there by then.
    fn build_and_place(
        &self,
        tree: &Tree,
        (source, target): (&Path, &UserPath),
        plan: &Plan,
        booking: Option<&super::claim::Booking>,
    ) -> Result<()> {
        let what = target.to_string();
        let io = |e| Error::io(&what, e);
        let scratch = Scratch::new(&self.staging()).map_err(io)?;
        let built = scratch.dir.join("c");
        match plan.kind {
            Kind::File => share_file(source, &built, &self.shared.sums).map_err(io)?,
            Kind::Dir => copy_tree(source, &built, &self.shared.sums).map_err(io)?,
        }
        let real = tree.checked(target)?;
        self.within_booking(tree, booking, || rename_noreplace(&built, &real).map_err(io))?;
        sync_dir(real.parent().unwrap_or(Path::new("/"))).map_err(io)?;
        Ok(())
    }
}
