//! Two servers on a real distributed file system: MooseFS (one master, two
//! chunkservers, two `mfsmount`s of one volume, as two client hosts would
//! mount it) inside a network namespace this test creates, and one netdisk
//! on each mount over the same `--data`.
//!
//! MooseFS refuses a master on 127.0.0.1, so the namespace's own loopback
//! gets an address (10.200.0.1, never used outside it); the daemons and
//! mounts run in it through `nsenter --net` (not `ip netns exec`, whose
//! private mount namespace would hide the mounts). The servers (text and
//! `--http`) listen on the host's 127.0.0.1, port 0, like every other
//! test's, and reach the volume through the mounts: only MooseFS needs the
//! namespace's address.
//!
//! What broke there and is checked here: `restore` and `save` (no
//! `RENAME_NOREPLACE` on FUSE), EEXIST from `O_CREAT` when both mounts
//! create one name at once (uploads of one new path, a fresh user's usage
//! record, start-up), digest records keyed by a device number that differs
//! per mount, group commits resting on a `syncfs` that flushes nothing;
//! and what must work across servers (accounts, transfers, trash, shares,
//! quota, kill -9 of one server and resuming on the other), and over HTTP:
//! share links, revocation, a tus upload begun on one server and finished
//! on the other (after a cut connection, and after a kill -9), browser
//! sessions, `/files/`.
//!
//! Needs root and `mfsmaster`, `mfschunkserver`, `mfsmount`, `mfscli`
//! (`make test` installs them as root); skipped, saying so, otherwise.
//! Everything is torn down on every exit path, panics included
//! ([`Cluster`]'s `Drop`).

mod common;

use std::fs;
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Barrier;
use std::time::Instant;

use common::http::{Resp, TUS, ask, auth, tus_create};
use common::{Raw, Server, bytes, can_run, md5_hex, quote, wait_until};
use netdisk::proto::body::TrashLine;

/// The address of the namespace's loopback: the master's, for everyone.
const ADDR: &str = "10.200.0.1";

/// MooseFS in a network namespace of its own, torn down when dropped.
struct Cluster {
    ns: String,
    dir: PathBuf,
    /// Master, chunkservers, mounts (stopped in reverse order).
    daemons: Vec<Child>,
    mounts: Vec<PathBuf>,
}

