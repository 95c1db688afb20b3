//! Progress on stderr while files move: one status line, redrawn in place
//! at most ten times a second, never wider than the terminal (its width is
//! read again after each resize), with sizes in human units and the
//! current name shortened in the middle by display width. The line is
//! erased completely before anything else is printed, so no bar is ever
//! left on screen: every message of a transfer goes through [`Status`]
//! while one is under way.
//!
//! [`Bar`] shows one file (`upload`, `download`); [`Batch`] shows a
//! batch's events (folders, `mput`, `mget`, `mirror`, `rm`, ...): a line
//! per action when stderr is not a terminal, else one overall bar.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use netdisk::client::{ClientError, Event, Progress, Transferred};

use crate::show::human;
use crate::term;
use crate::width;

/// Redraws at most this often.
const REDRAW: Duration = Duration::from_millis(100);
/// Columns of the `[####....]` part.
const BAR_CELLS: usize = 20;
/// A name gets at least this many columns before optional parts go.
const NAME_ROOM: usize = 16;

/// The status line on stderr (a terminal), and what goes to the screen
/// while it is there. A ticker thread draws what was last asked for when
/// the transfer is too quick for the ten-a-second limit or stalls, and
/// again at once when the terminal is resized.
pub struct Status {
    shared: Arc<Mutex<Screen>>,
    ticker: Option<(Arc<AtomicBool>, std::thread::JoinHandle<()>)>,
}

/// What [`Status`] writes to, and what it has drawn.
struct Screen {
    on: bool,
    err: Box<dyn Write + Send>,
    out: Box<dyn Write + Send>,
    columns: fn() -> usize,
    /// Columns of the line on screen, and the width it was drawn for.
    drawn: Option<(usize, usize)>,
    last: Option<Instant>,
    /// What to show: stats and a name, laid out at draw time.
    want: Option<(Parts, String)>,
    /// `want` is newer than the screen.
    dirty: bool,
}

impl Status {
    /// A status line on stderr when `on` (stderr is a terminal).
    pub fn new(on: bool) -> Status {
        Status::with_output(on, Box::new(io::stdout()), Box::new(io::stderr()), term::columns)
    }

    /// A status line written to `err`, lines to `out`, on a terminal
    /// `columns()` wide.
    pub fn with_output(
        on: bool,
        out: Box<dyn Write + Send>,
        err: Box<dyn Write + Send>,
        columns: fn() -> usize,
    ) -> Status {
        let screen = Screen { on, err, out, columns, drawn: None, last: None, want: None, dirty: false };
        let shared = Arc::new(Mutex::new(screen));
        let ticker = on.then(|| {
            let (stop, shared) = (Arc::new(AtomicBool::new(false)), shared.clone());
            let stopped = stop.clone();
            let tick = std::thread::spawn(move || {
                while !stopped.load(Ordering::SeqCst) {
                    std::thread::park_timeout(REDRAW);
                    lock(&shared).tick();
                }
            });
            (stop, tick)
        });
        Status { shared, ticker }
    }

    fn screen(&self) -> MutexGuard<'_, Screen> {
        lock(&self.shared)
    }

    pub fn on(&self) -> bool {
        self.screen().on
    }

    /// Shows `parts` and `name` (laid out to the terminal's width): now if
    /// a redraw is due or `now`, else at the ticker's next turn.
    fn show(&mut self, parts: Parts, name: &str, now: bool) {
        let mut screen = self.screen();
        if !screen.on {
            return;
        }
        screen.want = Some((parts, name.to_string()));
        screen.dirty = true;
        if now || screen.last.is_none_or(|t| t.elapsed() >= REDRAW) {
            screen.draw();
        }
    }

    /// Erases the line, if one is on screen; nothing is drawn until the
    /// next [`Status::show`].
    pub fn clear(&mut self) {
        let mut screen = self.screen();
        screen.want = None;
        screen.clear();
    }

    /// A line on stdout, the status line erased first (and drawn again
    /// later).
    pub fn say(&mut self, text: &str) {
        let mut screen = self.screen();
        screen.clear();
        let _ = writeln!(screen.out, "{text}");
        let _ = screen.out.flush();
        screen.dirty = screen.want.is_some();
    }

    /// A line on stderr, the status line erased first.
    pub fn warn(&mut self, text: &str) {
        let mut screen = self.screen();
        screen.clear();
        let _ = writeln!(screen.err, "{text}");
        let _ = screen.err.flush();
        screen.dirty = screen.want.is_some();
    }
}

