//! Tests of spans, tears and directory states.

use super::*;

fn state(files: &[(&str, &[u8])]) -> DirState {
    DirState {
        files: files
            .iter()
            .map(|(path, bytes)| (PathBuf::from(path), Arc::new(bytes.to_vec())))
            .collect(),
    }
}

#[test]
fn an_append_tears_as_a_cut_file() {
    let before = state(&[("wal.log", b"HDR")]);
    let after = state(&[("wal.log", b"HDRabcd")]);
    let written = Written::single("PUT", &before.changes(&after)).unwrap();
    assert_eq!(written.span.record, 3..7);
    assert_eq!(written.grown_zeros(), 0);
    assert_eq!(written.torn(0), b"HDR");
    assert_eq!(written.torn(2), b"HDRab");
    assert_eq!(written.describe(), "4 bytes at offsets 3-6 of wal.log");
    let (flipped, old, new) = written.flipped(1, 0);
    assert_eq!(flipped, b"HDRaccd");
    assert_eq!((old, new), (b'b', b'c'));
}

/// A record written over zeros keeps some of them (the high bytes of a
/// little-endian number): they are bytes of the record all the same.
#[test]
fn a_record_written_over_zeros_is_one_span() {
    let before = state(&[("wal.log", &[0u8; 8])]);
    let after = state(&[("wal.log", &[0, 7, 7, 0, 7, 0, 0, 0])]);
    let changes = before.changes(&after);
    assert_eq!(changes[0].to_string(), "wal.log: 4 bytes at offsets 1-4");
    assert_eq!(changes[0].middle_changed_byte(), Some(3));
    let written = Written::single("PUT", &changes).unwrap();
    assert_eq!(written.span.record, 1..5);
    assert_eq!(written.grown_zeros(), 0, "the file kept its length");
    assert_eq!(written.torn(2), [0, 7, 7, 0, 0, 0, 0, 0]);
    assert_eq!(written.torn(3), [0, 7, 7, 0, 0, 0, 0, 0]);
    assert_eq!(written.describe(), "4 bytes at offsets 1-4 of wal.log");
    let (flipped, old, new) = written.flipped(2, 3);
    assert_eq!(flipped, [0, 7, 7, 8, 7, 0, 0, 0], "the record's own zero");
    assert_eq!((old, new), (0, 8));
}

/// A write that grows the file by zeros past its record: the zeros are
/// preallocated space, not the record; a tear keeps the grown length.
#[test]
fn zeros_grown_past_the_record_are_not_its_bytes() {
    let mut grown = b"HDR".to_vec();
    grown.extend([1, 0, 0, 2]);
    grown.extend([0; 10]);
    let before = state(&[("wal.log", b"HDR")]);
    let after = state(&[("wal.log", &grown)]);
    let changes = before.changes(&after);
    assert_eq!(
        changes[0].to_string(),
        "wal.log: 4 bytes at offsets 3-6, then 10 zero bytes (preallocated)"
    );
    let written = Written::single("PUT", &changes).unwrap();
    assert_eq!((written.span.record.clone(), written.len()), (3..7, 4));
    assert_eq!(written.span.zeros, 7..17);
    assert_eq!(
        written.describe(),
        "4 bytes at offsets 3-6 of wal.log; the file also grew by 10 zero bytes (preallocated)"
    );
    let mut torn = b"HDR".to_vec();
    torn.push(1);
    torn.resize(17, 0);
    assert_eq!(written.torn(1), torn, "grown length, zeros after the tear");
    assert_eq!(written.torn(4), grown);
}

/// An append starts at the old end whatever its first byte; one that
/// ends in zeros has them read as grown zeros (documented on [`Span`]).
#[test]
fn an_appends_zero_bytes_at_either_end() {
    let before = state(&[("wal.log", b"HDR")]);
    let leading = state(&[("wal.log", b"HDR\0ab")]);
    let written = Written::single("PUT", &before.changes(&leading)).unwrap();
    assert_eq!(written.span.record, 3..6);
    assert_eq!(written.torn(1), b"HDR\0");
    let trailing = state(&[("wal.log", b"HDRab\0\0")]);
    let written = Written::single("PUT", &before.changes(&trailing)).unwrap();
    assert_eq!(
        (written.span.record.clone(), written.grown_zeros()),
        (3..5, 2)
    );
    assert_eq!(written.torn(1), b"HDRa\0\0\0");
}

/// A record that starts in the old preallocated zeros and runs past the
/// old end, which the write moved on by a whole step.
#[test]
fn a_record_across_the_old_end_spans_both_sides() {
    let before = state(&[("wal.log", &[9, 9, 0, 0, 0, 0, 0, 0])]);
    let mut grown = vec![9, 9, 5, 0, 0, 0, 0, 0, 0, 6];
    grown.resize(16, 0);
    let after = state(&[("wal.log", &grown)]);
    let written = Written::single("PUT", &before.changes(&after)).unwrap();
    assert_eq!(written.span.record, 2..10);
    assert_eq!(written.span.zeros, 10..16);
    let mut torn = vec![9, 9, 5];
    torn.resize(16, 0);
    assert_eq!(written.torn(1), torn);
    assert_eq!(written.offset(7), 9);
}

