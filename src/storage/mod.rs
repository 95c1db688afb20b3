//! Everything on disk under `--data`: the user trees and their jail,
//! staged uploads, recorded digests, the accounts and the trash.

pub mod digests;
pub mod staging;
pub mod trash;
pub mod tree;
pub mod users;
