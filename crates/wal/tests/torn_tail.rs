//! A crash in the middle of the last write: the log ends in a prefix of a
//! record. Readers return exactly the records before it and call it a torn
//! tail; a writer saves the cut bytes beside the log, cuts, and appends after.

mod common;

use std::time::Instant;

use common::{Log, put, read_bytes, read_path, write_file};
use wal::{DamageKind, KvStore, Record, WalReader};

/// Key and value sizes of the torn record.
const SIZES: [(usize, usize); 5] = [(0, 0), (1, 1), (7, 300), (100, 5000), (1000, 70000)];

/// Records up to this size are cut at every byte offset. Classifying each cut
/// scans the bytes after the damage, so cutting a record of `n` bytes at all
/// `n` offsets costs `n * n / 2` scan steps: about 400 s for the 71 KiB record
/// in a debug build. That one is cut at every offset of its first 2 KiB
/// (record header, key, start of the value), its last 64 bytes, and every
/// 251st offset in between.
const CUT_EVERYWHERE_UP_TO: u64 = 8 * 1024;

/// The lengths to cut a record of `record_len` bytes to (each `1..record_len`).
fn cut_lengths(record_len: u64) -> Vec<u64> {
    if record_len <= CUT_EVERYWHERE_UP_TO {
        return (1..record_len).collect();
    }
    let mut cuts: Vec<u64> = (1..=2048).collect();
    cuts.extend((2048..record_len - 64).step_by(251));
    cuts.extend(record_len - 64..record_len);
    cuts.dedup();
    cuts
}

/// Three good records, then one of the given sizes (the one that gets torn).
fn log_ending_in(key_len: usize, value_len: usize) -> (Log, Vec<Record>) {
    let mut records = vec![
        put(1, b"alpha", b"one"),
        common::delete(2, b"alpha"),
        put(3, b"beta", &[0u8; 40]),
    ];
    let key: Vec<u8> = (0..key_len).map(|i| (i * 7 + 3) as u8).collect();
    let value: Vec<u8> = (0..value_len).map(|i| (i * 13 + 5) as u8).collect();
    records.push(put(4, &key, &value));
    (Log::new(&records), records)
}

#[test]
fn a_torn_last_record_at_every_offset_reads_as_the_prefix_and_a_torn_tail() {
    for (key_len, value_len) in SIZES {
        let (log, records) = log_ending_in(key_len, value_len);
        let start = log.offsets[3];
        let record_len = log.bytes.len() as u64 - start;
        let began = Instant::now();
        for cut in cut_lengths(record_len) {
            let torn = &log.bytes[..(start + cut) as usize];
            let (read, summary) = read_bytes(torn);
            let context = format!("record {key_len}/{value_len}, {cut} of {record_len} bytes");
            assert_eq!(read, records[..3], "{context}");
            assert_eq!(summary.records, 3, "{context}");
            assert_eq!(summary.last_lsn, 3, "{context}");
            assert_eq!(summary.valid_len, start, "{context}");
            let damage = summary.damage.expect(&context);
            assert_eq!(damage.offset, start, "{context}");
            assert_eq!(
                damage.kind,
                DamageKind::Incomplete { bytes: cut },
                "{context}"
            );
            assert_eq!(damage.bytes_to_end, cut, "{context}");
            assert_eq!(damage.records_after, 0, "{context}");
            assert!(damage.is_torn_tail(), "{context}");
            assert_eq!(
                damage.to_string(),
                format!("torn tail at offset {start} ({cut} bytes)")
            );
        }
        eprintln!("{key_len}/{value_len}: {:?}", began.elapsed());
        // The whole record reads back, as a control.
        let (read, summary) = read_bytes(&log.bytes);
        assert_eq!(read, records);
        assert_eq!(summary.damage, None);
    }
}

