//! Checkpoints racing writers and failing half way, made deterministic: one
//! side is held at a named step (`wal::set_step_hook`) while the other runs.
//! Every acknowledged record must come back, under the LSN it was given.

use std::fs;
use std::io;
use std::sync::mpsc;
use std::thread;

use wal::{Error, KvStore, Op, SyncPolicy, Wal, snapshot_path};

/// Runs `open` on a thread that stops at the step `at` until told to go on;
/// returns once it is there, with the handle and the go-ahead.
fn held_at<T: Send + 'static>(
    at: &'static str,
    open: impl FnOnce() -> T + Send + 'static,
) -> (thread::JoinHandle<T>, mpsc::Sender<()>) {
    let (reached_tx, reached) = mpsc::channel();
    let (go, go_rx) = mpsc::channel::<()>();
    let handle = thread::spawn(move || {
        let mut go_rx = Some(go_rx);
        wal::set_step_hook(Some(Box::new(move |step| {
            if step == at
                && let Some(go_rx) = go_rx.take()
            {
                reached_tx.send(()).unwrap();
                go_rx.recv().unwrap();
            }
            Ok(())
        })));
        open()
    });
    reached.recv().expect("the held side reaches its step");
    (handle, go)
}

/// Issue 23, item 1: a writer that opened the log just before a checkpoint
/// renamed a new log over it, and got the lock once the checkpoint let go of
/// the old file, must not append to that old, unlinked file.
#[test]
fn a_writer_that_locked_the_log_a_checkpoint_replaced_opens_the_new_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.wal");
    let mut store = KvStore::create(&path).unwrap();
    store.put("a", "1").unwrap();
    let opening = path.clone();
    let (writer, go) = held_at("log opened, not yet locked", move || {
        KvStore::recover(&opening)
    });
    assert_eq!(store.checkpoint().unwrap(), 1);
    assert_eq!(store.put("b", "2").unwrap(), 2);
    drop(store);
    go.send(()).unwrap();
    let (store, report) = writer.join().unwrap().unwrap();
    assert_eq!(report.last_lsn, 2, "the writer read the new log");
    assert_eq!(store.get("b").unwrap(), b"2");
    assert_eq!(store.put("c", "3").unwrap(), 3, "no LSN handed out twice");
    drop(store);
    let (store, report) = KvStore::recover(&path).unwrap();
    assert_eq!(report.last_lsn, 3);
    assert_eq!(
        store.get("c").unwrap(),
        b"3",
        "the acknowledged put is there"
    );
}

/// Issue 23, item 2: recovery that read the snapshot, then waited while a
/// checkpoint replaced snapshot and log, must not pair the old snapshot
/// with the new log (missing every record between the two checkpoints).
#[test]
fn recovery_reads_the_snapshot_only_once_it_holds_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.wal");
    let mut store = KvStore::create(&path).unwrap();
    store.put("a", "1").unwrap();
    store.checkpoint().unwrap();
    let opening = path.clone();
    let (writer, go) = held_at("opening the log", move || KvStore::recover(&opening));
    store.put("b", "2").unwrap();
    assert_eq!(store.checkpoint().unwrap(), 2);
    drop(store);
    go.send(()).unwrap();
    let (store, report) = writer.join().unwrap().unwrap();
    assert_eq!(report.last_lsn, 2);
    assert_eq!(store.get("a").unwrap(), b"1");
    assert_eq!(store.get("b").unwrap(), b"2", "the second checkpoint's key");
}

/// Issue 23, item 3: the directory fsync after the new log's rename fails:
/// the checkpoint reports it, and the store takes no more writes into the
/// old file, which is no longer at the path.
#[test]
fn a_failed_directory_fsync_after_the_rename_poisons_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.wal");
    let mut store = KvStore::create(&path).unwrap();
    store.put("a", "1").unwrap();
    wal::set_step_hook(Some(Box::new(|step| match step {
        "syncing the log's directory" => Err(io::Error::other("injected EIO")),
        _ => Ok(()),
    })));
    let failed = store.checkpoint();
    wal::set_step_hook(None);
    let err = failed.expect_err("the checkpoint reports the failure");
    assert!(matches!(err, Error::Poisoned { .. }), "{err}");
    let put = store.put("b", "2");
    assert!(
        matches!(put, Err(Error::Poisoned { .. })),
        "nothing more is acknowledged: {put:?}"
    );
    drop(store);
    let (store, report) = KvStore::recover(&path).unwrap();
    assert_eq!(store.get("a").unwrap(), b"1");
    assert_eq!(report.last_lsn, 1);
}

