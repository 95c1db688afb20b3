//! A short-lived cache of verified HTTP Basic credentials, so that a
//! WebDAV client or `curl`, which sends its password with every request,
//! does not pay a full password hash (60,000 MD5 rounds) each time.
//!
//! An entry is keyed by a hash of the user and the password under a
//! random key of this process, never by the password itself, and holds
//! the tag of the stored password record it was verified against
//! (`Users::credential_tag`). A hit counts only while that record is
//! still the user's: a `passwd` or an account deletion, by this process
//! or by another one on the same data directory (the users file is read
//! for what was appended since, two `stat`s when nothing was), makes the
//! next request check the password in full, and that check refuses the
//! old one. A wrong password never matches an entry (its key differs), so
//! it is always checked in full; the caller holds the back-off turn of
//! the address around this check either way.
//!
//! Never holds the password, never logs anything.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use md5::{Digest as _, Md5};

use crate::digest::Digest;
use crate::secret::Password;
use crate::storage::users::Users;

/// How long a verified credential is trusted without a full check.
const TTL: Duration = Duration::from_secs(60);
/// Entries kept at most (past it, the expired go, then all).
const MAX_ENTRIES: usize = 4096;

/// One verified credential.
struct Entry {
    user: String,
    /// The tag of the record the password was checked against.
    tag: Digest,
    at: Instant,
}

/// The verified credentials of this process.
pub(crate) struct Credentials {
    /// The key of this process's hashes: a memory dump holds no hash
    /// that can be checked against guesses without it.
    key: [u8; 16],
    entries: Mutex<HashMap<[u8; 16], Entry>>,
}

impl Default for Credentials {
    fn default() -> Credentials {
        let mut key = [0u8; 16];
        // Without randomness the key is fixed; entries still hold no password.
        let _ = getrandom::fill(&mut key);
        Credentials { key, entries: Mutex::default() }
    }
}

impl Credentials {
    /// Whether `pass` is `user`'s password: from a fresh entry verified
    /// against the user's current record, else by a full check (whose
    /// success is then kept).
    pub(crate) fn verify(&self, users: &Users, user: &str, pass: &Password) -> bool {
        let key = self.key_of(user, pass);
        let cached = self.lock().get(&key).filter(|e| e.user == user && e.at.elapsed() < TTL).map(|e| e.tag);
        if cached.is_some() && cached == users.credential_tag(user) {
            return true;
        }
        match users.verify_tagged(user, pass) {
            Some(tag) => {
                self.keep(key, Entry { user: user.to_string(), tag, at: Instant::now() });
                true
            }
            None => {
                self.lock().remove(&key);
                false
            }
        }
    }

    fn keep(&self, key: [u8; 16], entry: Entry) {
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, e| e.at.elapsed() < TTL);
        }
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, entry);
    }

    /// `MD5(key || user || 0 || password)`.
    fn key_of(&self, user: &str, pass: &Password) -> [u8; 16] {
        let hash = Md5::new_with_prefix(self.key).chain_update(user).chain_update([0]).chain_update(pass.expose());
        hash.finalize().into()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<[u8; 16], Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_by_user_password_and_process_key() {
        let (a, b) = (Credentials::default(), Credentials::default());
        let pw = Password::new("pw");
        assert_eq!(a.key_of("ann", &pw), a.key_of("ann", &pw));
        assert_ne!(a.key_of("ann", &pw), a.key_of("ann", &Password::new("pw2")));
        assert_ne!(a.key_of("ann", &pw), a.key_of("bob", &pw));
        // "ann" + "\0pw" is not "ann\0" + "pw": user names hold no NUL.
        assert_ne!(a.key_of("ann", &pw), b.key_of("ann", &pw), "a key of its own per process");
    }
}
