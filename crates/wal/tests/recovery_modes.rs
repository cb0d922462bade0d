//! Each recovery mode against mid-log corruption, a torn tail and a corrupt
//! last record; readers never modify the file, writers save before they cut.

mod common;

use std::path::{Path, PathBuf};

use common::{Log, puts, read_path, write_file};
use wal::{DamageKind, Error, KvStore, Op, Record, RecoveryMode, WalOptions};

const MODES: [RecoveryMode; 3] = [
    RecoveryMode::PointInTime,
    RecoveryMode::TolerateTornTail,
    RecoveryMode::AbsoluteConsistency,
];

/// Six puts with the value of record 3 damaged (a checksum mismatch).
fn mid_log_corruption() -> (Log, Vec<Record>, Vec<u8>) {
    let records = puts(6, 24);
    let log = Log::new(&records);
    let mut bytes = log.bytes.clone();
    bytes[log.end_of(2) as usize - 3] ^= 0x04;
    (log, records, bytes)
}

/// Six puts, the last one cut short by 5 bytes.
fn torn_tail() -> (Log, Vec<Record>, Vec<u8>) {
    let records = puts(6, 24);
    let log = Log::new(&records);
    let bytes = log.bytes[..log.bytes.len() - 5].to_vec();
    (log, records, bytes)
}

/// Six puts, the last one complete with a damaged checksum.
fn corrupt_last_record() -> (Log, Vec<Record>, Vec<u8>) {
    let records = puts(6, 24);
    let log = Log::new(&records);
    let mut bytes = log.bytes.clone();
    bytes[log.offsets[5] as usize] ^= 0xff;
    (log, records, bytes)
}

fn options(mode: RecoveryMode) -> WalOptions {
    WalOptions {
        mode,
        ..Default::default()
    }
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    files
}

/// What every mode does with `bytes`: `accepted` says which modes accept
/// the damage. A refusing mode changes nothing; `replay` never changes the
/// file; an accepting writer saves the tail, cuts it, and continues the LSNs.
fn check_modes(bytes: &[u8], log: &Log, records: &[Record], good: usize, accepted: [bool; 3]) {
    for (mode, accepts) in MODES.into_iter().zip(accepted) {
        let dir = tempfile::tempdir().unwrap();
        let path = write_file(dir.path(), "log.wal", bytes);
        let damage_at = log.offsets[good];

        let mut replayed = Vec::new();
        let replay = wal::replay(&path, mode, |record| replayed.push(record.to_record()));
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{mode}: replay wrote");
        assert_eq!(
            files_in(dir.path()),
            std::slice::from_ref(&path),
            "{mode}: replay wrote"
        );
        // The readable prefix is handed over even when the mode then refuses.
        assert_eq!(replayed, records[..good], "{mode}");
        match (replay, accepts) {
            (Ok(report), true) => {
                assert_eq!(report.records_replayed, good as u64, "{mode}");
                assert_eq!(report.damage.as_ref().unwrap().offset, damage_at);
                assert_eq!(report.cut, None, "{mode}: replay never cuts");
                let warning = report.warning().unwrap();
                let expected = format!("skipping corrupt record at offset {damage_at} (");
                assert!(warning.starts_with(&expected), "{mode}: {warning}");
            }
            (
                Err(Error::Damaged {
                    path: p,
                    damage,
                    mode: name,
                }),
                false,
            ) => {
                assert_eq!(
                    (p, damage.offset, name),
                    (path.clone(), damage_at, mode.name())
                );
            }
            (other, _) => panic!("{mode}: accepts {accepts}, got {other:?}"),
        }

        let recovered = KvStore::recover_with(&path, options(mode));
        if !accepts {
            let err = recovered.err().expect("refused");
            assert!(matches!(err, Error::Damaged { .. }), "{mode}: {err:?}");
            let message = err.to_string();
            assert!(
                message.contains(&format!("(refused by {mode} recovery)")),
                "{message}"
            );
            assert!(message.contains(&path.display().to_string()), "{message}");
            assert_eq!(
                std::fs::read(&path).unwrap(),
                bytes,
                "{mode}: refused but wrote"
            );
            assert_eq!(
                files_in(dir.path()),
                std::slice::from_ref(&path),
                "{mode}: refused but wrote"
            );
            continue;
        }
        let (store, report) = recovered.unwrap();
        assert_eq!(report.records_replayed, good as u64);
        let cut = report.cut.expect("an accepting writer cuts");
        let saved = dir.path().join(format!("log.wal.broken-{damage_at}"));
        assert_eq!(cut.saved_to, saved);
        assert_eq!(
            std::fs::read(&saved).unwrap(),
            common::saved_tail(&bytes[damage_at as usize..])
        );
        // Readable records cut off keep their LSNs: a skip marker after the
        // prefix moves the next LSN past the highest of them.
        let highest = common::read_bytes(bytes)
            .1
            .damage
            .unwrap()
            .highest_lsn_after;
        let mut kept = bytes[..damage_at as usize].to_vec();
        let marker = highest.map(|lsn| wal::skip_marker(lsn, common::FORMAT));
        kept.extend(marker.iter().flatten());
        assert_eq!(std::fs::read(&path).unwrap(), kept, "{mode}");
        let expected: Vec<_> = records[..good]
            .iter()
            .map(|r| (r.key.clone(), r.value.clone()))
            .collect();
        assert_eq!(store.snapshot().into_iter().collect::<Vec<_>>(), expected);
        let next = highest.unwrap_or(good as u64) + 1;
        assert_eq!(store.put("next", "v").unwrap(), next, "{mode}");
        drop(store);
        let (read, summary) = read_path(&path);
        assert_eq!(summary.damage, None);
        assert_eq!(read.len(), good + 1);
    }
}

