//! A large download does not keep the whole file in the page cache: the
//! client drops the pages written back behind it, so it recycles memory
//! instead of taking fresh memory for every byte.

mod common;

use std::fs::{self, File};
use std::path::Path;

use netdisk::sys;

use common::{bytes, fixture, write_file};

/// How many of `path`'s pages are in the page cache.
fn resident_pages(path: &Path) -> usize {
    sys::resident_pages(&File::open(path).unwrap()).unwrap()
}

/// Whether this filesystem drops clean pages on advice (tmpfs never does).
fn drops_clean_pages(dir: &Path) -> bool {
    let probe = write_file(dir, "probe.bin", &bytes(1 << 20, 9));
    let file = File::open(&probe).unwrap();
    file.sync_all().unwrap();
    sys::drop_cached(&file, 0, 0).unwrap();
    let kept = resident_pages(&probe);
    fs::remove_file(&probe).unwrap();
    kept == 0
}

#[test]
fn large_download_leaves_most_of_the_file_out_of_the_page_cache() {
    let s = fixture!();
    if !drops_clean_pages(s.dir()) {
        eprintln!("skipped: this filesystem keeps clean pages cached whatever the advice");
        return;
    }
    let mut c = s.client("alice");
    let data = bytes(64 << 20, 5);
    let local = write_file(s.dir(), "src.bin", &data);
    c.upload(&local, "big.bin", &mut |_| true).unwrap();
    let target = s.dir().join("dst.bin");
    c.download("big.bin", &target, &mut |_| true).unwrap();
    // Counted before reading the file back, which would cache it again.
    let (resident, pages) = (resident_pages(&target), data.len() / sys::page_size());
    assert!(resident < pages * 3 / 4, "{resident} of {pages} pages still cached");
    assert!(fs::read(&target).unwrap() == data, "downloaded content differs");
}
