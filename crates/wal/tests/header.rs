//! The file header: an empty or header-only file is an empty log, and a file
//! that is not a WAL is refused (naming the file), never read as "0 records".

mod common;

use std::path::Path;

use common::{read_path, write_file};
use wal::{Error, FILE_HEADER_LEN, KvStore, LogFormat, RecoveryMode, WalOptions, WalReader};

/// The file at `path` is a new version-2 log's header and nothing else.
fn assert_new_header_only(path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(bytes.len(), FILE_HEADER_LEN, "{bytes:?}");
    let format = common::format_of(&bytes);
    assert!(matches!(format, LogFormat::V2 { .. }), "{format:?}");
    assert_eq!(bytes, wal::file_header(format));
}

/// Every way in refuses `path` as not a WAL, and leaves it as it was.
fn assert_refused_as_not_a_wal(path: &Path) {
    let before = std::fs::read(path).unwrap();
    let check = |what: &str, err: Error| {
        assert!(matches!(err, Error::NotAWal { .. }), "{what}: {err:?}");
        let message = err.to_string();
        assert!(
            message.contains(&path.display().to_string()),
            "{what}: {message}"
        );
        assert!(message.contains("not a WAL file"), "{what}: {message}");
    };
    check(
        "reader",
        WalReader::open(path).err().expect("reader refuses"),
    );
    check(
        "replay",
        wal::replay(path, RecoveryMode::PointInTime, |_| {}).expect_err("replay refuses"),
    );
    check(
        "store",
        KvStore::recover(path).err().expect("store refuses"),
    );
    check(
        "open",
        wal::open(path, WalOptions::default(), |_| {})
            .err()
            .expect("open refuses"),
    );
    assert_eq!(std::fs::read(path).unwrap(), before, "{}", path.display());
    let dir = path.parent().unwrap();
    let entries = std::fs::read_dir(dir).unwrap().count();
    assert_eq!(entries, 1, "nothing written beside {}", path.display());
}

#[test]
fn a_text_file_is_not_a_wal() {
    let dir = tempfile::tempdir().unwrap();
    let text = b"put a 1\nput b 2\nthis is a shopping list, not a log\n";
    assert_refused_as_not_a_wal(&write_file(dir.path(), "notes.txt", text));
}

#[test]
fn random_bytes_are_not_a_wal() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = common::pseudo_random_bytes(4096, 0x9E37_79B9_7F4A_7C15);
    assert_refused_as_not_a_wal(&write_file(dir.path(), "random.bin", &bytes));
}

#[test]
fn a_short_file_that_does_not_start_like_a_header_is_not_a_wal() {
    for bytes in [
        &b"x"[..],
        b"hello",
        b"KVWAX",
        b"KVWAL\r\r",
        b"0123456789abcde",
    ] {
        let dir = tempfile::tempdir().unwrap();
        assert_refused_as_not_a_wal(&write_file(dir.path(), "short", bytes));
    }
}

#[test]
fn a_header_with_a_damaged_checksum_or_reserved_bytes_is_refused() {
    for format in [common::FORMAT, LogFormat::V1] {
        let dir = tempfile::tempdir().unwrap();
        let mut bad_crc = wal::file_header(format);
        let last = bad_crc.len() - 1;
        bad_crc[last] ^= 0x80;
        bad_crc.extend_from_slice(&wal::encode(&common::put(1, b"k", b"v"), format));
        assert_refused_as_not_a_wal(&write_file(dir.path(), "bad-crc.wal", &bad_crc));

        let dir = tempfile::tempdir().unwrap();
        let mut reserved = wal::file_header(format);
        reserved[10] = 1;
        let end = reserved.len() - 4;
        let crc = crc32fast::hash(&reserved[..end]);
        reserved[end..].copy_from_slice(&crc.to_le_bytes());
        assert_refused_as_not_a_wal(&write_file(dir.path(), "reserved.wal", &reserved));
    }
}

