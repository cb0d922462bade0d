//! Fuzz target `reader`: arbitrary bytes as a WAL file.
//!
//! The bytes go to the streaming reader (from memory) and, through a file, to
//! `KvStore` recovery and to `replay` in every recovery mode. Besides "no
//! panic", every input is checked against what the crate promises:
//!
//! * every record returned re-encodes to exactly the bytes it was read from,
//!   at contiguous offsets with contiguous LSNs, and the summary agrees;
//! * no single allocation is larger than a fixed allowance for the reader's
//!   own buffers plus a small multiple of the input's length: a length field read from disk is
//!   checked against the bytes left before anything is allocated, so a
//!   16 MiB or 4 GiB length in a 100-byte file must never reach the allocator;
//! * recovery rebuilds exactly the map the records describe, refuses a file
//!   that is not a WAL without touching it, cuts a damaged tail only after
//!   saving it byte for byte, and leaves a log that takes a new record;
//! * each recovery mode accepts exactly the damage it is documented to.
//!
//! The allocation check needs a counting global allocator: `common.rs`,
//! shared with the other targets, holds it (the one `unsafe impl`; the
//! library itself forbids unsafe code).

#![no_main]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::Cursor;
use std::path::Path;

use common::{MAX_INPUT, check_allocations, clear, work_dir};
use libfuzzer_sys::fuzz_target;
use wal::{KvStore, Op, RecoveryMode, Summary, WalOptions, WalReader};

fuzz_target!(|input: &[u8]| {
    let data = &input[..input.len().min(MAX_INPUT)];
    common::reset_allocations();
    let read = read_from_memory(data);
    let path = work_dir().join("log.wal");
    fs::write(&path, data).expect("write the input file");
    check_recovery(&path, data, read.as_ref());
    check_modes(&path, data, read.as_ref());
    check_allocations(data, "recovery");
    clear(work_dir());
});

/// Whether `data` starts with a whole, valid header of version 1 or 2.
fn starts_with_a_valid_header(data: &[u8]) -> bool {
    let v2 = data
        .get(12..20)
        .map(|id| u64::from_le_bytes(id.try_into().unwrap()));
    data.starts_with(&wal::file_header(wal::LogFormat::V1))
        || v2.is_some_and(|id| {
            id != 0 && data.starts_with(&wal::file_header(wal::LogFormat::V2 { id }))
        })
}

/// What the in-memory reader made of the input: the map its records
/// describe and its summary; `None` when the input is not a WAL.
struct Read {
    model: BTreeMap<Vec<u8>, Vec<u8>>,
    summary: Summary,
}

impl Read {
    /// What a writer saves of the bytes from `offset` on: a tail cut from a
    /// version-2 log starts with a copy of its header and stops at its last
    /// non-zero byte.
    fn saved_tail(&self, data: &[u8], offset: usize) -> Vec<u8> {
        let tail = &data[offset..];
        match self.summary.format {
            Some(format @ wal::LogFormat::V2 { .. }) if offset > 0 => {
                let end = tail
                    .iter()
                    .rposition(|&b| b != 0)
                    .map_or(0, |last| last + 1);
                [&wal::file_header(format)[..], &tail[..end]].concat()
            }
            _ => tail.to_vec(),
        }
    }
}

