//! What a power failure leaves of writes that were never synced: sectors of
//! zeros among sectors that landed. Such damage is a torn tail, whatever
//! readable records follow it (none of them was acknowledged), and a writer
//! cuts it like any torn tail.

mod common;

use std::fs;

use common::{Log, puts, read_bytes, read_path};
use wal::{KvStore, RecoveryMode, WalOptions};

const SECTOR: usize = 512;

/// 40 records of about 130 bytes, with the sector at 2048 zeroed: records
/// from the one overlapping it on were in flight when the power failed,
/// and sectors after it landed.
fn log_with_a_zeroed_sector() -> (Log, Vec<u8>, usize) {
    let log = Log::new(&puts(40, 100));
    let mut bytes = log.bytes.clone();
    let sector = 4 * SECTOR;
    bytes[sector..sector + SECTOR].fill(0);
    let hit = log
        .offsets
        .iter()
        .rposition(|&o| o as usize <= sector)
        .unwrap();
    (log, bytes, hit)
}

#[test]
fn a_zeroed_sector_with_records_behind_it_is_a_torn_tail() {
    let (log, bytes, hit) = log_with_a_zeroed_sector();
    let (read, summary) = read_bytes(&bytes);
    assert_eq!(read.len(), hit);
    let damage = summary.damage.unwrap();
    assert_eq!(damage.offset, log.offsets[hit]);
    assert!(damage.zero_filled, "{damage}");
    assert!(
        damage.records_after > 0,
        "sectors after it landed: {damage}"
    );
    assert!(damage.is_torn_tail() && damage.is_cuttable());
    let shown = damage.to_string();
    assert!(shown.starts_with("torn tail at offset"), "{shown}");
    assert!(shown.contains("zero-filled"), "{shown}");
}

#[test]
fn a_writer_cuts_a_zero_filled_tail_as_any_torn_tail() {
    let (log, bytes, hit) = log_with_a_zeroed_sector();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("power.wal");
    fs::write(&path, &bytes).unwrap();
    let options = WalOptions {
        mode: RecoveryMode::TolerateTornTail,
        ..WalOptions::default()
    };
    let (store, report) = KvStore::recover_with(&path, options).expect("a torn tail is cut");
    assert_eq!(report.records_replayed, hit as u64);
    let cut = report.cut.clone().expect("the tail is cut");
    assert_eq!(cut.offset, log.offsets[hit]);
    assert_eq!(
        fs::read(&cut.saved_to).unwrap(),
        common::saved_tail(&bytes[cut.offset as usize..])
    );
    // LSNs continue after the highest one cut off, never reusing one.
    assert_eq!(store.put("after", "power").unwrap(), 41);
    drop(store);
    assert_eq!(read_path(&path).1.damage, None);
}

/// A sector that happens to hold zeros inside an intact record changes
/// nothing: only a damaged record is judged by its sectors.
#[test]
fn zeros_inside_an_intact_record_are_just_data() {
    let value = vec![0u8; 3 * SECTOR];
    let records = vec![
        common::put(1, b"zeros", &value),
        common::put(2, b"next", b"x"),
    ];
    let log = Log::new(&records);
    let (read, summary) = read_bytes(&log.bytes);
    assert_eq!(read, records);
    assert_eq!(summary.damage, None);
    // A flipped bit in the record after them is corruption, not a torn tail.
    let mut bytes = log.bytes.clone();
    bytes[log.offsets[1] as usize + 22] ^= 1;
    let damage = read_bytes(&bytes).1.damage.unwrap();
    assert!(!damage.zero_filled && !damage.is_torn_tail(), "{damage}");
}

/// A crash while an old build created the log: zeros where the header
/// belongs. To a writer that is an empty log (the zeros are saved aside).
#[test]
fn a_zero_filled_header_is_an_empty_log_to_a_writer() {
    for len in [10, 16, SECTOR, 4096] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zeros.wal");
        fs::write(&path, vec![0u8; len]).unwrap();
        let summary = wal::WalReader::open(&path).unwrap().finish().unwrap();
        let damage = summary.damage.expect("damage at the header");
        assert_eq!((damage.offset, summary.records), (0, 0), "{len}");
        assert!(
            damage.zero_filled && damage.is_torn_tail(),
            "{len}: {damage}"
        );
        let (store, report) = KvStore::recover(&path).expect("an empty log");
        assert_eq!(report.records_replayed, 0);
        assert_eq!(store.put("first", "1").unwrap(), 1);
        drop(store);
        let (records, summary) = read_path(&path);
        assert_eq!((records.len(), summary.damage), (1, None), "{len}");
    }
}

/// Zeros at the start of a file that are followed by other bytes in its
/// first sector are not a header that never landed: still not a WAL.
#[test]
fn zeros_followed_by_data_in_the_first_sector_are_not_a_wal() {
    let mut bytes = vec![0u8; 100];
    bytes[50] = 7;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not.wal");
    fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        wal::WalReader::open(&path),
        Err(wal::Error::NotAWal { .. })
    ));
}

/// Only a whole sector of zeros is a power failure's mark: a zero byte or
/// two at the end of the file (the last, partial sector) are not, and
/// damage with readable records behind it stays corruption. (The fuzzer
/// found the partial sector counting.)
#[test]
fn zeros_in_a_partial_last_sector_are_no_torn_write() {
    let log = Log::new(&puts(5, 10));
    let mut bytes = log.bytes.clone();
    // Record 2's value length now runs past the end of the file, so the
    // damaged record spans every sector to the end.
    let value_len = log.offsets[1] as usize + 17;
    bytes[value_len..value_len + 4].copy_from_slice(&100_000u32.to_le_bytes());
    // Readable records behind the damage, then one zero byte past a sector
    // boundary (the last byte of a put's value).
    let mut value = vec![b'v'; SECTOR - (bytes.len() + 21 + 3) % SECTOR];
    value.push(0);
    bytes.extend_from_slice(&wal::encode(
        &common::put(6, b"pad", &value),
        common::FORMAT,
    ));
    assert_eq!(bytes.len() % SECTOR, 1, "one byte into the last sector");
    assert_eq!(bytes.last(), Some(&0));
    let damage = read_bytes(&bytes).1.damage.unwrap();
    assert!(damage.records_after > 0);
    assert!(!damage.zero_filled, "{damage}");
    assert!(!damage.is_torn_tail() && !damage.is_cuttable());
}
