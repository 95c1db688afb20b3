//! The terminal: raw mode while a line is edited, always given back; the
//! Ctrl-C flag; reading keys; drawing the line.
//!
//! Raw mode uses a few declared `extern "C"` termios calls (`tcgetattr`,
//! `tcsetattr`, `isatty`) rather than running `stty`: the settings saved at
//! start are restored exactly, with no process started per prompt, and
//! `tcsetattr` is async-signal-safe, so the signal handlers below can give
//! the terminal back themselves (Ctrl-Z, a second Ctrl-C). The `termios`
//! layout and the constants are Linux's; elsewhere line editing is off and
//! the client reads plain lines.
//!
//! The terminal is raw while the prompt waits for a line (or a password)
//! and while a command runs ([`watch`]). Raw mode turns signals off
//! (`ISIG`), so Ctrl-C, Ctrl-Z and Ctrl-D arrive as keys: at the prompt
//! the editor takes them; during a command a watcher thread reads the
//! keyboard, and Ctrl-C sets the flag that transfers poll
//! ([`interrupted`]), a second Ctrl-C within a second ends the client,
//! Ctrl-Z stops the job, and other keys wait for the next prompt. So a
//! Ctrl-C reaches this client only, never the program that started it
//! (`make client` would otherwise report an interrupt at exit), and no
//! `^C` is echoed over a progress bar. Without a terminal (scripts), the
//! terminal driver's `SIGINT` sets the same flag. `SIGTSTP` restores the
//! terminal before stopping and `SIGCONT` re-enters raw mode and asks for
//! a redraw. A panic hook restores it too.
//!
//! The terminal's width comes from `TIOCGWINSZ`, read again after each
//! `SIGWINCH` ([`columns`]); the line is drawn over as many rows as it
//! takes at that width, measured by display width (`width.rs`), and a
//! resize redraws it. Every C declaration of the shell lives in this file.
//! Nothing here knows about netdisk.

use std::ffi::{c_int, c_long, c_ulong};
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::lineedit::{Decoder, Editor, Outcome, cursor_position, position};
use crate::width;

#[repr(C)]
#[derive(Clone, Copy)]
struct Termios {
    iflag: u32,
    oflag: u32,
    cflag: u32,
    lflag: u32,
    line: u8,
    cc: [u8; 32],
    ispeed: u32,
    ospeed: u32,
}

#[repr(C)]
struct PollFd {
    fd: c_int,
    events: i16,
    revents: i16,
}

#[repr(C)]
#[derive(Default)]
struct Winsize {
    rows: u16,
    cols: u16,
    xpixel: u16,
    ypixel: u16,
}

/// glibc's `struct tm`.
#[repr(C)]
struct Tm {
    sec: c_int,
    min: c_int,
    hour: c_int,
    mday: c_int,
    mon: c_int,
    year: c_int,
    wday: c_int,
    yday: c_int,
    isdst: c_int,
    gmtoff: c_long,
    zone: *const std::ffi::c_char,
}

#[repr(C)]
struct Timespec {
    sec: c_long,
    nsec: c_long,
}

unsafe extern "C" {
    fn tcgetattr(fd: c_int, t: *mut Termios) -> c_int;
    fn tcsetattr(fd: c_int, when: c_int, t: *const Termios) -> c_int;
    fn isatty(fd: c_int) -> c_int;
    fn ioctl(fd: c_int, request: c_ulong, ...) -> c_int;
    fn tzset();
    fn localtime_r(t: *const i64, tm: *mut Tm) -> *mut Tm;
    fn signal(sig: c_int, handler: usize) -> usize;
    fn raise(sig: c_int) -> c_int;
    fn poll(fds: *mut PollFd, n: c_ulong, timeout_ms: c_int) -> c_int;
    fn read(fd: c_int, buf: *mut u8, n: usize) -> isize;
    fn write(fd: c_int, buf: *const u8, n: usize) -> isize;
    fn clock_gettime(clock: c_int, ts: *mut Timespec) -> c_int;
    fn pipe(fds: *mut c_int) -> c_int;
    fn close(fd: c_int) -> c_int;
    fn kill(pid: c_int, sig: c_int) -> c_int;
    fn _exit(code: c_int) -> !;
}

