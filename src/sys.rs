//! Every C function, constant and struct netdisk uses, in one place, and
//! the only `unsafe` calls into C of the crate.
//!
//! Each declaration has the type the C library gives it on the supported
//! targets, Linux on x86_64 and on aarch64 (LP64, 64-bit `off_t`, glibc or
//! musl); anything else refuses to build, rather than call with a wrong
//! layout or flag value. Every function here is safe to call: it takes
//! descriptors as [`AsFd`] (open for the call by construction) and paths as
//! [`Path`], and turns `-1`/`errno` into [`io::Error`]. The tests use these
//! too, instead of declaring their own.
//!
//! Never add a declaration elsewhere; never expose a raw pointer.

use std::ffi::{CString, c_char, c_int, c_uint, c_void};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

#[cfg(not(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64"))))]
compile_error!(
    "netdisk builds for Linux on x86_64 or aarch64 only: src/sys.rs holds the C types and constants of those targets"
);

/// `off_t`: 64 bits on both supported targets.
type OffT = i64;
/// `rlim_t`.
type RlimT = u64;

/// `O_NONBLOCK` for `open(2)`: opening a FIFO swapped in under us must not
/// hang (0o4000 on x86_64 and aarch64; other architectures differ).
pub const O_NONBLOCK: c_int = 0o4000;
/// `O_NOFOLLOW` for `open(2)`: a symbolic link at the last component is
/// refused, never followed.
#[cfg(target_arch = "x86_64")]
pub const O_NOFOLLOW: c_int = 0o400000;
/// `O_NOFOLLOW` (aarch64 numbers it differently).
#[cfg(target_arch = "aarch64")]
pub const O_NOFOLLOW: c_int = 0o100000;
/// `EINVAL`.
pub const EINVAL: c_int = 22;
/// `ENOSYS`.
pub const ENOSYS: c_int = 38;
/// `EDQUOT`: a file-system quota (of the server's account) is exhausted.
/// Rust's `io::ErrorKind::QuotaExceeded` covers it; the number is for
/// the tests that inject it.
pub const EDQUOT: c_int = 122;
/// `renameat2` flag: fail with `EEXIST` rather than replace.
pub const RENAME_NOREPLACE: c_uint = 1;

const MSG_PEEK: c_int = 2;
const MSG_DONTWAIT: c_int = 0x40;
const POSIX_FADV_DONTNEED: c_int = 4;
const SYNC_FILE_RANGE_WRITE: c_uint = 2;
const RLIMIT_NOFILE: c_int = 7;
const AT_FDCWD: c_int = -100;
const PROT_READ: c_int = 1;
const MAP_SHARED: c_int = 1;
const SC_PAGESIZE: c_int = 30;
const MADV_DONTNEED: c_int = 4;

/// `pthread_attr_t`: opaque, 56 bytes with glibc on x86_64 and with musl,
/// 64 with glibc on aarch64; room for the largest.
#[repr(C, align(8))]
struct PthreadAttr([u8; 64]);

/// `struct rlimit`: the soft and the hard limit.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Rlimit {
    /// The soft limit, in force.
    pub cur: RlimT,
    /// The hard limit, the most the soft one may be raised to.
    pub max: RlimT,
}