/// Recovers a store from `torn` (a log cut inside the record at `start`),
/// appends one put, and checks the cut bytes were kept and the put landed.
fn recover_append_and_reopen(dir: &std::path::Path, torn: &[u8], start: u64, prefix: &[Record]) {
    let name = format!("cut-{}.wal", torn.len());
    let path = write_file(dir, &name, torn);
    let context = format!("{name}, record at {start}");

    let (store, report) = KvStore::recover(&path).expect(&context);
    assert_eq!(report.records_replayed, prefix.len() as u64, "{context}");
    assert_eq!(report.last_lsn, prefix.len() as u64, "{context}");
    let damage = report.damage.as_ref().expect(&context);
    assert!(damage.is_torn_tail(), "{context}: {damage}");
    assert_eq!(damage.offset, start, "{context}");
    let cut = report.cut.as_ref().expect(&context);
    assert_eq!(cut.offset, start, "{context}");
    assert_eq!(cut.bytes, torn.len() as u64 - start, "{context}");
    assert_eq!(cut.saved_to, dir.join(format!("{name}.broken-{start}")));
    let saved = std::fs::read(&cut.saved_to).expect(&context);
    let expected = if start == 0 {
        // A torn header: no log identity to copy.
        torn.to_vec()
    } else {
        // Zeros after the last byte are taken for preallocated space: the
        // torn record's trailing zeros go with them.
        let tail = &torn[start as usize..];
        let data = tail
            .iter()
            .rposition(|&b| b != 0)
            .map_or(0, |last| last + 1);
        common::saved_tail(&tail[..data])
    };
    assert_eq!(saved, expected, "{context}: saved bytes");

    let next_lsn = prefix.len() as u64 + 1;
    assert_eq!(store.put("after-crash", "kept").expect(&context), next_lsn);
    drop(store);

    let (read, summary) = read_path(&path);
    assert_eq!(summary.damage, None, "{context}");
    assert_eq!(read[..prefix.len()], *prefix, "{context}");
    assert_eq!(
        read[prefix.len()..],
        [put(next_lsn, b"after-crash", b"kept")]
    );
    let (store, report) = KvStore::recover(&path).expect(&context);
    assert_eq!(report.damage, None, "{context}");
    assert_eq!(store.get("after-crash").as_deref(), Some(&b"kept"[..]));
    std::fs::remove_file(&cut.saved_to).expect(&context);
    std::fs::remove_file(&path).expect(&context);
}

#[test]
fn recovering_from_a_torn_tail_keeps_the_cut_bytes_and_appends_after_it() {
    let dir = tempfile::tempdir().unwrap();
    // Each round costs several fsyncs, so only the two smallest records are
    // cut at every offset; the others at the field boundaries (inside the
    // record header, around its end, around the key's end, the last byte)
    // and at eight points spread over the value.
    for (key_len, value_len) in SIZES {
        let (log, records) = log_ending_in(key_len, value_len);
        let start = log.offsets[3];
        let record_len = log.bytes.len() as u64 - start;
        let header = wal::RECORD_HEADER_LEN as u64;
        let key_end = header + key_len as u64;
        let mut cuts: Vec<u64> = [1, 4, 12, 13, header - 1, header, header + 1]
            .into_iter()
            .chain([key_end - 1, key_end, key_end + 1, record_len - 1])
            .chain((1..8).map(|i| record_len * i / 8))
            .filter(|&cut| cut >= 1 && cut < record_len)
            .collect();
        if record_len <= 32 {
            cuts = (1..record_len).collect();
        }
        cuts.sort_unstable();
        cuts.dedup();
        for cut in cuts {
            let torn = &log.bytes[..(start + cut) as usize];
            recover_append_and_reopen(dir.path(), torn, start, &records[..3]);
        }
    }
}

#[test]
fn a_torn_file_header_is_an_empty_log_that_a_writer_completes() {
    for format in [common::FORMAT, wal::LogFormat::V1] {
        torn_header_is_an_empty_log(&wal::file_header(format));
    }
}

fn torn_header_is_an_empty_log(header: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    for len in 1..header.len() {
        let torn = &header[..len];
        let (read, summary) = read_bytes(torn);
        assert!(read.is_empty());
        assert_eq!(
            (summary.records, summary.last_lsn, summary.valid_len),
            (0, 0, 0)
        );
        let damage = summary.damage.expect("a torn header is damage");
        assert_eq!(damage.offset, 0);
        assert_eq!(damage.kind, DamageKind::Incomplete { bytes: len as u64 });
        assert!(damage.is_torn_tail(), "{damage}");
        recover_append_and_reopen(dir.path(), torn, 0, &[]);
    }
}

#[test]
fn a_log_torn_right_after_its_header_is_empty_and_clean() {
    let (read, summary) = read_bytes(&wal::file_header(common::FORMAT));
    assert!(read.is_empty());
    assert_eq!(summary.damage, None);
    assert_eq!(summary.valid_len, wal::FILE_HEADER_LEN as u64);
    // and the reader of a file on disk agrees
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "header.wal", &wal::file_header(common::FORMAT));
    let summary = WalReader::open(&path).unwrap().finish().unwrap();
    assert_eq!(summary.damage, None);
    assert_eq!(summary.records, 0);
}
