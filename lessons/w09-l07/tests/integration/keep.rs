use wal::RecoveryMode;

use crate::binary;

#[test]
fn kept_wal_holds_the_unapplied_put() {
    let (_run, wal) = binary().keeps();
    let mut keys = Vec::new();
    let report = wal::replay(&wal, RecoveryMode::AbsoluteConsistency, |record| {
        keys.push((record.key, record.value))
    })
    .expect("the kept WAL replays cleanly");
    assert_eq!(report.records_replayed, 1);
    assert_eq!(keys, [(b"test_key".to_vec(), b"test_value".to_vec())]);
    assert!(wal.with_file_name("child.log").is_file());
}
