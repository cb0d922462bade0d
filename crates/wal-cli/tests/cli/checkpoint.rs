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
        // The killed checkpoint's temporary files go with the next writer.
        let left: Vec<String> = std::fs::read_dir(scratch.dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "crash at {crash_at}: left {left:?}");
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

/// Issue 23: writers, readers and checkpoints in separate processes at once,
/// for a bounded number of rounds. Afterwards every acknowledged put (exit
/// 0, its LSN printed) is in the store, no LSN was acknowledged twice, and
/// every reader found every key acknowledged before its round began. A
/// writer may be refused (another holds the lock too long on a loaded
/// machine, or checkpoints kept replacing the log): that acknowledges
/// nothing, and the refusal must say so.
#[test]
fn writers_readers_and_checkpoints_in_many_processes_lose_nothing() {
    use std::collections::BTreeSet;
    use std::process::{Child, Command, Stdio};

    const ROUNDS: usize = 12;
    const WRITERS: usize = 3;
    let scratch = Scratch::with_puts(&[("seed", "0")]);
    let spawn = |args: &[&str]| -> Child {
        Command::new(assert_cmd::cargo::cargo_bin!("wal"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let finish = |mut child: Child| -> (i32, String, String) {
        let status = child
            .wait_timeout(Duration::from_secs(60))
            .unwrap()
            .expect("every child ends");
        let output = child.wait_with_output().unwrap();
        let text = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap();
        let code = status.code().expect("not killed");
        (code, text(output.stdout), text(output.stderr))
    };
    let file = scratch.path.to_str().unwrap().to_string();
    let mut acknowledged: BTreeMap<String, String> = BTreeMap::new();
    acknowledged.insert("seed".into(), "0".into());
    let mut lsns = BTreeSet::from([1u64]);
    for round in 0..ROUNDS {
        let before: Vec<(String, String)> = acknowledged
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut writers = Vec::new();
        for writer in 0..WRITERS {
            let (key, value) = (format!("r{round}w{writer}"), format!("v{round}.{writer}"));
            writers.push((
                key.clone(),
                value.clone(),
                spawn(&["put", &file, &key, &value]),
            ));
        }
        let checkpoint = spawn(&["checkpoint", &file]);
        let (old_key, old_value) = &before[round % before.len()];
        let reader = spawn(&["get", &file, old_key]);
        for (key, value, child) in writers {
            let (code, stdout, stderr) = finish(child);
            if code == 0 {
                let lsn: u64 = stdout.trim().parse().unwrap();
                assert!(lsns.insert(lsn), "LSN {lsn} acknowledged twice ({key})");
                acknowledged.insert(key, value);
            } else {
                assert!(
                    stderr.contains("another writer") || stderr.contains("was replaced"),
                    "round {round}: {key}: exit {code}: {stderr}"
                );
            }
        }
        let (code, _, stderr) = finish(checkpoint);
        assert!(
            code == 0 || stderr.contains("another writer") || stderr.contains("was replaced"),
            "round {round}: checkpoint: exit {code}: {stderr}"
        );
        let (code, stdout, stderr) = finish(reader);
        assert_eq!(code, 0, "round {round}: get {old_key}: {stderr}");
        assert_eq!(
            stdout,
            format!("{old_value}\n"),
            "round {round}: get {old_key}"
        );
    }
    let (store, report) = KvStore::recover(&scratch.path).unwrap();
    for (key, value) in &acknowledged {
        assert_eq!(
            store.get(key).as_deref(),
            Some(value.as_bytes()),
            "acknowledged {key} is there"
        );
    }
    assert_eq!(store.len(), acknowledged.len());
    assert!(report.last_lsn >= *lsns.last().unwrap());
    assert!(
        acknowledged.len() > ROUNDS,
        "most writers got through: {}",
        acknowledged.len()
    );
}
