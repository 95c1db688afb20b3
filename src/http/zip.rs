//! Streamed ZIP archives (APPNOTE 6.3.10) of stored members; their
//! CRC-32 is `http::crc32`.
//!
//! Each member's size is known before its bytes (the file is open), so
//! local headers carry the sizes; the CRC-32, computed while the bytes
//! go out, follows in a data descriptor (flag bit 3). A member of
//! [`SEND_FROM`] bytes or more goes out with `sendfile` (the bytes are
//! never copied into this process) while a second thread computes its
//! CRC-32 from the same open file with `pread`: both read one inode,
//! whose bytes never change once committed (every commit renames a new
//! inode into place), so the CRC is the CRC of what was sent. Names are UTF-8
//! with the language-encoding flag (bit 11). ZIP64 fields appear when a
//! member or offset passes 4 GiB or the archive holds 65,535 entries or
//! more. The central directory is spooled to an unlinked file, so
//! memory does not grow with the archive.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::SystemTime;

use crate::clock::civil_from_days;
use crate::http::crc32::Crc32;

/// Past these, a field goes to the ZIP64 extra field or records.
const MAX32: u64 = 0xFFFF_FFFF;
const MAX16: u64 = 0xFFFF;
/// General purpose flags: sizes and CRC in a data descriptor (bit 3);
/// names in UTF-8 (bit 11).
const FLAGS: u16 = 0x0808;
/// Made by Unix (3), spec 4.5 (ZIP64).
const MADE_BY: u16 = (3 << 8) | 45;

/// Members from this size on are sent with `sendfile` beside a CRC
/// thread; smaller ones are read, checksummed and written through the
/// output's buffer (a thread per small member would cost more than it
/// saves, and small members share chunks).
pub(crate) const SEND_FROM: u64 = 1 << 20;
/// Bytes the CRC thread reads at a time (fits the L2 cache).
const CRC_BUF: usize = 256 * 1024;

/// Where an archive goes: bytes, and a file's bytes handed on without
/// passing through this process (`sendfile` for a socket).
pub(crate) trait Sink: Write {
    /// Writes the `len` bytes of `file` from its position; fails if the
    /// file ends first.
    fn send_file(&mut self, file: &mut File, len: u64) -> io::Result<()>;
}

/// An archive being written to `out`: the offset reached, and the
/// central directory so far (in a spool file).
pub(crate) struct Writer<W: Sink> {
    out: W,
    offset: u64,
    entries: u64,
    central: io::BufWriter<File>,
    central_len: u64,
}

impl<W: Sink> Writer<W> {
    /// An archive written to `out`, its central directory spooled in
    /// `spool` (an unlinked file of our own).
    pub(crate) fn new(out: W, spool: File) -> Writer<W> {
        Writer { out, offset: 0, entries: 0, central: io::BufWriter::new(spool), central_len: 0 }
    }

    /// Adds a folder member (`name` ends with `/`).
    pub(crate) fn add_dir(&mut self, name: &str, mtime: SystemTime) -> io::Result<()> {
        self.member(name, mtime, 0, 0o40755, None)
    }

    /// Adds a file member of `size` bytes of `file` (from its position);
    /// fails if the file ends early (it shrank), and never sends past
    /// `size`.
    pub(crate) fn add_file(&mut self, name: &str, mtime: SystemTime, size: u64, file: &mut File) -> io::Result<()> {
        self.member(name, mtime, size, 0o100644, Some(file))
    }

    fn member(
        &mut self,
        name: &str,
        mtime: SystemTime,
        size: u64,
        mode: u32,
        data: Option<&mut File>,
    ) -> io::Result<()> {
        let (time, date) = dos_time(mtime);
        let start = self.offset;
        let big = size >= MAX32;
        let mut local = Vec::with_capacity(64 + name.len());
        local.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        local.extend_from_slice(&(if big { 45u16 } else { 20 }).to_le_bytes());
        local.extend_from_slice(&FLAGS.to_le_bytes());
        local.extend_from_slice(&0u16.to_le_bytes()); // stored
        local.extend_from_slice(&time.to_le_bytes());
        local.extend_from_slice(&date.to_le_bytes());
        local.extend_from_slice(&0u32.to_le_bytes()); // CRC: in the descriptor
        let small = if big { MAX32 as u32 } else { size as u32 };
        local.extend_from_slice(&small.to_le_bytes());
        local.extend_from_slice(&small.to_le_bytes());
        local.extend_from_slice(&(name.len() as u16).to_le_bytes());
        local.extend_from_slice(&(if big { 20u16 } else { 0 }).to_le_bytes());
        local.extend_from_slice(name.as_bytes());
        if big {
            local.extend_from_slice(&1u16.to_le_bytes());
            local.extend_from_slice(&16u16.to_le_bytes());
            local.extend_from_slice(&size.to_le_bytes());
            local.extend_from_slice(&size.to_le_bytes());
        }
        self.write(&local)?;
        let crc = match data {
            None => Crc32::default().value(),
            Some(file) if size >= SEND_FROM => self.send(file, size)?,
            Some(file) => self.copy(file, size)?,
        };
        let mut descriptor = Vec::with_capacity(24);
        descriptor.extend_from_slice(&0x0807_4b50u32.to_le_bytes());
        descriptor.extend_from_slice(&crc.to_le_bytes());
        if big {
            descriptor.extend_from_slice(&size.to_le_bytes());
            descriptor.extend_from_slice(&size.to_le_bytes());
        } else {
            descriptor.extend_from_slice(&(size as u32).to_le_bytes());
            descriptor.extend_from_slice(&(size as u32).to_le_bytes());
        }
        self.write(&descriptor)?;
        let record = central_record(name, (time, date), crc, size, start, mode);
        self.central.write_all(&record)?;
        self.central_len += record.len() as u64;
        self.entries += 1;
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.offset += bytes.len() as u64;
        Ok(())
    }

