//! Modification times (protocol 2.1): `touch`, the time of what `claim`
//! and `save` create, and the client library keeping times both ways.

mod common;

use common::{Raw, bytes, fixture, md5_hex, proof};

/// The MTIME word of `stat PATH`.
fn mtime(c: &mut Raw, path: &str) -> String {
    c.ok(&format!("stat {path}"), "213 f ").split(' ').nth(3).unwrap().to_string()
}

const OLD: &str = "2001-02-03T04:05:06Z";

#[test]
fn touch_sets_a_files_time_and_refuses_what_it_cannot() {
    let s = fixture!();
    let mut c = s.user("ann");
    assert!(c.upload("f", b"data").starts_with("226 "));
    c.ok("makedir d", "257");
    assert_eq!(c.cmd("touch f 2001-02-03T04:05:06.789123456Z"), "250 \"/f\"");
    assert_eq!(mtime(&mut c, "f"), OLD, "whole seconds shown");
    let stat = c.ok("stat f", "213 f 4 ");
    assert!(stat.contains(&md5_hex(b"data")), "{stat}");
    let head = c.ok("find", "212 2");
    assert!(c.lines_after(&head).iter().any(|l| l.starts_with(&format!("f 4 {OLD} "))));
    assert_eq!(c.cmd("touch \"/f\" 2030-01-01T00:00:00Z"), "250 \"/f\"");
    assert_eq!(mtime(&mut c, "f"), "2030-01-01T00:00:00Z");
    for bad in
        ["2001-02-03", "2001-02-03T04:05:06.Z", "2001-02-03T04:05:06.1234567891Z", "yesterday", "1969-12-31T23:59:59Z"]
    {
        assert!(c.cmd(&format!("touch f {bad}")).starts_with("501 "), "{bad}\n{}", c.transcript);
    }
    assert!(c.cmd(&format!("touch missing {OLD}")).starts_with("550 "));
    assert!(c.cmd(&format!("touch d {OLD}")).starts_with("550 "), "not a directory");
    assert!(c.cmd("touch f").starts_with("501 "));
    assert_eq!(c.download("f"), b"data");
}

#[test]
fn touch_changes_one_path_only_even_when_content_is_shared() {
    let s = fixture!();
    let data = bytes(200_000, 7);
    let mut ann = s.user("ann");
    assert!(ann.upload("a", &data).starts_with("226 "));
    ann.ok("cp a b", "250");
    let before = mtime(&mut ann, "a");
    ann.ok(&format!("touch b {OLD}"), "250");
    assert_eq!(mtime(&mut ann, "b"), OLD);
    assert_eq!(mtime(&mut ann, "a"), before, "the copy's time is its own");
    let mut bob = s.user("bob");
    let head = bob.ok(&format!("claim c {} {}", data.len(), md5_hex(&data)), "350 ");
    bob.ok(&proof(&head, &data), "226 ");
    bob.ok(&format!("touch c {OLD}"), "250");
    assert_eq!(mtime(&mut ann, "a"), before, "another user's touch changes nothing of ann's");
    assert_eq!(bob.download("c"), data);
    assert!(bob.ok("stat c", "213 ").contains(&md5_hex(&data)));
}

#[test]
fn claim_and_save_create_files_with_their_own_time() {
    let s = fixture!();
    let data = bytes(300_000, 8);
    let mut ann = s.user("ann");
    ann.ok("makedir d", "257");
    assert!(ann.upload("d/x", &data).starts_with("226 "));
    ann.ok(&format!("touch d/x {OLD}"), "250");
    let code = ann.ok("share d", "200 ").split(' ').nth(1).unwrap().to_string();
    let mut bob = s.user("bob");
    let head = bob.ok(&format!("claim mine {} {}", data.len(), md5_hex(&data)), "350 ");
    bob.ok(&proof(&head, &data), "226 ");
    assert_ne!(mtime(&mut bob, "mine"), OLD, "a claim never shows when another user stored the content");
    bob.ok(&format!("save {code} saved"), "257");
    assert_ne!(mtime(&mut bob, "saved/x"), OLD, "nor does a save");
    assert_eq!(bob.download("saved/x"), data);
    assert_eq!(mtime(&mut ann, "d/x"), OLD, "ann's time is hers");
}

/// The client library keeps times both ways: every uploaded file (small
/// ones pipelined, a large one streamed) gets its local MTIME on the
/// server, every downloaded file the remote MTIME.
#[test]
fn the_client_keeps_modification_times_both_ways() {
    use netdisk::client::Options;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    let s = fixture!();
    let src = s.dir().join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    let files = [("a.txt", bytes(10, 1)), ("sub/b.txt", bytes(3000, 2)), ("big.bin", bytes(1 << 20, 3))];
    for (i, (name, data)) in files.iter().enumerate() {
        let path = src.join(name);
        std::fs::write(&path, data).unwrap();
        let time = UNIX_EPOCH + Duration::new(981_173_106 + i as u64 * 3600, 250_000_000);
        std::fs::File::options().write(true).open(&path).unwrap().set_modified(time).unwrap();
    }
    let mut c = s.client("ann");
    let report = c.upload_tree(&src, "up", Options::default(), &mut |_| true).unwrap();
    assert_eq!(report.transferred, 3, "{report:?}");
    let mut raw = s.user("ann");
    for (i, (name, _)) in files.iter().enumerate() {
        let want = netdisk::clock::utc_secs(981_173_106 + i as u64 * 3600);
        assert_eq!(mtime(&mut raw, &format!("up/{name}")), want, "{name}");
    }
    raw.ok(&format!("touch up/a.txt {OLD}"), "250");
    let out = s.dir().join("out");
    c.download_tree("up", &out, Options::default(), &mut |_| true).unwrap();
    let local = |name: &str| std::fs::metadata(out.join(name)).unwrap().modified().unwrap();
    assert_eq!(local("a.txt"), netdisk::clock::parse_utc_fine(OLD).unwrap());
    for (i, (name, data)) in files.iter().enumerate().skip(1) {
        assert_eq!(&std::fs::read(out.join(name)).unwrap(), data);
        assert_eq!(local(name), UNIX_EPOCH + Duration::from_secs(981_173_106 + i as u64 * 3600), "{name}");
    }
    assert!(local("a.txt") < SystemTime::now());
}

#[test]
fn touch_of_a_file_just_uploaded_keeps_its_inode() {
    use std::os::unix::fs::MetadataExt;
    let s = fixture!();
    let data = bytes(300_000, 9);
    let mut ann = s.user("ann");
    assert!(ann.upload("big", &data).starts_with("226 "));
    let real = s.data.join("home").join("ann").join("big");
    let before = std::fs::metadata(&real).unwrap();
    assert!(before.nlink() > 1, "the content store links what was uploaded");
    ann.ok(&format!("touch big {OLD}"), "250");
    let after = std::fs::metadata(&real).unwrap();
    assert_eq!(after.ino(), before.ino(), "set in place, not copied: only the store shares it");
    assert_eq!(mtime(&mut ann, "big"), OLD);
    assert!(ann.ok("stat big", "213 ").contains(&md5_hex(&data)));
    // Content another path of hers shares still gets a copy of its own.
    ann.ok("cp big twin", "250");
    ann.ok("touch twin 2030-01-01T00:00:00Z", "250");
    assert_eq!(mtime(&mut ann, "big"), OLD, "the cp's time is its own");
}
