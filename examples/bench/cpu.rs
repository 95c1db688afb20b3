//! Where a transfer's CPU goes: this process (the client library and the
//! delay proxy's threads), the proxy's threads alone, and the server, from
//! `/proc` (user + system time, in the kernel's 1/100 s ticks), against
//! the wall time and the machine's CPUs. A transfer that keeps the CPUs
//! busy is bound by the work on them, not by the link or a wait.

use std::fs;
use std::time::Instant;

/// Kernel clock ticks per second in `/proc/*/stat` (USER_HZ on Linux).
const TICKS: f64 = 100.0;

/// CPU seconds spent so far, and when they were read.
pub struct Sample {
    own: f64,
    proxy: f64,
    server: f64,
    at: Instant,
}

/// CPU seconds spent between two samples, and the wall time.
pub struct Spent {
    pub own: f64,
    pub proxy: f64,
    pub server: f64,
    pub wall: f64,
}

/// Now, for this process and the server `server`.
pub fn sample(server: u32) -> Sample {
    let proxy = threads("self", "proxy");
    Sample {
        own: seconds("/proc/self/stat"),
        proxy,
        server: seconds(&format!("/proc/{server}/stat")),
        at: Instant::now(),
    }
}

impl Sample {
    /// What was spent since `self`.
    pub fn spent(&self, server: u32) -> Spent {
        let now = sample(server);
        Spent {
            own: now.own - self.own,
            // A proxy thread that ended in between takes its time along.
            proxy: (now.proxy - self.proxy).max(0.0),
            server: now.server - self.server,
            wall: now.at.duration_since(self.at).as_secs_f64(),
        }
    }
}

impl Spent {
    /// The share of the machine's CPUs the transfer kept busy.
    pub fn busy(&self) -> f64 {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        (self.own + self.server) / (self.wall * cpus)
    }
}

/// The median of each part over `runs`, as one line.
pub fn show(runs: &[Spent]) -> String {
    let median = |f: &dyn Fn(&Spent) -> f64| {
        let mut v: Vec<f64> = runs.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    format!(
        "client+proxy {:.2} s (proxy {:.2}), server {:.2} s, in {:.2} s: {:.0}% of the CPUs",
        median(&|s| s.own),
        median(&|s| s.proxy),
        median(&|s| s.server),
        median(&|s| s.wall),
        100.0 * median(&|s| s.busy())
    )
}

/// User + system seconds of the process (all its threads, ended ones
/// included) whose `stat` file is `path`; 0 when unreadable.
fn seconds(path: &str) -> f64 {
    let stat = fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name (which may hold spaces), from field 3.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / TICKS
}

/// The same for the live threads of `pid` whose name starts with `prefix`.
fn threads(pid: &str, prefix: &str) -> f64 {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else { return 0.0 };
    let named = |p: &std::path::Path| fs::read_to_string(p.join("comm")).is_ok_and(|c| c.starts_with(prefix));
    tasks.flatten().map(|t| t.path()).filter(|p| named(p)).map(|p| seconds(&p.join("stat").to_string_lossy())).sum()
}
