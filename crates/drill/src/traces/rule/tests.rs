//! The rule's tests: strace snippets and what the rule finds in them.

use super::*;
use crate::traces::parse::parse;

fn findings(trace: &str, requests: &[&str]) -> Findings {
    findings_among(trace, requests, &BTreeSet::new())
}

/// [`findings`] with the files `existing` in DIR at the store's start.
fn findings_among(trace: &str, requests: &[&str], existing: &BTreeSet<PathBuf>) -> Findings {
    let requests: Vec<Request> = requests
        .iter()
        .map(|line| Request::parse(line).unwrap())
        .collect();
    check(
        &parse(trace),
        &Context {
            dir: Path::new("/s"),
            existing,
            stdout_inode: 9,
            requests: &requests,
            cwd: Path::new("/s"),
        },
    )
}

const CREATE: &str = "1 openat(AT_FDCWD</>, \"/s/wal.log\", O_RDWR|O_CREAT|O_APPEND, 0644) = 3</s/wal.log>\n\
                      1 fsync(3</s/wal.log>) = 0\n";
const DIR_SYNC: &str = "1 openat(AT_FDCWD</>, \"/s\", O_RDONLY) = 4</s>\n1 fsync(4</s>) = 0\n";
const READY: &str = "1 write(1<pipe:[9]>, \"READY\\n\", 6) = 6\n";
/// A temporary file written, never fsync'd, renamed over the log, then OK.
const UNSYNCED_TEMP_RENAMED: &str = "1 openat(AT_FDCWD</>, \"/s/wal.tmp\", O_WRONLY|O_CREAT, 0644) = 5</s/wal.tmp>\n1 write(5</s/wal.tmp>, \"all\", 3) = 3\n1 rename(\"wal.tmp\", \"wal.log\") = 0\n1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n";

#[test]
fn an_fsync_before_each_ok_passes() {
    let trace = format!(
        "{CREATE}{DIR_SYNC}{READY}1 write(3</s/wal.log>, \"rec\", 3) = 3\n1 fdatasync(3</s/wal.log>) = 0\n1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n"
    );
    let found = findings(&trace, &["PUT a 1"]);
    assert_eq!(found.violation, None);
    assert_eq!(found.acknowledged_writes, 1);
    assert!(found.unsynced_directories.is_empty());
}

#[test]
fn a_write_without_fsync_before_its_ok_is_a_violation() {
    let trace = format!(
        "{CREATE}{DIR_SYNC}{READY}1 write(1<pipe:[9]>, \"VALUE x\\n\", 8) = 8\n1 write(3</s/wal.log>, \"rec\", 3) = 3\n1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n1 fsync(3</s/wal.log>) = 0\n"
    );
    let found = findings(&trace, &["GET a", "PUT a 1"]);
    let violation = found.violation.expect("a violation");
    assert_eq!(violation.request, 1);
    assert_eq!(
        violation.unsynced,
        BTreeMap::from([(PathBuf::from("wal.log"), vec!["write".to_string()])])
    );
}

#[test]
fn sync_file_range_and_other_pipes_do_not_count() {
    let trace = format!(
        "{CREATE}{DIR_SYNC}{READY}1 write(3</s/wal.log>, \"rec\", 3) = 3\n1 sync_file_range(3</s/wal.log>, 0, 3, SYNC_FILE_RANGE_WRITE) = 0\n1 write(1<pipe:[7]>, \"OK\\n\", 3) = 3\n1 write(1<pipe:[9]>, \"O\", 1) = 1\n1 write(1<pipe:[9]>, \"K\\n\", 2) = 2\n"
    );
    assert!(findings(&trace, &["WALPUT a 1"]).violation.is_some());
}

/// What the store did, as the violation says it.
fn did(trace: &str) -> Vec<String> {
    findings(trace, &["WALPUT a 1"]).violation.unwrap().did
}