unsafe extern "C" {
    fn syncfs(fd: c_int) -> c_int;
    fn sync_file_range(fd: c_int, offset: OffT, nbytes: OffT, flags: c_uint) -> c_int;
    fn posix_fadvise(fd: c_int, offset: OffT, len: OffT, advice: c_int) -> c_int;
    fn sendfile(out_fd: c_int, in_fd: c_int, offset: *mut OffT, count: usize) -> isize;
    fn recv(fd: c_int, buf: *mut c_void, len: usize, flags: c_int) -> isize;
    fn getrlimit(resource: c_int, limit: *mut Rlimit) -> c_int;
    fn setrlimit(resource: c_int, limit: *const Rlimit) -> c_int;
    fn renameat2(
        olddirfd: c_int,
        oldpath: *const c_char,
        newdirfd: c_int,
        newpath: *const c_char,
        flags: c_uint,
    ) -> c_int;
    fn mmap(addr: *mut c_void, len: usize, prot: c_int, flags: c_int, fd: c_int, offset: OffT) -> *mut c_void;
    fn munmap(addr: *mut c_void, len: usize) -> c_int;
    fn mincore(addr: *mut c_void, len: usize, vec: *mut u8) -> c_int;
    fn sysconf(name: c_int) -> std::ffi::c_long;
    fn madvise(addr: *mut c_void, len: usize, advice: c_int) -> c_int;
    /// `pthread_t` is an integer (glibc) or a pointer (musl): 64 bits.
    fn pthread_self() -> usize;
    fn pthread_getattr_np(thread: usize, attr: *mut PthreadAttr) -> c_int;
    fn pthread_attr_getstack(attr: *const PthreadAttr, addr: *mut *mut c_void, size: *mut usize) -> c_int;
    fn pthread_attr_destroy(attr: *mut PthreadAttr) -> c_int;
    /// Fills a `struct statfs` (at most 120 bytes on every Linux target;
    /// the caller passes more).
    fn fstatfs(fd: c_int, buf: *mut u64) -> c_int;
}

/// `f_type` of `fstatfs(2)`: the magic number of the file system holding
/// `fd`. The field is a `long` (`__fsword_t`) on every Linux target but
/// s390x, where it is an `unsigned int`; magic numbers fit in 32 bits.
pub fn fs_magic(fd: impl AsFd) -> io::Result<u64> {
    let mut buf = [0u64; 32];
    // SAFETY: `buf` (256 bytes) is larger than `struct statfs` on every
    // Linux target and outlives the call; the descriptor stays open.
    check(unsafe { fstatfs(fd.as_fd().as_raw_fd(), buf.as_mut_ptr()) })?;
    if cfg!(target_arch = "s390x") || cfg!(target_pointer_width = "32") {
        // The first four bytes in memory, whatever the byte order.
        let b = buf[0].to_ne_bytes();
        Ok(u64::from(u32::from_ne_bytes([b[0], b[1], b[2], b[3]])))
    } else {
        Ok(buf[0] & 0xffff_ffff)
    }
}

