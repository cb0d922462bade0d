use w09_l08::scenario::{CRASHED_DIR, EMPTY_DIR, PARTIAL_DIR};
use wal::RecoveryMode;

use crate::binary;

#[test]
fn kept_directories_hold_each_state() {
    let (_run, kept) = binary().keeps();
    let crashed = wal::replay(
        kept.join(CRASHED_DIR).join("wal.log"),
        RecoveryMode::AbsoluteConsistency,
        |_| {},
    )
    .expect("the SIGKILL left a clean log");
    assert_eq!(crashed.records_replayed, 6);

    let partial = kept.join(PARTIAL_DIR);
    let recovered = wal::replay(
        partial.join("wal.log"),
        RecoveryMode::AbsoluteConsistency,
        |_| {},
    )
    .expect("recovery cut the torn tail and the new PUT followed");
    assert_eq!(recovered.records_replayed, 6);
    let broken: Vec<_> = std::fs::read_dir(&partial)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("wal.log.broken-"))
        .collect();
    assert_eq!(
        broken.len(),
        1,
        "the cut tail is kept beside the log: {broken:?}"
    );
    assert!(kept.join(EMPTY_DIR).join("wal.log").is_file());
}
