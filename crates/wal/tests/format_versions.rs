//! Format version 2: a preallocated log ends cleanly where its zeros begin,
//! a record from another log is never read as ours, and a version-1 log
//! still opens (and is appended to in version 1 until a checkpoint).

mod common;

use std::fs;

use common::{FORMAT, Log, format_of, put, puts, read_bytes, read_path};
use wal::{FILE_HEADER_LEN, FILE_HEADER_LEN_V1, KvStore, LogFormat, RecoveryMode, SyncPolicy};

/// Zeros after the last record, however many (none to far more than a
/// preallocation step), end the log cleanly: not damage, not a torn tail.
#[test]
fn the_zero_filled_region_is_a_clean_end() {
    let log = Log::new(&puts(3, 20));
    for zeros in [1, 20, 21, 22, 511, 512, 4096, 70_000] {
        let mut bytes = log.bytes.clone();
        bytes.resize(bytes.len() + zeros, 0);
        let (records, summary) = read_bytes(&bytes);
        assert_eq!(records.len(), 3, "{zeros} zeros");
        assert_eq!(summary.damage, None, "{zeros} zeros");
        assert_eq!(summary.valid_len, log.bytes.len() as u64);
        assert_eq!(summary.preallocated, zeros as u64);
    }
    // A header followed by zeros is an empty log.
    let mut empty = wal::file_header(FORMAT);
    empty.resize(64 * 1024, 0);
    let (records, summary) = read_bytes(&empty);
    assert!(records.is_empty());
    assert_eq!(
        (summary.damage, summary.valid_len),
        (None, FILE_HEADER_LEN as u64)
    );
}

/// A non-zero byte anywhere in the zeros makes them damage again: a zero
/// record header is the end only when nothing follows it. With bytes after
/// it, the zero header is a write that never landed (no writer writes one),
/// so what lies behind it was never acknowledged: a zero-filled torn tail,
/// cut without losing anything readable.
#[test]
fn a_byte_inside_the_zeros_is_damage_not_a_clean_end() {
    let log = Log::new(&puts(3, 20));
    let mut bytes = log.bytes.clone();
    bytes.resize(bytes.len() + 4096, 0);
    let last = bytes.len() - 1;
    bytes[last] = 1;
    let (records, summary) = read_bytes(&bytes);
    assert_eq!(records.len(), 3);
    let damage = summary.damage.expect("a stray byte is damage");
    assert_eq!(damage.offset, log.bytes.len() as u64);
    assert!(damage.zero_filled && damage.is_torn_tail(), "{damage}");
    assert_eq!(damage.records_after, 0);
}

/// Power lost while records were written in place, unsynced: the sector
/// that held the next record's start never landed (it still reads as the
/// synced records' end, then zeros), a later sector did. Nothing after the
/// last synced record was acknowledged: a torn tail, not corruption, though
/// a readable record lies behind it.
#[test]
fn a_lost_sector_under_a_record_header_in_preallocated_space_is_a_torn_tail() {
    let mut records: Vec<_> = (1..=3).map(|lsn| put(lsn, b"kk", &[b'v'; 135])).collect();
    records.push(put(4, b"kk", &[b'w'; 17]));
    records.push(put(5, b"kk", &[b'x'; 17]));
    let log = Log::new(&records);
    assert_eq!(
        log.offsets[3], 498,
        "record 4 starts 14 bytes before a sector ends"
    );
    let mut bytes = log.bytes.clone();
    bytes[498..512].fill(0);
    bytes.resize(64 * 1024, 0);
    let (read, summary) = read_bytes(&bytes);
    assert_eq!(read.len(), 3);
    let damage = summary.damage.expect("record 4 is gone");
    assert_eq!((damage.offset, damage.records_after), (498, 1));
    assert!(damage.zero_filled && damage.is_cuttable(), "{damage}");
}

/// A flipped bit in the length of a synced record near the end of a
/// preallocated log makes it claim bytes in the zeros: that is corruption
/// with records behind it, never a zero-filled torn tail (the zeros at the
/// end of the file are preallocated, zero whether or not anything synced).
#[test]
fn a_length_flipped_into_the_preallocated_zeros_is_corruption() {
    let records: Vec<_> = (1..=10).map(|lsn| put(lsn, b"k", &[b'v'; 20])).collect();
    let log = Log::new(&records);
    let mut bytes = log.bytes.clone();
    bytes.resize(64 * 1024, 0);
    bytes[log.offsets[7] as usize + 18] ^= 0x10;
    let (read, summary) = read_bytes(&bytes);
    assert_eq!(read.len(), 7);
    let damage = summary.damage.unwrap();
    assert_eq!(damage.records_after, 2, "{damage}");
    assert!(!damage.zero_filled && !damage.is_cuttable(), "{damage}");
}

