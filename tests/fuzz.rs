//! A std-only randomized test: many random and mutated request lines go
//! through the parser, every path through the resolver, and a sample
//! through a real server. No panic, every resolved path inside the tree.

mod common;

use std::fs;

use common::fixture;
use netdisk::proto::{Command, parse_line};
use netdisk::storage::tree::{UserPath, check_name};

/// xorshift64*: deterministic, so a failure can be replayed by its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const TOKENS: &[&[u8]] = &[
    b"upload",
    b"download",
    b"ls",
    b"cd",
    b"mkdir",
    b"stat",
    b"mv",
    b"rm",
    b"rmdir",
    b"login",
    b"register",
    b"..",
    b".",
    b"/",
    b"//",
    b"\"",
    b"\\",
    b"\\\"",
    b"\t",
    b" ",
    b"  ",
    b"0",
    b"1",
    b"-",
    b"-1",
    b"+5",
    b"1e9",
    b"0x1f",
    b"18446744073709551616",
    b"%2e%2e",
    b"\xc0\xae",
    b"\xff",
    b"\x00",
    b"\r",
    b"\x1b[2J",
    b"\xe2\x80\xae",
    b"a",
    b"name",
    b"d41d8cd98f00b204e9800998ecf8427e",
    b"etc",
    b"passwd",
    b"~",
    b"*",
    b"$HOME",
    b"\xf0\x9f\x92\xbe",
];

fn random_line(rng: &mut Rng) -> Vec<u8> {
    let mut line = Vec::new();
    for _ in 0..rng.below(12) {
        if rng.below(8) == 0 {
            line.push(rng.next() as u8);
        } else {
            line.extend_from_slice(TOKENS[rng.below(TOKENS.len())]);
        }
        if rng.below(2) == 0 {
            line.push(b' ');
        }
    }
    line
}

fn mutate(rng: &mut Rng, mut line: Vec<u8>) -> Vec<u8> {
    for _ in 0..=rng.below(3) {
        let at = rng.below(line.len() + 1);
        match rng.below(4) {
            0 if at < line.len() => line[at] ^= 1 << rng.below(8),
            1 => line.insert(at, TOKENS[rng.below(TOKENS.len())][0]),
            2 if at < line.len() => {
                line.remove(at);
            }
            _ => line.splice(at..at, TOKENS[rng.below(TOKENS.len())].iter().copied()).for_each(drop),
        }
    }
    line
}

const VALID: &[&str] = &[
    "upload \"a b/c\" 10 d41d8cd98f00b204e9800998ecf8427e 3",
    "download ../x/y 5",
    "mv \"a\\\"b\" /c/../d",
    "cd ../../..",
    "ls /a/./b//c",
    "register user pass",
];

fn paths(cmd: &Command) -> Vec<&str> {
    match cmd {
        Command::Ls { path: Some(p) }
        | Command::Makedir { path: p }
        | Command::Cd { path: p }
        | Command::Upload { path: p, .. }
        | Command::Download { path: p, .. }
        | Command::Stat { path: p }
        | Command::Rm { path: p }
        | Command::Rmdir { path: p } => vec![p],
        Command::Mv { from, to } => vec![from, to],
        _ => vec![],
    }
}

/// A resolved path is a chain of allowed names, and resolving its own
/// text gives it back.
fn check_inside(p: &UserPath) {
    let text = p.to_string();
    assert!(text.starts_with('/'), "{text:?}");
    if !p.is_root() {
        for part in text[1..].split('/') {
            assert!(check_name(part).is_ok() && part != "." && part != "..", "{text:?}");
        }
    }
    assert_eq!(&UserPath::root().resolve(&text).unwrap(), p);
}

#[test]
fn random_and_mutated_lines_never_panic_and_stay_inside() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let cwds = [UserPath::root(), UserPath::root().resolve("/a/b/c").unwrap()];
    let mut parsed = 0;
    for i in 0..50_000 {
        let line = if i % 2 == 0 { random_line(&mut rng) } else { mutate(&mut rng, VALID[i % VALID.len()].into()) };
        let Ok(Some(cmd)) = parse_line(&line) else { continue };
        parsed += 1;
        assert_eq!(parse_line(cmd.to_string().as_bytes()).unwrap().as_ref(), Some(&cmd), "round trip of {line:?}");
        for text in paths(&cmd) {
            for cwd in &cwds {
                if let Ok(p) = cwd.resolve(text) {
                    check_inside(&p);
                }
            }
        }
    }
    assert!(parsed > 5_000, "the generator must reach the handlers ({parsed})");
}

#[test]
fn random_lines_through_a_real_server() {
    let s = fixture!();
    let mut rng = Rng(0x0dd_ba11_cafe_f00d);
    let mut c = s.user("fuzz");
    for i in 0..400 {
        let mut line = if i % 2 == 0 { random_line(&mut rng) } else { mutate(&mut rng, VALID[i % VALID.len()].into()) };
        line.retain(|b| *b != b'\n');
        line.extend_from_slice(b"\r\nquit\r\n");
        c.send(&line);
        c.half_close();
        // Read to the end of the session: every reply is well formed.
        loop {
            let reply = c.line();
            if reply == "221 bye" || reply.starts_with('<') {
                break;
            }
        }
        c = s.user("fuzz");
    }
    assert!(c.cmd("pwd").starts_with("257"));
    let mut top: Vec<String> =
        fs::read_dir(s.dir()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    top.retain(|n| !n.starts_with("server-"));
    assert_eq!(top, vec!["data"], "nothing created outside the data directory");
}