    /// Sends exactly `size` bytes of `file` with [`Sink::send_file`]
    /// while a second thread computes their CRC-32 (a failure of either
    /// stops the other); returns the CRC. Without a thread to spare, the
    /// member is copied as a small one is.
    fn send(&mut self, file: &mut File, size: u64) -> io::Result<u32> {
        let reader = file.try_clone()?;
        let at = file.stream_position()?;
        let stop = AtomicBool::new(false);
        let done = thread::scope(|s| {
            let spawned = thread::Builder::new()
                .name("zip crc".into())
                .stack_size(64 * 1024)
                .spawn_scoped(s, || crc_of(&reader, at, size, &stop));
            let worker = spawned.ok()?;
            let sent = self.out.send_file(file, size);
            if sent.is_err() {
                stop.store(true, Ordering::Relaxed);
            }
            let crc = worker.join().unwrap_or_else(|_| Err(io::Error::other("the CRC thread panicked")));
            Some((sent, crc))
        });
        let Some((sent, crc)) = done else { return self.copy(file, size) };
        sent?;
        self.offset += size;
        crc
    }

    /// Copies exactly `size` bytes, returning their CRC-32.
    fn copy(&mut self, data: &mut impl Read, size: u64) -> io::Result<u32> {
        let mut crc = Crc32::default();
        let mut buf = vec![0u8; 64 * 1024];
        let mut left = size;
        while left > 0 {
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let n = data.read(&mut buf[..want])?;
            if n == 0 {
                return Err(shrank());
            }
            crc.update(&buf[..n]);
            self.write(&buf[..n])?;
            left -= n as u64;
        }
        Ok(crc.value())
    }

    /// Writes the central directory and the end records; returns the
    /// output and the archive's length.
    pub(crate) fn finish(mut self) -> io::Result<(W, u64)> {
        let central_at = self.offset;
        self.central.flush()?;
        let spool = self.central.get_mut();
        spool.seek(SeekFrom::Start(0))?;
        let copied = io::copy(spool, &mut self.out)?;
        self.offset += copied;
        let (entries, size) = (self.entries, self.central_len);
        let zip64 = entries >= MAX16 || size >= MAX32 || central_at >= MAX32;
        let mut end = Vec::with_capacity(120);
        if zip64 {
            let record_at = self.offset;
            end.extend_from_slice(&0x0606_4b50u32.to_le_bytes());
            end.extend_from_slice(&44u64.to_le_bytes());
            end.extend_from_slice(&MADE_BY.to_le_bytes());
            end.extend_from_slice(&45u16.to_le_bytes());
            end.extend_from_slice(&0u32.to_le_bytes());
            end.extend_from_slice(&0u32.to_le_bytes());
            end.extend_from_slice(&entries.to_le_bytes());
            end.extend_from_slice(&entries.to_le_bytes());
            end.extend_from_slice(&size.to_le_bytes());
            end.extend_from_slice(&central_at.to_le_bytes());
            end.extend_from_slice(&0x0706_4b50u32.to_le_bytes());
            end.extend_from_slice(&0u32.to_le_bytes());
            end.extend_from_slice(&record_at.to_le_bytes());
            end.extend_from_slice(&1u32.to_le_bytes());
        }
        end.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes());
        let count = entries.min(MAX16) as u16;
        end.extend_from_slice(&count.to_le_bytes());
        end.extend_from_slice(&count.to_le_bytes());
        end.extend_from_slice(&(size.min(MAX32) as u32).to_le_bytes());
        end.extend_from_slice(&(central_at.min(MAX32) as u32).to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes());
        self.write(&end)?;
        self.out.flush()?;
        Ok((self.out, self.offset))
    }
}

