//! What a batch tells its caller: one [`Event`] per file or action, and a
//! [`Report`] at the end (with the summary line of `mirror`). Showing
//! them (lines, a progress bar) is the caller's business: the example
//! client does it in `examples/shell/progress.rs`.

use std::time::Instant;

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
    /// Bytes moved, those of a file stopped midway included.
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
