//! What a command handler is given and what it gives back: the context
//! of the session ([`Cx`]) and one outcome type ([`Outcome`],
//! [`Handled`]). The logged-in state is the service's
//! (`service::login::Login`), shared with the HTTP face.
//!
//! The session builds these and carries out the outcome; handlers use
//! them. This module uses neither, so there is no cycle.

use std::net::{SocketAddr, TcpStream};

use crate::proto::{Code, Reply};
use crate::server::conn::Framed;
use crate::server::error::Replied;
use crate::server::error::Result;
use crate::server::log;
use crate::service::backoff::Turn;
use crate::service::shared::Shared;

/// What a handler asks the session to do next.
pub(crate) enum Outcome {
    /// Send this reply and read the next request.
    Reply(Reply),
    /// Send this reply, then close gently (draining what the client sends).
    Refuse(Reply),
    /// Send this reply and close at once (`quit`).
    Bye(Reply),
    /// Close without a word (the client is gone or the framing is lost).
    Close,
    /// Everything is sent; read the next request.
    Go,
}

impl From<Reply> for Outcome {
    fn from(reply: Reply) -> Outcome {
        Outcome::Reply(reply)
    }
}

/// What every handler returns: an error becomes its reply in one place.
pub(crate) type Handled = Result<Outcome>;

/// What a handler may use besides the login: the shared state, the peer,
/// the connection and the session's failed-login count.
pub(crate) struct Cx<'a> {
    pub(crate) shared: &'a Shared,
    pub(crate) peer: SocketAddr,
    pub(crate) wire: &'a mut Framed<TcpStream>,
    failures: &'a mut u32,
}

impl<'a> Cx<'a> {
    pub(crate) fn new(
        shared: &'a Shared,
        peer: SocketAddr,
        wire: &'a mut Framed<TcpStream>,
        failures: &'a mut u32,
    ) -> Cx<'a> {
        Cx { shared, peer, wire, failures }
    }

    /// Logs one event of this session.
    pub(crate) fn log(&self, user: &str, action: &str, detail: &str, outcome: impl std::fmt::Display, bytes: u64) {
        log::event(Some(self.peer), user, action, detail, outcome, bytes);
    }

    /// Logs the outcome of a request that changes something.
    pub(crate) fn note(&self, user: &str, action: &str, detail: &str, result: &Result<Reply>) {
        let outcome = match result {
            Ok(r) => r.code.number().to_string(),
            Err(e) => e.outcome(),
        };
        self.log(user, action, detail, outcome, 0);
    }

    /// This address's turn to have one guess checked (a password, a
    /// claim proof, a share code), whatever connection it comes on: see
    /// `service::backoff`.
    pub(crate) fn turn(&self) -> Turn<'a> {
        self.shared.backoff.turn(self.peer.ip())
    }

    /// A wrong guess (a wrong password for `login` or `passwd`, a wrong or
    /// abandoned claim proof, an unknown share code), its turn held: the
    /// address's back-off, then `reply`, or `421` and close after too many
    /// on this connection. `detail` is logged, so it is never a secret.
    pub(crate) fn wrong_guess(
        &mut self,
        turn: Turn<'_>,
        user: &str,
        action: &str,
        detail: &str,
        reply: Reply,
    ) -> Outcome {
        *self.failures += 1;
        turn.failed();
        self.log(user, action, detail, reply.code.number(), 0);
        if *self.failures >= self.shared.config.max_login_failures {
            self.log(user, action, detail, 421, 0);
            let text =
                if reply.code == Code::NotLoggedIn { "too many failed logins" } else { "too many failed attempts" };
            return Outcome::Refuse(Reply::new(Code::Closing, text));
        }
        Outcome::Reply(reply)
    }
}