#[test]
fn mid_log_corruption_is_skipped_only_by_point_in_time() {
    let (log, records, bytes) = mid_log_corruption();
    let (_, summary) = common::read_bytes(&bytes);
    let damage = summary.damage.unwrap();
    assert!(matches!(damage.kind, DamageKind::ChecksumMismatch { .. }));
    assert_eq!(damage.records_after, 3);
    check_modes(&bytes, &log, &records, 2, [true, false, false]);
}

#[test]
fn a_torn_tail_is_refused_only_by_absolute_consistency() {
    let (log, records, bytes) = torn_tail();
    check_modes(&bytes, &log, &records, 5, [true, true, false]);
}

#[test]
fn a_corrupt_last_record_counts_as_tail_damage() {
    // Like RocksDB's tolerate-corrupted-tail-records: nothing readable is
    // lost by cutting it, so only absolute consistency refuses.
    let (log, records, bytes) = corrupt_last_record();
    check_modes(&bytes, &log, &records, 5, [true, true, false]);
}

#[test]
fn the_point_in_time_warning_names_the_offset_and_what_follows() {
    let (log, _, bytes) = mid_log_corruption();
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "log.wal", &bytes);
    let report = wal::replay(&path, RecoveryMode::PointInTime, |_| {}).unwrap();
    let warning = report.warning().unwrap();
    let offset = log.offsets[2];
    assert!(
        warning.starts_with(&format!(
            "skipping corrupt record at offset {offset} (checksum mismatch"
        )),
        "{warning}"
    );
    assert!(
        warning.ends_with("3 readable records after it"),
        "{warning}"
    );
    let clean = write_file(dir.path(), "clean.wal", &log.bytes);
    let report = wal::replay(&clean, RecoveryMode::AbsoluteConsistency, |_| {}).unwrap();
    assert_eq!(report.warning(), None);
    assert_eq!(report.records_replayed, 6);
}

#[test]
fn a_second_cut_at_the_same_offset_never_overwrites_the_first() {
    let (log, _, bytes) = torn_tail();
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "log.wal", &bytes);
    let offset = log.offsets[5];
    let (store, first) = KvStore::recover(&path).unwrap();
    store
        .wal()
        .append_partial(Op::Put, b"again", b"torn again", 13)
        .unwrap();
    drop(store);
    let (_, second) = KvStore::recover(&path).unwrap();
    let first = first.cut.unwrap();
    let second = second.cut.unwrap();
    assert_eq!((first.offset, second.offset), (offset, offset));
    assert_ne!(first.saved_to, second.saved_to);
    assert_eq!(
        std::fs::read(&first.saved_to).unwrap(),
        common::saved_tail(&bytes[offset as usize..])
    );
    // The header's copy, then the partial record's 13 bytes (checksum, LSN,
    // op), without the preallocated zeros after them.
    assert_eq!(
        std::fs::read(&second.saved_to).unwrap().len(),
        wal::FILE_HEADER_LEN + 13
    );
    assert_eq!(
        second.saved_to,
        dir.path().join(format!("log.wal.broken-{offset}.1"))
    );
}

/// The lessons' warning names a torn tail in the words `wal verify` uses,
/// and only a torn tail.
#[test]
fn the_warning_says_torn_tail_exactly_when_it_is_one() {
    let log = Log::new(&puts(3, 10));
    let torn = &log.bytes[..log.bytes.len() - 4];
    let corrupt = {
        let mut bytes = log.bytes.clone();
        bytes[log.offsets[1] as usize + 25] ^= 1;
        bytes
    };
    for (bytes, torn_tail) in [(torn.to_vec(), true), (corrupt, false)] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.wal");
        std::fs::write(&path, &bytes).unwrap();
        let report = wal::replay(&path, RecoveryMode::PointInTime, |_| {}).unwrap();
        let warning = report.warning().unwrap();
        assert!(
            warning.starts_with("skipping corrupt record at offset "),
            "{warning}"
        );
        assert_eq!(warning.ends_with("; a torn tail"), torn_tail, "{warning}");
        if torn_tail {
            let offset = log.offsets[2];
            assert_eq!(
                warning,
                format!(
                    "skipping corrupt record at offset {offset} (incomplete record: \
                     only {} bytes before the end of the file); a torn tail",
                    bytes.len() as u64 - offset
                )
            );
        }
    }
}