/// A store's log is preallocated: the file runs past the log's end, the
/// store reopens it cleanly and appends in place, and a record torn inside
/// the preallocated space (its first bytes written, the rest still zeros)
/// is a torn tail, cut and saved without the zeros.
#[test]
fn a_store_writes_in_place_and_a_torn_write_into_the_zeros_is_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.wal");
    let store = KvStore::create(&path).unwrap();
    store.put("a", "1").unwrap();
    store.put("b", "2").unwrap();
    let end = store.wal().end_offset();
    drop(store);
    let len = fs::metadata(&path).unwrap().len();
    assert_eq!(len, 64 * 1024, "one preallocation step");

    let (store, report) = KvStore::recover(&path).unwrap();
    assert_eq!((report.damage, report.valid_len), (None, end));
    assert_eq!(report.preallocated, len - end);
    store.put("c", "3").unwrap();
    let third = store.wal().end_offset();
    drop(store);
    assert_eq!(fs::metadata(&path).unwrap().len(), len, "written in place");

    // Record 3 torn after 13 of its bytes (checksum, LSN, op): the rest
    // back to zeros.
    let mut bytes = fs::read(&path).unwrap();
    bytes[end as usize + 13..third as usize].fill(0);
    fs::write(&path, &bytes).unwrap();
    let (_, summary) = read_path(&path);
    let damage = summary.damage.expect("record 3 is torn");
    assert!(damage.ends_in_zeros && damage.is_torn_tail(), "{damage}");
    let (store, report) = wal::KvStore::recover_with(
        &path,
        wal::WalOptions {
            mode: RecoveryMode::TolerateTornTail,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(store.get("c"), None);
    let cut = report.cut.expect("a torn tail is cut");
    let saved = wal::SavedTail::open(&cut.saved_to).unwrap();
    assert_eq!(saved.format, format_of(&bytes));
    assert_eq!(saved.len, 13);
    assert_eq!(
        saved.read_at(end, 13).unwrap(),
        bytes[end as usize..end as usize + 13]
    );
    assert_eq!(store.put("c", "again").unwrap(), 3);
}

/// A record from another log, with the LSN that comes next and a checksum
/// that holds for that log, is not ours: the reader stops at it, the
/// search past damage does not count it, and a writer cuts it off.
#[test]
fn a_record_from_another_log_is_rejected() {
    let ours = Log::new(&puts(2, 10));
    let theirs = Log::in_format(&puts(4, 10), LogFormat::new_log());
    let mut bytes = ours.bytes.clone();
    let third = &theirs.bytes[theirs.offsets[2] as usize..theirs.end_of(2) as usize];
    bytes.extend_from_slice(third);
    let (records, summary) = read_bytes(&bytes);
    assert_eq!(records.len(), 2);
    let damage = summary.damage.expect("their record is damage here");
    assert_eq!(damage.offset, ours.bytes.len() as u64);
    assert!(
        matches!(damage.kind, wal::DamageKind::ChecksumMismatch { .. }),
        "{damage}"
    );

    // Behind real damage, their records are not readable records of ours.
    let mut bytes = ours.bytes.clone();
    bytes[ours.offsets[1] as usize + 25] ^= 1;
    bytes.extend_from_slice(&theirs.bytes[theirs.offsets[2] as usize..]);
    let damage = read_bytes(&bytes).1.damage.unwrap();
    assert_eq!(damage.records_after, 0, "{damage}");

    // The same bytes in their own log read fine.
    assert_eq!(read_bytes(&theirs.bytes).0.len(), 4);
}

/// A file whose first bytes are a new log's but whose later bytes are an
/// older log's records (a reused file, or preallocated space that held an
/// old log): the old records fail our checksum and are never replayed.
#[test]
fn an_old_logs_records_behind_a_new_header_are_not_replayed() {
    let old = Log::new(&puts(5, 10));
    let new = Log::in_format(&[put(1, b"fresh", b"x")], LogFormat::new_log());
    let mut bytes = old.bytes.clone();
    bytes[..new.bytes.len()].copy_from_slice(&new.bytes);
    let (records, summary) = read_bytes(&bytes);
    assert_eq!(records, [put(1, b"fresh", b"x")]);
    let damage = summary.damage.expect("old bytes are no records of ours");
    assert_eq!(damage.records_after, 0, "{damage}");
}

/// A version-1 log opens: read, recovered, and appended to in version 1
/// (16-byte header, checksums without an identity, no preallocation), so
/// that a build that reads only version 1 can still read it. A checkpoint
/// starts a version-2 log.
#[test]
fn a_version_1_log_opens_and_stays_version_1_until_a_checkpoint() {
    let v1 = Log::in_format(&puts(3, 10), LogFormat::V1);
    assert_eq!(v1.offsets[0], FILE_HEADER_LEN_V1 as u64);
    let (records, summary) = read_bytes(&v1.bytes);
    assert_eq!(records, puts(3, 10));
    assert_eq!(
        (summary.damage, summary.format),
        (None, Some(LogFormat::V1))
    );

    let dir = tempfile::tempdir().unwrap();
    let path = common::write_file(dir.path(), "old.wal", &v1.bytes);
    let (mut store, report) = KvStore::recover(&path).unwrap();
    assert_eq!(report.records_replayed, 3);
    assert_eq!(store.wal().format(), LogFormat::V1);
    assert_eq!(store.put("key-4", "four").unwrap(), 4);
    let mut expected = v1.bytes.clone();
    expected.extend_from_slice(&wal::encode(&put(4, b"key-4", b"four"), LogFormat::V1));
    assert_eq!(fs::read(&path).unwrap(), expected, "appended as version 1");

    store.checkpoint().unwrap();
    store.put("key-5", "five").unwrap();
    drop(store);
    let bytes = fs::read(&path).unwrap();
    assert!(matches!(format_of(&bytes), LogFormat::V2 { .. }));
    let (store, report) = KvStore::recover(&path).unwrap();
    assert_eq!(report.last_lsn, 5);
    assert_eq!(store.len(), 5);
}

/// Each checkpoint starts a log with a new identity: records of the log it
/// replaced would not be read in it.
#[test]
fn a_checkpoint_starts_a_log_with_a_new_identity() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ids.wal");
    let mut store = KvStore::create(&path).unwrap();
    store.put("a", "1").unwrap();
    let first = store.wal().format();
    store.checkpoint().unwrap();
    let second = store.wal().format();
    assert_ne!(first, second);
    assert!(matches!(second, LogFormat::V2 { .. }));
    assert_eq!(format_of(&fs::read(&path).unwrap()), second);
    drop(store);
    let (store, _) = KvStore::recover(&path).unwrap();
    assert_eq!(store.get("a").as_deref(), Some(&b"1"[..]));
}

