//! HTTP/1.1 on the wire, both ways: a request's head read within its
//! limits and parsed into a [`Request`], its body read by length or
//! chunked ([`Body`]), and a [`Response`] head written.
//!
//! Nothing here knows a route or a user. Every limit is a constant with
//! its reason; nothing allocates by a size the client chose (the head
//! buffer is fixed, chunk sizes only count down) and nothing recurses.
//! A framing error is a [`Refusal`]: its status, then the connection
//! closes, because where the next request would start is unknown.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest request line (method, target, version): `414` beyond.
pub(crate) const MAX_REQUEST_LINE: usize = 8 * 1024;
/// Longest header section after the request line: `431` beyond.
pub(crate) const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Most header fields: `431` beyond.
pub(crate) const MAX_FIELDS: usize = 100;
/// Longest chunk-size line (with extensions) and trailer section.
const MAX_CHUNK_LINE: usize = 4 * 1024;
/// The head buffer: a request line and a header section at their limits.
const HEAD_BUF: usize = MAX_REQUEST_LINE + MAX_HEADER_BYTES + 8;

/// A request the framing refuses: the status, and why (for the log).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) status: u16,
    pub(crate) why: &'static str,
}

fn refuse<T>(status: u16, why: &'static str) -> Result<T, Refusal> {
    Err(Refusal { status, why })
}

/// How a request's body is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body (no length, no chunks).
    None,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A parsed request head.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) method: String,
    /// The request target as sent (origin form: path and query).
    pub(crate) target: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub(crate) minor: u8,
    /// Field names in lower case, values trimmed, in order.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) framing: Framing,
    /// `Expect: 100-continue`.
    pub(crate) expects_continue: bool,
    /// Whether the client asked to close (or speaks HTTP/1.0).
    pub(crate) close: bool,
}

impl Request {
    /// The value of the one field `name` (lower case), if present once;
    /// several are joined with `, ` as RFC 9110 §5.3 allows for lists.
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        let mut values = self.headers.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str());
        let first = values.next()?;
        Some(values.fold(first.to_string(), |all, v| format!("{all}, {v}")))
    }

    /// How many fields are named `name`.
    pub(crate) fn count(&self, name: &str) -> usize {
        self.headers.iter().filter(|(n, _)| n == name).count()
    }

    /// The path of the target (before `?`) and the query (after it).
    pub(crate) fn path_and_query(&self) -> (&str, &str) {
        self.target.split_once('?').unwrap_or((&self.target, ""))
    }

    pub(crate) fn is_head(&self) -> bool {
        self.method == "HEAD"
    }
}

/// Why no request head came.
#[derive(Debug)]
pub(crate) enum NoHead {
    /// The peer closed, or was silent until the idle deadline: close quietly.
    Gone,
    /// Bytes came but not a whole head in time: `408`.
    Slow,
    /// The head breaks a rule: its status.
    Refused(Refusal),
}

/// One client connection: the socket and the head buffer, which exists
/// only while a request is being read (an idle connection holds none).
pub(crate) struct Conn {
    /// Shared with the idle registry (`http::idle`), which may shut it.
    pub(crate) stream: Arc<TcpStream>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// How long a body may move no byte.
    pub(crate) stall: Duration,
}

impl Conn {
    pub(crate) fn new(stream: Arc<TcpStream>, stall: Duration) -> Conn {
        Conn { stream, buf: Vec::new(), start: 0, end: 0, stall }
    }

    fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Gives the head buffer back when nothing is left in it, and the
    /// stack pages the request touched below the connection's loop: an
    /// idle keep-alive connection keeps neither (docs/BENCHMARKS.md).
    pub(crate) fn idle(&mut self) {
        if self.start == self.end {
            self.buf = Vec::new();
            (self.start, self.end) = (0, 0);
            crate::sys::release_stack_below();
        }
    }

    /// Waits until `idle_until` for a request to begin, then reads its
    /// head whole within `head_time`.
    pub(crate) fn read_head(&mut self, idle_until: Instant, head_time: Duration) -> Result<Request, NoHead> {
        if self.start == self.end && !self.wait_for_input(idle_until) {
            return Err(NoHead::Gone);
        }
        if self.buf.is_empty() {
            self.buf = vec![0; HEAD_BUF];
        }
        let deadline = Instant::now() + head_time;
        loop {
            self.skip_empty_lines();
            match head_length(self.buffered()) {
                Ok(Some(len)) => {
                    let head = parse_head(&self.buf[self.start..self.start + len]).map_err(NoHead::Refused);
                    self.start += len;
                    return head;
                }
                Ok(None) => {}
                Err(r) => return Err(NoHead::Refused(r)),
            }
            match self.fill(deadline) {
                Ok(0) if self.start == self.end => return Err(NoHead::Gone),
                Ok(0) => return Err(NoHead::Refused(Refusal { status: 400, why: "incomplete head" })),
                Ok(_) => {}
                Err(e) if is_timeout(&e) => return Err(NoHead::Slow),
                Err(_) => return Err(NoHead::Gone),
            }
        }
    }

