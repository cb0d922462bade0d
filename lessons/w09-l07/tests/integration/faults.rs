//! Each injected fault must make a real check fail: exit 1, a verdict that
//! says what was expected and what was found, and no passed line.

use drill::testing::assert_fails_lesson;
use w09_l07::Fault;

use crate::binary;

#[test]
fn corrupt_record_fails_the_get_after_the_restart() {
    let stdout = binary().fails(
        Fault::CorruptRecord,
        "FAILED: GET test_key after the restart: expected VALUE test_value, found NOT_FOUND. \
         Likely defect: none: this is the damage --break corrupt-record did on purpose (flip one \
         bit in the record the first WALPUT wrote, after the CRASH and before the restart); a \
         store that skips a damaged record rightly loses it, so this check fails by design",
    );
    assert_fails_lesson(&stdout, concat!(env!("CARGO_MANIFEST_DIR"), "/lesson.md"));
    assert!(
        stdout.contains("fault injected: flipped bit 0 of byte"),
        "{stdout}"
    );
    assert!(
        stdout.contains("store stderr: skipping corrupt record at offset 24 ("),
        "the store's own warning is shown under its step:\n{stdout}"
    );
    assert!(
        !stdout.contains("real crash"),
        "stops at the first failure:\n{stdout}"
    );
}

#[test]
fn corrupt_crashed_record_fails_after_the_real_crash() {
    let stdout = binary().fails(
        Fault::CorruptCrashedRecord,
        "FAILED: GET crash_key after SIGKILL and restart: expected VALUE written_before_SIGKILL, \
         found NOT_FOUND. Likely defect: none: this is the damage --break corrupt-crashed-record \
         did on purpose (flip one bit in the record the second WALPUT wrote, after the SIGKILL and \
         before the restart); a store that skips a damaged record rightly loses it, so this check \
         fails by design",
    );
    assert_fails_lesson(&stdout, concat!(env!("CARGO_MANIFEST_DIR"), "/lesson.md"));
    assert!(stdout.contains("then SIGKILL to the store"), "{stdout}");
}
