//! One connection's state machine: logged out or logged in, the request
//! loop with its timeouts, dispatch of each [`Command`] to its handler, and
//! the login commands (`register`, `login`).
//!
//! Handlers live by theme in `files`, `account`, `upload`, `download`,
//! `claim` and `sharing`; each gets the logged-in state as a value
//! (`service::login::Login`) and returns one `handler::Handled`. Framing is in
//! `conn`. I/O errors on the socket end the session quietly; nothing here
//! may panic on client input.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

use crate::proto::{self, Code, Command, Password, Reply, parse_line};
use crate::server::conn::{Framed, Input, later};
use crate::server::error::Replied;
use crate::server::error::{Error, ErrorKind, Result};
use crate::server::group::{Group, Moment};
use crate::server::handler::{Cx, Handled, Outcome};
use crate::server::{account, claim, download, files, log, sharing, upload};
use crate::service::login::{Login, home_id};
use crate::service::shared::{Conn, Shared};
use crate::storage::health;
use crate::storage::tree::{Tree, UserPath};
use crate::storage::users::check_user;

/// Logged out, or logged in with everything that only exists then.
enum State {
    LoggedOut,
    LoggedIn(Login),
}

pub struct Session<'a> {
    shared: &'a Shared,
    peer: SocketAddr,
    wire: Framed<TcpStream>,
    state: State,
    failures: u32,
    connected: Instant,
    last_request: Instant,
    /// Uploads verified and waiting for their commit, with the replies
    /// held behind them.
    group: Group,
}

/// Serves one connection to its end.
pub fn run(shared: &Shared, conn: Conn, peer: SocketAddr) {
    let Conn { slot, stream } = conn;
    let _ = stream.set_write_timeout(Some(shared.config.stall_timeout));
    let _ = stream.set_nodelay(true);
    let now = Instant::now();
    let wire = Framed::new(stream, slot);
    let mut session = Session {
        shared,
        peer,
        wire,
        state: State::LoggedOut,
        failures: 0,
        connected: now,
        last_request: now,
        group: Group::default(),
    };
    log::event(Some(peer), "-", "connect", "", "220", 0);
    let _ = session.serve();
    // Uploads received in full are committed even if nobody hears of it.
    let _ = session.commit_group(Moment::Other);
    tell_if_failing();
    session.wire.give_back_slot();
    log::event(Some(peer), session.user(), "disconnect", "", "-", 0);
}