    /// RFC 9112 §2.2: empty lines before a request line are ignored.
    fn skip_empty_lines(&mut self) {
        while self.start < self.end {
            match self.buf[self.start] {
                b'\n' => self.start += 1,
                b'\r' if self.start + 1 < self.end && self.buf[self.start + 1] == b'\n' => self.start += 2,
                _ => break,
            }
        }
    }

    /// Whether input (or the end) arrives before `until`, without reading it.
    fn wait_for_input(&mut self, until: Instant) -> bool {
        let mut probe = [0u8; 1];
        loop {
            let Some(wait) = until.checked_duration_since(Instant::now()).filter(|w| !w.is_zero()) else {
                return false;
            };
            let _ = self.stream.set_read_timeout(Some(wait));
            match self.stream.peek(&mut probe) {
                Ok(0) => return false,
                Ok(_) => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
        }
    }

    /// Reads more into the head buffer (moving what is left to its start).
    fn fill(&mut self, deadline: Instant) -> io::Result<usize> {
        if self.buf.is_empty() {
            self.buf = vec![0; HEAD_BUF];
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
        }
        if self.end == self.buf.len() {
            return Err(io::Error::other("head buffer full"));
        }
        loop {
            let wait = deadline.checked_duration_since(Instant::now()).filter(|w| !w.is_zero());
            let wait = wait.ok_or_else(|| io::Error::from(io::ErrorKind::TimedOut))?;
            let _ = self.stream.set_read_timeout(Some(wait));
            match (&*self.stream).read(&mut self.buf[self.end..]) {
                Ok(n) => {
                    self.end += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads body bytes: what is buffered first, then the socket, each
    /// read bounded by the stall timeout.
    fn read_raw(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.start < self.end {
            let n = out.len().min(self.end - self.start);
            out[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
            self.start += n;
            return Ok(n);
        }
        let _ = self.stream.set_read_timeout(Some(self.stall));
        loop {
            match (&*self.stream).read(out) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    /// One byte of a chunked body's framing.
    fn byte(&mut self) -> io::Result<u8> {
        let mut b = [0u8; 1];
        match self.read_raw(&mut b)? {
            0 => Err(io::ErrorKind::UnexpectedEof.into()),
            _ => Ok(b[0]),
        }
    }

    /// Writes all of `bytes`, bounded by the stall timeout.
    pub(crate) fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        let _ = self.stream.set_write_timeout(Some(self.stall));
        (&*self.stream).write_all(bytes)
    }

    /// After an answer sent before its request's body was read: shuts
    /// our side for writing and discards input for up to `linger`, so the
    /// client reads the answer instead of a reset.
    pub(crate) fn linger_close(&mut self, linger: Duration) {
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
        let deadline = Instant::now() + linger;
        let mut sink = [0u8; 8192];
        let mut left: usize = 64 << 20;
        while let Some(wait) = deadline.checked_duration_since(Instant::now()).filter(|w| !w.is_zero()) {
            let _ = self.stream.set_read_timeout(Some(wait));
            match (&*self.stream).read(&mut sink) {
                Ok(0) => break,
                Ok(n) if n < left => left -= n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                _ => break,
            }
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

/// The length of the head at the start of `buf` (through its empty
/// line), `None` if more is needed, or the limit it breaks.
fn head_length(buf: &[u8]) -> Result<Option<usize>, Refusal> {
    let Some(first) = buf.iter().position(|&b| b == b'\n') else {
        return if buf.len() > MAX_REQUEST_LINE { refuse(414, "request line too long") } else { Ok(None) };
    };
    if first + 1 > MAX_REQUEST_LINE + 1 {
        return refuse(414, "request line too long");
    }
    let mut at = first + 1;
    let mut fields = 0;
    loop {
        let rest = &buf[at..];
        let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
            return if buf.len() - first - 1 > MAX_HEADER_BYTES {
                refuse(431, "header section too large")
            } else {
                Ok(None)
            };
        };
        let line = &rest[..nl];
        at += nl + 1;
        if at - first - 1 > MAX_HEADER_BYTES {
            return refuse(431, "header section too large");
        }
        if line.is_empty() || line == b"\r" {
            return Ok(Some(at));
        }
        fields += 1;
        if fields > MAX_FIELDS {
            return refuse(431, "too many header fields");
        }
    }
}

/// Splits a head into lines, each without its `\n` and one `\r` before it;
/// a `\r` anywhere else is refused.
fn lines(head: &[u8]) -> Result<Vec<&[u8]>, Refusal> {
    let mut out = Vec::new();
    for line in head.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.contains(&b'\r') {
            return refuse(400, "bare CR");
        }
        out.push(line);
    }
    Ok(out)
}

/// Parses a whole head (request line, fields, empty line).
pub(crate) fn parse_head(head: &[u8]) -> Result<Request, Refusal> {
    let lines = lines(head)?;
    let (method, target, minor) = request_line(lines.first().copied().unwrap_or_default())?;
    let mut headers = Vec::new();
    for line in lines[1..].iter().take_while(|l| !l.is_empty()) {
        headers.push(field(line)?);
    }
    let mut req =
        Request { method, target, minor, headers, framing: Framing::None, expects_continue: false, close: minor == 0 };
    check_host(&req)?;
    req.framing = framing(&req)?;
    req.expects_continue = req.header("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    let connection = req.header("connection").unwrap_or_default().to_ascii_lowercase();
    if connection.split(',').any(|t| t.trim() == "close") {
        req.close = true;
    }
    Ok(req)
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn request_line(line: &[u8]) -> Result<(String, String, u8), Refusal> {
    let text = std::str::from_utf8(line).or(refuse(400, "request line not ASCII"))?;
    let mut parts = text.split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return refuse(400, "malformed request line");
    };
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return refuse(400, "malformed method");
    }
    let minor = match version {
        "HTTP/1.1" => 1,
        "HTTP/1.0" => 0,
        v if v.starts_with("HTTP/") && v.len() == 8 => return refuse(505, "HTTP version not supported"),
        _ => return refuse(400, "malformed version"),
    };
    if target.is_empty() || !target.bytes().all(|b| b.is_ascii_graphic()) {
        return refuse(400, "malformed target");
    }
    Ok((method.to_string(), origin_form(target)?, minor))
}

/// The origin form of a target: the absolute form's path and query
/// (RFC 9112 §3.2.2), `*` as is, or the origin form itself.
fn origin_form(target: &str) -> Result<String, Refusal> {
    if target.starts_with('/') || target == "*" {
        return Ok(target.to_string());
    }
    let lower = target.to_ascii_lowercase();
    let rest = lower.strip_prefix("http://").or_else(|| lower.strip_prefix("https://"));
    match rest {
        Some(rest) => {
            let skip = target.len() - rest.len();
            let path = target[skip..].find('/').map_or("/", |i| &target[skip + i..]);
            Ok(path.to_string())
        }
        None => refuse(400, "malformed target"),
    }
}

fn field(line: &[u8]) -> Result<(String, String), Refusal> {
    if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
        return refuse(400, "obsolete line folding");
    }
    let colon = line.iter().position(|&b| b == b':').ok_or(Refusal { status: 400, why: "field without colon" })?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return refuse(400, "malformed field name (or whitespace before the colon)");
    }
    if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return refuse(400, "control character in a field value");
    }
    let value = String::from_utf8_lossy(value).trim_matches([' ', '\t']).to_string();
    Ok((String::from_utf8_lossy(name).to_ascii_lowercase(), value))
}

fn check_host(req: &Request) -> Result<(), Refusal> {
    match req.count("host") {
        0 if req.minor == 1 => refuse(400, "no Host"),
        0 | 1 => Ok(()),
        _ => refuse(400, "several Host fields"),
    }
}

/// The body's framing (RFC 9112 §6): both length and chunks, a bad or
/// repeated length, chunks in HTTP/1.0 are refused; a coding other
/// than `chunked` is `501`.
fn framing(req: &Request) -> Result<Framing, Refusal> {
    let lengths = req.count("content-length");
    let coding = req.header("transfer-encoding");
    if coding.is_some() && lengths > 0 {
        return refuse(400, "both Content-Length and Transfer-Encoding");
    }
    if let Some(coding) = coding {
        if req.minor == 0 {
            return refuse(400, "Transfer-Encoding in HTTP/1.0");
        }
        let codings: Vec<String> = coding.split(',').map(|c| c.trim().to_ascii_lowercase()).collect();
        return match codings.as_slice() {
            [one] if one == "chunked" => Ok(Framing::Chunked),
            _ => refuse(501, "transfer coding not implemented"),
        };
    }
    match lengths {
        0 => Ok(Framing::None),
        1 => {
            let text = req.header("content-length").unwrap_or_default();
            let ok = !text.is_empty() && text.len() <= 19 && text.bytes().all(|b| b.is_ascii_digit());
            match text.parse::<u64>() {
                Ok(0) if ok => Ok(Framing::None),
                Ok(n) if ok => Ok(Framing::Length(n)),
                _ => refuse(400, "malformed Content-Length"),
            }
        }
        _ => refuse(400, "several Content-Length fields"),
    }
}

/// Where a chunked body's reader is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunk {
    /// Before a chunk-size line.
    Size,
    /// Inside a chunk's data, this many bytes left.
    Data(u64),
    /// After the last chunk and its trailers.
    Done,
}

/// A request's body as a reader. A framing error reads as
/// `InvalidData`, a short or stalled body as `UnexpectedEof` or a
/// timeout; [`Body::complete`] tells whether it was read to its end.
pub(crate) struct Body<'a> {
    conn: &'a mut Conn,
    length: Option<u64>,
    chunk: Chunk,
    /// Body bytes read so far.
    pub(crate) read: u64,
    /// A framing error was met (the connection must close).
    pub(crate) broken: bool,
}

impl<'a> Body<'a> {
    pub(crate) fn new(conn: &'a mut Conn, framing: Framing) -> Body<'a> {
        let (length, chunk) = match framing {
            Framing::None => (Some(0), Chunk::Done),
            Framing::Length(n) => (Some(n), Chunk::Done),
            Framing::Chunked => (None, Chunk::Size),
        };
        Body { conn, length, chunk, read: 0, broken: false }
    }

    /// Whether the whole body was read.
    pub(crate) fn complete(&self) -> bool {
        match self.length {
            Some(n) => self.read == n,
            None => self.chunk == Chunk::Done,
        }
    }

    /// Reads and drops the rest of the body, at most `max` bytes; whether
    /// it ended (else the connection must close).
    pub(crate) fn discard(&mut self, max: u64) -> bool {
        // On the heap: a buffer on the stack would be in the frame of
        // every request (this is inlined into the connection's loop),
        // and an idle keep-alive connection keeps its touched stack.
        let mut sink = vec![0u8; 4096];
        let start = self.read;
        while !self.complete() && self.read - start <= max {
            match self.read(&mut sink) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        self.complete()
    }

    fn invalid(&mut self, why: &str) -> io::Error {
        self.broken = true;
        io::Error::new(io::ErrorKind::InvalidData, why.to_string())
    }

    /// A line of the chunked framing, without its end, bounded.
    fn line(&mut self) -> io::Result<Vec<u8>> {
        let mut line = Vec::new();
        loop {
            match self.conn.byte()? {
                b'\n' => break,
                b => line.push(b),
            }
            if line.len() > MAX_CHUNK_LINE {
                return Err(self.invalid("chunk line too long"));
            }
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Ok(line)
    }

    /// Reads a chunk-size line: hex digits, optional extensions.
    fn chunk_size(&mut self) -> io::Result<u64> {
        let line = self.line()?;
        let digits = line.split(|&b| b == b';').next().unwrap_or_default();
        let digits = digits.strip_suffix(b" ").unwrap_or(digits);
        if digits.is_empty() || digits.len() > 16 || !digits.iter().all(u8::is_ascii_hexdigit) {
            return Err(self.invalid("bad chunk size"));
        }
        let text = std::str::from_utf8(digits).unwrap_or("x");
        u64::from_str_radix(text, 16).map_err(|_| self.invalid("chunk size overflows"))
    }

    /// The trailer section after the last chunk, read and dropped.
    fn trailers(&mut self) -> io::Result<()> {
        let mut total = 0;
        loop {
            let line = self.line()?;
            if line.is_empty() {
                return Ok(());
            }
            total += line.len() + 2;
            if total > MAX_HEADER_BYTES || line.contains(&b'\r') {
                return Err(self.invalid("bad trailer section"));
            }
        }
    }

    fn read_chunked(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.chunk {
                Chunk::Done => return Ok(0),
                Chunk::Size => {
                    let size = self.chunk_size()?;
                    if size == 0 {
                        self.trailers()?;
                        self.chunk = Chunk::Done;
                    } else {
                        self.chunk = Chunk::Data(size);
                    }
                }
                Chunk::Data(left) => {
                    let want = out.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    let n = self.conn.read_raw(&mut out[..want])?;
                    if n == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    let left = left - n as u64;
                    if left == 0 {
                        if self.line()? != b"" {
                            return Err(self.invalid("chunk data longer than its size"));
                        }
                        self.chunk = Chunk::Size;
                    } else {
                        self.chunk = Chunk::Data(left);
                    }
                    self.read += n as u64;
                    return Ok(n);
                }
            }
        }
    }
}

impl Read for Body<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        let Some(length) = self.length else { return self.read_chunked(out) };
        let left = length - self.read;
        if left == 0 {
            return Ok(0);
        }
        let want = out.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.conn.read_raw(&mut out[..want])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.read += n as u64;
        Ok(n)
    }
}

/// The reason phrase of each status this server sends.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        303 => "See Other",
        304 => "Not Modified",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        423 => "Locked",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        507 => "Insufficient Storage",
        _ => "Unknown",
    }
}

/// A response head: status and fields, written in one piece.
#[derive(Debug, Default)]
pub(crate) struct Head {
    pub(crate) status: u16,
    pub(crate) fields: Vec<(&'static str, String)>,
}

impl Head {
    pub(crate) fn new(status: u16) -> Head {
        Head { status, fields: Vec::new() }
    }

