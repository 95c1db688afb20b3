//! `save`: a copy of a share (or of an item inside a shared folder) into
//! a user's tree, the same for both faces (the text protocol's `save`,
//! the share pages' *Save to my disk*).
//!
//! The copy is built in the saver's staging area by hard links (as `cp`,
//! `storage::copies`), each file then given its own inode dated now
//! (`storage::mtime`), booked against the saver's quota
//! and put in place under their replace lock by one rename that never
//! replaces anything: a name already taken is refused, even one taken
//! while the copy was built. It decides nothing a face could decide
//! differently, and prints nothing.

use std::path::Path;
use std::time::SystemTime;

use crate::service::login::Login;
use crate::service::shared::Shared;
use crate::storage::copies::{Built, Plan, measure};
use crate::storage::error::{Error, ErrorKind, Result};
use crate::storage::mtime::fresh_times;
use crate::storage::quota::{Booking, within};
use crate::storage::replace::Replace;
use crate::storage::shares::Share;
use crate::storage::tree::{Kind, Tree, UserPath};
use crate::storage::usage::Usage;

/// Copies `source` (the shared item, or an item below it, in the
/// owner's tree) to `target` in `login`'s tree: checks (inside the
/// share, target free, its folder there, path length, quota), then the
/// copy.
pub(crate) fn save(shared: &Shared, login: &Login, share: &Share, source: &UserPath, target: &UserPath) -> Result<()> {
    if !source.is_within(&share.user_path()?) {
        return Err(Error::new(ErrorKind::NotFound, format!("{source}: not in this share")));
    }
    let owner = Tree::new(shared.home(&share.owner));
    let entry = owner.entry(source)?;
    let tree = &login.tree;
    if target.is_root() || tree.entry(target).is_ok() {
        return Err(Error::new(ErrorKind::Exists, format!("{target}: exists already")));
    }
    tree.dir(&target.parent())?;
    let real_source = owner.checked(source)?;
    let plan = match entry.kind {
        Kind::File => Plan { kind: Kind::File, size: Usage::new(entry.size, 1), replaces: false, deepest: 0 },
        Kind::Dir => {
            let (size, deepest) = measure(&real_source).map_err(|e| Error::io(&source.to_string(), e))?;
            Plan { kind: Kind::Dir, size, replaces: false, deepest }
        }
    };
    tree.check_copy_length(target, &plan, &login.staging(shared))?;
    let booking = login.quota(shared).map(|quota| quota.book(plan.booked(), &target.to_string())).transpose()?;
    build_and_place(shared, login, (&real_source, target), &plan, booking.as_ref())
}

/// Builds the copy in a scratch directory, then renames it to the
/// target unless something is there by then, under the saver's replace
/// lock; what is booked is what was built (the owner may change the
/// source meanwhile).
fn build_and_place(
    shared: &Shared,
    login: &Login,
    (source, target): (&Path, &UserPath),
    plan: &Plan,
    booking: Option<&Booking>,
) -> Result<()> {
    let what = target.to_string();
    let io = |e| Error::io(&what, e);
    let built = Built::new(source, plan.kind, &login.staging(shared), &shared.sums).map_err(io)?;
    // The saver's own files, dated now (see `storage::mtime`).
    fresh_times(&built.path, &shared.sums, SystemTime::now()).map_err(io)?;
    let replace = Replace::lock(&shared.data, &login.user)?;
    let real = login.tree.checked(target)?;
    within(booking, plan.placed(&built), || replace.put_new(&built.path, &real).map_err(io))
}
