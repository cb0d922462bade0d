//! A saved tail is stored without the zeros after its last non-zero byte,
//! which may be the last bytes of its last record (issue 23, item 10): the
//! reader reads that record as if they followed, after damage too.

mod common;

use common::{put, saved_tail, write_file};
use wal::{SavedTail, TailPiece};

#[test]
fn a_last_record_ending_in_zeros_after_damage_is_read_back() {
    let last = put(7, b"key", b"value\0\0\0");
    let mut tail = vec![0xEE; 30];
    tail.extend_from_slice(&wal::encode(&last, common::FORMAT));
    while tail.last() == Some(&0) {
        tail.pop();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "store.wal.broken-100", &saved_tail(&tail));
    let saved = SavedTail::open(&path).unwrap();
    let records: Vec<_> = saved
        .pieces
        .iter()
        .filter_map(|piece| match piece {
            TailPiece::Record(entry) => Some(entry),
            TailPiece::Damaged { .. } => None,
        })
        .collect();
    assert_eq!(records.len(), 1, "{:?}", saved.pieces);
    assert_eq!(records[0].record, last);
    assert_eq!(records[0].offset, 130);
    assert!(
        matches!(
            saved.pieces[0],
            TailPiece::Damaged {
                offset: 100,
                len: 30,
                ..
            }
        ),
        "{:?}",
        saved.pieces[0]
    );
}