const STDIN: c_int = 0;
const TCSADRAIN: c_int = 1;
const ISIG: u32 = 0o1;
const ICANON: u32 = 0o2;
const ECHO: u32 = 0o10;
const IEXTEN: u32 = 0o100000;
const ICRNL: u32 = 0o400;
const IXON: u32 = 0o2000;
const VTIME: usize = 5;
const VMIN: usize = 6;
const SIGINT: c_int = 2;
const SIGCONT: c_int = 18;
const SIGTSTP: c_int = 20;
const SIGWINCH: c_int = 28;
const TIOCGWINSZ: c_ulong = 0x5413;
const SIG_DFL: usize = 0;
const POLLIN: i16 = 1;
const CLOCK_MONOTONIC: c_int = 1;
/// How long to wait for the rest of an escape sequence before dropping it.
const ESCAPE_WAIT_MS: c_int = 50;
/// Two Ctrl-C closer than this end the client.
const DOUBLE_INTERRUPT_NS: i64 = 1_000_000_000;

/// The terminal's settings at start: what is always restored.
static SAVED: OnceLock<Termios> = OnceLock::new();
/// The raw settings, once computed.
static RAW: OnceLock<Termios> = OnceLock::new();
/// Whether the terminal is in raw mode now.
static IN_RAW: AtomicBool = AtomicBool::new(false);
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static RESUMED: AtomicBool = AtomicBool::new(false);
/// The terminal's width as last read; 0: read it again (at start, and
/// after `SIGWINCH`).
static COLUMNS: AtomicUsize = AtomicUsize::new(0);
/// Columns assumed when the width cannot be read (not a terminal).
const DEFAULT_COLUMNS: usize = 80;
/// Monotonic time (ns) of the last Ctrl-C; 0: none yet.
static LAST_INTERRUPT: AtomicI64 = AtomicI64::new(0);
/// Keys typed but not yet used (typed ahead of the next prompt).
static KEYS: Mutex<Decoder> = Mutex::new(Decoder::new());

/// Whether stdin and stdout are terminals this module can edit lines on.
pub fn editing_available() -> bool {
    // SAFETY: isatty only reads its argument.
    cfg!(target_os = "linux") && unsafe { isatty(0) == 1 && isatty(1) == 1 }
}

/// Saves the terminal's settings, and installs the signal handlers and the
/// panic hook that restore them. Call once, before anything else here.
pub fn install(editing: bool) {
    if editing {
        let mut t = std::mem::MaybeUninit::<Termios>::uninit();
        // SAFETY: tcgetattr fills the struct on success (checked).
        if unsafe { tcgetattr(STDIN, t.as_mut_ptr()) } == 0 {
            let saved = unsafe { t.assume_init() };
            let _ = SAVED.set(saved);
            let _ = RAW.set(raw_from(saved));
        }
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            hook(info)
        }));
    }
    // SAFETY: the handlers only touch atomics and async-signal-safe calls.
    unsafe {
        signal(SIGINT, on_interrupt as extern "C" fn(c_int) as usize);
        signal(SIGTSTP, on_stop as extern "C" fn(c_int) as usize);
        signal(SIGCONT, on_continue as extern "C" fn(c_int) as usize);
        signal(SIGWINCH, on_resize as extern "C" fn(c_int) as usize);
    }
}

/// The terminal's width in columns (of stdout, else stderr), read once
/// and again after each resize; 80 when neither is a terminal.
pub fn columns() -> usize {
    match COLUMNS.load(Ordering::SeqCst) {
        0 => {
            let cols = read_columns().unwrap_or(DEFAULT_COLUMNS);
            COLUMNS.store(cols, Ordering::SeqCst);
            cols
        }
        cols => cols,
    }
}

