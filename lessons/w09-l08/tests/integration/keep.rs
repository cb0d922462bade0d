//! `--keep`: every kept directory holds the state its legend line says.

use std::path::Path;

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
