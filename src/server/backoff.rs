//! The back-off of guesses (protocol 2.1 "Back-off across connections"):
//! failed logins, wrong `passwd` OLDs, wrong or abandoned claim proofs and
//! unknown share codes.
//!
//! Each address guesses one at a time: a guess first waits for its
//! address's [`Turn`] (whatever connection it comes on), is checked while
//! holding it, and a wrong one keeps the turn through its delay (100 ms,
//! doubling with each failure from that address in the last ten minutes,
//! at most 5 s). So the guesses per second from one address are the same
//! with 1 or 100 connections. A right guess costs no delay, but it waits
//! its turn like any other.
//!
//! Never holds the map's lock while sleeping; a panic while holding a
//! turn releases it (the turn is released on drop).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Failures from one address are remembered this long.
const WINDOW: Duration = Duration::from_secs(600);
/// The delay after the first failure; it doubles with each recent one.
const FIRST_DELAY: Duration = Duration::from_millis(100);
/// The longest delay.
const MAX_DELAY: Duration = Duration::from_secs(5);
/// Past this many addresses, those with nothing to remember are dropped.
const PRUNE_AT: usize = 100_000;

/// What is known of one address.
#[derive(Default)]
struct Address {
    /// Times of its recent failures, oldest first.
    failures: Vec<Instant>,
    /// One of its guesses holds the turn.
    busy: bool,
}

/// Every address's failures and turn.
#[derive(Default)]
pub(crate) struct Backoff {
    addresses: Mutex<HashMap<IpAddr, Address>>,
    released: Condvar,
}

/// The right of one guess from an address to be checked now; the next
/// guess from that address waits until it is dropped.
pub(crate) struct Turn<'a> {
    backoff: &'a Backoff,
    ip: IpAddr,
}

impl Backoff {
    fn lock(&self) -> MutexGuard<'_, HashMap<IpAddr, Address>> {
        self.addresses.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until no other guess from `ip` is being checked or sleeping
    /// off its failure, and takes the turn.
    pub(crate) fn turn(&self, ip: IpAddr) -> Turn<'_> {
        let mut map = self.lock();
        if map.len() > PRUNE_AT {
            let now = Instant::now();
            map.retain(|_, a| a.busy || a.failures.last().is_some_and(|t| now.duration_since(*t) < WINDOW));
        }
        while map.get(&ip).is_some_and(|a| a.busy) {
            map = self.released.wait(map).unwrap_or_else(|e| e.into_inner());
        }
        map.entry(ip).or_default().busy = true;
        Turn { backoff: self, ip }
    }
}

impl Turn<'_> {
    /// The guess was wrong: records it and sleeps its delay, still holding
    /// the turn.
    pub(crate) fn failed(self) {
        let delay = {
            let mut map = self.backoff.lock();
            let now = Instant::now();
            let failures = &mut map.entry(self.ip).or_default().failures;
            failures.retain(|t| now.duration_since(*t) < WINDOW);
            failures.push(now);
            delay_after(failures.len())
        };
        std::thread::sleep(delay);
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut map = self.backoff.lock();
        if let Some(address) = map.get_mut(&self.ip) {
            address.busy = false;
            if address.failures.is_empty() {
                map.remove(&self.ip);
            }
        }
        self.backoff.released.notify_all();
    }
}

/// The delay after the `n`th recent failure (n ≥ 1).
fn delay_after(n: usize) -> Duration {
    let doublings = n.clamp(1, 7) as u32 - 1;
    (FIRST_DELAY * (1 << doublings)).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn delays_double_up_to_the_cap() {
        let ms: Vec<u128> = (1..=9).map(|n| delay_after(n).as_millis()).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
    }

    #[test]
    fn one_turn_per_address_at_a_time() {
        let backoff = Arc::new(Backoff::default());
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let held = backoff.turn(a);
        drop(backoff.turn(b));
        let waiter = {
            let backoff = backoff.clone();
            std::thread::spawn(move || {
                drop(backoff.turn(a));
                Instant::now()
            })
        };
        let failing = Instant::now();
        held.failed();
        let got = waiter.join().unwrap();
        assert!(got.duration_since(failing) >= FIRST_DELAY, "the second guess waited for the first one's delay");
        assert!(backoff.lock().get(&a).is_some_and(|x| x.failures.len() == 1 && !x.busy));
        assert!(backoff.lock().get(&b).is_none(), "nothing kept of an address without failures");
    }
}
