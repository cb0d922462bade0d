//! `repair`: cutting a damaged tail, refusing to cut readable records
//! without `--force`, and never losing the cut bytes.

use std::fs;

use predicates::prelude::*;

use crate::support::{FOUR_PUTS, Scratch, damage_of};

#[test]
fn clean_log_is_left_alone() {
    let scratch = Scratch::with_puts(&FOUR_PUTS);
    let before = scratch.bytes();
    scratch
        .wal("repair", &[])
        .assert()
        .success()
        .stdout(format!(
            "{}: clean, nothing to repair (4 records, last LSN 4)\n",
            scratch.shown()
        ));
    assert_eq!(scratch.bytes(), before);
    assert_eq!(scratch.files(), ["test.wal"]);
}

#[test]
fn torn_tail_is_cut_and_saved_beside_the_log() {
    let scratch = Scratch::torn(5);
    let before = scratch.bytes();
    scratch
        .wal("repair", &[])
        .assert()
        .success()
        .stdout(format!(
            "{}: cut torn tail at offset 121 (28 bytes), saved to {}; kept 3 records, last LSN 3\n",
            scratch.shown(),
            scratch.broken_file(121).display()
        ));
    assert_eq!(scratch.bytes(), before[..121]);
    // The saved tail starts with a copy of the log's header (its identity
    // checks the records' checksums), then the cut bytes.
    assert_eq!(
        fs::read(scratch.broken_file(121)).unwrap(),
        [&before[..24], &before[121..]].concat()
    );
    scratch.wal("verify", &[]).assert().code(0);
    // A second repair finds nothing to do.
    scratch
        .wal("repair", &[])
        .assert()
        .success()
        .stdout(predicate::str::contains("clean, nothing to repair"));
}

#[test]
fn readable_records_after_damage_are_refused_without_force() {
    let scratch = Scratch::corrupt_mid_log();
    let before = scratch.bytes();
    scratch
        .wal("repair", &[])
        .assert()
        .code(3)
        .stdout("")
        .stderr(
            predicate::str::contains(format!("{}: corrupt at offset 53", scratch.shown()))
                .and(predicate::str::contains("2 readable records after it"))
                .and(predicate::str::contains("the file is untouched"))
                .and(predicate::str::contains("--force")),
        );
    assert_eq!(scratch.bytes(), before, "a refused repair changed the log");
    assert_eq!(scratch.files(), ["test.wal"]);
}

#[test]
fn force_keeps_the_prefix_and_saves_the_rest_with_its_records() {
    let scratch = Scratch::corrupt_mid_log();
    let reason = damage_of(&scratch.path).reason();
    let before = scratch.bytes();
    scratch
        .wal("repair", &["--force"])
        .assert()
        .success()
        .stdout(format!(
            "{}: cut damaged tail ({reason}) at offset 53 (101 bytes), saved to {}; \
             the saved bytes hold 2 readable records; kept 1 record; \
             LSNs continue after 4, the highest cut off\n",
            scratch.shown(),
            scratch.broken_file(53).display()
        ));
    // The kept prefix, then a skip marker past the LSNs cut off.
    assert_eq!(
        scratch.bytes(),
        [&before[..53], &wal::skip_marker(4, scratch.format())[..]].concat()
    );
    assert_eq!(
        fs::read(scratch.broken_file(53)).unwrap(),
        [&wal::file_header(scratch.format())[..], &before[53..]].concat()
    );
    scratch.wal("verify", &[]).assert().code(0);
    // Appends continue after the highest LSN cut off.
    scratch.wal("put", &["k", "v"]).assert().stdout("5\n");
}

#[test]
fn header_torn_during_creation_becomes_an_empty_log() {
    let scratch = Scratch::new();
    let header = wal::file_header(wal::LogFormat::new_log());
    fs::write(&scratch.path, &header[..5]).unwrap();
    scratch
        .wal("repair", &[])
        .assert()
        .success()
        .stdout(format!(
            "{}: cut torn tail at offset 0 (5 bytes), saved to {}; kept 0 records, last LSN 0\n",
            scratch.shown(),
            scratch.broken_file(0).display()
        ));
    assert_eq!(scratch.bytes(), wal::file_header(scratch.format()));
    assert_eq!(fs::read(scratch.broken_file(0)).unwrap(), header[..5]);
}

#[test]
fn a_second_cut_at_the_same_offset_does_not_overwrite_the_first() {
    let scratch = Scratch::torn(5);
    let before = scratch.bytes();
    let first_tail = [&before[..24], &before[121..]].concat();
    scratch.wal("repair", &[]).assert().success();
    // Tear the log again at the same place, with other bytes.
    let mut bytes = scratch.bytes();
    bytes.extend_from_slice(b"different torn bytes");
    fs::write(&scratch.path, &bytes).unwrap();
    scratch
        .wal("repair", &[])
        .assert()
        .success()
        .stdout(predicate::str::contains("saved to"));
    assert_eq!(fs::read(scratch.broken_file(121)).unwrap(), first_tail);
    assert_eq!(scratch.files().len(), 3, "{:?}", scratch.files());
}

/// A cut whose copy of the tail fails (here the file size limit stops it)
/// leaves the log as it was and removes the copy it started: retrying it
/// used to leave an empty `.broken-N.k` file per attempt.
#[test]
fn a_failed_cut_leaves_no_saved_file_behind() {
    let scratch = Scratch::with_puts(&[("small", "1"), ("big", &"x".repeat(8000))]);
    let mut bytes = scratch.bytes();
    bytes.truncate(bytes.len() - 5);
    fs::write(&scratch.path, &bytes).unwrap();
    for _ in 0..2 {
        // `ulimit -f 4` is 2 KiB in dash and 4 KiB in bash: less than the
        // tail either way. SIGXFSZ ignored, the write fails with EFBIG.
        std::process::Command::new("sh")
            .args(["-c", "trap '' XFSZ; ulimit -f 4; exec \"$0\" repair \"$1\""])
            .arg(assert_cmd::cargo::cargo_bin!("wal"))
            .arg(&scratch.path)
            .output()
            .map(|output| assert_eq!(output.status.code(), Some(2), "{output:?}"))
            .unwrap();
    }
    assert_eq!(scratch.files(), ["test.wal"], "no saved tail is left");
    assert_eq!(scratch.bytes(), bytes, "the log is untouched");
}

#[test]
fn a_fifo_is_refused_at_once_with_exit_2() {
    let scratch = Scratch::new();
    let status = std::process::Command::new("mkfifo")
        .arg(&scratch.path)
        .status()
        .unwrap();
    assert!(status.success());
    for subcommand in ["verify", "dump", "repair"] {
        scratch
            .wal(subcommand, &[])
            .timeout(std::time::Duration::from_secs(20))
            .assert()
            .code(2)
            .stderr(predicate::str::contains("not a regular file (a FIFO)"));
    }
    scratch
        .wal("get", &["k"])
        .timeout(std::time::Duration::from_secs(20))
        .assert()
        .code(2);
}

/// LSNs 3 and 4 were cut off (and saved); the next put gets 5, not 2 again.
#[test]
fn a_put_after_a_forced_cut_never_reuses_a_cut_lsn() {
    let scratch = Scratch::corrupt_mid_log();
    scratch.wal("repair", &["--force"]).assert().success();
    scratch
        .wal("put", &["elder", "black"])
        .assert()
        .success()
        .stdout("5\n");
    scratch
        .wal("verify", &[])
        .assert()
        .success()
        .stdout(predicate::str::contains("clean, 2 records, last LSN 5"));
}