    pub(crate) fn set(&mut self, name: &'static str, value: impl Into<String>) {
        let value = value.into();
        match self.fields.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            Some(field) => field.1 = value,
            None => self.fields.push((name, value)),
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The head on the wire. Values never hold a CR or LF: what comes
    /// from names or paths is percent-encoded before it gets here, and
    /// any that slipped through is replaced.
    pub(crate) fn to_wire(&self) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (name, value) in &self.fields {
            let value: String = value.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("\r\n");
        out.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Request, u16> {
        parse_head(text.as_bytes()).map_err(|r| r.status)
    }

    #[test]
    fn heads_parse_and_hostile_heads_are_refused_table() {
        let ok = parse("GET /a?b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n").unwrap();
        assert_eq!((ok.method.as_str(), ok.target.as_str(), ok.framing), ("GET", "/a?b", Framing::Length(5)));
        assert_eq!(parse("GET http://x/y/z HTTP/1.1\r\nHost: x\r\n\r\n").unwrap().target, "/y/z");
        assert!(parse("GET / HTTP/1.0\r\n\r\n").unwrap().close);
        let cases: &[(&str, u16)] = &[
            ("GET / HTTP/1.1\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1,1\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
            ("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", 501),
            ("GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            ("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            ("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
            ("G\u{e9}T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            ("GET /\u{7f} HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nX: \u{1}\r\n\r\n", 400),
            ("GET ftp://x/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ];
        for (head, status) in cases {
            assert_eq!(parse(head).err(), Some(*status), "{head:?}");
        }
    }

    #[test]
    fn head_limits_are_found_before_the_head_ends() {
        let long_line = format!("GET /{} HTTP/1.1", "a".repeat(MAX_REQUEST_LINE));
        assert_eq!(head_length(long_line.as_bytes()).unwrap_err().status, 414);
        let fields = "GET / HTTP/1.1\r\n".to_string() + &"X: y\r\n".repeat(MAX_FIELDS + 1);
        assert_eq!(head_length(fields.as_bytes()).unwrap_err().status, 431);
        let big = "GET / HTTP/1.1\r\nX: ".to_string() + &"y".repeat(MAX_HEADER_BYTES);
        assert_eq!(head_length(big.as_bytes()).unwrap_err().status, 431);
        assert_eq!(head_length(b"GET / HTTP/1.1\r\nHost: a\r\n").unwrap(), None);
        assert_eq!(head_length(b"GET / HTTP/1.1\nHost: a\n\nrest").unwrap(), Some(24));
    }

    #[test]
    fn response_heads_never_carry_line_breaks() {
        let mut head = Head::new(200);
        head.set("X-A", "a\r\nSet-Cookie: x");
        let wire = String::from_utf8(head.to_wire()).unwrap();
        assert_eq!(wire, "HTTP/1.1 200 OK\r\nX-A: a  Set-Cookie: x\r\n\r\n");
    }
}
