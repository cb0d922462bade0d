//! Length fields are never trusted: a length over a cap is an invalid field
//! found before anything is allocated, a length running past the end of the
//! file is an incomplete record found before anything is read, and the scan
//! past the damage still finds the intact records behind a lying length.

mod common;

use common::{Log, puts, read_bytes, read_path, write_file};
use wal::{
    DamageKind, Error, InvalidField, KvStore, MAX_KEY_LEN, MAX_VALUE_LEN, Op, SyncPolicy, Wal,
};

const KEY_LEN_AT: usize = 13;
const VALUE_LEN_AT: usize = 17;

/// `log` with the length field at `field` of record `index` set to `len`.
/// With `fix_crc`, the checksum is recomputed over the record's bytes so that
/// only the length is wrong.
fn with_length(log: &Log, index: usize, field: usize, len: u32, fix_crc: bool) -> Vec<u8> {
    let mut bytes = log.bytes.clone();
    let start = log.offsets[index] as usize;
    let end = log.end_of(index) as usize;
    bytes[start + field..start + field + 4].copy_from_slice(&len.to_le_bytes());
    if fix_crc {
        let crc = crc32fast::hash(&bytes[start + 4..end]);
        bytes[start..start + 4].copy_from_slice(&crc.to_le_bytes());
    }
    bytes
}

#[test]
fn lengths_over_the_caps_are_invalid_fields_whatever_the_checksum() {
    let records = puts(3, 20);
    let log = Log::new(&records);
    let cases = [
        (KEY_LEN_AT, u32::MAX, InvalidField::KeyTooLong(u32::MAX)),
        (
            KEY_LEN_AT,
            MAX_KEY_LEN + 1,
            InvalidField::KeyTooLong(MAX_KEY_LEN + 1),
        ),
        (VALUE_LEN_AT, u32::MAX, InvalidField::ValueTooLong(u32::MAX)),
        (
            VALUE_LEN_AT,
            MAX_VALUE_LEN + 1,
            InvalidField::ValueTooLong(MAX_VALUE_LEN + 1),
        ),
    ];
    for (field, len, expected) in cases {
        for fix_crc in [false, true] {
            for index in [1, 2] {
                let bytes = with_length(&log, index, field, len, fix_crc);
                let (read, summary) = read_bytes(&bytes);
                let context =
                    format!("field {field} = {len} in record {index}, crc fixed {fix_crc}");
                assert_eq!(read, records[..index], "{context}");
                let damage = summary.damage.expect(&context);
                assert_eq!(damage.offset, log.offsets[index], "{context}");
                assert_eq!(
                    damage.kind,
                    DamageKind::InvalidField(expected.clone()),
                    "{context}"
                );
                assert_eq!(damage.records_after, 2 - index as u64, "{context}");
                assert!(!damage.is_torn_tail(), "{context}");
            }
        }
    }
}

#[test]
fn a_length_under_the_cap_but_past_the_end_is_incomplete_not_an_io_error() {
    // The reader must compare the claimed size with the bytes left before it
    // allocates or reads: reading first would fail with an I/O error (or try
    // to allocate 16 MiB for a file of a few hundred bytes).
    let records = puts(3, 20);
    let log = Log::new(&records);
    let last = 2;
    for (field, len) in [
        (KEY_LEN_AT, MAX_KEY_LEN),
        (VALUE_LEN_AT, MAX_VALUE_LEN),
        (VALUE_LEN_AT, 21),
    ] {
        let bytes = with_length(&log, last, field, len, false);
        let (read, summary) = read_bytes(&bytes);
        assert_eq!(read, records[..last]);
        let damage = summary.damage.expect("damage");
        let left = log.bytes.len() as u64 - log.offsets[last];
        assert_eq!(damage.kind, DamageKind::Incomplete { bytes: left });
        // Nothing readable behind it: indistinguishable from a torn write.
        assert!(damage.is_torn_tail(), "{damage}");
    }
}

#[test]
fn a_length_pointing_past_the_end_with_good_records_behind_is_corruption() {
    let records = puts(6, 30);
    let log = Log::new(&records);
    let damaged = 2;
    for field in [KEY_LEN_AT, VALUE_LEN_AT] {
        for len in [
            MAX_KEY_LEN,
            10_000,
            (log.bytes.len() - log.offsets[damaged] as usize) as u32,
        ] {
            let bytes = with_length(&log, damaged, field, len, false);
            let (read, summary) = read_bytes(&bytes);
            assert_eq!(read, records[..damaged]);
            let damage = summary.damage.expect("damage");
            let offset = log.offsets[damaged];
            assert!(
                matches!(damage.kind, DamageKind::Incomplete { .. }),
                "{damage}"
            );
            assert_eq!(damage.records_after, 3, "{damage}");
            assert_eq!(damage.first_readable_after, Some(log.offsets[damaged + 1]));
            assert!(!damage.is_torn_tail());
            assert_eq!(damage.state_name(), "corrupt");
            assert_eq!(
                damage.to_string(),
                format!(
                    "corrupt at offset {offset} (record length runs past the end of the file); \
                     3 readable records after it"
                )
            );
        }
    }
}

#[test]
fn a_length_claiming_four_gib_is_refused_on_disk_and_by_a_writer_open() {
    let records = puts(4, 10);
    let log = Log::new(&records);
    let dir = tempfile::tempdir().unwrap();
    let bytes = with_length(&log, 1, KEY_LEN_AT, u32::MAX, true);
    let path = write_file(dir.path(), "huge.wal", &bytes);
    let (read, summary) = read_path(&path);
    assert_eq!(read, records[..1]);
    let damage = summary.damage.unwrap();
    assert_eq!(
        damage.kind,
        DamageKind::InvalidField(InvalidField::KeyTooLong(u32::MAX))
    );
    assert_eq!(damage.records_after, 2);
    // A writer refuses to cut readable records unless told it may.
    let options = wal::WalOptions {
        mode: wal::RecoveryMode::TolerateTornTail,
        ..Default::default()
    };
    assert!(matches!(
        KvStore::recover_with(&path, options),
        Err(Error::Damaged { .. })
    ));
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "a refused open changes nothing"
    );
}

#[test]
fn the_writer_refuses_sizes_over_the_caps_without_using_an_lsn() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("caps.wal");
    let wal = Wal::create(&path, SyncPolicy::Always).unwrap();
    let key = vec![b'k'; MAX_KEY_LEN as usize + 1];
    let value = vec![b'v'; MAX_VALUE_LEN as usize + 1];
    assert!(matches!(
        wal.append(Op::Put, &key, b""),
        Err(Error::KeyTooLong { len, max: MAX_KEY_LEN }) if len == key.len()
    ));
    assert!(matches!(
        wal.append(Op::Put, b"k", &value),
        Err(Error::ValueTooLong { len, max: MAX_VALUE_LEN }) if len == value.len()
    ));
    assert!(matches!(
        wal.append(Op::Delete, b"k", b"v"),
        Err(Error::DeleteWithValue)
    ));
    // A batch with one bad record leaves nothing of itself behind.
    let batch = [
        (Op::Put, &b"good"[..], &b"1"[..]),
        (Op::Put, &key[..], &b""[..]),
    ];
    assert!(matches!(
        wal.append_batch(batch),
        Err(Error::KeyTooLong { .. })
    ));
    assert_eq!(wal.last_lsn(), 0);
    assert_eq!(wal.append(Op::Put, b"k", b"v").unwrap(), 1);
    drop(wal);
    let (read, summary) = read_path(&path);
    assert_eq!(read, [common::put(1, b"k", b"v")]);
    assert_eq!(summary.damage, None);
}