impl Cluster {
    fn start(dir: &Path) -> Cluster {
        let ns = format!("netdisk-cl-{}", std::process::id());
        let mut c = Cluster { ns, dir: dir.to_path_buf(), daemons: Vec::new(), mounts: Vec::new() };
        ok(Command::new("ip").args(["netns", "add", &c.ns]));
        ok(Command::new("ip").args(["-n", &c.ns, "link", "set", "lo", "up"]));
        ok(Command::new("ip").args(["-n", &c.ns, "addr", "add", &format!("{ADDR}/32"), "dev", "lo"]));
        c.write_configs();
        c.spawn("master", &["mfsmaster", "-c", &c.path("master.cfg"), "-f", "start"]);
        for i in 1..=2 {
            c.spawn(&format!("cs{i}"), &["mfschunkserver", "-c", &c.path(&format!("cs{i}.cfg")), "-f", "start"]);
        }
        wait_until(60, "two chunkservers with space, listed by mfscli", || c.chunkservers_with_space() == 2);
        for i in 1..=2 {
            let mount = dir.join(format!("m{i}"));
            fs::create_dir_all(&mount).unwrap();
            c.spawn(&format!("mount{i}"), &["mfsmount", "-f", &mount.display().to_string(), "-H", ADDR]);
            c.mounts.push(mount);
        }
        wait_until(30, "both mounts in /proc/self/mountinfo", || c.mounted() == 2);
        c
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    fn write_configs(&self) {
        let d = &self.dir;
        for sub in ["master", "cs1", "cs2", "hdd1", "hdd2"] {
            fs::create_dir_all(d.join(sub)).unwrap();
        }
        fs::copy("/var/lib/mfs/metadata.mfs.empty", d.join("master/metadata.mfs")).unwrap();
        fs::write(d.join("exports.cfg"), "*\t/\trw,alldirs,maproot=0:0\n").unwrap();
        fs::write(d.join("topology.cfg"), "").unwrap();
        let master = format!(
            "WORKING_USER = root\nWORKING_GROUP = root\nDATA_PATH = {}\nEXPORTS_FILENAME = {}\n\
             TOPOLOGY_FILENAME = {}\nMATOML_LISTEN_HOST = {ADDR}\nMATOCS_LISTEN_HOST = {ADDR}\n\
             MATOCL_LISTEN_HOST = {ADDR}\n",
            self.path("master"),
            self.path("exports.cfg"),
            self.path("topology.cfg")
        );
        fs::write(d.join("master.cfg"), master).unwrap();
        for i in 1..=2 {
            fs::write(d.join(format!("hdd{i}.cfg")), format!("{}\n", self.path(&format!("hdd{i}")))).unwrap();
            let cs = format!(
                "WORKING_USER = root\nWORKING_GROUP = root\nDATA_PATH = {}\nHDD_CONF_FILENAME = {}\n\
                 HDD_LEAVE_SPACE_DEFAULT = 256MiB\nBIND_HOST = {ADDR}\nMASTER_HOST = {ADDR}\n\
                 CSSERV_LISTEN_HOST = {ADDR}\nCSSERV_LISTEN_PORT = {}\n",
                self.path(&format!("cs{i}")),
                self.path(&format!("hdd{i}.cfg")),
                9421 + i
            );
            fs::write(d.join(format!("cs{i}.cfg")), cs).unwrap();
        }
    }

    /// Runs `argv` in the namespace, its output in `NAME.log`.
    fn spawn(&mut self, name: &str, argv: &[&str]) {
        let log = fs::File::create(self.dir.join(format!("{name}.log"))).unwrap();
        let child = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", self.ns))
            .args(argv)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        self.daemons.push(child);
    }

    /// Chunkservers `mfscli` lists with a total space above zero.
    fn chunkservers_with_space(&self) -> usize {
        let out = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", self.ns))
            .args(["mfscli", "-H", ADDR, "-SCS", "-s", "\t"])
            .stderr(Stdio::null())
            .output();
        let Ok(out) = out else { return 0 };
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines()
            .filter(|l| l.contains(ADDR))
            .filter(|l| l.split('\t').nth(10).and_then(|t| t.trim().parse::<u64>().ok()).is_some_and(|t| t > 0))
            .count()
    }

    fn mounted(&self) -> usize {
        let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        self.mounts.iter().filter(|m| info.lines().any(|l| l.split(' ').nth(4) == m.to_str())).count()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Lazy unmounts first: a busy mount never blocks the teardown.
        for m in &self.mounts {
            let _ = Command::new("umount").arg("-l").arg(m).stderr(Stdio::null()).status();
        }
        for child in self.daemons.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
        if std::thread::panicking() {
            for log in ["master", "cs1", "cs2", "mount1", "mount2"] {
                let text = fs::read_to_string(self.dir.join(format!("{log}.log"))).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(10).collect();
                eprintln!("--- {log}.log (last lines, newest first)\n{}", tail.join("\n"));
            }
        }
    }
}

/// The run's directory, `$TMPDIR/ndcluster-PID` (not `netdisk-*`: a
/// sweep of leftover test directories must never walk into the mounts).
/// Removed when dropped, after the cluster is down.
struct ClusterDir(PathBuf);

impl ClusterDir {
    fn new() -> ClusterDir {
        let dir = std::env::temp_dir().join(format!("ndcluster-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        ClusterDir(dir)
    }
}

impl Drop for ClusterDir {
    fn drop(&mut self) {
        let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let inside = self.0.display().to_string() + "/";
        if info.lines().all(|l| l.split(' ').nth(4).is_none_or(|m| !m.starts_with(&inside))) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

/// What a run killed before its `Drop`s ran left (its namespace, daemons,
/// servers and mounts), found by the dead PID in the names: removed.
fn clean_up_after_killed_runs() {
    let list = Command::new("ip").args(["netns", "list"]).output().map(|o| o.stdout).unwrap_or_default();
    for ns in String::from_utf8_lossy(&list).split_whitespace() {
        let Some(pid) = ns.strip_prefix("netdisk-cl-") else { continue };
        if Path::new("/proc").join(pid).exists() {
            continue;
        }
        let dir = std::env::temp_dir().join(format!("ndcluster-{pid}"));
        let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        for m in info.lines().filter_map(|l| l.split(' ').nth(4)).filter(|m| m.starts_with(&*dir.to_string_lossy())) {
            let _ = Command::new("umount").args(["-l", m]).status();
        }
        for proc in fs::read_dir("/proc").into_iter().flatten().flatten() {
            let cmdline = fs::read(proc.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&*dir.to_string_lossy()) {
                let _ = Command::new("kill").args(["-9", &proc.file_name().to_string_lossy()]).status();
            }
        }
        // Whatever else still runs in the namespace (the master's helper).
        let pids = Command::new("ip").args(["netns", "pids", ns]).output().map(|o| o.stdout).unwrap_or_default();
        for pid in String::from_utf8_lossy(&pids).split_whitespace() {
            let _ = Command::new("kill").args(["-9", pid]).status();
        }
        let _ = Command::new("ip").args(["netns", "del", ns]).status();
        let _ = fs::remove_dir_all(&dir);
    }
}

fn ok(cmd: &mut Command) {
    let status = cmd.status().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(status.success(), "{cmd:?}: {status}");
}

/// The cluster and one server on each mount. Fields drop in order: the
/// servers stop before the cluster goes, and the directory last.
struct Rig {
    a: Server,
    b: Server,
    cluster: Cluster,
    _dir: ClusterDir,
}

/// Every server runs with a quota, so that usage records are made, and
/// with its HTTP face.
const ARGS: &[&str] = &["--quota", "1G", "--trash-days", "1", "--http", "127.0.0.1:0"];

impl Rig {
    fn data(&self, mount: usize) -> PathBuf {
        self.cluster.mounts[mount].join("data")
    }

    /// Kills both servers and starts both again at once.
    fn restart_both(&mut self) {
        self.a.kill();
        self.b.kill();
        let (d1, d2) = (self.data(0), self.data(1));
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| Server::start(&d1, ARGS));
            let b = s.spawn(|| Server::start(&d2, ARGS));
            (a.join().unwrap(), b.join().unwrap())
        });
        (self.a, self.b) = (a, b);
    }
}

/// A named check of the rig.
type Check = (&'static str, fn(&mut Rig));

#[test]
fn two_servers_on_two_moosefs_mounts_of_one_volume() {
    let tools = ["mfsmaster", "mfschunkserver", "mfsmount", "mfscli", "ip", "nsenter", "strace", "python3"];
    if !can_run("cluster", &tools) {
        return;
    }
    let started = Instant::now();
    clean_up_after_killed_runs();
    let dir = ClusterDir::new();
    let cluster = Cluster::start(&dir.0);
    let up = started.elapsed();
    // The same data directory, seen through each mount.
    fs::create_dir(cluster.mounts[0].join("data")).unwrap();
    let a = Server::start(&cluster.mounts[0].join("data"), ARGS);
    let b = Server::start(&cluster.mounts[1].join("data"), ARGS);
    let mut rig = Rig { a, b, cluster, _dir: dir };
    // Each check runs even when one before it failed: one run shows all.
    let checks: [Check; 14] = [
        ("accounts and transfers", |r| accounts_and_transfers_cross_servers(r)),
        ("one digest record", |r| one_digest_record_serves_both_mounts(r)),
        ("restore", |r| restore_moves_files_and_folders_back_without_replacing(r)),
        ("save", |r| save_copies_files_and_folders_without_replacing(r)),
        ("same new path at once", |r| one_new_path_uploaded_on_both_servers_at_once(r)),
        ("fresh user at once", |r| a_fresh_users_first_uploads_on_both_servers_at_once(r)),
        ("group commit durable", |r| a_pipelined_group_is_on_the_volume_when_acknowledged(r)),
        ("share links", |r| share_links_made_on_one_server_open_on_the_other(r)),
        ("tus", |r| a_tus_upload_begun_on_one_server_is_finished_on_the_other(r)),
        ("browser session", |r| a_browser_session_of_one_server_holds_on_the_other(r)),
        ("files PUT and GET", |r| a_file_put_on_one_server_is_served_by_the_other(r)),
        ("kill -9 and resume", killed_server_upload_resumes_on_the_other),
        ("kill -9 and resume tus", a_tus_upload_on_a_killed_server_is_finished_on_the_other),
        ("start at once", both_servers_start_at_once_without_eexist),
    ];
    let mut failed = Vec::new();
    for (name, check) in checks {
        let t = Instant::now();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&mut rig))) {
            Ok(()) => eprintln!("cluster: {name}: ok in {:.1} s", t.elapsed().as_secs_f64()),
            Err(_) => failed.push(name),
        }
    }
    eprintln!("cluster: up in {:.1} s, all checks in {:.1} s", up.as_secs_f64(), started.elapsed().as_secs_f64());
    assert!(failed.is_empty(), "failed checks: {failed:?}");
}

