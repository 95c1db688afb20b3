//! The client's window of pipelined upload groups (`client::window`): the
//! next group goes out before the replies of the one before are read, so
//! the client's reading and hashing overlap the server's commit.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::fixture;
use netdisk::client::Options;

/// Files in one pipelined group of the client (`PIPE_FILES`).
const GROUP: usize = 256;
/// How long the proxy holds replies at most: a client that waits for them
/// before sending more is then let go, and the test fails on the flag.
const HOLD_AT_MOST: Duration = Duration::from_secs(60);

/// A proxy between one client and the server that holds the server's
/// replies, once the client has sent an `upload`, until the client has
/// sent `want` of them (the first line of its second group).
struct HoldProxy {
    addr: String,
    /// Set when the replies were let go because the time ran out.
    gave_up: Arc<AtomicBool>,
}

/// The `upload` lines the client has sent, with the signal of each new one.
type Seen = Arc<(Mutex<usize>, Condvar)>;

impl HoldProxy {
    fn start(target: &str, want: usize) -> HoldProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let gave_up = Arc::new(AtomicBool::new(false));
        let (target, flag) = (target.to_string(), gave_up.clone());
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let server = TcpStream::connect(&target).unwrap();
                let seen: Seen = Arc::new((Mutex::new(0), Condvar::new()));
                let (c2, s2, seen2) = (client.try_clone().unwrap(), server.try_clone().unwrap(), seen.clone());
                thread::spawn(move || upstream(c2, s2, seen2));
                let flag = flag.clone();
                thread::spawn(move || downstream(server, client, seen, want, flag));
            }
        });
        HoldProxy { addr, gave_up }
    }
}

/// Client to server, counting `upload ` at line starts (the test's
/// payloads never hold that word).
fn upstream(mut from: TcpStream, mut to: TcpStream, seen: Seen) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut tail: Vec<u8> = Vec::new();
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || to.write_all(&buf[..n]).is_err() {
            break;
        }
        tail.extend_from_slice(&buf[..n]);
        let found = tail.windows(8).filter(|w| w == b"\nupload ").count();
        tail.drain(..tail.len().saturating_sub(7));
        let (count, signal) = &*seen;
        *count.lock().unwrap() += found;
        signal.notify_all();
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// Server to client, held while the client has sent some but fewer than
/// `want` uploads.
fn downstream(mut from: TcpStream, mut to: TcpStream, seen: Seen, want: usize, gave_up: Arc<AtomicBool>) {
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = Instant::now() + HOLD_AT_MOST;
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            break;
        }
        let (count, signal) = &*seen;
        let mut sent = count.lock().unwrap();
        while (1..want).contains(&*sent) && !gave_up.load(Ordering::SeqCst) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                gave_up.store(true, Ordering::SeqCst);
            }
            sent = signal.wait_timeout(sent, left).unwrap().0;
        }
        drop(sent);
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

#[test]
fn a_mirror_sends_its_second_group_before_reading_the_replies_of_the_first() {
    let server = fixture!();
    let tree = server.dir().join("tree");
    fs::create_dir_all(&tree).unwrap();
    let files = GROUP + 44;
    for i in 0..files {
        fs::write(tree.join(format!("f{i:03}")), format!("small file {i}\n")).unwrap();
    }
    // The `upload` lines before the second group's first, plus that one.
    let proxy = HoldProxy::start(&server.addr, GROUP + 1);
    let mut c = netdisk::client::Client::connect(&proxy.addr).unwrap();
    let _ = c.register("win", "pw-win");
    c.login("win", "pw-win").unwrap();
    let report = c.mirror(tree.to_str().unwrap(), "/m", true, Options::default(), &mut |_| true).unwrap();
    assert_eq!((report.transferred, report.failures.len()), (files, 0), "{report:?}");
    assert!(!proxy.gave_up.load(Ordering::SeqCst), "the second group waited for the replies of the first");
    // Every reply was read in order: each file is there, with its time.
    let mut check = server.client("win");
    for i in [0, GROUP - 1, GROUP, files - 1] {
        let stat = check.stat(&format!("/m/f{i:03}")).unwrap();
        assert_eq!(stat.size, format!("small file {i}\n").len() as u64, "f{i:03}");
        let local = fs::metadata(tree.join(format!("f{i:03}"))).unwrap().modified().unwrap();
        let secs = local.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        assert_eq!(stat.mtime, secs, "f{i:03}");
    }
}