#[test]
fn the_calls_that_are_no_fsync_are_named() {
    let range = did(&format!(
        "{CREATE}{DIR_SYNC}{READY}1 write(3</s/wal.log>, \"rec\", 3) = 3\n1 sync_file_range(3</s/wal.log>, 0, 3, SYNC_FILE_RANGE_WRITE) = 0\n1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n"
    ));
    assert_eq!(range.len(), 1, "{range:?}");
    assert!(
        range[0].starts_with("it called sync_file_range on wal.log"),
        "{range:?}"
    );

    let early = did(&format!(
        "{CREATE}{DIR_SYNC}{READY}1 write(3</s/wal.log>, \"re\", 2) = 2\n1 fsync(3</s/wal.log>) = 0\n1 write(3</s/wal.log>, \"c\", 1) = 1\n1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n"
    ));
    assert_eq!(
        early,
        [
            "it fsync'd wal.log before its last write to it: the fsync must come after the last write"
        ]
    );

    let directory = did(&format!(
        "{CREATE}{DIR_SYNC}{READY}1 write(3</s/wal.log>, \"rec\", 3) = 3\n1 fsync(4</s>) = 0\n1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n"
    ));
    assert_eq!(directory.len(), 1, "{directory:?}");
    assert!(
        directory[0].starts_with("it fsync'd the directory, not wal.log"),
        "{directory:?}"
    );

    let renamed = did(&format!(
        "{CREATE}{DIR_SYNC}{READY}1 openat(AT_FDCWD</>, \"/s/wal.tmp\", O_WRONLY|O_CREAT|O_TRUNC, 0644) = 5</s/wal.tmp>\n1 write(5</s/wal.tmp>, \"rec\", 3) = 3\n1 rename(\"/s/wal.tmp\", \"/s/wal.log\") = 0\n1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n"
    ));
    assert_eq!(renamed.len(), 2, "{renamed:?}");
    assert_eq!(
        renamed[1],
        "it did not fsync the directory after renaming wal.tmp over wal.log, so a power loss can undo the rename"
    );
    assert!(
        renamed[0]
            .starts_with("it wrote wal.tmp, then renamed it to wal.log with no fsync of wal.tmp"),
        "{renamed:?}"
    );

    // A compaction after an fsync'd append: the fsync of wal.log was of
    // the file the rename replaced, not one that came too early.
    let compacted = did(&format!(
        "{CREATE}{DIR_SYNC}{READY}1 write(3</s/wal.log>, \"rec\", 3) = 3\n1 fdatasync(3</s/wal.log>) = 0\n1 openat(AT_FDCWD</>, \"/s/wal.log.tmp\", O_WRONLY|O_CREAT|O_TRUNC, 0644) = 5</s/wal.log.tmp>\n1 write(5</s/wal.log.tmp>, \"all\", 3) = 3\n1 rename(\"/s/wal.log.tmp\", \"/s/wal.log\") = 0\n1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n"
    ));
    assert!(
        compacted[0].starts_with(
            "it wrote wal.log.tmp, then renamed it to wal.log with no fsync of wal.log.tmp"
        ),
        "{compacted:?}"
    );
    assert!(
        !compacted
            .iter()
            .any(|said| said.contains("before its last write")),
        "{compacted:?}"
    );

    // A plain write with nothing else said: no claim.
    let plain = did(&format!(
        "{CREATE}{DIR_SYNC}{READY}1 write(3</s/wal.log>, \"rec\", 3) = 3\n1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n"
    ));
    assert!(plain.is_empty(), "{plain:?}");
}

#[test]
fn synchronous_opens_and_sync_all_count_as_fsync() {
    let osync = format!(
        "1 openat(AT_FDCWD</>, \"/s/wal.log\", O_WRONLY|O_CREAT|O_DSYNC, 0644) = 3</s/wal.log>\n{DIR_SYNC}{READY}1 write(3</s/wal.log>, \"rec\", 3) = 3\n1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n"
    );
    assert_eq!(findings(&osync, &["PUT a 1"]).violation, None);
    let sync = format!(
        "{CREATE}{READY}1 write(3</s/wal.log>, \"rec\", 3) = 3\n1 sync() = 0\n1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n"
    );
    let found = findings(&sync, &["PUT a 1"]);
    assert_eq!(found.violation, None);
    assert!(
        found.unsynced_directories.is_empty(),
        "sync() covers the directory too"
    );
}

