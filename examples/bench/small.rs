//! Many small files: 1,000 files of 4 KiB sent as a folder with the client
//! library's `upload_any` and fetched back with `download_any`, on each
//! link, against max(a few round trips, files / commit rate of one
//! process), the commit rate measured here in the same run.

use std::fs;
use std::path::Path;
use std::time::Instant;

use netdisk::client::Client;

use crate::limits::commit_rate;
use crate::server::{Link, client};
use crate::stats::{Limit, Stats, line, measure, ms};

pub const FILES: usize = 1000;
const SIZE: usize = 4096;
/// Round trips any folder transfer needs at least: the look at the target
/// (`stat`/`find`), making the folder, and one pipelined round of files.
const ROUND_TRIPS: f64 = 3.0;

/// Local rates, files per second: durable commits (fsync, rename, dir
/// fsync) in the data directory, and plain writes (what a download does).
pub struct Rates {
    pub durable: f64,
    pub plain: f64,
}

pub fn rates(data: &Path) -> Rates {
    fs::create_dir_all(data).expect("data dir");
    let durable = commit_rate(data, SIZE, true, 1.5);
    let plain = commit_rate(data, SIZE, false, 0.5);
    println!(
        "{:<40} {durable:9.0} files/s (write+fsync+rename+dir fsync, 4 KiB, one process)",
        "limit: durable commits, data dir"
    );
    println!("{:<40} {plain:9.0} files/s (write+rename, no fsync)", "limit: plain small writes");
    Rates { durable, plain }
}

/// A folder of `FILES` files of 4 KiB, in 10 subfolders.
pub fn make_folder(top: &Path) {
    for i in 0..FILES {
        let sub = top.join(format!("s{}", i % 10));
        fs::create_dir_all(&sub).expect("folder");
        let mut data = format!("{i} small file ").into_bytes();
        data.resize(SIZE, b'.');
        fs::write(sub.join(format!("f{i:04}")), data).expect("small file");
    }
}

/// Median round trip of a request that does nothing, in milliseconds.
pub fn round_trip_ms(c: &mut Client) -> f64 {
    let s = measure(7, |_| {
        let t = Instant::now();
        c.cd("/").expect("cd");
        ms(t.elapsed())
    });
    s.median()
}

pub fn run(runs: usize, link: &Link, folder: &Path, rates: &Rates) {
    let mut c = client(&link.addr, "small");
    let rtt = round_trip_ms(&mut c);
    let tag = link.name.split(' ').next().unwrap_or("x").to_string();
    let back = folder.with_extension("back");
    fs::create_dir_all(&back).expect("download dir");
    let mut down = Vec::new();
    let up = measure(runs, |i| {
        let remote = format!("/small-{tag}-{i}");
        let t = Instant::now();
        let report = c.upload_any(folder, Some(&remote), &mut |_| true).expect("upload_any");
        let took = ms(t.elapsed());
        assert!(report.ok() && report.transferred == FILES, "{}", report.summary());
        let t = Instant::now();
        let report =
            c.download_any(&remote, Some(&back.join(format!("{tag}-{i}"))), &mut |_| true).expect("download_any");
        down.push(ms(t.elapsed()));
        assert!(report.ok() && report.transferred == FILES, "{}", report.summary());
        took
    });
    let files = FILES as f64;
    let up_limit = (ROUND_TRIPS * rtt).max(1000.0 * files / rates.durable);
    let down_limit = (ROUND_TRIPS * rtt).max(1000.0 * files / rates.plain);
    let bound = |l: f64| if l == ROUND_TRIPS * rtt { "3 round trips" } else { "files/commit rate" };
    let what = format!("1,000 x 4 KiB upload_any ({}, rtt {rtt:.1} ms)", link.name);
    line(&what, &up, "ms", Limit { name: bound(up_limit), value: up_limit }, "(target ratio >= 0.33)");
    let what = format!("1,000 x 4 KiB download_any ({})", link.name);
    line(&what, &Stats(down), "ms", Limit { name: bound(down_limit), value: down_limit }, "(target ratio >= 0.33)");
    let _ = fs::remove_dir_all(&back);
}
