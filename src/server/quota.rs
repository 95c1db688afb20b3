//! Quota bookings of the text face: which quota applies to the logged-in
//! user (the ledger and the rules are the engine's, `storage::quota`).

use crate::server::error::Result;
use crate::server::handler::Cx;
use crate::service::login::Login;
use crate::storage::quota::Booking;
use crate::storage::tree::UserPath;
use crate::storage::usage::Usage;

/// Books `size` (bytes and entries) against the user's quota (none
/// without one), or refuses with `552`, like an upload's booking.
pub(crate) fn book(cx: &Cx, login: &Login, size: Usage, what: &UserPath) -> Result<Option<Booking>> {
    let Some(quota) = login.quota(cx.shared) else { return Ok(None) };
    quota.book(size, &what.to_string()).map(Some)
}