#[test]
fn a_created_file_without_a_directory_fsync_is_a_warning() {
    let trace = format!(
        "{CREATE}{READY}1 write(3</s/wal.log>, \"rec\", 3) = 3\n1 fsync(3</s/wal.log>) = 0\n1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n1 write(3</s/wal.log>, \"rec\", 3) = 3\n1 fsync(3</s/wal.log>) = 0\n1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n"
    );
    let found = findings(&trace, &["PUT a 1", "PUT b 2"]);
    assert_eq!(found.violation, None);
    assert_eq!(
        found.unsynced_directories,
        [unsynced_name("wal.log", None, 0)]
    );
    assert_eq!(found.acknowledged_writes, 2);
}

#[test]
fn a_file_renamed_into_place_needs_its_directory_synced() {
    let trace = format!(
        "{CREATE}{DIR_SYNC}{READY}1 openat(AT_FDCWD</>, \"/s/snap.tmp\", O_WRONLY|O_CREAT, 0644) = 5</s/snap.tmp>\n1 write(5</s/snap.tmp>, \"x\", 1) = 1\n1 fsync(5</s/snap.tmp>) = 0\n1 rename(\"/s/snap.tmp\", \"/s/snap\") = 0\n1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n"
    );
    let found = findings(&trace, &["PUT a 1"]);
    assert_eq!(found.violation, None);
    assert_eq!(found.unsynced_directories, [unsynced_name("snap", None, 0)]);
}

#[test]
fn an_ok_before_any_write_is_a_violation() {
    let trace = format!(
        "{CREATE}{DIR_SYNC}{READY}1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n1 write(3</s/wal.log>, \"rec\", 3) = 3\n1 fsync(3</s/wal.log>) = 0\n"
    );
    let violation = findings(&trace, &["PUT a 1"])
        .violation
        .expect("a violation");
    assert!(violation.unsynced.is_empty());
}

#[test]
fn an_unsynced_file_renamed_over_the_log_is_a_violation() {
    let trace = format!("{CREATE}{DIR_SYNC}{READY}{UNSYNCED_TEMP_RENAMED}");
    let violation = findings(&trace, &["PUT a 1"])
        .violation
        .expect("a violation");
    assert_eq!(
        violation.unsynced.keys().collect::<Vec<_>>(),
        [&PathBuf::from("wal.log")]
    );
}

#[test]
fn an_fsync_that_began_before_the_write_returned_does_not_cover_it() {
    // Thread 2's fdatasync starts while thread 1's write is in flight.
    let trace = format!(
        "{CREATE}{DIR_SYNC}{READY}1 write(3</s/wal.log>, \"rec\", 3 <unfinished ...>\n2 fdatasync(3</s/wal.log> <unfinished ...>\n1 <... write resumed>) = 3\n2 <... fdatasync resumed>) = 0\n1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n"
    );
    assert!(findings(&trace, &["PUT a 1"]).violation.is_some());
}

#[test]
fn a_reply_counts_from_when_its_write_started() {
    // The OK is on its way while another thread's fsync runs.
    let trace = format!(
        "{CREATE}{DIR_SYNC}{READY}1 write(3</s/wal.log>, \"rec\", 3) = 3\n1 write(1<pipe:[9]>, \"OK\\n\", 3 <unfinished ...>\n2 fsync(3</s/wal.log>) = 0\n1 <... write resumed>) = 3\n"
    );
    assert!(findings(&trace, &["PUT a 1"]).violation.is_some());
}

/// Compaction before READY: `wal.tmp` written and fsync'd, renamed over
/// the log; then `tail` (after READY).
fn compacted(tail: &str) -> String {
    format!(
        "{CREATE}{DIR_SYNC}1 openat(AT_FDCWD</>, \"/s/wal.tmp\", O_WRONLY|O_CREAT|O_TRUNC, 0644) = 5</s/wal.tmp>\n1 write(5</s/wal.tmp>, \"all\", 3) = 3\n1 fsync(5</s/wal.tmp>) = 0\n1 rename(\"/s/wal.tmp\", \"/s/wal.log\") = 0\n1 openat(AT_FDCWD</>, \"/s/wal.log\", O_RDWR|O_APPEND) = 6</s/wal.log>\n{tail}{READY}1 write(6</s/wal.log>, \"rec\", 3) = 3\n1 fsync(6</s/wal.log>) = 0\n1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n"
    )
}