impl Session<'_> {
    fn serve(&mut self) -> io::Result<()> {
        self.wire.send(&Reply::new(Code::Ready, "netdisk ready"))?;
        loop {
            self.commit_group(Moment::Read)?;
            let outcome = match self.wire.read_line(self.deadline()) {
                Input::Line(line) => {
                    let outcome = self.handle(&line);
                    self.last_request = Instant::now();
                    outcome
                }
                Input::TooLong => Outcome::Refuse(Reply::new(Code::Syntax, "line too long")),
                Input::Timeout => self.timeout(),
                Input::Closed => Outcome::Close,
            };
            let going_on = self.carry_out(outcome)?;
            tell_if_failing();
            if !going_on {
                return Ok(());
            }
        }
    }

    /// Does what a handler asked; `false` when the session ends.
    fn carry_out(&mut self, outcome: Outcome) -> io::Result<bool> {
        if !matches!(outcome, Outcome::Reply(_) | Outcome::Go) {
            self.commit_group(Moment::Other)?;
        }
        match outcome {
            Outcome::Reply(reply) => {
                self.group.send(&mut self.wire, reply)?;
                self.commit_group(Moment::Queued)?;
                Ok(true)
            }
            Outcome::Refuse(reply) => self.wire.refuse_and_close(&reply).map(|_| false),
            Outcome::Bye(reply) => {
                self.wire.give_back_slot();
                self.wire.send(&reply).map(|_| false)
            }
            Outcome::Close => Ok(false),
            Outcome::Go => Ok(true),
        }
    }

    /// Commits the uploads waiting if the policy says so at `moment`
    /// (`server::group`), and sends the replies held.
    fn commit_group(&mut self, moment: Moment) -> io::Result<()> {
        let State::LoggedIn(login) = &self.state else { return Ok(()) };
        let mut cx = Cx::new(self.shared, self.peer, &mut self.wire, &mut self.failures);
        self.group.commit_at(moment, &mut cx, login)
    }

    /// Whether a `touch` of `text` was held behind the commit group (its
    /// file waits there: `server::group`).
    fn hold_touch(&mut self, text: &str, time: std::time::SystemTime) -> bool {
        let State::LoggedIn(login) = &self.state else { return false };
        let Ok((_, path)) = login.resolve(text) else { return false };
        self.group.hold_touch(&path, text, time)
    }

    fn user(&self) -> &str {
        match &self.state {
            State::LoggedIn(login) => &login.user,
            State::LoggedOut => "-",
        }
    }

    /// When the session times out if no complete request arrives.
    fn deadline(&self) -> Instant {
        let idle = later(self.last_request, self.shared.config.idle_timeout);
        match self.state {
            State::LoggedOut => idle.min(later(self.connected, self.shared.config.login_timeout)),
            State::LoggedIn(_) => idle,
        }
    }

    fn timeout(&mut self) -> Outcome {
        let what = if matches!(self.state, State::LoggedOut) { "login timeout" } else { "idle timeout" };
        log::event(Some(self.peer), self.user(), "timeout", "", "421", 0);
        Outcome::Refuse(Reply::new(Code::Closing, what))
    }

    fn handle(&mut self, raw: &[u8]) -> Outcome {
        match parse_line(raw) {
            Ok(None) => Outcome::Go,
            Ok(Some(cmd)) => self.dispatch(cmd),
            Err(e) if e.upload => {
                log::event(Some(self.peer), self.user(), "upload", "", e.code.number(), 0);
                Outcome::Refuse(e.reply())
            }
            Err(e) => Outcome::Reply(e.reply()),
        }
    }

    /// Commands open before login are served here; the others go to their
    /// handler with the login, once the account is known to still exist.
    fn dispatch(&mut self, cmd: Command) -> Outcome {
        if let Command::Touch { path, time } = &cmd
            && self.hold_touch(path, *time)
        {
            return if self.commit_group(Moment::Queued).is_err() { Outcome::Close } else { Outcome::Go };
        }
        // Any other command sees the uploads before it committed.
        if !matches!(cmd, Command::Upload { .. }) && self.commit_group(Moment::Other).is_err() {
            return Outcome::Close;
        }
        if let State::LoggedIn(login) = &self.state
            && login.gone(self.shared)
        {
            log::event(Some(self.peer), &login.user, "session", "", "421 account deleted", 0);
            return Outcome::Refuse(Reply::new(Code::Closing, "account deleted"));
        }
        if changes(&cmd) && health::failing().is_some() {
            return self.read_only(&cmd);
        }
        match cmd {
            Command::Register { user, pass } => return self.register(&user, &pass),
            Command::Login { user, pass } => return self.login(&user, &pass),
            Command::Help => return Reply::multi(Code::Help, proto::help_lines()).into(),
            Command::Quit => return Outcome::Bye(Reply::new(Code::Bye, "bye")),
            _ => {}
        }
        let State::LoggedIn(login) = &mut self.state else {
            let reply = Reply::new(Code::NotLoggedIn, "log in first");
            return if matches!(cmd, Command::Upload { .. }) { Outcome::Refuse(reply) } else { reply.into() };
        };
        // Commands that log no event of their own still log an unexpected failure.
        let quiet = matches!(cmd, Command::Pwd | Command::Ls { .. } | Command::Cd { .. } | Command::Stat { .. })
            || matches!(cmd, Command::Quota);
        let verb = cmd.verb();
        let mut cx = Cx::new(self.shared, self.peer, &mut self.wire, &mut self.failures);
        let handled = route(&mut cx, login, &mut self.group, cmd);
        handled.unwrap_or_else(|e| {
            if quiet && let Some(what) = e.unexpected() {
                cx.log(&login.user, verb, what, e.outcome(), 0);
            }
            e.reply().into()
        })
    }

    /// The answer to a request that would change something while the
    /// storage is failing: `451`; an upload's connection closes, as its
    /// payload may follow.
    fn read_only(&mut self, cmd: &Command) -> Outcome {
        log::event(Some(self.peer), self.user(), cmd.verb(), "", "451 read-only", 0);
        let reply = Reply::new(Code::LocalError, health::READ_ONLY);
        if matches!(cmd, Command::Upload { .. }) { Outcome::Refuse(reply) } else { reply.into() }
    }

    fn register(&mut self, user: &str, pass: &Password) -> Outcome {
        let (shared, users) = (self.shared, &self.shared.users);
        let result = registration_open(shared)
            .and_then(|_| users.check_new(user, pass))
            .and_then(|_| match shared.may_register(self.peer.ip()) {
                true => users.register(user, pass),
                false => Err(Error::new(ErrorKind::Busy, "too many registrations, try later")),
            })
            .map(|_| Reply::new(Code::Registered, format!("registered {user}")));
        let shown = if check_user(user).is_ok() { user } else { "?" };
        let outcome = match &result {
            Ok(r) => r.code.number().to_string(),
            Err(e) => e.outcome(),
        };
        log::event(Some(self.peer), self.user(), "register", shown, outcome, 0);
        result.unwrap_or_else(|e| e.reply()).into()
    }

    fn login(&mut self, user: &str, pass: &Password) -> Outcome {
        let turn = self.shared.backoff.turn(self.peer.ip());
        let ok = match self.shared.users.check_login(user, pass) {
            Ok(ok) => check_user(user).is_ok() & ok,
            Err(e) => {
                log::event(Some(self.peer), "-", "login", "", e.outcome(), 0);
                return e.reply().into();
            }
        };
        if !ok {
            let shown = if check_user(user).is_ok() { user } else { "?" };
            let mut cx = Cx::new(self.shared, self.peer, &mut self.wire, &mut self.failures);
            return cx.wrong_guess(turn, shown, "login", "", Reply::new(Code::NotLoggedIn, "login incorrect"));
        }
        drop(turn);
        let home = self.shared.home(user);
        let made = std::fs::create_dir_all(&home).and_then(|_| std::fs::symlink_metadata(&home));
        let home_id = match made {
            Ok(meta) => home_id(&meta),
            Err(e) => {
                let e = Error::io("home directory", e);
                log::event(Some(self.peer), user, "login", "", e.outcome(), 0);
                return e.reply().into();
            }
        };
        let (tree, cwd) = (Tree::new(home), UserPath::root());
        self.state = State::LoggedIn(Login::new(user, tree, cwd, home_id));
        log::event(Some(self.peer), user, "login", "", 230, 0);
        Reply::new(Code::LoggedIn, format!("logged in as {user}")).into()
    }
}

