//! The peers users would compare with, when installed (`make
//! bench-peers`): an rsync daemon on loopback (also reached through the
//! delay proxy), and vsftpd driven by lftp. Each daemon is this process's
//! child, on a port of its own, over a directory in the bench's temporary
//! directory, and is killed when dropped.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::proxy;
use crate::server::{Link, ONE_WAY};
use crate::stats::ms;

/// Whether `program` runs here (found on PATH or in the sbin folders).
pub fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default() + ":/usr/sbin:/sbin";
    path.split(':').map(|d| Path::new(d).join(program)).find(|p| p.is_file())
}

pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("address").port()
}

/// Waits (up to 5 s) until something listens on `addr`.
pub fn wait_listening(addr: &str) -> bool {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        if TcpStream::connect(addr).is_ok() {
            return true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    false
}

/// A daemon started by the bench.
pub struct Daemon(pub Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An rsync daemon with one writable module `m`.
pub struct Rsync {
    _daemon: Daemon,
    addr: String,
    slow: String,
}

impl Rsync {
    pub fn start(dir: &Path) -> Option<Rsync> {
        let bin = find("rsync")?;
        let root = dir.join("rsync-root");
        fs::create_dir_all(&root).ok()?;
        let conf = dir.join("rsyncd.conf");
        let text =
            format!("use chroot = false\nuid = root\ngid = root\n[m]\npath = {}\nread only = false\n", root.display());
        fs::write(&conf, text).ok()?;
        let port = free_port();
        let child = Command::new(bin)
            .args(["--daemon", "--no-detach", "--address", "127.0.0.1"])
            .arg(format!("--port={port}"))
            .arg(format!("--config={}", conf.display()))
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let daemon = Daemon(child);
        let addr = format!("127.0.0.1:{port}");
        if !wait_listening(&addr) {
            return None;
        }
        let slow = proxy::start(&addr, ONE_WAY).addr;
        Some(Rsync { _daemon: daemon, addr, slow })
    }

    pub fn addr_for(&self, link: &Link) -> String {
        if link.name == "loopback" { self.addr.clone() } else { self.slow.clone() }
    }
}

/// `rsync -a EXTRA TREE/ rsync://ADDR/m/TAG/`: milliseconds.
pub fn rsync_push(tree: &Path, addr: &str, tag: &str, extra: &[&str]) -> f64 {
    let t = Instant::now();
    let status = Command::new("rsync")
        .arg("-a")
        .args(extra)
        .arg(format!("{}/", tree.display()))
        .arg(format!("rsync://{addr}/m/{tag}/"))
        .status()
        .expect("rsync");
    assert!(status.success(), "rsync failed");
    ms(t.elapsed())
}

/// vsftpd with anonymous writes into `pub/` of a directory of its own.
pub struct Ftp {
    _daemon: Daemon,
    pub port: u16,
}

impl Ftp {
    pub fn start(dir: &Path) -> Option<Ftp> {
        let bin = find("vsftpd")?;
        find("lftp")?;
        let root = dir.join("ftp-root");
        fs::create_dir_all(root.join("pub")).ok()?;
        let owner = Command::new("chown").arg("ftp").arg(root.join("pub")).status().ok()?;
        fs::create_dir_all("/var/run/vsftpd/empty").ok()?;
        let port = free_port();
        let conf = dir.join("vsftpd.conf");
        fs::write(&conf, vsftpd_conf(&root, port)).ok()?;
        let child = Command::new(bin).arg(&conf).stderr(Stdio::null()).spawn().ok()?;
        let daemon = Daemon(child);
        (owner.success() && wait_listening(&format!("127.0.0.1:{port}"))).then_some(Ftp { _daemon: daemon, port })
    }
}

fn vsftpd_conf(root: &Path, port: u16) -> String {
    format!(
        "listen=YES\nlisten_address=127.0.0.1\nlisten_port={port}\nbackground=NO\n\
         anonymous_enable=YES\nno_anon_password=YES\nanon_root={}\nlocal_enable=NO\n\
         write_enable=YES\nanon_upload_enable=YES\nanon_mkdir_write_enable=YES\n\
         anon_other_write_enable=YES\nanon_umask=022\npasv_enable=YES\nseccomp_sandbox=NO\n\
         secure_chroot_dir=/var/run/vsftpd/empty\nxferlog_enable=NO\nuse_localtime=NO\n",
        root.display()
    )
}

/// `lftp -e "mirror -R TREE pub/TAG"`: milliseconds.
pub fn lftp_push(tree: &Path, port: u16, tag: &str) -> f64 {
    let script = format!("set net:max-retries 1; mirror -R {} pub/{tag}; quit", tree.display());
    let t = Instant::now();
    let status = Command::new("lftp")
        .args(["-u", "anonymous,", "-p", &port.to_string(), "-e", &script, "127.0.0.1"])
        .stdout(Stdio::null())
        .status()
        .expect("lftp");
    assert!(status.success(), "lftp failed");
    ms(t.elapsed())
}
