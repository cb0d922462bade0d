//! The lesson's drill: the crash is simulated by dropping the store between
//! the WAL write and the apply.

use drill::{Options, Result, Steps, show};

use crate::{Fault, KEY, VALUE, corrupt_first_value, recover_and_check, write_unapplied};

/// The drill's main WAL, the one `--keep` points the student at.
pub const WAL_FILE: &str = "wal.log";

/// Steps this part prints.
pub const STEPS: usize = 4;

pub fn run(options: &Options<Fault>, steps: &mut Steps<'_>) -> Result<()> {
    let wal = options.dir.join(WAL_FILE);
    let store = drill::create_store(steps, &wal)?;

    let lsn = write_unapplied(&store, KEY, VALUE)?;
    steps.step(format_args!(
        "wrote PUT {} = {} to the WAL only (store.wal().append, bypassing put): LSN {lsn}, fsync'd",
        show::key(KEY),
        show::value(VALUE)
    ))?;
    steps.ok(format_args!(
        "get({}) on this store returns nothing: the in-memory map was not updated",
        show::key(KEY)
    ))?;

    drop(store);
    steps.step("simulated crash: dropped the store before the PUT was applied to its map")?;
    if options.fault == Some(Fault::CorruptRecord) {
        corrupt_first_value(steps, &wal, KEY)?;
    }

    steps.step(format_args!(
        "restart: new KvStore (empty map) recovering from {}",
        wal.display()
    ))?;
    recover_and_check(steps, &wal, KEY, VALUE, lsn)
}
