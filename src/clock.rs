//! UTC timestamps as `YYYY-MM-DDTHH:MM:SSZ`, without a date crate.

use std::time::{SystemTime, UNIX_EPOCH};

/// Formats a time in UTC, whole seconds; times before 1970 print as 1970.
pub fn utc(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest % 3600 / 60, rest % 60)
}

/// Formats seconds since 1970 in UTC.
pub fn utc_secs(secs: u64) -> String {
    utc(UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

/// Whole seconds since 1970 of a time; times before 1970 are 0.
pub fn secs(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Parses `YYYY-MM-DDTHH:MM:SSZ` (from 1970 on) into seconds since 1970.
pub fn parse_utc(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    let shape = b.len() == 20 && b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':' && b[16] == b':';
    if !shape || b[19] != b'Z' {
        return None;
    }
    let field = |from: usize, to: usize| -> Option<u64> {
        let part = text.get(from..to)?;
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
    };
    let (y, m, d) = (field(0, 4)?, field(5, 7)?, field(8, 10)?);
    let (hh, mm, ss) = (field(11, 13)?, field(14, 16)?, field(17, 19)?);
    if y < 1970 || !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    let days = days_from_civil(y as i64, m as u32, d as u32);
    let secs = u64::try_from(days).ok()? * 86_400 + hh * 3600 + mm * 60 + ss;
    (utc_secs(secs) == text).then_some(secs)
}

/// Formats a time in UTC with its fraction of a second, if any (up to 9
/// digits, trailing zeros left out): the form `touch` sends.
pub fn utc_fine(time: SystemTime) -> String {
    let nanos = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let whole = utc(time);
    if nanos == 0 {
        return whole;
    }
    let fraction = format!("{nanos:09}");
    format!("{}.{}Z", &whole[..19], fraction.trim_end_matches('0'))
}

/// Parses `YYYY-MM-DDTHH:MM:SSZ` with an optional fraction of 1 to 9
/// digits before the `Z` (`touch`'s TIME).
pub fn parse_utc_fine(text: &str) -> Option<SystemTime> {
    let (whole, fraction) = match text.split_once('.') {
        None => (text.to_string(), ""),
        Some((head, tail)) => (format!("{head}Z"), tail.strip_suffix('Z')?),
    };
    let secs = parse_utc(&whole)?;
    let digits = fraction.len();
    if digits > 9 || (text.contains('.') && digits == 0) || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos = if digits == 0 { 0 } else { fraction.parse::<u32>().ok()? * 10u32.pow(9 - digits as u32) };
    Some(UNIX_EPOCH + std::time::Duration::new(secs, nanos))
}

/// A civil date to days since 1970-01-01 (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 } as i64;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The current time in UTC.
pub fn now() -> String {
    utc(SystemTime::now())
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_known_dates() {
        let at = |s| utc(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_795_521_600), "2026-11-24T12:00:00Z");
        assert_eq!(at(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn parses_what_it_prints() {
        for secs in [0, 951_782_400, 1_795_521_600, 4_102_444_799, 86_399, 1_709_164_800] {
            assert_eq!(parse_utc(&utc_secs(secs)), Some(secs), "{secs}");
        }
        for bad in ["", "2026-02-30T00:00:00Z", "2026-11-24 12:00:00Z", "1969-12-31T23:59:59Z", "2026-11-24T24:00:00Z"]
        {
            assert_eq!(parse_utc(bad), None, "{bad}");
        }
    }

    #[test]
    fn fractions_of_a_second() {
        let at = |s, n| UNIX_EPOCH + Duration::new(s, n);
        assert_eq!(parse_utc_fine("2026-11-24T12:00:00Z"), Some(at(1_795_521_600, 0)));
        assert_eq!(parse_utc_fine("2026-11-24T12:00:00.5Z"), Some(at(1_795_521_600, 500_000_000)));
        assert_eq!(parse_utc_fine("2026-11-24T12:00:00.000000001Z"), Some(at(1_795_521_600, 1)));
        for bad in ["2026-11-24T12:00:00.Z", "2026-11-24T12:00:00.0000000001Z", "2026-11-24T12:00:00.5", "x.5Z"] {
            assert_eq!(parse_utc_fine(bad), None, "{bad}");
        }
        for (s, n) in [(0, 0), (1_795_521_600, 500_000_000), (4_102_444_799, 123_456_789)] {
            assert_eq!(parse_utc_fine(&utc_fine(at(s, n))), Some(at(s, n)));
        }
        assert_eq!(utc_fine(at(0, 250_000_000)), "1970-01-01T00:00:00.25Z");
    }
}
