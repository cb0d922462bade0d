//! Damage before the last record: a store must stop at the first corrupt
//! record (not replay past it, not refuse to start) and keep the readable
//! records after it somewhere in DIR if it cuts them.

use drill::testing::python_store;

use crate::binary;

const STEP: &str = "[9/10]  damage before the last record: record 3 of 6 corrupt (bit 0 of byte ";
const STOPPED: &str = "ok: recovery stopped at record 3: state {user:1=alice, user:2=bob, user:3=NOT_FOUND, user:4=NOT_FOUND} is the state after operations 1-2, nothing after the damage applied";
const CUT_WARNING: &str = "warning: the readable records after the damage (operations 4-6) are in no file of the store's directory any more";

#[test]
fn the_reference_store_stops_at_record_3_and_keeps_the_rest() {
    let stdout = binary().passes();
    for line in [STEP, STOPPED, "(saved to wal.log.broken-"] {
        assert!(stdout.contains(line), "{line:?} missing:\n{stdout}");
    }
    assert!(!stdout.contains(CUT_WARNING), "{stdout}");
}

#[test]
fn the_model_python_store_stops_and_saves_what_it_cuts() {
    let Some(store) = python_store("python/kvstore.py") else {
        return;
    };
    let stdout = binary().passes_against(&store);
    for line in [STEP, STOPPED, "the cut bytes are saved in wal.log.broken-"] {
        assert!(stdout.contains(line), "{line:?} missing:\n{stdout}");
    }
    assert!(!stdout.contains(CUT_WARNING), "{stdout}");
}

#[test]
fn replaying_past_a_corrupt_record_fails_naming_the_operations_applied() {
    let Some(store) = python_store("broken/replays_past_corrupt_record.py") else {
        return;
    };
    let stdout = binary().fails_against(
        &store,
        &[
            "FAILED: record 3 of 6 corrupt (bit 0 of byte ",
            "found {user:1=alice, user:2=NOT_FOUND, user:3=carol, user:4=dave}",
            "Likely defect: record 3 is corrupt, yet operations 4-6 were applied (DEL user:2, PUT user:3 carol, PUT user:4 dave): recovery must stop at the first corrupt record",
        ],
    );
    assert!(stdout.contains(STEP), "{stdout}");
}

#[test]
fn refusing_to_start_on_earlier_damage_is_not_the_lessons_behaviour() {
    let Some(store) = python_store("broken/refuses_damage_before_last.py") else {
        return;
    };
    binary().fails_against(
        &store,
        &[
            "FAILED: record 3 of 6 corrupt (bit 0 of byte ",
            "found the store exited (exit status: 3) without printing it",
            "refusing to start, repair the log by hand",
            "Likely defect: the store would not start on a log with a corrupt record before its last: refusing to start is not the lesson's behaviour either",
        ],
    );
}

#[test]
fn cutting_the_records_after_damage_without_a_copy_is_warned() {
    let Some(store) = python_store("broken/cuts_records_after_damage.py") else {
        return;
    };
    let stdout = binary().passes_against(&store);
    for line in [STEP, STOPPED, CUT_WARNING] {
        assert!(stdout.contains(line), "{line:?} missing:\n{stdout}");
    }
}
