//! netdisk: a small, dependable network disk.
//!
//! A server that people register on, log into and keep their files in,
//! over a line-based text protocol with binary payload sections (see
//! `docs/PROTOCOL.md`), plus the client library the example client and the
//! tests use.
//!
//! # Quick start
//!
//! ```text
//! make run-server          # serves ./data on 127.0.0.1:9021
//! nc 127.0.0.1 9021        # 220 netdisk ready
//! make client              # the interactive client
//! ```
//!
//! # Layout
//!
//! - [`proto`]: request and reply wire format, shared with the client
//! - [`server`] and [`session`]: accept loop, limits, one thread per client
//! - [`users`]: the accounts file with salted, iterated MD5 hashes
//! - [`fs`]: the per-user jail ([`fs::UserPath`]) and directory operations
//! - [`transfer`]: staged, verified, resumable uploads; downloads
//! - [`sums`]: the MD5 recorded for each committed file
//! - [`pipe`]: hashing beside I/O
//! - [`client`]: a blocking client library

// Linux only: files are opened with Linux's `O_NONBLOCK` value (0o4000,
// see `transfer.rs`), which other systems and some Linux architectures
// (MIPS, SPARC, Alpha, PA-RISC) number differently. Refuse to build where
// it would be wrong rather than open files with the wrong flag.
#[cfg(not(all(
    target_os = "linux",
    any(
        target_arch = "x86",
        target_arch = "x86_64",
        target_arch = "arm",
        target_arch = "aarch64",
        target_arch = "riscv32",
        target_arch = "riscv64",
        target_arch = "powerpc",
        target_arch = "powerpc64",
        target_arch = "s390x",
        target_arch = "loongarch64"
    )
)))]
compile_error!("netdisk builds for Linux on x86, ARM, RISC-V, POWER, s390x or LoongArch only");

pub mod client;
pub mod clock;
pub mod digest;
pub mod hashing;
pub mod proto;
pub mod server;
pub mod storage;

// Short paths used inside the crate while the modules settle.
pub(crate) use hashing as pipe;
pub(crate) use server::takeover as holders;
pub use server::{config, error, log, session};
pub(crate) use storage::digests as sums;
pub(crate) use storage::staging as transfer;
pub use storage::{tree as fs, users};

pub use config::Config;
pub use digest::Digest;
pub use server::Server;
