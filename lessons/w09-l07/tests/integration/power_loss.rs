//! The power-loss check: a store that never fsyncs fails with the request
//! named and the loss shown; a store that fsyncs passes; a store that never
//! fsyncs its directory after creating its log passes with a warning, and
//! one that never fsyncs it after renaming a compacted log over the old one
//! fails with the rename named; without strace the check says it was
//! skipped.

use drill::testing::{strace_installed, traced_python_store};

use crate::binary;

#[test]
fn the_reference_store_passes_the_check() {
    if !strace_installed() {
        return;
    }
    let stdout = binary().passes();
    assert!(
        stdout.contains(
            "[7/7] power-loss check: strace recorded 3 store processes; each of the 2 OKs"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("why: a SIGKILL leaves the kernel's page cache alone"),
        "{stdout}"
    );
    assert!(!stdout.contains("warning:"), "{stdout}");
}

#[test]
fn a_store_that_never_fsyncs_fails_and_the_loss_is_shown() {
    let Some(store) = traced_python_store("broken/no_fsync.py") else {
        return;
    };
    let stdout = binary().fails_against(
        &store,
        &[
            "FAILED: power-loss check: the OK to WALPUT test_key test_value: expected an fsync of wal.log after its write and before the OK, found write to wal.log, then OK with no fsync in between",
            "Likely defect: the store acknowledges before its record is durable",
        ],
    );
    assert!(
        stdout.contains("the store answered GET test_key -> NOT_FOUND, though WALPUT test_key test_value was acknowledged"),
        "the loss is shown:\n{stdout}"
    );
    // Every SIGKILL check before it passed: only this check sees it.
    assert!(
        stdout.contains("the acknowledged WALPUT survived SIGKILL"),
        "{stdout}"
    );
}

#[test]
fn the_model_python_store_passes_the_check_without_warnings() {
    let Some(store) = traced_python_store("python/kvstore.py") else {
        return;
    };
    let stdout = binary().passes_against(&store);
    assert!(
        stdout.contains("[7/7] power-loss check: strace recorded"),
        "{stdout}"
    );
    assert!(!stdout.contains("warning:"), "{stdout}");
}

/// A store that grows its log with zeros and writes records into them:
/// the growth is fsync'd before the record, the record fdatasync'd before
/// the OK; the diff shows the record apart from the zeros.
#[test]
fn the_preallocating_python_store_passes_the_check() {
    let Some(store) = traced_python_store("python/kvstore_preallocated.py") else {
        return;
    };
    let stdout = binary().passes_against(&store);
    // A 16-byte header and "PUT test_key test_value", in a 64 KiB step.
    let len = 16 + "PUT test_key test_value".len();
    let first = format!(
        "on disk: wal.log: {len} bytes at offsets 0-{}, then {} zero bytes (preallocated)\n",
        len - 1,
        65536 - len
    );
    assert!(stdout.contains(&first), "{first:?} missing:\n{stdout}");
    let second = 16 + "PUT crash_key written_before_SIGKILL".len();
    let second = format!(
        "on disk: wal.log: {second} bytes at offsets {len}-{}\n",
        len + second - 1
    );
    assert!(stdout.contains(&second), "{second:?} missing:\n{stdout}");
    assert!(
        stdout.contains(
            "[7/7] power-loss check: strace recorded 3 store processes; each of the 2 OKs"
        ),
        "{stdout}"
    );
    assert!(!stdout.contains("warning:"), "{stdout}");
}

#[test]
fn a_log_created_without_a_directory_fsync_is_a_warning() {
    let Some(store) = traced_python_store("broken/no_dir_fsync.py") else {
        return;
    };
    let stdout = binary().passes_against(&store);
    assert!(
        stdout.contains("warning: wal.log was created (or renamed into place) in the store's directory, and the directory was not fsync'd before the OK to WALPUT test_key test_value"),
        "{stdout}"
    );
}

#[test]
fn without_strace_the_check_says_it_was_skipped() {
    // No PATH: no strace (the reference store needs no other program).
    let tmp = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_test_crash_after_wal"))
        .env("PATH", "")
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("[7/7] power-loss check skipped: strace is not installed"),
        "{stdout}"
    );
}

