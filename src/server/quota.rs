//! Quota bookings of the requests that place bytes in a user's tree
//! without a payload (`claim`, `cp`, `save`): the same ledger and the
//! same figure of what the user holds as uploads (see
//! `storage::staging::Quota` and `storage::usage`).

use crate::server::error::{Error, Result};
use crate::server::handler::{Cx, Login};
use crate::server::takeover::{Ledger, Reservation};
use crate::storage::content::random_hex;
use crate::storage::staging::{Quota, staged_bytes_where};
use crate::storage::tree::UserPath;

/// Bytes booked against the quota by a claim or a save in progress;
/// given back when dropped.
pub(crate) struct Booking {
    reservation: Reservation,
    quota: Quota,
    size: u64,
}

/// Books `size` bytes against the user's quota (none without a quota),
/// or refuses with `552`, like an upload's booking.
pub(crate) fn book(cx: &Cx, login: &Login, size: u64, what: &UserPath) -> Result<Option<Booking>> {
    let Some(limit) = cx.shared.quota_of(&login.user) else { return Ok(None) };
    let quota = login.quota(cx.shared, limit);
    let account = quota.account.clone();
    let mut ledger = account.lock();
    let besides = staged_unbooked(cx, login, &ledger).saturating_add(ledger.booked_except(None));
    quota.check(&mut ledger, size, besides, &what.to_string())?;
    let tag = login.staging(cx.shared).join(format!("book-{}", random_hex().map_err(io_local)?));
    let reservation = ledger.book(&account, &tag, size);
    Ok(Some(Booking { reservation, quota, size }))
}

/// Staged uploads of the user that nobody booked.
fn staged_unbooked(cx: &Cx, login: &Login, ledger: &Ledger) -> u64 {
    staged_bytes_where(&login.staging(cx.shared), |p| !ledger.covers(p))
}

/// Runs `place` (which makes the booked bytes part of the tree) with the
/// ledger locked, after checking again that the booking still fits; the
/// booking is given back, and the bytes added to the user's figure, under
/// the same lock.
pub(crate) fn within_booking<T>(
    cx: &Cx,
    login: &Login,
    booking: Option<&Booking>,
    place: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let Some(booking) = booking else { return place() };
    let mut ledger = booking.reservation.account().lock();
    let besides = staged_unbooked(cx, login, &ledger).saturating_add(ledger.booked_except(Some(&booking.reservation)));
    let mut counted = booking.quota.check(&mut ledger, booking.size, besides, "the copy")?;
    let placed = place()?;
    ledger.release(&booking.reservation);
    if counted.changed(booking.size, 0).is_err() {
        ledger.counted_at = None;
    }
    Ok(placed)
}

fn io_local(e: std::io::Error) -> Error {
    Error::server("staging", e)
}
