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
//! The terminal is raw only while the prompt waits for a line (or a
//! password). Raw mode turns signals off (`ISIG`), so Ctrl-C, Ctrl-Z and
//! Ctrl-D arrive as keys there. While a command runs the terminal is as
//! the user had it: Ctrl-C raises `SIGINT`, whose handler sets a flag that
//! transfers poll ([`interrupted`]); a second Ctrl-C within a second ends
//! the client. `SIGTSTP` restores the terminal before stopping and
//! `SIGCONT` re-enters raw mode and asks for a redraw. A panic hook
//! restores it too. Nothing here knows about netdisk.

use std::ffi::{c_int, c_long, c_ulong};
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::lineedit::{Decoder, Editor, Outcome};

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
struct Timespec {
    sec: c_long,
    nsec: c_long,
}

unsafe extern "C" {
    fn tcgetattr(fd: c_int, t: *mut Termios) -> c_int;
    fn tcsetattr(fd: c_int, when: c_int, t: *const Termios) -> c_int;
    fn isatty(fd: c_int) -> c_int;
    fn signal(sig: c_int, handler: usize) -> usize;
    fn raise(sig: c_int) -> c_int;
    fn poll(fds: *mut PollFd, n: c_ulong, timeout_ms: c_int) -> c_int;
    fn read(fd: c_int, buf: *mut u8, n: usize) -> isize;
    fn write(fd: c_int, buf: *const u8, n: usize) -> isize;
    fn clock_gettime(clock: c_int, ts: *mut Timespec) -> c_int;
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
    }
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
    enter_raw();
    let got = edit(prompt, editor, hidden, complete);
    restore();
    got
}

fn edit(
    prompt: &str,
    editor: &mut Editor,
    hidden: bool,
    complete: &mut dyn FnMut(&str) -> Option<Completion>,
) -> io::Result<Input> {
    let mut decoder = KEYS.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        while let Some(key) = decoder.next_key() {
            let outcome = editor.apply(key);
            if let Some(done) = react(outcome, prompt, editor, hidden, complete)? {
                return Ok(done);
            }
        }
        show(prompt, editor, hidden)?;
        let Some(bytes) = read_keys(&mut decoder)? else {
            return Ok(Input::Eof);
        };
        decoder.push(&bytes);
    }
}

fn show(prompt: &str, editor: &Editor, hidden: bool) -> io::Result<()> {
    if hidden { draw(prompt, "", 0) } else { draw(prompt, &editor.line(), editor.cursor()) }
}

/// Acts on what a key did; `Some` when the line is over.
fn react(
    outcome: Outcome,
    prompt: &str,
    editor: &mut Editor,
    hidden: bool,
    complete: &mut dyn FnMut(&str) -> Option<Completion>,
) -> io::Result<Option<Input>> {
    match outcome {
        Outcome::Submit(line) => {
            draw(prompt, if hidden { "" } else { &line }, if hidden { 0 } else { line.chars().count() })?;
            newline()?;
            return Ok(Some(Input::Line(line)));
        }
        Outcome::Eof => return newline().map(|_| Some(Input::Eof)),
        Outcome::Interrupted => return out("^C\r\n").map(|_| Some(Input::Interrupted)),
        Outcome::Complete if !hidden => tab(prompt, editor, complete)?,
        Outcome::ClearScreen => out("\x1b[H\x1b[2J")?,
        Outcome::Suspend => suspend(),
        _ => {}
    }
    Ok(None)
}

fn tab(prompt: &str, ed: &mut Editor, complete: &mut dyn FnMut(&str) -> Option<Completion>) -> io::Result<()> {
    let before: String = ed.line().chars().take(ed.cursor()).collect();
    match complete(&before) {
        Some(c) if c.choices.is_empty() => ed.replace(c.start, &c.text),
        Some(c) => out(&format!("\r\n{}\r\n", c.choices.join("  ")))?,
        None => out("\x07")?,
    }
    draw(prompt, &ed.line(), ed.cursor())
}

fn suspend() {
    // The SIGTSTP handler restores the terminal; SIGCONT re-enters raw mode.
    // SAFETY: raising a signal we handle.
    unsafe { raise(SIGTSTP) };
}

/// The next bytes typed; `None` at end of input. Redraws after a resume.
fn read_keys(decoder: &mut Decoder) -> io::Result<Option<Vec<u8>>> {
    loop {
        let wait = if decoder.waiting() { ESCAPE_WAIT_MS } else { -1 };
        let mut fd = PollFd { fd: STDIN, events: POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        let ready = unsafe { poll(&mut fd, 1, wait) };
        if ready < 0 || RESUMED.swap(false, Ordering::SeqCst) {
            // A signal (a resume): the caller redraws with an empty read.
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

/// Draws the prompt and line, and puts the cursor at `cursor`.
fn draw(prompt: &str, line: &str, cursor: usize) -> io::Result<()> {
    let back = line.chars().count() - cursor;
    let left = if back > 0 { format!("\x1b[{back}D") } else { String::new() };
    out(&format!("\r{prompt}{line}\x1b[K{left}"))
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
