//! The injected fault must make a real check fail: exit 1, a verdict that
//! says what was expected and what was found, and no passed line.

use drill::testing::assert_fails_lesson;
use w09_l08::Fault;

use crate::binary;

#[test]
fn corrupt_record_fails_the_state_check_after_the_partial_record() {
    let stdout = binary().fails(
        Fault::CorruptRecord,
        "FAILED: the first 10 of the 31 bytes of record 6 on disk: GET of every key after the \
         restart: expected {user:1=alicia, user:2=NOT_FOUND, user:3=carol, user:4=NOT_FOUND}, \
         found {user:1=alice, user:2=bob, user:3=NOT_FOUND, user:4=NOT_FOUND}. Likely defect: \
         none: this is the damage --break corrupt-record did on purpose (flip one bit in operation \
         3's record, in the copy that holds the partial record 6); a store that skips a damaged \
         record rightly loses it, so this check fails by design",
    );
    assert_fails_lesson(&stdout, concat!(env!("CARGO_MANIFEST_DIR"), "/lesson.md"));
    assert!(stdout.contains("(inside operation 3's record)"), "{stdout}");
    assert!(
        !stdout.contains("[5/10]"),
        "stops at the first failure:\n{stdout}"
    );
}
