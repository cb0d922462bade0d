//! `put`, `delete` and `get`: the log as a key-value store.

use std::fs;

use predicates::prelude::*;

use crate::support::{FOUR_PUTS, Scratch, damage_of};

#[test]
fn put_creates_the_log_and_prints_consecutive_lsns() {
    let scratch = Scratch::new();
    for (lsn, (key, value)) in FOUR_PUTS.iter().enumerate() {
        scratch
            .wal("put", &[key, value])
            .assert()
            .success()
            .stdout(format!("{}\n", lsn + 1));
    }
    let keys: Vec<_> = scratch
        .entries()
        .iter()
        .map(|e| e.record.key.clone())
        .collect();
    assert_eq!(keys, FOUR_PUTS.map(|(key, _)| key.as_bytes().to_vec()));
}

#[test]
fn get_prints_the_latest_value() {
    let scratch = Scratch::with_puts(&[("fruit", "apple"), ("veg", "leek"), ("fruit", "pear")]);
    scratch
        .wal("get", &["fruit"])
        .assert()
        .success()
        .stdout("pear\n")
        .stderr("");
}

#[test]
fn get_of_an_absent_key_exits_1_naming_file_and_key() {
    let scratch = Scratch::with_puts(&[("fruit", "apple")]);
    scratch
        .wal("get", &["veg"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(
            predicate::str::contains(scratch.shown())
                .and(predicate::str::contains("\"veg\" not found")),
        );
}

#[test]
fn delete_removes_the_key_and_prints_its_lsn() {
    let scratch = Scratch::with_puts(&[("fruit", "apple"), ("veg", "leek")]);
    scratch
        .wal("delete", &["fruit"])
        .assert()
        .success()
        .stdout("3\n");
    scratch.wal("get", &["fruit"]).assert().code(1);
    scratch
        .wal("get", &["veg"])
        .assert()
        .success()
        .stdout("leek\n");
    // A put after the delete brings the key back.
    scratch.wal("put", &["fruit", "fig"]).assert().stdout("4\n");
    scratch
        .wal("get", &["fruit"])
        .assert()
        .success()
        .stdout("fig\n");
}

#[cfg(unix)]
#[test]
fn keys_and_values_are_raw_bytes() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    let scratch = Scratch::new();
    let key = OsStr::from_bytes(b"k\xff\x01");
    let value = OsStr::from_bytes(b"v\xfe\n");
    scratch
        .wal("put", &[])
        .arg(key)
        .arg(value)
        .assert()
        .success();
    let record = &scratch.entries()[0].record;
    assert_eq!(record.key, b"k\xff\x01");
    assert_eq!(record.value, b"v\xfe\n");
    scratch
        .wal("get", &[])
        .arg(key)
        .assert()
        .success()
        .stdout(predicate::eq(&b"v\xfe\n\n"[..]));
}

#[test]
fn put_after_a_torn_tail_cuts_it_saves_it_and_continues_the_lsns() {
    let scratch = Scratch::torn(5);
    let damage = damage_of(&scratch.path);
    let before = scratch.bytes();
    scratch
        .wal("put", &["elder", "black"])
        .assert()
        .success()
        .stdout("4\n")
        .stderr(predicate::str::contains(format!(
            "{}: cut torn tail at offset {} ({} bytes), saved to {}",
            scratch.shown(),
            damage.offset,
            damage.bytes_to_end,
            scratch.broken_file(damage.offset).display()
        )));
    let saved = fs::read(scratch.broken_file(damage.offset)).unwrap();
    let header = wal::file_header(scratch.format());
    assert_eq!(
        saved,
        [&header[..], &before[damage.offset as usize..]].concat()
    );
    let entries = scratch.entries();
    let lsns: Vec<u64> = entries.iter().map(|e| e.record.lsn).collect();
    assert_eq!(lsns, [1, 2, 3, 4]);
    assert_eq!(entries[3].record.key, b"elder");
    scratch.wal("verify", &[]).assert().success();
}

#[test]
fn writers_refuse_a_log_with_readable_records_after_damage() {
    let scratch = Scratch::corrupt_mid_log();
    let before = scratch.bytes();
    let writers: [&[&str]; 3] = [
        &["put", "k", "v"],
        &["delete", "k"],
        &["load", "--records", "3"],
    ];
    for args in writers {
        let (subcommand, rest) = args.split_first().unwrap();
        scratch
            .wal(subcommand, rest)
            .assert()
            .code(3)
            .stdout("")
            .stderr(
                predicate::str::contains(scratch.shown())
                    .and(predicate::str::contains("2 readable records after it"))
                    .and(predicate::str::contains("wal repair --force")),
            );
        assert_eq!(scratch.bytes(), before, "{subcommand} modified the log");
    }
    assert_eq!(
        scratch.files(),
        ["test.wal"],
        "nothing saved beside the log"
    );
}

#[test]
fn get_on_a_log_with_mid_log_damage_warns_and_answers_from_the_prefix() {
    let scratch = Scratch::corrupt_mid_log();
    let damage = damage_of(&scratch.path);
    scratch
        .wal("get", &["apple"])
        .assert()
        .success()
        .stdout("red\n")
        .stderr(predicate::str::contains(format!(
            "{}: warning: skipping corrupt record at offset {}",
            scratch.shown(),
            damage.offset
        )));
    // `cherry` sits behind the damage: replay never reaches it.
    scratch.wal("get", &["cherry"]).assert().code(1);
}

#[test]
fn get_on_a_torn_log_says_in_its_warning_that_it_is_a_torn_tail() {
    let scratch = Scratch::torn(5);
    let damage = damage_of(&scratch.path);
    scratch
        .wal("get", &["apple"])
        .assert()
        .success()
        .stderr(predicate::str::contains(format!(
            "{}: warning: skipping corrupt record at offset {} (incomplete record: \
             only {} bytes before the end of the file); a torn tail\n",
            scratch.shown(),
            damage.offset,
            damage.bytes_to_end
        )));
    // The same words as the verdict of `wal verify`.
    scratch
        .wal("verify", &[])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(format!(
            "torn tail at offset {}",
            damage.offset
        )));
}

/// A power failure zeroed a sector of an unsynced write while later sectors
/// landed: the writers cut it as a torn tail instead of refusing (exit 3).
#[test]
fn put_cuts_a_zero_filled_tail_with_records_behind_it() {
    let scratch = Scratch::with_puts(&[("k", &"v".repeat(1200)), ("k2", "after")]);
    let mut bytes = scratch.bytes();
    bytes[512..1024].fill(0);
    fs::write(&scratch.path, &bytes).unwrap();
    scratch
        .wal("verify", &[])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "zero-filled; 1 readable record after it, never acknowledged",
        ));
    scratch
        .wal("put", &["new", "value"])
        .assert()
        .success()
        // LSN 2 was cut off with the zero-filled record: never reused.
        .stdout("3\n")
        .stderr(predicate::str::contains("cut torn tail at offset 24"));
}