/// Issue 23, item 6: a new log is not created beside a checkpoint's
/// snapshot (its records, from LSN 1, would be skipped as in the snapshot).
#[test]
fn a_new_log_beside_a_snapshot_is_refused_and_recovery_continues_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.wal");
    let mut store = KvStore::create(&path).unwrap();
    store.put("a", "1").unwrap();
    store.put("b", "2").unwrap();
    store.checkpoint().unwrap();
    drop(store);
    fs::remove_file(&path).unwrap();
    let snapshot = fs::read(snapshot_path(&path)).unwrap();
    let err = KvStore::create(&path).err().expect("refused");
    assert!(matches!(err, Error::SnapshotBeside { .. }), "{err}");
    assert!(err.to_string().contains("store.wal.snapshot"), "{err}");
    let err = Wal::create(&path, SyncPolicy::Always)
        .err()
        .expect("refused");
    assert!(matches!(err, Error::SnapshotBeside { .. }), "{err}");
    assert!(!path.exists(), "no log left behind");
    assert_eq!(fs::read(snapshot_path(&path)).unwrap(), snapshot);
    let (store, _) = KvStore::recover(&path).unwrap();
    assert_eq!(store.put("c", "3").unwrap(), 3);
    drop(store);
    let (store, _) = KvStore::recover(&path).unwrap();
    assert_eq!(store.get("c").unwrap(), b"3");
}

/// Issue 23, item 6: a record logged through `KvStore::wal()` and not
/// applied (the drills' WALPUT) is acknowledged; a checkpoint keeps it.
#[test]
fn a_checkpoint_keeps_a_record_logged_but_not_applied() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.wal");
    let mut store = KvStore::create(&path).unwrap();
    store.put("a", "1").unwrap();
    let lsn = store.wal().append(Op::Put, b"b", b"2").unwrap();
    store.wal().append(Op::Delete, b"a", b"").unwrap();
    assert_eq!(store.get("b"), None, "not applied");
    assert_eq!(store.checkpoint().unwrap(), lsn + 1);
    drop(store);
    let (store, report) = KvStore::recover(&path).unwrap();
    assert_eq!(report.last_lsn, 3);
    assert_eq!(store.get("b").unwrap(), b"2");
    assert_eq!(store.get("a"), None);
}

/// Issue 23, item 2, for readers (`wal get`): a reader that opened the log,
/// then waited while a checkpoint ran, reads the snapshot that goes with
/// (or is newer than) the log it holds.
#[test]
fn a_reader_pairs_the_log_it_opened_with_a_snapshot_at_least_as_new() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.wal");
    let mut store = KvStore::create(&path).unwrap();
    store.put("a", "1").unwrap();
    store.checkpoint().unwrap();
    store.put("b", "2").unwrap();
    let reading = path.clone();
    let (reader, go) = held_at("log opened for reading", move || {
        let start = |snapshot: Option<wal::Snapshot>| {
            let floor = snapshot.as_ref().map_or(0, |s| s.lsn);
            (floor, snapshot.map(|s| s.map).unwrap_or_default())
        };
        wal::replay_store(
            &reading,
            wal::RecoveryMode::AbsoluteConsistency,
            start,
            |(floor, map), record| {
                if record.lsn > *floor {
                    map.insert(record.key.to_vec(), record.value.to_vec());
                }
            },
        )
    });
    store.checkpoint().unwrap();
    store.put("c", "3").unwrap();
    store.checkpoint().unwrap();
    go.send(()).unwrap();
    let (_, (floor, map)) = reader.join().unwrap().unwrap();
    assert_eq!(floor, 3);
    let keys: Vec<&[u8]> = map.keys().map(Vec::as_slice).collect();
    assert_eq!(keys, [&b"a"[..], b"b", b"c"]);
}

/// Issue 23, item 14: only a killed checkpoint's own temporary files are
/// removed by the next writer; another log's, whose name starts like ours,
/// are left alone.
#[test]
fn a_writer_removes_only_this_logs_stale_checkpoint_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.wal");
    drop(KvStore::create(&path).unwrap());
    let ours = [".store.wal.a1B2c3.tmp", ".store.wal.snapshot.Zz9y8X.tmp"];
    let theirs = [
        ".store.wal.x.a1B2c3.tmp",
        ".store.wal.toolong7.tmp",
        ".store.walx.a1B2c3.tmp",
        ".store.wal.a1B2c3.creating",
    ];
    for name in ours.iter().chain(&theirs) {
        fs::write(dir.path().join(name), b"left behind").unwrap();
    }
    drop(KvStore::recover(&path).unwrap());
    for name in ours {
        assert!(!dir.path().join(name).exists(), "{name} removed");
    }
    for name in theirs {
        assert!(dir.path().join(name).exists(), "{name} kept");
    }
}
