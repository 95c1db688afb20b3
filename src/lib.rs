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
//! # Architecture
//!
//! ```text
//! main.rs ── flags ─> service::config::Config ─> server::Server (text accept loop)
//!                                              └> http::serve (with --http)
//!
//! faces     server (text protocol)              http (HTTP, WebDAV, tus, web app)
//!             │ uses proto (the text wire format, shared with client)
//!             v                                   v
//! service   service: config, shared state and limits, back-off,
//!           upload holders, Login (imports the engine, no face)
//!             v
//! engine    storage: everything on disk (imports no face, no service and
//!           no wire format): DataDir, tree (the jail), staging, replace
//!           (the commit primitive), quota, digests, trash, users, copies,
//!           find, content, shares, locks, props, error
//!             v
//! leaves    digest, hashing, clock, log, secret, sys, ...
//! ```
//!
//! Arrows only point down; the two faces never import each other.
//!
//! - [`proto`]: the only place protocol text is written or parsed, shared
//!   by the text face and the client
//! - [`server`]: the text face: accept loop; framing; the session and its
//!   handlers; the mapping of engine errors and values to replies;
//!   `netdisk user`
//! - [`http`]: the HTTP face (`docs/HTTP.md`): `/files/`, share links,
//!   browser sessions, the web app and its API, tus uploads, WebDAV at
//!   `/dav/`, on the same engine and state as the text face (`--http ADDR`)
//! - [`service`]: what both faces stand on above the engine: the
//!   configuration ([`service::config`]), the state every connection
//!   shares with the connection limits, the back-off of guesses, who holds
//!   which staged upload, and a logged-in user as a value
//! - [`storage`]: the engine: the data directory's layout
//!   ([`storage::DataDir`]), the per-user jail ([`storage::tree::UserPath`]),
//!   staged uploads, the one commit-and-replace primitive, quota bookings,
//!   recorded MD5s, accounts, the trash, copies, the content store, share
//!   records, WebDAV locks and dead properties, its own
//!   [`storage::error::Error`]
//! - [`client`]: a blocking client library
//! - [`digest`], `hashing`, [`clock`], [`log`], [`secret`]: leaves shared
//!   by all
//! - [`sys`]: every C function, constant and struct used, the only
//!   `unsafe` calls into C (Linux x86_64 and aarch64 only); the one other
//!   `unsafe` is a call of CPU instructions (the ZIPs' CRC-32 folding in
//!   `http::crc32`, after a run-time check of the CPU)
//! - [`storage::health`]: whether the storage may still be written (after
//!   a failed sync it is read-only until restart)
//!
//! `docs/ARCHITECTURE.md` follows one upload through these files.

#![warn(missing_docs)]

// The client library is being reshaped on its own branch, which documents it.
pub(crate) mod behind;
#[allow(missing_docs)]
pub mod client;
pub mod clock;
pub mod digest;
pub(crate) mod hashing;
pub mod http;
pub mod log;
pub mod proto;
pub mod secret;
pub(crate) mod sendfile;
pub mod server;
pub mod service;
pub mod storage;
pub mod sys;

pub use digest::Digest;
pub use server::Server;
pub use service::config::Config;
