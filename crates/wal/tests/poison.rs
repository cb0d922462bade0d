//! A failed write or fsync poisons the writer for good: the failing call and
//! every later append or sync return an error, the failed fsync is never
//! retried, and threads waiting on it all hear about it.

mod common;

use std::sync::Arc;

use common::{HeldSync, MemHandle, wait_until};
use wal::{Error, KvStore, LogFile, Op, SyncPolicy, Wal};

fn eio() -> std::io::Error {
    std::io::Error::from_raw_os_error(5)
}

/// A file whose `sync_data` fails on call `n`, and `append_all` on call `m`.
fn failing(append_fails_on: Option<usize>, sync_fails_on: Option<usize>) -> MemHandle {
    MemHandle::with_hooks(
        Box::new(move |call| {
            if Some(call) == append_fails_on {
                Err(eio())
            } else {
                Ok(())
            }
        }),
        Box::new(move |call| {
            if Some(call) == sync_fails_on {
                Err(eio())
            } else {
                Ok(())
            }
        }),
    )
}

fn assert_poisoned(result: Result<impl std::fmt::Debug, Error>, operation: &str) {
    match result {
        Err(Error::Poisoned {
            path,
            operation: op,
            ..
        }) => {
            assert_eq!(op, operation);
            assert_eq!(path, std::path::Path::new("mem.wal"));
        }
        other => panic!("expected a writer poisoned by a failed {operation}, got {other:?}"),
    }
}

/// Every way of writing to `wal` fails, and none reaches the file.
fn assert_stays_poisoned(wal: &Wal<MemHandle>, file: &MemHandle, operation: &str) {
    let (appends, syncs) = (file.appends(), file.syncs());
    for _ in 0..3 {
        assert_poisoned(wal.append(Op::Put, b"later", b"v"), operation);
        assert_poisoned(
            wal.append_batch([(Op::Delete, &b"k"[..], &b""[..])]),
            operation,
        );
        assert_poisoned(wal.sync(), operation);
        assert_poisoned(wal.append_partial(Op::Put, b"k", b"v", 3), operation);
    }
    assert_eq!(file.appends(), appends, "a poisoned writer wrote");
    assert_eq!(file.syncs(), syncs, "a poisoned writer retried the fsync");
}

#[test]
fn a_failed_fsync_poisons_every_later_append_and_sync() {
    let file = failing(None, Some(3));
    let wal = file.wal(SyncPolicy::Always);
    assert_eq!(wal.append(Op::Put, b"a", b"1").unwrap(), 1);
    assert_eq!(wal.append(Op::Put, b"b", b"2").unwrap(), 2);
    let err = wal.append(Op::Put, b"c", b"3").unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("mem.wal") && message.contains("fsync"),
        "{message}"
    );
    assert!(message.contains("reopen"), "{message}");
    assert_poisoned(Err::<(), _>(err), "fsync");
    assert_eq!(wal.durable_lsn(), 2, "record 3 was never acknowledged");
    assert_stays_poisoned(&wal, &file, "fsync");
}

#[test]
fn a_failed_explicit_sync_poisons_a_never_syncing_writer() {
    let file = failing(None, Some(1));
    let wal = file.wal(SyncPolicy::Never);
    assert_eq!(wal.append(Op::Put, b"a", b"1").unwrap(), 1);
    assert_poisoned(wal.sync(), "fsync");
    assert_eq!(wal.durable_lsn(), 0);
    assert_stays_poisoned(&wal, &file, "fsync");
}

#[test]
fn a_failed_fsync_on_the_nth_record_poisons_an_every_n_writer() {
    let file = failing(None, Some(1));
    let wal = file.wal(SyncPolicy::EveryN(2));
    assert_eq!(wal.append(Op::Put, b"a", b"1").unwrap(), 1);
    assert_poisoned(wal.append(Op::Put, b"b", b"2"), "fsync");
    assert_stays_poisoned(&wal, &file, "fsync");
}

#[test]
fn a_failed_write_poisons_every_later_append_and_sync() {
    let file = failing(Some(2), None);
    let wal = file.wal(SyncPolicy::Always);
    assert_eq!(wal.append(Op::Put, b"a", b"1").unwrap(), 1);
    assert_poisoned(wal.append(Op::Put, b"b", b"2"), "write");
    assert_eq!(file.syncs(), 1, "no fsync after the failed write");
    assert_stays_poisoned(&wal, &file, "write");
}

#[test]
fn a_failed_write_of_a_partial_record_poisons_too() {
    let file = failing(Some(1), None);
    let wal = file.wal(SyncPolicy::Always);
    assert_poisoned(wal.append_partial(Op::Put, b"k", b"v", 5), "write");
    assert_stays_poisoned(&wal, &file, "write");
}

#[test]
fn a_poisoned_writer_drops_without_writing() {
    let file = failing(None, Some(1));
    let wal = file.wal(SyncPolicy::EveryN(100));
    assert_eq!(wal.append(Op::Put, b"a", b"1").unwrap(), 1);
    assert_poisoned(wal.sync(), "fsync");
    let appends = file.appends();
    drop(wal);
    assert_eq!(file.appends(), appends);
}

