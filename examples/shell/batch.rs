//! The shell's batch commands: folders through `upload` and `download`,
//! `mput`/`mget` globs, `mirror`, `rm [-r]`, `mkdir [-p]` and `mv FROM...
//! TO`, each one call of `netdisk::client` shown by `progress::Batch`.
//!
//! Ctrl-C stops a batch: the shell's interrupt flag is read on every event
//! of the batch (each file, and each chunk of a large file), and a `false`
//! from the event callback stops it; the shell then says where it stopped.
//! A batch with any failure, or stopped, is a failed command.

use std::path::Path;

use netdisk::client::{Client, ClientError, Event, OnEvent, Options, Report};

use crate::Shell;
use crate::commands::wrong_use;
use crate::progress::Batch;
use crate::show;
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
    fn stopped_at(&self, human: bool) -> String {
        match (&self.current, &self.last_done) {
            (Some((path, done, total)), _) => {
                format!("in {path} at {} of {}", show::size(*done, human), show::size(*total, human))
            }
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
                let missing =
                    |r: &&str| !r.ends_with('/') && matches!(self.client.stat(r), Err(ClientError::Refused(_)));
                if let Some(r) = remote.filter(missing) {
                    println!("{r} does not exist, so it becomes the copy of {} (as cp -r does)", args[0]);
                }
                self.transfer(true, |c, on| c.upload_any(&local(0), remote, on))
            }
            ("download", "", [remote] | [remote, _]) if self.client.is_remote_dir(remote).unwrap_or(false) => {
                let target = (args.len() > 1).then(|| local(1));
                if let Err(e) = missing_target(remote, target.as_deref(), args.get(1)) {
                    return Some(Err(e));
                }
                self.transfer(false, |c, on| c.download_any(remote, target.as_deref(), on))
            }
            ("mput", "", [_, ..]) => {
                let paths: Vec<String> = (0..args.len()).map(|i| local(i).to_string_lossy().into_owned()).collect();
                self.transfer(true, |c, on| c.mput(&paths, on))
            }
            ("mget", "", [_, ..]) => self.transfer(false, |c, on| c.mget(&args, on)),
            ("mirror", _, _) => self.mirror(words),
            ("rm", "" | "-r", [_, ..]) => match self.expand(rest) {
                Ok(paths) => self.batch((paths.len() == 1, true), |c, on| c.rm(&paths, flag == "-r", on)),
                Err(e) => Err(e),
            },
            ("mkdir", "" | "-p", [_, ..]) => {
                self.batch((rest.len() == 1, false), |c, on| c.mkdir(rest, flag == "-p", on))
            }
            ("mv", "", [from @ .., to]) if !from.is_empty() => {
                self.batch((from.len() == 1, false), |c, on| c.mv(from, to, on))
            }
            ("rm" | "mkdir" | "mv" | "mput" | "mget", _, _) => Err(wrong_use(name)),
            _ => return None,
        })
    }

    /// Runs a batch with its progress shown, Ctrl-C wired to stop it.
    /// With `one` target, failures are not printed as they come: the
    /// command's error names them, once; otherwise the error only counts
    /// them. A stopped batch ends with one message: where it stopped, what
    /// was done, and how to go on.
    /// `trash`: what it deletes goes to the server's trash.
    fn batch(
        &mut self,
        (one, trash): (bool, bool),
        run: impl FnOnce(&mut Client, OnEvent) -> Result<Report, ClientError>,
    ) -> Result<(), String> {
        let mut shown = Batch::new(self.bar, one, trash);
        let mut tracker = Tracker::default();
        let report = run(&mut self.client, &mut |e| {
            tracker.see(e);
            shown.show(e) && !term::interrupted()
        });
        shown.finish();
        let report = report.map_err(|e| e.to_string())?;
        if one {
            report.failures.iter().skip(1).for_each(|(path, why)| eprintln!("failed: {path}: {why}"));
        }
        outcome(&report, &tracker, one, self.human)
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
        self.transfer(reverse, |c, on| c.mirror(&source, &target, reverse, opts, on))
    }

    /// A batch that moves files, ending with its summary line
    /// (`N transferred, M up to date, K deleted, B bytes in T s`), also
    /// when nothing needed to move.
    fn transfer(
        &mut self,
        remote_target: bool,
        run: impl FnOnce(&mut Client, OnEvent) -> Result<Report, ClientError>,
    ) -> Result<(), String> {
        let mut summary = String::new();
        let human = self.human;
        let result = self.batch((false, remote_target), |c, on| {
            let r = run(c, on)?;
            if !r.stopped {
                summary = show::batch_summary(&r, human);
            }
            Ok(r)
        });
        if !summary.is_empty() {
            println!("{summary}");
        }
        result
    }
}

