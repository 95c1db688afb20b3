//! One file of a batch of transfers (many files sent or fetched in
//! pipelined groups): where it is on each side and what it holds; shared
//! by the batch, its writer thread and the commands that build the list.

use std::path::PathBuf;

use crate::digest::Digest;

/// One file to move: where it is on each side, and what it holds.
#[derive(Clone, Debug)]
pub(crate) struct Item {
    pub local: PathBuf,
    pub remote: String,
    pub size: u64,
    pub md5: Option<Digest>,
    /// The remote MTIME (whole seconds, from a listing), given to the
    /// local file a download makes.
    pub mtime: Option<u64>,
}

impl Item {
    pub(super) fn shown_up(&self) -> &str {
        &self.remote
    }
}
