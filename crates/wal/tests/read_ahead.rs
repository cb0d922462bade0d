//! A large log is read with a helper thread reading the file ahead (see the
//! `read_ahead` module), and the helper never outlives the read: its handle
//! on the file shares the writer's lock. One test in its own binary, so no
//! other test's helper is counted.

mod common;

use wal::{Op, SyncPolicy, Wal, WalOptions, WalReader};

#[test]
fn a_large_log_is_read_ahead_and_the_helper_ends_with_the_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.log");
    let wal = Wal::create(&path, SyncPolicy::Never).unwrap();
    for n in 0..4000u32 {
        wal.append(Op::Put, &n.to_le_bytes(), &[7; 1000]).unwrap();
    }
    wal.sync().unwrap();
    drop(wal);
    assert_eq!(common::threads_named("wal-read-ahead"), 0);

    // Recovery: a helper while the records are read, none once the log is
    // open for appends.
    let mut seen = Vec::new();
    let (wal, report) = wal::open(&path, WalOptions::default(), |record| {
        if record.lsn % 1000 == 1 {
            seen.push(common::threads_named("wal-read-ahead"));
        }
    })
    .unwrap();
    assert_eq!(report.last_lsn, 4000);
    assert_eq!(seen, [1, 1, 1, 1]);
    assert_eq!(common::handles_on(&path), 1, "only the writer's handle");
    helper_ends();
    drop(wal);

    // A reader dropped halfway takes its helper with it.
    let mut reader = WalReader::open(&path).unwrap();
    reader.next_entry().unwrap().expect("a record");
    assert_eq!(common::threads_named("wal-read-ahead"), 1);
    drop(reader);
    assert_eq!(common::handles_on(&path), 0);
    helper_ends();
}

fn helper_ends() {
    common::wait_until("the read-ahead thread ends", || {
        common::threads_named("wal-read-ahead") == 0
    });
}
