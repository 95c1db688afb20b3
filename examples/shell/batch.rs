//! The shell's batch commands: folders through `upload` and `download`,
//! `mput`/`mget` globs, `mirror`, `rm [-r]`, `mkdir [-p]` and `mv FROM...
//! TO`, each one call of `netdisk::client` shown by its [`Printer`].
//!
//! Ctrl-C stops a batch: the shell's interrupt flag is read on every event
//! of the batch (each file, and each chunk of a large file), and a `false`
//! from the event callback stops it; the shell then says where it stopped.
//! A batch with any failure, or stopped, is a failed command.

use netdisk::client::{Client, ClientError, Event, OnEvent, Options, Printer, Report};

use crate::Shell;
use crate::commands::wrong_use;
use crate::term;
use crate::words::Word;

/// What the batch was doing when it was last heard from.
#[derive(Default)]
struct Tracker {
    last_done: Option<String>,
    /// A large file under way: its path, bytes in place, size.
    current: Option<(String, u64, u64)>,
}

impl Tracker {
    fn see(&mut self, event: &Event) {
        match *event {
            Event::Done { path, .. } | Event::Failed { path, .. } => {
                // A large file failing because it was stopped stays current.
                if self.current.as_ref().is_none_or(|(p, ..)| p != path || matches!(event, Event::Done { .. })) {
                    self.current = None;
                }
                self.last_done = Some(path.to_string());
            }
            Event::Progress { path, done, total } => self.current = Some((path.to_string(), done, total)),
            Event::Planned { .. } | Event::Skipped { .. } => {}
        }
    }

    /// Where a stopped batch stopped.
    fn stopped_at(&self) -> String {
        match (&self.current, &self.last_done) {
            (Some((path, done, total)), _) => format!("in {path} at {done} of {total} bytes"),
            (None, Some(path)) => format!("after {path}"),
            (None, None) => "before the first file".into(),
        }
    }
}

impl Shell {
    /// Runs `name` if it is a batch command (or a folder for `upload` and
    /// `download`); `None` leaves it to the other commands.
    pub(crate) fn many(&mut self, name: &str, words: &[Word]) -> Option<Result<(), String>> {
        let args: Vec<String> = words[1..].iter().map(|w| w.text.clone()).collect();
        let (flag, rest) = match args.split_first() {
            Some((f, rest)) if f.starts_with('-') => (f.as_str(), rest),
            _ => ("", &args[..]),
        };
        let local = |i: usize| words[i + 1].local();
        Some(match (name, flag, rest) {
            ("upload", "", [_] | [_, _]) if local(0).is_dir() => {
                let remote = args.get(1).map(String::as_str);
                self.transfer(|c, on| c.upload_any(&local(0), remote, on))
            }
            ("download", "", [remote] | [remote, _]) if self.client.is_remote_dir(remote).unwrap_or(false) => {
                let target = (args.len() > 1).then(|| local(1));
                self.transfer(|c, on| c.download_any(remote, target.as_deref(), on))
            }
            ("mput", "", [_, ..]) => {
                let paths: Vec<String> = (0..args.len()).map(|i| local(i).to_string_lossy().into_owned()).collect();
                self.transfer(|c, on| c.mput(&paths, on))
            }
            ("mget", "", [_, ..]) => self.transfer(|c, on| c.mget(&args, on)),
            ("mirror", _, _) => self.mirror(words),
            ("rm", "" | "-r", [_, ..]) => self.batch(rest.len() == 1, |c, on| c.rm(rest, flag == "-r", on)),
            ("mkdir", "" | "-p", [_, ..]) => self.batch(rest.len() == 1, |c, on| c.mkdir(rest, flag == "-p", on)),
            ("mv", "", [from @ .., to]) if !from.is_empty() => self.batch(from.len() == 1, |c, on| c.mv(from, to, on)),
            ("rm" | "mkdir" | "mv" | "mput" | "mget", _, _) => Err(wrong_use(name)),
            _ => return None,
        })
    }

