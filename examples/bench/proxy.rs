//! A delay proxy: forwards each connection to a target, holding every
//! chunk for a fixed one-way delay in each direction, in order, so a
//! loopback server looks like one across a link with that round trip.
//! std only: per connection and direction, one thread reads and stamps
//! chunks, one thread writes each at its time. Bandwidth is not limited.
//!
//! The bytes wait in a pipe: `splice(2)` moves them from the socket into
//! the pipe and out to the other socket without copying them through user
//! space, so the proxy takes little CPU from the transfer it carries (a
//! real link's delay costs the machine nothing). Where a pipe that large
//! cannot be had (without `CAP_SYS_RESOURCE` a pipe holds at most
//! `/proc/sys/fs/pipe-max-size`), it copies through buffers instead.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::thread;
use std::time::{Duration, Instant};

/// Chunks held in one direction at most (each up to `CHUNK` bytes): the
/// proxy's buffer, so a slow receiver pushes back on the sender.
const IN_FLIGHT: usize = 512;
const CHUNK: usize = 128 << 10;

/// A running proxy; it lives until the process ends.
pub struct Proxy {
    pub addr: String,
}

/// Starts a proxy to `target` with `one_way` delay each direction.
pub fn start(target: &str, one_way: Duration) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
    let addr = listener.local_addr().expect("proxy address").to_string();
    let target: SocketAddr = target.parse().expect("proxy target");
    thread::spawn(move || {
        for client in listener.incoming().flatten() {
            if let Ok(server) = TcpStream::connect(target) {
                join(client, server, one_way);
            }
        }
    });
    Proxy { addr }
}

fn join(a: TcpStream, b: TcpStream, one_way: Duration) {
    let _ = a.set_nodelay(true);
    let _ = b.set_nodelay(true);
    let (a2, b2) = match (a.try_clone(), b.try_clone()) {
        (Ok(a2), Ok(b2)) => (a2, b2),
        _ => return,
    };
    pump(a, b2, one_way);
    pump(b, a2, one_way);
}

/// A chunk read: when it came, the buffer and how many bytes of it.
type Chunk = (Instant, Vec<u8>, usize);

/// Bytes read from `from` are written to `to` `one_way` after they came.
/// Buffers go back from the writer to the reader to be read into again:
/// a fresh allocation per chunk costs a page fault per page on this VM.
fn pump(from: TcpStream, to: TcpStream, one_way: Duration) {
    let named = |name: &str| thread::Builder::new().name(name.into());
    if let Some(first) = pipe() {
        let (tx, rx) = sync_channel(PIPES);
        let (back_tx, back_rx) = channel();
        let _ = named("proxy-read").spawn(move || splice_in(from, first, tx, back_rx));
        let _ = named("proxy-write").spawn(move || splice_out(to, rx, back_tx, one_way));
        return;
    }
    let (tx, rx) = sync_channel(IN_FLIGHT);
    let (back_tx, back_rx) = channel();
    let _ = named("proxy-read").spawn(move || read_side(from, tx, back_rx));
    let _ = named("proxy-write").spawn(move || write_side(to, rx, back_tx, one_way));
}

fn read_side(mut from: TcpStream, tx: SyncSender<Chunk>, back: Receiver<Vec<u8>>) {
    loop {
        let mut buf = back.try_recv().unwrap_or_else(|_| vec![0u8; CHUNK]);
        match from.read(&mut buf) {
            Ok(n) if n > 0 => {
                if tx.send((Instant::now(), buf, n)).is_err() {
                    break;
                }
            }
            _ => break,
        }
    }
    // Dropping `tx` tells the writer: end of stream after what is queued.
}

