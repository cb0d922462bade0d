//! The drill driven through its library, as another program would.

use w09_l07::Fault;

use crate::binary;

#[test]
fn run_prints_seven_steps() {
    let text = binary().library_passes();
    assert!(
        text.contains("[6/7] restart after the real crash"),
        "{text}"
    );
}

#[test]
fn a_fault_is_a_check_error_with_expected_and_found() {
    binary().library_fails(
        Fault::CorruptRecord,
        "GET test_key after the restart",
        "VALUE test_value",
        "NOT_FOUND",
    );
}
