//! One large file up and down, on each link, against honest limits: the
//! upload against min(md5sum, durable write of the same size into the data
//! directory), the download against md5sum. Every run writes a NEW file on
//! the receiving side, as users do; the files stay until the section ends.
//! At 50 ms, each is also held against the raw link: bytes pushed over
//! one connection through the same kind of delay proxy, measured here.

use std::fs;
use std::path::Path;
use std::time::Instant;

use crate::limits;
use crate::server::{Link, ONE_WAY, client};
use crate::stats::{Limit, Stats, line, mb_per_s, measure};

/// The limits of one large transfer, measured in this run.
pub struct Bounds {
    pub md5sum: Stats,
    pub durable: Stats,
    pub raw_link: Stats,
}

impl Bounds {
    /// The upload's limit: the lower of MD5 and the durable write, and at
    /// 50 ms of the raw link too.
    pub fn upload(&self, link: &Link) -> Limit<'static> {
        let (m, d) = (self.md5sum.median(), self.durable.median());
        let local = if m <= d { Limit { name: "md5sum", value: m } } else { Limit { name: "durable write", value: d } };
        self.with_link(local, link)
    }

    /// The download's limit: md5sum, and at 50 ms the raw link too.
    pub fn download(&self, link: &Link) -> Limit<'static> {
        self.with_link(Limit { name: "md5sum", value: self.md5sum.median() }, link)
    }

    fn with_link(&self, local: Limit<'static>, link: &Link) -> Limit<'static> {
        let raw = self.raw_link.median();
        if link.name == "loopback" || local.value <= raw { local } else { Limit { name: "raw link", value: raw } }
    }
}

pub fn limits(runs: usize, path: &Path, size: u64, data: &Path) -> Bounds {
    let md5sum = measure(runs, |_| limits::md5sum(path, size).0);
    let md5crate = measure(runs, |_| limits::crate_md5(path, size));
    let loopback = measure(runs, |_| limits::loopback(size));
    let raw_link = measure(runs, |_| limits::raw_link(size, ONE_WAY));
    let scratch = data.join("bench-durable");
    fs::create_dir_all(&scratch).expect("scratch dir");
    let durable = measure(runs, |i| limits::durable_write(&scratch, size, i));
    let _ = fs::remove_dir_all(&scratch);
    println!("{:<40} {}", "limit: md5sum", md5sum.show("MB/s"));
    println!("{:<40} {}", "limit: md-5 crate, one thread", md5crate.show("MB/s"));
    println!("{:<40} {}", "limit: durable write (fdatasync), data dir", durable.show("MB/s"));
    println!("{:<40} {}", "limit: raw loopback TCP copy", loopback.show("MB/s"));
    println!("{:<40} {}", "limit: raw link, 50 ms RTT, 1 connection", raw_link.show("MB/s"));
    Bounds { md5sum, durable, raw_link }
}

/// Which directions to measure (a download alone still uploads its files,
/// untimed).
#[derive(Clone, Copy)]
pub struct Ways {
    pub up: bool,
    pub down: bool,
}

/// Upload and download of `path` on `link`, `runs` times each.
pub fn run(runs: usize, link: &Link, path: &Path, bounds: &Bounds, ways: Ways) {
    let size = fs::metadata(path).expect("test file").len();
    let mut c = client(&link.addr, "bench");
    let tag = link.name.split(' ').next().unwrap_or("x").to_string();
    let up = measure(runs, |i| {
        let started = Instant::now();
        c.upload(path, &format!("/up-{tag}-{i}"), &mut |_| true).expect("upload");
        mb_per_s(size, started.elapsed())
    });
    let limit = bounds.upload(link);
    if ways.up {
        line(&format!("verified upload, new file ({})", link.name), &up, "MB/s", limit, "(target >= 0.85)");
    }
    if !ways.down {
        return;
    }
    let out = path.with_extension("down");
    fs::create_dir_all(&out).expect("download dir");
    let down = measure(runs, |i| {
        let started = Instant::now();
        c.download(&format!("/up-{tag}-{i}"), &out.join(format!("{tag}-{i}")), &mut |_| true).expect("download");
        mb_per_s(size, started.elapsed())
    });
    line(
        &format!("verified download, new file ({})", link.name),
        &down,
        "MB/s",
        bounds.download(link),
        "(target >= 0.9)",
    );
    let _ = fs::remove_dir_all(&out);
}
