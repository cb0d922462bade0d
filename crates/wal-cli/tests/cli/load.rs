//! `load`: generated records, acks, sync policies and continuing a log.

use predicates::prelude::*;

use crate::support::Scratch;

fn expected_value(lsn: u64, size: usize) -> Vec<u8> {
    format!("key-{lsn:08}").bytes().cycle().take(size).collect()
}

fn acks(first: u64, last: u64) -> String {
    (first..=last).map(|lsn| format!("ack {lsn}\n")).collect()
}

fn assert_generated(scratch: &Scratch, sizes: &[(u64, usize)]) {
    let entries = scratch.entries();
    for (index, entry) in entries.iter().enumerate() {
        let lsn = entry.record.lsn;
        assert_eq!(lsn, index as u64 + 1);
        let size = sizes
            .iter()
            .rev()
            .find(|(first, _)| *first <= lsn)
            .unwrap()
            .1;
        assert_eq!(entry.record.key, format!("key-{lsn:08}").into_bytes());
        assert_eq!(entry.record.value, expected_value(lsn, size), "LSN {lsn}");
    }
}

#[test]
fn acks_every_record_in_order_under_each_sync_policy() {
    let scratch = Scratch::new();
    let runs = [("always", 1, 5), ("batch:4", 6, 15), ("never", 16, 22)];
    for (sync, first, last) in runs {
        scratch
            .wal("load", &["--records", &(last - first + 1).to_string()])
            .args(["--sync", sync, "--acks", "--value-size", "30"])
            .assert()
            .success()
            .stdout(acks(first, last))
            .stderr(
                predicate::str::contains(format!(
                    "{}: loaded {} records (LSN {first}..={last}) in ",
                    scratch.shown(),
                    last - first + 1
                ))
                .and(predicate::str::contains(format!("records/s, sync {sync}"))),
            );
    }
    assert_generated(&scratch, &[(1, 30)]);
}

#[test]
fn values_are_the_key_repeated_and_cut_to_the_value_size() {
    let scratch = Scratch::new();
    scratch
        .wal("load", &["--records", "3"])
        .assert()
        .success()
        .stdout("");
    scratch
        .wal("load", &["--records", "2", "--value-size", "0"])
        .assert()
        .success();
    scratch
        .wal("load", &["--records", "2", "--value-size", "5"])
        .assert()
        .success();
    assert_eq!(scratch.entries().len(), 7);
    assert_eq!(
        scratch.entries()[0].record.value.len(),
        100,
        "default value size"
    );
    assert_generated(&scratch, &[(1, 100), (4, 0), (6, 5)]);
    assert_eq!(scratch.entries()[6].record.value, b"key-0");
}

#[test]
fn load_continues_after_a_torn_tail_with_keys_matching_lsns() {
    let scratch = Scratch::new();
    scratch
        .wal("load", &["--records", "4", "--value-size", "9"])
        .assert()
        .success();
    // A synced load writes its records into preallocated zeros: a crash
    // during the last write leaves that record's last bytes still zero,
    // and the preallocated zeros after it.
    let log_end = wal::WalReader::open(&scratch.path)
        .unwrap()
        .finish()
        .unwrap()
        .valid_len as usize;
    let mut bytes = scratch.bytes();
    assert!(bytes.len() > log_end, "the log is preallocated");
    bytes[log_end - 3..log_end].fill(0);
    std::fs::write(&scratch.path, &bytes).unwrap();
    let fourth = scratch.entries()[2].offset + scratch.entries()[2].len;
    scratch
        .wal("load", &["--records", "2", "--value-size", "9", "--acks"])
        .assert()
        .success()
        .stdout(acks(4, 5))
        .stderr(predicate::str::contains(format!(
            "cut torn tail at offset {fourth}"
        )));
    assert_generated(&scratch, &[(1, 9)]);
    assert_eq!(scratch.entries().len(), 5);
}

#[test]
fn bad_sync_and_value_size_are_usage_errors() {
    let scratch = Scratch::new();
    for bad in [
        &["--sync", "batch:0"][..],
        &["--sync", "sometimes"],
        &["--value-size", "16777217"],
        &["--records", "-1"],
    ] {
        scratch
            .wal("load", &["--records", "1"])
            .args(bad)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("error"));
    }
    assert!(!scratch.path.exists(), "a usage error created the log");
}

/// The file size limit stops `load` mid-batch (as a full disk would): the
/// records it acknowledged are all in the log, and none it did not
/// acknowledge comes back on reopening. Before a failed write cut the file
/// back to its last fsync, the records of the half-written batch did.
#[test]
fn a_load_stopped_by_a_full_disk_leaves_exactly_the_acknowledged_records() {
    let scratch = Scratch::new();
    // `ulimit -f 1024` is 512 KiB in dash and 1 MiB in bash; SIGXFSZ
    // ignored, the write past it fails with EFBIG (ENOSPC's twin here).
    // Room for several of the log's preallocation steps (64 KiB, then
    // doubling), so batches are acknowledged before the write that fails.
    let output = std::process::Command::new("sh")
        .args([
            "-c",
            "trap '' XFSZ; ulimit -f 1024; \
             exec \"$0\" load \"$1\" --records 100000 --sync batch:100 --acks",
        ])
        .arg(assert_cmd::cargo::cargo_bin!("wal"))
        .arg(&scratch.path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let acked = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| line.strip_prefix("ack ").unwrap().parse::<u64>().unwrap())
        .max()
        .expect("some batches were acknowledged");
    let lsns: Vec<u64> = scratch.entries().iter().map(|e| e.record.lsn).collect();
    assert_eq!(
        lsns,
        (1..=acked).collect::<Vec<_>>(),
        "exactly the acknowledged records"
    );
    scratch.wal("verify", &[]).assert().success();
}

/// Issue 23, item 14: `wal load` panicked (after loading) when its stderr
/// could not take the summary line. The line is lost, the load is not.
#[test]
fn load_with_a_full_stderr_succeeds_without_a_panic() {
    let scratch = Scratch::new();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let output = std::process::Command::new(assert_cmd::cargo::cargo_bin!("wal"))
        .args(["load"])
        .arg(&scratch.path)
        .args(["--records", "10"])
        .stderr(full)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{:?}", output.status);
    let (store, report) = wal::KvStore::recover(&scratch.path).unwrap();
    assert_eq!((report.last_lsn, store.len()), (10, 10));
}
