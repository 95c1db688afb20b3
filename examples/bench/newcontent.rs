//! The client library's upload of new content (issue 26): a file the
//! server does not hold, sent to a server that deduplicates (its default,
//! `--dedup global`), held against min(md5sum, durable write) taken in the
//! same runs. Each run makes a new file, then times md5sum of it, a
//! durable write of its size into the data directory, and its upload, one
//! after the other, so a busy machine weighs on limits and figure alike.
//! The same file is then uploaded again to another path, now held: with
//! no digest cached (the client sends at once and switches to `claim` when
//! its hash is done), and with the digest cached (`claim` first).
//!
//! Client and server share this machine's CPUs, so the two MD5 passes an
//! upload of new content needs (the client's, for the digest it sends;
//! the server's, over what it receives) run on the same CPUs, with the
//! proxy's copies at 50 ms. The upload is also held against that work
//! done by plain tools at once (`limits::two_md5`), and the CPU it used
//! is printed.

use std::fs;
use std::path::Path;
use std::time::Instant;

use netdisk::client::{Client, DigestCache};

use crate::server::{Link, client};
use crate::stats::{Limit, Stats, line, mb_per_s, ms, plain};
use crate::{cpu, limits};

/// Figures of one link, run by run.
#[derive(Default)]
struct Runs {
    md5sum: Vec<f64>,
    durable: Vec<f64>,
    two_md5: Vec<f64>,
    spent: Vec<cpu::Spent>,
    new: Vec<f64>,
    held: Vec<f64>,
    held_sent: Vec<f64>,
    switched: usize,
    cached: Vec<f64>,
}

/// `runs` uploads of new content of `size` bytes on `link`, each beside
/// its limits; files are made in `dir`, durable writes go to `scratch`.
pub fn run(runs: usize, link: &Link, dir: &Path, scratch: &Path, size: u64) {
    let tag = link.name.split(' ').next().unwrap_or("x");
    let mut c = client(&link.addr, "newcontent");
    let mut r = Runs::default();
    for i in 0..runs {
        let path = dir.join(format!("new-{tag}-{i}.bin"));
        limits::make_file(&path, size, 7000 + i as u64 + if tag == "loopback" { 0 } else { 500 });
        // Its dirty pages written now, not during the figures.
        fs::File::open(&path).and_then(|f| f.sync_all()).expect("sync the new file");
        r.md5sum.push(limits::md5sum(&path, size).0);
        r.durable.push(limits::durable_write(scratch, size, i + if tag == "loopback" { 0 } else { runs }));
        r.two_md5.push(limits::two_md5(&path, size, link.one_way));
        let (t, spent) = (Instant::now(), cpu::sample(link.server));
        let sent = c.upload(&path, &format!("/new-{tag}-{i}"), &mut |_| true).expect("upload");
        r.new.push(mb_per_s(size, t.elapsed()));
        r.spent.push(spent.spent(link.server));
        assert!(!sent.instant, "new content cannot be held");
        held(&mut c, &mut r, &path, &format!("/again-{tag}-{i}"));
        cached(&mut c, &mut r, &path, (&dir.join(format!("digests-{tag}")), &format!("/cached-{tag}-{i}")));
        let _ = fs::remove_file(&path);
    }
    show(link, size, &r);
}

/// The held file uploaded with no digest cached: sends, then claims.
fn held(c: &mut Client, r: &mut Runs, path: &Path, remote: &str) {
    let t = Instant::now();
    let again = c.upload(path, remote, &mut |_| true).expect("upload of held content");
    r.held.push(ms(t.elapsed()));
    r.held_sent.push(again.moved as f64 / 1048576.0);
    r.switched += usize::from(again.instant);
}

/// The held file uploaded with its digest cached: claims first.
fn cached(c: &mut Client, r: &mut Runs, path: &Path, (store, remote): (&Path, &str)) {
    let meta = fs::metadata(path).expect("file");
    let mut cache = DigestCache::open(store);
    cache.digest(path, &meta, |p| Ok(netdisk::Digest::of(&fs::read(p)?))).expect("digest");
    c.set_cache(Some(cache));
    let t = Instant::now();
    let done = c.upload(path, remote, &mut |_| true).expect("upload with the digest cached");
    r.cached.push(ms(t.elapsed()));
    assert!(done.instant && done.moved == 0, "a cached digest is claimed first");
    c.set_cache(None);
}

fn show(link: &Link, size: u64, r: &Runs) {
    let (md5sum, durable) = (Stats(r.md5sum.clone()), Stats(r.durable.clone()));
    let limit = if md5sum.median() <= durable.median() {
        Limit { name: "md5sum", value: md5sum.median() }
    } else {
        Limit { name: "durable write", value: durable.median() }
    };
    plain(&format!("  limit: md5sum, same runs ({})", link.name), &md5sum, "MB/s", "");
    plain(&format!("  limit: durable write, same runs ({})", link.name), &durable, "MB/s", "");
    let two = Stats(r.two_md5.clone());
    plain(&format!("  limit: 2 x MD5 + link, same runs ({})", link.name), &two, "MB/s", "");
    let fair = match two.median() < durable.median() {
        true => Limit { name: "two MD5 passes+link", value: two.median() },
        false => Limit { name: "durable write", value: durable.median() },
    };
    let what = format!("client upload, new content, {} MiB ({})", size >> 20, link.name);
    line(&what, &Stats(r.new.clone()), "MB/s", limit, "(target >= 0.85)");
    line(
        "  the same, beside two MD5 passes at once",
        &Stats(r.new.clone()),
        "MB/s",
        fair,
        "(fair limit on one machine)",
    );
    println!("  CPU of an upload: {}", cpu::show(&r.spent));
    let sent = Stats(r.held_sent.clone());
    let note = format!(
        "(no digest cached: {}/{} switched to claim, {:.0} MiB sent first)",
        r.switched,
        r.held.len(),
        sent.median()
    );
    plain(&format!("  the same, held ({})", link.name), &Stats(r.held.clone()), "ms", &note);
    plain(&format!("  the same, held, digest cached ({})", link.name), &Stats(r.cached.clone()), "ms", "(claim first)");
}