#[test]
fn an_ok_that_depends_on_a_rename_without_a_directory_fsync_is_a_violation() {
    let found = findings(&compacted(""), &["PUT a 1"]);
    let violation = found.violation.expect("a violation");
    assert!(violation.unsynced.is_empty(), "the file was fsync'd");
    assert_eq!(violation.renames.len(), 1);
    let renamed = &violation.renames[0];
    assert_eq!(
        (renamed.from.as_path(), renamed.to.as_path()),
        (Path::new("wal.tmp"), Path::new("wal.log"))
    );
    // Before READY; wal.tmp's own name was never made durable.
    assert_eq!((renamed.replies, renamed.from_durable), (0, false));
    // The directory fsync'd after the rename: no violation.
    let found = findings(&compacted(DIR_SYNC), &["PUT a 1"]);
    assert_eq!(found.violation, None);
    assert!(found.unsynced_directories.is_empty());
    // sync() after it: the same.
    let found = findings(&compacted("1 sync() = 0\n"), &["PUT a 1"]);
    assert_eq!(found.violation, None);
}

#[test]
fn a_record_fsynced_to_the_old_log_before_compaction_needs_no_directory_fsync_for_its_ok() {
    // PUT a: the record appended to the log and fsync'd, then the log
    // compacted into wal.tmp and renamed over it, no directory fsync:
    // undone, the old log holds the record. PUT b's record is only in
    // the new file.
    let put = "1 write(3</s/wal.log>, \"rec\", 3) = 3\n1 fsync(3</s/wal.log>) = 0\n";
    let compact = "1 openat(AT_FDCWD</>, \"/s/wal.tmp\", O_WRONLY|O_CREAT|O_TRUNC, 0644) = 5</s/wal.tmp>\n1 write(5</s/wal.tmp>, \"all\", 3) = 3\n1 fsync(5</s/wal.tmp>) = 0\n1 renameat(AT_FDCWD</s>, \"wal.tmp\", AT_FDCWD</s>, \"wal.log\") = 0\n1 openat(AT_FDCWD</>, \"/s/wal.log\", O_RDWR|O_APPEND) = 3</s/wal.log>\n";
    let ok = "1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n";
    let trace = format!("{CREATE}{DIR_SYNC}{READY}{put}{compact}{ok}");
    let found = findings(&trace, &["PUT a 1"]);
    assert_eq!(found.violation, None);
    // Still a warning: the rename is not durable, though no OK needs it yet.
    assert_eq!(
        found.unsynced_directories,
        [unsynced_name("wal.log", Some("wal.tmp"), 0)]
    );
    let trace = format!("{CREATE}{DIR_SYNC}{READY}{put}{compact}{ok}{put}{ok}");
    let violation = findings(&trace, &["PUT a 1", "PUT b 2"])
        .violation
        .expect("a violation");
    assert_eq!(violation.request, 1);
    assert_eq!(violation.renames.len(), 1);
    assert_eq!(violation.renames[0].replies, 1, "while serving PUT a");
}

#[test]
fn a_durable_temporary_name_gets_the_new_file_back() {
    // wal.tmp created and the directory fsync'd before the rename.
    let trace = format!(
        "{CREATE}1 openat(AT_FDCWD</>, \"/s/wal.tmp\", O_WRONLY|O_CREAT|O_TRUNC, 0644) = 5</s/wal.tmp>\n{DIR_SYNC}1 write(5</s/wal.tmp>, \"all\", 3) = 3\n1 fsync(5</s/wal.tmp>) = 0\n1 rename(\"/s/wal.tmp\", \"/s/wal.log\") = 0\n{READY}1 write(5</s/wal.log>, \"rec\", 3) = 3\n1 fsync(5</s/wal.log>) = 0\n1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n"
    );
    let violation = findings(&trace, &["PUT a 1"])
        .violation
        .expect("a violation");
    assert!(violation.renames[0].from_durable);
}

