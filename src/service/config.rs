//! Server settings: defaults, command-line flags and environment variables.
//!
//! Every flag `--some-flag V` can also be given as `NETDISK_SOME_FLAG=V`;
//! a flag wins over the environment.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::storage::content::Dedup;

/// Shortest duration a flag accepts: a zero timeout would mean "none" to
/// the socket calls, so it is refused rather than silently disabling one.
pub const MIN_DURATION: Duration = Duration::from_secs(1);
/// Longest duration a flag accepts (30 days): far beyond any sensible
/// timeout, and small enough that adding it to any `Instant` is safe.
pub const MAX_DURATION: Duration = Duration::from_secs(30 * 86_400);

/// Everything the server can be told.
/// Each field is the flag of the same name (`-` for `_`); see [`USAGE`].
#[allow(missing_docs)]
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: String,
    pub data: PathBuf,
    pub max_clients: usize,
    pub max_per_ip: usize,
    pub idle_timeout: Duration,
    pub login_timeout: Duration,
    pub stall_timeout: Duration,
    pub partial_ttl: Duration,
    pub max_file_size: u64,
    /// Bytes per user; `None` is unlimited.
    pub quota: Option<u64>,
    /// Files and directories per user (tree and trash); `None` is
    /// unlimited.
    pub max_entries: Option<u64>,
    /// Failed logins on one connection before it is closed.
    pub max_login_failures: u32,
    /// Registrations one address may make at once; then one per second.
    pub register_burst: u32,
    /// Days a removed or replaced item stays in the trash; 0: no trash.
    pub trash_days: u64,
    /// Most entries in one listing; a longer one is refused.
    pub max_list: usize,
    /// Whether `register` is allowed (`--registration open|closed`).
    pub registration_open: bool,
    /// Which content `claim` may find (`--dedup global|user|off`).
    pub dedup: Dedup,
    /// Where the HTTP face listens (`--http ADDR`); `None`: no HTTP.
    pub http: Option<String>,
    /// The base of links handed out (`--public-url`), without a path.
    pub public_url: Option<String>,
    /// Peers whose `X-Forwarded-*` are believed (`--trust-proxy`).
    pub trust_proxy: Vec<Cidr>,
    /// Days a browser session lasts without use (`--web-session-days`).
    pub web_session_days: u64,
}

/// An address or a network (`10.0.0.0/8`, `::1`), for `--trust-proxy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    bits: u8,
}

impl Cidr {
    /// Whether `ip` is in this network (`::ffff:a.b.c.d` as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => prefix_eq(&net.octets(), &ip.octets(), self.bits),
            (IpAddr::V6(net), IpAddr::V6(ip)) => prefix_eq(&net.octets(), &ip.octets(), self.bits),
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let (whole, rest) = (usize::from(bits / 8), bits % 8);
    let mask = if rest == 0 { 0 } else { 0xffu8 << (8 - rest) };
    a[..whole] == b[..whole] && (rest == 0 || a[whole] & mask == b[whole] & mask)
}

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Cidr, String> {
        let bad = || format!("{text:?} is not an address or ADDRESS/BITS");
        let (addr, bits) = text.split_once('/').map_or((text, None), |(a, b)| (a, Some(b)));
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            None => max,
            Some(b) => b.parse::<u8>().ok().filter(|b| *b <= max).ok_or_else(bad)?,
        };
        Ok(Cidr { addr, bits })
    }
}

/// Files and directories a user may hold when `--max-entries` is not set.
pub const DEFAULT_MAX_ENTRIES: u64 = 1_000_000;

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: "127.0.0.1:9021".into(),
            data: PathBuf::from("./data"),
            max_clients: 1000,
            max_per_ip: 64,
            idle_timeout: Duration::from_secs(300),
            login_timeout: Duration::from_secs(60),
            stall_timeout: Duration::from_secs(60),
            partial_ttl: Duration::from_secs(7 * 86_400),
            max_file_size: 1 << 40,
            quota: None,
            max_entries: Some(DEFAULT_MAX_ENTRIES),
            max_login_failures: 3,
            register_burst: 30,
            trash_days: 30,
            max_list: 200_000,
            registration_open: true,
            dedup: Dedup::Global,
            http: None,
            public_url: None,
            trust_proxy: Vec::new(),
            web_session_days: 7,
        }
    }
}

/// What the command line asked for (parsed once: its size does not matter).
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Parsed {
    /// Serve with this configuration.
    Run(Config),
    /// Print [`USAGE`].
    Help,
    /// Print the version.
    Version,
}