fn read_columns() -> Option<usize> {
    [1, 2].into_iter().find_map(|fd| {
        let mut ws = Winsize::default();
        // SAFETY: TIOCGWINSZ fills one winsize.
        let ok = unsafe { ioctl(fd, TIOCGWINSZ, &mut ws as *mut Winsize) } == 0;
        (ok && ws.cols > 0).then_some(usize::from(ws.cols))
    })
}

extern "C" fn on_resize(_: c_int) {
    COLUMNS.store(0, Ordering::SeqCst);
}

fn raw_from(mut t: Termios) -> Termios {
    t.lflag &= !(ICANON | ECHO | ISIG | IEXTEN);
    t.iflag &= !(IXON | ICRNL);
    t.cc[VMIN] = 1;
    t.cc[VTIME] = 0;
    t
}

fn set(t: Option<&Termios>) {
    if let Some(t) = t {
        // SAFETY: a valid termios from tcgetattr; async-signal-safe.
        unsafe { tcsetattr(STDIN, TCSADRAIN, t) };
    }
}

/// Gives the terminal back its settings from the start.
pub fn restore() {
    IN_RAW.store(false, Ordering::SeqCst);
    set(SAVED.get());
}

fn enter_raw() {
    IN_RAW.store(true, Ordering::SeqCst);
    set(RAW.get());
}

/// Whether Ctrl-C was pressed since [`clear_interrupt`].
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

pub fn clear_interrupt() {
    INTERRUPTED.store(false, Ordering::SeqCst);
}

// `c_long` is `i64` only on 64-bit targets.
#[allow(clippy::useless_conversion)]
fn now_ns() -> i64 {
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: fills `ts`; async-signal-safe.
    unsafe { clock_gettime(CLOCK_MONOTONIC, &mut ts) };
    i64::from(ts.sec) * 1_000_000_000 + i64::from(ts.nsec)
}

/// Records a Ctrl-C; true when it is the second within a second.
pub fn note_interrupt() -> bool {
    let now = now_ns();
    let last = LAST_INTERRUPT.swap(now, Ordering::SeqCst);
    last != 0 && now - last < DOUBLE_INTERRUPT_NS
}

extern "C" fn on_interrupt(_: c_int) {
    interrupt();
}

/// A Ctrl-C: sets the flag; the second within a second leaves at once.
fn interrupt() {
    if note_interrupt() {
        restore();
        let bye = b"\ninterrupted twice: leaving\n";
        // SAFETY: write and _exit are async-signal-safe.
        unsafe {
            write(2, bye.as_ptr(), bye.len());
            _exit(130);
        }
    }
    INTERRUPTED.store(true, Ordering::SeqCst);
}

extern "C" fn on_stop(_: c_int) {
    if IN_RAW.load(Ordering::SeqCst) {
        set(SAVED.get());
    }
    // SAFETY: stop for real: the default action, raised again.
    unsafe {
        signal(SIGTSTP, SIG_DFL);
        raise(SIGTSTP);
    }
}

extern "C" fn on_continue(_: c_int) {
    // SAFETY: as in `install`.
    unsafe { signal(SIGTSTP, on_stop as extern "C" fn(c_int) as usize) };
    if IN_RAW.load(Ordering::SeqCst) {
        set(RAW.get());
        RESUMED.store(true, Ordering::SeqCst);
    }
}

/// A time as the local clock shows it (`TZ`, else `/etc/localtime`):
/// year, month (1-12), day, hour, minute, second, and the offset from UTC
/// in seconds; `None` if the C library cannot say.
pub struct Local {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub offset: i64,
}

