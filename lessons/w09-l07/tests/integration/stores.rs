//! The drill against stores it did not write: the model Python store must
//! pass; each deliberately broken store must fail at the check that catches
//! its defect, with the explanation a student can act on; the untouched
//! Rust starter must fail with its `todo!` visible.

use std::path::Path;

use drill::testing::{python_store, rust_starter};

use crate::binary;

#[test]
fn the_model_python_store_passes() {
    let Some(store) = python_store("python/kvstore.py") else {
        return;
    };
    let stdout = binary().passes_against(&store);
    assert!(stdout.contains("store under test: "), "{stdout}");
    assert!(
        stdout.contains("  sha256 "),
        "the script's digest:\n{stdout}"
    );
    assert!(stdout.contains("kvstore.py DIR"), "{stdout}");
}

#[test]
fn no_replay_fails_the_get_after_the_restart() {
    let Some(store) = python_store("broken/no_replay.py") else {
        return;
    };
    binary().fails_against(
        &store,
        &[
            "FAILED: GET test_key after the restart: expected VALUE test_value, found NOT_FOUND",
            "Likely defect: the store does not rebuild its map from the WAL on start",
        ],
    );
}

#[test]
fn a_walput_applied_to_memory_fails_before_the_crash() {
    let Some(store) = python_store("broken/walput_applied.py") else {
        return;
    };
    let stdout = binary().fails_against(
        &store,
        &[
            "FAILED: GET test_key on the running store after the WALPUT: expected NOT_FOUND, found VALUE test_value",
            "Likely defect: the store applied a WALPUT to its in-memory map",
        ],
    );
    assert!(!stdout.contains("simulated crash"), "{stdout}");
}

#[test]
fn ok_before_the_write_fails_when_the_ok_arrives() {
    let Some(store) = python_store("broken/ok_before_write.py") else {
        return;
    };
    binary().fails_against(
        &store,
        &[
            "FAILED: the store's files when WALPUT test_key test_value was acknowledged: expected the record written to the WAL file, found no file changed",
            "Likely defect: the store replied OK before writing the record",
        ],
    );
}

#[test]
fn a_store_command_that_does_not_exist_is_explained() {
    let stdout = binary().fails_against(
        "/nonexistent/kvstore --fast",
        &[
            "FAILED: start the store (/nonexistent/kvstore --fast DIR): expected a running process, found error:",
            "Likely defect: check the --store command",
        ],
    );
    assert!(
        stdout.contains("store under test: /nonexistent/kvstore --fast DIR"),
        "{stdout}"
    );
}

#[test]
fn a_store_that_prints_logs_on_stdout_is_told_where_they_go() {
    let stdout = binary().fails_against(
        "sh -c 'echo starting up; exec cat' store",
        &[
            "expected a READY line, found \"starting up\"",
            "print logs to stderr, never to stdout",
        ],
    );
    assert!(!stdout.contains("[1/7]"), "{stdout}");
}

#[test]
fn a_store_that_never_answers_is_killed_after_the_bound() {
    // READY, then never reads or replies (stdout stays open).
    binary().fails_against(
        "sh -c 'echo READY; exec sleep 60' store",
        &[
            "FAILED: reply to WALPUT test_key test_value: expected one reply line, found nothing after 5 s",
            "flush stdout after each line",
        ],
    );
}

#[test]
fn the_untouched_rust_starter_fails_with_its_todo() {
    // Cargo's scratch space for integration tests: kept between runs, so
    // the starter is compiled once.
    let exe = rust_starter(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("rust-starter"));
    binary().fails_against(
        &exe.display().to_string(),
        &[
            "expected a READY line, found the store exited (exit status: 101) without printing it",
            "panicked at",
            "not yet implemented: w09-l07:",
        ],
    );
}
