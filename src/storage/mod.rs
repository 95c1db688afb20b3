//! Everything on disk under `--data`: the user trees and their jail,
//! staged uploads, recorded digests, the accounts, the trash, copies,
//! `find`, the content store and share records.

pub mod accounts;
pub mod content;
pub mod copies;
pub mod digests;
pub mod durable;
pub mod find;
pub mod shares;
pub mod staging;
pub mod trash;
pub mod tree;
pub mod users;
