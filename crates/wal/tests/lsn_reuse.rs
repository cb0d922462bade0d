//! LSNs are never handed out twice: when a writer cuts readable records off
//! a log (saving them beside it), the next record's LSN follows the highest
//! LSN it cut, and the log says so with a skip marker.

mod common;

use std::fs;

use common::{Log, puts, read_path};
use wal::{KvStore, RECORD_HEADER_LEN};

/// Five records with the second one's payload flipped: records 3 to 5 are
/// readable behind the damage.
fn corrupt_second_of_five() -> (Log, Vec<u8>) {
    let log = Log::new(&puts(5, 10));
    let mut bytes = log.bytes.clone();
    bytes[log.end_of(1) as usize - 1] ^= 1;
    (log, bytes)
}

#[test]
fn after_a_cut_lsns_continue_past_every_lsn_the_log_held() {
    let (log, bytes) = corrupt_second_of_five();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reuse.wal");
    fs::write(&path, &bytes).unwrap();

    let (store, report) = KvStore::recover(&path).unwrap();
    assert_eq!(report.records_replayed, 1);
    assert_eq!(report.last_lsn, 5, "the highest LSN cut off");
    let saved = fs::read(&report.cut.unwrap().saved_to).unwrap();
    assert_eq!(saved, common::saved_tail(&bytes[log.offsets[1] as usize..]));
    assert_eq!(store.put("next", "value").unwrap(), 6, "not 2 again");
    drop(store);

    let (records, summary) = read_path(&path);
    let lsns: Vec<u64> = records.iter().map(|r| r.lsn).collect();
    assert_eq!(lsns, [1, 6]);
    assert_eq!((summary.damage, summary.last_lsn), (None, 6));
    // And on the next open too.
    let (store, report) = KvStore::recover(&path).unwrap();
    assert_eq!(report.last_lsn, 6);
    assert_eq!(store.put("later", "v").unwrap(), 7);
}

/// A crash after the marker was written over the damage but before the file
/// was cut after it: the rest of the old tail follows the marker. The next
/// open cuts that rest (its records' LSNs are all at or below the marker's)
/// and still continues after the marker.
#[test]
fn a_crash_between_the_marker_and_the_cut_still_skips_the_cut_lsns() {
    let (log, bytes) = corrupt_second_of_five();
    let at = log.offsets[1] as usize;
    let mut crashed = bytes.clone();
    crashed[at..at + RECORD_HEADER_LEN].copy_from_slice(&skip_marker(5));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crashed.wal");
    fs::write(&path, &crashed).unwrap();

    let (store, report) = KvStore::recover(&path).unwrap();
    let damage = report.damage.clone().expect("the rest of the old tail");
    assert_eq!(damage.offset as usize, at + RECORD_HEADER_LEN);
    assert_eq!(damage.records_after, 0, "{damage}");
    assert_eq!(report.last_lsn, 5);
    assert_eq!(store.put("next", "value").unwrap(), 6);
}

/// The marker as the format documents it: a record header with op 3, empty
/// key and value, the LSN, and its checksum (seeded with the identity of
/// the tests' logs, [`common::FORMAT`]).
fn skip_marker(lsn: u64) -> [u8; RECORD_HEADER_LEN] {
    let mut marker = [0u8; RECORD_HEADER_LEN];
    marker[4..12].copy_from_slice(&lsn.to_le_bytes());
    marker[12] = 3;
    let mut seeded = common::FORMAT.id().unwrap().to_le_bytes().to_vec();
    seeded.extend_from_slice(&marker[4..]);
    let crc = crc32fast::hash(&seeded);
    marker[..4].copy_from_slice(&crc.to_le_bytes());
    marker
}

/// Issue 23, item 8: the skip marker that protected the LSNs of a cut is
/// itself damaged (nothing readable after it: a torn tail, cut). The LSNs
/// it protected are still in the saved tail beside the log, and are not
/// handed out again.
#[test]
fn a_damaged_skip_marker_does_not_free_the_lsns_it_protected() {
    let (log, bytes) = corrupt_second_of_five();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reuse.wal");
    fs::write(&path, &bytes).unwrap();
    let (store, report) = KvStore::recover(&path).unwrap();
    assert_eq!(report.last_lsn, 5);
    drop(store);
    let mut marked = fs::read(&path).unwrap();
    let marker = log.offsets[1] as usize;
    assert_eq!(
        marked.len(),
        marker + RECORD_HEADER_LEN,
        "log, then the marker"
    );
    marked[marker + 4] ^= 0x40;
    fs::write(&path, &marked).unwrap();

    let (store, report) = KvStore::recover(&path).unwrap();
    assert!(report.cut.is_some(), "the damaged marker is cut");
    assert_eq!(report.last_lsn, 5, "the saved tail's LSNs stay used");
    assert_eq!(store.put("next", "value").unwrap(), 6, "not 2 again");
}

/// Issue 23, item 14: a crafted log that used LSN u64::MAX. LSNs wrapped to
/// 0 (a panic in a debug build); now the log takes no more records, says
/// why, and is left as it was.
#[test]
fn a_log_at_the_last_lsn_refuses_appends_instead_of_wrapping() {
    let format = common::FORMAT;
    let mut bytes = wal::file_header(format);
    bytes.extend_from_slice(&wal::encode(&common::put(1, b"a", b"1"), format));
    bytes.extend_from_slice(&wal::skip_marker(u64::MAX - 1, format));
    bytes.extend_from_slice(&wal::encode(&common::put(u64::MAX, b"b", b"2"), format));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("last.wal");
    fs::write(&path, &bytes).unwrap();
    let (store, report) = KvStore::recover(&path).unwrap();
    assert_eq!(report.last_lsn, u64::MAX);
    assert_eq!(store.get("b").unwrap(), b"2");
    let err = store.put("c", "3").expect_err("no LSN left");
    assert!(matches!(err, wal::Error::LsnsExhausted { .. }), "{err}");
    let err = store
        .write_batch(&[(wal::Op::Put, b"d", b"4")])
        .expect_err("no LSN left");
    assert!(matches!(err, wal::Error::LsnsExhausted { .. }), "{err}");
    assert_eq!(store.wal().last_lsn(), u64::MAX);
    store.wal().sync().unwrap();
    drop(store);
    let (records, summary) = read_path(&path);
    assert_eq!(records.len(), 2);
    assert_eq!((summary.damage, summary.last_lsn), (None, u64::MAX));
}
