//! `make bench`: netdisk measured against the limits of this machine, each
//! limit measured in the same run, each figure printed with its ratio.
//!
//! ```text
//! cargo build --release --bins --examples && target/release/examples/bench [--size MIB] [--runs N]
//!     [--seconds S] [--sessions N] [--logged-in N]
//! ```
//!
//! It starts the release server binary on `127.0.0.1:0` over a temporary
//! data directory and removes both when done.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use netdisk::Digest;
use netdisk::client::Client;
use netdisk::digest::Hasher;

struct Opts {
    size_mib: u64,
    runs: usize,
    seconds: u64,
    sessions: usize,
    logged_in: usize,
}

fn opts() -> Opts {
    let mut o = Opts { size_mib: 512, runs: 5, seconds: 3, sessions: 5000, logged_in: 500 };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let value = pair.get(1).and_then(|v| v.parse::<u64>().ok());
        let Some(v) = value else {
            eprintln!("usage: bench [--size MIB] [--runs N] [--seconds S] [--sessions N] [--logged-in N]");
            std::process::exit(2);
        };
        match pair[0].as_str() {
            "--size" => o.size_mib = v,
            "--runs" => o.runs = v.max(1) as usize,
            "--seconds" => o.seconds = v,
            "--sessions" => o.sessions = v as usize,
            "--logged-in" => o.logged_in = v as usize,
            other => {
                eprintln!("unknown option {other}");
                std::process::exit(2);
            }
        }
    }
    o
}

/// Median, minimum and maximum of a few measurements.
struct Stats(Vec<f64>);

impl Stats {
    fn median(&self) -> f64 {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }

    fn show(&self, unit: &str) -> String {
        let min = self.0.iter().copied().fold(f64::MAX, f64::min);
        let max = self.0.iter().copied().fold(f64::MIN, f64::max);
        format!("{:8.1} {unit} [{min:.1}-{max:.1}]", self.median())
    }
}

fn measure(runs: usize, mut f: impl FnMut(usize) -> f64) -> Stats {
    Stats((0..runs).map(&mut f).collect())
}

fn mb_per_s(bytes: u64, took: Duration) -> f64 {
    bytes as f64 / 1e6 / took.as_secs_f64()
}

fn line(what: &str, got: &Stats, unit: &str, limit_name: &str, limit: f64, target: &str) {
    let ratio = got.median() / limit;
    println!("{what:<34} {}   limit {limit_name} {limit:8.1} {unit}   ratio {ratio:5.2}   {target}", got.show(unit));
}

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(data: &Path) -> Server {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().parent().unwrap().join("netdisk");
    assert!(bin.exists(), "build the server first: cargo build --release --bins --examples");
    let mut child = Command::new(bin)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--max-clients",
            "20000",
            "--max-per-ip",
            "20000",
            "--register-burst",
            "1000000",
        ])
        .arg("--data")
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let addr = first.trim().strip_prefix("listening on ").unwrap().to_string();
    Server { child, addr }
}

fn make_file(path: &Path, size: u64) {
    let mut f = File::create(path).unwrap();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        for chunk in buf.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        let n = left.min(buf.len() as u64) as usize;
        f.write_all(&buf[..n]).unwrap();
        left -= n as u64;
    }
}

/// `md5sum FILE`: the reference implementation, on a warm page cache.
fn md5sum_speed(path: &Path, size: u64) -> (f64, String) {
    let started = Instant::now();
    let out = Command::new("md5sum").arg(path).output().expect("md5sum");
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    (mb_per_s(size, took), text.split(' ').next().unwrap_or("").to_string())
}

/// The md-5 crate on the same file, one thread.
fn crate_md5_speed(path: &Path, size: u64) -> f64 {
    let started = Instant::now();
    let mut f = File::open(path).unwrap();
    let mut h = Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    let _ = h.peek();
    mb_per_s(size, started.elapsed())
}

/// Writing `size` bytes into a new file (page cache, no fsync): what the
/// receiving side of every transfer must do at least.
fn write_speed(dir: &Path, size: u64) -> f64 {
    let path = dir.join("write-limit.bin");
    let started = Instant::now();
    write_filler(&mut File::create(&path).unwrap(), size);
    let speed = mb_per_s(size, started.elapsed());
    fs::remove_file(&path).unwrap();
    speed
}

/// Writes `size` filler bytes in 256 KiB writes.
fn write_filler(out: &mut impl Write, size: u64) {
    let buf = vec![7u8; 256 << 10];
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        out.write_all(&buf[..n]).unwrap();
        left -= n as u64;
    }
}