/// `secs` since 1970 in the local time zone.
// `c_long` is `i64` only on 64-bit targets.
#[allow(clippy::useless_conversion)]
pub fn local_time(secs: u64) -> Option<Local> {
    static TZ: std::sync::Once = std::sync::Once::new();
    // SAFETY: tzset reads TZ and the zone files; once, before any use.
    TZ.call_once(|| unsafe { tzset() });
    let t = i64::try_from(secs).ok()?;
    let mut tm = std::mem::MaybeUninit::<Tm>::zeroed();
    // SAFETY: localtime_r fills `tm` (checked by its return value).
    let tm = unsafe {
        if localtime_r(&t, tm.as_mut_ptr()).is_null() {
            return None;
        }
        tm.assume_init()
    };
    let n = |v: c_int| u32::try_from(v).ok();
    Some(Local {
        year: i64::from(tm.year) + 1900,
        month: n(tm.mon)? + 1,
        day: n(tm.mday)?,
        hour: n(tm.hour)?,
        minute: n(tm.min)?,
        second: n(tm.sec)?,
        offset: i64::from(tm.gmtoff),
    })
}

/// What the prompt got.
pub enum Input {
    Line(String),
    Eof,
    Interrupted,
}

/// What Tab does: replace chars `start..cursor` with `text`, or show `choices`.
pub struct Completion {
    pub start: usize,
    pub text: String,
    pub choices: Vec<String>,
}

/// Reads one line in raw mode with `editor`; `complete` is asked on Tab
/// with the text before the cursor. With `hidden`, nothing is echoed.
pub fn read_line(
    prompt: &str,
    editor: &mut Editor,
    hidden: bool,
    complete: &mut dyn FnMut(&str) -> Option<Completion>,
) -> io::Result<Input> {
    // A command asking for a password: the watcher lets the keyboard go.
    let watching = stop_watching();
    enter_raw();
    let got = edit(prompt, editor, hidden, complete);
    restore();
    if watching {
        start_watching();
    }
    got
}

fn edit(
    prompt: &str,
    editor: &mut Editor,
    hidden: bool,
    complete: &mut dyn FnMut(&str) -> Option<Completion>,
) -> io::Result<Input> {
    let mut decoder = KEYS.lock().unwrap_or_else(|e| e.into_inner());
    let mut screen = Screen { prompt, hidden, before: String::new() };
    loop {
        while let Some(key) = decoder.next_key() {
            let outcome = editor.apply(key);
            if let Some(done) = react(outcome, &mut screen, editor, complete)? {
                return Ok(done);
            }
        }
        screen.draw(editor)?;
        let Some(bytes) = read_keys(&mut decoder)? else {
            return Ok(Input::Eof);
        };
        decoder.push(&bytes);
    }
}

/// The prompt and line as drawn, over as many rows as they take.
struct Screen<'a> {
    prompt: &'a str,
    hidden: bool,
    /// The prompt and the line up to the cursor, as last drawn: where the
    /// cursor is, to go back to the first row.
    before: String,
}

impl Screen<'_> {
    /// Draws the prompt and the line from the first row of the last
    /// drawing, and puts the cursor at its place.
    fn draw(&mut self, editor: &Editor) -> io::Result<()> {
        let (line, cursor) = if self.hidden { (String::new(), 0) } else { (editor.line(), editor.cursor()) };
        let cols = columns();
        let mut text = self.to_top(cols);
        let all = format!("{}{line}", self.prompt);
        text.push_str(&all);
        let end = position(&all, cols);
        let end = if end.1 >= cols {
            // A full last row: the terminal waits to wrap; go to the next.
            text.push_str("\r\n");
            (end.0 + 1, 0)
        } else {
            end
        };
        let before: String = line.chars().take(cursor).collect();
        self.before = format!("{}{before}", self.prompt);
        let (row, col) = cursor_position(&self.before, cols);
        if end.0 > row {
            text.push_str(&format!("\x1b[{}A", end.0 - row));
        }
        text.push('\r');
        if col > 0 {
            text.push_str(&format!("\x1b[{col}C"));
        }
        out(&text)
    }

    /// Back to the first row of what is drawn, erasing it all.
    fn to_top(&self, cols: usize) -> String {
        let (row, _) = cursor_position(&self.before, cols);
        let up = if row > 0 { format!("\x1b[{row}A") } else { String::new() };
        format!("{up}\r\x1b[J")
    }

    /// Draws `line` whole with the cursor after it, then starts a new
    /// row below it: what is printed next goes under the line.
    fn leave(&mut self, line: &str) -> io::Result<()> {
        let mut whole = Editor::default();
        whole.replace(0, line);
        self.draw(&whole)?;
        self.before.clear();
        newline()
    }
}