#[test]
fn every_bit_flip_of_the_header_is_refused() {
    let log = common::Log::new(&common::puts(2, 8));
    for byte in 0..FILE_HEADER_LEN {
        for bit in 0..8 {
            let mut bytes = log.bytes.clone();
            bytes[byte] ^= 1 << bit;
            let reader = WalReader::new(std::io::Cursor::new(&bytes), bytes.len() as u64, "m");
            assert!(
                matches!(
                    reader,
                    Err(Error::NotAWal { .. } | Error::UnsupportedVersion { .. })
                ),
                "byte {byte} bit {bit}"
            );
        }
    }
}

#[test]
fn another_format_version_is_refused_as_unsupported() {
    let dir = tempfile::tempdir().unwrap();
    let mut header = wal::file_header(common::FORMAT);
    header[8..10].copy_from_slice(&3u16.to_le_bytes());
    let crc = crc32fast::hash(&header[..20]);
    header[20..].copy_from_slice(&crc.to_le_bytes());
    let path = write_file(dir.path(), "v3.wal", &header);
    let err = WalReader::open(&path).err().unwrap();
    assert!(
        matches!(
            err,
            Error::UnsupportedVersion {
                found: 3,
                supported: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains(&path.display().to_string()));
    let err = KvStore::recover(&path).err().unwrap();
    assert!(matches!(err, Error::UnsupportedVersion { .. }), "{err:?}");
    assert_eq!(std::fs::read(&path).unwrap(), header);
}

#[test]
fn an_empty_file_is_an_empty_log_and_a_writer_gives_it_a_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "empty.wal", b"");
    let (records, summary) = read_path(&path);
    assert!(records.is_empty());
    assert_eq!(summary.damage, None);
    assert_eq!(
        (summary.records, summary.valid_len, summary.file_len),
        (0, 0, 0)
    );
    let report = wal::replay(&path, RecoveryMode::AbsoluteConsistency, |_| {}).unwrap();
    assert_eq!(report.records_replayed, 0);
    assert_eq!(std::fs::read(&path).unwrap(), b"", "replay writes nothing");

    let (store, report) = KvStore::recover(&path).unwrap();
    assert!(store.is_empty());
    assert_eq!((report.damage, report.cut), (None, None));
    assert_new_header_only(&path);
    assert_eq!(store.put("k", "v").unwrap(), 1);
    drop(store);
    assert_eq!(read_path(&path).0, [common::put(1, b"k", b"v")]);
}

#[test]
fn a_header_only_file_is_a_clean_empty_log_left_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "header.wal", &wal::file_header(common::FORMAT));
    let options = WalOptions {
        mode: RecoveryMode::AbsoluteConsistency,
        ..Default::default()
    };
    let (store, report) = KvStore::recover_with(&path, options).unwrap();
    assert!(store.is_empty());
    assert_eq!(report.records_replayed, 0);
    assert_eq!(report.valid_len, FILE_HEADER_LEN as u64);
    assert_eq!((report.damage, report.cut), (None, None));
    drop(store);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        wal::file_header(common::FORMAT)
    );
}

#[test]
fn a_missing_file_is_an_io_error_for_readers_and_created_by_writers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.wal");
    let err = WalReader::open(&path).err().unwrap();
    assert!(
        matches!(&err, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
        "{err:?}"
    );
    assert!(err.to_string().contains("missing.wal"));
    assert!(wal::replay(&path, RecoveryMode::PointInTime, |_| {}).is_err());
    assert!(!path.exists(), "readers never create the log");

    let (store, report) = KvStore::recover(&path).unwrap();
    assert_eq!(report.records_replayed, 0);
    assert!(store.is_empty());
    assert_new_header_only(&path);
}

#[test]
fn a_directory_is_refused_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let err = KvStore::recover(dir.path()).err().unwrap();
    assert!(
        matches!(
            err,
            Error::NotAFile {
                kind: "directory",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains(&dir.path().display().to_string()));
}
