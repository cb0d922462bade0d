//! Each injected fault must make a real check fail: exit 1, a verdict line that
//! says what was expected and what was found, and no passed line.

use drill::testing::assert_fails_lesson;
use w09_l07::Fault;

use crate::binary;

#[test]
fn corrupt_record_fails_the_recovery_check() {
    let stdout = binary().fails(
        Fault::CorruptRecord,
        "FAILED: get(test_key) after recovery: expected \"test_value\", found nothing",
    );
    assert_fails_lesson(&stdout, concat!(env!("CARGO_MANIFEST_DIR"), "/lesson.md"));
    assert!(
        stdout.contains("fault injected: flipped bit 0 of byte 45"),
        "{stdout}"
    );
    assert!(
        stdout.contains("warning: skipping corrupt record at offset 16 (checksum mismatch"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("real crash"),
        "stops at the first failure:\n{stdout}"
    );
}

#[test]
fn corrupt_child_record_fails_after_the_real_crash() {
    let stdout = binary().fails(
        Fault::CorruptChildRecord,
        "FAILED: get(crash_key) after recovery: expected \"written before SIGKILL\", found nothing",
    );
    assert_fails_lesson(&stdout, concat!(env!("CARGO_MANIFEST_DIR"), "/lesson.md"));
    assert!(
        stdout.contains("killed with SIGKILL after WAL fsync"),
        "{stdout}"
    );
}
