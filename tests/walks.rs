//! Deep trees, long host paths and large listings: walks that must not
//! recurse, paths that must stay reachable, listings that must stay bounded.

mod common;

use std::io::BufRead;
use std::path::{Path, PathBuf};

use common::{Fixture, Raw, Server, fixture, md5_hex};

/// `PATH_MAX` less the terminating NUL.
const MAX_HOST_PATH: usize = 4095;

/// The host path of a user's home, absolute.
fn home(server: &Server, user: &str) -> PathBuf {
    std::path::absolute(server.data.join("home").join(user)).unwrap()
}

fn len_of(path: &Path) -> usize {
    path.as_os_str().len()
}

/// Sends `requests` in one write and returns the first line of each reply
/// (the replies are one line each), kept out of the transcript: deep paths
/// make them long.
fn pipeline(c: &mut Raw, requests: &[String]) -> Vec<String> {
    let mut wire = String::new();
    for r in requests {
        wire.push_str(r);
        wire.push_str("\r\n");
    }
    c.send(wire.as_bytes());
    let mut replies = Vec::new();
    for _ in requests {
        let mut buf = Vec::new();
        c.reader.read_until(b'\n', &mut buf).unwrap();
        replies.push(String::from_utf8_lossy(&buf).trim_end().to_string());
    }
    replies
}

/// Makes `levels` nested directories named `name` below the working
/// directory and moves into the deepest, many requests per write.
fn descend(c: &mut Raw, name: &str, levels: usize) {
    let mut done = 0;
    while done < levels {
        let step = (levels - done).min(100);
        let requests: Vec<String> = (0..step).flat_map(|_| [format!("mkdir {name}"), format!("cd {name}")]).collect();
        for (i, reply) in pipeline(c, &requests).iter().enumerate() {
            let want = if i % 2 == 0 { "257 " } else { "250 " };
            assert!(reply.starts_with(want), "level {}: {:.80}", done + i / 2 + 1, reply);
        }
        done += step;
    }
}

fn short(reply: &str) -> String {
    reply.chars().take(80).collect()
}

#[test]
fn a_two_thousand_deep_tree_survives_every_walk() {
    // A short directory name: the tree's host paths are near `PATH_MAX`.
    let server = Fixture::new("deep", &["--quota", "1000000"]);
    let mut c = server.user("deep");
    let depth = 2000;
    assert!(len_of(&home(&server, "deep")) + 2 * depth + 20 <= MAX_HOST_PATH, "temp dir path too long for this test");
    descend(&mut c, "a", depth);

    let data = b"at the bottom";
    assert_eq!(short(&c.upload("f", data)), format!("226 {} {}", data.len(), md5_hex(data)));
    let quota = c.ok("quota", "213 ");
    assert_eq!(quota.rsplitn(3, ' ').nth(2).unwrap(), format!("213 {} 1000000", data.len()));
    assert_eq!(c.ls("."), vec!["f"]);
    assert_eq!(c.ls(".."), vec!["a"]);
    assert!(c.ok("stat f", "213 f ").ends_with(" f"));
    assert_eq!(c.download("f"), data);
    c.ok("mv f g", "250 ");
    c.ok("mkdir b", "257 ");
    c.ok("rmdir b", "250 ");
    c.ok("rm g", "250 ");

    // Whole-tree walks from the top: a move checks the deepest descendant.
    c.ok("cd /", "250 ");
    c.ok("mv a bb", "250 moved /a to /bb");
    c.ok("mv bb a", "250 moved /bb to /a");
    // The removed file is in the trash, which counts.
    assert_eq!(c.ok("quota", "213 ").rsplitn(3, ' ').nth(2).unwrap(), format!("213 {} 1000000", data.len()));
    c.ok("stat a", "213 d ");

    // The deepest directory by its absolute path.
    c.ok(&format!("rmdir /{}", vec!["a"; depth].join("/")), "250 removed");
    c.ok(&format!("stat /{}", vec!["a"; depth - 1].join("/")), "213 d ");
    assert_eq!(c.ls("/"), vec!["a"]);

    // The whole deep tree to the trash, back, into a copy, and listed.
    c.ok("rm a", "250 ");
    let head = c.ok("trash", "212 ");
    let id = c.lines_after(&head).iter().find(|l| l.ends_with(" /a")).map(|l| l.split(' ').next().unwrap().to_string());
    c.ok(&format!("restore {}", id.expect("the tree in the trash")), "257 \"/a\"");
    c.ok("cp a c", "250 ");
    let head = c.ok("find c", "212 ");
    assert_eq!(c.lines_after(&head).len(), depth - 2, "every level of the copy but its top");
    c.ok("quit", "221");
}

