//! `--keep`: every kept directory holds the state its legend line says.

use wal::RecoveryMode;

use crate::binary;

#[test]
fn each_kept_directory_holds_both_unapplied_puts() {
    let (run, kept) = binary().keeps();
    for dir in [w09_l07::KILLED_DIR, w09_l07::STORE_DIR] {
        let wal = kept.join(dir).join("wal.log");
        let mut records = Vec::new();
        let report = wal::replay(&wal, RecoveryMode::AbsoluteConsistency, |record| {
            records.push((record.key.to_vec(), record.value.to_vec()))
        })
        .expect("the kept WAL replays cleanly");
        assert_eq!(report.records_replayed, 2, "{dir}");
        assert_eq!(
            records,
            [
                (b"test_key".to_vec(), b"test_value".to_vec()),
                (b"crash_key".to_vec(), b"written_before_SIGKILL".to_vec())
            ]
        );
        let see = format!("see it: cargo run -p wal-cli -- dump {}", wal.display());
        assert!(
            run.stdout.contains(&see),
            "{see:?} missing:\n{}",
            run.stdout
        );
    }
}
