//! HTTP dates (RFC 9110 §5.6.7): written as IMF-fixdate, read in that
//! form only (the obsolete forms are treated as no date, which makes a
//! conditional request unconditional: the safe direction).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::clock::{civil_from_days, days_from_civil, secs};

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// `Sun, 06 Nov 1994 08:49:37 GMT`.
pub(crate) fn format(time: SystemTime) -> String {
    format_secs(secs(time))
}

pub(crate) fn format_secs(s: u64) -> String {
    let days = (s / 86_400) as i64;
    let (y, m, d) = civil_from_days(days);
    let rest = s % 86_400;
    format!(
        "{}, {d:02} {} {y:04} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        MONTHS[m as usize - 1],
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Seconds since 1970 of an IMF-fixdate, if `text` is one.
pub(crate) fn parse(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() != 29 || &text[3..5] != ", " || &text[25..] != " GMT" {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u64> {
        let part = text.get(from..to)?;
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
    };
    let d = num(5, 7)?;
    let m = MONTHS.iter().position(|&name| Some(name) == text.get(8..11))? as u32 + 1;
    let y = num(12, 16)?;
    let (hh, mm, ss) = (num(17, 19)?, num(20, 22)?, num(23, 25)?);
    if text.get(16..17) != Some(" ") || y < 1970 || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let days = u64::try_from(days_from_civil(y as i64, m, d as u32)).ok()?;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// Now, as an HTTP date.
pub(crate) fn now() -> String {
    format(SystemTime::now())
}

/// Seconds since 1970 of a time (0 before).
pub(crate) fn unix(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(format_secs(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(parse("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(format_secs(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        for bad in ["Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "Sun, 06 Nov 1994 08:49:37 UTC", ""] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
