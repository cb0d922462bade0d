//! Tests of the `test_crash_mid_write` drill, by topic. What every drill
//! shares (the passed line, cleanup, `FAILED` lines, `--keep`, arguments) is
//! checked through `drill::testing`; these tests add what this drill prints
//! and keeps.

mod cost;
mod earlier;
mod faults;
mod keep;
mod library;
mod passing;
mod power_loss;
mod preallocated;
mod runtimes;
mod stores;

use drill::testing::DrillBinary;
use w09_l08::CrashMidWrite;

pub fn binary() -> DrillBinary<CrashMidWrite> {
    DrillBinary::new(env!("CARGO_BIN_EXE_test_crash_mid_write"))
}

/// Asserts that a model store's run named no costly or slow recovery.
pub fn assert_no_cost_named(stdout: &str) {
    assert!(
        !stdout.contains("warning: recovery of a "),
        "a model store's recovery was named costly:\n{stdout}"
    );
}

/// Asserts that `stdout` contains each of `lines`.
pub fn assert_lines(stdout: &str, lines: &[String]) {
    for line in lines {
        assert!(
            stdout.contains(line.as_str()),
            "{line:?} missing:\n{stdout}"
        );
    }
}