fn read_from_memory(data: &[u8]) -> Option<Read> {
    let len = data.len() as u64;
    let mut reader = match WalReader::new(Cursor::new(data), len, "fuzz-input") {
        Ok(reader) => reader,
        Err(err) => {
            assert!(
                !starts_with_a_valid_header(data),
                "valid header refused: {err}"
            );
            return None;
        }
    };
    let mut model = BTreeMap::new();
    // No format: an empty file, or a torn header (nothing is read).
    let format = reader.format().unwrap_or(wal::LogFormat::V1);
    let mut expected_offset = reader.format().map_or(0, |f| f.header_len() as u64);
    let mut expected_lsn = 1;
    let mut entries = 0;
    // Where the batch the last record came from ends (0 outside batches).
    let mut batch_end = 0u64;
    loop {
        // Allocations first: a reader that trusted a length field would
        // allocate for it and only then fail to read that many bytes.
        let next = reader.next_entry();
        check_allocations(data, "reading a record");
        let Some(entry) = next.expect("reading memory cannot fail") else {
            break;
        };
        let in_batch = step_over_frames(
            data,
            format,
            &mut expected_offset,
            &mut expected_lsn,
            entry.offset,
            &mut batch_end,
        );
        assert_eq!(entry.offset, expected_offset, "records must be contiguous");
        assert_eq!(entry.record.lsn, expected_lsn, "LSNs must be contiguous");
        let encoded = wal::encode(&entry.record, format);
        assert_eq!(encoded.len() as u64, entry.len);
        let at = entry.offset as usize;
        // A record inside a batch keeps its checksum field 0 (the batch's
        // checksum covers it); everything else is as encoded.
        let stored_crc = &data[at..at + 4];
        assert!(
            stored_crc == &encoded[..4] || (in_batch && stored_crc == [0; 4]),
            "record checksum"
        );
        assert_eq!(
            &data[at + 4..at + encoded.len()],
            &encoded[4..],
            "record bytes"
        );
        expected_offset += entry.len;
        expected_lsn += 1;
        entries += 1;
        match entry.record.op {
            Op::Put => {
                model.insert(entry.record.key, entry.record.value);
            }
            Op::Delete => {
                model.remove(&entry.record.key);
            }
        }
    }
    let summary = reader.finish();
    check_allocations(data, "reading to the end");
    let summary = summary.expect("reading memory cannot fail");
    let records = entries;
    if summary.valid_len > expected_offset {
        let end = summary.valid_len;
        step_over_frames(
            data,
            format,
            &mut expected_offset,
            &mut expected_lsn,
            end,
            &mut batch_end,
        );
    }
    assert_eq!(summary.records, records);
    assert_eq!(summary.last_lsn, expected_lsn - 1);
    assert_eq!(summary.file_len, len);
    match &summary.damage {
        None => {
            assert_eq!(
                summary.valid_len + summary.preallocated,
                len,
                "a clean end is the end of the file, or zeros up to it"
            );
            let zeros = &data[summary.valid_len as usize..];
            assert!(zeros.iter().all(|&b| b == 0), "preallocated space is zeros");
            assert!(
                summary.preallocated == 0 || matches!(format, wal::LogFormat::V2 { .. }),
                "only version 2 preallocates"
            );
        }
        Some(damage) => {
            assert_eq!(damage.offset, summary.valid_len);
            assert_eq!(damage.bytes_to_end, len - damage.offset);
            assert!(damage.bytes_to_end > 0, "damage needs bytes");
            assert_eq!(
                damage.records_after > 0,
                damage.first_readable_after.is_some()
            );
            if let Some(first) = damage.first_readable_after {
                assert!(
                    first >= damage.offset && first < len,
                    "first readable {first}"
                );
            }
        }
    }
    if summary.records > 0 || summary.damage.as_ref().is_some_and(|d| d.offset > 0) {
        assert_eq!(summary.valid_len, expected_offset);
    }
    Some(Read { model, summary })
}

/// Steps from `offset` to `until` over what the reader steps over without
/// returning it: LSN skip markers, and the 21-byte frame that starts a batch.
/// Checks each: a valid marker with a rising LSN, or a batch header whose
/// LSN is the next record's. Returns whether the record at `until` lies
/// inside a batch.
fn step_over_frames(
    data: &[u8],
    format: wal::LogFormat,
    offset: &mut u64,
    next_lsn: &mut u64,
    until: u64,
    batch_end: &mut u64,
) -> bool {
    while *offset < until {
        let at = *offset as usize;
        let frame = &data[at..at + wal::RECORD_HEADER_LEN];
        let lsn = u64::from_le_bytes(frame[4..12].try_into().unwrap());
        match frame[12] {
            wal::SKIP_OP => {
                assert!(lsn >= *next_lsn, "a marker moves the LSN on");
                assert_eq!(&wal::skip_marker(lsn, format)[..], frame, "a valid marker");
                *next_lsn = lsn + 1;
            }
            wal::BATCH_OP => {
                assert_eq!(lsn, *next_lsn, "a batch starts at the next LSN");
                let bytes = u64::from(u32::from_le_bytes(frame[17..21].try_into().unwrap()));
                *batch_end = *offset + wal::RECORD_HEADER_LEN as u64 + bytes;
            }
            other => panic!("op {other} between records"),
        }
        *offset += wal::RECORD_HEADER_LEN as u64;
    }
    assert_eq!(*offset, until);
    until < *batch_end
}

