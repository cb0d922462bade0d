use drill::testing::assert_proves_lesson;
use w09_l08::{PARTIAL_LEN, SIXTH, offset_of};

use crate::binary;

fn assert_lines(stdout: &str, lines: &[String]) {
    for line in lines {
        assert!(
            stdout.contains(line.as_str()),
            "{line:?} missing:\n{stdout}"
        );
    }
}

#[test]
fn passes_and_proves_the_lesson() {
    let stdout = binary().passes();
    assert_proves_lesson(&stdout, concat!(env!("CARGO_MANIFEST_DIR"), "/lesson.md"));
}

#[test]
fn the_lessons_task_is_printed_step_by_step() {
    let stdout = binary().passes();
    let partial = offset_of(6);
    assert_lines(
        &stdout,
        &[
            "LSN 3  put user:1 = \"alicia\"  (overwrites LSN 1)".into(),
            "LSN 4  delete user:2  (removes what LSN 2 set)".into(),
            "state after these 5 operations: {user:1=\"alicia\", user:3=\"carol\"}".into(),
            format!(
                "[3/10]  simulated power loss mid-write: only the first {PARTIAL_LEN} of the {} bytes of record 6",
                SIXTH.record_len()
            ),
            format!(
                "warning: skipping corrupt record at offset {partial} (incomplete record: only {PARTIAL_LEN} bytes before the end of the file)"
            ),
            format!("ok: 5 records replayed (LSN 1 to 5); the partial record 6 at offset {partial} was skipped"),
            "ok: state {user:1=\"alicia\", user:3=\"carol\"} equals the state after the first 5 operations".into(),
            "empty WAL file (0 bytes)".into(),
            "ok: replay found 0 records and no warning: no crash".into(),
            "ok: state {} equals the state after no operations (the empty state)".into(),
        ],
    );
}

#[test]
fn further_than_the_lesson_with_counts() {
    let stdout = binary().passes();
    let cuts = SIXTH.record_len() - 1;
    let flips = SIXTH.record_len() * 8;
    assert_lines(
        &stdout,
        &[
            format!("kept its {PARTIAL_LEN} bytes in "),
            format!("/wal.log.broken-{}", offset_of(6)),
            "ok: put user:4 = \"dave\" landed at LSN 6 and survived another restart: 6 records replayed, no warning".into(),
            format!("ok: cut at every offset: {cuts} of {cuts} cuts recovered exactly 5 records"),
            format!("ok: bit flips: {flips} of {flips} single-bit flips in record 6 were caught and never applied"),
        ],
    );
}

#[test]
fn real_crash_is_killed_and_recovered() {
    let stdout = binary().passes();
    let (_, after_kill) = stdout
        .split_once("killed with SIGKILL after WAL fsync (signal: 9 (SIGKILL))")
        .expect("a kill line");
    assert!(
        after_kill.contains("[10/10] restart after the real crash"),
        "{stdout}"
    );
    assert!(
        after_kill.contains(&format!(
            "warning: skipping corrupt record at offset {}",
            offset_of(6)
        )),
        "{stdout}"
    );
    assert!(
        after_kill.contains("ok: 5 records replayed (LSN 1 to 5)"),
        "{stdout}"
    );
}
