//! Everything on disk under `--data`: the user trees and their jail,
//! staged uploads, recorded digests, the accounts, the trash, copies and
//! `find`.

pub mod accounts;
pub mod copies;
pub mod digests;
pub mod durable;
pub mod find;
pub mod staging;
pub mod trash;
pub mod tree;
pub mod users;
