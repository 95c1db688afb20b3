//! One line per significant event on stderr:
//! `TIME peer=ADDR user=NAME action=VERB [path="..."] outcome=CODE bytes=N`.
//!
//! Lines are written whole, under stderr's lock, so concurrent sessions
//! never interleave. A leaf: the faces and the engine both log here.
//! Nothing secret is ever passed here: commands are logged
//! by verb and path, never by their raw line.

use std::fmt::Display;
use std::io::Write;
use std::net::SocketAddr;

use crate::clock;

/// Logs one event. `user` is `-` before login; `detail` (a path, or two)
/// may be empty.
pub fn event(peer: Option<SocketAddr>, user: &str, action: &str, detail: &str, outcome: impl Display, bytes: u64) {
    let peer = peer.map_or("-".to_string(), |p| p.to_string());
    let detail = if detail.is_empty() { String::new() } else { format!(" path={detail:?}") };
    let line =
        format!("{} peer={peer} user={user} action={action}{detail} outcome={outcome} bytes={bytes}\n", clock::now());
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Logs a server-wide event (start, accept errors, sweeps).
pub fn server(action: &str, outcome: impl Display) {
    event(None, "-", action, "", outcome, 0);
}
