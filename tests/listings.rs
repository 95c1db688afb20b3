//! Listings are streamed (issue 19 #7): the server's memory does not grow
//! with a listing's size, and `--max-list` still refuses before anything
//! is sent.

mod common;

use std::fs;

use common::{Server, fixture};

/// The server's peak resident memory so far (`VmHWM`), in KiB.
fn peak_kib(server: &Server) -> u64 {
    let status = fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// `dirs` × `dirs` directories of `files` empty files each, with long
/// names (so long lines), made straight on disk under `top`.
fn big_tree(top: &std::path::Path, dirs: usize, files: usize) {
    for a in 0..dirs {
        for b in 0..dirs {
            let dir = top.join(name(a)).join(name(b));
            fs::create_dir_all(&dir).unwrap();
            for f in 0..files {
                fs::File::create(dir.join(name(f))).unwrap();
            }
        }
    }
}

fn name(n: usize) -> String {
    format!("{}-{n:04}", "n".repeat(240))
}

#[test]
fn a_peek_of_a_big_tree_is_streamed() {
    let s = fixture!();
    let mut alice = s.user("alice");
    alice.ok("makedir big", "257");
    big_tree(&s.data.join("home/alice/big"), 22, 10);
    let code = alice.ok("share big", "200 ").split(' ').nth(1).unwrap().to_string();
    let mut bob = s.user("bob");
    bob.ok("pwd", "257 ");
    let before = peak_kib(&s);
    let head = bob.ok(&format!("peek {code}"), "212 5346");
    let lines = bob.lines_after(&head);
    let grew = peak_kib(&s) - before;
    assert_eq!(lines.len(), 5346);
    assert!(lines[0].starts_with("d 0 ") && lines[0].ends_with(&name(0)), "{}", lines[0]);
    assert!(lines[2].starts_with("f 0 ") && lines[2].ends_with(&format!("{0}/{0}/{0}", name(0))), "{}", lines[2]);
    let bytes: usize = lines.iter().map(|l| l.len() + 2).sum();
    assert!(bytes > 4_000_000, "{bytes}");
    // Held whole (three times, as before) the listing raised the peak by
    // more than three times its size.
    assert!(grew < 3 * 1024, "the peak grew by {grew} KiB during a listing of {bytes} bytes");
    bob.ok("pwd", "257 ");
}

#[test]
fn listings_past_max_list_are_refused_before_anything_is_sent() {
    let s = fixture!(&["--max-list", "100"]);
    let mut alice = s.user("alice");
    alice.ok("makedir big", "257");
    big_tree(&s.data.join("home/alice/big"), 3, 10);
    let code = alice.ok("share big", "200 ").split(' ').nth(1).unwrap().to_string();
    assert_eq!(alice.cmd("find big"), "550 too many entries");
    assert_eq!(alice.cmd(&format!("peek {code}")), "550 too many entries");
    let head = alice.ok(&format!("find big/{}", name(1)), "212 33");
    assert_eq!(alice.lines_after(&head).len(), 33);
    let head = alice.ok("ls", "212 1");
    assert_eq!(alice.lines_after(&head).len(), 1);
    big_tree(&s.data.join("home/alice/wide"), 1, 101);
    assert_eq!(alice.cmd(&format!("ls wide/{0}/{0}", name(0))), "550 too many entries");
    alice.ok("pwd", "257 ");
}
