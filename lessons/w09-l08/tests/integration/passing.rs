use drill::testing::assert_proves_lesson;

use crate::{assert_lines, assert_no_cost_named, binary};

/// The reference store's record for `PUT user:4 dave` as LSN 6.
fn sixth_record_len() -> usize {
    wal::record_len("user:4".len(), "dave".len())
}

/// Where record 6 starts in the reference store's log.
fn sixth_offset() -> usize {
    let records: usize = [(6, 5), (6, 3), (6, 6), (6, 0), (6, 5)]
        .iter()
        .map(|&(key, value)| wal::record_len(key, value))
        .sum();
    wal::FILE_HEADER_LEN + records
}

#[test]
fn passes_and_proves_the_lesson() {
    let stdout = binary().passes();
    assert_proves_lesson(&stdout, concat!(env!("CARGO_MANIFEST_DIR"), "/lesson.md"));
    assert_no_cost_named(&stdout);
}

#[test]
fn the_lessons_task_is_printed_step_by_step() {
    let stdout = binary().passes();
    let (len, offset) = (sixth_record_len(), sixth_offset());
    assert_lines(
        &stdout,
        &[
            "3. PUT user:1 alicia  (overwrites operation 1)  -> OK; on disk: wal.log: ".into(),
            "4. DEL user:2  (removes what operation 2 set)  -> OK".into(),
            "ok: state after these 5 operations: {user:1=alicia, user:2=NOT_FOUND, user:3=carol, user:4=NOT_FOUND}".into(),
            format!("record 6 is what PUT user:4 dave wrote: {len} bytes at offsets {offset}-{} of wal.log", offset + len - 1),
            format!("[4/10]  simulated power loss mid-write: only the first 10 of the {len} bytes of record 6 reached the disk"),
            "in the reference format those 10 bytes are checksum, 6 of the 8 LSN bytes".into(),
            "store: READY replayed 5, skipped 1".into(),
            // Written into the reference log's preallocated zeros: the rest
            // of the record is still zeros, which the reader calls a torn
            // write, as it would a file that ends early.
            format!("store stderr: skipping corrupt record at offset {offset} (checksum mismatch: "),
            "its last bytes are still the zeros of preallocated space); a torn tail".into(),
            "ok: partial record 6 skipped, 5 records recovered".into(),
            "empty WAL file: wal.log truncated to 0 bytes".into(),
            "ok: replay of the empty log gave the empty state, and no crash".into(),
        ],
    );
}

#[test]
fn further_than_the_lesson_with_counts() {
    let stdout = binary().passes();
    let cuts = sixth_record_len() - 1;
    let flips = sixth_record_len() * 8;
    assert_lines(
        &stdout,
        &[
            "ok: a restart on a copy".into(),
            "holds all 6 operations: nothing acknowledged was lost".into(),
            "ok: PUT user:4 dave survived the restart: state {user:1=alicia, user:2=NOT_FOUND, user:3=carol, user:4=dave}".into(),
            format!("ok: {cuts} of {cuts} torn copies recovered exactly the state after the first 5 operations"),
            format!("ok: {flips} of {flips} flipped copies recovered no changed value and no lost key; {flips}: record 6 skipped"),
        ],
    );
}
