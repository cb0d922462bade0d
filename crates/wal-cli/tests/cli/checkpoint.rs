//! `wal checkpoint`, killed with SIGKILL right after each file-changing
//! system call it makes (`WAL_CRASH_AT=N`): whatever step it dies at, the
//! store recovers exactly the map it had, LSNs continue where they were, and
//! a checkpoint run afterwards completes.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use wait_timeout::ChildExt;
use wal::KvStore;

use crate::support::Scratch;

/// The file-changing calls of a checkpoint: for the snapshot and then the
/// new log, a temporary file created, written, fsync'd, renamed into place,
/// and the directory fsync'd.
const CRASH_POINTS: u32 = 10;

fn store_with_history(scratch: &Scratch) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let store = KvStore::create(&scratch.path).unwrap();
    for i in 0..20 {
        store.put(format!("k{i}"), format!("v{i}")).unwrap();
    }
    store.delete("k7").unwrap();
    store.put("k1", "changed").unwrap();
    store.snapshot()
}

#[test]
fn a_checkpoint_killed_at_every_file_changing_call_loses_nothing() {
    for crash_at in 1..=CRASH_POINTS + 1 {
        let scratch = Scratch::new();
        let expected = store_with_history(&scratch);
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("wal"))
            .arg("checkpoint")
            .arg(&scratch.path)
            .env("WAL_CRASH_AT", crash_at.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let status = child
            .wait_timeout(Duration::from_secs(30))
            .unwrap()
            .expect("the checkpoint ends");
        if crash_at <= CRASH_POINTS {
            assert_eq!(status.signal(), Some(9), "killed at point {crash_at}");
        } else {
            assert!(status.success(), "past the last point it completes");
        }
        let (mut store, _) = KvStore::recover(&scratch.path)
            .unwrap_or_else(|err| panic!("crash at {crash_at}: {err}"));
        assert_eq!(store.snapshot(), expected, "crash at {crash_at}: the map");
        assert_eq!(
            store.put("after", "1").unwrap(),
            23,
            "crash at {crash_at}: LSNs"
        );
        assert_eq!(store.checkpoint().unwrap(), 23, "crash at {crash_at}");
        drop(store);
        let (store, report) = KvStore::recover(&scratch.path).unwrap();
        assert_eq!(report.last_lsn, 23);
        assert_eq!(store.len(), expected.len() + 1, "crash at {crash_at}");
    }
}

#[test]
fn get_and_dump_read_the_snapshot_and_the_log() {
    let scratch = Scratch::with_puts(&[("a", "1"), ("b", "2")]);
    scratch
        .wal("checkpoint", &[])
        .assert()
        .success()
        .stdout(format!(
            "{}: checkpoint at LSN 2: 2 keys in {}.snapshot; the log restarts after it\n",
            scratch.shown(),
            scratch.shown()
        ));
    scratch
        .wal("put", &["c", "3"])
        .assert()
        .success()
        .stdout("3\n");
    scratch.wal("get", &["a"]).assert().success().stdout("1\n");
    scratch.wal("get", &["c"]).assert().success().stdout("3\n");
    let dumped = scratch.wal("dump", &[]).output().unwrap();
    let dumped = String::from_utf8(dumped.stdout).unwrap();
    assert!(
        dumped.starts_with(&format!(
            "snapshot {}.snapshot: LSNs up to 2, 2 keys;",
            scratch.shown()
        )),
        "{dumped}"
    );
    assert!(dumped.contains("         3  put     \"c\""), "{dumped}");
}
