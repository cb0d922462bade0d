//! Paths that are not plain log files: a FIFO is refused at once (opening
//! one blocks until a writer comes), and a log reached through a symlink
//! keeps its saved tails beside the real file.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::{Log, puts};
use wal::{Error, KvStore};

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// Runs `open` on another thread and waits a bounded time for its answer:
/// a reader that blocks in `open` fails the test instead of hanging it.
fn answer_within<T: Send + 'static>(open: impl FnOnce() -> T + Send + 'static) -> T {
    let (send, receive) = mpsc::channel();
    thread::spawn(move || {
        let _ = send.send(open());
    });
    receive
        .recv_timeout(Duration::from_secs(20))
        .expect("opening a FIFO must not block")
}

#[test]
fn a_fifo_is_refused_by_readers_and_writers_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.wal");
    mkfifo(&fifo);
    let path = fifo.clone();
    let read = answer_within(move || wal::WalReader::open(&path).err());
    assert!(
        matches!(&read, Some(Error::NotAFile { kind: "FIFO", .. })),
        "{read:?}"
    );
    let path = fifo.clone();
    let write = answer_within(move || KvStore::recover(&path).err());
    assert!(matches!(write, Some(Error::NotAFile { .. })), "{write:?}");
    let shown = read.unwrap().to_string();
    assert!(
        shown.contains("pipe.wal: not a regular file (a FIFO)"),
        "{shown}"
    );
    let directory = wal::WalReader::open(dir.path()).err().unwrap();
    assert!(matches!(
        directory,
        Error::NotAFile {
            kind: "directory",
            ..
        }
    ));
}

#[test]
fn a_tail_cut_through_a_symlink_is_saved_beside_the_real_log() {
    let dir = tempfile::tempdir().unwrap();
    let real_dir = dir.path().join("data");
    fs::create_dir(&real_dir).unwrap();
    let real = real_dir.join("real.wal");
    let log = Log::new(&puts(3, 10));
    fs::write(&real, &log.bytes[..log.bytes.len() - 3]).unwrap();
    let link = dir.path().join("link.wal");
    std::os::unix::fs::symlink(&real, &link).unwrap();

    let (_store, report) = KvStore::recover(&link).unwrap();
    let cut = report.cut.expect("the torn tail is cut");
    let expected = real_dir.join(format!("real.wal.broken-{}", log.offsets[2]));
    assert_eq!(
        fs::canonicalize(&cut.saved_to).unwrap(),
        fs::canonicalize(&expected).unwrap()
    );
    assert!(expected.is_file());
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let beside_link: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        beside_link.len(),
        2,
        "only `data` and the link: {beside_link:?}"
    );
}

/// A checkpoint through a symlink replaces the file it links to (the link
/// stays a link) and keeps the snapshot beside that file.
#[test]
fn a_checkpoint_through_a_symlink_keeps_the_link() {
    let dir = tempfile::tempdir().unwrap();
    let real_dir = dir.path().join("data");
    fs::create_dir(&real_dir).unwrap();
    let real = real_dir.join("real.wal");
    let link = dir.path().join("link.wal");
    let store = KvStore::create(&real).unwrap();
    store.put("a", "1").unwrap();
    drop(store);
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let (mut store, _) = KvStore::recover(&link).unwrap();
    store.checkpoint().unwrap();
    store.put("b", "2").unwrap();
    drop(store);
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(real_dir.join("real.wal.snapshot").is_file());
    let (store, _) = KvStore::recover(&link).unwrap();
    assert_eq!(
        (store.get("a").unwrap(), store.get("b").unwrap()),
        (b"1".to_vec(), b"2".to_vec())
    );
}

/// Issue 23, item 12: a FIFO named like the log's snapshot hung every
/// command, and a link to `/dev/zero` there read without end. Both are
/// refused, at once, by writers (the lock taken or not) and readers.
#[test]
fn a_snapshot_that_is_a_fifo_or_a_device_is_refused_without_blocking() {
    for special in ["fifo", "device"] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.wal");
        let store = KvStore::create(&path).unwrap();
        store.put("a", "1").unwrap();
        drop(store);
        let snapshot = wal::snapshot_path(&path);
        match special {
            "fifo" => mkfifo(&snapshot),
            _ => std::os::unix::fs::symlink("/dev/zero", &snapshot).unwrap(),
        }
        let opening = path.clone();
        let recovered = answer_within(move || KvStore::recover(&opening).err());
        let err = recovered.expect("refused");
        assert!(matches!(err, Error::NotAFile { .. }), "{special}: {err}");
        assert!(err.to_string().contains("store.wal.snapshot"), "{err}");
        let reading = path.clone();
        let replayed = answer_within(move || {
            wal::replay_store(&reading, wal::RecoveryMode::PointInTime, |_| (), |_, _| {}).err()
        });
        assert!(
            matches!(replayed, Some(Error::NotAFile { .. })),
            "{special}: {replayed:?}"
        );
    }
}