fn accounts_and_transfers_cross_servers(rig: &Rig) {
    let mut a = rig.a.user("ann");
    assert!(rig.b.logs_in("ann", "pw-ann"), "an account made on A logs in on B");
    let mut b = rig.b.user("ann");
    let data = bytes(300_000, 1);
    a.ok("mkdir d", "257");
    assert!(a.upload("d/f", &data).starts_with("226"), "{}", a.transcript);
    assert_eq!(b.download("d/f"), data, "a file uploaded on A, read on B");
    b.ok("mv d/f d/g", "250");
    b.ok("cp d/g d/h", "250");
    assert_eq!(a.ls("d"), ["g", "h"]);
    b.ok("rm d/h", "250");
    // g, and h in the trash.
    let used = format!("213 {} ", 2 * data.len());
    assert!(a.cmd("quota").starts_with(&used), "the quota on A counts B's changes\n{}", a.transcript);
}

/// Upload on A, download on B: one record, hashed once (the device
/// number differs per mount; a record keyed by it was made twice).
fn one_digest_record_serves_both_mounts(rig: &Rig) {
    let sums = rig.data(0).join("sums");
    let records = || {
        fs::read_dir(&sums)
            .map_or(0, |d| d.flatten().filter(|e| !e.file_name().to_string_lossy().contains(".tmp")).count())
    };
    let mut a = rig.a.user("dora");
    let mut b = rig.b.user("dora");
    let data = bytes(100_000, 2);
    assert!(a.upload("x", &data).starts_with("226"));
    let before = records();
    assert_eq!(b.download("x"), data);
    assert_eq!(records(), before, "B made a record of its own for a file A recorded");
}

