//! `make bench`: netdisk measured against the limits of this machine and
//! against the peers users would pick, each limit measured in the same
//! run, every figure on loopback and at a 50 ms round trip (through a
//! delay proxy), each printed as median [min-max] with its ratio.
//!
//! ```text
//! make build && target/native/release/examples/bench [--size MIB] [--runs N]
//!     [--files N | --full] [--claim MIB] [--only SECTION,...]
//!     [--seconds S] [--sessions N] [--logged-in N]
//! ```
//!
//! Sections: transfers (or its `upload` or `download` alone), small, claim,
//! mirror, scale, load, newcontent (the client's upload of new content),
//! http (the HTTP face against nginx, curl and tuspy: `bench/http.rs`; or
//! its tus row alone: `tus`, or its idle-connection rows alone: `idle`),
//! dav (WebDAV against rclone: `bench/dav.rs`).
//! It starts the release server binary on
//! `127.0.0.1:0` over temporary data directories and removes them when done. Peers (rsync, lftp, vsftpd) are used when
//! installed (`make bench-peers`); otherwise "peer not installed".

#[path = "bench/claim.rs"]
mod claim;
#[path = "bench/cpu.rs"]
mod cpu;
#[path = "bench/dav.rs"]
mod dav;
#[path = "bench/http.rs"]
mod http;
#[path = "bench/http_load.rs"]
mod http_load;
#[path = "bench/http_peers.rs"]
mod http_peers;
#[path = "bench/limits.rs"]
mod limits;
#[path = "bench/mirror.rs"]
mod mirror;
#[path = "bench/newcontent.rs"]
mod newcontent;
#[path = "bench/peers.rs"]
mod peers;
#[path = "bench/proxy.rs"]
mod proxy;
#[path = "bench/scale.rs"]
mod scale;
#[path = "bench/server.rs"]
mod server;
#[path = "bench/sessions.rs"]
mod sessions;
#[path = "bench/small.rs"]
mod small;
#[path = "bench/stats.rs"]
mod stats;
#[path = "bench/transfers.rs"]
mod transfers;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Files in the mirror tree: the quick default, and `--full`.
const QUICK_FILES: usize = 2_000;
const FULL_FILES: usize = 10_000;
const SECTIONS: &str = "transfers,small,claim,mirror,scale,load,newcontent,http,dav";
/// Parts of `transfers` that `--only` may name alone.
const DIRECTIONS: [&str; 2] = ["upload", "download"];
/// The parts of `http` that `--only` may name alone (its other rows skipped).
const HTTP_PARTS: [&str; 2] = ["tus", "idle"];
const USAGE: &str = "usage: bench [--size MIB] [--runs N] [--files N | --full] [--claim MIB] \
                     [--only transfers|upload|download,small,claim,mirror,scale,load,newcontent,http|tus|idle,dav] [--seconds S] [--sessions N] \
                     [--logged-in N]";

pub struct Opts {
    size_mib: u64,
    runs: usize,
    files: usize,
    claim_mib: u64,
    only: String,
    pub seconds: u64,
    pub sessions: usize,
    pub logged_in: usize,
}

fn usage() -> ! {
    eprintln!("{USAGE}");
    std::process::exit(2)
}

fn opts() -> Opts {
    let mut o = Opts {
        size_mib: 512,
        runs: 5,
        files: QUICK_FILES,
        claim_mib: 1024,
        only: SECTIONS.into(),
        seconds: 3,
        sessions: 5000,
        logged_in: 500,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--full" {
            o.files = FULL_FILES;
            continue;
        }
        let value = args.next().unwrap_or_else(|| usage());
        let number = || value.parse::<u64>().unwrap_or_else(|_| usage());
        match flag.as_str() {
            "--size" => o.size_mib = number().max(1),
            "--runs" => o.runs = number().max(1) as usize,
            "--files" => o.files = number().max(100) as usize,
            "--claim" => o.claim_mib = number().max(1),
            "--only" => o.only = value.clone(),
            "--seconds" => o.seconds = number(),
            "--sessions" => o.sessions = number() as usize,
            "--logged-in" => o.logged_in = number() as usize,
            _ => usage(),
        }
    }
    o
}

