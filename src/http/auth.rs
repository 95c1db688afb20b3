//! Who is asking: the client's address (through trusted proxies only),
//! whether the request is secure, cross-site refusals, and HTTP Basic
//! credentials, accepted only where they cannot have crossed a network
//! in clear (HTTP.md "Who is asking").
//!
//! A password is never logged, kept or compared here: the engine's
//! account file checks it, through the service's short-lived cache of
//! verified credentials (`service::credentials`: a hash of them, tied to
//! the stored record, so `passwd` or a deletion ends it at once). A wrong
//! one waits out the login back-off of the client's address.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::http::Reply;
use crate::http::decode::base64;
use crate::http::engine::Cidr;
use crate::http::engine::{self, Shared};
use crate::http::wire::Request;
use crate::secret::Password;

/// Where a request comes from.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Client {
    /// The socket's peer.
    pub(crate) peer: SocketAddr,
    /// The client's address: the peer, or through a trusted proxy the
    /// rightmost `X-Forwarded-For` entry that is not itself trusted.
    pub(crate) addr: IpAddr,
    /// Came through a trusted proxy that says `X-Forwarded-Proto: https`.
    pub(crate) secure: bool,
    /// The peer is a trusted proxy.
    pub(crate) via_proxy: bool,
}

impl Client {
    /// The key of per-address limits and back-offs: IPv4 (also from
    /// `::ffff:a.b.c.d`), or the /64 of an IPv6 address.
    pub(crate) fn key(&self) -> IpAddr {
        key_of(self.addr)
    }

    /// The address the log names: the peer, or through a trusted proxy
    /// the client's address it reported (port 0: the client's port is not
    /// known).
    pub(crate) fn logged(&self) -> SocketAddr {
        if self.addr == self.peer.ip() { self.peer } else { SocketAddr::new(self.addr, 0) }
    }

    /// Whether HTTP Basic may be used: a secure request, or a loopback
    /// peer that is not a trusted proxy (through one, only its word counts).
    pub(crate) fn basic_allowed(&self) -> bool {
        self.secure || (!self.via_proxy && self.peer.ip().to_canonical().is_loopback())
    }
}

/// The per-address key of `ip` (see [`Client::key`]).
pub(crate) fn key_of(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

fn trusted(list: &[Cidr], ip: IpAddr) -> bool {
    list.iter().any(|c| c.contains(ip))
}

/// Logged once per process: a loopback peer that is not trusted sent
/// forwarding headers (a proxy left out of `--trust-proxy`).
static WARNED: AtomicBool = AtomicBool::new(false);

/// Works out [`Client`] for a request from `peer`.
pub(crate) fn client(shared: &Shared, peer: SocketAddr, req: &Request) -> Client {
    let list = &shared.config.trust_proxy;
    let peer_ip = peer.ip().to_canonical();
    let mut out = Client { peer, addr: peer_ip, secure: false, via_proxy: trusted(list, peer_ip) };
    let forwarded = req.header("x-forwarded-for");
    if !out.via_proxy {
        let sent = forwarded.is_some() || req.header("x-forwarded-proto").is_some();
        if sent && peer_ip.is_loopback() && !WARNED.swap(true, Ordering::Relaxed) {
            engine::server_event("http", "a loopback peer outside --trust-proxy sent X-Forwarded-* (ignored)");
        }
        return out;
    }
    let hops = forwarded.unwrap_or_default();
    let hops = hops.split(',').rev().filter_map(|h| h.trim().parse::<IpAddr>().ok()).map(|ip| ip.to_canonical());
    if let Some(ip) = hops.into_iter().find(|ip| !trusted(list, *ip)) {
        out.addr = ip;
    }
    let proto = req.header("x-forwarded-proto").unwrap_or_default();
    out.secure = proto.rsplit(',').next().is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
    out
}

/// The origins this server answers as: that of `--public-url`, and that
/// of the `Host` it was reached by.
fn own_origins(shared: &Shared, client: &Client, req: &Request) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(url) = &shared.config.public_url {
        out.push(url.trim_end_matches('/').to_ascii_lowercase());
    }
    if let Some(host) = req.header("host") {
        let scheme = if client.secure { "https" } else { "http" };
        out.push(format!("{scheme}://{}", host.to_ascii_lowercase()));
    }
    out
}

