//! Fuzz target `saved_tail`: arbitrary bytes as a saved tail
//! (`NAME.broken-OFFSET`, what a writer cut off a log).
//!
//! The bytes are written to a file named like a saved tail and read back
//! with `SavedTail`, piece by piece, as `wal dump` and every writer that
//! cuts damage (the highest LSN saved) read them. Besides "no panic":
//!
//! * the pieces tile the tail: each starts where the one before ended (a
//!   batch's records after its 21-byte frame), at the log's offsets, and
//!   the last ends at the tail's end (a trimmed tail's last record may run
//!   past it, over the zeros the cut left off, and nothing follows it);
//! * every record re-encodes to exactly the bytes stored for it (zeros
//!   where a trimmed tail's stored bytes end; checksum 0 inside a batch);
//! * no damaged stretch is empty, and two never follow each other;
//! * no single allocation is larger than a fixed allowance plus a small
//!   multiple of the input (the tail is streamed from its file);
//! * reading it twice gives the same pieces.

#![no_main]

mod common;

use std::fs;

use common::{MAX_INPUT, check_allocations, clear, work_dir};
use libfuzzer_sys::fuzz_target;
use wal::{LogFormat, RECORD_HEADER_LEN, SavedTail, TailPiece};

/// The offset the tail's name says it was cut at.
const ORIGIN: u64 = 4096;

fuzz_target!(|input: &[u8]| {
    let data = &input[..input.len().min(MAX_INPUT)];
    let path = work_dir().join(format!("log.wal.broken-{ORIGIN}"));
    fs::write(&path, data).expect("write the input file");
    common::reset_allocations();
    let tail = SavedTail::open(&path).expect("a regular file named like a saved tail opens");
    let pieces: Vec<TailPiece> = tail
        .pieces()
        .collect::<wal::Result<_>>()
        .expect("reading a regular file cannot fail");
    check_allocations(data, "reading a saved tail");
    check_pieces(&tail, data, &pieces);
    let again: Vec<TailPiece> = tail
        .pieces()
        .collect::<wal::Result<_>>()
        .expect("reading a regular file cannot fail");
    assert_eq!(pieces, again, "the same pieces on a second read");
    drop(tail);
    clear(work_dir());
});

fn check_pieces(tail: &SavedTail, data: &[u8], pieces: &[TailPiece]) {
    assert_eq!(tail.origin, ORIGIN);
    let header_len = match tail.format {
        LogFormat::V1 => 0,
        format => format.header_len(),
    };
    if header_len > 0 {
        assert_eq!(
            &data[..header_len],
            &wal::file_header(tail.format)[..],
            "a version-2 tail starts with a copy of the log's header"
        );
    }
    let stored = &data[header_len..];
    assert_eq!(tail.len, stored.len() as u64);
    let end = ORIGIN + tail.len;
    let mut next = ORIGIN;
    let mut last_damaged = false;
    // Where the batch the last record came from ends (0 outside batches).
    let mut batch_end = 0u64;
    for (i, piece) in pieces.iter().enumerate() {
        match piece {
            TailPiece::Damaged { offset, len, .. } => {
                assert_eq!(
                    *offset, next,
                    "a damaged stretch starts where the last piece ended"
                );
                assert!(*len > 0, "an empty damaged stretch");
                assert!(!last_damaged, "two damaged stretches in a row");
                next = offset + len;
                last_damaged = true;
            }
            TailPiece::Record(entry) => {
                // A batch's first record follows its frame.
                let at_frame = entry.offset == next + RECORD_HEADER_LEN as u64
                    && stored_byte(stored, next, 12) == Some(wal::BATCH_OP);
                assert!(
                    entry.offset == next || at_frame,
                    "record at {} where the last piece ended at {next}",
                    entry.offset
                );
                if at_frame {
                    let len = (0..4).map(|k| stored_byte(stored, next, 17 + k).unwrap_or(0));
                    let bytes = len.rev().fold(0u64, |n, b| n << 8 | u64::from(b));
                    batch_end = next + RECORD_HEADER_LEN as u64 + bytes;
                }
                check_record(tail.format, stored, entry, entry.offset < batch_end);
                next = entry.offset + entry.len;
                last_damaged = false;
                if next > end {
                    // Whole only with the zeros the cut left off: the last.
                    assert!(
                        tail.format != LogFormat::V1,
                        "only a trimmed tail runs past its end"
                    );
                    assert!(
                        pieces[i + 1..]
                            .iter()
                            .all(|p| matches!(p, TailPiece::Record(_))),
                        "nothing but the batch's records after a record past the end"
                    );
                }
            }
        }
    }
    assert!(
        next >= end,
        "the pieces stop at {next}, before the tail's end at {end}"
    );
}

/// The byte `at` bytes into the record starting at log offset `offset`.
fn stored_byte(stored: &[u8], offset: u64, at: usize) -> Option<u8> {
    let start = usize::try_from(offset - ORIGIN).ok()?;
    stored.get(start + at).copied()
}

/// A record re-encodes to its stored bytes (zeros past the stored end).
fn check_record(format: LogFormat, stored: &[u8], entry: &wal::Entry, may_be_inner: bool) {
    let encoded = wal::encode(&entry.record, format);
    assert_eq!(encoded.len() as u64, entry.len, "a record's length");
    let start = (entry.offset - ORIGIN) as usize;
    let mut bytes =
        stored[start.min(stored.len())..stored.len().min(start + encoded.len())].to_vec();
    bytes.resize(encoded.len(), 0);
    assert_eq!(&bytes[4..], &encoded[4..], "a record's bytes");
    assert!(
        bytes[..4] == encoded[..4] || (may_be_inner && bytes[..4] == [0; 4]),
        "a record's checksum"
    );
}
