//! Quota bookings of the text face: which quota applies to the logged-in
//! user (the ledger and the rules are the engine's, `storage::quota`).

use crate::server::error::Result;
use crate::server::handler::Cx;
use crate::service::login::Login;
use crate::storage::quota::Booking;
use crate::storage::tree::UserPath;

/// Books `size` bytes against the user's quota (none without a quota),
/// or refuses with `552`, like an upload's booking.
pub(crate) fn book(cx: &Cx, login: &Login, size: u64, what: &UserPath) -> Result<Option<Booking>> {
    let Some(limit) = cx.shared.quota_of(&login.user) else { return Ok(None) };
    let quota = login.quota(cx.shared, limit);
    quota.book(&login.staging(cx.shared), size, &what.to_string()).map(Some)
}
