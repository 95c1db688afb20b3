//! The state every connection of either face shares: configuration,
//! accounts, recorded digests, upload holders and quota bookings, and the
//! per-address counters (connections, failed logins, registrations).
//!
//! The sessions and accept loops of both faces use it; it uses neither
//! face. Locks are poison-tolerant: a panic in one session never locks
//! out the others.

use std::collections::HashMap;
use std::net::{IpAddr, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use crate::service::backoff::Backoff;
use crate::service::config::Config;
use crate::service::credentials::Credentials;
use crate::service::grouped::Grouped;
use crate::service::takeover::Holders;
use crate::storage::DataDir;
use crate::storage::digests::Sums;
use crate::storage::quota::Reservations;
use crate::storage::trash::Trash;
use crate::storage::users::Users;

/// Registrations one address earns back per second, after its burst of
/// `--register-burst`.
const REGISTER_RATE: f64 = 1.0;

/// What every session can see.
pub struct Shared {
    pub config: Config,
    /// The layout of `config.data`.
    pub(crate) data: DataDir,
    pub users: Users,
    pub sums: Sums,
    pub holders: Holders,
    /// Bytes booked against the quota by uploads in progress.
    pub(crate) reservations: Reservations,
    conns: Mutex<Conns>,
    /// Guesses from each address, one at a time (`service::backoff`).
    pub(crate) backoff: Backoff,
    /// Unknown share codes tried over HTTP, one at a time per address: a
    /// back-off like the login one, kept apart from it (HTTP.md "Share links").
    pub(crate) share_guesses: Backoff,
    /// HTTP Basic credentials verified lately (`service::credentials`).
    pub(crate) credentials: Credentials,
    /// Uploads verified on several connections at once, committed
    /// together (`service::grouped`).
    pub(crate) grouped: Grouped,
    registrations: Mutex<HashMap<IpAddr, Bucket>>,
    link_base: OnceLock<String>,
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
    /// The state of a server serving `config.data`.
    pub(crate) fn new(config: Config) -> Shared {
        Shared {
            users: Users::open(&config.data),
            sums: Sums::new(DataDir::new(&config.data).sums()),
            data: DataDir::new(&config.data),
            holders: Holders::default(),
            reservations: Reservations::default(),
            config,
            conns: Mutex::default(),
            backoff: Backoff::default(),
            share_guesses: Backoff::default(),
            credentials: Credentials::default(),
            grouped: Grouped::default(),
            registrations: Mutex::default(),
            link_base: OnceLock::new(),
        }
    }

    /// A user's visible tree.
    pub fn home(&self, user: &str) -> PathBuf {
        self.data.home(user)
    }

    /// Where a user's interrupted uploads wait.
    pub fn staging(&self, user: &str) -> PathBuf {
        self.data.staging(user)
    }

    /// A user's trash.
    pub(crate) fn trash(&self, user: &str) -> Trash {
        Trash::new(&self.data, user, self.config.trash_days)
    }

    /// The quota that applies to `user`: their own (`netdisk user quota`),
    /// else the server's `--quota`; `None` is unlimited. Read from the users
    /// file as it is now, so a change made while the server runs counts at
    /// once.
    pub(crate) fn quota_of(&self, user: &str) -> Option<u64> {
        self.users.quota(user).over(self.config.quota)
    }

    /// The limit of files and directories that applies to `user`: their
    /// own (`netdisk user entries`), else `--max-entries`; read like
    /// [`Shared::quota_of`], so a change counts at once.
    pub(crate) fn entries_of(&self, user: &str) -> Option<u64> {
        self.users.entries(user).over(self.config.max_entries)
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
    pub(crate) fn enter(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        self.enter_as(ip, true)
    }

    /// Counts a new connection in against `--max-clients`, and against the
    /// per-address limit of `ip` when `per_ip` (not for a trusted proxy,
    /// whose clients are told apart per request).
    pub(crate) fn enter_as(self: &Arc<Self>, ip: IpAddr, per_ip: bool) -> Option<Slot> {
        let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        let mine = if per_ip { conns.per_ip.get(&ip).copied().unwrap_or(0) } else { 0 };
        if conns.total >= self.config.max_clients || mine >= self.config.max_per_ip {
            return None;
        }
        conns.total += 1;
        if per_ip {
            *conns.per_ip.entry(ip).or_default() += 1;
        }
        Some(Slot { shared: Arc::clone(self), ip: per_ip.then_some(ip) })
    }

    /// Whether `--max-clients` connections are open (else a refusal is
    /// for the per-address limit).
    pub(crate) fn all_taken(&self) -> bool {
        self.conns.lock().unwrap_or_else(|e| e.into_inner()).total >= self.config.max_clients
    }

    /// Where the links the text face hands out point (`share`): set once
    /// when the HTTP face starts; `None` without it.
    pub fn link_base(&self) -> Option<&str> {
        self.link_base.get().map(String::as_str)
    }

    /// Sets [`Shared::link_base`] (the first call wins).
    pub fn set_link_base(&self, base: String) {
        let _ = self.link_base.set(base);
    }
}

/// A counted connection; leaving the count happens on drop, even when the
/// session panics. A session gives its slot back before the client can see
/// the connection close (see [`Conn`]), so a client that reconnects at once
/// is never refused for its own old session.
pub struct Slot {
    shared: Arc<Shared>,
    /// The address counted in the per-address limit, if any.
    ip: Option<IpAddr>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut conns = self.shared.conns.lock().unwrap_or_else(|e| e.into_inner());
        conns.total -= 1;
        if let Some(ip) = self.ip
            && let Some(n) = conns.per_ip.get_mut(&ip)
        {
            *n -= 1;
            if *n == 0 {
                conns.per_ip.remove(&ip);
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