/// `0` is success, anything else the error in `errno`.
fn check(rc: c_int) -> io::Result<()> {
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// `syncfs(2)`: flushes everything written to the file system holding
/// `fd` (since Linux 5.8 it also reports a write-back error of any file
/// there since the descriptor's last look).
pub fn sync_fs(fd: impl AsFd) -> io::Result<()> {
    // SAFETY: the descriptor is open for the call (borrowed through AsFd).
    check(unsafe { syncfs(fd.as_fd().as_raw_fd()) })
}

/// `sync_file_range(SYNC_FILE_RANGE_WRITE)` over the whole file: starts
/// writing its dirty pages back without waiting. Advice: it reports no
/// write-back error that a later fsync would miss.
pub fn start_writeback(fd: impl AsFd) -> io::Result<()> {
    // SAFETY: plain integers; the descriptor is open for the call.
    check(unsafe { sync_file_range(fd.as_fd().as_raw_fd(), 0, 0, SYNC_FILE_RANGE_WRITE) })
}

/// `posix_fadvise(POSIX_FADV_DONTNEED)` over `len` bytes from `offset`
/// (`len` 0: to the end): starts write-back of the dirty pages there and
/// drops the clean ones from the page cache.
pub fn drop_cached(fd: impl AsFd, offset: u64, len: u64) -> io::Result<()> {
    let (Ok(offset), Ok(len)) = (OffT::try_from(offset), OffT::try_from(len)) else {
        return Err(io::Error::from_raw_os_error(EINVAL));
    };
    // SAFETY: plain integers; the descriptor is open for the call.
    match unsafe { posix_fadvise(fd.as_fd().as_raw_fd(), offset, len, POSIX_FADV_DONTNEED) } {
        0 => Ok(()),
        errno => Err(io::Error::from_raw_os_error(errno)),
    }
}

/// `sendfile(2)` from `input`'s position: up to `count` bytes to `out`;
/// the bytes sent (0 at the end of the file).
pub fn send_file(out: impl AsFd, input: impl AsFd, count: usize) -> io::Result<usize> {
    let (out, input) = (out.as_fd().as_raw_fd(), input.as_fd().as_raw_fd());
    // SAFETY: two descriptors open for the call and a null offset (the
    // kernel uses and moves the file's position).
    let n = unsafe { sendfile(out, input, std::ptr::null_mut(), count) };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// Whether a byte is waiting on socket `fd`: one `recv(MSG_PEEK |
/// MSG_DONTWAIT)`, which takes nothing and never blocks (the socket stays
/// blocking for everything else).
pub fn has_input(fd: impl AsFd) -> bool {
    let mut byte = 0u8;
    // SAFETY: a one-byte buffer that outlives the call; the descriptor is
    // open for it.
    let n = unsafe { recv(fd.as_fd().as_raw_fd(), (&raw mut byte).cast(), 1, MSG_PEEK | MSG_DONTWAIT) };
    n > 0
}

/// The process's limits on open files (`getrlimit(RLIMIT_NOFILE)`).
pub fn open_files_limit() -> io::Result<Rlimit> {
    let mut limit = Rlimit { cur: 0, max: 0 };
    // SAFETY: `limit` is a valid, writable `struct rlimit` for the call.
    check(unsafe { getrlimit(RLIMIT_NOFILE, &mut limit) })?;
    Ok(limit)
}

/// Sets the process's limits on open files (`setrlimit(RLIMIT_NOFILE)`).
pub fn set_open_files_limit(limit: Rlimit) -> io::Result<()> {
    // SAFETY: `limit` is a valid `struct rlimit` that outlives the call.
    check(unsafe { setrlimit(RLIMIT_NOFILE, &limit) })
}

/// `renameat2(2)` of `from` to `to` (both relative to the working
/// directory when relative) with `flags` ([`RENAME_NOREPLACE`]).
pub fn rename_with(from: &Path, to: &Path, flags: c_uint) -> io::Result<()> {
    let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput));
    let (a, b) = (c(from)?, c(to)?);
    // SAFETY: both pointers are NUL-terminated strings that outlive the call.
    check(unsafe { renameat2(AT_FDCWD, a.as_ptr(), AT_FDCWD, b.as_ptr(), flags) })
}

/// The size of a memory page (4 KiB on x86_64; 4, 16 or 64 KiB on aarch64).
pub fn page_size() -> usize {
    // SAFETY: a plain integer argument; sysconf reads no memory of ours.
    let n = unsafe { sysconf(SC_PAGESIZE) };
    usize::try_from(n).unwrap_or(4096)
}

/// Gives back to the system the pages of the calling thread's stack
/// below its current frame (`madvise(MADV_DONTNEED)`; the next touch
/// finds them zeroed, as new). A thread that waits for long after deep
/// work (an idle keep-alive connection after a request) then keeps only
/// the stack its waiting uses. Pages below the stack pointer hold no live
/// data; 1 KiB under this function's local is kept (the rest of its small
/// frame, and the call to `madvise`). Does nothing when the stack's
/// bounds are unknown.
#[inline(never)]
pub fn release_stack_below() {
    /// Room below this frame for the call to `madvise`, kept.
    const MARGIN: usize = 1024;
    let here = 0u8;
    let page = page_size();
    let sp = std::hint::black_box(&raw const here) as usize;
    let Some(low) = stack_low() else { return };
    let low = low.next_multiple_of(page);
    let end = sp.saturating_sub(MARGIN) & !(page - 1);
    if end > low {
        // SAFETY: whole pages of this thread's own stack, all below the
        // current frame (and 1 KiB of margin): no live data is there,
        // and DONTNEED on a private mapping only zeroes them.
        unsafe { madvise(low as *mut c_void, end - low, MADV_DONTNEED) };
    }
}

