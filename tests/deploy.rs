//! The deployment recipe of docs/DEPLOY.md, run on loopback: stunnel in
//! front of the text protocol with a certificate from a local CA, a
//! client-side stunnel for `netdisk-client` (and `openssl s_client`);
//! Caddy with `tls internal` in front of the HTTP face (`deploy/Caddyfile`);
//! and the systemd unit in `deploy/`: verified by `systemd-analyze`, and
//! run by a live systemd in a container (`systemd-nspawn`).
//!
//! The stunnel and systemd tests need root (only for the package install;
//! the programs run as any user), `stunnel4`, `openssl` and
//! `systemd-analyze`; the live unit needs root and `systemd-nspawn`
//! (`systemd-container`); the Caddy test needs `caddy` and `curl` (no root).
//! Each is skipped, saying so, without them (with `NETDISK_REQUIRE_ALL=1`
//! it fails instead). Every process is killed when the test ends, panics
//! included.

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::{EVENT_WAIT, Server, bytes, can_run, fixture, installed, run, wait_until};
use netdisk::client::Client;

/// A process killed when dropped.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free loopback port (bound and released: stunnel takes fixed ports).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `openssl` with `args` in `dir`; fails the test if it fails.
fn openssl(dir: &Path, args: &[&str]) {
    let ran = run(Command::new("openssl").args(args).current_dir(dir), "");
    assert_eq!(ran.code, 0, "openssl {args:?}: {}", ran.err);
}

/// A local CA (`ca.pem`) and a server certificate for `localhost` signed
/// by it (`server.pem`, `server.key`); a second CA (`other-ca.pem`) that
/// signed nothing of ours.
fn make_certificates(dir: &Path) {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    for ca in ["ca", "other-ca"] {
        let (key, pem, subj) = (format!("{ca}.key"), format!("{ca}.pem"), format!("/CN=netdisk test {ca}"));
        let mut args = vec!["req", "-x509", "-days", "2", "-subj", &subj, "-keyout", &key, "-out", &pem];
        args.extend(ec);
        openssl(dir, &args);
    }
    let mut args = vec!["req", "-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr"];
    args.extend(ec);
    openssl(dir, &args);
    fs::write(dir.join("san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "server.pem",
        ],
    );
}