/// The machine, as `make bench` prints it first.
fn machine() -> String {
    let cpu = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpu.lines().find_map(|l| l.strip_prefix("model name")).unwrap_or(": ?");
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cpus} CPUs ({})", model.trim_start_matches([' ', '\t', ':']))
}

fn fresh(dir: &Path) -> PathBuf {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir).expect("bench dir");
    dir.to_path_buf()
}

/// Whether `--only` asked for `name` (or for its section).
fn wanted(o: &Opts, name: &str) -> bool {
    o.only.split(',').any(|s| {
        s == name || (name == "transfers" && DIRECTIONS.contains(&s)) || (name == "http" && HTTP_PARTS.contains(&s))
    })
}

fn section_transfers(o: &Opts, dir: &Path) {
    let dir = fresh(&dir.join("transfers"));
    // Without dedup every upload sends its bytes: the same content is
    // uploaded run after run, which `claim` would make instant.
    let server = server::start_with(&dir.join("data"), &["--dedup", "off"]);
    let size = o.size_mib << 20;
    let path = dir.join("big.bin");
    limits::make_file(&path, size, 1);
    println!("file: {} MiB, MD5 {}", o.size_mib, limits::md5sum(&path, size).1);
    let bounds = transfers::limits(o.runs, &path, size, &dir.join("data"));
    let named = |way: &str| o.only.split(',').any(|s| s == "transfers" || s == way);
    let ways = transfers::Ways { up: named("upload"), down: named("download") };
    for link in server.links() {
        transfers::run(o.runs, &link, &path, &bounds, ways);
    }
    drop(server);
    let _ = fs::remove_dir_all(&dir);
}

fn section_small(o: &Opts, dir: &Path) {
    let dir = fresh(&dir.join("small"));
    let server = server::start(&dir.join("data"));
    let rates = small::rates(&dir.join("data"));
    let folder = dir.join("folder");
    small::make_folder(&folder);
    for link in server.links() {
        small::run(o.runs, &link, &folder, &rates);
    }
    drop(server);
    let _ = fs::remove_dir_all(&dir);
}

fn section_claim(o: &Opts, dir: &Path) {
    let dir = fresh(&dir.join("claim"));
    let server = server::start(&dir.join("data"));
    let sender = server::start_with(&dir.join("data-sent"), &["--dedup", "off"]);
    let size = o.claim_mib << 20;
    let path = dir.join("held.bin");
    limits::make_file(&path, size, 2);
    let md5 = limits::md5sum(&path, size).1;
    for (link, to) in server.links().iter().zip(sender.links().iter()) {
        claim::run(o.runs, link, to, &path, &md5);
    }
    drop((server, sender));
    let _ = fs::remove_dir_all(&dir);
}

fn section_mirror(o: &Opts, dir: &Path) {
    let dir = fresh(&dir.join("mirror"));
    let tree = dir.join("tree");
    let bytes = mirror::make_tree(&tree, o.files);
    println!("mirror tree: {} files, {} MiB, 1 KiB to 1 MiB", o.files, bytes >> 20);
    let changed = mirror::changed_bytes(o.files);
    println!(
        "re-runs: the same {} files changed for every tool ({:.1} MiB)",
        o.files.div_ceil(100),
        changed as f64 / 1048576.0
    );
    let rsync = peers::Rsync::start(&dir);
    let mut round = 0;
    for (n, name) in ["loopback", "50 ms RTT"].iter().enumerate() {
        // A fresh server per link: content sent on the first link must not
        // make the second link's first run instant.
        let server = server::start(&dir.join(format!("data-{n}")));
        let link = server.links()[n].clone();
        assert_eq!(&link.name, name);
        drop(server::client(&link.addr, "mirror"));
        // Each tool starts with nothing left to write back (the tree just
        // made, or what rsync without --fsync left dirty).
        limits::flush_all();
        let ours = mirror::netdisk(&link, &tree, o.files, &mut round, &dir.join("digest-cache"));
        limits::flush_all();
        let theirs = mirror::rsync(rsync.as_ref(), &link, &tree, o.files, &mut round, &[]);
        mirror::show("netdisk", &link, &ours, theirs.as_ref().map(|t| ("rsync", t)));
        limits::flush_all();
        if let Some(synced) = mirror::rsync(rsync.as_ref(), &link, &tree, o.files, &mut round, &["--fsync"]) {
            mirror::show("rsync --fsync", &link, &synced, None);
        }
        mirror::first_runs(&dir, rsync.as_ref(), &tree, n, o.runs.min(3));
        if n == 0 {
            mirror::lftp(&dir, &link, &tree, o.files, &mut round);
        }
    }
    drop(rsync);
    let _ = fs::remove_dir_all(&dir);
}