/// A plain TCP copy of `size` bytes over loopback.
fn loopback_speed(size: u64) -> f64 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let reader = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 256 << 10];
        let mut total = 0u64;
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            total += n as u64;
        }
        total
    });
    let started = Instant::now();
    write_filler(&mut TcpStream::connect(addr).unwrap(), size);
    assert_eq!(reader.join().unwrap(), size);
    mb_per_s(size, started.elapsed())
}

fn client(addr: &str, user: &str) -> Client {
    let mut c = Client::connect(addr).unwrap();
    let _ = c.register(user, "bench-pw");
    c.login(user, "bench-pw").unwrap();
    c
}

/// Upload with the MD5 known in advance (header mode); the payload is sent
/// with the kernel's zero-copy path, so this measures the server.
fn upload_header_mode(addr: &str, path: &Path, size: u64, md5: &str, name: &str) -> Duration {
    let mut s = TcpStream::connect(addr).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut l = String::new();
    let mut expect = |r: &mut BufReader<TcpStream>, want: &str| {
        l.clear();
        r.read_line(&mut l).unwrap();
        assert!(l.starts_with(want), "wanted {want}, got {l}");
    };
    expect(&mut r, "220");
    s.write_all(b"login bench bench-pw\n").unwrap();
    expect(&mut r, "230");
    let started = Instant::now();
    s.write_all(format!("upload {name} {size} {md5} 0\n").as_bytes()).unwrap();
    let mut f = File::open(path).unwrap();
    std::io::copy(&mut f, &mut s).unwrap();
    expect(&mut r, "150 0 ");
    expect(&mut r, "226 ");
    started.elapsed()
}

fn bench_transfers(o: &Opts, dir: &Path, addr: &str) {
    let size = o.size_mib << 20;
    let path = dir.join("big.bin");
    make_file(&path, size);
    let (_, md5) = md5sum_speed(&path, size);
    let md5sum = measure(o.runs, |_| md5sum_speed(&path, size).0);
    let md5crate = measure(o.runs, |_| crate_md5_speed(&path, size));
    let loopback = measure(o.runs, |_| loopback_speed(size));
    let write = measure(o.runs, |_| write_speed(dir, size));
    let limit = md5sum.median();
    println!("file: {} MiB, MD5 {md5}", o.size_mib);
    println!("{:<34} {}", "limit: md5sum", md5sum.show("MB/s"));
    println!("{:<34} {}", "limit: md-5 crate, one thread", md5crate.show("MB/s"));
    println!("{:<34} {}", "limit: raw loopback TCP copy", loopback.show("MB/s"));
    println!("{:<34} {}", "limit: write to a new file", write.show("MB/s"));
    let mut c = client(addr, "bench");
    let up = measure(o.runs, |i| {
        // One name: each run replaces the last file, as a server in steady
        // state reuses page cache instead of growing it.
        let _ = i;
        let t = c.upload(&path, "up", &mut |_| true).unwrap();
        assert_eq!(t.md5.to_string(), md5);
        mb_per_s(size, t.elapsed)
    });
    line("verified upload, digest after", &up, "MB/s", "md5sum", limit, "(target >= 0.65)");
    let up_header = measure(o.runs, |_| mb_per_s(size, upload_header_mode(addr, &path, size, &md5, "uh")));
    line("verified upload, digest ahead", &up_header, "MB/s", "md5sum", limit, "(server side only)");
    let out = dir.join("down.bin");
    let down = measure(o.runs, |_| {
        let _ = fs::remove_file(&out);
        let t = c.download("up", &out, &mut |_| true).unwrap();
        assert_eq!(t.md5.to_string(), md5);
        mb_per_s(size, t.elapsed)
    });
    line("verified download", &down, "MB/s", "md5sum", limit, "(target >= 0.75)");
    let _ = fs::remove_file(&out);
    let _ = fs::remove_file(&path);
}

