//! Tests of the `test_crash_after_wal` drill, by topic. What every drill
//! shares (the passed line, cleanup, `FAILED` lines, `--keep`, arguments) is
//! checked through `drill::testing`; these tests add what this drill prints
//! and keeps.

mod faults;
mod hostile;
mod keep;
mod library;
mod passing;
mod power_loss;
mod reach;
mod runtimes;
mod stores;

use drill::testing::DrillBinary;
use w09_l07::CrashAfterWal;

pub fn binary() -> DrillBinary<CrashAfterWal> {
    DrillBinary::new(env!("CARGO_BIN_EXE_test_crash_after_wal"))
}
