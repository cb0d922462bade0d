//! Checkpoints: a snapshot of the map beside the log, a new log after it.
//! Recovery reads the snapshot, then the log's later records; LSNs continue
//! across checkpoints; a damaged snapshot is refused, never taken for empty.
//! (Crashes at every step of a checkpoint: `wal-cli/tests/cli/checkpoint.rs`.)

use std::fs;

use wal::{Error, KvStore, snapshot_path};

#[test]
fn a_checkpoint_restarts_the_log_and_recovery_reads_snapshot_then_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.wal");
    let mut store = KvStore::create(&path).unwrap();
    for i in 0..10 {
        store.put(format!("k{i}"), format!("v{i}")).unwrap();
    }
    store.delete("k3").unwrap();
    let before = fs::metadata(&path).unwrap().len();
    assert_eq!(store.checkpoint().unwrap(), 11);
    assert!(
        fs::metadata(&path).unwrap().len() < before,
        "the log restarted"
    );
    assert!(snapshot_path(&path).is_file());
    assert_eq!(store.put("k0", "new").unwrap(), 12, "LSNs continue");
    store.delete("k4").unwrap();
    let expected = store.snapshot();
    drop(store);

    let (store, report) = KvStore::recover(&path).unwrap();
    assert_eq!(store.snapshot(), expected);
    assert_eq!(report.last_lsn, 13);
    assert_eq!(
        report.records_replayed, 2,
        "only the records after the snapshot"
    );
    assert_eq!(store.put("k1", "x").unwrap(), 14);
    drop(store);
    // A second checkpoint replaces the first.
    let (mut store, _) = KvStore::recover(&path).unwrap();
    assert_eq!(store.checkpoint().unwrap(), 14);
    drop(store);
    let (store, report) = KvStore::recover(&path).unwrap();
    assert_eq!((report.records_replayed, report.last_lsn), (0, 14));
    assert_eq!(store.get("k1").unwrap(), b"x");
}

#[test]
fn a_damaged_snapshot_is_refused_and_nothing_is_touched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.wal");
    let mut store = KvStore::create(&path).unwrap();
    store.put("a", "1").unwrap();
    store.checkpoint().unwrap();
    drop(store);
    let snapshot = snapshot_path(&path);
    let mut bytes = fs::read(&snapshot).unwrap();
    bytes[30] ^= 1;
    fs::write(&snapshot, &bytes).unwrap();
    let log = fs::read(&path).unwrap();
    let err = KvStore::recover(&path).err().expect("refused");
    assert!(matches!(err, Error::DamagedSnapshot { .. }), "{err}");
    assert!(err.to_string().contains("store.wal.snapshot"), "{err}");
    assert_eq!(fs::read(&path).unwrap(), log);
    assert_eq!(fs::read(&snapshot).unwrap(), bytes);
}

/// The log removed after a checkpoint: the snapshot still holds the map, and
/// the new log's LSNs follow the snapshot's instead of starting at 1 (where
/// recovery would skip them as already in the snapshot).
#[test]
fn a_log_removed_after_a_checkpoint_continues_after_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.wal");
    let mut store = KvStore::create(&path).unwrap();
    store.put("a", "1").unwrap();
    store.put("b", "2").unwrap();
    store.checkpoint().unwrap();
    drop(store);
    fs::remove_file(&path).unwrap();
    let (store, _) = KvStore::recover(&path).unwrap();
    assert_eq!(store.get("a").unwrap(), b"1");
    assert_eq!(store.put("c", "3").unwrap(), 3);
    drop(store);
    let (store, _) = KvStore::recover(&path).unwrap();
    assert_eq!(
        store.get("c").unwrap(),
        b"3",
        "the new record is not skipped"
    );
}