/// The text of `netdisk --help`.
pub const USAGE: &str = "\
usage: netdisk [OPTIONS]
       netdisk user add|passwd|del|list|quota ... [--data DIR]   (netdisk user --help)

Serves the netdisk protocol (see docs/PROTOCOL.md). Sizes (BYTES) may end in
K, M, G or T (powers of 1024).

options (each also read from the environment variable in brackets):
  --listen ADDR          address to listen on, port 0 picks one [NETDISK_LISTEN] (127.0.0.1:9021)
  --data DIR             data directory [NETDISK_DATA] (./data)
  --max-clients N        connections at once [NETDISK_MAX_CLIENTS] (1000)
  --max-per-ip N         connections at once from one address [NETDISK_MAX_PER_IP] (64)
  --idle-timeout SECS    close a session with no request for this long [NETDISK_IDLE_TIMEOUT] (300)
  --login-timeout SECS   close a session not logged in after this long [NETDISK_LOGIN_TIMEOUT] (60)
  --stall-timeout SECS   close a transfer that moves no byte for this long [NETDISK_STALL_TIMEOUT] (60)
  --partial-ttl SECS     remove interrupted uploads older than this [NETDISK_PARTIAL_TTL] (604800)
  --max-file-size BYTES  largest file [NETDISK_MAX_FILE_SIZE] (1099511627776)
  --quota BYTES          bytes per user, files and staged uploads [NETDISK_QUOTA] (unlimited)
  --max-entries N        files and directories per user, tree and trash, `-`: no limit [NETDISK_MAX_ENTRIES] (1000000)
  --max-login-failures N failed logins before a connection is closed [NETDISK_MAX_LOGIN_FAILURES] (3)
  --register-burst N     registrations from one address before they slow to one a second [NETDISK_REGISTER_BURST] (30)
  --trash-days N         keep removed and replaced files this long, 0: no trash [NETDISK_TRASH_DAYS] (30)
  --max-list N           most entries in one listing, more are refused [NETDISK_MAX_LIST] (200000)
  --registration open|closed  whether `register` is allowed [NETDISK_REGISTRATION] (open)
  --dedup global|user|off  what `claim` may find: any user's files, the claimer's own, nothing [NETDISK_DEDUP] (global)
  --http ADDR            also serve HTTP on ADDR (docs/HTTP.md) [NETDISK_HTTP] (off)
  --public-url URL       base of the links handed out, e.g. https://disk.example.org [NETDISK_PUBLIC_URL] (from the request)
  --trust-proxy LIST     addresses or networks (a,b/24) whose X-Forwarded-For/-Proto count [NETDISK_TRUST_PROXY] (none)
  --web-session-days N   end a browser session unused this long [NETDISK_WEB_SESSION_DAYS] (7)
  --help                 this text
  --version              the version

SECS is a whole number of seconds from 1 to 2592000 (30 days).
";

const FLAGS: [&str; 21] = [
    "listen",
    "data",
    "max-clients",
    "max-per-ip",
    "idle-timeout",
    "login-timeout",
    "stall-timeout",
    "partial-ttl",
    "max-file-size",
    "quota",
    "max-entries",
    "max-login-failures",
    "register-burst",
    "trash-days",
    "max-list",
    "registration",
    "dedup",
    "http",
    "public-url",
    "trust-proxy",
    "web-session-days",
];

/// Parses flags (without the program name) over the environment `env`.
pub fn parse<I, E>(args: I, env: E) -> Result<Parsed, String>
where
    I: IntoIterator<Item = String>,
    E: Fn(&str) -> Option<String>,
{
    let mut config = Config::default();
    for flag in FLAGS {
        let var = format!("NETDISK_{}", flag.replace('-', "_").to_uppercase());
        if let Some(value) = env(&var) {
            set(&mut config, flag, &value).map_err(|e| format!("{var}: {e}"))?;
        }
    }
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--help" | "-h" => return Ok(Parsed::Help),
            "--version" | "-V" => return Ok(Parsed::Version),
            _ => {}
        }
        let Some(flag) = arg.strip_prefix("--") else {
            return Err(format!("unexpected argument {arg:?}"));
        };
        let (flag, inline) = match flag.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (flag.to_string(), None),
        };
        if !FLAGS.contains(&flag.as_str()) {
            return Err(format!("unknown option --{flag}"));
        }
        let value = match inline {
            Some(v) => v,
            None => args.next().ok_or_else(|| format!("--{flag} needs a value"))?,
        };
        set(&mut config, &flag, &value).map_err(|e| format!("--{flag}: {e}"))?;
    }
    Ok(Parsed::Run(config))
}

