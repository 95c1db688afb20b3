//! One connection: reading request lines, the logged-in state, and one
//! method per command.
//!
//! The session owns framing. Request lines are read with a hard length
//! limit and a deadline (idle or login timeout) that trickled bytes cannot
//! extend; payloads are read for exactly the announced length. When a
//! refusal leaves the framing unknown (any refused `upload`), the session
//! replies and closes. I/O errors on the socket end the session quietly;
//! nothing here may panic on client input.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::config::MAX_DURATION;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::fs::{Kind, ListLimit, Tree, UserPath};
use crate::holders::Hold;
use crate::log;
use crate::proto::body::{DownloadHead, Offer, QuotedPath, Stored};
use crate::proto::{self, Code, Command, Password, Purge, Reply, parse_line};
use crate::server::{Conn, Shared, Slot};
use crate::storage::find::find;
use crate::storage::trash::Trash;
use crate::transfer::{Download, Limits, Quota, Request, Stop, Upload, part_path, staged_bytes};
use crate::users::{check_password, check_user};

/// An upload whose staged file has not grown for this long (or half the
/// stall timeout, if shorter) may be taken over by a new session.
const TAKEOVER_AFTER: Duration = Duration::from_secs(10);

/// Logged out, or logged in with everything that only exists then.
enum State {
    LoggedOut,
    LoggedIn { user: String, tree: Tree, cwd: UserPath },
}

/// What the session does after a request.
#[derive(PartialEq, Eq)]
enum Flow {
    Go,
    Close,
}

/// An upload as asked for, before its path is resolved.
#[derive(Clone, Copy)]
struct Asked<'t> {
    text: &'t str,
    size: u64,
    md5: Option<Digest>,
    from: Option<u64>,
}

/// How an upload ended: what to log, and what to tell the client.
struct Ending {
    note: String,
    bytes: u64,
    reply: Option<Reply>,
    flow: Flow,
}

/// A line read from the client, or why there is none.
enum Input {
    Line(Vec<u8>),
    TooLong,
    Timeout,
    Closed,
}

pub struct Session<'a> {
    shared: &'a Shared,
    peer: SocketAddr,
    /// Given back before the socket closes (declared before `reader`, so
    /// also on a panic).
    slot: Option<Slot>,
    reader: BufReader<TcpStream>,
    state: State,
    failures: u32,
    /// Device and inode of the home directory at login: the account
    /// this session serves, told apart from a later one of the same name.
    home_id: Option<HomeId>,
    connected: Instant,
    last_request: Instant,
}

/// Serves one connection to its end.
pub fn run(shared: &Shared, conn: Conn, peer: SocketAddr) {
    let Conn { slot, stream } = conn;
    let _ = stream.set_write_timeout(Some(shared.config.stall_timeout));
    let _ = stream.set_nodelay(true);
    let now = Instant::now();
    let mut session = Session {
        shared,
        peer,
        slot,
        reader: BufReader::with_capacity(4096, stream),
        state: State::LoggedOut,
        failures: 0,
        home_id: None,
        connected: now,
        last_request: now,
    };
    log::event(Some(peer), "-", "connect", "", "220", 0);
    let _ = session.serve();
    session.slot = None;
    log::event(Some(peer), session.user(), "disconnect", "", "-", 0);
}