/// Under `SyncPolicy::Never` nothing is preallocated: a bulk load writes
/// its bytes once.
#[test]
fn an_unsynced_writer_does_not_preallocate() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bulk.wal");
    let wal = wal::Wal::create(&path, SyncPolicy::Never).unwrap();
    wal.append(wal::Op::Put, b"k", b"v").unwrap();
    wal.sync().unwrap();
    assert_eq!(
        fs::metadata(&path).unwrap().len(),
        (FILE_HEADER_LEN + wal::record_len(1, 1)) as u64
    );
}

/// A record or a batch written into preallocated zeros and torn after any
/// of its bytes (the rest still zeros) is never corruption: the log ends
/// cleanly before it (nothing of it landed) or at a torn tail, and the
/// records before it are all there. Only a tear whose missing bytes were
/// zeros anyway leaves it whole.
#[test]
fn a_write_torn_at_every_byte_inside_the_zeros_is_a_torn_tail() {
    let log = Log::new(&puts(2, 10));
    let record = wal::encode(&put(3, b"third", b"value"), FORMAT);
    let batch = wal::encode_batch(&[put(3, b"b1", b"x"), put(4, b"b2", b"yy")], FORMAT);
    for (what, write, whole) in [("record", &record, 3), ("batch", &batch, 4)] {
        let mut full = log.bytes.clone();
        full.extend_from_slice(write);
        full.resize(full.len() + 4096, 0);
        for landed in 0..write.len() {
            let mut bytes = full.clone();
            let at = log.bytes.len() + landed;
            bytes[at..log.bytes.len() + write.len()].fill(0);
            let (records, summary) = read_bytes(&bytes);
            let context = format!("{what} torn after {landed} bytes");
            if write[landed..].iter().all(|&b| b == 0) {
                assert_eq!(records.len(), whole, "{context}");
                continue;
            }
            assert_eq!(records.len(), 2, "{context}");
            match summary.damage {
                None => assert!(
                    bytes[log.bytes.len()..].iter().all(|&b| b == 0),
                    "{context}"
                ),
                Some(damage) => {
                    assert!(damage.is_torn_tail(), "{context}: {damage}");
                    assert_eq!(damage.offset, log.bytes.len() as u64, "{context}");
                }
            }
        }
    }
}