fn set(c: &mut Config, flag: &str, value: &str) -> Result<(), String> {
    match flag {
        "listen" => c.listen = value.to_string(),
        "data" => c.data = PathBuf::from(value),
        "max-clients" => c.max_clients = positive(value)? as usize,
        "max-per-ip" => c.max_per_ip = positive(value)? as usize,
        "idle-timeout" => c.idle_timeout = seconds(value)?,
        "login-timeout" => c.login_timeout = seconds(value)?,
        "stall-timeout" => c.stall_timeout = seconds(value)?,
        "partial-ttl" => c.partial_ttl = seconds(value)?,
        "max-file-size" => c.max_file_size = size(value)?,
        "quota" => c.quota = if value == "-" || value == "unlimited" { None } else { Some(size(value)?) },
        "max-entries" => c.max_entries = if value == "-" || value == "unlimited" { None } else { Some(number(value)?) },
        "max-login-failures" => c.max_login_failures = positive(value)? as u32,
        "register-burst" => c.register_burst = positive(value)? as u32,
        "trash-days" => c.trash_days = days(value)?,
        "max-list" => c.max_list = positive(value)? as usize,
        "registration" => c.registration_open = open_or_closed(value)?,
        "dedup" => c.dedup = value.parse()?,
        "http" => c.http = Some(value.to_string()),
        "public-url" => c.public_url = Some(public_url(value)?),
        "trust-proxy" => c.trust_proxy = value.split(',').map(|p| p.trim().parse()).collect::<Result<_, _>>()?,
        "web-session-days" => c.web_session_days = positive(value)?.min(3650),
        _ => return Err("unknown option".into()),
    }
    Ok(())
}

fn number(value: &str) -> Result<u64, String> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{value:?} is not a whole number"));
    }
    value.parse().map_err(|_| format!("{value:?} is too large"))
}

/// A duration in whole seconds, from [`MIN_DURATION`] to [`MAX_DURATION`].
fn seconds(value: &str) -> Result<Duration, String> {
    let (min, max) = (MIN_DURATION.as_secs(), MAX_DURATION.as_secs());
    let out_of_range = || format!("{value:?} is out of range: give {min} to {max} seconds (30 days)");
    let secs = number(value).map_err(|e| if e.ends_with("too large") { out_of_range() } else { e })?;
    if !(min..=max).contains(&secs) {
        return Err(out_of_range());
    }
    Ok(Duration::from_secs(secs))
}

/// Retention in days: 0 (no trash) to 36500 (a hundred years).
fn days(value: &str) -> Result<u64, String> {
    match number(value)? {
        n if n > 36_500 => Err(format!("{value:?} is more than 36500 days")),
        n => Ok(n),
    }
}

/// A size in bytes: digits, optionally ending in `K`, `M`, `G` or `T`
/// (powers of 1024; lower case is accepted too).
pub fn size(value: &str) -> Result<u64, String> {
    let (digits, shift) = match value.as_bytes().last().map(u8::to_ascii_uppercase) {
        Some(b'K') => (&value[..value.len() - 1], 10),
        Some(b'M') => (&value[..value.len() - 1], 20),
        Some(b'G') => (&value[..value.len() - 1], 30),
        Some(b'T') => (&value[..value.len() - 1], 40),
        _ => (value, 0),
    };
    let n = number(digits).map_err(|_| format!("{value:?} is not a size (digits, then K, M, G or T)"))?;
    n.checked_mul(1 << shift).ok_or_else(|| format!("{value:?} is too large"))
}

/// `http://` or `https://`, a host, an optional port, no path.
fn public_url(value: &str) -> Result<String, String> {
    let bad = || format!("{value:?}: expected http(s)://HOST[:PORT] without a path");
    let rest = value.strip_prefix("https://").or_else(|| value.strip_prefix("http://")).ok_or_else(bad)?;
    let host = rest.strip_suffix('/').unwrap_or(rest);
    if host.is_empty() || host.contains(['/', '?', '#', '@', ' ']) {
        return Err(bad());
    }
    Ok(value.trim_end_matches('/').to_string())
}

fn open_or_closed(value: &str) -> Result<bool, String> {
    match value {
        "open" => Ok(true),
        "closed" => Ok(false),
        _ => Err(format!("{value:?}: expected open or closed")),
    }
}

