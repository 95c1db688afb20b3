//! The accept loop, connection limits, one named thread per connection,
//! and the state all sessions share.
//!
//! The accept loop never exits on a client's account: over-limit
//! connections get `421` and are closed, a failed thread spawn refuses that
//! one client, and accept errors (e.g. out of file descriptors) back off
//! instead of spinning. A panic in a session ends that session only.

pub mod admin;
pub mod config;
pub mod error;
pub mod log;
pub mod session;
pub mod takeover;

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::holders::{Holders, Reservations};
use crate::storage::accounts::finish_deletions;
use crate::storage::content::Store;
use crate::storage::shares::Shares;
use crate::storage::trash::{self, Trash};
use crate::sums::Sums;
use crate::transfer::sweep;
use crate::users::Users;

/// Stack of a session thread: sessions keep their buffers on the heap.
const STACK: usize = 128 * 1024;
/// Failed logins from one address are remembered this long.
const FAILURE_WINDOW: Duration = Duration::from_secs(600);
/// Registrations one address earns back per second, after its burst of
/// `--register-burst`.
const REGISTER_RATE: f64 = 1.0;

/// What every session can see.
pub struct Shared {
    pub config: Config,
    pub users: Users,
    pub sums: Sums,
    pub holders: Holders,
    /// Bytes booked against the quota by uploads in progress.
    pub(crate) reservations: Reservations,
    conns: Mutex<Conns>,
    failures: Mutex<HashMap<IpAddr, Vec<Instant>>>,
    registrations: Mutex<HashMap<IpAddr, Bucket>>,
}

/// A token bucket: registrations an address may still make, as of `at`.
struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Default)]
struct Conns {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

impl Shared {
    /// A user's visible tree.
    pub fn home(&self, user: &str) -> PathBuf {
        self.config.data.join("home").join(user)
    }

    /// Where a user's interrupted uploads wait.
    pub fn staging(&self, user: &str) -> PathBuf {
        self.config.data.join("staging").join(user)
    }

    /// A user's trash.
    pub(crate) fn trash(&self, user: &str) -> Trash {
        Trash::new(&self.config.data.join("trash"), user, self.config.trash_days)
    }

    /// The quota that applies to `user`: their own (`netdisk user quota`),
    /// else the server's `--quota`; `None` is unlimited. Read from the users
    /// file as it is now, so a change made while the server runs counts at
    /// once.
    pub(crate) fn quota_of(&self, user: &str) -> Option<u64> {
        self.users.quota(user).over(self.config.quota)
    }

    /// Records a failed login from `ip` and returns how long to wait before
    /// answering: 100 ms, doubling with each recent failure from that
    /// address, at most 5 s. Reconnecting does not reset it.
    pub fn login_failed(&self, ip: IpAddr) -> Duration {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if map.len() > 100_000 {
            map.retain(|_, times| times.last().is_some_and(|t| now.duration_since(*t) < FAILURE_WINDOW));
        }
        let times = map.entry(ip).or_default();
        times.retain(|t| now.duration_since(*t) < FAILURE_WINDOW);
        times.push(now);
        let n = times.len().min(7) as u32;
        Duration::from_millis(100 << (n - 1)).min(Duration::from_secs(5))
    }

    /// Takes one registration from `ip`'s bucket; `false` when it is empty.
    /// A full bucket is the same as none, so the map is pruned of them.
    pub(crate) fn may_register(&self, ip: IpAddr) -> bool {
        let burst = f64::from(self.config.register_burst);
        let now = Instant::now();
        let refill = |b: &Bucket| (b.tokens + now.duration_since(b.at).as_secs_f64() * REGISTER_RATE).min(burst);
        let mut map = self.registrations.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, b| refill(b) < burst);
        }
        let bucket = map.entry(ip).or_insert(Bucket { tokens: burst, at: now });
        *bucket = Bucket { tokens: refill(bucket), at: now };
        let allowed = bucket.tokens >= 1.0;
        if allowed {
            bucket.tokens -= 1.0;
        }
        allowed
    }

    /// Counts a new connection in, if the limits allow it.
    fn enter(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        let mine = conns.per_ip.get(&ip).copied().unwrap_or(0);
        if conns.total >= self.config.max_clients || mine >= self.config.max_per_ip {
            return None;
        }
        conns.total += 1;
        *conns.per_ip.entry(ip).or_default() += 1;
        Some(Slot { shared: Arc::clone(self), ip })
    }
}

/// A counted connection; leaving the count happens on drop, even when the
/// session panics. A session gives its slot back before the client can see
/// the connection close (see [`Conn`]), so a client that reconnects at once
/// is never refused for its own old session.
pub struct Slot {
    shared: Arc<Shared>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut conns = self.shared.conns.lock().unwrap_or_else(|e| e.into_inner());
        conns.total -= 1;
        if let Some(n) = conns.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                conns.per_ip.remove(&self.ip);
            }
        }
    }
}

/// An accepted connection and its slot. Fields drop in order: the slot is
/// given back before the socket closes.
pub struct Conn {
    pub slot: Option<Slot>,
    pub stream: TcpStream,
}

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
        std::fs::create_dir_all(config.data.join("trash"))?;
        let shared = Shared {
            users: Users::open(&config.data),
            sums: Sums::new(config.data.join("sums")),
            holders: Holders::default(),
            reservations: Reservations::default(),
            config,
            conns: Mutex::default(),
            failures: Mutex::default(),
            registrations: Mutex::default(),
        };
        Ok(Server { listener, shared: Arc::new(shared) })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until the process ends.
    pub fn run(self) {
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
                let removed = sweep(&shared.config.data.join("staging"), ttl);
                if removed > 0 {
                    log::server("sweep", format!("removed {removed} stale staged files"));
                }
                if let Err(e) = shared.users.tidy() {
                    log::server("sweep", format!("users leftovers: {e}"));
                }
                let (root, days) = (shared.config.data.join("trash"), shared.config.trash_days);
                let removed = trash::sweep(&root, days, first, &shared.sums);
                if removed > 0 || first {
                    log::server("sweep", format!("trash: removed {removed} expired or leftover entries"));
                }
                first = false;
                sweep_content(&shared);
                let finished = finish_deletions(&shared.config.data, &shared.sums);
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
    let data = &shared.config.data;
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
    for sub in ["home", "staging", "sums"] {
        std::fs::create_dir_all(data.join(sub)).map_err(|e| about(&e, &format!("{sub}: {e}")))?;
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