    /// Runs a batch with the progress printer, Ctrl-C wired to stop it.
    /// With `one` target, failures are not printed as they come: the
    /// command's error names them, once.
    fn batch(
        &mut self,
        one: bool,
        run: impl FnOnce(&mut Client, OnEvent) -> Result<Report, ClientError>,
    ) -> Result<(), String> {
        let mut printer = Printer::new(self.bar);
        let mut tracker = Tracker::default();
        let report = run(&mut self.client, &mut |e| {
            tracker.see(e);
            (one && matches!(e, Event::Failed { .. }) || printer.show(e)) && !term::interrupted()
        });
        printer.finish();
        let report = report.map_err(|e| e.to_string())?;
        if one {
            report.failures.iter().skip(1).for_each(|(path, why)| eprintln!("failed: {path}: {why}"));
        }
        outcome(&report, &tracker)
    }

    /// `mirror [-R] [--delete] [--dry-run] SOURCE TARGET`, ending with its
    /// summary line. Without -R the source is remote and the target local.
    fn mirror(&mut self, words: &[Word]) -> Result<(), String> {
        let (flags, paths): (Vec<&Word>, Vec<&Word>) = words[1..].iter().partition(|w| w.text.starts_with('-'));
        let mut opts = Options::default();
        let mut reverse = false;
        for flag in flags {
            match flag.text.as_str() {
                "-R" | "--reverse" => reverse = true,
                "--delete" => opts.delete = true,
                "--dry-run" => opts.dry_run = true,
                other => return Err(format!("mirror: unknown option {other}; {}", wrong_use("mirror"))),
            }
        }
        let [source, target] = paths[..] else { return Err(wrong_use("mirror")) };
        let local = |w: &Word| w.local().to_string_lossy().into_owned();
        let (source, target) =
            if reverse { (local(source), target.text.clone()) } else { (source.text.clone(), local(target)) };
        self.transfer(|c, on| c.mirror(&source, &target, reverse, opts, on))
    }

    /// A batch that moves files, ending with its summary line
    /// (`N transferred, M up to date, K deleted, B bytes in T s`), also
    /// when nothing needed to move.
    fn transfer(
        &mut self,
        run: impl FnOnce(&mut Client, OnEvent) -> Result<Report, ClientError>,
    ) -> Result<(), String> {
        let mut summary = String::new();
        let result = self.batch(false, |c, on| {
            let r = run(c, on)?;
            summary = r.summary();
            Ok(r)
        });
        if !summary.is_empty() {
            println!("{summary}");
        }
        result
    }
}

/// A batch that failed anywhere, or was stopped, is a failed command.
fn outcome(report: &Report, tracker: &Tracker) -> Result<(), String> {
    let done = report.transferred + report.deleted;
    if report.stopped {
        return Err(format!(
            "interrupted {}: {done} done, {} failed; repeat the command to carry on",
            tracker.stopped_at(),
            report.failures.len()
        ));
    }
    match report.failures.as_slice() {
        [] => Ok(()),
        [(path, why)] => Err(format!("{path}: {why}")),
        [(path, why), more @ ..] => Err(format!("{path}: {why} (and {} more failures)", more.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_batch_says_where() {
        let mut t = Tracker::default();
        assert_eq!(t.stopped_at(), "before the first file");
        t.see(&Event::Done { action: "uploaded", path: "a/1.txt", bytes: 3 });
        assert_eq!(t.stopped_at(), "after a/1.txt");
        t.see(&Event::Progress { path: "a/big.bin", done: 1 << 20, total: 8 << 20 });
        assert_eq!(t.stopped_at(), "in a/big.bin at 1048576 of 8388608 bytes");
        t.see(&Event::Failed { path: "a/big.bin", why: "interrupted" });
        assert_eq!(t.stopped_at(), "in a/big.bin at 1048576 of 8388608 bytes");
        let mut r = Report::new();
        r.stopped = true;
        assert!(outcome(&r, &t).unwrap_err().starts_with("interrupted in a/big.bin"));
        r.stopped = false;
        r.failures = vec![("x".into(), "no".into()), ("y".into(), "no".into())];
        assert_eq!(outcome(&r, &t).unwrap_err(), "x: no (and 1 more failures)");
    }
}