fn trash(c: &mut Raw) -> Vec<TrashLine> {
    let head = c.ok("trash", "212 ");
    c.lines_after(&head).iter().map(|l| l.parse().unwrap()).collect()
}

/// `restore` (both servers): `renameat2(RENAME_NOREPLACE)` is EINVAL on
/// FUSE, so it failed with `451` every time.
fn restore_moves_files_and_folders_back_without_replacing(rig: &Rig) {
    let mut a = rig.a.user("rita");
    let mut b = rig.b.user("rita");
    let data = bytes(5000, 3);
    assert!(a.upload("f", &data).starts_with("226"));
    a.ok("mkdir dir", "257");
    assert!(a.upload("dir/in", &data).starts_with("226"));
    b.ok("rm f", "250");
    b.ok("rm dir", "250");
    let items = trash(&mut a);
    let id =
        |name: &str| items.iter().find(|t| t.path == name).unwrap_or_else(|| panic!("{name} in {items:?}")).id.clone();
    assert_eq!(a.cmd(&format!("restore {}", id("/f"))), "257 \"/f\"", "{}", a.transcript);
    assert_eq!(b.cmd(&format!("restore {}", id("/dir"))), "257 \"/dir\"", "{}", b.transcript);
    assert_eq!(b.download("f"), data);
    assert_eq!(a.download("dir/in"), data);
    // Never over something that is there: a file, an empty folder.
    b.ok("rm f", "250");
    b.ok("rm dir", "250");
    assert!(a.upload("f", b"new").starts_with("226"));
    a.ok("mkdir dir", "257");
    let items = trash(&mut b);
    for (name, c) in [("/f", &mut b), ("/dir", &mut a)] {
        let id = &items.iter().find(|t| t.path == name).unwrap().id;
        assert!(c.cmd(&format!("restore {id}")).starts_with("550 "), "{}", c.transcript);
    }
    assert_eq!(a.download("f"), b"new");
    assert_eq!(b.ls("dir"), Vec::<String>::new());
    assert_eq!(trash(&mut a).len(), 2, "both still in the trash");
}

/// `save` of a shared file and folder (built in staging, then moved in
/// without replacing): failed like `restore`.
fn save_copies_files_and_folders_without_replacing(rig: &Rig) {
    let mut owner = rig.a.user("sam");
    let mut taker = rig.b.user("tom");
    let data = bytes(7000, 4);
    assert!(owner.upload("doc", &data).starts_with("226"));
    owner.ok("mkdir folder", "257");
    assert!(owner.upload("folder/a", &data).starts_with("226"));
    let (file, folder) = (share_code(&mut owner, "doc"), share_code(&mut owner, "folder"));
    assert_eq!(taker.cmd(&format!("save {file}")), "257 \"/doc\"", "{}", taker.transcript);
    assert_eq!(taker.cmd(&format!("save {folder}")), "257 \"/folder\"", "{}", taker.transcript);
    assert!(taker.cmd(&format!("save {file}")).starts_with("550 "), "{}", taker.transcript);
    assert!(taker.cmd(&format!("save {folder}")).starts_with("550 "), "{}", taker.transcript);
    let mut again = rig.a.user("tom");
    assert_eq!(again.download("doc"), data);
    assert_eq!(again.download("folder/a"), data);
}

