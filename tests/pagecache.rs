//! Large uploads and the page cache: the server drops what each of its
//! background flushes made durable, so a large upload does not leave its
//! whole size cached; and staged bytes dropped from the cache still serve
//! a resume that reads them back.

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};

use common::{Server, bytes, files_under, fixture, md5_hex};

const MIB: usize = 1 << 20;
/// Bytes of `path` in the page cache (as `fincore` counts them).
fn cached(path: &Path) -> usize {
    netdisk::sys::resident_pages(&File::open(path).unwrap()).unwrap() * netdisk::sys::page_size()
}

/// The committed file `name` of some user, under the data directory.
fn stored(s: &Server, name: &str) -> PathBuf {
    let found = files_under(&s.data).into_iter().find(|f| f.ends_with(&format!("/{name}")) && !f.contains("trash"));
    s.data.join(found.unwrap_or_else(|| panic!("{name} not stored")))
}

#[test]
fn a_large_upload_leaves_little_of_itself_in_the_page_cache() {
    let s = fixture!();
    let data = bytes(160 * MIB, 11);
    let mut c = s.user("pia");
    assert_eq!(c.upload("big", &data), format!("226 {} {}", data.len(), md5_hex(&data)));
    let held = cached(&stored(&s, "big"));
    // Flushed every 32 MiB and dropped after each flush: what stays is the
    // stretch after the last flush that finished before the commit.
    assert!(held <= 80 * MIB, "{} MiB of 160 still cached", held / MIB);
}

#[test]
fn a_resume_reads_back_staged_bytes_dropped_from_the_cache() {
    let s = fixture!();
    let data = bytes(100 * MIB, 12);
    let md5 = md5_hex(&data);
    let mut c = s.user("pia");
    c.ok(&format!("upload big {} {md5}", data.len()), "150 0 ");
    c.send(&data[..80 * MIB]);
    drop(c);
    s.wait_log("outcome=interrupted", 1);
    // FROM 40 MiB: the prefix is hashed again from the staged file, whose
    // first windows were flushed and dropped from the cache.
    let mut c = s.user("pia");
    let from = 40 * MIB;
    c.ok(&format!("upload big {} {md5} {from}", data.len()), &format!("150 {from} {}", md5_hex(&data[..from])));
    c.send(&data[from..]);
    assert_eq!(c.line(), format!("226 {} {md5}", data.len()));
    assert_eq!(md5_hex(&std::fs::read(stored(&s, "big")).unwrap()), md5);
}

#[test]
fn a_large_download_from_an_offset_is_whole_and_leaves_little_cached() {
    let s = fixture!();
    let data = bytes(100 * MIB, 13);
    let mut c = s.user("pia");
    assert_eq!(c.upload("big", &data), format!("226 {} {}", data.len(), md5_hex(&data)));
    let file = stored(&s, "big");
    // Read whole here first: all of it in the page cache.
    assert_eq!(std::fs::read(&file).unwrap().len(), data.len());
    let from = 10 * MIB + 123;
    let head = c.ok(&format!("download big {from}"), "150 ");
    assert_eq!(head, format!("150 {} {} {from}", data.len(), md5_hex(&data)));
    let got = c.bytes(data.len() - from);
    assert_eq!(c.line(), "226 transfer complete", "{}", c.transcript);
    assert!(got == data[from..], "the payload differs from the file");
    // Sent and dropped in 8 MiB windows (the last ones, and any still in
    // the socket two windows later, stay).
    let held = cached(&file);
    assert!(held <= 64 * MIB, "{} MiB of 100 still cached", held / MIB);
}
