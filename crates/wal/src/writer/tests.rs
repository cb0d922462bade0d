use std::io::Cursor;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::*;
use crate::format::FILE_HEADER_LEN;
use crate::log_file::MIN_PREALLOCATION;
use crate::reader::WalReader;
use crate::record::DamageKind;
use crate::record::MAX_KEY_LEN;

/// A log file in memory, shared with the test, counting fsyncs and
/// failing them on demand.
#[derive(Clone, Default)]
struct Memory {
    bytes: Arc<Mutex<Vec<u8>>>,
    syncs: Arc<AtomicUsize>,
    fail_syncs: Arc<AtomicBool>,
    fail_writes: Arc<AtomicBool>,
}

impl LogFile for Memory {
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        if self.fail_writes.load(Ordering::SeqCst) {
            return Err(io::Error::other("injected write failure"));
        }
        let mut bytes = self.bytes.lock().unwrap();
        let end = offset as usize + buf.len();
        if bytes.len() < end {
            bytes.resize(end, 0);
        }
        bytes[offset as usize..end].copy_from_slice(buf);
        Ok(())
    }

    fn current_len(&self) -> io::Result<u64> {
        Ok(self.len() as u64)
    }

    fn sync_data(&self) -> io::Result<()> {
        if self.fail_syncs.load(Ordering::SeqCst) {
            return Err(io::Error::other("injected fsync failure"));
        }
        self.syncs.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

const FORMAT: LogFormat = LogFormat::V2 { id: 42 };

impl Memory {
    fn with_header() -> Memory {
        let memory = Memory::default();
        memory
            .write_all_at(&format::file_header(FORMAT), 0)
            .unwrap();
        memory
    }

    /// A writer going on at the end of what the file holds so far.
    fn wal(&self, last_lsn: u64, policy: SyncPolicy) -> Wal<Memory> {
        let end = LogEnd {
            format: FORMAT,
            offset: self.len() as u64,
            last_lsn,
        };
        Wal::from_file(self.clone(), "m", end, policy)
    }

    fn len(&self) -> usize {
        self.bytes.lock().unwrap().len()
    }

    fn syncs(&self) -> usize {
        self.syncs.load(Ordering::SeqCst)
    }

    /// Reads what reached the "file": the LSNs of its records and how
    /// it ends.
    fn read(&self) -> (Vec<u64>, Option<DamageKind>) {
        let bytes = self.bytes.lock().unwrap().clone();
        let mut reader = WalReader::new(Cursor::new(&bytes), bytes.len() as u64, "m").unwrap();
        let mut lsns = Vec::new();
        while let Some(entry) = reader.next_entry().unwrap() {
            lsns.push(entry.record.lsn);
        }
        let damage = reader.finish().unwrap().damage.map(|d| d.kind);
        (lsns, damage)
    }
}

/// Records are buffered without checksums and sealed on the way out:
/// every way out (a full buffer, a sync, a drop, a partial record) must
/// seal them, or the reader finds checksum mismatches.
#[test]
fn every_record_reaches_the_file_with_its_checksum() {
    let file = Memory::with_header();
    let wal = file.wal(0, SyncPolicy::Never);
    let value = vec![b'v'; 1000];
    // Past the write threshold: written out by an append.
    let records = (WRITE_THRESHOLD / 1000 + 2) as u64;
    for _ in 0..records {
        wal.append(Op::Put, b"key", &value).unwrap();
    }
    assert!(wal.end_offset() as usize > WRITE_THRESHOLD, "handed over");
    wal.append_batch([(Op::Put, &b"a"[..], &b"1"[..]), (Op::Delete, b"b", b"")])
        .unwrap();
    wal.sync().unwrap();
    let (lsns, damage) = file.read();
    assert_eq!(lsns, (1..=records + 2).collect::<Vec<_>>());
    assert_eq!(damage, None);

    wal.append(Op::Put, b"c", b"3").unwrap();
    drop(wal);
    let (lsns, damage) = file.read();
    assert_eq!(
        lsns.len() as u64,
        records + 3,
        "dropping writes the buffer out"
    );
    assert_eq!(damage, None);

    let wal = file.wal(records + 3, SyncPolicy::Never);
    wal.append(Op::Put, b"d", b"4").unwrap();
    let lsn = wal.append_partial(Op::Put, b"e", b"5", 10).unwrap();
    assert_eq!(lsn, records + 5);
    let (lsns, damage) = file.read();
    assert_eq!(
        lsns.len() as u64,
        records + 4,
        "the record before the partial one"
    );
    assert_eq!(damage, Some(DamageKind::Incomplete { bytes: 10 }));
}

/// Synced appends to a version-2 log run past the file's end only to
/// preallocate: zeros up to a step boundary, the steps doubling with the
/// file; the reader ends the log where the zeros begin.
#[test]
fn synced_appends_preallocate_in_growing_steps() {
    let file = Memory::with_header();
    let wal = file.wal(0, SyncPolicy::Always);
    wal.append(Op::Put, b"a", b"1").unwrap();
    assert_eq!(file.len() as u64, MIN_PREALLOCATION);
    let value = vec![b'v'; 1000];
    let mut lsns = vec![1];
    while file.len() as u64 == MIN_PREALLOCATION {
        lsns.push(wal.append(Op::Put, b"k", &value).unwrap());
    }
    assert_eq!(file.len() as u64, 2 * MIN_PREALLOCATION);
    assert_eq!(file.read(), (lsns, None));
    let bytes = file.bytes.lock().unwrap().clone();
    let summary = WalReader::new(Cursor::new(&bytes), bytes.len() as u64, "m")
        .unwrap()
        .finish()
        .unwrap();
    assert_eq!(summary.valid_len, wal.end_offset());
    assert_eq!(summary.preallocated, summary.file_len - summary.valid_len);
    assert!(summary.preallocated > 0);

    assert_eq!(preallocation_end(100, 24), MIN_PREALLOCATION);
    assert_eq!(
        preallocation_end(MIN_PREALLOCATION + 1, MIN_PREALLOCATION),
        2 * MIN_PREALLOCATION
    );
    assert_eq!(preallocation_end(5 << 20, 4 << 20), 8 << 20);
    assert_eq!(preallocation_end((64 << 20) + 1, 64 << 20), 68 << 20);

    // Nothing is preallocated without fsyncs, nor in a version-1 log.
    let file = Memory::with_header();
    let wal = file.wal(0, SyncPolicy::Never);
    wal.append(Op::Put, b"a", b"1").unwrap();
    wal.sync().unwrap();
    assert_eq!(file.len(), FILE_HEADER_LEN + format::record_len(1, 1));
    let v1 = Memory::default();
    v1.write_all_at(&format::file_header(LogFormat::V1), 0)
        .unwrap();
    let end = LogEnd {
        format: LogFormat::V1,
        offset: v1.len() as u64,
        last_lsn: 0,
    };
    let wal = Wal::from_file(v1.clone(), "m", end, SyncPolicy::Always);
    wal.append(Op::Put, b"a", b"1").unwrap();
    assert_eq!(
        v1.len(),
        format::FILE_HEADER_LEN_V1 + format::record_len(1, 1)
    );
    assert_eq!(v1.read(), (vec![1], None));
}

#[test]
fn a_refused_batch_leaves_nothing_behind() {
    let file = Memory::with_header();
    let wal = file.wal(0, SyncPolicy::Never);
    wal.append(Op::Put, b"a", b"1").unwrap();
    let too_long = vec![0u8; MAX_KEY_LEN as usize + 1];
    let refused = wal.append_batch([(Op::Put, &b"b"[..], &b"2"[..]), (Op::Put, &too_long, b"")]);
    assert!(matches!(refused, Err(Error::KeyTooLong { .. })));
    assert_eq!(wal.append(Op::Put, b"c", b"3").unwrap(), 2);
    wal.sync().unwrap();
    assert_eq!(file.read(), (vec![1, 2], None));
}

/// `append_exclusive` skips the lock, not the policy: it syncs and
/// writes exactly when `append` would, and shares its LSNs.
#[test]
fn exclusive_appends_follow_the_sync_policy() {
    let file = Memory::with_header();
    let mut wal = file.wal(0, SyncPolicy::Always);
    assert_eq!(wal.append_exclusive(Op::Put, b"a", b"1").unwrap(), 1);
    assert_eq!((file.syncs(), wal.durable_lsn()), (1, 1));
    assert_eq!(wal.append(Op::Put, b"b", b"2").unwrap(), 2);
    assert_eq!(wal.append_exclusive(Op::Delete, b"a", b"").unwrap(), 3);
    assert_eq!((file.syncs(), wal.durable_lsn()), (3, 3));
    assert_eq!(file.read(), (vec![1, 2, 3], None));

    let file = Memory::with_header();
    let mut wal = file.wal(0, SyncPolicy::EveryN(3));
    for lsn in 1..=7 {
        assert_eq!(wal.append_exclusive(Op::Put, b"k", b"v").unwrap(), lsn);
    }
    assert_eq!((file.syncs(), wal.durable_lsn()), (2, 6));
    assert_eq!(file.read().0, (1..=6).collect::<Vec<_>>());

    let file = Memory::with_header();
    let mut wal = file.wal(0, SyncPolicy::Never);
    let value = vec![b'v'; 1000];
    for _ in 0..WRITE_THRESHOLD / 1000 + 2 {
        wal.append_exclusive(Op::Put, b"k", &value).unwrap();
    }
    assert!(
        wal.end_offset() as usize > WRITE_THRESHOLD,
        "a full buffer is handed to the file"
    );
    assert_eq!(file.syncs(), 0);
    assert!(matches!(
        wal.append_exclusive(Op::Delete, b"k", b"v"),
        Err(Error::DeleteWithValue)
    ));
}

#[test]
fn exclusive_appends_to_a_poisoned_log_fail() {
    let file = Memory::with_header();
    let mut wal = file.wal(0, SyncPolicy::Never);
    wal.append_exclusive(Op::Put, b"a", b"1").unwrap();
    file.fail_syncs.store(true, Ordering::SeqCst);
    assert!(matches!(wal.sync(), Err(Error::Poisoned { .. })));
    file.fail_syncs.store(false, Ordering::SeqCst);
    assert!(matches!(
        wal.append_exclusive(Op::Put, b"b", b"2"),
        Err(Error::Poisoned { .. })
    ));
}

/// Under `Never`, full buffers are written by the log's own thread while
/// appends go on: every record lands in order, whether the log is synced
/// or only dropped (which waits for the writes in flight), and nothing is
/// fsync'd until asked.
#[test]
fn buffers_written_behind_land_in_order() {
    for synced in [true, false] {
        let file = Memory::with_header();
        let wal = file.wal(0, SyncPolicy::Never);
        let mut last = 0;
        // Uneven buffers, and now and then a record larger than one.
        for n in 0..3000usize {
            let large = if n % 500 == 7 { 300 * 1024 } else { 0 };
            let value = vec![n as u8; (n * 7919) % 5000 + large];
            last = wal.append(Op::Put, &n.to_le_bytes(), &value).unwrap();
        }
        assert!(wal.end_offset() as usize > 8 * WRITE_THRESHOLD);
        assert_eq!(file.syncs(), 0);
        if synced {
            wal.sync().unwrap();
            assert_eq!(file.syncs(), 1);
        } else {
            drop(wal);
        }
        assert_eq!(
            file.read(),
            ((1..=last).collect(), None),
            "synced: {synced}"
        );
    }
}

/// A write that fails on the writing thread poisons the log by a few
/// hand-overs later (the appender waits once several writes are in
/// flight), and every append and sync after that fails.
#[test]
fn a_failed_write_behind_poisons_the_log() {
    let file = Memory::with_header();
    let wal = file.wal(0, SyncPolicy::Never);
    let value = vec![b'v'; 100 * 1024];
    for _ in 0..3 {
        wal.append(Op::Put, b"k", &value).unwrap();
    }
    wal.sync().unwrap();
    let durable = file.len();
    file.fail_writes.store(true, Ordering::SeqCst);
    // 60 appends hand over 20 buffers.
    let failed = (0..60).find_map(|_| wal.append(Op::Put, b"k", &value).err());
    assert!(
        matches!(
            failed,
            Some(Error::Poisoned {
                operation: "write",
                ..
            })
        ),
        "{failed:?}"
    );
    assert!(matches!(
        wal.sync(),
        Err(Error::Poisoned {
            operation: "write",
            ..
        })
    ));
    assert!(matches!(
        wal.append(Op::Put, b"k", b"v"),
        Err(Error::Poisoned { .. })
    ));
    assert_eq!(file.len(), durable);
}

/// `sync` waits for the writes in flight before its fsync. A failed write
/// behind that no hand-over has reported yet (the only one in flight, with
/// nothing buffered after it) fails the sync and poisons the log; an fsync
/// that did not wait would acknowledge records that never reached the file.
#[test]
fn a_sync_waits_for_a_write_behind_and_reports_its_failure() {
    let file = Memory::with_header();
    let wal = file.wal(0, SyncPolicy::Never);
    wal.append(Op::Put, b"k", b"v").unwrap();
    wal.sync().unwrap();
    file.fail_writes.store(true, Ordering::SeqCst);
    let value = vec![b'v'; 100 * 1024];
    // Up to the first hand-over, which leaves the buffer empty.
    let handed_over = (0..WRITE_THRESHOLD / value.len() + 1)
        .find(|_| {
            wal.append(Op::Put, b"k", &value).unwrap();
            wal.lock().buffer.is_empty()
        })
        .is_some();
    assert!(handed_over);
    assert!(matches!(
        wal.sync(),
        Err(Error::Poisoned {
            operation: "write",
            ..
        })
    ));
    assert_eq!(file.syncs(), 1, "no fsync after the failed write");
    assert_eq!(wal.durable_lsn(), 1);
}
