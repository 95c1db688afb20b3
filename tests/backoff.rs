//! The back-off across connections (protocol 2.1, issue 19 #9): failed
//! logins, wrong proofs and unknown share codes from one address wait
//! their turn, so parallel connections guess no faster than one.

mod common;

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use common::{Raw, fixture};

/// Sends one guess on each connection at once; returns when every reply
/// is in, with the replies.
fn guess_in_parallel(conns: Vec<(Raw, String)>) -> Vec<String> {
    let barrier = Arc::new(Barrier::new(conns.len()));
    let threads: Vec<_> = conns
        .into_iter()
        .map(|(mut c, line)| {
            let barrier = barrier.clone();
            thread::spawn(move || {
                barrier.wait();
                c.cmd(&line)
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

#[test]
fn parallel_connections_guess_no_faster_than_one() {
    let s = fixture!();
    s.user("ann");
    let mut conns = Vec::new();
    for i in 0..2 {
        conns.push((s.connect(), format!("login ann wrong{i}")));
    }
    for _ in 0..2 {
        conns.push((s.user("bob"), "peek abcdefghijklmnop".to_string()));
    }
    let started = Instant::now();
    let replies = guess_in_parallel(conns);
    let took = started.elapsed();
    assert_eq!(replies.iter().filter(|r| r.starts_with("530 ")).count(), 2, "{replies:?}");
    assert_eq!(replies.iter().filter(|r| r.starts_with("550 ")).count(), 2, "{replies:?}");
    // One at a time: 100 + 200 + 400 + 800 ms, as four guesses on one
    // connection would take (in parallel threads they took 800 ms).
    assert!(took >= Duration::from_millis(1500), "four guesses answered in {took:?}");
}