#[test]
fn a_created_file_shows_its_preallocated_zeros() {
    let before = state(&[]);
    let mut bytes = vec![4, 2];
    bytes.resize(16, 0);
    let after = state(&[("wal.log", &bytes)]);
    assert_eq!(
        before.changes(&after)[0].to_string(),
        "wal.log: created, 16 bytes: 2 bytes at offsets 0-1, then 14 zero bytes (preallocated)"
    );
    let zeros = state(&[("wal.log", &[0; 16])]);
    assert_eq!(
        before.changes(&zeros)[0].to_string(),
        "wal.log: created, 16 bytes, all zero (preallocated)"
    );
    let plain = state(&[("wal.log", b"abc")]);
    assert_eq!(
        before.changes(&plain)[0].to_string(),
        "wal.log: created, 3 bytes"
    );
}

/// Growing the file by zeros alone writes no record: the drill has
/// nothing to tear.
#[test]
fn a_write_of_zeros_only_is_no_record() {
    let before = state(&[("wal.log", b"HDR")]);
    let after = state(&[("wal.log", b"HDR\0\0\0\0")]);
    let changes = before.changes(&after);
    assert_eq!(
        changes[0].to_string(),
        "wal.log: grew by 4 zero bytes (preallocated), no other byte changed"
    );
    assert_eq!(changes[0].middle_changed_byte(), None);
    let err = Written::single("PUT", &changes).unwrap_err().to_string();
    assert!(err.contains("expected one file that gained bytes"), "{err}");
}

#[test]
fn several_files_or_none_is_a_check_failure_naming_them() {
    let before = state(&[("a.log", b"x")]);
    let after = state(&[("a.log", b"xy"), ("b.idx", b"1")]);
    let err = Written::single("PUT user:4 dave", &before.changes(&after))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("found a.log: 1 byte at offset 1; b.idx: created, 1 bytes"),
        "{err}"
    );
    let err = Written::single("PUT", &before.changes(&before))
        .unwrap_err()
        .to_string();
    assert!(err.contains("found no file changed"), "{err}");
}

/// A compaction during the crashed operation: the log shrank. The failure
/// says the store rewrote it, not that it wrote several files.
#[test]
fn a_log_rewritten_shorter_is_named_as_a_rewrite() {
    let before = state(&[("wal.log", b"r1r2r3r4r5")]);
    let after = state(&[("wal.log", b"c1r6")]);
    let err = Written::single("PUT user:4 dave", &before.changes(&after))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("wal.log: shortened from 10 to 4 bytes"),
        "{err}"
    );
    assert!(
        err.contains(
            "the store rewrote wal.log shorter rather than appending a record to it (a compaction?)"
        ),
        "{err}"
    );
    assert!(!err.contains("several files"), "{err}");
}

#[test]
fn states_round_trip_through_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let original = state(&[("wal.log", b"abc"), ("sub/x", b"")]);
    original.write_to(&dir.path().join("copy")).unwrap();
    assert_eq!(DirState::read(&dir.path().join("copy")).unwrap(), original);
}

#[test]
fn a_directory_over_the_bounds_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    // Sparse: its size is all the check looks at; reading it would take
    // a gibibyte.
    let file = fs::File::create(dir.path().join("huge")).unwrap();
    file.set_len(1 << 30).unwrap();
    let err = DirState::read(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains(
            "DIR holds 1.0 GiB in 1 file; a store's directory for this drill stays under 64 MiB"
        ),
        "{err}"
    );
}

#[test]
fn links_are_never_followed_nor_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    fs::write(&outside, b"secret").unwrap();
    let store = dir.path().join("store");
    fs::create_dir(&store).unwrap();
    fs::write(store.join("log"), b"mine").unwrap();
    std::os::unix::fs::symlink(&outside, store.join("link")).unwrap();
    let state = DirState::read(&store).unwrap();
    assert_eq!(state.paths().collect::<Vec<_>>(), [Path::new("log")]);
    // A copy into a folder that exists (a planted link or not) fails.
    let copy = dir.path().join("copy");
    std::os::unix::fs::symlink(&store, &copy).unwrap();
    assert!(state.write_to(&copy).is_err());
    assert_eq!(fs::read(store.join("log")).unwrap(), b"mine");
    // A file name with a newline is shown escaped.
    let after = state.with_file(Path::new("x\ny"), b"1".to_vec());
    assert_eq!(
        state.changes(&after)[0].to_string(),
        "x\\u{a}y: created, 1 bytes"
    );
}
