//! A log under `SyncPolicy::Never` writes full buffers from a thread of its
//! own (see the `write_behind` module), started by the first full buffer
//! and ended with the log. One test in its own binary, so no other test's
//! thread is counted.

mod common;

use wal::{Op, SyncPolicy, Wal};

#[test]
fn a_bulk_load_writes_behind_and_the_thread_ends_with_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.log");

    // A few records never fill a buffer: no thread.
    let wal = Wal::create(&path, SyncPolicy::Never).unwrap();
    wal.append(Op::Put, b"a", b"1").unwrap();
    assert_eq!(common::threads_named("wal-writer"), 0);
    drop(wal);

    let (wal, _) = wal::open(&path, Default::default(), |_| {}).unwrap();
    drop(wal);
    let (mut wal, report) = wal::open(
        &path,
        wal::WalOptions {
            sync: SyncPolicy::Never,
            ..Default::default()
        },
        |_| {},
    )
    .unwrap();
    assert_eq!(report.last_lsn, 1);
    for n in 0..2000u32 {
        wal.append_exclusive(Op::Put, &n.to_le_bytes(), &[b'v'; 1000])
            .unwrap();
    }
    assert_eq!(common::threads_named("wal-writer"), 1);
    drop(wal);
    // The thread's handle on the file (its share of the lock) is gone
    // with the log; the thread itself a moment later at most.
    assert_eq!(common::handles_on(&path), 0);
    common::wait_until("the writing thread ends", || {
        common::threads_named("wal-writer") == 0
    });

    // Dropped without a sync: every record reached the file.
    let mut records = 0;
    let (_, report) = wal::open(&path, Default::default(), |_| records += 1).unwrap();
    assert_eq!((records, report.damage), (2001, None));
}
