//! One large file up and down, on each link, against honest limits: the
//! upload against min(md5sum, durable write of the same size into the data
//! directory), the download against md5sum. Every run writes a NEW file on
//! the receiving side, as users do; the files stay until the section ends.
//! At 50 ms, each is also held against the raw link (bytes pushed over
//! one connection through the same kind of delay proxy, no hashing, no
//! disk) and against its local limits taken while the raw link runs.

use std::fs;
use std::path::Path;
use std::time::Instant;

use crate::server::{Link, ONE_WAY, client};
use crate::stats::{Limit, Stats, line, mb_per_s, measure};
use crate::{cpu, limits};

/// The limits of one large transfer, measured in this run. At 50 ms the
/// proxy's copying shares the two CPUs with MD5 and the writes, so MD5 and
/// the durable write are also timed while the raw link runs beside them.
pub struct Bounds {
    pub md5sum: Stats,
    pub md5sum_cold: Stats,
    pub md5sum_cold_link: Stats,
    pub durable: Stats,
    pub raw_link: Stats,
    pub md5sum_link: Stats,
    pub durable_link: Stats,
    /// The file, not cached, over loopback and over the raw link into
    /// md5sum (see [`limits::into_md5sum`]).
    pub into_md5sum: Stats,
    pub into_md5sum_link: Stats,
}

/// The lowest of `limits`.
fn lowest(limits: &[(&'static str, &Stats)]) -> Limit<'static> {
    let mut out = Limit { name: "none", value: f64::MAX };
    for (name, s) in limits {
        if s.median() < out.value {
            out = Limit { name, value: s.median() };
        }
    }
    out
}

impl Bounds {
    /// The upload's limit: the lower of MD5 and the durable write; at
    /// 50 ms, of those, the raw link, and each beside the raw link.
    pub fn upload(&self, link: &Link) -> Limit<'static> {
        let mut all = vec![("md5sum", &self.md5sum), ("durable write", &self.durable)];
        if link.name != "loopback" {
            all.extend([("raw link", &self.raw_link), ("md5sum+raw link", &self.md5sum_link)]);
            all.push(("durable+raw link", &self.durable_link));
        }
        lowest(&all)
    }

    /// The download's limit: md5sum; at 50 ms, also the raw link and
    /// md5sum beside the raw link.
    pub fn download(&self, link: &Link) -> Limit<'static> {
        let mut all = vec![("md5sum", &self.md5sum)];
        if link.name != "loopback" {
            all.extend([("raw link", &self.raw_link), ("md5sum+raw link", &self.md5sum_link)]);
        }
        lowest(&all)
    }

    /// The fair limit of the download on this machine: the same file, read
    /// from the disk as the server reads it, over the same link into
    /// md5sum (the link's copies and MD5 share the CPUs, as in the
    /// download, which also writes the file).
    pub fn download_link(&self, link: &Link) -> Limit<'static> {
        match link.one_way {
            None => Limit { name: "file n.c. into md5sum", value: self.into_md5sum.median() },
            Some(_) => Limit { name: "file n.c. over link into md5sum", value: self.into_md5sum_link.median() },
        }
    }

    /// The same for a file read from the disk: the server drops what it
    /// wrote of a large upload from its page cache, so a download of it
    /// reads the disk, and md5sum is timed reading the disk too.
    pub fn download_cold(&self, link: &Link) -> Limit<'static> {
        let mut all = vec![("md5sum, not cached", &self.md5sum_cold)];
        if link.name != "loopback" {
            all.extend([("raw link", &self.raw_link), ("md5sum n.c.+raw link", &self.md5sum_cold_link)]);
        }
        lowest(&all)
    }
}

pub fn limits(runs: usize, path: &Path, size: u64, data: &Path) -> Bounds {
    let md5sum = measure(runs, |_| limits::md5sum(path, size).0);
    let md5sum_cold = measure(runs, |_| limits::md5sum_cold(path, size));
    let md5sum_cold_link = measure(runs, |_| {
        limits::uncache(path);
        limits::beside_link(size, ONE_WAY, || drop(limits::md5sum(path, size)))
    });
    let md5crate = measure(runs, |_| limits::crate_md5(path, size));
    let loopback = measure(runs, |_| limits::loopback(size));
    let raw_link = measure(runs, |_| limits::raw_link(size, ONE_WAY));
    let md5sum_link = measure(runs, |_| limits::beside_link(size, ONE_WAY, || drop(limits::md5sum(path, size))));
    let scratch = data.join("bench-durable");
    fs::create_dir_all(&scratch).expect("scratch dir");
    let durable = measure(runs, |i| limits::durable_write(&scratch, size, i));
    let write = |i| {
        limits::beside_link(size, ONE_WAY, || {
            let _ = limits::durable_write(&scratch, size, runs + i);
        })
    };
    let durable_link = measure(runs, write);
    let _ = fs::remove_dir_all(&scratch);
    let into = |one_way| {
        measure(runs, |_| {
            limits::uncache(path);
            limits::into_md5sum(path, size, one_way)
        })
    };
    let (into_md5sum, into_md5sum_link) = (into(None), into(Some(ONE_WAY)));
    println!("{:<40} {}", "limit: md5sum", md5sum.show("MB/s"));
    println!("{:<40} {}", "limit: md5sum, file not cached", md5sum_cold.show("MB/s"));
    println!("{:<40} {}", "limit: md-5 crate, one thread", md5crate.show("MB/s"));
    println!("{:<40} {}", "limit: durable write (fdatasync), data dir", durable.show("MB/s"));
    println!("{:<40} {}", "limit: raw loopback TCP copy", loopback.show("MB/s"));
    println!("{:<40} {}", "limit: raw link, 50 ms RTT, 1 connection", raw_link.show("MB/s"));
    println!("{:<40} {}", "limit: md5sum beside the raw link", md5sum_link.show("MB/s"));
    println!("{:<40} {}", "limit: md5sum, not cached, beside raw link", md5sum_cold_link.show("MB/s"));
    println!("{:<40} {}", "limit: durable write beside the raw link", durable_link.show("MB/s"));
    println!("{:<40} {}", "limit: file n.c. into md5sum, loopback", into_md5sum.show("MB/s"));
    println!("{:<40} {}", "limit: file n.c. into md5sum, raw link", into_md5sum_link.show("MB/s"));
    Bounds {
        md5sum,
        md5sum_cold,
        md5sum_cold_link,
        durable,
        raw_link,
        md5sum_link,
        durable_link,
        into_md5sum,
        into_md5sum_link,
    }
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
    let mut spent = Vec::new();
    let down = measure(runs, |i| {
        let (started, cpu) = (Instant::now(), cpu::sample(link.server));
        c.download(&format!("/up-{tag}-{i}"), &out.join(format!("{tag}-{i}")), &mut |_| true).expect("download");
        spent.push(cpu.spent(link.server));
        mb_per_s(size, started.elapsed())
    });
    let name = format!("verified download, new file ({})", link.name);
    line(&name, &down, "MB/s", bounds.download(link), "(target >= 0.9)");
    line("  the same, beside md5sum of a file not cached", &down, "MB/s", bounds.download_cold(link), "");
    line("  the same, beside the same bytes into md5sum", &down, "MB/s", bounds.download_link(link), "(fair limit)");
    println!("  CPU of a download: {}", cpu::show(&spent));
    let _ = fs::remove_dir_all(&out);
}
