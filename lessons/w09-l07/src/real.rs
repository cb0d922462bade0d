//! Further than the lesson: a real crash. The drill runs itself again as a
//! child process that writes a PUT to its own WAL without applying it, says
//! its LSN once the fsync returned, and is killed with SIGKILL by the parent,
//! which then recovers from the child's WAL.

use std::io::Write;
use std::path::Path;

use drill::{Doing, Options, Result, Steps, child, show};
use wal::KvStore;

use crate::{Fault, corrupt_first_value, recover_and_check, write_unapplied};

/// The key and value the child writes.
pub const KEY: &[u8] = b"crash_key";
pub const VALUE: &[u8] = b"written before SIGKILL";
/// The child's WAL, beside the drill's main one.
pub const WAL_FILE: &str = "child.log";

/// Steps this part prints.
pub const STEPS: usize = 2;

pub fn run(options: &Options<Fault>, steps: &mut Steps<'_>) -> Result<()> {
    let wal = options.dir.join(WAL_FILE);
    let killed = child::crash_step(steps, &options.exe, &wal, |killed| {
        let lsn: u64 = killed.field("lsn")?;
        Ok(format!(
            "wrote PUT {} = {} to the WAL only: LSN {lsn}, fsync'd",
            show::key(KEY),
            show::value(VALUE)
        ))
    })?;
    if options.fault == Some(Fault::CorruptChildRecord) {
        corrupt_first_value(steps, &wal, KEY)?;
    }

    steps.step(format_args!(
        "restart after the real crash: new KvStore recovering from {}",
        wal.display()
    ))?;
    recover_and_check(steps, &wal, KEY, VALUE, killed.field("lsn")?)
}

/// The child's side: create the store, write the PUT to the WAL only, say
/// its LSN, and wait with the store still open until SIGKILL arrives.
pub fn child(wal: &Path, out: &mut dyn Write) -> Result<()> {
    let store = KvStore::create(wal).doing(format!("create a KvStore at {}", wal.display()))?;
    let lsn = write_unapplied(&store, KEY, VALUE)?;
    child::ready_and_wait(out, &[("lsn", &lsn)])?;
    // Reached only if the parent went away without killing us.
    drop(store);
    Ok(())
}