/// Acts on what a key did; `Some` when the line is over.
fn react(
    outcome: Outcome,
    screen: &mut Screen,
    editor: &mut Editor,
    complete: &mut dyn FnMut(&str) -> Option<Completion>,
) -> io::Result<Option<Input>> {
    match outcome {
        Outcome::Submit(line) => {
            screen.leave(&line)?;
            return Ok(Some(Input::Line(line)));
        }
        Outcome::Eof => {
            screen.leave(&editor.line())?;
            return Ok(Some(Input::Eof));
        }
        Outcome::Interrupted => {
            // The line is dropped already: ^C where the cursor was.
            screen.before.clear();
            return out("^C\r\n").map(|_| Some(Input::Interrupted));
        }
        Outcome::Complete if !screen.hidden => tab(screen, editor, complete)?,
        Outcome::ClearScreen => {
            out("\x1b[H\x1b[2J")?;
            screen.before.clear();
        }
        Outcome::Suspend => suspend(),
        _ => {}
    }
    Ok(None)
}

fn tab(screen: &mut Screen, ed: &mut Editor, complete: &mut dyn FnMut(&str) -> Option<Completion>) -> io::Result<()> {
    let before: String = ed.line().chars().take(ed.cursor()).collect();
    match complete(&before) {
        Some(c) if c.choices.is_empty() => ed.replace(c.start, &c.text),
        Some(c) => {
            screen.leave(&ed.line())?;
            out(&in_columns(&c.choices, columns()).replace('\n', "\r\n"))?;
        }
        None => out("\x07")?,
    }
    Ok(())
}

/// `items` in columns, down then across as `ls` does, each padded to the
/// widest by display width, in lines no wider than `cols` (an item wider
/// than that has a line of its own).
pub fn in_columns(items: &[String], cols: usize) -> String {
    const GAP: usize = 2;
    let widest = items.iter().map(|i| width::width(i)).max().unwrap_or(0);
    let per_row = ((cols + GAP) / (widest + GAP)).max(1);
    let rows = items.len().div_ceil(per_row);
    let mut text = String::new();
    for row in 0..rows {
        let cells: Vec<&String> = items.iter().skip(row).step_by(rows.max(1)).collect();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&width::pad(cell, widest + GAP));
            }
        }
        text.push('\n');
    }
    text
}

/// Ctrl-Z: stops the whole job, as the terminal driver would (the
/// program that started this client too, so that its shell takes over).
fn suspend() {
    // The SIGTSTP handler restores the terminal; SIGCONT re-enters raw mode.
    // SAFETY: signalling our own process group with a signal we handle.
    unsafe { kill(0, SIGTSTP) };
}

/// The keyboard watcher of a running command (see the module docs).
static WATCHER: Mutex<Option<Watcher>> = Mutex::new(None);

struct Watcher {
    /// Written to end the thread.
    wake: c_int,
    thread: std::thread::JoinHandle<()>,
}

/// While the returned guard lives (a command runs), the keyboard is read
/// by a watcher thread in raw mode; nothing without a terminal.
pub fn watch() -> Watch {
    if SAVED.get().is_some() {
        start_watching();
    }
    Watch
}

pub struct Watch;

impl Drop for Watch {
    fn drop(&mut self) {
        stop_watching();
        if SAVED.get().is_some() {
            restore();
        }
    }
}

fn start_watching() {
    let mut watcher = WATCHER.lock().unwrap_or_else(|e| e.into_inner());
    if watcher.is_some() {
        return;
    }
    let mut fds = [0; 2];
    // SAFETY: pipe fills two descriptors on success (checked).
    if unsafe { pipe(fds.as_mut_ptr()) } != 0 {
        return;
    }
    enter_raw();
    let thread = std::thread::spawn(move || watch_keys(fds[0]));
    *watcher = Some(Watcher { wake: fds[1], thread });
}