/// stunnel in the foreground with `conf` (the recipe's text plus the
/// test's ports and files), listening on `port` once this returns.
fn stunnel(dir: &Path, name: &str, conf: &str, port: u16) -> Daemon {
    let path = dir.join(format!("{name}.conf"));
    let text = format!("foreground = yes\npid =\noutput = {}\n{conf}", dir.join(format!("{name}.log")).display());
    fs::write(&path, text).unwrap();
    let child = Command::new("stunnel4").arg(&path).stdin(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let daemon = Daemon(child);
    wait_until(EVENT_WAIT, &format!("{name} listening on {port}"), || TcpStream::connect(("127.0.0.1", port)).is_ok());
    daemon
}

/// The recipe's two stunnel configurations (deploy/stunnel-*.conf), with
/// the test's ports and certificate paths.
fn recipe(file: &str, replace: &[(&str, String)]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy").join(file);
    let mut text = fs::read_to_string(&path).unwrap();
    for (from, to) in replace {
        assert!(text.contains(from), "{file} has no {from}");
        text = text.replace(from, to);
    }
    text
}

#[test]
fn stunnel_in_front_of_the_text_protocol_carries_a_login_an_upload_and_a_download() {
    if !can_run("deploy (stunnel)", &["stunnel4", "openssl"]) {
        return;
    }
    let server = fixture!();
    let dir = server.dir().to_path_buf();
    make_certificates(&dir);
    let (tls, local) = (free_port(), free_port());
    let file = |name: &str| dir.join(name).display().to_string();
    let server_conf = recipe(
        "stunnel-server.conf",
        &[
            ("0.0.0.0:9022", format!("127.0.0.1:{tls}")),
            ("127.0.0.1:9021", server.addr.clone()),
            ("/etc/stunnel/netdisk.pem", file("server.pem")),
            ("/etc/stunnel/netdisk.key", file("server.key")),
        ],
    );
    let _front = stunnel(&dir, "server", &server_conf, tls);
    let client_conf = |ca: &str, port: u16| {
        recipe(
            "stunnel-client.conf",
            &[
                ("127.0.0.1:9021", format!("127.0.0.1:{port}")),
                ("disk.example.com:9022", format!("localhost:{tls}")),
                ("checkHost = disk.example.com", "checkHost = localhost".into()),
                ("/etc/ssl/certs/ca-certificates.crt", file(ca)),
            ],
        )
    };
    let _back = stunnel(&dir, "client", &client_conf("ca.pem", local), local);

    // The library client (what netdisk-client runs) through both tunnels.
    let addr = format!("127.0.0.1:{local}");
    let mut c = Client::connect(&addr).unwrap();
    c.register("tess", "pw-tess-long").unwrap();
    c.login("tess", "pw-tess-long").unwrap();
    let data = bytes(3 << 20, 5);
    let src = dir.join("up.bin");
    fs::write(&src, &data).unwrap();
    c.upload(&src, "f.bin", &mut |_| true).unwrap();
    let back = dir.join("back.bin");
    c.download("f.bin", &back, &mut |_| true).unwrap();
    assert!(fs::read(&back).unwrap() == data, "the download through both tunnels differs");
    let log = server.log_text();
    assert!(log.contains("user=tess action=upload") && log.contains("user=tess action=download"), "{log}");
    drop(c);

    // A client that trusts another CA gets nothing: its stunnel drops the
    // connection before any greeting.
    let wrong = free_port();
    let _wrong = stunnel(&dir, "wrong", &client_conf("other-ca.pem", wrong), wrong);
    let mut line = String::new();
    let stream = TcpStream::connect(("127.0.0.1", wrong)).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
    let _ = BufReader::new(stream).read_line(&mut line);
    assert_eq!(line, "", "a greeting through a tunnel to an untrusted certificate");

    // Plain text to the TLS port gets no greeting either.
    let mut plain = TcpStream::connect(("127.0.0.1", tls)).unwrap();
    plain.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
    let _ = plain.write_all(b"login tess pw-tess-long\r\n");
    let mut line = String::new();
    let _ = BufReader::new(plain).read_line(&mut line);
    assert!(!line.starts_with("220"), "clear text through the TLS port: {line:?}");

    // `openssl s_client`, the recipe for a quick look: the greeting, verified.
    let ran = run(
        Command::new("openssl").args([
            "s_client",
            "-quiet",
            "-verify_return_error",
            "-verify_hostname",
            "localhost",
            "-CAfile",
            &file("ca.pem"),
            "-connect",
            &format!("127.0.0.1:{tls}"),
        ]),
        "quit\r\n",
    );
    assert!(ran.out.starts_with("220 "), "s_client: {ran:?}");
}

#[test]
fn the_systemd_unit_verifies_and_its_flags_start_the_server() {
    if !can_run("deploy (systemd unit)", &["systemd-analyze"]) {
        return;
    }
    let dir = common::test_dir!();
    let unit = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/netdisk.service")).unwrap();
    for sandbox in [
        "User=netdisk",
        "ProtectSystem=strict",
        "ReadWritePaths=/srv/netdisk",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "LimitNOFILE=",
        "CapabilityBoundingSet=\n",
    ] {
        assert!(unit.contains(sandbox), "the unit has no {sandbox}");
    }
    // Verified with the binary under test in place of the installed one.
    let path = dir.path().join("netdisk.service");
    fs::write(&path, unit.replace("/usr/local/bin/netdisk", common::netdisk())).unwrap();
    let ran = run(Command::new("systemd-analyze").arg("verify").arg(&path), "");
    assert!(ran.code == 0 && ran.err.trim().is_empty(), "systemd-analyze verify: {ran:?}");
    let ran = run(Command::new("systemd-analyze").args(["security", "--offline=yes", "--threshold=30"]).arg(&path), "");
    assert_eq!(ran.code, 0, "exposure above 3.0: {}", ran.out);

    // ExecStart's flags, with the test's port and data directory.
    let exec = unit.lines().find_map(|l| l.strip_prefix("ExecStart=")).unwrap();
    let mut args: Vec<String> = exec.split_whitespace().skip(1).map(String::from).collect();
    let data = dir.data();
    for (flag, value) in [("--listen", "127.0.0.1:0".to_string()), ("--data", data.display().to_string())] {
        let at = args.iter().position(|a| a == flag).unwrap_or_else(|| panic!("ExecStart has no {flag}"));
        args[at + 1] = value;
    }
    let mut cmd = Command::new(common::netdisk());
    cmd.args(&args);
    let server = Server::launch(cmd, &data).expect("the unit's flags start the server");
    assert!(server.connect().greeting.starts_with("220"), "the unit's flags start a server that greets");
}

/// The unit under a live systemd (PID 1 here is not systemd): the host's
/// own systemd booted in a container, `systemd-nspawn --volatile=yes`
/// (the host's `/usr` read-only, everything else a fresh tmpfs, so nothing
/// of the host is touched) with a network of its own. The unit, with the
/// binary under test, is installed there as DEPLOY.md says and started by
/// `systemctl`: the server runs as its own user, without capabilities,
/// with `no_new_privs` and a seccomp filter, writes its data directory
/// under `ProtectSystem=strict`, and answers a session.
#[test]
fn the_systemd_unit_runs_sandboxed_under_a_live_systemd() {
    if !can_run("deploy (live systemd)", &["systemd-nspawn", "nsenter"]) {
        return;
    }
    let dir = common::test_dir!();
    let booted = Container::boot(&dir.path().join("container.log"));
    let binary = fs::read(common::netdisk()).unwrap();
    booted.run("mkdir -p /run/nd && cat > /run/nd/netdisk && chmod 755 /run/nd/netdisk", &binary);
    let unit = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/netdisk.service")).unwrap();
    let unit = unit.replace("/usr/local/bin/netdisk", "/run/nd/netdisk");
    booted.run("cat > /etc/systemd/system/netdisk.service", unit.as_bytes());
    // The install steps of the unit's header.
    booted.run(
        "useradd --system --user-group --home-dir /srv/netdisk --shell /usr/sbin/nologin netdisk && \
         install -d -o netdisk -g netdisk -m 700 /srv/netdisk && \
         systemctl daemon-reload && systemctl start netdisk",
        b"",
    );
    let listening = "bash -c 'exec 3<>/dev/tcp/127.0.0.1/9021'";
    wait_until(EVENT_WAIT, "the service listening", || booted.output(listening, b"").status.success());
    let pid = booted.run("systemctl show -p MainPID --value netdisk", b"").trim().to_string();
    let status = booted.run(&format!("cat /proc/{pid}/status"), b"");
    let field = |name: &str| status.lines().find_map(|l| l.strip_prefix(name)).unwrap_or("").trim().to_string();
    assert!(!field("Uid:").starts_with("0\t"), "runs as root: {}", field("Uid:"));
    assert_eq!(field("CapBnd:"), "0000000000000000", "capabilities left");
    assert_eq!(field("NoNewPrivs:"), "1");
    assert_eq!(field("Seccomp:"), "2", "a seccomp filter");
    let md5 = common::md5_hex(b"hello");
    let script = format!(
        "exec 3<>/dev/tcp/127.0.0.1/9021; printf 'register ann pw-ann-1\\r\\nlogin ann pw-ann-1\\r\\n\
         upload f 5 {md5}\\r\\nhello' >&3; head -5 <&3; ls /srv/netdisk/home/ann"
    );
    let session = booted.run(&format!("bash -c \"{script}\""), b"");
    let lines: Vec<&str> = session.lines().collect();
    assert!(lines.len() == 6 && lines[0].starts_with("220") && lines[4].starts_with("226"), "{session}");
    assert_eq!(lines[5], "f", "the file in the data directory");
}

/// A container running the host's systemd (see the test above); shut
/// down when dropped.
struct Container {
    nspawn: Child,
    /// The container's PID 1, as the host sees it.
    init: String,
}

impl Container {
    fn boot(log: &Path) -> Container {
        let name = format!("netdisk-unit-{}", std::process::id());
        let out = fs::File::create(log).unwrap();
        let nspawn = Command::new("systemd-nspawn")
            .args(["--quiet", "--register=no", "--keep-unit", "--directory=/", "--volatile=yes"])
            .args(["--private-network", "--console=pipe", "--boot", "--machine", &name, "--"])
            // Nothing waits for a network that never comes online.
            .args(["systemd.firstboot=off", "systemd.mask=systemd-networkd-wait-online.service"])
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("systemd-nspawn");
        let id = nspawn.id();
        let mut c = Container { nspawn, init: String::new() };
        wait_until(60, "the container's systemd", || {
            let children = fs::read_to_string(format!("/proc/{id}/task/{id}/children")).unwrap_or_default();
            c.init = children.split_whitespace().next().unwrap_or("").to_string();
            !c.init.is_empty() && c.manager_up()
        });
        c
    }

    /// Whether the container's manager answers (booting or booted).
    fn manager_up(&self) -> bool {
        let out = Command::new("nsenter").args(["-t", &self.init, "-a", "systemctl", "is-system-running"]).output();
        let state = out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default();
        ["starting", "running", "degraded"].contains(&state.as_str())
    }

    /// Runs `script` with `sh -c` in the container, `input` on its
    /// standard input; its standard output (the test fails if it fails).
    fn run(&self, script: &str, input: &[u8]) -> String {
        let out = self.output(script, input);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "in the container: {script}: {}\n{err}", out.status);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// What `script` did in the container.
    fn output(&self, script: &str, input: &[u8]) -> std::process::Output {
        let mut child = Command::new("nsenter")
            .args(["-t", &self.init, "-a", "sh", "-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let _ = child.stdin.take().unwrap().write_all(input);
        child.wait_with_output().unwrap()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        // SIGTERM asks nspawn to shut the container down; if it is still
        // there after that, its PID 1 is killed (and all of it with it).
        let _ = Command::new("kill").arg(self.nspawn.id().to_string()).status();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while self.nspawn.try_wait().ok().flatten().is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        if self.nspawn.try_wait().ok().flatten().is_none() {
            if !self.init.is_empty() {
                let _ = Command::new("kill").args(["-9", &self.init]).status();
            }
            let _ = self.nspawn.kill();
            let _ = self.nspawn.wait();
        }
    }
}

/// What `curl` got: the status (0 if no HTTP answer), the headers of the
/// last response (names lowercased) and the body.
#[derive(Debug)]
struct Got {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    err: String,
}

impl Got {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect()
    }
}

/// `curl URL ARGS` (no proxy from the environment, no redirect followed),
/// its body and headers kept in `dir`.
fn curl<S: AsRef<std::ffi::OsStr>>(dir: &Path, url: &str, args: &[S]) -> Got {
    let (head, body) = (dir.join("curl.head"), dir.join("curl.body"));
    let _ = (fs::remove_file(&head), fs::remove_file(&body));
    let out = Command::new("curl")
        .args(["-sS", "--noproxy", "*", "--max-time", "60", "-D"])
        .arg(&head)
        .arg("-o")
        .arg(&body)
        .args(["-w", "%{http_code}"])
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = fs::read_to_string(&head).unwrap_or_default();
    // With `100 Continue`, the last response's headers follow the last blank line pair.
    let last = text.trim_end().rsplit("\r\n\r\n").next().unwrap_or("");
    let headers = last
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Got {
        status: String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0),
        headers,
        body: fs::read(&body).unwrap_or_default(),
        err: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Caddy with the recipe (deploy/Caddyfile) for `public` in front of
/// `http`, its state in `dir` (XDG_DATA_HOME: the local CA and
/// certificates; XDG_CONFIG_HOME: its autosaved config), under global
/// options that keep it off everything shared: no admin endpoint, no
/// install of its root into the system's trust store, no HTTP redirect
/// listener on port 80, loopback only, no HTTP/3 (a UDP port). Returns
/// once it answers over verified HTTPS (`tls`: curl's `--cacert ROOT`);
/// `None` if its port was taken meanwhile.
fn caddy(dir: &Path, public: &str, http: &str, tls: &[&str]) -> Option<Daemon> {
    let site = recipe("Caddyfile", &[("disk.example.com {", format!("{public} {{")), ("127.0.0.1:9080", http.into())]);
    let global = "{\n\tadmin off\n\tskip_install_trust\n\tauto_https disable_redirects\n\tdefault_bind 127.0.0.1\n\tservers {\n\t\tprotocols h1 h2\n\t}\n}\n";
    let caddyfile = dir.join("Caddyfile");
    fs::write(&caddyfile, format!("{global}{site}")).unwrap();
    let log_path = dir.join("caddy.log");
    let log = fs::File::create(&log_path).unwrap();
    let child = Command::new("caddy")
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(&caddyfile)
        .env("XDG_DATA_HOME", dir.join("caddy-data"))
        .env("XDG_CONFIG_HOME", dir.join("caddy-config"))
        .env("HOME", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut caddy = Daemon(child);
    let root = dir.join("caddy-data/caddy/pki/authorities/local/root.crt");
    let mut exited = None;
    // Up: its CA made, its certificate served (verified) and the proxy
    // answering (404: no such page, from netdisk).
    wait_until(60, "Caddy serving HTTPS", || {
        if let Ok(Some(status)) = caddy.0.try_wait() {
            exited = Some(status);
            return true;
        }
        root.is_file() && curl(dir, &format!("{public}/nothing-here"), tls).status == 404
    });
    let Some(status) = exited else { return Some(caddy) };
    let log = fs::read_to_string(&log_path).unwrap_or_default();
    assert!(log.contains("address already in use"), "caddy exited ({status}): {log}");
    None
}

#[test]
fn caddy_in_front_of_the_http_face_carries_basic_cookies_uploads_and_share_links() {
    if !installed("deploy (caddy)", &["caddy", "curl"]) {
        return;
    }
    // The flags DEPLOY.md gives netdisk behind Caddy, with the test's ports.
    let doc = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/DEPLOY.md")).unwrap();
    let flags = "--http 127.0.0.1:9080 --trust-proxy 127.0.0.1 --public-url https://disk.example.com";
    assert!(doc.contains(flags), "DEPLOY.md does not start netdisk with {flags}");
    let recipe_text = recipe("Caddyfile", &[]);
    assert!(doc.contains(&format!("```\n{recipe_text}```")), "DEPLOY.md does not show deploy/Caddyfile as it is");
    // Caddy takes a fixed port, found free just before: if something else
    // takes it first, both start again on another.
    let flags = |public: &str| {
        ["--http", "127.0.0.1:0", "--trust-proxy", "127.0.0.1", "--public-url", public].map(String::from)
    };
    let mut public = format!("https://127.0.0.1:{}", free_port());
    let mut server = common::Fixture::new(common::test_name!(), &flags(&public).each_ref().map(String::as_str));
    let dir = server.dir().to_path_buf();
    let root = dir.join("caddy-data/caddy/pki/authorities/local/root.crt");
    let ca = root.display().to_string();
    let tls = ["--cacert", ca.as_str()];
    let mut tries = 0;
    let _caddy = loop {
        if let Some(caddy) = caddy(&dir, &public, &server.http, &tls) {
            break caddy;
        }
        tries += 1;
        assert!(tries < 5, "Caddy's port was taken {tries} times");
        public = format!("https://127.0.0.1:{}", free_port());
        server.restart(&flags(&public).each_ref().map(String::as_str));
    };

    // An account, made through the text protocol.
    let mut text = server.connect();
    text.ok("register tess pw-tess-long", "201");
    text.ok("login tess pw-tess-long", "230");
    let basic = ["-u", "tess:pw-tess-long"];
    let with = |extra: &[&'static str]| -> Vec<String> { tls.iter().chain(extra).map(|s| s.to_string()).collect() };

    // Basic through Caddy: a challenge without credentials, accepted with them.
    let got = curl(&dir, &format!("{public}/files/none"), &tls);
    assert_eq!(got.status, 401, "no credentials through HTTPS: {got:?}");
    assert!(got.header("www-authenticate").is_some_and(|v| v.starts_with("Basic ")), "{got:?}");

    // An upload (PUT /files/…) and its download, with Basic through HTTPS.
    let data = bytes(3 << 20, 7);
    let src = dir.join("up.bin");
    fs::write(&src, &data).unwrap();
    let mut put = with(&basic);
    put.extend(["-T".to_string(), src.display().to_string()]);
    let got = curl(&dir, &format!("{public}/files/up.bin"), &put);
    assert_eq!(got.status, 201, "PUT through Caddy: {got:?}");
    let md5 = common::md5_hex(&data);
    assert_eq!(got.header("etag"), Some(format!("\"{md5}\"").as_str()));
    let got = curl(&dir, &format!("{public}/files/up.bin"), &with(&basic));
    assert_eq!(got.status, 200, "GET through Caddy: {}", got.err);
    assert_eq!(common::md5_hex(&got.body), md5, "the download through Caddy differs");
    assert_eq!(got.header("etag"), Some(format!("\"{md5}\"").as_str()));
    // A client's own `X-Forwarded-Proto: http` changes nothing: Caddy
    // sets the forwarding headers itself.
    let mut forged = with(&basic);
    forged.extend(["-H", "X-Forwarded-Proto: http"].map(String::from));
    let got = curl(&dir, &format!("{public}/files/up.bin"), &forged);
    assert_eq!(got.status, 200, "a client's X-Forwarded-Proto through Caddy: {got:?}");
    let log = server.log_text();
    assert!(log.contains("user=tess action=http"), "{log}");
    assert!(!log.contains("outside --trust-proxy"), "Caddy taken for an untrusted proxy: {log}");

    // The same Basic straight to the plain port: the peer (loopback) is a
    // trusted proxy that did not say https, so it is clear text: 403.
    let plain = format!("http://{}", server.http);
    let got = curl(&dir, &format!("{plain}/files/up.bin"), &basic);
    assert_eq!(got.status, 403, "Basic over plain HTTP from the trusted proxy's address: {got:?}");
    assert!(String::from_utf8_lossy(&got.body).contains("TLS"), "{got:?}");
    let got = curl::<&str>(&dir, &format!("{plain}/files/up.bin"), &[]);
    assert_eq!((got.status, got.header("www-authenticate")), (403, None), "no invitation to send a password in clear");

    // A browser login through Caddy gets the `Secure`, `__Host-` cookie;
    // the same login on the plain port gets neither.
    let form = ["--data", "user=tess&password=pw-tess-long", "-H"];
    let mut login = with(&form);
    login.push(format!("Origin: {public}"));
    let got = curl(&dir, &format!("{public}/login"), &login);
    assert_eq!(got.status, 303, "login through Caddy: {got:?}");
    let cookie = got.all("set-cookie").join(" | ");
    assert!(cookie.starts_with("__Host-") && cookie.contains("; Secure") && cookie.contains("HttpOnly"), "{cookie}");
    // That session works through Caddy, and never over the plain port.
    let session = format!("Cookie: {}", cookie.split(';').next().unwrap());
    let mut get = with(&[]);
    get.extend(["-H".to_string(), session.clone()]);
    let got = curl(&dir, &format!("{public}/files/up.bin"), &get);
    assert_eq!(got.status, 200, "the secure session through Caddy: {}", got.err);
    let got = curl(&dir, &format!("{plain}/files/up.bin"), &["-H", &session]);
    assert_eq!(got.status, 401, "a session made over TLS used over the plain port: {got:?}");
    let origin = format!("Origin: {plain}");
    let got = curl(&dir, &format!("{plain}/login"), &[form[0], form[1], form[2], &origin]);
    assert_eq!(got.status, 303, "login on the plain port: {got:?}");
    let cookie = got.all("set-cookie").join(" | ");
    assert!(!cookie.is_empty() && !cookie.starts_with("__Host-") && !cookie.contains("Secure"), "{cookie}");

    // A share link made through the text protocol carries the public
    // https URL, and works through Caddy: its page and its download.
    let reply = text.ok("share up.bin", "200 ");
    let words: Vec<&str> = reply.split_whitespace().collect();
    let (code, url) = (words[1], words.get(2).copied().unwrap_or(""));
    assert_eq!(url, format!("{public}/s/{code}"), "{reply}");
    let got = curl(&dir, url, &tls);
    assert_eq!(got.status, 200, "the share page through Caddy: {got:?}");
    assert!(String::from_utf8_lossy(&got.body).contains(&md5), "the share page names the MD5");
    let got = curl(&dir, &format!("{url}/up.bin"), &tls);
    assert_eq!(got.status, 200, "the shared file through Caddy: {}", got.err);
    assert_eq!(common::md5_hex(&got.body), md5, "the shared download through Caddy differs");

    // A client that does not trust Caddy's local CA gets nothing.
    let got = curl::<&str>(&dir, url, &[]);
    assert_eq!(got.status, 0, "an unverified certificate accepted: {got:?}");
    drop(text);
}
