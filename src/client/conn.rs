//! The connection under a [`Client`]: opening it, framing requests and
//! replies, and reconnecting (with login and working directory) after the
//! server closed it.
//!
//! Everything that reads or writes the socket goes through here, so a
//! broken or abandoned connection is always dropped (never reused with
//! unread bytes on it). It never interprets a reply beyond its framing.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use super::{Client, ClientError, Result};
use crate::proto::{Code, Command, Reply, check_field, parse_status};

/// Read buffer size (also the download chunk).
pub(crate) const CHUNK: usize = 256 * 1024;
/// Longest reply line accepted (a listing line holds a 255-byte name).
const MAX_REPLY_LINE: u64 = 64 * 1024;

pub(crate) struct Conn {
    pub(crate) reader: BufReader<TcpStream>,
    pub(crate) writer: TcpStream,
}

impl Conn {
    /// Whether the server has spoken or hung up while we were not asking
    /// (an idle timeout's `421`, or a close): then the connection is over.
    fn is_stale(&mut self) -> bool {
        if !self.reader.buffer().is_empty() {
            return true;
        }
        let stream = self.reader.get_ref();
        if stream.set_nonblocking(true).is_err() {
            return true;
        }
        let mut probe = [0u8; 1];
        let stale = !matches!(stream.peek(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
        stale | stream.set_nonblocking(false).is_err()
    }
}

impl Client {
    pub(crate) fn open(&mut self) -> Result<()> {
        let stream = TcpStream::connect(&self.addr)?;
        let _ = stream.set_nodelay(true);
        let writer = stream.try_clone()?;
        self.conn = Some(Conn { reader: BufReader::with_capacity(CHUNK, stream), writer });
        let greeting = self.read_reply()?;
        if greeting.code != Code::Ready {
            self.conn = None;
            return Err(ClientError::Refused(greeting));
        }
        Ok(())
    }

    /// Reconnects after the server closed the connection, logging in again
    /// and returning to the working directory.
    pub(crate) fn ensure_open(&mut self) -> Result<()> {
        if self.conn.as_mut().is_some_and(Conn::is_stale) {
            self.conn = None;
        }
        if self.conn.is_some() {
            return Ok(());
        }
        self.open()?;
        if let Some((user, pass)) = self.login.clone() {
            self.expect(&Command::Login { user, pass })?;
            let cwd = self.cwd.clone();
            if cwd != "/" {
                self.expect(&Command::Cd { path: cwd })?;
            }
        }
        Ok(())
    }

    pub(crate) fn conn(&mut self) -> Result<&mut Conn> {
        self.conn.as_mut().ok_or_else(|| ClientError::Io(io::ErrorKind::NotConnected.into()))
    }

    /// Forgets the connection (the next request opens a new one).
    pub(crate) fn drop_conn(&mut self) {
        self.conn = None;
    }

    /// Sends one raw line (a `\r\n` is added); a line holding a control
    /// character other than tab is refused, never sent as two.
    pub fn send_line(&mut self, line: &str) -> Result<()> {
        check_field("line", line).map_err(ClientError::Unsendable)?;
        self.send_bytes(format!("{line}\r\n").as_bytes())
    }

    /// Sends bytes as they are (pipelined requests and payloads).
    pub(crate) fn send_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        let conn = self.conn()?;
        let result = conn.writer.write_all(bytes);
        self.check(result)
    }

    pub(crate) fn check<T>(&mut self, result: io::Result<T>) -> Result<T> {
        result.map_err(|e| {
            self.conn = None;
            ClientError::Io(e)
        })
    }

    /// Reads one reply, with the lines a `212`/`214` announces.
    pub fn read_reply(&mut self) -> Result<Reply> {
        let first = self.read_text_line()?;
        let (number, text) = parse_status(&first).ok_or_else(|| ClientError::Protocol(first.clone()))?;
        let code = Code::from_number(number).ok_or_else(|| ClientError::Protocol(first.clone()))?;
        let mut reply = Reply::new(code, text);
        if matches!(code, Code::Listing | Code::Help) {
            let n: usize = reply.words()[0].parse().map_err(|_| ClientError::Protocol(first.clone()))?;
            for _ in 0..n {
                let line = self.read_text_line()?;
                reply.lines.push(line);
            }
        }
        if code == Code::Closing || code == Code::Bye {
            self.conn = None;
        }
        Ok(reply)
    }

    fn read_text_line(&mut self) -> Result<String> {
        let mut line = String::new();
        let conn = self.conn()?;
        // A reply line is short; a server that sends an endless one is cut off.
        let read = (&mut conn.reader).take(MAX_REPLY_LINE).read_line(&mut line);
        match self.check(read)? {
            0 => self.check(Err(io::ErrorKind::UnexpectedEof.into())),
            _ if !line.ends_with('\n') => {
                self.conn = None;
                Err(ClientError::Protocol("reply line too long or cut off".into()))
            }
            _ => Ok(line.trim_end_matches(['\r', '\n']).to_string()),
        }
    }

    /// Sends a command and returns the server's reply, whatever its code.
    pub fn request(&mut self, cmd: &Command) -> Result<Reply> {
        let line = cmd.to_line().map_err(ClientError::Unsendable)?;
        self.ensure_open()?;
        self.send_line(&line)?;
        self.read_reply()
    }

    /// Sends a command; a 4xx/5xx reply becomes [`ClientError::Refused`].
    pub fn expect(&mut self, cmd: &Command) -> Result<Reply> {
        let reply = self.request(cmd)?;
        if reply.is_ok() { Ok(reply) } else { Err(ClientError::Refused(reply)) }
    }

    /// Sends several commands in one write, then reads their replies in
    /// order (none of them may be an `upload`). One reply per command.
    pub fn pipeline(&mut self, cmds: &[Command]) -> Result<Vec<Reply>> {
        let mut text = String::new();
        for cmd in cmds {
            text.push_str(&cmd.to_line().map_err(ClientError::Unsendable)?);
            text.push_str("\r\n");
        }
        self.ensure_open()?;
        self.send_bytes(text.as_bytes())?;
        cmds.iter().map(|_| self.read_reply()).collect()
    }

    /// Says goodbye and closes.
    pub fn quit(&mut self) -> Result<()> {
        if self.conn.is_some() {
            self.send_line("quit")?;
            let _ = self.read_reply();
        }
        self.conn = None;
        Ok(())
    }
}