fn lock(shared: &Mutex<Screen>) -> MutexGuard<'_, Screen> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

impl Screen {
    /// Draws what is wanted, when it changed or the width did.
    fn tick(&mut self) {
        let resized = self.drawn.is_some_and(|(_, cols)| cols != (self.columns)());
        if self.want.is_some() && (self.dirty || resized) {
            self.draw();
        }
    }

    /// Draws the wanted line, cut to the terminal's width, in place of the
    /// last.
    fn draw(&mut self) {
        let Some((parts, name)) = &self.want else { return };
        let cols = (self.columns)();
        let line = compose(parts, name, cols);
        let erase = self.erasing(cols);
        let _ = write!(self.err, "{erase}{line}");
        let _ = self.err.flush();
        self.drawn = Some((width::width(&line), cols));
        self.last = Some(Instant::now());
        self.dirty = false;
    }

    /// What erases the line on screen: back to its first row (a terminal
    /// made narrower since may have wrapped it), then to the end of the
    /// screen.
    fn erasing(&self, cols: usize) -> String {
        match self.drawn {
            Some((w, was)) if cols < was && w > cols => format!("\r\x1b[{}A\x1b[J", (w - 1) / cols.max(1)),
            _ => "\r\x1b[J".to_string(),
        }
    }

    fn clear(&mut self) {
        if self.drawn.is_some() {
            let erase = self.erasing((self.columns)());
            let _ = write!(self.err, "{erase}");
            let _ = self.err.flush();
            self.drawn = None;
        }
    }
}

impl Drop for Status {
    fn drop(&mut self) {
        if let Some((stop, tick)) = self.ticker.take() {
            stop.store(true, Ordering::SeqCst);
            tick.thread().unpark();
            let _ = tick.join();
        }
        self.clear();
    }
}

/// Stats in the order shown, each with the rank at which it is left out
/// to make room for the name (0: never).
type Parts = Vec<(String, u8)>;

/// The parts on one line with `name` last, in `cols - 1` columns: optional
/// parts go (highest rank first) while the name would get less than
/// [`NAME_ROOM`] columns; then the name is shortened in the middle.
fn compose(parts: &Parts, name: &str, cols: usize) -> String {
    let budget = cols.saturating_sub(1);
    let top = parts.iter().map(|p| p.1).max().unwrap_or(0);
    let mut line = String::new();
    for drop_from in (0..=top).rev().map(|r| r + 1) {
        let kept: Vec<&str> = parts.iter().filter(|p| p.1 == 0 || p.1 < drop_from).map(|p| p.0.as_str()).collect();
        let stats = kept.join("  ");
        let room = budget.saturating_sub(width::width(&stats) + 2);
        line = if name.is_empty() { stats } else { format!("{stats}  {}", width::shorten(name, room)) };
        if room >= NAME_ROOM.min(width::width(name)) {
            break;
        }
    }
    width::head(&line, budget).to_string()
}

/// `[#####...............]`
fn bar(pct: u64) -> String {
    let filled = (pct as usize * BAR_CELLS / 100).min(BAR_CELLS);
    format!("[{}{}]", "#".repeat(filled), ".".repeat(BAR_CELLS - filled))
}

/// Rate, ETA, bar and sizes of `done` of `total` bytes after `secs`.
fn stats(done: u64, total: u64, moved: u64, secs: f64) -> Parts {
    let pct = percent(done, total);
    let rate = moved as f64 / secs.max(1e-3);
    let eta = if rate > 0.0 { clock(total.saturating_sub(done) as f64 / rate) } else { "--:--".into() };
    vec![
        (format!("{pct:>3}%"), 0),
        (bar(pct), 4),
        (format!("{} / {}", human(done), human(total)), 1),
        (format!("{}/s", human(rate as u64)), 3),
        (format!("ETA {eta}"), 2),
    ]
}

/// The bar of one transfer.
pub struct Bar {
    status: Status,
    verb: &'static str,
    name: String,
    announced: bool,
    /// The latest progress: where an interrupted transfer stopped.
    seen: Option<Progress>,
}

