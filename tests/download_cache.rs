//! A large download does not keep the whole file in the page cache: the
//! client drops the pages written back behind it, so it recycles memory
//! instead of taking fresh memory for every byte.

mod common;

use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::path::Path;

use common::{bytes, fixture, write_file};

const PAGE: usize = 4096;

unsafe extern "C" {
    fn mmap(addr: *mut u8, len: usize, prot: i32, flags: i32, fd: i32, offset: i64) -> *mut u8;
    fn munmap(addr: *mut u8, len: usize) -> i32;
    fn mincore(addr: *mut u8, len: usize, vec: *mut u8) -> i32;
    fn posix_fadvise(fd: i32, offset: i64, len: i64, advice: i32) -> i32;
}

/// How many of `path`'s pages are in the page cache.
fn resident_pages(path: &Path) -> usize {
    let file = File::open(path).unwrap();
    let len = file.metadata().unwrap().len() as usize;
    const PROT_READ: i32 = 1;
    const MAP_SHARED: i32 = 1;
    // SAFETY: a read-only shared mapping of an open file, unmapped below;
    // `pages` holds one byte per page of it.
    unsafe {
        let addr = mmap(std::ptr::null_mut(), len, PROT_READ, MAP_SHARED, file.as_raw_fd(), 0);
        assert!(addr as isize != -1, "mmap failed");
        let mut pages = vec![0u8; len.div_ceil(PAGE)];
        assert_eq!(mincore(addr, len, pages.as_mut_ptr()), 0, "mincore failed");
        munmap(addr, len);
        pages.iter().filter(|&&p| p & 1 == 1).count()
    }
}

/// Whether this filesystem drops clean pages on advice (tmpfs never does).
fn drops_clean_pages(dir: &Path) -> bool {
    let probe = write_file(dir, "probe.bin", &bytes(1 << 20, 9));
    let file = File::open(&probe).unwrap();
    file.sync_all().unwrap();
    // SAFETY: plain integers on an open descriptor.
    unsafe { posix_fadvise(file.as_raw_fd(), 0, 0, 4) };
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
    let (resident, pages) = (resident_pages(&target), data.len() / PAGE);
    assert!(resident < pages * 3 / 4, "{resident} of {pages} pages still cached");
    assert!(fs::read(&target).unwrap() == data, "downloaded content differs");
}
