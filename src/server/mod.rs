//! The accept loop, connection limits and one named thread per
//! connection. The state sessions share is in [`shared`]; framing in
//! `conn`; a session's state machine in [`session`].
//!
//! The accept loop never exits on a client's account: over-limit
//! connections get `421` and are closed, a failed thread spawn refuses that
//! one client, and accept errors (e.g. out of file descriptors) back off
//! instead of spinning. A panic in a session ends that session only.

pub(crate) mod account;
pub mod admin;
pub(crate) mod backoff;
pub(crate) mod claim;
pub mod config;
pub(crate) mod conn;
pub(crate) mod download;
pub(crate) mod error;
pub(crate) mod files;
pub(crate) mod group;
pub(crate) mod handler;
pub(crate) mod listing;
pub use crate::log;
mod open_files;
pub(crate) mod quota;
pub(crate) mod session;
pub(crate) mod shared;
pub(crate) mod sharing;
pub(crate) mod takeover;
pub(crate) mod upload;
pub(crate) mod view;

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crate::server::config::Config;
use crate::server::shared::{Conn, Shared};
use crate::storage::DataDir;
use crate::storage::accounts::finish_deletions;
use crate::storage::content::Store;
use crate::storage::shares::Shares;
use crate::storage::staging::sweep;
use crate::storage::{health, trash, usage};

/// Stack of a session thread: sessions keep their buffers on the heap.
const STACK: usize = 128 * 1024;

/// What serves one connection.
type Handler = fn(&Shared, Conn, SocketAddr);

/// A bound server.
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
}

impl Server {
    /// Prepares the data directory and binds the listening socket; an
    /// error names the directory or the address it is about.
    pub fn bind(config: Config) -> io::Result<Server> {
        open_data_dir(&config.data)?;
        let listener = TcpListener::bind(&config.listen)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {}: {e}", config.listen)))?;
        Ok(Server { listener, shared: Arc::new(Shared::new(config)) })
    }

    /// The state this server's sessions share, for another face (HTTP)
    /// to serve from.
    pub fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until the process ends.
    pub fn run(self) {
        match open_files::raise() {
            Ok(n) => log::server("start", format!("open files limit {n}")),
            Err(e) => log::server("start", format!("open files limit not raised: {e}")),
        }
        self.start_sweeper();
        self.accept_loop(session::run);
    }

