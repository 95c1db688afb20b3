//! Framing of one connection: request lines read with a length limit and
//! a deadline, replies sent whole, a gentle close after a refusal, files
//! sent with the kernel's zero-copy path, and whether more input waits.
//!
//! Generic over [`Socket`] (any `Read + Write`), so framing can be tested
//! without a network; a `TcpStream` adds real timeouts and shutdown.
//! Nothing here knows a command or a user; nothing here may panic on what
//! the client sends.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use crate::proto::{MAX_LINE, Reply};
use crate::server::config::MAX_DURATION;
use crate::server::shared::Slot;

/// The buffer a listing is written through: its memory, whatever the
/// listing's size.
pub(crate) const LISTING_BUFFER: usize = 64 * 1024;

/// A byte stream a session runs over.
pub(crate) trait Socket: Read + Write {
    /// Bounds how long the next read may block (`None`: for ever).
    fn read_timeout(&self, _wait: Option<Duration>) {}

    /// Tells the peer nothing more will be written.
    fn shutdown_write(&self) {}

    /// Whether bytes (or the end) can be read at once, without blocking.
    fn has_input(&self) -> bool {
        false
    }

    /// Sends `len` bytes of `file` from its position; returns how many
    /// went out before an error or EOF. A `TcpStream` uses `sendfile`
    /// (see `crate::sendfile`).
    fn send_file(&mut self, file: &mut File, len: u64) -> u64
    where
        Self: Sized,
    {
        const STEP: u64 = 16 << 20;
        let mut sent = 0;
        while sent < len {
            match io::copy(&mut file.take(STEP.min(len - sent)), self) {
                Ok(0) | Err(_) => break,
                Ok(n) => sent += n,
            }
        }
        sent
    }
}

impl Socket for TcpStream {
    fn read_timeout(&self, wait: Option<Duration>) {
        let _ = self.set_read_timeout(wait);
    }

    fn shutdown_write(&self) {
        let _ = self.shutdown(Shutdown::Write);
    }

    /// One `recv(MSG_PEEK | MSG_DONTWAIT)`: the socket stays blocking.
    fn has_input(&self) -> bool {
        crate::sys::has_input(self)
    }

    fn send_file(&mut self, file: &mut File, len: u64) -> u64 {
        crate::sendfile::send_file_behind(file, self, len).0
    }
}

/// A line read from the client, or why there is none.
pub(crate) enum Input {
    Line(Vec<u8>),
    TooLong,
    Timeout,
    Closed,
}

/// One framed connection and its slot in the connection count.
pub(crate) struct Framed<S: Socket> {
    /// Given back before the socket closes (declared before `reader`, so
    /// also on a panic).
    slot: Option<Slot>,
    /// One stream serves both directions: reads go through the buffer,
    /// writes straight to the stream.
    reader: BufReader<S>,
}

impl<S: Socket> Framed<S> {
    pub(crate) fn new(stream: S, slot: Option<Slot>) -> Framed<S> {
        Framed { slot, reader: BufReader::with_capacity(4096, stream) }
    }

    /// The stream, e.g. for a takeover to shut it from another thread.
    pub(crate) fn stream(&self) -> &S {
        self.reader.get_ref()
    }

    /// The buffered reader, for payloads (bytes already buffered first).
    pub(crate) fn reader(&mut self) -> &mut BufReader<S> {
        &mut self.reader
    }

    /// Leaves the connection count now, before the client sees the close.
    pub(crate) fn give_back_slot(&mut self) {
        self.slot = None;
    }

