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
        "[2/6] wrote PUT test_key = \"test_value\" to the WAL only (store.wal().append, bypassing put): LSN 1, fsync'd",
        "ok: get(test_key) on this store returns nothing: the in-memory map was not updated",
        "[3/6] simulated crash: dropped the store before the PUT was applied to its map",
        "replay found 1 record (last LSN 1), the log ends cleanly",
        "ok: get(test_key) = \"test_value\": the PUT written at LSN 1 was recovered from the WAL",
        "ok: get(crash_key) = \"written before SIGKILL\": the PUT written at LSN 1 was recovered",
    ] {
        assert!(stdout.contains(line), "{line:?} missing:\n{stdout}");
    }
}

#[test]
fn the_child_is_killed_with_sigkill_after_its_fsync() {
    let stdout = binary().passes();
    let killed = stdout
        .lines()
        .find(|line| line.contains("killed with SIGKILL after WAL fsync"))
        .expect("a kill line");
    let pid = killed
        .trim()
        .strip_prefix("child PID ")
        .and_then(|rest| rest.split(' ').next())
        .expect("child PID <pid>");
    assert!(pid.parse::<u32>().is_ok(), "{killed}");
    assert!(killed.ends_with("(signal: 9 (SIGKILL))"), "{killed}");
    let wrote = format!(
        "child PID {pid} wrote PUT crash_key = \"written before SIGKILL\" to the WAL only: LSN 1, fsync'd"
    );
    assert!(stdout.contains(&wrote), "{wrote:?} missing:\n{stdout}");
}