fn check_recovery(path: &Path, data: &[u8], read: Option<&Read>) {
    let options = WalOptions::default();
    let recovered = KvStore::recover_with(path, options);
    let Some(read) = read else {
        assert!(recovered.is_err(), "a file that is not a WAL was opened");
        assert_eq!(
            fs::read(path).expect("read back"),
            data,
            "refused file changed"
        );
        return;
    };
    let (store, report) = recovered.expect("point-in-time recovery accepts any damage");
    assert_eq!(report.records_replayed, read.summary.records);
    // LSNs continue after every LSN the log held, cut records' included.
    let highest = read
        .summary
        .damage
        .as_ref()
        .and_then(|d| d.highest_lsn_after)
        .filter(|&h| h < u64::MAX)
        .map_or(read.summary.last_lsn, |h| h.max(read.summary.last_lsn));
    assert_eq!(report.last_lsn, highest);
    assert_eq!(report.damage, read.summary.damage);
    assert_eq!(store.snapshot(), read.model, "recovered map");
    match (&report.damage, &report.cut) {
        (None, None) => {}
        (Some(damage), Some(cut)) => {
            assert_eq!(cut.offset, damage.offset);
            let saved = fs::read(&cut.saved_to).expect("saved tail");
            assert_eq!(
                saved,
                read.saved_tail(data, damage.offset as usize),
                "saved tail bytes"
            );
        }
        (damage, cut) => panic!("damage {damage:?} but cut {cut:?}"),
    }
    let lsn = store
        .put(b"after-recovery", b"value")
        .expect("append after recovery");
    assert_eq!(lsn, highest + 1, "LSNs continue after recovery");
    drop(store);
    let summary = WalReader::open(path)
        .and_then(WalReader::finish)
        .expect("reopen");
    assert_eq!(summary.damage, None, "recovered log must read clean");
    assert_eq!(summary.records, read.summary.records + 1);
}

/// Replays the original bytes in every recovery mode: each must accept
/// exactly the damage it documents, report what the reader saw, and leave
/// the file as it was.
fn check_modes(path: &Path, data: &[u8], read: Option<&Read>) {
    let Some(read) = read else { return };
    clear(work_dir());
    fs::write(path, data).expect("write the input file again");
    let damage = read.summary.damage.as_ref();
    for mode in [
        RecoveryMode::PointInTime,
        RecoveryMode::TolerateTornTail,
        RecoveryMode::AbsoluteConsistency,
    ] {
        let accepted = match mode {
            RecoveryMode::PointInTime => true,
            // Damage with nothing readable behind it, or zero-filled damage
            // (whatever follows it was never acknowledged).
            RecoveryMode::TolerateTornTail => damage.is_none_or(|d| d.is_cuttable()),
            RecoveryMode::AbsoluteConsistency => damage.is_none(),
        };
        let mut replayed = 0u64;
        match wal::replay(path, mode, |_| replayed += 1) {
            Ok(report) => {
                assert!(accepted, "{mode} accepted {damage:?}");
                assert_eq!(report.records_replayed, read.summary.records);
                assert_eq!(report.damage, read.summary.damage);
                assert_eq!(report.cut, None, "replay never cuts");
            }
            Err(wal::Error::Damaged {
                damage: refused, ..
            }) => {
                assert!(!accepted, "{mode} refused {refused:?}");
                assert_eq!(Some(&*refused), damage);
            }
            Err(err) => panic!("{mode}: unexpected error {err}"),
        }
        assert_eq!(replayed, read.summary.records, "{mode}: records handed out");
        assert_eq!(
            fs::read(path).expect("read back"),
            data,
            "{mode} changed the file"
        );
    }
}