    /// Accepts connections for ever, each served by `handler` on its own
    /// thread.
    fn accept_loop(&self, handler: Handler) {
        for stream in self.listener.incoming() {
            match stream {
                Ok(stream) => self.admit(stream, handler),
                Err(e) => {
                    log::server("accept", e);
                    thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }

    fn admit(&self, stream: TcpStream, handler: Handler) {
        let Ok(peer) = stream.peer_addr() else { return };
        let Some(slot) = self.shared.enter(peer.ip()) else {
            log::event(Some(peer), "-", "connect", "", "421 too many connections", 0);
            return refuse(stream, "421 too many connections\r\n");
        };
        let shared = Arc::clone(&self.shared);
        let spare = stream.try_clone();
        let conn = Conn { slot: Some(slot), stream };
        let spawned = thread::Builder::new().name(format!("conn {peer}")).stack_size(STACK).spawn(move || {
            let served = catch_unwind(AssertUnwindSafe(|| handler(&shared, conn, peer)));
            if served.is_err() {
                log::event(Some(peer), "-", "session", "", "panic", 0);
            }
        });
        if let Err(e) = spawned {
            log::event(Some(peer), "-", "connect", "", format!("421 no thread: {e}"), 0);
            if let Ok(s) = spare {
                refuse(s, "421 server busy\r\n");
            }
        }
    }

    /// Removes stale staged uploads, expired trash entries and leftovers
    /// of interrupted trash requests now and then periodically.
    fn start_sweeper(&self) {
        let shared = Arc::clone(&self.shared);
        let ttl = shared.config.partial_ttl;
        let every = (ttl / 2).clamp(Duration::from_secs(1), Duration::from_secs(3600));
        let _ = thread::Builder::new().name("sweeper".into()).spawn(move || {
            let mut first = true;
            loop {
                // A failing storage is read-only for the sweeper too.
                if health::failing().is_some() {
                    session::tell_if_failing();
                    thread::sleep(every);
                    continue;
                }
                let removed = sweep(&shared.data.stagings(), ttl);
                if removed > 0 {
                    log::server("sweep", format!("removed {removed} stale staged files"));
                }
                if let Err(e) = shared.users.tidy() {
                    log::server("sweep", format!("users leftovers: {e}"));
                }
                let removed = trash::sweep(&shared.data, shared.config.trash_days, first, &shared.sums);
                if removed > 0 || first {
                    log::server("sweep", format!("trash: removed {removed} expired or leftover entries"));
                }
                if removed > 0 {
                    usage::forget_all(&shared.data.usages());
                }
                sweep_content(&shared);
                if first {
                    log::server("sweep", "start-up sweep done");
                }
                first = false;
                session::tell_if_failing();
                let finished = finish_deletions(&shared.data, &shared.sums);
                if finished > 0 {
                    log::server("sweep", format!("finished {finished} interrupted account deletions"));
                }
                thread::sleep(every);
            }
        });
    }
}

/// Collects store entries nothing links any more, and expired shares.
fn sweep_content(shared: &Shared) {
    let data = &shared.data;
    let entries = Store::new(data, shared.config.dedup).sweep(&shared.sums);
    if entries > 0 {
        log::server("sweep", format!("store: removed {entries} unused entries"));
    }
    let shares = Shares::new(data).sweep();
    if shares > 0 {
        log::server("sweep", format!("shares: removed {shares} expired or leftover shares"));
    }
}

/// Makes the data directory's parts. A missing data directory is created,
/// and logged, but only as the last component of its path: under a
/// mistyped parent the server refuses to start instead of growing a tree.
fn open_data_dir(data: &std::path::Path) -> io::Result<()> {
    let about =
        |e: &io::Error, what: &str| io::Error::new(e.kind(), format!("data directory {}: {what}", data.display()));
    match std::fs::create_dir(data) {
        Ok(()) => log::server("start", format!("created the data directory {}", data.display())),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(about(&e, "its parent directory does not exist")),
        Err(e) => return Err(about(&e, &e.to_string())),
    }
    for sub in DataDir::new(data).made_at_start() {
        let name = sub.file_name().unwrap_or_default().to_string_lossy().into_owned();
        std::fs::create_dir_all(&sub).map_err(|e| about(&e, &format!("{name}: {e}")))?;
    }
    Ok(())
}

/// Tells an unserved client why, without blocking the accept loop.
fn refuse(stream: TcpStream, line: &str) {
    let _ = stream.set_nonblocking(true);
    let _ = (&stream).write_all(line.as_bytes());
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// Panics for a client that says `p`, answers `ok` otherwise.
    fn touchy(_: &Shared, conn: Conn, _: SocketAddr) {
        let mut stream = &conn.stream;
        let mut byte = [0u8; 1];
        let _ = stream.read_exact(&mut byte);
        assert_ne!(byte[0], b'p', "a deliberate panic in a session");
        let _ = stream.write_all(b"ok");
    }

    fn ask(addr: SocketAddr, what: &[u8]) -> Vec<u8> {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(what).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        out
    }

    #[test]
    fn a_panicking_session_ends_alone_and_frees_its_slot() {
        let data = std::env::temp_dir().join(format!("netdisk-panic-{}", std::process::id()));
        let config = Config { listen: "127.0.0.1:0".into(), data: data.clone(), max_clients: 1, ..Config::default() };
        let server = Server::bind(config).unwrap();
        let addr = server.local_addr().unwrap();
        thread::spawn(move || server.accept_loop(touchy));
        assert_eq!(ask(addr, b"p"), b"", "the panicking session just ends");
        // With one slot, a second client is only served if the first one's
        // slot came back, despite the panic, before the client saw the close.
        assert_eq!(ask(addr, b"x"), b"ok");
        assert_eq!(ask(addr, b"y"), b"ok");
        let _ = std::fs::remove_dir_all(data);
    }
}
