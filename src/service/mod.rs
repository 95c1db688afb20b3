//! The service both faces offer, above the engine: one configuration
//! ([`config`]), the state every connection shares (`shared`: accounts,
//! digests, connection limits, back-offs, upload holders, quota
//! bookings), the back-off of guesses (`backoff`), the cache of verified
//! HTTP Basic credentials (`credentials`), the group commit of uploads
//! verified at once on several connections (`grouped`), who holds which
//! staged upload (`takeover`), a logged-in user as a value
//! (`login`) and the copy of a share into a user's tree (`saving`).
//!
//! It imports the engine (`storage`) and the small leaves, never a face
//! (`server`, `http`) nor a wire format (`proto`): a face builds its
//! sessions on it, and neither face imports the other.

pub(crate) mod backoff;
pub mod config;
pub(crate) mod credentials;
pub(crate) mod grouped;
pub(crate) mod login;
pub(crate) mod saving;
pub(crate) mod shared;
pub(crate) mod takeover;
