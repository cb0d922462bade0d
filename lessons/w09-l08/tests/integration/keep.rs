use std::fs;

use w09_l08::{PARTIAL_LEN, SIXTH, offset_of};
use wal::RecoveryMode;

use crate::binary;

#[test]
fn kept_wal_is_the_log_as_the_crash_left_it() {
    let (_run, crashed) = binary().keeps();
    let report =
        wal::replay(&crashed, RecoveryMode::PointInTime, |_| {}).expect("the kept WAL replays");
    assert_eq!(report.records_replayed, 5);
    let damage = report.damage.expect("the torn record is still there");
    assert!(damage.is_torn_tail(), "{damage}");
    assert_eq!(
        (damage.offset, damage.bytes_to_end),
        (offset_of(6), PARTIAL_LEN as u64)
    );
}

#[test]
fn recovered_wal_and_its_cut_tail_are_kept_beside_it() {
    let (_run, crashed) = binary().keeps();
    let wal = crashed.with_file_name("wal.log");
    let report = wal::replay(&wal, RecoveryMode::AbsoluteConsistency, |_| {})
        .expect("the recovered WAL replays cleanly");
    assert_eq!(report.records_replayed, 6);
    let torn = fs::read(wal.with_file_name(format!("wal.log.broken-{}", offset_of(6))))
        .expect("the torn tail is kept beside the WAL");
    assert_eq!(torn, SIXTH.encode(6)[..PARTIAL_LEN]);
}