/// Names of 250 bytes, `n` of them nested, as a relative path.
fn chain(n: usize) -> String {
    vec!["n".repeat(250); n].join("/")
}

#[test]
fn paths_past_path_max_are_refused_before_they_exist() {
    let server = fixture!(&["--quota", "1000000"]);
    let mut c = server.user("long");
    let room = MAX_HOST_PATH - len_of(&home(&server, "long"));
    // `/x` and a chain of 250-byte names as deep as still fits with `/f`.
    let levels = (room - 2 - 2) / 251;
    c.ok("mkdir x", "257 ");
    c.ok("cd x", "250 ");
    descend(&mut c, &"n".repeat(250), levels);
    let used = 2 + 251 * levels;
    assert!(c.upload("f", b"deep data").starts_with("226 "));

    // Exactly at the limit is fine and stays reachable; one byte more is not.
    let fits = "e".repeat(room - used - 1);
    c.ok(&format!("mkdir {fits}"), "257 ");
    assert_eq!(c.ok(&format!("mkdir {fits}x"), "553"), "553 path too long");
    assert_eq!(c.ok(&format!("mv f {fits}x"), "553"), "553 path too long");
    assert_eq!(c.ok(&format!("mkdir {fits}/y"), "553"), "553 path too long");
    assert_eq!(c.ls(&fits), Vec::<String>::new());
    c.ok(&format!("rmdir {fits}"), "250 ");

    // The escape of the issue: moving the deep directory under a longer
    // path would make its file unreachable (and uncounted).
    c.ok("mkdir /y", "257 ");
    c.ok(&format!("mkdir /y/{}", "n".repeat(250)), "257 ");
    let escape = format!("mv /x /y/{}/x", "n".repeat(250));
    assert_eq!(c.ok(&escape, "553"), "553 path too long");
    assert_eq!(c.ls("/"), vec!["x", "y"]);
    assert_eq!(c.ok("quota", "213 ").rsplitn(3, ' ').nth(2).unwrap(), "213 9 1000000");
    c.ok(&format!("stat /x/{}/f", chain(levels)), "213 f 9 ");

    // An upload whose path would not fit is refused before its payload.
    let mut u = server.user("long");
    u.ok(&format!("cd /x/{}", chain(levels)), "250 ");
    let head = u.cmd(&format!("upload {fits}x 1 {}", md5_hex(b"z")));
    assert_eq!(head, "553 path too long");
    assert!(u.closed());
}

#[test]
fn usage_reports_an_unreadable_directory_instead_of_counting_zero() {
    let server = fixture!(&["--quota", "1000000"]);
    let mut c = server.user("unreach");
    assert!(c.upload("small", b"12345").starts_with("226 "));
    c.ok("quota", "213 5 ");
    // Made on the server machine, past PATH_MAX: two chains, each short
    // enough to make, one moved to the bottom of the other.
    let home = home(&server, "unreach");
    let (top, other) = (home.join("one").join(chain(9)), home.join("two").join(chain(9)));
    std::fs::create_dir_all(&top).unwrap();
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("f"), b"hidden").unwrap();
    std::fs::rename(home.join("two"), top.join("two")).unwrap();
    assert!(len_of(&top.join("two").join(chain(9)).join("f")) > MAX_HOST_PATH);
    let reply = c.cmd("quota");
    assert!(reply.starts_with("451 "), "{reply}\n{}", c.transcript);
    server.wait_log("quota", 1);
    assert!(c.cmd(&format!("upload more 1 {}", md5_hex(b"z"))).starts_with("451 "));
}

#[test]
fn a_listing_over_max_list_is_refused() {
    let server = fixture!(&["--max-list", "50"]);
    let mut c = server.user("many");
    c.ok("mkdir d", "257 ");
    let make: Vec<String> = (0..50).map(|i| format!("mkdir d/e{i:02}")).collect();
    assert!(pipeline(&mut c, &make).iter().all(|r| r.starts_with("257 ")));
    let names = c.ls("d");
    assert_eq!(names.len(), 50);
    assert!(names.windows(2).all(|w| w[0] < w[1]), "{names:?}");
    c.ok("mkdir d/e50", "257 ");
    assert_eq!(c.cmd("ls d"), "550 too many entries");
    // The session goes on, and smaller listings still work.
    assert_eq!(c.ls("d/e50"), Vec::<String>::new());
    assert_eq!(c.ls("/"), vec!["d"]);
    c.ok("rmdir d/e00", "250 ");
    assert_eq!(c.ls("d").len(), 50);
}
