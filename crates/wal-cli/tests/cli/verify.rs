//! `verify`: the one-line verdict and its exit codes 0, 1, 2 and 3.

use std::fs;

use predicates::prelude::*;

use crate::support::{FOUR_PUTS, Scratch, damage_of};

#[test]
fn clean_log_exits_0() {
    let scratch = Scratch::with_puts(&FOUR_PUTS);
    scratch.wal("verify", &[]).assert().code(0).stdout(format!(
        "{}: clean, 4 records, last LSN 4\n",
        scratch.shown()
    ));
}

#[test]
fn empty_file_is_a_clean_empty_log() {
    let scratch = Scratch::new();
    fs::write(&scratch.path, b"").unwrap();
    scratch.wal("verify", &[]).assert().code(0).stdout(format!(
        "{}: clean, 0 records, last LSN 0\n",
        scratch.shown()
    ));
}

#[test]
fn torn_tail_exits_1() {
    let scratch = Scratch::torn(1);
    scratch.wal("verify", &[]).assert().code(1).stdout(format!(
        "{}: torn tail at offset 121 (32 bytes); 3 records before it, last LSN 3\n",
        scratch.shown()
    ));
}

#[test]
fn header_torn_while_the_file_was_created_exits_1() {
    let scratch = Scratch::new();
    fs::write(
        &scratch.path,
        &wal::file_header(wal::LogFormat::new_log())[..7],
    )
    .unwrap();
    scratch
        .wal("verify", &[])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("torn tail at offset 0 (7 bytes)"));
}

#[test]
fn damaged_last_record_with_nothing_behind_it_exits_1() {
    let scratch = Scratch::with_puts(&FOUR_PUTS);
    let mut bytes = scratch.bytes();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    fs::write(&scratch.path, bytes).unwrap();
    scratch
        .wal("verify", &[])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "corrupt at offset 121 (checksum mismatch",
        ));
}

#[test]
fn damage_with_readable_records_after_it_exits_3() {
    let scratch = Scratch::corrupt_mid_log();
    let damage = damage_of(&scratch.path);
    scratch.wal("verify", &[])
        .assert()
        .code(3)
        .stdout(format!(
            "{}: corrupt at offset 53 ({}); 2 readable records after it; 1 record before it, last LSN 1\n",
            scratch.shown(),
            damage.reason()
        ));
}

#[test]
fn length_field_pointing_past_the_end_is_not_passed_off_as_a_torn_tail() {
    let scratch = Scratch::with_puts(&FOUR_PUTS);
    let second = scratch.entries()[1].offset as usize;
    let mut bytes = scratch.bytes();
    // The value length of record 2 (bytes 17..21 of the record).
    bytes[second + 17..second + 21].copy_from_slice(&1_000_000u32.to_le_bytes());
    fs::write(&scratch.path, bytes).unwrap();
    scratch
        .wal("verify", &[])
        .assert()
        .code(3)
        .stdout(predicate::str::contains("2 readable records after it"));
}

#[test]
fn unreadable_file_exits_2() {
    let scratch = Scratch::new();
    fs::create_dir(&scratch.path).unwrap();
    scratch
        .wal("verify", &[])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(scratch.shown()));
}

/// Issue 23, item 10 and the review's `verify`: the snapshot beside the log
/// is looked at too. Ok: a second line, exit as for the log. Damaged, or
/// missing though the log starts after a checkpoint: exit 4.
#[test]
fn verify_says_what_it_found_of_the_snapshot() {
    let scratch = Scratch::with_puts(&FOUR_PUTS);
    scratch.wal("checkpoint", &[]).assert().success();
    let snapshot = format!("{}.snapshot", scratch.shown());
    scratch
        .wal("verify", &[])
        .assert()
        .code(0)
        .stdout(predicate::str::ends_with(format!(
            "\n{snapshot}: snapshot ok, LSNs up to 4, 4 keys\n"
        )));

    let snapshot_path = wal::snapshot_path(&scratch.path);
    let good = fs::read(&snapshot_path).unwrap();
    let mut bad = good.clone();
    bad[30] ^= 1;
    fs::write(&snapshot_path, &bad).unwrap();
    scratch
        .wal("verify", &[])
        .assert()
        .code(4)
        .stdout(predicate::str::contains(format!(
            "{snapshot}: snapshot damaged (checksum mismatch)"
        )));

    fs::remove_file(&snapshot_path).unwrap();
    scratch
        .wal("verify", &[])
        .assert()
        .code(4)
        .stdout(predicate::str::contains(format!(
            "{snapshot}: snapshot missing: the log starts after LSN 4"
        )));
    // A log that never had a checkpoint has no second line.
    let plain = Scratch::with_puts(&FOUR_PUTS);
    plain
        .wal("verify", &[])
        .assert()
        .code(0)
        .stdout(format!("{}: clean, 4 records, last LSN 4\n", plain.shown()));
}
