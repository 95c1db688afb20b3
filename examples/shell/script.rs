//! Running commands from a script (stdin that is not a terminal, or
//! `-c "cmd; cmd"`): blank lines and `#` comments are skipped; the first
//! failing command stops the script with exit status 1, unless its line
//! starts with `-` (its failure is reported and ignored, as in sftp batch
//! files) or `--keep-going` was given. Knows nothing of netdisk: it runs
//! lines through a callback.

use std::process::ExitCode;

/// How one command went.
pub enum Flow {
    Done,
    Failed(String),
    /// Stop whatever the line or the flags say (Ctrl-C).
    Abort(String),
    Quit,
}

/// Runs `lines` (numbered from 1) through `run`; the exit status says
/// whether everything succeeded.
pub fn run(lines: impl Iterator<Item = String>, keep_going: bool, run: &mut dyn FnMut(&str) -> Flow) -> ExitCode {
    let mut failed = false;
    for (n, raw) in lines.enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (optional, command) = match line.strip_prefix('-') {
            Some(rest) => (true, rest.trim_start()),
            None => (false, line),
        };
        match run(command) {
            Flow::Done => {}
            Flow::Quit => break,
            Flow::Abort(e) => {
                eprintln!("error: {e}\nstopped at line {}: {line}", n + 1);
                return ExitCode::from(130);
            }
            Flow::Failed(e) if optional => eprintln!("error (ignored, the line starts with -): {e}"),
            Flow::Failed(e) if keep_going => {
                eprintln!("error at line {}: {e}", n + 1);
                failed = true;
            }
            Flow::Failed(e) => {
                eprintln!("error: {e}\nstopped at line {}: {line}", n + 1);
                return ExitCode::from(1);
            }
        }
    }
    if failed { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ran(text: &str, keep_going: bool) -> (Vec<String>, ExitCode) {
        let mut seen = Vec::new();
        let code = run(text.lines().map(str::to_string), keep_going, &mut |c| {
            seen.push(c.to_string());
            match c {
                c if c.starts_with("bad") => Flow::Failed("no".into()),
                "quit" => Flow::Quit,
                _ => Flow::Done,
            }
        });
        (seen, code)
    }

    #[test]
    fn stops_at_the_first_failure_unless_told() {
        let text = "# backup\n\nok 1\n-bad 2\n  - bad 3\nbad 4\nok 5\n";
        assert_eq!(
            ran(text, false),
            (vec!["ok 1", "bad 2", "bad 3", "bad 4"].into_iter().map(String::from).collect(), ExitCode::from(1))
        );
        let (seen, code) = ran(text, true);
        assert_eq!((seen.len(), code), (5, ExitCode::from(1)));
        assert_eq!(ran("ok\n-bad\nquit\nbad\n", false).1, ExitCode::SUCCESS);
    }
}
