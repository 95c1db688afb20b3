//! Everything on disk under `--data`: the user trees and their jail,
//! staged uploads, recorded digests, copies, `find` and the accounts.

pub mod copies;
pub mod digests;
pub mod find;
pub mod staging;
pub mod tree;
pub mod users;
