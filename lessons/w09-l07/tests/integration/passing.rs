use drill::testing::assert_proves_lesson;

use crate::binary;

#[test]
fn passes_and_proves_the_lesson() {
    let stdout = binary().passes();
    assert_proves_lesson(&stdout, concat!(env!("CARGO_MANIFEST_DIR"), "/lesson.md"));
}

#[test]
fn every_step_says_what_it_did() {
    let stdout = binary().passes();
    for line in [
        "store under test: the reference store (wal::KvStore, as `wal serve DIR`)",
        "[2/7] WALPUT test_key test_value -> OK: the PUT went to the WAL only",
        "      on disk: wal.log: ",
        "store stderr: WALPUT test_key: LSN 1, ",
        "ok: GET test_key -> NOT_FOUND on the running store: the in-memory map was not updated",
        "[3/7] simulated crash: CRASH -> the store exited at once (exit status: 1)",
        "store: READY replayed 1, skipped 0",
        "ok: GET test_key -> VALUE test_value: the PUT was recovered from the WAL",
        "ok: GET crash_key -> VALUE written_before_SIGKILL: the acknowledged WALPUT survived SIGKILL",
    ] {
        assert!(stdout.contains(line), "{line:?} missing:\n{stdout}");
    }
}

#[test]
fn the_store_is_killed_with_sigkill_on_its_ok() {
    let stdout = binary().passes();
    let killed = stdout
        .lines()
        .find(|line| {
            line.starts_with(
                "[5/7] real crash: WALPUT crash_key written_before_SIGKILL -> OK, then SIGKILL",
            )
        })
        .expect("a kill line");
    assert!(killed.ends_with("(signal: 9 (SIGKILL))"), "{killed}");
}
