//! Creating a log is atomic: writers racing to create the same log never
//! both write a header, and every record either of them acknowledged is in
//! the log afterwards.

mod common;

use std::sync::{Arc, Barrier};
use std::thread;

use wal::KvStore;

/// Two writers (separate file handles, so separate locks, as two processes
/// would have) race to create one log, each appending one record. Before
/// creation was atomic, one of them could lock the new, empty file first and
/// write its header and LSN 1, and the other then wrote a second header and
/// a second LSN 1 behind it: a later writer cut that as a torn tail.
#[test]
fn racing_creators_both_keep_their_record() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..300 {
        let path = dir.path().join(format!("race-{round}.wal"));
        let barrier = Arc::new(Barrier::new(2));
        let writers: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|key| {
                let (path, barrier) = (path.clone(), Arc::clone(&barrier));
                thread::spawn(move || {
                    barrier.wait();
                    let (store, _) = KvStore::recover(&path).expect("open or create");
                    let lsn = store.put(key, "acknowledged").expect("put");
                    (key, lsn)
                })
            })
            .collect();
        let mut acks: Vec<_> = writers.into_iter().map(|w| w.join().unwrap()).collect();
        acks.sort_by_key(|&(_, lsn)| lsn);
        assert_eq!(
            acks.iter().map(|&(_, lsn)| lsn).collect::<Vec<_>>(),
            [1, 2],
            "round {round}: each writer got its own LSN"
        );
        let (records, summary) = common::read_path(&path);
        assert_eq!(
            summary.damage, None,
            "round {round}: the log verifies clean"
        );
        let keys: Vec<_> = records.iter().map(|r| r.key.clone()).collect();
        let acked: Vec<_> = acks
            .iter()
            .map(|&(key, _)| key.as_bytes().to_vec())
            .collect();
        assert_eq!(
            keys, acked,
            "round {round}: every acknowledged record is there"
        );
    }
}

/// A losing creator gets `AlreadyExists`, never a second header.
#[test]
fn create_refuses_an_existing_log_and_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one.wal");
    let store = KvStore::create(&path).unwrap();
    store.put("k", "v").unwrap();
    assert!(matches!(
        KvStore::create(&path),
        Err(wal::Error::AlreadyExists { .. })
    ));
    drop(store);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["one.wal"], "no temporary file is left behind");
    assert_eq!(common::read_path(&path).0.len(), 1);
}

/// A new log gets the mode any newly created file gets (0666 less the
/// umask), not the 0600 of a temporary file.
#[test]
fn a_new_log_has_the_usual_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain");
    std::fs::File::create(&plain).unwrap();
    let path = dir.path().join("mode.wal");
    KvStore::create(&path).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), mode(&plain));
}