fn stop_watching() -> bool {
    let Some(w) = WATCHER.lock().unwrap_or_else(|e| e.into_inner()).take() else { return false };
    // SAFETY: one byte to our own pipe, then its end closed.
    unsafe {
        write(w.wake, b"x".as_ptr(), 1);
        close(w.wake);
    }
    let _ = w.thread.join();
    true
}

/// Reads keys until `wake` is readable: Ctrl-C interrupts, Ctrl-Z stops
/// the job, the rest is kept for the next prompt.
fn watch_keys(wake: c_int) {
    loop {
        let mut fds =
            [PollFd { fd: STDIN, events: POLLIN, revents: 0 }, PollFd { fd: wake, events: POLLIN, revents: 0 }];
        // SAFETY: two valid pollfds.
        let ready = unsafe { poll(fds.as_mut_ptr(), 2, -1) };
        if ready < 0 {
            continue;
        }
        if fds[1].revents != 0 || fds[0].revents & !POLLIN != 0 {
            break;
        }
        let mut buf = [0u8; 64];
        // SAFETY: reads into a buffer of that size.
        let n = unsafe { read(STDIN, buf.as_mut_ptr(), buf.len()) };
        if n <= 0 {
            break;
        }
        for &b in &buf[..n as usize] {
            match b {
                0x03 => interrupt(),
                0x1a => suspend(),
                b => KEYS.lock().unwrap_or_else(|e| e.into_inner()).push(&[b]),
            }
        }
    }
    // SAFETY: the read end, ours alone.
    unsafe { close(wake) };
}

/// The next bytes typed; `None` at end of input. Redraws after a resume.
fn read_keys(decoder: &mut Decoder) -> io::Result<Option<Vec<u8>>> {
    loop {
        let wait = if decoder.waiting() { ESCAPE_WAIT_MS } else { -1 };
        let mut fd = PollFd { fd: STDIN, events: POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        let ready = unsafe { poll(&mut fd, 1, wait) };
        if ready < 0 || RESUMED.swap(false, Ordering::SeqCst) {
            // A signal (a resume, a resize): the caller redraws with an
            // empty read.
            return Ok(Some(Vec::new()));
        }
        if ready == 0 {
            decoder.flush();
            continue;
        }
        let mut buf = [0u8; 256];
        // SAFETY: reads into a buffer of that size.
        let n = unsafe { read(STDIN, buf.as_mut_ptr(), buf.len()) };
        match n {
            0 => return Ok(None),
            n if n < 0 => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            n => return Ok(Some(buf[..n as usize].to_vec())),
        }
    }
}

fn newline() -> io::Result<()> {
    out("\r\n")
}

fn out(text: &str) -> io::Result<()> {
    let mut o = io::stdout().lock();
    o.write_all(text.as_bytes())?;
    o.flush()
}

/// Asks for a secret on the terminal without echoing it; `None` after
/// Ctrl-C or Ctrl-D, or without a terminal.
pub fn read_secret(prompt: &str) -> Option<String> {
    SAVED.get()?;
    match read_line(prompt, &mut Editor::default(), true, &mut |_| None) {
        Ok(Input::Line(secret)) => Some(secret),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_in_columns_by_display_width() {
        let items: Vec<String> =
            ["文档一.txt", "a.txt", "照片/", "music/", "長い名前のファイル.md"].map(String::from).to_vec();
        let text = in_columns(&items, 80);
        // The widest takes 21 columns: three columns of 23, down then across.
        let want = format!(
            "{}{}{}\n{}{}\n",
            width::pad("文档一.txt", 23),
            width::pad("照片/", 23),
            "長い名前のファイル.md",
            width::pad("a.txt", 23),
            "music/"
        );
        assert_eq!(text, want);
        for cols in [10, 30, 50] {
            for row in in_columns(&items, cols).lines() {
                assert!(width::width(row) <= cols.max(21), "{cols}: {row:?}");
            }
        }
        assert_eq!(in_columns(&items, 30).lines().count(), 5, "one a row when two do not fit");
    }
}
