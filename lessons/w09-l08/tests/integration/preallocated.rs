//! A store that preallocates its log (`kvstore_preallocated.py`): its
//! records are written into zeros, so the drill must read each as one
//! contiguous span, tell the zeros a write grew the file by from the
//! record, and tear the record inside the grown file. The model passes,
//! power-loss check included; its broken variant fails where it should.

use drill::Store;
use drill::files::Written;
use drill::process::Running;
use drill::session::put;
use drill::testing::{python_store, traced_python_store};

use crate::{assert_lines, assert_no_cost_named, binary};

/// The model's record sizes: a 16-byte header and the request's text.
fn record_len(body: &str) -> usize {
    16 + body.len()
}

/// Where record 6 starts: after the five operations' records.
fn sixth_offset() -> usize {
    [
        "PUT user:1 alice",
        "PUT user:2 bob",
        "PUT user:1 alicia",
        "DEL user:2",
        "PUT user:3 carol",
    ]
    .iter()
    .map(|body| record_len(body))
    .sum()
}

/// Record 6 is written in place, inside the first 64 KiB step: one span
/// of its 31 bytes, though most of its header's bytes are zeros that were
/// already there; the first PUT's growth is told apart from its record.
#[test]
fn the_preallocating_store_passes_with_its_records_as_spans() {
    let Some(store) = traced_python_store("python/kvstore_preallocated.py") else {
        return;
    };
    let stdout = binary().passes_against(&store);
    assert_no_cost_named(&stdout);
    let (len, offset) = (record_len("PUT user:4 dave"), sixth_offset());
    let first = record_len("PUT user:1 alice");
    assert_lines(
        &stdout,
        &[
            format!(
                "1. PUT user:1 alice  -> OK; on disk: wal.log: {first} bytes at offsets 0-{}, then {} zero bytes (preallocated)\n",
                first - 1,
                65536 - first
            ),
            format!(
                "record 6 is what PUT user:4 dave wrote: {len} bytes at offsets {offset}-{} of wal.log\n",
                offset + len - 1
            ),
            format!("only the first 10 of the {len} bytes of record 6 reached the disk"),
            format!("store stderr: skipping corrupt record at offset {offset} (partial record: "),
            format!("store stderr: zeroed the log from offset {offset}: "),
            "ok: PUT user:4 dave survived the restart".into(),
            format!(
                "ok: {0} of {0} torn copies recovered exactly the state after the first 5 operations",
                len - 1
            ),
            format!(
                "ok: {0} of {0} flipped copies recovered no changed value and no lost key",
                len * 8
            ),
            "[10/10] power-loss check: strace recorded 5 store processes; each of the 7 OKs".into(),
        ],
    );
    // The drill's own warnings (the store's stderr may say "warning:").
    assert!(
        !stdout
            .lines()
            .any(|line| line.trim_start().starts_with("warning:")),
        "{stdout}"
    );
    assert!(
        !stdout.contains("keeps the"),
        "record 6 did not grow the file:\n{stdout}"
    );
}

/// With a 160-byte step, record 6 starts in the zeros of the first step and
/// runs into the second: the write grows the file to 320 bytes, of which
/// the zeros after the record are not its bytes, and every tear keeps the
/// grown length.
#[test]
fn a_record_that_grows_the_file_is_told_from_the_zeros() {
    let Some(store) = python_store("python/kvstore_preallocated.py") else {
        return;
    };
    let stdout = binary().passes_against(&format!("{store} --grow 160"));
    let (len, offset) = (record_len("PUT user:4 dave"), sixth_offset());
    assert!(
        offset < 160 && offset + len > 160,
        "record 6 crosses the step"
    );
    assert_lines(
        &stdout,
        &[
            format!(
                "record 6 is what PUT user:4 dave wrote: {len} bytes at offsets {offset}-{} of wal.log; the file also grew by {} zero bytes (preallocated)\n",
                offset + len - 1,
                320 - offset - len
            ),
            "wal.log keeps the 320 bytes the write grew it to (a store that preallocates makes the growth durable before it writes into it): zeros after those 10 bytes".into(),
            "store stderr: zeroed the log from offset 153: 9 byte(s) cleared, the file keeps its 320 bytes".into(),
            format!("record 6 torn after each of its first 1 to {} bytes", len - 1),
            "each copy keeps wal.log at the 320 bytes the write grew it to, zeros after the cut".into(),
            format!("ok: {0} of {0} torn copies recovered exactly", len - 1),
        ],
    );
}

#[test]
fn writing_after_the_last_nonzero_byte_loses_the_new_put() {
    let Some(store) = python_store("broken/prealloc_writes_after_nonzero_bytes.py") else {
        return;
    };
    let stdout = binary().fails_against(
        &store,
        &[
            "FAILED: GET of every key after the new PUT and a restart: expected {user:1=alicia, user:2=NOT_FOUND, user:3=carol, user:4=dave}, found {user:1=alicia, user:2=NOT_FOUND, user:3=carol, user:4=NOT_FOUND}",
            "Likely defect: the new record went behind the partial record, where a reader stops: the log is preallocated, so write the next record right after the last good one",
        ],
    );
    // The partial record itself was recovered from: only the write after
    // it went wrong.
    assert!(
        stdout.contains("ok: partial record 6 skipped, 5 records recovered"),
        "{stdout}"
    );
}

/// What the drill cannot build: a torn record longer than the record
/// written after the recovery. The store zeroes the torn bytes before it
/// writes, so the next start finds a clean log, with no leftover of the
/// torn record behind the new one to read or to report.
#[test]
fn a_shorter_record_after_a_longer_torn_one_leaves_nothing_behind() {
    let Some(command) = python_store("python/kvstore_preallocated.py") else {
        return;
    };
    let store = Store::from_command_line(&command).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let long = "x".repeat(60);
    let mut running = Running::start(&store, dir.path()).unwrap();
    running.expect_ok(&put("a", "1")).unwrap();
    let changes = running.expect_ok(&put("long", &long)).unwrap();
    running.close().unwrap();
    let written = Written::single("PUT long", &changes).unwrap();
    let log = dir.path().join(&written.path);
    std::fs::write(&log, written.torn(written.len() - 5)).unwrap();

    let mut running = Running::start(&store, dir.path()).unwrap();
    assert_eq!(running.ready, "replayed 1, skipped 1");
    running.expect_ok(&put("b", "2")).unwrap();
    running.close().unwrap();

    let mut running = Running::start(&store, dir.path()).unwrap();
    assert_eq!(running.ready, "replayed 2, skipped 0", "a clean log");
    assert_eq!(running.get("a").unwrap().as_deref(), Some("1"));
    assert_eq!(running.get("b").unwrap().as_deref(), Some("2"));
    assert_eq!(running.get("long").unwrap(), None);
    running.close().unwrap();
    let bytes = std::fs::read(&log).unwrap();
    assert_eq!(
        bytes.len(),
        written.after.len(),
        "the file keeps its length"
    );
    let end = bytes.iter().rposition(|&byte| byte != 0).unwrap() + 1;
    assert!(
        end < written.span.record.end,
        "the torn record's tail is gone: bytes end at {end}"
    );
}