fn section_scale(o: &Opts, dir: &Path) {
    let dir = fresh(&dir.join("scale"));
    let data = dir.join("data");
    let server = server::start_with(&data, &["--quota", "1T"]);
    let home = |user: &str| data.join("home").join(user);
    let scratch = dir.join("local");
    fs::create_dir_all(&scratch).expect("scratch");
    let links = server.links();
    for link in &links {
        scale::rm_cp(o.runs.min(3), link, &home("copier"), &scratch);
    }
    drop(server::client(&links[0].addr, "finder"));
    scale::find(&links[0], &server, &home("finder"), true);
    for link in &links {
        scale::find(link, &server, &home("finder"), false);
    }
    for link in &links {
        scale::quota(o.runs, link, home);
    }
    drop(server);
    scale::accounts(o.runs, &dir);
    let _ = fs::remove_dir_all(&dir);
}

fn section_load(o: &Opts, dir: &Path) {
    let dir = fresh(&dir.join("load"));
    let server = server::start(&dir.join("data"));
    sessions::small_files(o, &server.addr, &dir.join("data"));
    sessions::sessions(o, &server);
    drop(server);
    let users = fresh(&dir.join("users-only"));
    sessions::login_cost(&users);
    let _ = fs::remove_dir_all(&dir);
}

/// WebDAV beside `rclone serve webdav` (examples/bench/dav.rs).
fn section_dav(o: &Opts, dir: &Path) {
    let dir = fresh(&dir.join("dav"));
    dav::run(o.runs, &dir);
    let _ = fs::remove_dir_all(&dir);
}

/// The client library's upload of content the server does not hold, on
/// each link, beside min(md5sum, durable write) of the same runs.
fn section_newcontent(o: &Opts, dir: &Path) {
    let dir = fresh(&dir.join("newcontent"));
    let server = server::start(&dir.join("data"));
    let scratch = dir.join("data").join("bench-durable");
    fs::create_dir_all(&scratch).expect("scratch dir");
    for link in server.links() {
        newcontent::run(o.runs, &link, &dir, &scratch, o.size_mib << 20);
    }
    drop(server);
    let _ = fs::remove_dir_all(&dir);
}

/// One part of the run, by name.
type Section = fn(&Opts, &Path);

fn main() {
    let o = opts();
    let dir = fresh(&std::env::temp_dir().join(format!("netdisk-bench-{}", std::process::id())));
    let started = Instant::now();
    println!("netdisk bench: {}, runs {}, medians [min-max]; ratio > 1 is better than the limit", machine(), o.runs);
    let sections: [(&str, Section); 9] = [
        ("transfers", section_transfers),
        ("small", section_small),
        ("claim", section_claim),
        ("mirror", section_mirror),
        ("scale", section_scale),
        ("load", section_load),
        ("newcontent", section_newcontent),
        ("http", http::section),
        ("dav", section_dav),
    ];
    for (name, run) in sections {
        if wanted(&o, name) {
            let t = Instant::now();
            println!("== {name}");
            run(&o, &dir);
            println!("   ({name}: {:.1} s)", t.elapsed().as_secs_f64());
        }
    }
    let _ = fs::remove_dir_all(&dir);
    println!("total bench time {:.1} s", started.elapsed().as_secs_f64());
}
