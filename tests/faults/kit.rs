//! The fault kit: small file systems on loop devices, a loop device whose
//! write-back really fails, and a server under `strace` that fails one
//! system call on purpose. Every mount, loop device and process is undone
//! by a guard's `Drop`, so also when a test panics.
//!
//! These need root and a few tools (`strace`, `mkfs.ext4`, `fstrim`,
//! `losetup`, `mount`): [`can_fault`] says whether they are there; without
//! them a test prints what is missing and skips, unless
//! `NETDISK_REQUIRE_FAULTS` is set (CI), where that is a failure.
//! `make test` installs them when it runs as root.
//!
//! `tests/filesystems.rs` uses its mounts too; each suite uses a part.
#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{Server, netdisk};

/// The tools every fault test needs.
const TOOLS: &[&str] = &["strace", "mkfs.ext4", "fstrim", "losetup", "mount", "umount", "truncate"];

/// Whether this machine can run fault tests (root, and every tool of
/// [`TOOLS`]); if not, says why (and fails under `NETDISK_REQUIRE_FAULTS`).
pub fn can_fault() -> bool {
    let root = run_ok("id", &["-u"]).is_some_and(|out| out.trim() == "0");
    let missing: Vec<&str> =
        TOOLS.iter().copied().filter(|t| run_ok("sh", &["-c", &format!("command -v {t}")]).is_none()).collect();
    if root && missing.is_empty() {
        return true;
    }
    let why = if root { format!("missing {}", missing.join(" ")) } else { "not root".to_string() };
    let hint = "run `make test` as root (it installs strace, e2fsprogs, util-linux), or install them";
    assert!(std::env::var_os("NETDISK_REQUIRE_FAULTS").is_none(), "fault tests required but {why}");
    eprintln!("skipped: fault tests need root and {}: {why}; {hint}", TOOLS.join(" "));
    false
}