    /// Reads one line of at most [`MAX_LINE`] bytes before `deadline`.
    pub(crate) fn read_line(&mut self, deadline: Instant) -> Input {
        let mut line = Vec::new();
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Input::Timeout;
            }
            self.reader.get_ref().read_timeout(Some(deadline - now));
            let buf = match self.reader.fill_buf() {
                Ok([]) => return Input::Closed,
                Ok(buf) => buf,
                Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Input::Closed,
            };
            if let Some(i) = buf.iter().position(|b| *b == b'\n') {
                if line.len() + i + 1 > MAX_LINE {
                    return Input::TooLong;
                }
                line.extend_from_slice(&buf[..i]);
                self.reader.consume(i + 1);
                return Input::Line(line);
            }
            if line.len() + buf.len() >= MAX_LINE {
                return Input::TooLong;
            }
            line.extend_from_slice(buf);
            let n = buf.len();
            self.reader.consume(n);
        }
    }

    pub(crate) fn send(&mut self, reply: &Reply) -> io::Result<()> {
        self.send_bytes(reply.to_wire().as_bytes())
    }

    /// Sends replies already put on the wire's form, in one write.
    pub(crate) fn send_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.reader.get_mut().write_all(bytes)
    }

    /// A buffer of [`LISTING_BUFFER`] bytes in front of the socket, for
    /// the lines of a long reply; flush it before dropping it.
    pub(crate) fn writer(&mut self) -> io::BufWriter<&mut S> {
        io::BufWriter::with_capacity(LISTING_BUFFER, self.reader.get_mut())
    }

    /// Whether a request (or part of one) can be read without waiting:
    /// buffered here, or in the socket.
    pub(crate) fn has_input(&self) -> bool {
        !self.reader.buffer().is_empty() || self.reader.get_ref().has_input()
    }

    /// Sends a final reply, then closes without resetting the connection
    /// under the client's feet: our side is shut down for writing and what
    /// the client is still sending is drained for a moment.
    pub(crate) fn refuse_and_close(&mut self, reply: &Reply) -> io::Result<()> {
        self.slot = None;
        self.send(reply)?;
        self.reader.get_ref().shutdown_write();
        let deadline = later(Instant::now(), Duration::from_millis(500));
        let mut left: usize = 8 << 20;
        let mut sink = vec![0u8; 16 * 1024];
        while let Some(wait) = deadline.checked_duration_since(Instant::now()).filter(|w| !w.is_zero())
            && left > 0
        {
            let stream = self.reader.get_mut();
            stream.read_timeout(Some(wait));
            match stream.read(&mut sink) {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
        Ok(())
    }

    /// Sends `len` bytes of `file`; see [`Socket::send_file`].
    pub(crate) fn send_file(&mut self, file: &mut File, len: u64) -> u64 {
        self.reader.get_mut().send_file(file, len)
    }
}

/// `start + wait`, never overflowing: the flags keep `wait` within 30 days,
/// and a longer `wait` that an `Instant` cannot hold is cut to 30 days.
pub(crate) fn later(start: Instant, wait: Duration) -> Instant {
    start.checked_add(wait).or_else(|| start.checked_add(MAX_DURATION)).unwrap_or(start)
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Code;

    /// Input from a byte string; output collected.
    struct Script {
        input: io::Cursor<Vec<u8>>,
        output: Vec<u8>,
    }

    impl Read for Script {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.input.read(buf)
        }
    }

    impl Write for Script {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.output.write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Socket for Script {}

    fn framed(input: &[u8]) -> Framed<Script> {
        Framed::new(Script { input: io::Cursor::new(input.to_vec()), output: Vec::new() }, None)
    }

    fn far() -> Instant {
        later(Instant::now(), Duration::from_secs(60))
    }

    #[test]
    fn reads_lines_refuses_long_ones_and_sees_the_end() {
        let mut long = vec![b'a'; MAX_LINE];
        long.push(b'\n');
        let mut f = framed(b"pwd\r\nls\n");
        assert!(matches!(f.read_line(far()), Input::Line(l) if l == b"pwd\r"));
        assert!(matches!(f.read_line(far()), Input::Line(l) if l == b"ls"));
        assert!(matches!(f.read_line(far()), Input::Closed));
        assert!(matches!(framed(&long).read_line(far()), Input::TooLong));
        assert!(matches!(framed(b"x\n").read_line(Instant::now()), Input::Timeout));
    }

    #[test]
    fn sends_replies_and_files_and_closes_gently() {
        let mut f = framed(b"left over bytes");
        f.send(&Reply::new(Code::Ready, "netdisk ready")).unwrap();
        let path = std::env::temp_dir().join(format!("netdisk-conn-{}", std::process::id()));
        std::fs::write(&path, b"hello").unwrap();
        assert_eq!(f.send_file(&mut File::open(&path).unwrap(), 5), 5);
        let _ = std::fs::remove_file(&path);
        f.refuse_and_close(&Reply::new(Code::Closing, "bye")).unwrap();
        assert_eq!(f.stream().output, b"220 netdisk ready\r\nhello421 bye\r\n");
        assert!(matches!(f.read_line(far()), Input::Closed), "the rest was drained");
    }
}
