//! The power-loss check in this drill: a store that never fsyncs fails at
//! its first acknowledged PUT with the loss shown; the reference passes; a
//! log created without a directory fsync is a warning; a compacted log
//! renamed over the old one without one fails at the first PUT after it.

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
            "[10/10] power-loss check: strace recorded 5 store processes; each of the 7 OKs"
        ),
        "{stdout}"
    );
    assert!(!stdout.contains("warning:"), "{stdout}");
}

#[test]
fn a_store_that_never_fsyncs_fails_at_its_first_put() {
    let Some(store) = traced_python_store("broken/no_fsync.py") else {
        return;
    };
    let stdout = binary().fails_against(
        &store,
        &[
            "FAILED: power-loss check: the OK to PUT user:1 alice: expected an fsync of wal.log",
            "Likely defect: the store acknowledges before its record is durable",
        ],
    );
    assert!(
        stdout.contains(
            "the store answered GET user:1 -> NOT_FOUND, though PUT user:1 alice was acknowledged"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("flipped copies recovered no changed value"),
        "{stdout}"
    );
}

#[test]
fn a_log_created_without_a_directory_fsync_is_a_warning() {
    let Some(store) = traced_python_store("broken/no_dir_fsync.py") else {
        return;
    };
    let stdout = binary().passes_against(&store);
    assert!(
        stdout.contains("warning: wal.log was created (or renamed into place) in the store's directory, and the directory was not fsync'd before the OK to PUT user:1 alice"),
        "{stdout}"
    );
}

/// The store compacts at each start on a non-empty log; the PUT after the
/// restart on the partial record is the first OK that depends on the rename.
#[test]
fn a_compaction_renamed_without_a_directory_fsync_fails_at_the_put_after_it() {
    let Some(store) = traced_python_store("broken/compacts_without_dir_fsync.py") else {
        return;
    };
    let stdout = binary().fails_against(
        &store,
        &[
            "FAILED: power-loss check: the OK to PUT user:4 dave: expected an fsync of the store's directory after rename wal.log.compact -> wal.log and before the OK",
            "Likely defect: a rename is durable only once its directory is fsync'd",
        ],
    );
    assert!(
        stdout.contains(
            "the store answered GET user:4 -> NOT_FOUND, though PUT user:4 dave was acknowledged"
        ),
        "{stdout}"
    );
}

/// The old log unlinked before the rename: judged as the rename over it.
#[test]
fn a_compaction_unlinking_the_old_log_first_fails_at_the_put_after_it() {
    let Some(store) = traced_python_store("broken/compacts_unlinking_the_old_log.py") else {
        return;
    };
    let stdout = binary().fails_against(
        &store,
        &[
            "FAILED: power-loss check: the OK to PUT user:4 dave: expected an fsync of the store's directory after rename wal.log.compact -> wal.log and before the OK",
        ],
    );
    assert!(
        stdout.contains(
            "the store answered GET user:4 -> NOT_FOUND, though PUT user:4 dave was acknowledged"
        ),
        "{stdout}"
    );
}

#[test]
fn a_compaction_with_a_directory_fsync_passes() {
    let Some(store) = traced_python_store("python/kvstore_compacting.py") else {
        return;
    };
    let stdout = binary().passes_against(&store);
    assert!(
        stdout.contains(
            "[10/10] power-loss check: strace recorded 5 store processes; each of the 7 OKs"
        ),
        "{stdout}"
    );
}
