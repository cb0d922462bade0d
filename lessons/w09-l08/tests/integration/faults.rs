//! Each injected fault must make a real check fail: exit 1, a verdict line that
//! says what was expected and what was found, and no passed line.

use drill::testing::assert_fails_lesson;
use w09_l08::{Fault, offset_of};

use crate::binary;

const FAILED: &str = "FAILED: records replayed: expected 5, found 2";

#[test]
fn corrupt_record_fails_the_replay_count() {
    let stdout = binary().fails(Fault::CorruptRecord, FAILED);
    assert_fails_lesson(&stdout, concat!(env!("CARGO_MANIFEST_DIR"), "/lesson.md"));
    assert!(stdout.contains("(inside record 3's key)"), "{stdout}");
    let warning = format!(
        "warning: skipping corrupt record at offset {} (checksum mismatch",
        offset_of(3)
    );
    assert!(stdout.contains(&warning), "{stdout}");
    assert!(stdout.contains("2 readable records after it"), "{stdout}");
    assert!(
        !stdout.contains("[5/10]"),
        "stops at the first failure:\n{stdout}"
    );
}

#[test]
fn corrupt_child_record_fails_after_the_real_crash() {
    let stdout = binary().fails(Fault::CorruptChildRecord, FAILED);
    assert_fails_lesson(&stdout, concat!(env!("CARGO_MANIFEST_DIR"), "/lesson.md"));
    assert!(
        stdout.contains("killed with SIGKILL after WAL fsync"),
        "{stdout}"
    );
}