/// One new path uploaded on both servers at the same moment: one wins,
/// the other gets `450` (or `226` after it); `open(O_CREAT)` of the same
/// staged file on both mounts gave EEXIST, and `550 exists already`.
fn one_new_path_uploaded_on_both_servers_at_once(rig: &Rig) {
    let rounds = 40;
    let conns = [rig.a.user("race"), rig.b.user("race")];
    let servers = [&rig.a, &rig.b];
    let outcomes = at_once(conns, rounds, |i, c, round| {
        let data = bytes(2000, round);
        let head = c.cmd(&format!("upload r{round} {} {}", data.len(), md5_hex(&data)));
        if !head.starts_with("150 0 ") {
            // A refused upload ends the connection (its payload may follow).
            let transcript = std::mem::take(&mut c.transcript);
            *c = servers[i].user("race");
            c.transcript = transcript + &c.transcript;
            return head;
        }
        c.send(&data);
        c.line()
    });
    for (c, replies) in &outcomes {
        for r in replies {
            assert!(r.starts_with("226") || r.starts_with("450 "), "{r}\n{}", c.transcript);
        }
    }
    let busy = outcomes.iter().flat_map(|(_, r)| r).filter(|r| r.starts_with("450")).count();
    eprintln!("cluster: same new path at once: {busy} of {rounds} rounds got 450");
    let mut c = rig.b.user("race");
    for round in 0..rounds {
        assert_eq!(c.download(&format!("r{round}")), bytes(2000, round));
    }
}

