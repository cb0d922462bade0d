//! `wal checkpoint FILE`: snapshot the store beside the log, restart the log.

use std::path::PathBuf;

use wal::{KvStore, RecoveryMode, SyncPolicy, WalOptions};

use super::{explain_refusal, print_line};
use crate::exit::Exit;
use crate::text::count;

#[derive(Debug, clap::Args)]
pub struct CheckpointArgs {
    /// The log; must exist.
    pub file: PathBuf,
}

pub const EXAMPLES: &str = "\
Writes FILE.snapshot (every key and value as of the last LSN, one checksum)
and replaces FILE with a new log whose LSNs follow the snapshot's. A crash at
any point loses nothing. `get` reads the snapshot and the log; `dump` says
which LSN the snapshot covers.

Examples:
  wal checkpoint shop.wal        shop.wal: checkpoint at LSN 4: 2 keys in shop.wal.snapshot; the log restarts after it";

pub fn run(args: &CheckpointArgs) -> anyhow::Result<Exit> {
    let path = &args.file;
    // Like the other writers: a torn tail is cut first, readable records
    // behind damage are refused. A missing log is an error, not a new one.
    wal::WalReader::open(path)?;
    let options = WalOptions {
        sync: SyncPolicy::Always,
        mode: RecoveryMode::TolerateTornTail,
    };
    let (mut store, _) = KvStore::recover_with(path, options).map_err(|err| {
        let advice = "refusing to checkpoint behind it (the file is untouched); \
                      `wal repair` first";
        explain_refusal(err, path, advice)
    })?;
    let lsn = store.checkpoint()?;
    print_line(format_args!(
        "{}: checkpoint at LSN {lsn}: {} in {}; the log restarts after it",
        path.display(),
        count(store.len() as u64, "key"),
        wal::snapshot_path(path).display()
    ))?;
    Ok(Exit::Success)
}
