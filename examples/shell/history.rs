//! The history file, `~/.netdisk_history`: one line per command, most
//! recent last, readable by its owner only. Lines arrive here already
//! redacted (a password or a share code on the line is `***`); this module
//! never sees one.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

/// Lines kept across runs.
const KEEP: usize = 1000;

pub struct History {
    path: Option<PathBuf>,
}

impl History {
    /// The history file in the home directory (none without `HOME`).
    pub fn open() -> History {
        let home = std::env::var_os("HOME").filter(|h| !h.is_empty());
        History { path: home.map(|h| PathBuf::from(h).join(".netdisk_history")) }
    }

    /// The last lines kept; trims the file when it has grown long.
    pub fn load(&self) -> Vec<String> {
        let Some(path) = &self.path else { return Vec::new() };
        let text = fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        if lines.len() > 2 * KEEP {
            let kept = lines[lines.len() - KEEP..].join("\n") + "\n";
            let _ = fs::write(path, kept);
        }
        let skip = lines.len().saturating_sub(KEEP);
        lines.into_iter().skip(skip).collect()
    }

    pub fn append(&self, line: &str) {
        let Some(path) = &self.path else { return };
        if line.trim().is_empty() || line.contains('\n') {
            return;
        }
        let file = OpenOptions::new().create(true).append(true).mode(0o600).open(path);
        if let Ok(mut f) = file {
            let _ = writeln!(f, "{line}");
        }
    }
}