#[test]
fn an_unlink_without_a_directory_fsync_is_no_violation() {
    // The old segment removed after compaction: a power loss may bring
    // it back, holding data the store no longer needs.
    let trace = format!(
        "{CREATE}{DIR_SYNC}1 openat(AT_FDCWD</>, \"/s/old.seg\", O_WRONLY|O_CREAT, 0644) = 5</s/old.seg>\n{DIR_SYNC}{READY}1 unlink(\"/s/old.seg\") = 0\n1 write(3</s/wal.log>, \"rec\", 3) = 3\n1 fsync(3</s/wal.log>) = 0\n1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n"
    );
    let found = findings(&trace, &["PUT a 1"]);
    assert_eq!(found.violation, None);
    assert!(found.unsynced_directories.is_empty());
}

#[test]
fn an_unsynced_temporary_file_is_named_by_the_name_it_was_written_under() {
    let trace = format!("{CREATE}{DIR_SYNC}{READY}{UNSYNCED_TEMP_RENAMED}");
    let violation = findings(&trace, &["PUT a 1"])
        .violation
        .expect("a violation");
    assert_eq!(
        violation.written_as,
        BTreeMap::from([(PathBuf::from("wal.log"), PathBuf::from("wal.tmp"))])
    );
    // The rename over the log is not durable either, and is said.
    assert_eq!(violation.renames.len(), 1);
    assert!(
        violation
            .did
            .last()
            .unwrap()
            .starts_with("it did not fsync the directory after renaming wal.tmp over wal.log"),
        "{:?}",
        violation.did
    );
}

#[test]
fn a_renamed_name_is_resolved_before_the_loss_state_uses_it() {
    let trace = compacted("").replace(
        "rename(\"/s/wal.tmp\", \"/s/wal.log\")",
        "rename(\"/s/sub/../wal.tmp\", \"/s/wal.log\")",
    );
    let violation = findings(&trace, &["PUT a 1"])
        .violation
        .expect("a violation");
    assert_eq!(violation.renames[0].from, PathBuf::from("wal.tmp"));
}

fn unsynced_name(file: &str, replaced_by: Option<&str>, request: usize) -> UnsyncedName {
    UnsyncedName {
        file: PathBuf::from(file),
        replaced_by: replaced_by.map(PathBuf::from),
        request,
    }
}

/// A compaction that removes the old log's name before the new file takes
/// it, in each of the ways a store does it, without and with an fsync of
/// the directory after: the old file can come back, so the OK after it
/// depends on the rename as much as on a rename over the name.
#[test]
fn a_name_removed_then_replaced_is_a_rename_over_it() {
    const COMPACT: &str = "1 openat(AT_FDCWD</>, \"/s/wal.log.compact\", O_WRONLY|O_CREAT|O_TRUNC, 0644) = 5</s/wal.log.compact>\n1 write(5</s/wal.log.compact>, \"all\", 3) = 3\n1 fsync(5</s/wal.log.compact>) = 0\n";
    const APPEND: &str = "1 openat(AT_FDCWD</>, \"/s/wal.log\", O_RDWR|O_APPEND) = 6</s/wal.log>\n1 write(6</s/wal.log>, \"rec\", 3) = 3\n1 fdatasync(6</s/wal.log>) = 0\n1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n";
    let swaps = [
        "1 unlink(\"/s/wal.log\") = 0\n1 rename(\"/s/wal.log.compact\", \"/s/wal.log\") = 0\n",
        "1 rename(\"/s/wal.log\", \"/s/wal.log.old\") = 0\n1 rename(\"/s/wal.log.compact\", \"/s/wal.log\") = 0\n1 unlink(\"/s/wal.log.old\") = 0\n",
        "1 unlink(\"/s/wal.log\") = 0\n1 link(\"/s/wal.log.compact\", \"/s/wal.log\") = 0\n1 unlink(\"/s/wal.log.compact\") = 0\n",
        "1 mkdir(\"/s/sub\", 0755) = 0\n1 rename(\"/s/wal.log.compact\", \"/s/sub/../wal.log\") = 0\n",
    ];
    for swap in swaps {
        let trace = format!("{CREATE}{DIR_SYNC}{COMPACT}{swap}{READY}{APPEND}");
        let found = findings(&trace, &["PUT a 1"]);
        let violation = found.violation.unwrap_or_else(|| panic!("passed: {swap}"));
        assert_eq!(violation.renames.len(), 1, "{swap}: {violation:?}");
        assert_eq!(violation.renames[0].to, PathBuf::from("wal.log"), "{swap}");
        // The directory fsync'd after the swap: nothing to undo.
        let synced = format!("{CREATE}{DIR_SYNC}{COMPACT}{swap}{DIR_SYNC}{READY}{APPEND}");
        assert_eq!(findings(&synced, &["PUT a 1"]).violation, None, "{swap}");
    }
}

