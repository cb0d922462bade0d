//! Further than the lesson: a real crash. The drill runs itself again as a
//! child process that writes the five records and the first bytes of the
//! sixth, fsyncs, says so, and is killed with SIGKILL by the parent, which
//! then recovers the five from the child's WAL.

use std::io::Write;
use std::path::Path;

use drill::{Doing, Options, Result, Steps, child, expect_eq};
use wal::KvStore;

use crate::{
    Fault, PARTIAL_LEN, corrupt_record_3, recover_first_five, write_first_five, write_partial_sixth,
};

/// The child's WAL, beside the drill's main one.
pub const WAL_FILE: &str = "child.log";

/// Steps this part prints.
pub const STEPS: usize = 2;

pub fn run(options: &Options<Fault>, steps: &mut Steps<'_>) -> Result<()> {
    let wal = options.dir.join(WAL_FILE);
    child::crash_step(steps, &options.exe, &wal, |killed| {
        let lsn: u64 = killed.field("lsn")?;
        expect_eq("LSN of the child's partial record", 6, lsn)?;
        Ok(format!(
            "wrote 5 records and the first {PARTIAL_LEN} bytes of record 6 (LSN {lsn}), fsync'd"
        ))
    })?;
    if options.fault == Some(Fault::CorruptChildRecord) {
        corrupt_record_3(steps, &wal)?;
    }

    steps.step(format_args!(
        "restart after the real crash: new KvStore replaying {}",
        wal.display()
    ))?;
    recover_first_five(steps, &wal).map(drop)
}

/// The child's side: the five records, the torn sixth, then wait with the
/// store still open until SIGKILL arrives.
pub fn child(wal: &Path, out: &mut dyn Write) -> Result<()> {
    let store = KvStore::create(wal).doing(format!("create a KvStore at {}", wal.display()))?;
    write_first_five(&store)?;
    let lsn = write_partial_sixth(&store)?;
    child::ready_and_wait(out, &[("lsn", &lsn)])?;
    // Reached only if the parent went away without killing us.
    drop(store);
    Ok(())
}
