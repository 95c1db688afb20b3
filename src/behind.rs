//! Keeping a large transfer's page-cache footprint small, for both sides.
//! The client writing a download hands every window written to the kernel
//! for writeback at once, and drops the window two before it, written back
//! by then, from the cache ([`Behind`]). The server sending a large file
//! drops what it sent the same way (clean pages go at once, those still
//! in flight in the socket two windows later), and drops an upload's bytes
//! after each of its flushes ([`drop_cached`]).
//!
//! Without this, a transfer of N bytes takes N bytes of fresh memory for
//! its page cache. Fresh memory is the slow kind: on a virtual machine whose
//! free pages go back to the host (free page reporting), each new page is a
//! host fault, and writing a new file ran at about 300 MB/s there against
//! 2.4 GB/s into recycled pages. Dropping clean pages behind the writer lets
//! the next windows reuse them. Both calls are advice: on error, or for
//! pages not yet clean (or still in use), the kernel simply keeps them, as
//! without this. The cost: a file read again soon after is read from the
//! disk again (1.6-1.9 GB/s on the machine of docs/BENCHMARKS.md, above
//! MD5's speed).

use std::fs::File;

/// Bytes per window.
const WINDOW: u64 = 8 << 20;

/// The writer's position and the windows handed to the kernel so far.
pub(crate) struct Behind {
    /// Start of the window being written.
    window: u64,
    /// Starts of the two windows handed for writeback last, older first
    /// (the older is dropped at the next window's end).
    lagging: [Option<u64>; 2],
}

impl Behind {
    /// Starts at `offset` (where a resumed download goes on writing).
    pub(crate) fn new(offset: u64) -> Behind {
        Behind { window: offset, lagging: [None, None] }
    }

    /// Notes that everything before `written` is in the file (or sent from
    /// it); at each window's end, starts its writeback (or drops it, when
    /// clean) and drops the one two before.
    pub(crate) fn wrote(&mut self, file: &File, written: u64) {
        if written - self.window < WINDOW {
            return;
        }
        if let [Some(old), Some(next)] = self.lagging {
            drop_cached(file, old, next - old);
        }
        drop_cached(file, self.window, written - self.window);
        self.lagging = [self.lagging[1], Some(self.window)];
        self.window = written;
    }
}

/// `posix_fadvise(DONTNEED)` over `len` bytes from `offset`, errors
/// ignored: starts writeback of dirty pages there and drops the clean ones.
/// The server's upload path (`storage::staging`) uses it too, after its
/// `fdatasync` windows.
pub(crate) fn drop_cached(file: &File, offset: u64, len: u64) {
    let _ = crate::sys::drop_cached(file, offset, len);
}
