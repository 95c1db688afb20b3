//! What a batch tells its caller: one [`Event`] per file or action, a
//! [`Report`] at the end (with the summary line of `mirror`), and a
//! [`Printer`] that shows events as lines (not a terminal) or as one
//! overall progress bar (a terminal).

use std::io::Write;
use std::time::{Duration, Instant};

/// One step of a batch.
#[derive(Clone, Debug)]
pub enum Event<'a> {
    /// The work ahead: files to transfer and their bytes.
    Planned { files: usize, bytes: u64 },
    /// An action done (`uploaded`, `downloaded`, `deleted`, `made`,
    /// `instant`) or, in a dry run, one that would be done.
    Done { action: &'a str, path: &'a str, bytes: u64 },
    /// A file or path that failed, and why.
    Failed { path: &'a str, why: &'a str },
    /// A path left out on purpose (a symbolic link to a directory), and why.
    Skipped { path: &'a str, why: &'a str },
    /// Bytes of a large file in place so far (sent between its chunks);
    /// returning `false` stops the batch in the middle of that file.
    Progress { path: &'a str, done: u64, total: u64 },
}

/// The callback for events: return `false` to stop the batch.
pub type OnEvent<'a> = &'a mut dyn FnMut(&Event) -> bool;

/// The outcome of a batch.
#[derive(Clone, Debug)]
pub struct Report {
    pub transferred: usize,
    pub up_to_date: usize,
    pub deleted: usize,
    /// Paths left out on purpose (not failures).
    pub skipped: usize,
    pub bytes: u64,
    /// Each failure: the path and why.
    pub failures: Vec<(String, String)>,
    /// The caller stopped the batch.
    pub stopped: bool,
    /// Nothing was changed: the counts are what would be done.
    pub dry_run: bool,
    pub started: Instant,
}

impl Default for Report {
    fn default() -> Report {
        Report::new()
    }
}

impl Report {
    pub fn new() -> Report {
        Report {
            transferred: 0,
            up_to_date: 0,
            deleted: 0,
            skipped: 0,
            bytes: 0,
            failures: Vec::new(),
            stopped: false,
            dry_run: false,
            started: Instant::now(),
        }
    }

    /// Whether everything succeeded.
    pub fn ok(&self) -> bool {
        self.failures.is_empty() && !self.stopped
    }

    /// `N transferred, M up to date, K deleted, B bytes in T s`; after a
    /// dry run `dry run: N to transfer, M up to date, K to delete, B bytes`;
    /// `S skipped` after the deletions when anything was skipped.
    pub fn summary(&self) -> String {
        let (n, m, k, b) = (self.transferred, self.up_to_date, self.deleted, self.bytes);
        let skipped = if self.skipped > 0 { format!(", {} skipped", self.skipped) } else { String::new() };
        if self.dry_run {
            return format!("dry run: {n} to transfer, {m} up to date, {k} to delete{skipped}, {b} bytes");
        }
        let secs = self.started.elapsed().as_secs_f64();
        format!("{n} transferred, {m} up to date, {k} deleted{skipped}, {b} bytes in {secs:.2} s")
    }

    /// Records a failure and tells the caller.
    pub(crate) fn fail(&mut self, path: &str, why: &str, on: OnEvent) -> bool {
        self.failures.push((path.to_string(), why.to_string()));
        self.tell(on, &Event::Failed { path, why })
    }

    /// Tells the caller; remembers a request to stop.
    pub(crate) fn tell(&mut self, on: OnEvent, event: &Event) -> bool {
        if !on(event) {
            self.stopped = true;
        }
        !self.stopped
    }
}

/// Shows events: one line per file on stdout (failures on stderr), or,
/// with `bar`, an overall bar on stderr: files, bytes, rate, ETA and the
/// current file's name.
pub struct Printer {
    bar: bool,
    out: Box<dyn Write>,
    err: Box<dyn Write>,
    files: (usize, usize),
    bytes: (u64, u64),
    started: Instant,
    drawn: Option<Instant>,
}

impl Printer {
    /// A printer on stdout and stderr.
    pub fn new(bar: bool) -> Printer {
        Printer::with_output(bar, Box::new(std::io::stdout()), Box::new(std::io::stderr()))
    }

    /// A printer writing lines to `out`, and failures and the bar to `err`.
    pub fn with_output(bar: bool, out: Box<dyn Write>, err: Box<dyn Write>) -> Printer {
        Printer { bar, out, err, files: (0, 0), bytes: (0, 0), started: Instant::now(), drawn: None }
    }

    /// Shows one event; always lets the batch go on.
    pub fn show(&mut self, event: &Event) -> bool {
        match *event {
            Event::Planned { files, bytes } => {
                self.files.1 += files;
                self.bytes.1 += bytes;
            }
            Event::Failed { path, why } => {
                self.clear();
                let _ = writeln!(self.err, "failed: {path}: {why}");
            }
            Event::Skipped { path, why } => {
                self.clear();
                let _ = writeln!(self.out, "skipped: {path}: {why}");
            }
            Event::Done { action, path, bytes } => self.done(action, path, bytes),
            Event::Progress { path, done, .. } => self.redraw(path, done),
        }
        true
    }

    fn done(&mut self, action: &str, path: &str, bytes: u64) {
        if matches!(action, "uploaded" | "downloaded" | "instant") {
            self.files.0 += 1;
            self.bytes.0 += bytes;
        }
        let text = if action == "instant" {
            format!("{path}: instant: the server already has this content")
        } else {
            format!("{action} {path}")
        };
        if !self.bar {
            let _ = writeln!(self.out, "{text}");
            return;
        }
        if !matches!(action, "uploaded" | "downloaded" | "instant") {
            self.clear();
            let _ = writeln!(self.out, "{text}");
        }
        self.redraw(path, 0);
    }

    /// Draws the bar at most ten times a second, and only while files are
    /// planned (never for `mkdir`, `rm` or a dry run).
    fn redraw(&mut self, current: &str, partial: u64) {
        let due = self.drawn.is_none_or(|t| t.elapsed() >= Duration::from_millis(100));
        if self.bar && self.files.1 > 0 && due {
            self.draw(current, partial);
        }
    }

    /// Draws the bar; `partial`: bytes of the current file in place.
    fn draw(&mut self, current: &str, partial: u64) {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let done = self.bytes.0 + partial;
        let rate = done as f64 / secs;
        let left = self.bytes.1.saturating_sub(done) as f64;
        let eta = if rate > 0.0 { format!("{:.0} s", left / rate) } else { "--".into() };
        let pct = (done * 100).checked_div(self.bytes.1).unwrap_or(100).min(100) as usize;
        let bar = format!("{}{}", "#".repeat(pct / 5), ".".repeat(20 - pct / 5));
        let name: String = current.chars().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect();
        let _ = write!(
            self.err,
            "\r[{bar}] {}/{} files, {}/{} bytes, {:.0} B/s, ETA {eta}  {name}\x1b[K",
            self.files.0, self.files.1, done, self.bytes.1, rate
        );
        let _ = self.err.flush();
        self.drawn = Some(Instant::now());
    }

    fn clear(&mut self) {
        if self.bar && self.drawn.take().is_some() {
            let _ = write!(self.err, "\r\x1b[K");
        }
    }

    /// Erases the bar (the summary that follows has the true totals).
    pub fn finish(&mut self) {
        self.clear();
        let _ = self.err.flush();
    }
}