/// Runs a program; its standard output if it succeeded.
fn run_ok(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs a program that must succeed; its standard output.
pub fn sh(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(out.status.success(), "{program} {args:?}: {}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn text(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// A mounted file system, unmounted when dropped (lazily if it is busy,
/// so that a failing test never leaves it behind). A loop device made by
/// `mount -o loop` goes with it (autoclear).
pub struct Mount {
    pub at: PathBuf,
}

impl Mount {
    /// A tmpfs of `mib` MiB at `at` (made if missing).
    pub fn tmpfs(at: &Path, mib: u64) -> Mount {
        fs::create_dir_all(at).unwrap();
        sh("mount", &["-t", "tmpfs", "-o", &format!("size={mib}m"), "netdisk-faults", text(at)]);
        Mount { at: at.to_path_buf() }
    }

    /// A fresh ext4 of `mib` MiB in the image `img` (with at most about
    /// `inodes` inodes, if given), mounted through a loop device at `at`.
    /// Inode tables and journal are written at once, so nothing but new
    /// data and directory blocks is written into the image later.
    pub fn ext4(img: &Path, mib: u64, inodes: Option<u32>, at: &Path) -> Mount {
        sh("truncate", &["-s", &format!("{mib}M"), text(img)]);
        let mut args = vec!["-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0,nodiscard"];
        let n = inodes.map(|n| n.to_string());
        if let Some(n) = &n {
            args.extend(["-N", n]);
        }
        args.push(text(img));
        sh("mkfs.ext4", &args);
        Mount::image(img, at, "loop,errors=continue")
    }

    /// A fresh XFS of `mib` MiB (300 at least, mkfs.xfs's smallest) in
    /// the image `img`, mounted through a loop device at `at`.
    pub fn xfs(img: &Path, mib: u64, at: &Path) -> Mount {
        sh("truncate", &["-s", &format!("{mib}M"), text(img)]);
        sh("mkfs.xfs", &["-q", "-f", "-K", text(img)]);
        Mount::image(img, at, "loop")
    }

    /// The file system in the image `img` mounted at `at` (made if
    /// missing) with the options `opts` (`loop,...`).
    pub fn image(img: &Path, at: &Path, opts: &str) -> Mount {
        fs::create_dir_all(at).unwrap();
        sh("mount", &["-o", opts, text(img), text(at)]);
        Mount { at: at.to_path_buf() }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let at = text(&self.at);
        let done = Command::new("umount").arg(at).status().is_ok_and(|s| s.success());
        if !done {
            let _ = Command::new("umount").args(["-l", at]).status();
        }
    }
}

/// Fills the file system holding `dir` with `dir/filler`, up to ENOSPC.
pub fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = fs::File::create(&path).unwrap();
    let chunk = vec![0x5au8; 1 << 20];
    loop {
        match file.write(&chunk) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(28) => break,
            Err(e) => panic!("filling {}: {e}", dir.display()),
        }
    }
    // Small pieces for the last partial megabyte.
    while file.write(&chunk[..4096]).is_ok_and(|n| n > 0) {}
    let _ = file.sync_all();
    path
}

/// A server under `strace -f`, with the system calls of `inject`
/// (`SYSCALL[,SYSCALL]:error=ERRNO:when=N`) failed on `path`. Injections
/// are counted per thread (`when=1`: the first matching call of each
/// thread). The server process is killed before `strace` when dropped:
/// a killed `strace` would let it run on, detached.
pub struct Traced {
    pub server: Server,
    pid: Option<String>,
    pub trace: PathBuf,
}

impl Traced {
    pub fn start(data: &Path, inject: &str, path: &Path, args: &[&str]) -> Traced {
        Traced::run(data, &format!("inject={inject}"), Some(path), args)
    }

    /// [`Traced::start`] on any path (`when=1`: the first matching call
    /// of each session's thread, whatever it names).
    pub fn start_anywhere(data: &Path, inject: &str, args: &[&str]) -> Traced {
        Traced::run(data, &format!("inject={inject}"), None, args)
    }

    /// A server under `strace -e EXPR -P PATH` (`trace=fdatasync`: only
    /// watch those calls, e.g. to wait for one to fail for real).
    pub fn run(data: &Path, expr: &str, path: Option<&Path>, args: &[&str]) -> Traced {
        let trace = data.parent().unwrap().join("strace.log");
        let mut cmd = Command::new("strace");
        cmd.args(["-f", "-qq", "-o", text(&trace), "-e", expr]);
        if let Some(path) = path {
            cmd.args(["-P", text(path)]);
        }
        cmd.arg("--");
        cmd.arg(netdisk()).args(["--listen", "127.0.0.1:0", "--data", text(data)]).args(args);
        let server = Server::launch(cmd, data).expect("the server did not start under strace");
        let pid = fs::read_to_string(format!("/proc/{0}/task/{0}/children", server.child.id()))
            .ok()
            .and_then(|c| c.split_whitespace().next().map(str::to_string));
        Traced { server, pid, trace }
    }

    /// How many calls were failed so far.
    pub fn injected(&self) -> usize {
        fs::read_to_string(&self.trace).unwrap_or_default().matches("(INJECTED)").count()
    }

    /// The trace so far, for failure messages.
    pub fn trace_text(&self) -> String {
        fs::read_to_string(&self.trace).unwrap_or_default()
    }
}

impl Drop for Traced {
    fn drop(&mut self) {
        if let Some(pid) = &self.pid {
            let _ = Command::new("kill").args(["-9", pid]).status();
        }
        self.server.kill();
    }
}

impl std::ops::Deref for Traced {
    type Target = Server;

    fn deref(&self) -> &Server {
        &self.server
    }
}

/// Where the upload of user path `what` by `user` is staged.
pub fn part_of(data: &Path, user: &str, what: &str) -> PathBuf {
    data.join("staging").join(user).join(format!("{}.part", netdisk::Digest::of(what.as_bytes())))
}

/// Staged files of every user (`.part`, `.meta`, `.marks`).
pub fn staged(data: &Path) -> Vec<String> {
    crate::common::files_under(&data.join("staging"))
}