#[test]
fn threads_waiting_on_a_failed_group_fsync_all_get_errors() {
    // The first fsync holds until the test lets it fail.
    let held = HeldSync::new(true);
    let file = held.file.clone();
    let wal = Arc::new(file.wal(SyncPolicy::Always));
    let append = |key: &'static [u8]| {
        let wal = Arc::clone(&wal);
        std::thread::spawn(move || wal.append(Op::Put, key, b"v"))
    };
    let leader = append(b"leader");
    held.wait_until_held();
    // While the leader's fsync hangs, more appends buffer and wait on it.
    let waiters: Vec<_> = [&b"w1"[..], b"w2", b"w3"].into_iter().map(append).collect();
    // An append holds the lock from assigning its LSN until it waits, so
    // once every LSN is taken, every waiter is waiting.
    wait_until("every waiter took its LSN", || wal.last_lsn() == 4);
    held.release();
    assert_poisoned(leader.join().unwrap(), "fsync");
    for waiter in waiters {
        assert_poisoned(waiter.join().unwrap(), "fsync");
    }
    assert_eq!(file.syncs(), 1, "no waiter retried the failed fsync");
    assert_eq!(wal.durable_lsn(), 0);
    assert_stays_poisoned(&wal, &file, "fsync");
}

/// A real file whose fsyncs fail once `failing` is set.
struct FlakyDisk {
    file: std::fs::File,
    failing: Arc<std::sync::atomic::AtomicBool>,
}

impl LogFile for FlakyDisk {
    fn write_all_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        self.file.write_all_at(buf, offset)
    }

    fn sync_data(&self) -> std::io::Result<()> {
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(eio());
        }
        self.file.sync_data()
    }
}

#[test]
fn reopening_after_poison_recovers_what_reached_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.wal");
    drop(KvStore::create(&path).unwrap());
    let failing = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    let format = common::format_of(&std::fs::read(&path).unwrap());
    let disk = FlakyDisk {
        file,
        failing: Arc::clone(&failing),
    };
    let end = wal::LogEnd {
        format,
        offset: wal::FILE_HEADER_LEN as u64,
        last_lsn: 0,
    };
    let wal = Wal::from_file(disk, &path, end, SyncPolicy::Always);
    assert_eq!(wal.append(Op::Put, b"a", b"1").unwrap(), 1);
    failing.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(matches!(
        wal.append(Op::Put, b"b", b"2"),
        Err(Error::Poisoned { .. })
    ));
    assert!(matches!(
        wal.append(Op::Put, b"c", b"3"),
        Err(Error::Poisoned { .. })
    ));
    drop(wal);
    // Record 2 reached the page cache before its fsync failed; whether it
    // survives is up to the disk. Record 3 was never written.
    let (store, report) = KvStore::recover(&path).unwrap();
    assert_eq!(report.damage, None);
    assert_eq!(store.get("a").as_deref(), Some(&b"1"[..]));
    assert_eq!(store.get("c"), None);
    assert_eq!(store.put("d", "4").unwrap(), report.last_lsn + 1);
}

/// After a failed fsync the file is cut back to what the last good fsync
/// covered: the records written since were never acknowledged, and left in
/// place a reopen would replay them (from the disk, or from a page cache
/// the kernel marked clean without writing).
#[test]
fn a_failed_fsync_cuts_the_file_back_to_its_durable_length() {
    let file = failing(None, Some(3));
    let wal = file.wal(SyncPolicy::Always);
    wal.append(Op::Put, b"a", b"1").unwrap();
    wal.append(Op::Put, b"b", b"2").unwrap();
    let durable = file.bytes();
    assert_poisoned(wal.append(Op::Put, b"c", b"3"), "fsync");
    assert_eq!(file.bytes(), durable, "only acknowledged records remain");
    assert_eq!(file.bytes(), file.synced_bytes());
}