impl Bar {
    /// A bar for `verb`ing `name`, drawn when `on`.
    /// What starts shows at once, before the first byte moves.
    pub fn new(on: bool, verb: &'static str, name: &str) -> Bar {
        let mut status = Status::new(on);
        status.show(Vec::new(), &format!("{verb} {name}"), true);
        Bar { status, verb, name: name.to_string(), announced: false, seen: None }
    }

    /// Shows where the transfer stands; always lets it go on.
    pub fn show(&mut self, p: &Progress) -> bool {
        if !self.announced && p.resumed_at > 0 {
            self.status.warn(&resuming(p.resumed_at, p.total));
        }
        self.announced = true;
        self.seen = Some(*p);
        let parts = stats(p.done, p.total, p.done - p.resumed_at, p.elapsed.as_secs_f64());
        self.status.show(parts, &format!("{} {}", self.verb, self.name), p.done == p.total);
        true
    }

    /// Erases the bar; an interruption says where it stopped.
    pub fn finish(&mut self, result: Result<Transferred, ClientError>) -> Result<Transferred, String> {
        if let Some(t) = result.as_ref().ok().filter(|t| !self.announced && t.resumed_at > 0 && !t.instant) {
            self.status.warn(&resuming(t.resumed_at, t.size));
        }
        self.status.clear();
        match (result, self.seen) {
            (Err(ClientError::Interrupted(n)), Some(p)) => Err(format!(
                "interrupted: {} of {} ({}%) in place; repeat the command to resume",
                human(n),
                human(p.total),
                percent(n, p.total)
            )),
            (r, _) => r.map_err(|e| e.to_string()),
        }
    }
}

fn resuming(at: u64, total: u64) -> String {
    format!("resuming at {} ({}%)", human(at), percent(at, total))
}

/// Shows a batch's events: a line per action, or (on a terminal) one bar
/// for the whole batch; failures on stderr.
pub struct Batch {
    status: Status,
    /// Failures are left to the command's error (one target).
    quiet_failures: bool,
    /// What the batch deletes goes to the server's trash.
    trash: bool,
    files: (usize, usize),
    bytes: (u64, u64),
    started: Instant,
    /// The name on the bar.
    current: String,
}

impl Batch {
    /// `trash`: deletions are on the server (into its trash).
    pub fn new(bar: bool, quiet_failures: bool, trash: bool) -> Batch {
        Batch::on(Status::new(bar), quiet_failures, trash)
    }

    pub fn on(status: Status, quiet_failures: bool, trash: bool) -> Batch {
        Batch {
            status,
            quiet_failures,
            trash,
            files: (0, 0),
            bytes: (0, 0),
            started: Instant::now(),
            current: String::new(),
        }
    }

    /// Shows one event; always lets the batch go on.
    pub fn show(&mut self, event: &Event) -> bool {
        match *event {
            Event::Planned { files, bytes } => {
                self.files.1 += files;
                self.bytes.1 += bytes;
            }
            Event::Failed { .. } if self.quiet_failures => {}
            Event::Failed { path, why } => self.status.warn(&format!("failed: {path}: {why}")),
            Event::Skipped { path, why } => self.status.say(&format!("skipped: {path}: {why}")),
            Event::Done { action, path, bytes } => self.done(action, path, bytes),
            // A large file's first bytes show at once: it may be slow.
            Event::Progress { path, done, .. } => self.redraw(path, done, path != self.current),
        }
        true
    }

    fn done(&mut self, action: &str, path: &str, bytes: u64) {
        let moved = matches!(action, "uploaded" | "downloaded" | "instant");
        if moved {
            self.files.0 += 1;
            self.bytes.0 += bytes;
        }
        let text = match action {
            "instant" => format!("{path}: instant: the server already has this content"),
            "deleted" if self.trash => format!("moved to the trash: {path}"),
            "would delete" if self.trash => format!("would move to the trash: {path}"),
            _ => format!("{action} {path}"),
        };
        if !self.status.on() || !moved {
            self.status.say(&text);
        }
        self.redraw(path, 0, self.files.0 == self.files.1);
    }

