//! The drill driven through its library, as another program would.

use w09_l08::Fault;

use crate::binary;

#[test]
fn run_prints_eight_steps() {
    let text = binary().library_passes();
    assert!(text.contains("[8/10]  bit flips"), "{text}");
}

#[test]
fn a_fault_is_a_check_error_with_expected_and_found() {
    binary().library_fails(
        Fault::CorruptRecord,
        "the first 10 of the 31 bytes of record 6 on disk: GET of every key after the restart",
        "{user:1=alicia, user:2=NOT_FOUND, user:3=carol, user:4=NOT_FOUND}",
        "{user:1=alice, user:2=bob, user:3=NOT_FOUND, user:4=NOT_FOUND}",
    );
}