/// A folder downloaded to a local path that does not exist: with a
/// trailing `/` the path is made and the folder goes into it; without,
/// the path becomes the copy (as `cp -r` does), and this says so.
fn missing_target(remote: &str, target: Option<&Path>, typed: Option<&String>) -> Result<(), String> {
    let (Some(target), Some(typed)) = (target, typed) else { return Ok(()) };
    if target.exists() {
        return Ok(());
    }
    if typed.ends_with('/') {
        return std::fs::create_dir_all(target).map_err(|e| format!("{}: {e}", target.display()));
    }
    println!(
        "{typed} does not exist, so it becomes the copy of {remote} (as cp -r does); \
         give {typed}/ to download into it"
    );
    Ok(())
}

/// A batch that failed anywhere, or was stopped, is a failed command.
/// `listed`: the failures were printed as they came.
fn outcome(report: &Report, tracker: &Tracker, one: bool, human: bool) -> Result<(), String> {
    let failed = report.failures.len();
    if report.stopped {
        let failures = if failed > 0 { format!(", {failed} failed") } else { String::new() };
        let moved = report.transferred > 0 || report.up_to_date > 0 || report.bytes > 0;
        let done = if moved {
            let secs = report.started.elapsed().as_secs_f64();
            format!(
                "{} transferred, {} up to date{failures}, {} moved in {secs:.2} s",
                report.transferred,
                report.up_to_date,
                show::size(report.bytes, human)
            )
        } else {
            format!("{} done{failures}", report.deleted)
        };
        return Err(format!("interrupted {}: {done}; repeat the command to carry on", tracker.stopped_at(human)));
    }
    match report.failures.as_slice() {
        [] => Ok(()),
        [(path, why)] if one => Err(format!("{path}: {why}")),
        [(path, why), more @ ..] if one => Err(format!("{path}: {why} (and {} more failures)", more.len())),
        [_] => Err("1 failed (above)".into()),
        all => Err(format!("{} failed (above)", all.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_batch_says_where() {
        let mut t = Tracker::default();
        assert_eq!(t.stopped_at(false), "before the first file");
        t.see(&Event::Done { action: "uploaded", path: "a/1.txt", bytes: 3 });
        assert_eq!(t.stopped_at(false), "after a/1.txt");
        t.see(&Event::Progress { path: "a/big.bin", done: 1 << 20, total: 8 << 20 });
        assert_eq!(t.stopped_at(false), "in a/big.bin at 1048576 bytes of 8388608 bytes");
        assert_eq!(t.stopped_at(true), "in a/big.bin at 1.0 MiB of 8.0 MiB");
        let mut r = Report::new();
        r.stopped = true;
        (r.up_to_date, r.bytes) = (51, 1 << 20);
        let said = outcome(&r, &t, false, true).unwrap_err();
        assert!(
            said.starts_with(
                "interrupted in a/big.bin at 1.0 MiB of 8.0 MiB: 0 transferred, 51 up to date, 1.0 MiB moved in "
            ),
            "{said}"
        );
        assert!(said.ends_with(" s; repeat the command to carry on"), "{said}");
        r.stopped = false;
        r.failures = vec![("x".into(), "no".into()), ("y".into(), "no".into())];
        assert_eq!(outcome(&r, &t, true, true).unwrap_err(), "x: no (and 1 more failures)");
        assert_eq!(outcome(&r, &t, false, true).unwrap_err(), "2 failed (above)");
    }
}