/// The lowest address of the calling thread's stack, found once per
/// thread (`pthread_getattr_np` reads the affinity and allocates).
fn stack_low() -> Option<usize> {
    thread_local! {
        static LOW: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
    }
    if let Some(low) = LOW.get() {
        return Some(low);
    }
    let mut attr = PthreadAttr([0; 64]);
    let (mut addr, mut size) = (std::ptr::null_mut(), 0usize);
    // SAFETY: `attr` has room for a `pthread_attr_t`; it is destroyed
    // only after `pthread_getattr_np` initialised it; `addr` and `size`
    // are writable for the call.
    let found = unsafe {
        pthread_getattr_np(pthread_self(), &mut attr) == 0 && {
            let got = pthread_attr_getstack(&attr, &mut addr, &mut size) == 0;
            pthread_attr_destroy(&mut attr);
            got
        }
    };
    let low = (found && !addr.is_null()).then_some(addr as usize);
    LOW.set(low);
    low
}

/// How many of `file`'s pages are in the page cache (`mincore(2)` over a
/// read-only mapping of it, as `fincore` counts them).
pub fn resident_pages(file: &File) -> io::Result<usize> {
    let len = usize::try_from(file.metadata()?.len()).map_err(|_| io::Error::from_raw_os_error(EINVAL))?;
    if len == 0 {
        return Ok(0);
    }
    let mut pages = vec![0u8; len.div_ceil(page_size())];
    // SAFETY: a fresh read-only shared mapping of an open file, which is
    // only passed to mincore (never read through) and unmapped below.
    let at = unsafe { mmap(std::ptr::null_mut(), len, PROT_READ, MAP_SHARED, file.as_raw_fd(), 0) };
    if at as isize == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `at..at+len` is the mapping made above; `pages` holds one
    // byte per page of it.
    let looked = check(unsafe { mincore(at, len, pages.as_mut_ptr()) });
    // SAFETY: the mapping made above, no longer used.
    unsafe { munmap(at, len) };
    looked?;
    Ok(pages.iter().filter(|p| *p & 1 == 1).count())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn the_calls_work_on_a_plain_file() {
        let dir = std::env::temp_dir().join(format!("netdisk-sys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        let mut file = File::options().read(true).write(true).create(true).truncate(true).open(&path).unwrap();
        file.write_all(&[7u8; 3 * 4096]).unwrap();
        start_writeback(&file).unwrap();
        sync_fs(&file).unwrap();
        drop_cached(&file, 0, 0).unwrap();
        assert!(resident_pages(&file).unwrap() <= 3);
        let limit = open_files_limit().unwrap();
        assert!(limit.cur <= limit.max);
        std::fs::write(dir.join("g"), b"x").unwrap();
        let e = rename_with(&path, &dir.join("g"), RENAME_NOREPLACE).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Resident pages of this thread's stack in `from..to` (`mincore`).
    fn resident_stack(from: usize, to: usize) -> usize {
        let mut pages = vec![0u8; (to - from) / page_size()];
        // SAFETY: a page-aligned range of this thread's stack mapping;
        // `pages` holds one byte per page.
        assert_eq!(unsafe { mincore(from as *mut c_void, to - from, pages.as_mut_ptr()) }, 0);
        pages.iter().filter(|p| *p & 1 == 1).count()
    }

    /// Writes 64 KiB of stack below the caller's frame.
    #[inline(never)]
    fn touch_deep() {
        let buf = [1u8; 64 * 1024];
        std::hint::black_box(&buf);
    }

    #[test]
    fn a_thread_gives_back_the_stack_below_its_frame() {
        let run = || {
            let low = stack_low().expect("the stack's bounds").next_multiple_of(page_size());
            touch_deep();
            let here = 0u8;
            // Well below this frame and the calls made from it.
            let below = (std::hint::black_box(&raw const here) as usize - 16 * 1024) & !(page_size() - 1);
            let before = resident_stack(low, below);
            release_stack_below();
            (before, resident_stack(low, below))
        };
        let spawned = std::thread::Builder::new().stack_size(256 * 1024).spawn(run).unwrap();
        let (before, after) = spawned.join().unwrap();
        assert!(before >= 8, "the deep work touched {before} pages");
        assert_eq!(after, 0, "pages left resident below the frame");
    }
}