fn positive(value: &str) -> Result<u64, String> {
    match number(value)? {
        0 => Err("must be at least 1".into()),
        n if n > u32::MAX as u64 => Err(format!("{value:?} is too large")),
        n => Ok(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str], env: &[(&str, &str)]) -> Result<Config, String> {
        let env: Vec<(String, String)> = env.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        let lookup = |k: &str| env.iter().find(|(a, _)| a == k).map(|(_, b)| b.clone());
        match parse(args.iter().map(|s| s.to_string()), lookup)? {
            Parsed::Run(c) => Ok(c),
            other => Err(format!("{other:?}")),
        }
    }

    #[test]
    fn flags_override_environment() {
        let c =
            run(&["--listen", "0.0.0.0:1", "--quota=10"], &[("NETDISK_LISTEN", "x:2"), ("NETDISK_MAX_PER_IP", "3")])
                .unwrap();
        assert_eq!((c.listen.as_str(), c.quota, c.max_per_ip), ("0.0.0.0:1", Some(10), 3));
        assert!(run(&["--nope", "1"], &[]).is_err());
        assert!(run(&["--idle-timeout", "-1"], &[]).is_err());
        assert!(run(&["--max-clients", "0"], &[]).is_err());
        assert!(run(&["--data"], &[]).is_err());
        assert!(run(&[], &[("NETDISK_QUOTA", "lots")]).is_err());
        assert_eq!(run(&[], &[]).unwrap().trash_days, 30);
        assert_eq!(run(&["--trash-days", "0"], &[]).unwrap().trash_days, 0);
        assert!(run(&["--trash-days", "36501"], &[]).is_err());
        assert!(run(&["--trash-days", "-1"], &[]).is_err());
    }

    #[test]
    fn durations_are_one_second_to_thirty_days() {
        let c = run(&["--idle-timeout", "1", "--partial-ttl", "2592000"], &[]).unwrap();
        assert_eq!((c.idle_timeout.as_secs(), c.partial_ttl.as_secs()), (1, 2_592_000));
        for flag in ["--idle-timeout", "--login-timeout", "--stall-timeout", "--partial-ttl"] {
            for bad in ["0", "2592001", "18446744073709551615", "99999999999999999999999"] {
                let err = run(&[flag, bad], &[]).unwrap_err();
                assert!(err.starts_with(flag) && err.contains("1 to 2592000 seconds"), "{flag} {bad}: {err}");
            }
        }
        let err = run(&[], &[("NETDISK_STALL_TIMEOUT", "0")]).unwrap_err();
        assert!(err.starts_with("NETDISK_STALL_TIMEOUT") && err.contains("out of range"), "{err}");
        assert!(run(&["--stall-timeout", "1.5"], &[]).unwrap_err().contains("not a whole number"));
    }

    #[test]
    fn http_flags() {
        let c = run(
            &["--http", "127.0.0.1:0", "--public-url", "https://d.example/", "--trust-proxy", "::1,10.0.0.0/8"],
            &[],
        )
        .unwrap();
        assert_eq!((c.http.as_deref(), c.public_url.as_deref()), (Some("127.0.0.1:0"), Some("https://d.example")));
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(c.trust_proxy[0].contains(ip("::1")) && c.trust_proxy[1].contains(ip("::ffff:10.9.8.7")));
        assert!(!c.trust_proxy[1].contains(ip("11.0.0.1")));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err() && "x".parse::<Cidr>().is_err());
        for bad in ["ftp://x", "https://x/path", "https://", "x.org"] {
            assert!(run(&["--public-url", bad], &[]).is_err(), "{bad}");
        }
    }

    #[test]
    fn max_list_flag() {
        assert_eq!(run(&[], &[("NETDISK_MAX_LIST", "50")]).unwrap().max_list, 50);
        assert_eq!(run(&[], &[]).unwrap().max_list, 200_000);
        assert!(run(&["--max-list", "0"], &[]).is_err());
    }

    #[test]
    fn sizes_take_suffixes_table() {
        let cases = [
            ("0", Ok(0)),
            ("17", Ok(17)),
            ("2K", Ok(2048)),
            ("3m", Ok(3 << 20)),
            ("1G", Ok(1 << 30)),
            ("16T", Ok(16 << 40)),
            ("16777215T", Ok(16_777_215 << 40)),
            ("16777216T", Err(())),
            ("K", Err(())),
            ("1.5G", Err(())),
            ("-1", Err(())),
            ("1KB", Err(())),
            ("1 K", Err(())),
            ("", Err(())),
        ];
        for (text, want) in cases {
            assert_eq!(size(text).map_err(|_| ()), want, "{text:?}");
        }
        let c = run(&["--quota", "1M", "--max-file-size=2K", "--registration", "closed"], &[]).unwrap();
        assert_eq!((c.quota, c.max_file_size, c.registration_open), (Some(1 << 20), 2048, false));
        assert!(run(&["--registration", "maybe"], &[]).is_err());
    }
}
