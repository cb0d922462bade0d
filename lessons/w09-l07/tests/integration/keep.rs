use wal::RecoveryMode;

use crate::binary;

#[test]
fn kept_store_directory_holds_both_unapplied_puts() {
    let (_run, kept) = binary().keeps();
    let wal = kept.join(w09_l07::STORE_DIR).join("wal.log");
    let mut records = Vec::new();
    let report = wal::replay(&wal, RecoveryMode::AbsoluteConsistency, |record| {
        records.push((record.key, record.value))
    })
    .expect("the kept WAL replays cleanly");
    assert_eq!(report.records_replayed, 2);
    assert_eq!(
        records,
        [
            (b"test_key".to_vec(), b"test_value".to_vec()),
            (b"crash_key".to_vec(), b"written_before_SIGKILL".to_vec())
        ]
    );
}
