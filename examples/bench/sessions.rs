//! Load on one server: 16 clients committing 1 KiB files at once,
//! thousands of open sessions (memory each, accept rate, a fresh client's
//! latency under that load), and the cost of one password check.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use netdisk::Digest;

use crate::Opts;
use crate::limits::commit_rate;
use crate::server::{Server, client, status_kib};
use crate::stats::{Limit, Stats, line};

/// 16 clients each uploading 1 KiB files (header, payload in one write).
pub fn small_files(o: &Opts, addr: &str, data_dir: &Path) {
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
    let fsyncs = commit_rate(data_dir, 1024, true, o.seconds.min(2) as f64);
    let rate = files as f64 / took.as_secs_f64();
    println!(
        "{:<34} {rate:8.1} files/s   limit fsync+rename+dir fsync, one thread {fsyncs:8.1} /s   ratio {:5.2}   (16 clients, durable commits)",
        "small files (1 KiB) uploaded",
        rate / fsyncs
    );
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
pub fn sessions(o: &Opts, server: &Server) {
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
    let before = status_kib(pid, "VmRSS:");
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
    let after = status_kib(pid, "VmRSS:");
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
    let limit = Limit { name: "same, no load", value: idle_latency.median() };
    line("fresh client: connect+login+ls", &loaded_latency, "ms", limit, "(target < 50 ms under load)");
    drop(conns);
}

/// Password checks per second on one core (the login cost).
pub fn login_cost(dir: &Path) {
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
