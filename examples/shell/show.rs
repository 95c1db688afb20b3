//! How the shell shows things: sizes, times and transfer summaries.

use std::time::Duration;

use netdisk::client::{Report, Transferred};
use netdisk::clock::utc_secs;
use netdisk::proto::body::{FindLine, Kind, ListLine, TrashLine};

fn rate(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / elapsed.as_secs_f64().max(1e-6)
}

/// `6.0 MiB in 0.02 s, 300.0 MiB/s`; after a resume, only what `moved`
/// (`sent` or `received`) counts: `sent 2.0 MiB of 6.0 MiB in ..., (rate
/// of the 2.0 MiB)`; an instant upload: `6.0 MiB, instant (nothing sent)`,
/// or what was sent before the server was found to hold the content.
pub fn summary(t: &Transferred, moved: &str) -> String {
    let speed = human(rate(t.moved, t.elapsed) as u64);
    let secs = t.elapsed.as_secs_f64();
    if t.instant && t.moved > 0 {
        format!("{}, instant ({} sent before the server was found to hold it)", human(t.size), human(t.moved))
    } else if t.instant {
        format!("{}, instant (nothing sent)", human(t.size))
    } else if t.resumed_at > 0 {
        let (done, size, at) = (human(t.moved), human(t.size), human(t.resumed_at));
        format!("{moved} {done} of {size} in {secs:.2} s, {speed}/s (resumed at {at})")
    } else {
        format!("{} in {secs:.2} s, {speed}/s", human(t.size))
    }
}

/// A size for people (`human`), else exact: `1.5 KiB` or `1536 bytes`.
pub fn size(bytes: u64, human: bool) -> String {
    if human { self::human(bytes) } else { format!("{bytes} bytes") }
}

/// A batch's summary line, with sizes for people when `human`; exact, it
/// is the library's [`Report::summary`].
pub fn batch_summary(r: &Report, human: bool) -> String {
    if !human || r.dry_run {
        return r.summary().replace(&format!(", {} bytes", r.bytes), &format!(", {}", size(r.bytes, human)));
    }
    let skipped = if r.skipped > 0 { format!(", {} skipped", r.skipped) } else { String::new() };
    let secs = r.started.elapsed().as_secs_f64();
    format!(
        "{} transferred, {} up to date, {} deleted{skipped}, {} in {secs:.2} s",
        r.transferred,
        r.up_to_date,
        r.deleted,
        self::human(r.bytes)
    )
}

/// Sizes as people read them: 1023 B, 1.5 KiB, 20.0 MiB.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// A time for people: the local clock to the minute, as `ls -l` shows
/// it (`2026-11-24 13:00`); else exact, in UTC (see [`utc`]).
pub fn time(secs: u64, human: bool) -> String {
    match crate::term::local_time(secs).filter(|_| human) {
        Some(t) => format!("{}-{:02}-{:02} {:02}:{:02}", t.year, t.month, t.day, t.hour, t.minute),
        None => utc(secs),
    }
}

/// A time to the second, with its offset from UTC: `2026-11-24 13:00:00
/// +0100` for people, else [`utc`].
pub fn full_time(secs: u64, human: bool) -> String {
    match crate::term::local_time(secs).filter(|_| human) {
        Some(t) => {
            let (sign, off) = if t.offset < 0 { ('-', -t.offset) } else { ('+', t.offset) };
            format!(
                "{}-{:02}-{:02} {:02}:{:02}:{:02} {sign}{:02}{:02}",
                t.year,
                t.month,
                t.day,
                t.hour,
                t.minute,
                t.second,
                off / 3600,
                off / 60 % 60
            )
        }
        None => utc(secs),
    }
}

/// Seconds since 1970 as `2026-11-24 12:00:00 UTC`.
pub fn utc(secs: u64) -> String {
    let text = utc_secs(secs);
    match text.strip_suffix('Z') {
        Some(t) => format!("{} UTC", t.replacen('T', " ", 1)),
        None => text,
    }
}

/// A size column: human or exact, right-aligned to the widest.
fn sizes(values: impl Iterator<Item = u64>, human: bool) -> (Vec<String>, usize) {
    let texts: Vec<String> = values.map(|v| if human { self::human(v) } else { v.to_string() }).collect();
    let widest = texts.iter().map(|t| crate::width::width(t)).max().unwrap_or(0);
    (texts, widest)
}

/// `find` and `peek`: type, size, time, MD5 and path of each entry.
pub fn found(lines: &[FindLine], human: bool) {
    let (sizes, widest) = sizes(lines.iter().map(|l| l.size), human);
    for (l, size) in lines.iter().zip(&sizes) {
        let md5 = l.md5.map_or("-".into(), |d| d.to_string());
        let size = crate::width::pad_left(size, widest);
        println!("{}  {size}  {}  {md5}  {}", l.kind, time(l.mtime, human), l.path);
    }
}

/// `trash`: ID, type, size, time of removal and former path of each entry.
pub fn trash(lines: &[TrashLine], human: bool) {
    if lines.is_empty() {
        println!("the trash is empty");
    }
    let (sizes, widest) = sizes(lines.iter().map(|l| l.size), human);
    for (l, size) in lines.iter().zip(&sizes) {
        let size = crate::width::pad_left(size, widest);
        println!("{}  {}  {size}  {}  {}", l.id, l.kind, time(l.deleted, human), l.path);
    }
}

/// `ls`: type, size (`-` for a folder), time and name of each entry.
pub fn listing(entries: &[ListLine], human: bool) {
    let (mut sizes, widest) = sizes(entries.iter().map(|e| e.size), human);
    for (e, size) in entries.iter().zip(sizes.iter_mut()) {
        if e.kind == Kind::Dir {
            *size = "-".into();
        }
    }
    for (e, size) in entries.iter().zip(&sizes) {
        let suffix = if e.kind == Kind::Dir { "/" } else { "" };
        let size = crate::width::pad_left(size, widest);
        println!("{}  {size}  {}  {}{suffix}", e.kind, time(e.mtime, human), e.name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_times_and_summaries() {
        assert_eq!((human(1023), human(1536), human(20 << 20)), ("1023 B".into(), "1.5 KiB".into(), "20.0 MiB".into()));
        assert_eq!(utc(1_000_000_000), "2001-09-09 01:46:40 UTC");
        let md5 = netdisk::Digest::of(b"");
        let t = Transferred {
            size: 6 << 20,
            md5,
            resumed_at: 4 << 20,
            moved: 2 << 20,
            elapsed: Duration::from_secs(1),
            instant: false,
        };
        assert_eq!(summary(&t, "sent"), "sent 2.0 MiB of 6.0 MiB in 1.00 s, 2.0 MiB/s (resumed at 4.0 MiB)");
        let t = Transferred { resumed_at: t.size, moved: 0, instant: true, ..t };
        assert_eq!(summary(&t, "sent"), "6.0 MiB, instant (nothing sent)");
    }
}