/// The log's folder swapped for a new one (`data` renamed away, `new`
/// renamed to `data`) with no directory fsync: the records appended to
/// `data/wal.log` after it depend on the folder's rename.
#[test]
fn a_folder_renamed_over_a_removed_one_carries_the_files_beneath_it() {
    let swap = "1 mkdir(\"/s/new\", 0755) = 0\n\
                1 openat(AT_FDCWD</>, \"/s/new/wal.log\", O_WRONLY|O_CREAT|O_TRUNC, 0644) = 5</s/new/wal.log>\n\
                1 write(5</s/new/wal.log>, \"all\", 3) = 3\n1 fsync(5</s/new/wal.log>) = 0\n\
                1 rename(\"/s/data\", \"/s/old\") = 0\n1 rename(\"/s/new\", \"/s/data\") = 0\n";
    let append = "1 openat(AT_FDCWD</>, \"/s/data/wal.log\", O_RDWR|O_APPEND) = 6</s/data/wal.log>\n\
                  1 write(6</s/data/wal.log>, \"rec\", 3) = 3\n1 fdatasync(6</s/data/wal.log>) = 0\n\
                  1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n";
    let existing = BTreeSet::from([PathBuf::from("/s/data"), PathBuf::from("/s/data/wal.log")]);
    let found = findings_among(
        &format!("{DIR_SYNC}{swap}{READY}{append}"),
        &["PUT a 1"],
        &existing,
    );
    let violation = found
        .violation
        .expect("the OK depends on the folder's rename");
    assert_eq!(violation.renames.len(), 1, "{violation:?}");
    assert_eq!(violation.renames[0].to, PathBuf::from("data"));
}

/// A descriptor number given another open file by `dup2` writes as that
/// file does: synchronous only when the file was opened so.
#[test]
fn a_duplicated_descriptor_is_as_synchronous_as_its_original() {
    let dsync = "1 openat(AT_FDCWD</>, \"/s/wal.log\", O_RDWR|O_APPEND|O_DSYNC) = 5</s/wal.log>\n";
    let write = |fd: u32| {
        format!(
            "1 write({fd}</s/wal.log>, \"rec\", 3) = 3\n1 write(1<pipe:[9]>, \"OK\\n\", 3) = 3\n"
        )
    };
    // The plain descriptor 3 duplicated onto the O_DSYNC number 5.
    let faked = format!(
        "{CREATE}{DIR_SYNC}{READY}{dsync}1 dup2(3</s/wal.log>, 5</s/wal.log>) = 5</s/wal.log>\n{}",
        write(5)
    );
    assert!(findings(&faked, &["PUT a 1"]).violation.is_some());
    // The O_DSYNC descriptor duplicated to 7: still synchronous.
    let kept = format!(
        "{CREATE}{DIR_SYNC}{READY}{dsync}1 dup(5</s/wal.log>) = 7</s/wal.log>\n{}",
        write(7)
    );
    assert_eq!(findings(&kept, &["PUT a 1"]).violation, None);
}
