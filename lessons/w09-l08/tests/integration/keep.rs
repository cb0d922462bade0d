//! `--keep`: every kept directory holds the state its legend line says.

use std::path::Path;

use w09_l08::earlier::{CORRUPT_AS_BUILT_DIR, CORRUPT_DIR};
use w09_l08::scenario::{
    CRASHED_DIR, EMPTY_AS_BUILT_DIR, EMPTY_DIR, LIVE_DIR, PARTIAL_AS_BUILT_DIR, PARTIAL_DIR,
};
use wal::RecoveryMode;

use crate::binary;

fn replay(path: &Path, mode: RecoveryMode) -> wal::RecoveryReport {
    wal::replay(path, mode, |_| {}).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

#[test]
fn each_kept_directory_holds_what_the_legend_says() {
    let (run, kept) = binary().keeps();
    let log = |dir: &str| kept.join(dir).join("wal.log");
    for dir in [LIVE_DIR, CRASHED_DIR] {
        let report = replay(&log(dir), RecoveryMode::AbsoluteConsistency);
        assert_eq!(
            report.records_replayed, 6,
            "{dir}: five operations and the sixth PUT"
        );
    }

    let built = replay(&log(PARTIAL_AS_BUILT_DIR), RecoveryMode::PointInTime);
    assert_eq!(built.records_replayed, 5);
    let damage = built.damage.expect("the partial record is still there");
    assert!(damage.is_torn_tail() && damage.ends_in_zeros, "{damage}");
    // The reference log is preallocated: the first 10 bytes of record 6,
    // then the zeros the rest of it never replaced.
    let bytes = std::fs::read(log(PARTIAL_AS_BUILT_DIR)).unwrap();
    let at = damage.offset as usize;
    let live = std::fs::read(log(LIVE_DIR)).unwrap();
    assert_eq!(
        bytes[at..at + 10],
        live[at..at + 10],
        "only the first 10 bytes of record 6"
    );
    assert!(bytes[at + 10..].iter().all(|&b| b == 0));

    let recovered = replay(&log(PARTIAL_DIR), RecoveryMode::AbsoluteConsistency);
    assert_eq!(
        recovered.records_replayed, 6,
        "the torn tail cut, the new PUT after it"
    );
    let saved = std::fs::read_dir(kept.join(PARTIAL_DIR))
        .unwrap()
        .filter(|entry| {
            let name = entry.as_ref().unwrap().file_name();
            name.to_string_lossy().starts_with("wal.log.broken-")
        })
        .count();
    assert_eq!(saved, 1, "the cut tail is saved beside the log");

    assert_eq!(std::fs::metadata(log(EMPTY_AS_BUILT_DIR)).unwrap().len(), 0);
    let empty = replay(&log(EMPTY_DIR), RecoveryMode::AbsoluteConsistency);
    assert_eq!(empty.records_replayed, 0);
    assert_eq!(
        std::fs::metadata(log(EMPTY_DIR)).unwrap().len(),
        wal::FILE_HEADER_LEN as u64,
        "the legend says the reference store writes a new header"
    );

    // Record 3 of 6 damaged: the reference reader stops there, three
    // readable records after it; the restart cut them and saved them.
    let corrupt = replay(&log(CORRUPT_AS_BUILT_DIR), RecoveryMode::PointInTime);
    assert_eq!(corrupt.records_replayed, 2, "records 1-2 before the damage");
    assert!(!corrupt.damage.expect("record 3").is_torn_tail());
    let stopped = replay(&log(CORRUPT_DIR), RecoveryMode::AbsoluteConsistency);
    assert_eq!(stopped.records_replayed, 2, "records 3-6 cut");
    let saved = std::fs::read_dir(kept.join(CORRUPT_DIR))
        .unwrap()
        .filter(|entry| {
            let name = entry.as_ref().unwrap().file_name();
            name.to_string_lossy().starts_with("wal.log.broken-")
        })
        .count();
    assert_eq!(saved, 1, "the cut records are saved beside the log");

    let legend = [
        format!(
            "  {PARTIAL_AS_BUILT_DIR}/  as built: the five records, then only the first 10 bytes of record 6"
        ),
        format!(
            "see it: cargo run -p wal-cli -- dump --bytes {}",
            log(PARTIAL_AS_BUILT_DIR).display()
        ),
        format!(
            "see it: cargo run -p wal-cli -- dump {}",
            log(EMPTY_DIR).display()
        ),
        format!(
            "  {CORRUPT_AS_BUILT_DIR}/  as built: all six records, one bit of record 3 flipped"
        ),
    ];
    for line in legend {
        assert!(
            run.stdout.contains(&line),
            "{line:?} missing:\n{}",
            run.stdout
        );
    }
    // The strace records are kept apart from the store's directories,
    // where no store can reach them.
    let records = run
        .stdout
        .lines()
        .filter_map(|line| line.strip_prefix("kept: "))
        .find(|rest| rest.contains("(the store's file system calls"))
        .and_then(|rest| rest.split(" (").next())
        .map(std::path::PathBuf::from);
    match records {
        Some(records) => {
            assert!(
                records.is_dir() && !records.starts_with(&kept),
                "{}",
                run.stdout
            );
            std::fs::remove_dir_all(records.parent().unwrap()).unwrap();
        }
        None => assert!(!drill::testing::strace_installed(), "{}", run.stdout),
    }
}

/// `--keep` on a store that fails the tear sweep keeps the first failing
/// case, as built and after the restart, and the legend names it.
#[test]
fn the_first_failing_case_of_a_sweep_is_kept_and_named() {
    use w09_l08::sweep::{SWEEP_DIR, SWEEP_FAILED_AS_BUILT_DIR, SWEEP_FAILED_DIR};
    let Some(store) = drill::testing::python_store("broken/replays_partial.py") else {
        return;
    };
    let run = binary().run(&["--store", &store, "--keep"], 1);
    let stdout = &run.stdout;
    let verdict = drill::testing::verdict_line::<w09_l08::CrashMidWrite>(stdout);
    // The FAILED line names the case; the legend names the same one.
    let case = verdict
        .strip_prefix("FAILED: ")
        .and_then(|rest| rest.split(": GET").next())
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(case.starts_with("record 6 torn after "), "{stdout}");
    let legend = |dir: &str, holds: &str| {
        stdout.lines().any(|line| {
            line.strip_prefix(&format!("  {dir}/"))
                .is_some_and(|rest| rest.trim_start() == holds)
        })
    };
    let named = format!(
        "as built, no restart yet: the first failing case of the tear and flip sweep: {case}"
    );
    assert!(legend(SWEEP_FAILED_AS_BUILT_DIR, &named), "{stdout}");
    assert!(
        legend(SWEEP_FAILED_DIR, "after the restart on that case"),
        "{stdout}"
    );
    let kept = stdout
        .lines()
        .find_map(|line| line.strip_prefix("kept: "))
        .and_then(|rest| rest.split(" (").next())
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| panic!("{stdout}"));
    // As built: the five records and the torn prefix of record 6, which the
    // live directory holds whole.
    let torn: usize = case
        .strip_prefix("record 6 torn after ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("{case}"));
    let live = std::fs::read(kept.join(LIVE_DIR).join("wal.log")).unwrap();
    let built = std::fs::read(kept.join(SWEEP_FAILED_AS_BUILT_DIR).join("wal.log")).unwrap();
    let five = std::fs::read(kept.join(PARTIAL_AS_BUILT_DIR).join("wal.log")).unwrap();
    let sixth_start = five.len() - 10;
    assert_eq!(built.len(), sixth_start + torn, "{case}");
    assert_eq!(built[..], live[..built.len()]);
    assert!(kept.join(SWEEP_FAILED_DIR).join("wal.log").is_file());
    assert!(!kept.join(SWEEP_DIR).exists(), "the other cases are gone");
}