/// A tail cut from a version-2 log is saved without the zeros after its last
/// non-zero byte, and those may be the last bytes of its last record (or
/// batch): read back, the saved tail still holds that record whole, so an
/// acknowledged record cut off with the damage stays readable in its only
/// copy.
#[test]
fn a_saved_tail_keeps_a_last_record_that_ends_in_zero_bytes() {
    for last_is_a_batch in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zeros.wal");
        let (wal, _) = wal::open(&path, wal::WalOptions::default(), |_| {}).unwrap();
        let mut offsets = Vec::new();
        for value in [&b"aaaa"[..], b"bbbb", b"cccc", b"dddd"] {
            offsets.push(wal.end_offset());
            wal.append(wal::Op::Put, b"k", value).unwrap();
        }
        let last = if last_is_a_batch {
            let batch = [
                (wal::Op::Put, &b"x"[..], &b"1\0"[..]),
                (wal::Op::Put, b"y", b"2\0\0"),
            ];
            wal.append_batch(batch).unwrap();
            vec![put(5, b"x", b"1\0"), put(6, b"y", b"2\0\0")]
        } else {
            wal.append(wal::Op::Put, b"e", b"ee\0\0").unwrap();
            vec![put(5, b"e", b"ee\0\0")]
        };
        drop(wal);
        let mut bytes = fs::read(&path).unwrap();
        bytes[offsets[2] as usize + 22] ^= 1;
        fs::write(&path, &bytes).unwrap();
        let (_, report) = wal::open(&path, wal::WalOptions::default(), |_| {}).unwrap();
        let cut = report.cut.expect("records 3 on cut");
        let tail = wal::SavedTail::open(&cut.saved_to).unwrap();
        let records: Vec<_> = tail
            .pieces()
            .filter_map(|piece| match piece.unwrap() {
                wal::TailPiece::Record(entry) => Some(entry.record),
                wal::TailPiece::Damaged { .. } => None,
            })
            .collect();
        let mut expected = vec![put(4, b"k", b"dddd")];
        expected.extend(last);
        assert_eq!(records, expected, "batch: {last_is_a_batch}");
    }
}

/// An older copy of a preallocated log put back beside its checkpoint's
/// snapshot: the skip marker that moves its LSNs past the snapshot's goes
/// into the zeros, and the report's log end and preallocated bytes still
/// add up to the file.
#[test]
fn the_report_adds_up_after_a_skip_marker_into_the_zeros() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("behind.wal");
    let mut store = KvStore::create(&path).unwrap();
    store.put("a", "1").unwrap();
    let old = fs::read(&path).unwrap();
    store.put("b", "2").unwrap();
    store.checkpoint().unwrap();
    drop(store);
    fs::write(&path, &old).unwrap();
    let (wal, report) = wal::open(&path, wal::WalOptions::default(), |_| {}).unwrap();
    assert_eq!(report.last_lsn, 2);
    assert_eq!(report.valid_len, wal.end_offset());
    let len = fs::metadata(&path).unwrap().len();
    assert_eq!(report.valid_len + report.preallocated, len);
}

/// Issue 23, item 14 (a decision): a version-1 log stays readable by builds
/// that read only version 1, so it takes no batch frame: a batch is refused
/// with an error that says how to move on, and nothing is written.
#[test]
fn a_version_1_log_refuses_a_batch_and_stays_version_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.wal");
    let log = Log::in_format(&[put(1, b"a", b"1")], LogFormat::V1);
    fs::write(&path, &log.bytes).unwrap();
    let (store, _) = wal::KvStore::recover(&path).unwrap();
    let err = store
        .write_batch(&[(wal::Op::Put, b"b", b"2")])
        .expect_err("refused");
    assert!(
        matches!(err, wal::Error::BatchNeedsVersion2 { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("checkpoint"), "{err}");
    assert_eq!(store.put("c", "3").unwrap(), 2, "single records go on");
    drop(store);
    let (records, summary) = read_path(&path);
    assert_eq!(records.len(), 2);
    assert_eq!(
        (summary.damage, summary.format),
        (None, Some(LogFormat::V1))
    );
}