    /// Shows the bar (at once when `now`), and only while files are
    /// planned (never for `mkdir`, `rm` or a dry run).
    fn redraw(&mut self, current: &str, partial: u64, now: bool) {
        if self.files.1 > 0 {
            self.current = current.to_string();
            let done = self.bytes.0 + partial;
            let mut parts = stats(done, self.bytes.1, done, self.started.elapsed().as_secs_f64());
            parts.insert(1, (format!("{}/{} files", self.files.0, self.files.1), 0));
            self.status.show(parts, current, now);
        }
    }

    /// Erases the bar (the summary that follows has the true totals).
    pub fn finish(&mut self) {
        self.status.clear();
    }
}

pub fn percent(done: u64, total: u64) -> u64 {
    (u128::from(done) * 100).checked_div(u128::from(total)).map_or(100, |p| p.min(100) as u64)
}

/// Seconds as `m:ss`, or `h:mm:ss` from an hour on.
fn clock(secs: f64) -> String {
    let s = secs.round() as u64;
    match s {
        0..3600 => format!("{}:{:02}", s / 60, s % 60),
        _ => format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_fit_any_width_and_keep_the_name_ends() {
        let name = "My Project/big video 大.bin";
        for cols in [20, 40, 60, 80, 110, 200] {
            let mut parts = stats(60_552_863, 316_405_407, 60_552_863, 0.81);
            parts.insert(1, ("51/52 files".into(), 0));
            let line = compose(&parts, name, cols);
            assert!(width::width(&line) < cols, "{cols}: {line}");
            if cols >= 60 {
                assert!(line.contains("57.7 MiB / 301.7 MiB") && line.ends_with(".bin"), "{cols}: {line}");
            }
        }
        let wide = compose(&stats(0, 10, 0, 1.0), name, 200);
        assert!(wide.contains(name) && wide.contains("[....") && wide.contains("ETA --:--"), "{wide}");
        assert_eq!((clock(3.4), clock(65.0), clock(3725.0)), ("0:03".into(), "1:05".into(), "1:02:05".into()));
    }

    /// A terminal's screen: `\r` back to the row's start, `ESC[J` and
    /// `ESC[K` erase the rest of it (one row here: nothing wraps).
    #[derive(Clone, Default)]
    struct Tty(Arc<Mutex<Vec<u8>>>);

    impl Write for Tty {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Tty {
        fn rows(&self) -> Vec<String> {
            let text = String::from_utf8_lossy(&self.0.lock().unwrap()).replace("\x1b[J", "").replace("\x1b[K", "");
            let mut rows = vec![String::new()];
            for c in text.chars() {
                match c {
                    '\n' => rows.push(String::new()),
                    '\r' => rows.last_mut().unwrap().clear(),
                    c => rows.last_mut().unwrap().push(c),
                }
            }
            rows.retain(|l| !l.is_empty());
            rows
        }
    }

    #[test]
    fn a_batch_leaves_no_bar_and_says_each_action_once() {
        let screen = Tty::default();
        let status = Status::with_output(true, Box::new(screen.clone()), Box::new(screen.clone()), || 80);
        let mut b = Batch::on(status, false, true);
        b.show(&Event::Planned { files: 2, bytes: 300 << 20 });
        b.show(&Event::Done { action: "made", path: "proj/sub", bytes: 0 });
        b.show(&Event::Done { action: "deleted", path: "proj/old", bytes: 0 });
        b.show(&Event::Progress { path: "proj/big video 大.bin", done: 100 << 20, total: 299 << 20 });
        assert!(screen.rows().last().unwrap().contains("0/2 files"), "{:?}", screen.rows());
        b.show(&Event::Failed { path: "proj/x", why: "no" });
        b.show(&Event::Done { action: "uploaded", path: "proj/a", bytes: 1 << 20 });
        b.show(&Event::Done { action: "uploaded", path: "proj/big video 大.bin", bytes: 299 << 20 });
        b.finish();
        drop(b);
        assert_eq!(screen.rows(), ["made proj/sub", "moved to the trash: proj/old", "failed: proj/x: no"]);
        for row in screen.0.lock().unwrap().split(|b| *b == b'\r') {
            assert!(width::width(&String::from_utf8_lossy(row)) < 80 + 4, "{:?}", String::from_utf8_lossy(row));
        }
    }
}
