//! The deployment recipe of docs/DEPLOY.md, run on loopback: stunnel in
//! front of the text protocol with a certificate from a local CA, a
//! client-side stunnel for `netdisk-client` (and `openssl s_client`), and
//! the systemd unit in `deploy/`.
//!
//! Needs root (only for the package install; the programs run as any
//! user), `stunnel4`, `openssl` and `systemd-analyze`; skipped, saying so,
//! without them. Every process is killed when the test ends, panics
//! included.

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::{Server, bytes, can_run, fixture, run, wait_until};
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
    wait_until(20, &format!("{name} listening on {port}"), || TcpStream::connect(("127.0.0.1", port)).is_ok());
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