/// The CRC-32 of `size` bytes of `file` from `at`, read with `pread`
/// (the file's position is the sender's); stops early, with an error,
/// when `stop` is raised or the file ends first.
fn crc_of(file: &File, at: u64, size: u64, stop: &AtomicBool) -> io::Result<u32> {
    let mut crc = Crc32::default();
    let mut buf = vec![0u8; CRC_BUF];
    let mut done = 0;
    while done < size {
        if stop.load(Ordering::Relaxed) {
            return Err(io::Error::other("the member was not sent"));
        }
        let want = buf.len().min(usize::try_from(size - done).unwrap_or(usize::MAX));
        let n = match file.read_at(&mut buf[..want], at + done) {
            Ok(0) => return Err(shrank()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        crc.update(&buf[..n]);
        done += n as u64;
    }
    Ok(crc.value())
}

/// The error of a member that ended before its size.
pub(crate) fn shrank() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "a file shrank while it was zipped")
}

/// One central directory record, with a ZIP64 extra field for what
/// does not fit 32 bits.
fn central_record(name: &str, (time, date): (u16, u16), crc: u32, size: u64, at: u64, mode: u32) -> Vec<u8> {
    let mut extra = Vec::new();
    if size >= MAX32 {
        extra.extend_from_slice(&size.to_le_bytes());
        extra.extend_from_slice(&size.to_le_bytes());
    }
    if at >= MAX32 {
        extra.extend_from_slice(&at.to_le_bytes());
    }
    let zip64 = !extra.is_empty();
    let mut r = Vec::with_capacity(46 + name.len() + 4 + extra.len());
    r.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
    r.extend_from_slice(&MADE_BY.to_le_bytes());
    r.extend_from_slice(&(if zip64 { 45u16 } else { 20 }).to_le_bytes());
    r.extend_from_slice(&FLAGS.to_le_bytes());
    r.extend_from_slice(&0u16.to_le_bytes());
    r.extend_from_slice(&time.to_le_bytes());
    r.extend_from_slice(&date.to_le_bytes());
    r.extend_from_slice(&crc.to_le_bytes());
    let small = size.min(MAX32) as u32;
    r.extend_from_slice(&small.to_le_bytes());
    r.extend_from_slice(&small.to_le_bytes());
    r.extend_from_slice(&(name.len() as u16).to_le_bytes());
    r.extend_from_slice(&(if zip64 { 4 + extra.len() as u16 } else { 0 }).to_le_bytes());
    r.extend_from_slice(&0u16.to_le_bytes()); // comment
    r.extend_from_slice(&0u16.to_le_bytes()); // disk
    r.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
    let dos_dir = if mode & 0o40000 != 0 { 0x10 } else { 0 };
    r.extend_from_slice(&((mode << 16) | dos_dir).to_le_bytes());
    r.extend_from_slice(&(at.min(MAX32) as u32).to_le_bytes());
    r.extend_from_slice(name.as_bytes());
    if zip64 {
        r.extend_from_slice(&1u16.to_le_bytes());
        r.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        r.extend_from_slice(&extra);
    }
    r
}

/// MS-DOS time and date of `t` in UTC (2-second steps, 1980 to 2107).
fn dos_time(t: SystemTime) -> (u16, u16) {
    let secs = crate::clock::secs(t).clamp(315_532_800, 4_354_819_198);
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rest = secs % 86_400;
    let time = ((rest / 3600) << 11) | ((rest % 3600 / 60) << 5) | (rest % 60 / 2);
    let date = ((y as u64 - 1980) << 9) | (u64::from(m) << 5) | u64::from(d);
    (time as u16, date as u16)
}

/// The top folder's name in an archive: `:`, `\`, and leading or trailing
/// dots and spaces become `_` (HTTP.md "Share links").
pub(crate) fn top_name(name: &str) -> String {
    let chars: Vec<char> = name.chars().map(|c| if c == ':' || c == '\\' { '_' } else { c }).collect();
    let edge = |c: &char| *c == '.' || *c == ' ';
    let lead = chars.iter().take_while(|c| edge(c)).count();
    let trail = chars[lead..].iter().rev().take_while(|c| edge(c)).count();
    let mut out = String::new();
    for (i, c) in chars.iter().enumerate() {
        out.push(if i < lead || i >= chars.len() - trail { '_' } else { *c });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_names_lose_what_windows_refuses_at_the_edges() {
        assert_eq!(top_name("a:b\\c"), "a_b_c");
        assert_eq!(top_name(" .x. "), "__x__");
        assert_eq!(top_name("..."), "___");
        assert_eq!(top_name("文件"), "文件");
    }

    #[test]
    fn dos_times_are_clamped_to_their_range() {
        assert_eq!(dos_time(SystemTime::UNIX_EPOCH), (0, (1 << 5) | 1));
    }
}
