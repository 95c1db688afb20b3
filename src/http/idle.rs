//! Idle keep-alive connections, listed while they wait for their next
//! request, so that a new connection over a limit closes one of them
//! (HTTP.md "Listening": idle keep-alive connections closed first).
//!
//! A listed connection's slot can be taken from it: giving the slot
//! back and shutting the socket frees its place at once, and its thread
//! sees the end of input and finishes.

use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::http::engine::Slot;

/// A connection's slot, which an idle close may take.
pub(crate) struct Held(Arc<Mutex<Option<Slot>>>);

impl Held {
    pub(crate) fn new(slot: Slot) -> Held {
        Held(Arc::new(Mutex::new(Some(slot))))
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

struct Waiting {
    id: u64,
    peer: SocketAddr,
    key: IpAddr,
    stream: Arc<TcpStream>,
    slot: Arc<Mutex<Option<Slot>>>,
}

static WAITING: Mutex<Vec<Waiting>> = Mutex::new(Vec::new());
static NEXT: AtomicU64 = AtomicU64::new(0);

/// A listing, removed when dropped (when the next request begins).
pub(crate) struct Listed(u64);

impl Drop for Listed {
    fn drop(&mut self) {
        let mut waiting = WAITING.lock().unwrap_or_else(|e| e.into_inner());
        waiting.retain(|w| w.id != self.0);
    }
}

/// Lists a connection from `peer` (its limits' key `key`) as idle.
pub(crate) fn list(peer: SocketAddr, key: IpAddr, stream: &Arc<TcpStream>, slot: &Held) -> Listed {
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    let entry = Waiting { id, peer, key, stream: Arc::clone(stream), slot: Arc::clone(&slot.0) };
    WAITING.lock().unwrap_or_else(|e| e.into_inner()).push(entry);
    Listed(id)
}

/// Closes the longest idle connection from `key`, or from anyone when
/// `any` (the total is full, not the address's count); its peer, if one was.
pub(crate) fn close_one(key: IpAddr, any: bool) -> Option<SocketAddr> {
    let mut waiting = WAITING.lock().unwrap_or_else(|e| e.into_inner());
    let first = (any && !waiting.is_empty()).then_some(0);
    let i = waiting.iter().position(|w| w.key == key).or(first)?;
    let victim = waiting.remove(i);
    drop(waiting);
    victim.slot.lock().unwrap_or_else(|e| e.into_inner()).take();
    let _ = victim.stream.shutdown(Shutdown::Both);
    Some(victim.peer)
}