#[test]
fn a_log_rewritten_and_renamed_without_fsync_fails() {
    let Some(store) = traced_python_store("broken/rewrites_log_without_fsync.py") else {
        return;
    };
    let stdout = binary().fails_against(
        &store,
        &[
            "FAILED: power-loss check: the OK to WALPUT test_key test_value: expected an fsync of wal.log.tmp before its rename to wal.log, found write to wal.log.tmp, renamed to wal.log, then OK with no fsync in between",
            // The temporary file and the rename, not "a write to wal.log".
            "(it wrote wal.log.tmp, then renamed it to wal.log with no fsync of wal.log.tmp before the rename",
            "it did not fsync the directory after renaming wal.log.tmp over wal.log",
            "Likely defect: the store renames a file it never fsync'd",
        ],
    );
    assert!(
        stdout.contains("power-loss check: the OK to WALPUT test_key test_value came without an fsync of wal.log.tmp (renamed to wal.log)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("can leave rename wal.log.tmp -> wal.log undone (wal.log as it was before the rename; the new file gone"),
        "{stdout}"
    );
    assert!(
        stdout.contains("the acknowledged WALPUT survived SIGKILL"),
        "{stdout}"
    );
}

/// The compaction at the second start renames a new log over the old one;
/// the WALPUT after it is appended to the new file and fsync'd, but the
/// rename is undone by a power loss without a directory fsync.
#[test]
fn a_compaction_renamed_without_a_directory_fsync_fails_with_the_rename_named() {
    let Some(store) = traced_python_store("broken/compacts_without_dir_fsync.py") else {
        return;
    };
    let stdout = binary().fails_against(
        &store,
        &[
            "FAILED: power-loss check: the OK to WALPUT crash_key written_before_SIGKILL: expected an fsync of the store's directory after rename wal.log.compact -> wal.log and before the OK, found rename wal.log.compact -> wal.log before READY, then the request's record written to the new wal.log",
            "Likely defect: a rename is durable only once its directory is fsync'd",
        ],
    );
    assert!(
        stdout.contains("[7/7] power-loss check: the OK to WALPUT crash_key written_before_SIGKILL depends on rename wal.log.compact -> wal.log, with no fsync of the store's directory after it"),
        "{stdout}"
    );
    assert!(
        stdout.contains("can leave rename wal.log.compact -> wal.log undone (wal.log as it was before the rename; the new file gone, its name wal.log.compact never made durable either); restarted on that state, the store answered GET crash_key -> NOT_FOUND, though WALPUT crash_key written_before_SIGKILL was acknowledged"),
        "the loss is shown:\n{stdout}"
    );
    assert!(
        stdout.contains("the acknowledged WALPUT survived SIGKILL"),
        "{stdout}"
    );
}

/// `syncfs` of a descriptor on another file system flushes nothing of DIR.
#[test]
fn syncfs_of_another_file_system_is_no_sync() {
    let Some(store) = traced_python_store("broken/syncfs_of_another_filesystem.py") else {
        return;
    };
    binary().fails_against(&store, &["FAILED: power-loss check"]);
}

/// The old log unlinked before the new one is renamed into place: the
/// unlink comes back with a power loss as surely as the rename goes.
#[test]
fn a_compaction_unlinking_the_old_log_first_fails_with_the_rename_named() {
    let Some(store) = traced_python_store("broken/compacts_unlinking_the_old_log.py") else {
        return;
    };
    let stdout = binary().fails_against(
        &store,
        &[
            "FAILED: power-loss check: the OK to WALPUT crash_key written_before_SIGKILL: expected an fsync of the store's directory after rename wal.log.compact -> wal.log and before the OK",
            "Likely defect: a rename is durable only once its directory is fsync'd",
        ],
    );
    assert!(
        stdout.contains("the store answered GET crash_key -> NOT_FOUND, though WALPUT crash_key written_before_SIGKILL was acknowledged"),
        "the loss is shown:\n{stdout}"
    );
}

/// The same compaction with the directory fsync'd after the rename.
#[test]
fn a_compaction_with_a_directory_fsync_passes_without_warnings() {
    let Some(store) = traced_python_store("python/kvstore_compacting.py") else {
        return;
    };
    let stdout = binary().passes_against(&store);
    assert!(
        stdout.contains(
            "[7/7] power-loss check: strace recorded 3 store processes; each of the 2 OKs"
        ),
        "{stdout}"
    );
    assert!(!stdout.contains("warning:"), "{stdout}");
}
