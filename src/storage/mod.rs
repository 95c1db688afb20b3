//! Everything on disk under `--data`: the user trees and their jail,
//! staged uploads, recorded digests and the accounts.

pub mod accounts;
pub mod digests;
pub mod durable;
pub mod staging;
pub mod tree;
pub mod users;
