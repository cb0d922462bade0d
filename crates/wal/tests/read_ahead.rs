//! A large log is read with a helper thread reading the file ahead (see the
//! `read_ahead` module), and the helper never outlives the read: its handle
//! on the file shares the writer's lock. One test in its own binary, so no
//! other test's helper is counted.

use wal::{Op, SyncPolicy, Wal, WalOptions, WalReader};

/// Threads of this process that are a log's read-ahead helper.
fn helpers() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter(|task| {
            let comm = task.as_ref().expect("a task").path().join("comm");
            std::fs::read_to_string(comm).is_ok_and(|name| name.trim() == "wal-read-ahead")
        })
        .count()
}

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
    assert_eq!(helpers(), 0);

    // Recovery: a helper while the records are read, none once the log is
    // open for appends.
    let mut seen = Vec::new();
    let (wal, report) = wal::open(&path, WalOptions::default(), |record| {
        if record.lsn % 1000 == 1 {
            seen.push(helpers());
        }
    })
    .unwrap();
    assert_eq!(report.last_lsn, 4000);
    assert_eq!(seen, [1, 1, 1, 1]);
    assert_eq!(helpers(), 0);
    drop(wal);

    // A reader dropped halfway takes its helper with it.
    let mut reader = WalReader::open(&path).unwrap();
    reader.next_entry().unwrap().expect("a record");
    assert_eq!(helpers(), 1);
    drop(reader);
    assert_eq!(helpers(), 0);
}