fn write_side(mut to: TcpStream, rx: Receiver<Chunk>, back: Sender<Vec<u8>>, one_way: Duration) {
    for (came, buf, n) in rx {
        let due = came + one_way;
        let now = Instant::now();
        if due > now {
            thread::sleep(due - now);
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        let _ = back.send(buf);
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// Pipes one direction holds at most, each with one stretch of bytes of
/// up to [`PIPE_BYTES`] (a pipe of 1 MiB is the most an unprivileged
/// process may ask for, `/proc/sys/fs/pipe-max-size`); a stretch is what
/// had arrived when the reader woke, 64 KiB and more at speed, so 512 of
/// them hold what arrives in one delay (25 ms at 1.3 GB/s).
const PIPES: usize = 512;
const PIPE_BYTES: usize = 1 << 20;
/// `fcntl` and `pipe2` values on Linux.
const F_SETPIPE_SZ: i32 = 1031;
const O_CLOEXEC: i32 = 0o2000000;

unsafe extern "C" {
    fn pipe2(fds: *mut i32, flags: i32) -> i32;
    fn fcntl(fd: i32, cmd: i32, ...) -> i32;
    fn splice(fd_in: i32, off_in: *mut i64, fd_out: i32, off_out: *mut i64, len: usize, flags: u32) -> isize;
}

/// A pipe: its read end and its write end.
struct Pipe {
    out: OwnedFd,
    into: OwnedFd,
}

/// A new pipe, made to hold [`PIPE_BYTES`] if the system allows (else it
/// holds less: the kernel's default, 64 KiB).
fn pipe() -> Option<Pipe> {
    let mut fds = [0i32; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { pipe2(fds.as_mut_ptr(), O_CLOEXEC) } != 0 {
        return None;
    }
    // SAFETY: both descriptors were just opened and are owned here alone.
    let (out, into) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: an open descriptor and an int argument, as F_SETPIPE_SZ takes.
    let _ = unsafe { fcntl(into.as_raw_fd(), F_SETPIPE_SZ, PIPE_BYTES as i32) };
    Some(Pipe { out, into })
}

/// Moves up to `len` bytes from `from` to `to` (one of them a pipe);
/// 0 at the end of the input.
fn splice_some(from: &impl AsRawFd, to: &impl AsRawFd, len: usize) -> io::Result<usize> {
    loop {
        // SAFETY: two open descriptors, null offsets (their own positions).
        let n = unsafe { splice(from.as_raw_fd(), std::ptr::null_mut(), to.as_raw_fd(), std::ptr::null_mut(), len, 0) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// A stretch of bytes waiting in its pipe: when it came, and how long.
type Held = (Instant, Pipe, usize);

/// Moves what `from` sends into pipes, one stretch per pipe, as it comes.
/// Pipes come back from the writer; new ones are made up to [`PIPES`].
fn splice_in(from: TcpStream, first: Pipe, tx: SyncSender<Held>, back: Receiver<Pipe>) {
    let mut made = 1;
    let mut next = Some(first);
    while let Some(pipe) = next.take().or_else(|| back.try_recv().ok()).or_else(|| {
        let new = if made < PIPES { pipe() } else { None };
        made += usize::from(new.is_some());
        new.or_else(|| back.recv().ok())
    }) {
        match splice_some(&from, &pipe.into, PIPE_BYTES) {
            Ok(n @ 1..) if tx.send((Instant::now(), pipe, n)).is_ok() => {}
            _ => break,
        }
    }
}

/// Sends each stretch on to `to` once it is due, and gives its pipe back.
fn splice_out(to: TcpStream, rx: Receiver<Held>, back: Sender<Pipe>, one_way: Duration) {
    for (came, pipe, mut len) in rx {
        let due = came + one_way;
        let now = Instant::now();
        if due > now {
            thread::sleep(due - now);
        }
        while len > 0 {
            match splice_some(&pipe.out, &to, len) {
                Ok(n @ 1..) => len -= n,
                _ => break,
            }
        }
        if len > 0 {
            break;
        }
        let _ = back.send(pipe);
    }
    let _ = to.shutdown(Shutdown::Write);
}