/// Whether `cmd` would change anything stored (refused while the storage
/// is failing). No wildcard: a new command must be placed here.
fn changes(cmd: &Command) -> bool {
    use Command::*;
    match cmd {
        Register { .. } | Makedir { .. } | Makedirs { .. } | Upload { .. } | Rm { .. } | Rmdir { .. } => true,
        Mv { .. } | Cp { .. } | Passwd { .. } | Restore { .. } | Purge { .. } | Claim { .. } => true,
        Share { .. } | Unshare { .. } | Save { .. } | Touch { .. } => true,
        Login { .. } | Help | Quit | Pwd | Ls { .. } | Cd { .. } | Download { .. } | Stat { .. } => false,
        Quota | Find { .. } | Trash | Shares | Peek { .. } => false,
    }
}

/// Logs, once, that the storage started failing and why.
pub(crate) fn tell_if_failing() {
    if let Some(cause) = health::news() {
        log::server("storage", format!("451 {} cause={cause:?}", health::READ_ONLY));
    }
}

/// The handler of each command that needs a login.
fn route(cx: &mut Cx, login: &mut Login, group: &mut Group, cmd: Command) -> Handled {
    let dot = |p: Option<String>| p.unwrap_or_else(|| ".".into());
    match cmd {
        Command::Pwd => files::pwd(login),
        Command::Ls { path } => files::ls(cx, login, &dot(path)),
        Command::Makedir { path } => files::makedir(cx, login, &path),
        Command::Cd { path } => files::cd(login, &path),
        Command::Upload { path, size, md5, from } => {
            upload::upload(cx, login, group, upload::Asked { text: &path, size, md5, from })
        }
        Command::Download { path, offset } => download::download(cx, login, &path, offset),
        Command::Stat { path } => files::stat(cx, login, &path),
        Command::Touch { path, time } => files::touch(cx, login, &path, time),
        Command::Rm { path } => files::rm(cx, login, &path),
        Command::Rmdir { path } => files::rmdir(cx, login, &path),
        Command::Mv { from, to } => files::mv(cx, login, &from, &to),
        Command::Quota => account::quota(cx, login),
        Command::Makedirs { path } => files::makedirs(cx, login, &path),
        Command::Cp { from, to } => files::cp(cx, login, &from, &to),
        Command::Find { path } => files::find(cx, login, &dot(path)),
        Command::Passwd { old, new } => account::passwd(cx, login, &old, &new),
        Command::Trash => files::trash_list(cx, login),
        Command::Restore { id, path } => files::restore(cx, login, &id, path.as_deref()),
        Command::Purge { target } => files::purge(cx, login, &target),
        Command::Claim { path, size, md5 } => claim::claim(cx, login, &path, size, md5),
        Command::Share { path, days } => sharing::share(cx, login, &path, days),
        Command::Shares => sharing::shares(cx, login),
        Command::Unshare { code } => sharing::unshare(cx, login, &code),
        Command::Peek { code } => sharing::peek(cx, login, &code),
        Command::Save { code, path } => sharing::save(cx, login, &code, path.as_deref()),
        // Served by `dispatch` before it comes here.
        Command::Register { .. } | Command::Login { .. } | Command::Help | Command::Quit => Ok(Outcome::Go),
    }
}

fn registration_open(shared: &Shared) -> Result<()> {
    match shared.config.registration_open {
        true => Ok(()),
        false => Err(Error::new(ErrorKind::Refused, "registration is closed")),
    }
}