/// Methods a cross-site page may cause without changing anything.
fn is_safe(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS" | "PROPFIND")
}

/// The cross-site rule: an unsafe method with a foreign `Origin`, or
/// with a cookie and no `Origin`, is refused before anything changes.
pub(crate) fn cross_site(shared: &Shared, client: &Client, req: &Request) -> Option<Reply> {
    if is_safe(&req.method) {
        return None;
    }
    let origin = req.header("origin").map(|o| o.to_ascii_lowercase());
    let foreign = match &origin {
        Some(o) => !own_origins(shared, client, req).contains(o),
        None => req.header("cookie").is_some(),
    };
    foreign.then(|| Reply::text(403, "cross-site request refused").with_note("foreign origin"))
}

/// The account a request without a browser session acts for (its HTTP
/// Basic credentials), or the reply that refuses it.
pub(crate) fn user(shared: &Shared, client: &Client, req: &Request) -> Result<String, Reply> {
    let browser = req.header("cookie").is_some() || req.header("sec-fetch-mode").is_some();
    let Some(credentials) = req.header("authorization") else {
        return Err(ask(client, req, browser));
    };
    if !client.basic_allowed() {
        return Err(clear_text_refusal());
    }
    let Some((user, pass)) = basic(&credentials) else {
        return Err(Reply::text(400, "malformed Authorization").with_note("bad credentials"));
    };
    let turn = engine::login_turn(shared, client.key());
    // A right password may come from the cache of verified credentials;
    // a wrong one is always checked in full, and waits out the back-off.
    let known = crate::storage::users::check_user(&user).is_ok() && engine::verify_basic(shared, &user, &pass);
    if !known {
        turn.failed();
        return Err(challenge("wrong user or password").with_note("login failed"));
    }
    Ok(user)
}

/// A request without credentials: a browser is sent to the login page
/// (a page load) or told no; anyone else is challenged where Basic is
/// accepted and refused where it is not.
fn ask(client: &Client, req: &Request, browser: bool) -> Reply {
    if browser {
        if req.header("sec-fetch-mode").as_deref() == Some("navigate") {
            let back = crate::http::target::encode_name(&req.target);
            return Reply::redirect(303, &format!("/login?next={back}")).with_note("no session");
        }
        return Reply::text(401, "log in first").with_note("no session");
    }
    if !client.basic_allowed() {
        return clear_text_refusal();
    }
    challenge("credentials needed").with_note("no credentials")
}

fn challenge(text: &str) -> Reply {
    let mut reply = Reply::text(401, text);
    reply.head.set("WWW-Authenticate", "Basic realm=\"netdisk\", charset=\"UTF-8\"");
    reply
}

fn clear_text_refusal() -> Reply {
    let text = "passwords are not accepted over plain HTTP from the network: put TLS in front (docs/DEPLOY.md)";
    Reply::text(403, text).with_note("basic over plain http")
}

/// `Basic BASE64(user:password)`.
fn basic(value: &str) -> Option<(String, Password)> {
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(base64(token.trim())?).ok()?;
    let (user, pass) = decoded.split_once(':')?;
    Some((user.to_string(), Password::new(pass)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_basic_credentials() {
        assert_eq!(base64("YWxpY2U6cHc6eA==").unwrap(), b"alice:pw:x");
        assert_eq!(base64("").unwrap(), b"");
        for bad in ["YWxpY2U", "YW=xY2U=", "====", "YWxp!2U="] {
            assert_eq!(base64(bad), None, "{bad}");
        }
        let (user, pass) = basic("basic YWxpY2U6cHc6eA==").unwrap();
        assert_eq!((user.as_str(), pass.expose()), ("alice", "pw:x"));
        assert!(basic("Bearer abc").is_none());
    }

    #[test]
    fn addresses_group_by_v4_and_v6_prefix() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(key_of(ip("::ffff:10.1.2.3")), ip("10.1.2.3"));
        assert_eq!(key_of(ip("2001:db8:1:2:3:4:5:6")), ip("2001:db8:1:2::"));
        assert_eq!(key_of(ip("2001:db8:1:2:ffff::1")), key_of(ip("2001:db8:1:2::9")));
    }
}