impl Session<'_> {
    fn serve(&mut self) -> io::Result<()> {
        self.send(&Reply::new(Code::Ready, "netdisk ready"))?;
        loop {
            let flow = match self.read_line(self.deadline()) {
                Input::Line(line) => {
                    let flow = self.handle(&line)?;
                    self.last_request = Instant::now();
                    flow
                }
                Input::TooLong => self.refuse_and_close(Reply::new(Code::Syntax, "line too long"))?,
                Input::Timeout => self.timeout()?,
                Input::Closed => Flow::Close,
            };
            if flow == Flow::Close {
                return Ok(());
            }
        }
    }

    fn user(&self) -> &str {
        match &self.state {
            State::LoggedIn { user, .. } => user,
            State::LoggedOut => "-",
        }
    }

    /// When the session times out if no complete request arrives.
    fn deadline(&self) -> Instant {
        let idle = later(self.last_request, self.shared.config.idle_timeout);
        match self.state {
            State::LoggedOut => idle.min(later(self.connected, self.shared.config.login_timeout)),
            State::LoggedIn { .. } => idle,
        }
    }

    fn timeout(&mut self) -> io::Result<Flow> {
        let what = if matches!(self.state, State::LoggedOut) { "login timeout" } else { "idle timeout" };
        log::event(Some(self.peer), self.user(), "timeout", "", "421", 0);
        self.refuse_and_close(Reply::new(Code::Closing, what))
    }

    /// Reads one line of at most [`proto::MAX_LINE`] bytes before `deadline`.
    fn read_line(&mut self, deadline: Instant) -> Input {
        let mut line = Vec::new();
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Input::Timeout;
            }
            let _ = self.reader.get_ref().set_read_timeout(Some(deadline - now));
            let buf = match self.reader.fill_buf() {
                Ok([]) => return Input::Closed,
                Ok(buf) => buf,
                Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Input::Closed,
            };
            if let Some(i) = buf.iter().position(|b| *b == b'\n') {
                if line.len() + i + 1 > proto::MAX_LINE {
                    return Input::TooLong;
                }
                line.extend_from_slice(&buf[..i]);
                self.reader.consume(i + 1);
                return Input::Line(line);
            }
            if line.len() + buf.len() >= proto::MAX_LINE {
                return Input::TooLong;
            }
            line.extend_from_slice(buf);
            let n = buf.len();
            self.reader.consume(n);
        }
    }

    /// The connection, for writing: one socket serves both directions
    /// (reads go through the buffered reader), so a session costs one file
    /// descriptor.
    fn socket(&self) -> &TcpStream {
        self.reader.get_ref()
    }

    fn send(&mut self, reply: &Reply) -> io::Result<()> {
        self.socket().write_all(reply.to_wire().as_bytes())
    }

    /// Sends a final reply, then closes without resetting the connection
    /// under the client's feet: our side is shut down for writing and what
    /// the client is still sending is drained for a moment.
    fn refuse_and_close(&mut self, reply: Reply) -> io::Result<Flow> {
        self.slot = None;
        self.send(&reply)?;
        let _ = self.socket().shutdown(Shutdown::Write);
        let deadline = later(Instant::now(), Duration::from_millis(500));
        let mut left: usize = 8 << 20;
        let mut sink = vec![0u8; 16 * 1024];
        while let Some(wait) = deadline.checked_duration_since(Instant::now()).filter(|w| !w.is_zero())
            && left > 0
        {
            let stream = self.reader.get_mut();
            let _ = stream.set_read_timeout(Some(wait));
            match stream.read(&mut sink) {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
        Ok(Flow::Close)
    }

    fn handle(&mut self, raw: &[u8]) -> io::Result<Flow> {
        match parse_line(raw) {
            Ok(None) => Ok(Flow::Go),
            Ok(Some(cmd)) => self.dispatch(cmd),
            Err(e) if e.upload => {
                log::event(Some(self.peer), self.user(), "upload", "", e.code.number(), 0);
                self.refuse_and_close(e.reply())
            }
            Err(e) => self.send(&e.reply()).map(|_| Flow::Go),
        }
    }

    fn dispatch(&mut self, cmd: Command) -> io::Result<Flow> {
        let open = matches!(cmd, Command::Register { .. } | Command::Login { .. } | Command::Help | Command::Quit);
        if !open && matches!(self.state, State::LoggedOut) {
            let reply = Reply::new(Code::NotLoggedIn, "log in first");
            return match cmd {
                Command::Upload { .. } => self.refuse_and_close(reply),
                _ => self.send(&reply).map(|_| Flow::Go),
            };
        }
        if self.account_gone() {
            log::event(Some(self.peer), self.user(), "session", "", "421 account deleted", 0);
            return self.refuse_and_close(Reply::new(Code::Closing, "account deleted"));
        }
        // Commands that log no event of their own still log an unexpected failure.
        let quiet = matches!(cmd, Command::Pwd | Command::Ls { .. } | Command::Cd { .. } | Command::Stat { .. })
            || matches!(cmd, Command::Quota | Command::Help);
        let verb = cmd.verb();
        let result = match cmd {
            Command::Register { user, pass } => self.register(&user, &pass),
            Command::Login { user, pass } => return self.login(&user, &pass),
            Command::Pwd => self.pwd(),
            Command::Ls { path } => self.ls(path.as_deref().unwrap_or(".")),
            Command::Makedir { path } => self.makedir(&path),
            Command::Cd { path } => self.cd(&path),
            Command::Upload { path, size, md5, from } => return self.upload(Asked { text: &path, size, md5, from }),
            Command::Download { path, offset } => return self.download(&path, offset),
            Command::Stat { path } => self.stat(&path),
            Command::Rm { path } => self.rm(&path),
            Command::Rmdir { path } => self.rmdir(&path),
            Command::Mv { from, to } => self.mv(&from, &to),
            Command::Quota => self.quota(),
            Command::Makedirs { path } => self.makedirs(&path),
            Command::Cp { from, to } => self.cp(&from, &to),
            Command::Find { path } => self.find(path.as_deref().unwrap_or(".")),
            Command::Passwd { old, new } => return self.passwd(&old, &new),
            Command::Help => Ok(help()),
            Command::Quit => {
                self.slot = None;
                self.send(&Reply::new(Code::Bye, "bye"))?;
                return Ok(Flow::Close);
            }
            Command::Trash => self.trash_list(),
            Command::Restore { id, path } => self.restore(&id, path.as_deref()),
            Command::Purge { target } => self.purge(&target),
            // Version-2 requests whose handlers are not in yet.
            _ => Ok(Reply::new(Code::Syntax, "not available yet")),
        };
        if quiet && let Err(e @ Error::Failed { what, .. }) = &result {
            log::event(Some(self.peer), self.user(), verb, what, e.outcome(), 0);
        }
        self.send(&result.unwrap_or_else(|e| e.reply())).map(|_| Flow::Go)
    }

    /// The tree, working directory and a resolved path, when logged in.
    fn resolve(&self, text: &str) -> Result<(&Tree, UserPath)> {
        match &self.state {
            State::LoggedIn { tree, cwd, .. } => Ok((tree, cwd.resolve(text)?)),
            State::LoggedOut => Err(Error::NotLoggedIn("log in first".into())),
        }
    }

    fn note(&self, action: &str, detail: &str, result: &Result<Reply>) {
        let outcome = match result {
            Ok(r) => r.code.number().to_string(),
            Err(e) => e.outcome(),
        };
        log::event(Some(self.peer), self.user(), action, detail, outcome, 0);
    }

    /// Whether the account this session logged into was deleted since
    /// (checked before each request: the users map refreshes incrementally
    /// and the home is one `stat`).
    fn account_gone(&self) -> bool {
        let State::LoggedIn { user, .. } = &self.state else { return false };
        let home = std::fs::symlink_metadata(self.shared.home(user)).ok().map(|m| home_id(&m));
        !self.shared.users.exists(user) || home != self.home_id
    }

    fn register(&mut self, user: &str, pass: &Password) -> Result<Reply> {
        let users = &self.shared.users;
        let result = self
            .registration_open()
            .and_then(|_| users.check_new(user, pass))
            .and_then(|_| {
                if self.shared.may_register(self.peer.ip()) {
                    users.register(user, pass)
                } else {
                    Err(Error::Busy("too many registrations, try later".into()))
                }
            })
            .map(|_| Reply::new(Code::Registered, format!("registered {user}")));
        let shown = if check_user(user).is_ok() { user } else { "?" };
        self.note("register", shown, &result);
        result
    }

    fn registration_open(&self) -> Result<()> {
        match self.shared.config.registration_open {
            true => Ok(()),
            false => Err(Error::Refused("registration is closed".into())),
        }
    }

    fn login(&mut self, user: &str, pass: &Password) -> io::Result<Flow> {
        let ok = check_user(user).is_ok() & self.shared.users.verify(user, pass);
        let shown = if check_user(user).is_ok() { user } else { "?" };
        if ok {
            let home = self.shared.home(user);
            let made = std::fs::create_dir_all(&home).and_then(|_| std::fs::symlink_metadata(&home));
            match made {
                Ok(meta) => self.home_id = Some(home_id(&meta)),
                Err(e) => {
                    let e = Error::io("home directory", e);
                    log::event(Some(self.peer), user, "login", "", e.outcome(), 0);
                    return self.send(&e.reply()).map(|_| Flow::Go);
                }
            }
            self.state = State::LoggedIn { user: user.to_string(), tree: Tree::new(home), cwd: UserPath::root() };
            log::event(Some(self.peer), user, "login", "", 230, 0);
            return self.send(&Reply::new(Code::LoggedIn, format!("logged in as {user}"))).map(|_| Flow::Go);
        }
        let shown = shown.to_string();
        self.failed_login(&shown, "login", "login incorrect")
    }

    /// A wrong password (`login`, or `passwd` with a wrong OLD): the
    /// per-address back-off, then `530`, or `421` and close after too many
    /// on this connection.
    fn failed_login(&mut self, shown: &str, action: &str, text: &str) -> io::Result<Flow> {
        self.failures += 1;
        std::thread::sleep(self.shared.login_failed(self.peer.ip()));
        log::event(Some(self.peer), shown, action, "", 530, 0);
        if self.failures >= self.shared.config.max_login_failures {
            log::event(Some(self.peer), shown, action, "", 421, 0);
            return self.refuse_and_close(Reply::new(Code::Closing, "too many failed logins"));
        }
        self.send(&Reply::new(Code::NotLoggedIn, text)).map(|_| Flow::Go)
    }

    /// `passwd OLD NEW`: NEW is checked first (a bad one costs no hash and
    /// counts as no failure), then OLD, which counts as a failed login when
    /// wrong; the session stays logged in unless that failure was one too
    /// many.
    fn passwd(&mut self, old: &Password, new: &Password) -> io::Result<Flow> {
        let user = self.user().to_string();
        let users = &self.shared.users;
        if let Err(e) = check_password(new) {
            log::event(Some(self.peer), &user, "passwd", "", 501, 0);
            return self.send(&e.reply()).map(|_| Flow::Go);
        }
        if !users.verify(&user, old) {
            return self.failed_login(&user, "passwd", "old password incorrect");
        }
        let result = users.set_password(&user, new).map(|_| Reply::new(Code::Done, "password changed"));
        self.note("passwd", "", &result);
        self.send(&result.unwrap_or_else(|e| e.reply())).map(|_| Flow::Go)
    }

    fn pwd(&self) -> Result<Reply> {
        let State::LoggedIn { cwd, .. } = &self.state else { unreachable!("checked by dispatch") };
        Ok(Reply::new(Code::Path, QuotedPath(cwd.to_string()).to_string()))
    }

    /// Keeps only each entry's line while reading (not its metadata), and
    /// at most `--max-list` of them.
    fn ls(&self, text: &str) -> Result<Reply> {
        let (tree, path) = self.resolve(text)?;
        let mut limit = ListLimit::new(self.shared.config.max_list);
        let mut named = Vec::new();
        tree.scan(&path, &mut limit, |e| named.push((e.name.len(), e.list_line().to_string())))?;
        named.sort_unstable_by(|(a_len, a), (b_len, b)| a[a.len() - a_len..].cmp(&b[b.len() - b_len..]));
        Ok(Reply::multi(Code::Listing, named.into_iter().map(|(_, line)| line).collect()))
    }

    fn makedir(&self, text: &str) -> Result<Reply> {
        let result = self.resolve(text).and_then(|(tree, path)| {
            tree.makedir(&path)?;
            Ok(Reply::new(Code::Path, QuotedPath(path.to_string()).to_string()))
        });
        self.note("makedir", text, &result);
        result
    }

    fn cd(&mut self, text: &str) -> Result<Reply> {
        let (tree, path) = self.resolve(text)?;
        tree.dir(&path)?;
        let reply = Reply::new(Code::ActionDone, QuotedPath(path.to_string()).to_string());
        if let State::LoggedIn { cwd, .. } = &mut self.state {
            *cwd = path;
        }
        Ok(reply)
    }

    fn stat(&self, text: &str) -> Result<Reply> {
        let (tree, path) = self.resolve(text)?;
        let entry = tree.entry(&path)?;
        let md5 = match entry.kind {
            Kind::Dir => None,
            Kind::File => Some(Download::open(tree, &self.shared.sums, &path, 0)?.md5),
        };
        Ok(Reply::new(Code::Status, entry.stat_line(md5).to_string()))
    }

    /// The logged-in user's trash.
    fn trash(&self) -> Trash {
        self.shared.trash(self.user())
    }

    fn rm(&self, text: &str) -> Result<Reply> {
        let result = self.resolve(text).and_then(|(tree, path)| {
            self.trash().remove(tree, &path, &self.shared.sums)?;
            Ok(Reply::new(Code::ActionDone, format!("removed {path}")))
        });
        self.note("rm", text, &result);
        result
    }

    fn trash_list(&self) -> Result<Reply> {
        let lines = self.trash().list(self.shared.config.max_list)?;
        Ok(Reply::multi(Code::Listing, lines.iter().map(|l| l.to_string()).collect()))
    }

    fn restore(&self, id: &str, to: Option<&str>) -> Result<Reply> {
        let result = self.resolve(to.unwrap_or(".")).and_then(|(tree, path)| {
            let back = self.trash().restore(tree, id, to.map(|_| path))?;
            Ok(Reply::new(Code::Path, QuotedPath(back.to_string()).to_string()))
        });
        self.note("restore", id, &result);
        result
    }

    fn purge(&self, target: &Purge) -> Result<Reply> {
        let (trash, sums) = (self.trash(), &self.shared.sums);
        let result = match target {
            Purge::All => trash.purge_all(sums).map(|_| Reply::new(Code::ActionDone, "trash emptied")),
            Purge::Id(id) => trash.purge(id, sums).map(|_| Reply::new(Code::ActionDone, format!("purged {id}"))),
        };
        self.note("purge", if let Purge::Id(id) = target { id } else { "all" }, &result);
        result
    }

    fn rmdir(&self, text: &str) -> Result<Reply> {
        let result = self.resolve(text).and_then(|(tree, path)| {
            tree.remove_dir(&path)?;
            Ok(Reply::new(Code::ActionDone, format!("removed {path}")))
        });
        self.note("rmdir", text, &result);
        result
    }

    fn mv(&self, from: &str, to: &str) -> Result<Reply> {
        let result = self.resolve(from).and_then(|(tree, a)| {
            let (_, b) = self.resolve(to)?;
            let replaced = replaced_by_move(tree, &a, &b);
            let kept = std::cell::Cell::new(false);
            tree.rename_with(&a, &b, || self.keep_replaced(tree, &a, &b).map(|k| kept.set(k)))?;
            // A file kept in the trash keeps its record.
            if let Some(gone) = replaced.filter(|_| !kept.get()) {
                self.shared.sums.forget(&gone);
            }
            Ok(Reply::new(Code::ActionDone, format!("moved {a} to {b}")))
        });
        self.note("mv", &format!("{from} -> {to}"), &result);
        result
    }

    /// Before `mv FROM TO` replaces a file at TO: keeps it in the trash
    /// unless FROM holds the same content.
    fn keep_replaced(&self, tree: &Tree, from: &UserPath, to: &UserPath) -> Result<bool> {
        if from == to {
            return Ok(false);
        }
        let sums = &self.shared.sums;
        let md5 = tree.checked(from).ok().and_then(|p| std::fs::symlink_metadata(p).ok()).and_then(|m| sums.get(&m));
        self.trash().keep_replaced(tree, to, md5, sums)
    }

    fn makedirs(&self, text: &str) -> Result<Reply> {
        let result = self.resolve(text).and_then(|(tree, path)| {
            tree.makedirs(&path)?;
            Ok(Reply::new(Code::Path, QuotedPath(path.to_string()).to_string()))
        });
        self.note("makedirs", text, &result);
        result
    }

    /// `cp`: checks like `mv`, then the quota for the full size of what is
    /// copied, then the copy itself (hard links: see `storage::copies`).
    fn cp(&self, from: &str, to: &str) -> Result<Reply> {
        let result = self.resolve(from).and_then(|(tree, a)| {
            let (_, b) = self.resolve(to)?;
            let plan = tree.plan_copy(&a, &b)?;
            tree.check_copy_length(&b, &plan, &self.staging())?;
            self.check_copy_quota(tree, plan.bytes)?;
            let keep = || self.keep_replaced_by_copy(tree, &a, &b);
            tree.copy((&a, &b), &plan, &self.staging(), &self.shared.sums, keep)?;
            Ok(Reply::new(Code::ActionDone, format!("copied {a} to {b}")))
        });
        self.note("cp", &format!("{from} -> {to}"), &result);
        result
    }

    /// Before `cp FROM TO` replaces the file at TO: it goes to the trash
    /// unless FROM holds the same content, as for `mv`.
    fn keep_replaced_by_copy(&self, tree: &Tree, from: &UserPath, to: &UserPath) -> Result<()> {
        self.keep_replaced(tree, from, to).map(|_| ())
    }

    /// Refuses a copy that would take the user past the quota: every path
    /// counts its full size, even when it shares storage.
    // Quota reservations (uploads branch) replace this check-then-act.
    fn check_copy_quota(&self, tree: &Tree, bytes: u64) -> Result<()> {
        let Some(quota) = self.shared.quota_of(self.user()) else { return Ok(()) };
        let used = tree.usage()? + staged_bytes(&self.staging()) + self.trash().usage();
        if used.saturating_add(bytes) > quota {
            return Err(Error::Quota(format!("copy of {bytes} bytes would exceed the quota of {quota} bytes")));
        }
        Ok(())
    }

    fn find(&self, text: &str) -> Result<Reply> {
        let (tree, path) = self.resolve(text)?;
        let lines = find(tree, &self.shared.sums, &path, self.shared.config.max_list)?;
        Ok(Reply::multi(Code::Listing, lines.iter().map(|l| l.to_string()).collect()))
    }

    fn quota(&self) -> Result<Reply> {
        let (tree, _) = self.resolve(".")?;
        let result = tree.usage().map(|used| {
            let used = used + staged_bytes(&self.staging()) + self.trash().usage();
            let limit = self.shared.quota_of(self.user());
            Reply::new(Code::Status, proto::body::Quota { used, limit }.to_string())
        });
        if let Err(e) = &result {
            self.note("quota", &e.to_string(), &result);
        }
        result
    }

    fn staging(&self) -> PathBuf {
        self.shared.staging(self.user())
    }

    fn upload(&mut self, asked: Asked) -> io::Result<Flow> {
        let (up, path) = match self.prepare_or_take_over(asked) {
            Ok(ok) => ok,
            Err(e) => {
                log::event(Some(self.peer), self.user(), "upload", asked.text, e.outcome(), 0);
                return self.refuse_and_close(e.reply());
            }
        };
        let shared = self.shared;
        let hold = shared.holders.hold(up.part_path(), self.socket());
        let (offset, prefix) = up.offer();
        let rehashed = up.rehashed();
        self.send(&Reply::new(Code::Payload, Offer { offset, prefix }.to_string()))?;
        let end = self.take_payload(up, &path, asked, hold.as_ref());
        let note = if rehashed > 0 { format!("{} rehashed={rehashed}", end.note) } else { end.note };
        log::event(Some(self.peer), self.user(), "upload", &path.to_string(), note, end.bytes);
        self.answer(end.reply, end.flow)
    }

    /// Prepares the upload; if another session of this process holds it
    /// but has moved no byte for a while (its client is most likely gone),
    /// shuts that session and takes the upload over.
    fn prepare_or_take_over(&self, asked: Asked) -> Result<(Upload, UserPath)> {
        let first = self.prepare_upload(asked);
        let Err(Error::Busy(_)) = &first else { return first };
        let (_, path) = self.resolve(asked.text)?;
        let part = part_path(&self.staging(), &path.to_string());
        let quiet = (self.shared.config.stall_timeout / 2).min(TAKEOVER_AFTER);
        if !self.shared.holders.release_stalled(&part, quiet) {
            return first;
        }
        log::event(Some(self.peer), self.user(), "takeover", &path.to_string(), "stalled session closed", 0);
        let deadline = later(Instant::now(), Duration::from_secs(3));
        loop {
            std::thread::sleep(Duration::from_millis(20));
            let again = self.prepare_upload(asked);
            if !matches!(again, Err(Error::Busy(_))) || Instant::now() >= deadline {
                return again;
            }
        }
    }

    fn prepare_upload(&self, asked: Asked) -> Result<(Upload, UserPath)> {
        // The trash counts in the quota.
        let trash = self.trash().usage();
        let account = |limit: u64| Quota {
            limit: limit.saturating_sub(trash),
            account: self.shared.reservations.account(self.user()),
        };
        let limits = Limits {
            max_file_size: self.shared.config.max_file_size,
            quota: self.shared.quota_of(self.user()).map(account),
        };
        let (tree, path) = self.resolve(asked.text)?;
        let request = Request { path: &path, size: asked.size, md5: asked.md5, from: asked.from };
        let up = Upload::prepare(tree, &self.staging(), &request, &limits)?;
        Ok((up, path))
    }

    /// Receives the payload (and the digest line, if it follows) and
    /// commits the file, unless the upload was taken over meanwhile. The
    /// staged file is released before the caller answers, so a lingering
    /// close never holds it.
    fn take_payload(&mut self, mut up: Upload, path: &UserPath, asked: Asked, hold: Option<&Hold>) -> Ending {
        let offset = up.held();
        let _ = self.reader.get_ref().set_read_timeout(Some(self.shared.config.stall_timeout));
        let received = up.receive(&mut self.reader);
        let bytes = up.held() - offset;
        let end = |note: String, reply, flow| Ending { note, bytes, reply, flow };
        match received {
            Ok(()) => {}
            Err(Stop::Client(_)) => return end("interrupted".into(), None, Flow::Close),
            Err(Stop::Local(e)) => return end(e.outcome(), Some(e.reply()), Flow::Close),
        }
        let claimed = match asked.md5.is_none().then(|| self.read_digest_line()) {
            None => None,
            Some(Ok(d)) => Some(d),
            Some(Err((reply, flow))) => {
                up.keep();
                return end("no digest".into(), reply, flow);
            }
        };
        if self.account_gone() {
            return end("account deleted".into(), Some(Reply::new(Code::Closing, "account deleted")), Flow::Close);
        }
        if hold.is_some_and(|h| !h.stop_receiving()) {
            up.keep();
            return end("taken over".into(), None, Flow::Close);
        }
        let State::LoggedIn { tree, user, .. } = &self.state else { unreachable!("checked by dispatch") };
        let (reply, note) = match up.finish(tree, path, claimed, &self.shared.sums, &self.shared.trash(self.user())) {
            Ok(done) => {
                if let Some(e) = done.unsynced {
                    log::event(
                        Some(self.peer),
                        user,
                        "fsync",
                        &path.to_string(),
                        format!("failed after commit: {e}"),
                        0,
                    );
                }
                (
                    Reply::new(Code::TransferDone, Stored { size: asked.size, md5: done.md5 }.to_string()),
                    "226".to_string(),
                )
            }
            Err(e) => (e.reply(), e.outcome()),
        };
        end(note, Some(reply), Flow::Go)
    }

    /// The digest line that follows a payload sent with MD5 `-`, or the
    /// reply (if any) and what the session does when there is none: a bad
    /// line gets `501` and the session goes on; the staged bytes are kept
    /// by the caller either way, so the upload can be resumed.
    fn read_digest_line(&mut self) -> std::result::Result<Digest, (Option<Reply>, Flow)> {
        let deadline = later(Instant::now(), self.shared.config.stall_timeout);
        match self.read_line(deadline) {
            Input::Line(line) => Digest::from_hex(String::from_utf8_lossy(&line).trim())
                .ok_or((Some(Reply::new(Code::BadArgs, "expected the MD5 as 32 hex digits")), Flow::Go)),
            Input::TooLong => Err((Some(Reply::new(Code::Syntax, "line too long")), Flow::Close)),
            Input::Timeout => Err((Some(Reply::new(Code::Closing, "stall timeout")), Flow::Close)),
            Input::Closed => Err((None, Flow::Close)),
        }
    }

    /// Sends a reply and goes on, or sends it and closes.
    fn answer(&mut self, reply: Option<Reply>, flow: Flow) -> io::Result<Flow> {
        match (reply, flow) {
            (Some(r), Flow::Go) => self.send(&r).map(|_| Flow::Go),
            (Some(r), Flow::Close) => self.refuse_and_close(r),
            (None, flow) => Ok(flow),
        }
    }

    fn download(&mut self, text: &str, offset: u64) -> io::Result<Flow> {
        let opened = self.resolve(text).and_then(|(tree, path)| Download::open(tree, &self.shared.sums, &path, offset));
        let mut down = match opened {
            Ok(d) => d,
            Err(e) => {
                log::event(Some(self.peer), self.user(), "download", text, e.outcome(), 0);
                return self.send(&e.reply()).map(|_| Flow::Go);
            }
        };
        let (size, md5) = (down.size, down.md5);
        self.send(&Reply::new(Code::Payload, DownloadHead { size, md5, offset }.to_string()))?;
        let want = size - offset;
        let sent = self.send_file(&mut down.file, want);
        match sent {
            n if n == want => {
                log::event(Some(self.peer), self.user(), "download", text, 226, n);
                self.send(&Reply::new(Code::TransferDone, "transfer complete")).map(|_| Flow::Go)
            }
            // The file shrank under us or the client went away: the framing
            // is lost, so the connection ends.
            n => {
                log::event(Some(self.peer), self.user(), "download", text, "interrupted", n);
                Ok(Flow::Close)
            }
        }
    }

    /// Sends `len` bytes of `file` from its position with the kernel's
    /// zero-copy path; returns how many went out before an error or EOF.
    fn send_file(&mut self, file: &mut std::fs::File, len: u64) -> u64 {
        const STEP: u64 = 16 << 20;
        let mut sent = 0;
        while sent < len {
            match io::copy(&mut file.take(STEP.min(len - sent)), &mut self.socket()) {
                Ok(0) | Err(_) => break,
                Ok(n) => sent += n,
            }
        }
        sent
    }
}

/// The file that moving `from` to `to` would replace (not `from` itself,
/// which `to` may name through another link), for forgetting its MD5.
fn replaced_by_move(tree: &Tree, from: &UserPath, to: &UserPath) -> Option<std::fs::Metadata> {
    let (source, target) = (tree.entry(from).ok()?, tree.entry(to).ok()?);
    let same = source.meta.dev() == target.meta.dev() && source.meta.ino() == target.meta.ino();
    (target.kind == Kind::File && !same).then_some(target.meta)
}

/// `start + wait`, never overflowing: the flags keep `wait` within 30 days,
/// and a longer `wait` that an `Instant` cannot hold is cut to 30 days.
fn later(start: Instant, wait: Duration) -> Instant {
    start.checked_add(wait).or_else(|| start.checked_add(MAX_DURATION)).unwrap_or(start)
}

/// Which directory a home is: device, inode and birth time, so that a home
/// made again on a reused inode (after `netdisk user del`) is another one.
type HomeId = (u64, u64, Option<std::time::SystemTime>);

fn home_id(meta: &std::fs::Metadata) -> HomeId {
    (meta.dev(), meta.ino(), meta.created().ok())
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

fn help() -> Reply {
    Reply::multi(Code::Help, proto::help_lines())
}
