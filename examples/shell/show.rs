//! How the shell shows things: sizes, times, transfer summaries and the
//! progress bar (on stderr, only when it is a terminal).

use std::time::{Duration, Instant};

use netdisk::client::{ClientError, Progress, Transferred};
use netdisk::clock::utc_secs;
use netdisk::proto::body::{FindLine, TrashLine};

/// A progress bar on stderr, redrawn in place at most ten times a second.
pub struct Bar {
    on: bool,
    announced: bool,
    last: Option<Instant>,
    /// The latest progress: where an interrupted transfer stopped.
    seen: Option<Progress>,
}

impl Bar {
    pub fn new(on: bool) -> Bar {
        Bar { on, announced: false, last: None, seen: None }
    }

    /// Says what starts (on a terminal only).
    pub fn start(&self, verb: &str, what: &str) {
        if self.on {
            eprintln!("{verb} {what}");
        }
    }

    pub fn show(&mut self, p: &Progress) -> bool {
        if !self.announced && p.resumed_at > 0 {
            eprintln!("resuming at {} bytes ({}%)", p.resumed_at, percent(p.resumed_at, p.total));
        }
        self.announced = true;
        self.seen = Some(*p);
        let due = self.last.is_none_or(|t| t.elapsed() >= Duration::from_millis(100));
        if self.on && (due || p.done == p.total) {
            self.last = Some(Instant::now());
            eprint!("\r{}", line(p));
        }
        true
    }

    /// Ends the bar's line; an interruption says where it stopped.
    pub fn finish(&mut self, result: Result<Transferred, ClientError>) -> Result<Transferred, String> {
        if let Some(t) = result.as_ref().ok().filter(|t| !self.announced && t.resumed_at > 0 && !t.instant) {
            eprintln!("resuming at {} bytes ({}%)", t.resumed_at, percent(t.resumed_at, t.size));
        }
        if self.on && self.last.is_some() {
            eprintln!();
        }
        match (result, self.seen) {
            (Err(ClientError::Interrupted(n)), Some(p)) => Err(format!(
                "interrupted at {} of {} ({}%); repeat the command to resume",
                human(n),
                human(p.total),
                percent(n, p.total)
            )),
            (r, _) => r.map_err(|e| e.to_string()),
        }
    }
}

fn line(p: &Progress) -> String {
    let pct = percent(p.done, p.total);
    let filled = (pct as usize) / 5;
    let rate = rate(p.done - p.resumed_at, p.elapsed);
    let left = p.total - p.done;
    let eta = if rate > 0.0 { format_secs(left as f64 / rate) } else { "--:--".into() };
    format!(
        "{pct:>3}% [{}{}] {} / {}  {}/s  ETA {eta}   ",
        "#".repeat(filled),
        ".".repeat(20 - filled),
        human(p.done),
        human(p.total),
        human(rate as u64)
    )
}

fn percent(done: u64, total: u64) -> u64 {
    (u128::from(done) * 100).checked_div(u128::from(total)).map_or(100, |p| p as u64)
}

fn rate(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / elapsed.as_secs_f64().max(1e-6)
}

/// `6.0 MiB in 0.02 s, 300.0 MiB/s`; after a resume, only what `moved`
/// (`sent` or `received`) counts: `sent 2.0 MiB of 6.0 MiB in ..., (rate
/// of the 2.0 MiB)`; an instant upload: `6.0 MiB, instant (nothing sent)`.
pub fn summary(t: &Transferred, moved: &str) -> String {
    let speed = human(rate(t.moved, t.elapsed) as u64);
    let secs = t.elapsed.as_secs_f64();
    if t.instant {
        format!("{}, instant (nothing sent)", human(t.size))
    } else if t.resumed_at > 0 {
        let (done, size, at) = (human(t.moved), human(t.size), human(t.resumed_at));
        format!("{moved} {done} of {size} in {secs:.2} s, {speed}/s (resumed at {at})")
    } else {
        format!("{} in {secs:.2} s, {speed}/s", human(t.size))
    }
}

fn format_secs(secs: f64) -> String {
    let s = secs.round() as u64;
    format!("{}:{:02}", s / 60, s % 60)
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

/// Seconds since 1970 as `2026-11-24 12:00:00 UTC`.
pub fn utc(secs: u64) -> String {
    let text = utc_secs(secs);
    match text.strip_suffix('Z') {
        Some(t) => format!("{} UTC", t.replacen('T', " ", 1)),
        None => text,
    }
}

/// `find`: type, size, time, MD5 and path of each entry.
pub fn found(lines: &[FindLine]) {
    let width = lines.iter().map(|l| l.size.to_string().len()).max().unwrap_or(0);
    for l in lines {
        let md5 = l.md5.map_or("-".into(), |d| d.to_string());
        println!("{}  {:>width$}  {}  {md5}  {}", l.kind, l.size, utc(l.mtime), l.path);
    }
}

/// `trash`: ID, type, size, time of removal and former path of each entry.
pub fn trash(lines: &[TrashLine]) {
    if lines.is_empty() {
        println!("the trash is empty");
    }
    let width = lines.iter().map(|l| human(l.size).len()).max().unwrap_or(0);
    for l in lines {
        println!("{}  {}  {:>width$}  {}  {}", l.id, l.kind, human(l.size), utc(l.deleted), l.path);
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