/// Runs `step` for rounds 0..`rounds` on both connections, each round
/// started on both at once; the connections and their step results. A
/// step never asserts (a panicking thread would leave the other waiting):
/// the caller checks the results.
fn at_once(
    conns: [Raw; 2],
    rounds: u64,
    step: impl Fn(usize, &mut Raw, u64) -> String + Sync,
) -> Vec<(Raw, Vec<String>)> {
    let barrier = Barrier::new(2);
    std::thread::scope(|s| {
        let threads: Vec<_> = conns
            .into_iter()
            .enumerate()
            .map(|(i, mut c)| {
                let (barrier, step) = (&barrier, &step);
                s.spawn(move || {
                    let got = (0..rounds)
                        .map(|round| {
                            barrier.wait();
                            step(i, &mut c, round)
                        })
                        .collect();
                    (c, got)
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    })
}

/// A fresh user's first uploads, one on each server at once: both make the
/// usage record (`451 usage record` when one `O_CREAT` got EEXIST).
fn a_fresh_users_first_uploads_on_both_servers_at_once(rig: &Rig) {
    for round in 0..20 {
        let user = format!("fresh{round}");
        let conns = [rig.a.user(&user), rig.b.user(&user)];
        let outcomes = at_once(conns, 1, |i, c, _| c.upload(&format!("from{i}"), &bytes(1000, round)));
        for (c, replies) in &outcomes {
            assert!(replies[0].starts_with("226"), "{user}: {}\n{}", replies[0], c.transcript);
        }
    }
}

/// A pipelined group committed on one server is on the volume when its
/// `226`s are sent: read through B's mount at once. `syncfs` flushes
/// nothing on FUSE, so each file must be synced on its own there: the
/// committing server runs under `strace`, which must see no `syncfs` and
/// an `fsync` per file.
fn a_pipelined_group_is_on_the_volume_when_acknowledged(rig: &Rig) {
    let trace = rig.cluster.dir.join("group.strace");
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-qq", "-e", "trace=syncfs,fsync", "-o"]).arg(&trace).arg(env!("CARGO_BIN_EXE_netdisk"));
    cmd.args(["--listen", "127.0.0.1:0", "--data"]).arg(rig.data(0)).args(ARGS);
    let traced = Traced(Server::launch(cmd, &rig.data(0)).expect("a server under strace"));
    let mut a = traced.0.user("gina");
    let files: Vec<(String, Vec<u8>)> = (0..24).map(|i| (format!("g/f{i}"), bytes(150_000, 100 + i))).collect();
    a.ok("mkdir g", "257");
    let mut wire = Vec::new();
    for (path, data) in &files {
        wire.extend_from_slice(format!("upload {} {} {} 0\r\n", quote(path), data.len(), md5_hex(data)).as_bytes());
        wire.extend_from_slice(data);
    }
    a.send(&wire);
    for _ in &files {
        a.ok_line("150 0 ");
        a.ok_line("226");
    }
    let home = rig.data(1).join("home/gina");
    for (path, data) in &files {
        let got = fs::read(home.join(path)).unwrap();
        assert!(got == *data, "{path}: {} bytes on B's mount, {} acknowledged on A", got.len(), data.len());
    }
    let log = traced.0.log_text();
    assert!(log.contains("action=commit"), "{log}");
    let calls = fs::read_to_string(&trace).unwrap();
    let count = |call: &str| calls.lines().filter(|l| l.contains(call)).count();
    assert_eq!(count("syncfs("), 0, "a group commit relied on syncfs on FUSE");
    assert!(count("fsync(") >= files.len(), "{} fsyncs for {} files", count("fsync("), files.len());
}

/// A server that `strace` runs: killed before `strace` when dropped,
/// since a killed `strace` lets its tracee run on, detached.
struct Traced(Server);

impl Drop for Traced {
    fn drop(&mut self) {
        let id = self.0.child.id();
        let children = fs::read_to_string(format!("/proc/{id}/task/{id}/children")).unwrap_or_default();
        for pid in children.split_whitespace() {
            let _ = Command::new("kill").args(["-9", pid]).status();
        }
        self.0.kill();
    }
}

trait OkLine {
    fn ok_line(&mut self, prefix: &str);
}

impl OkLine for Raw {
    fn ok_line(&mut self, prefix: &str) {
        let line = self.line();
        assert!(line.starts_with(prefix), "wanted {prefix:?}, got {line:?}\n{}", self.transcript);
    }
}

/// kill -9 of A in the middle of an upload: B resumes it from what A
/// staged, and A comes back.
fn killed_server_upload_resumes_on_the_other(rig: &mut Rig) {
    let data = bytes(6 << 20, 9);
    let md5 = md5_hex(&data);
    let mut a = rig.a.user("kim");
    a.ok(&format!("upload big {} {md5}", data.len()), "150 0 ");
    a.send(&data[..4 << 20]);
    let staging = rig.data(0).join("staging/kim");
    wait_until(30, "A staged 2 MiB", || {
        fs::read_dir(&staging).into_iter().flatten().flatten().any(|e| {
            e.file_name().to_string_lossy().ends_with(".part") && e.metadata().is_ok_and(|m| m.len() >= 2 << 20)
        })
    });
    rig.a.kill();
    let mut b = rig.b.user("kim");
    let head = b.cmd(&format!("upload big {} {md5}", data.len()));
    let from: usize = head
        .strip_prefix("150 ")
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{head}\n{}", b.transcript));
    b.send(&data[from..]);
    b.ok_line("226");
    rig.a = Server::start(&rig.data(0), ARGS);
    assert_eq!(rig.a.user("kim").download("big"), data);
}

/// Both servers started at once on a new data directory (ten times):
/// both create the same files (`users.lock` first), and no start may fail
/// with EEXIST; then both restarted at once over the test's directory.
fn both_servers_start_at_once_without_eexist(rig: &mut Rig) {
    for round in 0..10 {
        let name = format!("fresh-data-{round}");
        let (d1, d2) = (rig.cluster.mounts[0].join(&name), rig.cluster.mounts[1].join(&name));
        let started = std::thread::scope(|s| {
            let a = s.spawn(|| Server::launch(server_command(&d1), &d1));
            let b = s.spawn(|| Server::launch(server_command(&d2), &d2));
            [a.join().unwrap(), b.join().unwrap()]
        });
        for (i, server) in started.iter().enumerate() {
            let server = server.as_ref().unwrap_or_else(|| panic!("round {round}: server {i} did not start"));
            assert!(!server.log_text().contains("os error 17"), "round {round}:\n{}", server.log_text());
        }
    }
    rig.restart_both();
    let mut a = rig.a.user("ann");
    assert_eq!(a.ls("d"), ["g"]);
    for log in [rig.a.log_text(), rig.b.log_text()] {
        assert!(!log.contains("os error 17"), "{log}");
    }
}

fn server_command(data: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_netdisk"));
    cmd.args(["--listen", "127.0.0.1:0", "--data"]).arg(data).args(ARGS);
    cmd
}

/// `share PATH 1` on `c`: the code.
fn share_code(c: &mut Raw, path: &str) -> String {
    let reply = c.ok(&format!("share {path} 1"), "200 ");
    reply.split(' ').nth(1).unwrap().to_string()
}

/// A share made through A opens as `/s/CODE` on B: a file (with a
/// `Range`), a folder's page and its ZIP; a code revoked on B is gone on A
/// at once.
fn share_links_made_on_one_server_open_on_the_other(rig: &Rig) {
    let mut a = rig.a.user("sara");
    let data = bytes(200_000, 11);
    a.ok("mkdir pics", "257");
    assert!(a.upload("pics/one.bin", &data).starts_with("226"));
    assert!(a.upload("pics/two.txt", b"two").starts_with("226"));
    let (file, folder) = (share_code(&mut a, "pics/one.bin"), share_code(&mut a, "pics"));
    let part = ask(&rig.b.http, "GET", &format!("/s/{file}/one.bin"), "Range: bytes=1000-1999\r\n", b"");
    assert_eq!(part.status, 206, "{}", part.head);
    assert!(part.body == data[1000..2000], "the range served by B");
    let page = ask(&rig.b.http, "GET", &format!("/s/{folder}/"), "", b"");
    assert_eq!(page.status, 200, "{}", page.head);
    for name in ["one.bin", "two.txt"] {
        assert!(page.text().contains(&format!("href=\"/s/{folder}/{name}\"")), "{}", page.text());
    }
    let zip = ask(&rig.b.http, "GET", &format!("/s/{folder}/?zip"), "", b"");
    assert_eq!(zip.status, 200, "{}", zip.head);
    let want = format!("pics/ -\npics/one.bin {}\npics/two.txt {}\n", md5_hex(&data), md5_hex(b"two"));
    assert_eq!(zip_contents(rig, &zip), want);
    rig.b.user("sara").ok(&format!("unshare {file}"), "250");
    let gone = ask(&rig.a.http, "GET", &format!("/s/{file}/one.bin"), "", b"");
    assert_eq!(gone.status, 404, "a code revoked on B still opens on A");
}

/// The names in a ZIP, each with the MD5 of its content (`-` for a
/// folder), as Python's `zipfile` reads them after testing the archive.
fn zip_contents(rig: &Rig, zip: &Resp) -> String {
    let file = rig.cluster.dir.join("share.zip");
    fs::write(&file, &zip.body).unwrap();
    let script = "import sys, zipfile, hashlib\nz = zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\n\
                  for n in sorted(z.namelist()):\n    \
                  print(n, '-' if n.endswith('/') else hashlib.md5(z.read(n)).hexdigest())";
    let out = Command::new("python3").args(["-c", script]).arg(&file).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A tus upload created on A (`POST /tus/`), its first `PATCH` cut off on
/// A, then resumed and finished with a `PATCH` on B: committed once, with
/// its MD5, on both servers; its URL then gone on both.
fn a_tus_upload_begun_on_one_server_is_finished_on_the_other(rig: &Rig) {
    rig.a.user("tess");
    let data = bytes(3 << 20, 12);
    let id = tus_create(&rig.a.http, "tess", "movie.bin", &data);
    let mut cut = tus_patch_head(&rig.a, "tess", &id, data.len());
    cut.write_all(&data[..1 << 20]).unwrap();
    drop(cut);
    rig.a.wait_log("204 interrupted", 1);
    let offset = tus_resume(&rig.b, "tess", &id, &data);
    assert!(offset > 0 && offset <= 1 << 20, "B held {offset} of the 1 MiB A took");
    for server in [&rig.a, &rig.b] {
        let got = ask(&server.http, "GET", "/files/movie.bin", &auth("tess"), b"");
        assert!(got.status == 200 && got.body == data, "{}", got.head);
        let again = ask(&server.http, "HEAD", &id, &format!("{TUS}{}", auth("tess")), b"");
        assert_eq!(again.status, 404, "the finished upload's URL");
    }
    let commits: usize = [&rig.a, &rig.b]
        .iter()
        .map(|s| s.log_text().lines().filter(|l| l.contains("user=tess") && l.contains("bytes committed")).count())
        .sum();
    assert_eq!(commits, 1, "one commit in both logs");
    assert!(trash(&mut rig.b.user("tess")).is_empty(), "nothing replaced, nothing in the trash");
}

/// kill -9 of A in the middle of a tus `PATCH`: B resumes it from what A
/// staged and finishes it; A comes back and serves it.
fn a_tus_upload_on_a_killed_server_is_finished_on_the_other(rig: &mut Rig) {
    rig.a.user("tina");
    let data = bytes(6 << 20, 14);
    let id = tus_create(&rig.a.http, "tina", "killed.bin", &data);
    let mut patch = tus_patch_head(&rig.a, "tina", &id, data.len());
    patch.write_all(&data[..4 << 20]).unwrap();
    let staging = rig.data(0).join("staging/tina");
    wait_until(30, "A staged 2 MiB", || {
        fs::read_dir(&staging).into_iter().flatten().flatten().any(|e| {
            e.file_name().to_string_lossy().ends_with(".part") && e.metadata().is_ok_and(|m| m.len() >= 2 << 20)
        })
    });
    rig.a.kill();
    let offset = tus_resume(&rig.b, "tina", &id, &data);
    assert!(offset >= 2 << 20, "B held {offset}, A had staged 2 MiB");
    rig.a = Server::start(&rig.data(0), ARGS);
    let got = ask(&rig.a.http, "GET", "/files/killed.bin", &auth("tina"), b"");
    assert!(got.status == 200 && got.body == data, "{}", got.head);
}

/// A connection to `server` that has sent the head of a `PATCH` at offset
/// 0 announcing `len` bytes; the caller sends (some of) the body.
fn tus_patch_head(server: &Server, user: &str, id: &str, len: usize) -> TcpStream {
    let mut s = TcpStream::connect(&server.http).unwrap();
    let head = format!(
        "PATCH {id} HTTP/1.1\r\nHost: {}\r\n{TUS}{}Upload-Offset: 0\r\n\
         Content-Type: application/offset+octet-stream\r\nContent-Length: {len}\r\n\r\n",
        server.http,
        auth(user)
    );
    s.write_all(head.as_bytes()).unwrap();
    s
}

/// Resumes upload `id` of `data` on `server`: `HEAD` for the offset held,
/// then one `PATCH` with the rest, which must commit it with its MD5. The
/// offset the server held.
fn tus_resume(server: &Server, user: &str, id: &str, data: &[u8]) -> usize {
    let held = ask(&server.http, "HEAD", id, &format!("{TUS}{}", auth(user)), b"");
    assert_eq!(held.status, 200, "{}", held.head);
    let offset: usize = held.header("upload-offset").unwrap().parse().unwrap();
    let patch =
        format!("{TUS}{}Upload-Offset: {offset}\r\nContent-Type: application/offset+octet-stream\r\n", auth(user));
    let done = ask(&server.http, "PATCH", id, &patch, &data[offset..]);
    assert_eq!(done.status, 204, "{}\n{}", done.head, done.text());
    assert_eq!(done.header("etag"), Some(format!("\"{}\"", md5_hex(data))));
    offset
}

/// A session cookie from a login on A is good on B; a logout on B ends it
/// on A too.
fn a_browser_session_of_one_server_holds_on_the_other(rig: &Rig) {
    rig.a.user("cora");
    let form = b"user=cora&password=pw-cora&next=%2F";
    let login = ask(&rig.a.http, "POST", "/login", "Content-Type: application/x-www-form-urlencoded\r\n", form);
    assert_eq!(login.status, 303, "{}", login.text());
    let set = login.header("set-cookie").unwrap();
    let cookie = format!("Cookie: {}\r\n", set.split(';').next().unwrap());
    let me = ask(&rig.b.http, "GET", "/api/me", &cookie, b"");
    assert_eq!(me.status, 200, "B takes A's session\n{}", me.head);
    assert!(me.text().contains("\"user\":\"cora\""), "{}", me.text());
    let origin = format!("{cookie}Origin: http://{}\r\n", rig.b.http);
    assert_eq!(ask(&rig.b.http, "POST", "/logout", &origin, b"").status, 303);
    assert_eq!(ask(&rig.a.http, "GET", "/api/me", &cookie, b"").status, 401, "A still takes the ended session");
}

/// `PUT /files/` on A, `GET` on B: the same bytes and ETag.
fn a_file_put_on_one_server_is_served_by_the_other(rig: &Rig) {
    rig.a.user("pete");
    let data = bytes(500_000, 13);
    let md5 = md5_hex(&data);
    let put = ask(&rig.a.http, "PUT", "/files/put.bin", &format!("{}X-Netdisk-MD5: {md5}\r\n", auth("pete")), &data);
    assert_eq!(put.status, 201, "{}", put.text());
    let got = ask(&rig.b.http, "GET", "/files/put.bin", &auth("pete"), b"");
    assert_eq!(got.status, 200, "{}", got.head);
    assert!(got.body == data, "B serves what A stored");
    assert_eq!(got.header("etag"), Some(format!("\"{md5}\"")));
}