/// 16 clients each uploading 1 KiB files (header, payload in one write).
fn bench_small_files(o: &Opts, addr: &str) {
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let data: Vec<u8> = (0..1024u32).map(|i| (i * 7) as u8).collect();
    let md5 = Digest::of(&data).to_string();
    let workers: Vec<_> = (0..16)
        .map(|w| {
            let (stop, count, data, md5, addr) =
                (stop.clone(), count.clone(), data.clone(), md5.clone(), addr.to_string());
            thread::spawn(move || {
                drop(client(&addr, &format!("small{w}")));
                let mut s = TcpStream::connect(&addr).unwrap();
                s.set_nodelay(true).unwrap();
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut l = String::new();
                r.read_line(&mut l).unwrap();
                s.write_all(format!("login small{w} bench-pw\n").as_bytes()).unwrap();
                r.read_line(&mut l).unwrap();
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let mut msg = format!("upload f{i} 1024 {md5} 0\n").into_bytes();
                    msg.extend_from_slice(&data);
                    s.write_all(&msg).unwrap();
                    l.clear();
                    r.read_line(&mut l).unwrap();
                    l.clear();
                    r.read_line(&mut l).unwrap();
                    assert!(l.starts_with("226"), "{l}");
                    count.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(300));
    let before = count.load(Ordering::Relaxed);
    let started = Instant::now();
    thread::sleep(Duration::from_secs(o.seconds));
    let files = count.load(Ordering::Relaxed) - before;
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let fsyncs = fsync_rate(Path::new(&std::env::temp_dir()), o.seconds.min(2));
    let rate = files as f64 / took.as_secs_f64();
    println!(
        "{:<34} {rate:8.1} files/s   limit fsync+rename+dir fsync, one thread {fsyncs:8.1} /s   ratio {:5.2}   (16 clients, durable commits)",
        "small files (1 KiB) uploaded",
        rate / fsyncs
    );
}

/// How many "write 1 KiB, fsync, rename, fsync dir" commits one thread does
/// per second here: the durable-commit floor of the disk.
fn fsync_rate(dir: &Path, seconds: u64) -> f64 {
    let d = dir.join(format!("netdisk-fsync-{}", std::process::id()));
    fs::create_dir_all(&d).unwrap();
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < Duration::from_secs(seconds.max(1)) {
        let tmp = d.join("tmp");
        let mut f = File::create(&tmp).unwrap();
        f.write_all(&[1u8; 1024]).unwrap();
        f.sync_all().unwrap();
        fs::rename(&tmp, d.join(format!("f{}", n % 64))).unwrap();
        File::open(&d).unwrap().sync_all().unwrap();
        n += 1;
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    let _ = fs::remove_dir_all(&d);
    rate
}

/// A logged-in line connection for the version-2 requests: sends one line
/// and returns the reply's lines (the head and any listed lines).
struct Lines {
    reader: BufReader<TcpStream>,
    stream: TcpStream,
}

impl Lines {
    fn login(addr: &str, user: &str) -> Lines {
        drop(client(addr, user));
        let stream = TcpStream::connect(addr).unwrap();
        let mut l = Lines { reader: BufReader::new(stream.try_clone().unwrap()), stream };
        l.read_reply();
        l.ask(&format!("login {user} bench-pw"));
        l
    }

    fn ask(&mut self, line: &str) -> Vec<String> {
        self.stream.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        self.read_reply()
    }

    fn read_reply(&mut self) -> Vec<String> {
        let mut head = String::new();
        self.reader.read_line(&mut head).unwrap();
        let head = head.trim_end().to_string();
        let n = head.strip_prefix("212 ").map_or(0, |n| n.parse().unwrap_or(0));
        let mut out = vec![head];
        for _ in 0..n {
            let mut l = String::new();
            self.reader.read_line(&mut l).unwrap();
            out.push(l);
        }
        out
    }
}

/// `dirs` directories of `per` files of `size` bytes, made on disk.
fn make_tree(top: &Path, dirs: usize, per: usize, size: usize) {
    for d in 0..dirs {
        let sub = top.join(format!("d{d:04}"));
        fs::create_dir_all(&sub).unwrap();
        for f in 0..per {
            let mut data = format!("{d} {f} ").into_bytes();
            data.resize(size, b'x');
            fs::write(sub.join(format!("f{f:04}")), data).unwrap();
        }
    }
}

/// Bytes of disk blocks held by the distinct inodes under `top`.
fn disk_bytes(top: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let (mut seen, mut total, mut stack) = (std::collections::HashSet::new(), 0, vec![top.to_path_buf()]);
    while let Some(dir) = stack.pop() {
        for item in fs::read_dir(&dir).unwrap().flatten() {
            let meta = item.metadata().unwrap();
            if seen.insert(meta.ino()) {
                total += meta.blocks() * 512;
            }
            if meta.is_dir() {
                stack.push(item.path());
            }
        }
    }
    total
}

/// `cp` of a 10,000-file tree beside `cp -r` (a byte copy), and `find` of
/// 100,000 files beside one `ls` per directory, with the server's peak
/// memory.
fn bench_copies(dir: &Path) {
    let server = start_server(&dir.join("data"));
    let home = dir.join("data/home/copier");
    let mut c = Lines::login(&server.addr, "copier");
    make_tree(&home.join("tree"), 100, 100, 4096);
    let before = disk_bytes(&home);
    let t = Instant::now();
    assert!(c.ask("cp /tree /copy")[0].starts_with("250"));
    let (took, extra) = (t.elapsed(), disk_bytes(&home) - before);
    let before = disk_bytes(&home);
    let t = Instant::now();
    let status = Command::new("cp").arg("-r").arg(home.join("tree")).arg(home.join("bytes")).status().unwrap();
    assert!(status.success());
    let (base, base_extra) = (t.elapsed(), disk_bytes(&home) - before);
    println!(
        "cp of 10,000 files (40 MB)          {:8.3} s, {:6.1} MB more disk   baseline cp -r {:8.3} s, {:6.1} MB",
        took.as_secs_f64(),
        extra as f64 / 1e6,
        base.as_secs_f64(),
        base_extra as f64 / 1e6
    );
    make_tree(&home.join("big"), 1000, 100, 16);
    let hwm = || vm_hwm_kib(server.child.id());
    let idle = hwm();
    for pass in ["first (hashes)", "again (recorded)"] {
        let t = Instant::now();
        let got = c.ask("find /big");
        assert_eq!(got.len(), 101_001, "{}", got[0]);
        println!(
            "find of 100,000 files, {pass:<16} {:8.3} s, server peak {} MiB (idle {} MiB)",
            t.elapsed().as_secs_f64(),
            hwm() / 1024,
            idle / 1024
        );
    }
    let t = Instant::now();
    for d in 0..1000 {
        c.stream.write_all(format!("ls /big/d{d:04}\r\n").as_bytes()).unwrap();
    }
    let lines: usize = (0..1000).map(|_| c.read_reply().len() - 1).sum();
    assert_eq!(lines, 100_000);
    println!("baseline: 1,000 pipelined ls        {:8.3} s (sizes and mtimes, no MD5s)", t.elapsed().as_secs_f64());
}

/// Peak resident memory of a process, in KiB.
fn vm_hwm_kib(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap_or("VmHWM: 0 kB");
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn rss_kib(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap_or("VmRSS: 0 kB");
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// This process's soft limit on open files (from `/proc/self/limits`).
fn fd_limit() -> usize {
    let limits = fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let line = limits.lines().find(|l| l.starts_with("Max open files")).unwrap_or("");
    line.split_whitespace().nth(3).and_then(|v| v.parse().ok()).unwrap_or(usize::MAX)
}

fn read_greeting(s: &TcpStream) {
    let mut buf = [0u8; 64];
    let mut got = 0;
    let mut r = s;
    while got < 19 {
        match r.read(&mut buf[got..]) {
            Ok(n) if n > 0 => got += n,
            _ => break,
        }
    }
}

/// Thousands of open sessions: memory each, accept rate, and a fresh
/// client's latency under that load.
fn bench_sessions(o: &Opts, server: &Server) {
    let pid = server.child.id();
    drop(client(&server.addr, "many"));
    let fresh = |samples: usize| {
        let mut times: Vec<f64> = (0..samples)
            .map(|_| {
                let started = Instant::now();
                let mut c = client(&server.addr, "many");
                c.ls(None).unwrap();
                let t = started.elapsed().as_secs_f64() * 1000.0;
                let _ = c.quit();
                t
            })
            .collect();
        times.sort_by(f64::total_cmp);
        Stats(times)
    };
    let idle_latency = fresh(10);
    thread::sleep(Duration::from_millis(300));
    let before = rss_kib(pid);
    let started = Instant::now();
    let room = fd_limit().saturating_sub(100);
    if room < o.sessions {
        eprintln!("`ulimit -n` allows about {room} sessions here, not {}; raise it to measure more", o.sessions);
    }
    let mut conns: Vec<TcpStream> = Vec::with_capacity(o.sessions);
    for _ in 0..o.sessions.min(room) {
        // Out of file descriptors (`ulimit -n`): measure what was opened.
        let Ok(s) = TcpStream::connect(&server.addr) else {
            eprintln!("only {} sessions could be opened; raise `ulimit -n` for more", conns.len());
            break;
        };
        read_greeting(&s);
        conns.push(s);
    }
    let sessions = conns.len().max(1);
    let accept_rate = sessions as f64 / started.elapsed().as_secs_f64();
    let mut login_buf = String::new();
    for s in conns.iter().take(o.logged_in) {
        (&*s).write_all(b"login many bench-pw\n").unwrap();
        let mut r = BufReader::new(s);
        login_buf.clear();
        r.read_line(&mut login_buf).unwrap();
        assert!(login_buf.starts_with("230"), "{login_buf}");
    }
    thread::sleep(Duration::from_millis(500));
    let after = rss_kib(pid);
    let per_session = (after.saturating_sub(before)) as f64 / sessions as f64;
    let loaded_latency = fresh(20);
    println!(
        "{:<34} {per_session:8.1} KiB   ({} sessions, {} logged in; RSS {before} -> {after} KiB)   limit 32 KiB   ratio {:5.2}",
        "server memory per open session",
        sessions,
        o.logged_in.min(sessions),
        per_session / 32.0
    );
    println!("{:<34} {accept_rate:8.1} sessions/s (connect + greeting, one client thread)", "accept rate");
    line(
        "fresh client: connect+login+ls",
        &loaded_latency,
        "ms",
        "same, no load",
        idle_latency.median(),
        "(target < 50 ms under load)",
    );
    drop(conns);
}

/// Password checks per second on one core (the login cost).
fn bench_login_cost(dir: &Path) {
    let users = netdisk::storage::users::Users::open(dir);
    let pass = netdisk::proto::Password::new("bench-pw");
    users.register("cost", &pass).unwrap();
    let started = Instant::now();
    let mut n = 0;
    while started.elapsed() < Duration::from_secs(1) {
        assert!(users.verify("cost", &pass));
        n += 1;
    }
    let per_s = n as f64 / started.elapsed().as_secs_f64();
    println!(
        "{:<34} {per_s:8.1} checks/s per core ({:.2} ms each, {} MD5 rounds; target 5-10 ms)",
        "login cost (password hash)",
        1000.0 / per_s,
        netdisk::storage::users::ROUNDS
    );
}

/// A users file of `n` accounts, written directly with cheap 1-round
/// records (their passwords are never checked).
fn write_users(data: &Path, n: usize) {
    fs::create_dir_all(data).unwrap();
    let mut text = String::from("# netdisk users v1\n");
    for i in 0..n {
        let salt = Digest::of(format!("salt{i}").as_bytes());
        let hash = Digest::of(format!("hash{i}").as_bytes());
        text.push_str(&format!("filler{i}:md5$1${salt}${hash}\n"));
    }
    fs::write(data.join("users"), text).unwrap();
}

/// Milliseconds for one `register`, and for a fresh connection's `login`
/// right after it, over a users file of `n` accounts.
fn account_times(o: &Opts, dir: &Path, n: usize) -> (Stats, Stats) {
    let data = dir.join(format!("accounts-{n}"));
    write_users(&data, n);
    let server = start_server(&data);
    let mut c = Client::connect(&server.addr).unwrap();
    let mut logins = Vec::new();
    let register = measure(o.runs * 4, |i| {
        let started = Instant::now();
        c.register(&format!("new{i}"), "bench-pw").unwrap();
        let took = started.elapsed().as_secs_f64() * 1000.0;
        let started = Instant::now();
        Client::connect(&server.addr).unwrap().login(&format!("new{i}"), "bench-pw").unwrap();
        logins.push(started.elapsed().as_secs_f64() * 1000.0);
        took
    });
    let _ = fs::remove_dir_all(&data);
    (register, Stats(logins))
}

/// Registration and login cost must not grow with the number of accounts.
fn bench_accounts(o: &Opts, dir: &Path) {
    let (reg_small, login_small) = account_times(o, dir, 10);
    let (reg_big, login_big) = account_times(o, dir, 200_000);
    line("register, 200,000 accounts", &reg_big, "ms", "10 accounts", reg_small.median(), "(target ratio ~1)");
    line(
        "login after it, 200,000 accounts",
        &login_big,
        "ms",
        "10 accounts",
        login_small.median(),
        "(target ratio ~1)",
    );
}

fn main() {
    let o = opts();
    let dir: PathBuf = std::env::temp_dir().join(format!("netdisk-bench-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let started = Instant::now();
    println!(
        "netdisk bench: {} CPUs, runs {}, medians [min-max]",
        thread::available_parallelism().map_or(0, |n| n.get()),
        o.runs
    );
    {
        let server = start_server(&dir.join("data"));
        bench_transfers(&o, &dir, &server.addr);
        bench_small_files(&o, &server.addr);
        bench_sessions(&o, &server);
    }
    bench_copies(&dir.join("copies"));
    let users_dir = dir.join("users-only");
    fs::create_dir_all(&users_dir).unwrap();
    bench_login_cost(&users_dir);
    bench_accounts(&o, &dir);
    let _ = fs::remove_dir_all(&dir);
    println!("total bench time {:.1} s", started.elapsed().as_secs_f64());
}
