//! The drill against stores it did not write: the model Python store must
//! pass; each deliberately broken store must fail at the check that catches
//! its defect, with the explanation a student can act on.

use std::path::Path;

use drill::testing::{python_store, rust_starter};

use crate::{assert_no_cost_named, binary};

#[test]
fn the_model_python_store_passes() {
    let Some(store) = python_store("python/kvstore.py") else {
        return;
    };
    let stdout = binary().passes_against(&store);
    assert_no_cost_named(&stdout);
    for line in [
        "store stderr: skipping corrupt record at offset ",
        "ok: partial record 6 skipped, 5 records recovered",
        "torn copies recovered exactly the state after the first 5 operations",
        "flipped copies recovered no changed value and no lost key",
    ] {
        assert!(stdout.contains(line), "{line:?} missing:\n{stdout}");
    }
    assert!(
        !stdout.contains("in the reference format"),
        "the reference format's field names are for the reference store only:\n{stdout}"
    );
}

#[test]
fn no_checksum_fails_a_bit_flip_with_the_changed_value() {
    let Some(store) = python_store("broken/no_checksum.py") else {
        return;
    };
    let stdout = binary().fails_against(
        &store,
        &[
            "of record 6 (offset ",
            ") flipped: GET ",
            "Likely defect: the flipped byte 0x",
            "came back as ",
            "nothing checked the record's integrity; a checksum over the whole record",
        ],
    );
    assert!(stdout.contains("[8/10]  bit flips"), "{stdout}");
}

#[test]
fn dying_on_a_partial_record_fails_the_lessons_restart() {
    let Some(store) = python_store("broken/dies_on_partial.py") else {
        return;
    };
    binary().fails_against(
        &store,
        &[
            "FAILED: the first 10 of the ",
            " bytes of record 6 on disk: start the store on ",
            "expected a READY line, found the store exited (exit status: 1) without printing it",
            "ValueError",
            "Likely defect: the store died on a damaged log",
        ],
    );
}

#[test]
fn replaying_a_partial_record_fails_a_tear() {
    let Some(store) = python_store("broken/replays_partial.py") else {
        return;
    };
    let stdout = binary().fails_against(
        &store,
        &[
            "FAILED: record 6 torn after ",
            "GET of every key after the restart",
            "Likely defect: the store replayed a partial record as if it were whole (user:4=",
        ],
    );
    assert!(
        stdout.contains("[7/10]  cut at every offset") || stdout.contains("[4/10]"),
        "{stdout}"
    );
}

#[test]
fn appending_behind_a_torn_tail_loses_the_new_put() {
    let Some(store) = python_store("broken/appends_behind_torn_tail.py") else {
        return;
    };
    binary().fails_against(
        &store,
        &[
            "FAILED: GET of every key after the new PUT and a restart: expected {user:1=alicia, user:2=NOT_FOUND, user:3=carol, user:4=dave}, found {user:1=alicia, user:2=NOT_FOUND, user:3=carol, user:4=NOT_FOUND}",
            "Likely defect: the new record went behind the partial record, where a reader stops: cut the torn tail off (truncate the log",
        ],
    );
}

#[test]
fn discarding_the_log_on_damage_loses_the_five_operations() {
    let Some(store) = python_store("broken/discards_log_on_damage.py") else {
        return;
    };
    binary().fails_against(
        &store,
        &[
            "FAILED: the first 10 of the ",
            "found {user:1=NOT_FOUND, user:2=NOT_FOUND, user:3=NOT_FOUND, user:4=NOT_FOUND}",
            "Likely defect: intact records before the damaged one were lost",
        ],
    );
}

#[test]
fn the_untouched_rust_starter_fails_with_its_todo() {
    let exe = rust_starter(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("rust-starter"));
    binary().fails_against(
        &exe.display().to_string(),
        &[
            "start the store on ",
            "expected a READY line, found the store exited (exit status: 101) without printing it",
            "not yet implemented: w09-l07:",
        ],
    );
}

#[test]
fn a_checksum_that_skips_the_key_fails_a_key_flip() {
    let Some(store) = python_store("broken/checksum_skips_key.py") else {
        return;
    };
    binary().fails_against(
        &store,
        &[
            "flipped: GET tser:4 after the restart: expected NOT_FOUND (no operation wrote that key), found VALUE dave",
            "Likely defect: the flipped byte 0x75->0x74 came back as a new key tser:4=dave",
        ],
    );
}

#[test]
fn allocating_a_claimed_length_is_named_as_running_out_of_memory() {
    let Some(store) = python_store("broken/prealloc_allocates_claimed_length.py") else {
        return;
    };
    binary().fails_against(
        &store,
        &[
            "expected a READY line, found the store exited (exit status: 1) without printing it",
            "MemoryError",
            // With the figure first when its memory was sampled high: the
            // smaller claims of its scan were allocated before the refused one.
            "Likely defect: ",
            "the store ran out of memory (under the drill's memory limit",
            "it allocates what a damaged length field claims before checking that the bytes exist",
        ],
    );
}
