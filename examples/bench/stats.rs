//! Figures: median and spread of a few runs, and one printed line per
//! figure with the limit (or peer) it is compared with and what bound it.

use std::time::Duration;

/// Measurements of one figure (the same unit), in the order taken.
pub struct Stats(pub Vec<f64>);

impl Stats {
    pub fn median(&self) -> f64 {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    }

    pub fn min(&self) -> f64 {
        self.0.iter().copied().fold(f64::MAX, f64::min)
    }

    pub fn max(&self) -> f64 {
        self.0.iter().copied().fold(f64::MIN, f64::max)
    }

    /// `median unit [min-max]`, with as many decimals as the size needs.
    pub fn show(&self, unit: &str) -> String {
        let m = self.median();
        let d = if m.abs() >= 100.0 {
            0
        } else if m.abs() >= 1.0 {
            1
        } else {
            3
        };
        format!("{m:9.d$} {unit:<7} [{:.d$}-{:.d$}]", self.min(), self.max())
    }
}

/// `runs` measurements of `f`, given the run's number.
pub fn measure(runs: usize, mut f: impl FnMut(usize) -> f64) -> Stats {
    Stats((0..runs).map(&mut f).collect())
}

pub fn mb_per_s(bytes: u64, took: Duration) -> f64 {
    bytes as f64 / 1e6 / took.as_secs_f64()
}

pub fn ms(took: Duration) -> f64 {
    took.as_secs_f64() * 1000.0
}

/// The limit a figure is held against: its name and value (same unit).
pub struct Limit<'a> {
    pub name: &'a str,
    pub value: f64,
}

/// One figure beside its limit: `ratio` is figure / limit for rates and
/// limit / figure for times, so above 1 is always better than the limit.
pub fn line(what: &str, got: &Stats, unit: &str, limit: Limit, target: &str) {
    let ratio = if is_time(unit) { limit.value / got.median() } else { got.median() / limit.value };
    println!(
        "{what:<46} {}   vs {} {:.1} {unit}   ratio {ratio:5.2}   {target}",
        got.show(unit),
        limit.name,
        limit.value
    );
}

/// A figure with no limit beside it (a note says why).
pub fn plain(what: &str, got: &Stats, unit: &str, note: &str) {
    println!("{what:<46} {}   {note}", got.show(unit));
}

/// A figure that could not be taken, and why.
pub fn missing(what: &str, why: &str) {
    println!("{what:<46} {why}");
}

fn is_time(unit: &str) -> bool {
    matches!(unit, "s" | "ms")
}