/// A preallocated (version-2) log whose zeros do not fit (a full disk, a
/// file-size limit) is no failed append: the zeros are no data, so they are
/// taken back and the writer goes on without preallocating. A failed write
/// of the records themselves still poisons.
#[test]
fn zeros_that_do_not_fit_are_taken_back_and_appends_go_on() {
    // The first append's writes: call 1 its record, call 2 the zeros after.
    let file = MemHandle::in_format(
        common::FORMAT,
        Box::new(|call| if call == 2 { Err(eio()) } else { Ok(()) }),
        Box::new(|_| Ok(())),
    );
    let wal = file.wal(SyncPolicy::Always);
    assert_eq!(wal.append(Op::Put, b"a", b"1").unwrap(), 1);
    assert_eq!(wal.append(Op::Put, b"b", b"2").unwrap(), 2);
    assert_eq!(
        file.bytes().len() as u64,
        wal.end_offset(),
        "no zeros after the log"
    );
    assert_eq!(file.synced_bytes(), file.bytes());
    assert_eq!(common::read_bytes(&file.bytes()).0.len(), 2);

    // With the first step done, the zeros of the write that outgrows it.
    let file = MemHandle::in_format(
        common::FORMAT,
        Box::new(|call| if call == 4 { Err(eio()) } else { Ok(()) }),
        Box::new(|_| Ok(())),
    );
    let wal = file.wal(SyncPolicy::Always);
    let value = vec![7u8; 40 * 1024];
    assert_eq!(wal.append(Op::Put, b"a", &value).unwrap(), 1);
    assert_eq!(wal.append(Op::Put, b"b", &value).unwrap(), 2);
    assert_eq!(file.bytes().len() as u64, wal.end_offset());

    // The record's own write failing poisons, as ever.
    let file = MemHandle::in_format(
        common::FORMAT,
        Box::new(|call| if call == 1 { Err(eio()) } else { Ok(()) }),
        Box::new(|_| Ok(())),
    );
    let wal = file.wal(SyncPolicy::Always);
    assert_poisoned(wal.append(Op::Put, b"a", b"1"), "write");
    assert_eq!(file.bytes(), wal::file_header(common::FORMAT));
}

/// A failed write in the middle of unsynced records takes back every record
/// since the last fsync, however many writes reached the file before it.
#[test]
fn a_failed_write_cuts_back_every_unsynced_write() {
    let file = failing(Some(3), None);
    let wal = file.wal(SyncPolicy::Never);
    let value = vec![b'v'; 200 * 1024];
    wal.append(Op::Put, b"a", b"1").unwrap();
    wal.sync().unwrap();
    let durable = file.bytes();
    // Every second of these fills the write buffer and hands it over to
    // be written (by the log's writing thread, which reports a failure at
    // a later hand-over or at the latest at the sync).
    for _ in 0..6 {
        if wal.append(Op::Put, b"big", &value).is_err() {
            break;
        }
    }
    assert_poisoned(wal.sync(), "write");
    assert!(file.appends() >= 3, "the third write was tried");
    assert_eq!(file.bytes(), durable, "nothing unsynced remains");
}

/// A log dropped while a failed write behind is unreported poisons itself
/// on the way out: the records it still buffers are not written after the
/// gap the failed write left, and what was not synced is cut back.
#[test]
fn a_dropped_log_writes_nothing_after_a_failed_write_behind() {
    let file = failing(Some(2), None);
    let wal = file.wal(SyncPolicy::Never);
    wal.append(Op::Put, b"a", b"1").unwrap();
    wal.sync().unwrap();
    let durable = file.bytes();
    // The second of these fills the buffer and hands it over: write 2,
    // which fails on the log's writing thread.
    let value = vec![b'v'; 200 * 1024];
    wal.append(Op::Put, b"big1", &value).unwrap();
    wal.append(Op::Put, b"big2", &value).unwrap();
    // Only buffered.
    wal.append(Op::Put, b"b", b"2").unwrap();
    drop(wal);
    assert_eq!(file.appends(), 2, "a write after the failed one");
    assert_eq!(file.bytes(), durable, "nothing unsynced remains");
}

/// A failed write that poisons the log while another thread's fsync runs
/// outside the lock cuts the file back under that fsync: the records it
/// was syncing are gone, so the log must not count them as durable when it
/// returns (it returns the poisoning error).
#[test]
fn an_fsync_overtaken_by_a_poisoning_cut_makes_nothing_durable() {
    let failing_writes = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (entered_tx, entered) = std::sync::mpsc::channel();
    let (release, release_rx) = std::sync::mpsc::channel::<()>();
    let (entered_tx, release_rx) = (
        std::sync::Mutex::new(entered_tx),
        std::sync::Mutex::new(release_rx),
    );
    let fail = Arc::clone(&failing_writes);
    let file = MemHandle::with_hooks(
        Box::new(move |_| {
            if fail.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(eio());
            }
            Ok(())
        }),
        Box::new(move |call| {
            if call == 1 {
                entered_tx.lock().unwrap().send(()).unwrap();
                release_rx.lock().unwrap().recv().unwrap();
            }
            Ok(())
        }),
    );
    let wal = Arc::new(file.wal(SyncPolicy::Never));
    wal.append(Op::Put, b"a", b"1").unwrap();
    let leader = {
        let wal = Arc::clone(&wal);
        std::thread::spawn(move || wal.sync())
    };
    entered.recv().unwrap();
    // While the fsync of record 1 is held: a full buffer's write fails,
    // and the log, poisoned, cuts back to its last durable end.
    failing_writes.store(true, std::sync::atomic::Ordering::SeqCst);
    let value = vec![b'v'; 200 * 1024];
    let failed = (0..40).find_map(|_| wal.append(Op::Put, b"big", &value).err());
    assert_poisoned(failed.map_or(Ok(()), Err), "write");
    assert_eq!(file.bytes(), wal::file_header(file.format), "cut back");
    release.send(()).unwrap();
    assert_poisoned(leader.join().unwrap(), "write");
    assert_eq!(wal.durable_lsn(), 0, "record 1 was cut, not made durable");
}
