//! `wal verify FILE`: read the whole log, print a one-line verdict, and
//! exit with a code that says how bad any damage is.

use std::path::PathBuf;

use wal::{SnapshotCheck, Summary, WalReader};

use super::print_line;
use crate::exit::Exit;
use crate::text::count;

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The log; never modified.
    pub file: PathBuf,
}

pub const EXAMPLES: &str = "\
Exit codes:
  0  clean
  1  damage at the tail only: cutting it loses nothing readable
  2  cannot read the file, or it is not a WAL
  3  damage followed by readable records (mid-log corruption)
  4  the checkpoint snapshot beside the log (FILE.snapshot) is damaged, or
     missing though the log starts after a checkpoint

A second line says what `verify` found of the snapshot, when there is one
or should be one:
  shop.wal.snapshot: snapshot ok, LSNs up to 4, 2 keys

Examples:
  wal verify shop.wal            shop.wal: clean, 3 records, last LSN 3
  wal verify shop.wal || wal repair shop.wal

A log written by synced appends (`wal put`, `wal load --sync always`) is
followed by zeros preallocated for the next records; they are no damage:
  shop.wal: clean, 4 records, last LSN 4; the log ends at offset 146,
  65390 zero bytes preallocated after it";

pub fn run(args: &VerifyArgs) -> anyhow::Result<Exit> {
    let summary = WalReader::open(&args.file)?.finish()?;
    print_line(format_args!(
        "{}: {}",
        args.file.display(),
        verdict(&summary)
    ))?;
    // The log first: a checkpoint renames its snapshot into place before
    // its new log, so the snapshot read now is at least as new.
    let snapshot = SnapshotCheck::of(&args.file);
    let shown = wal::snapshot_path(&args.file);
    let line = match &snapshot {
        SnapshotCheck::None => None,
        SnapshotCheck::Ok { lsn, keys } => Some(format!(
            "{}: snapshot ok, LSNs up to {lsn}, {}",
            shown.display(),
            count(*keys, "key")
        )),
        SnapshotCheck::Damaged { reason } => Some(format!(
            "{}: snapshot damaged ({reason}); recovery refuses the store, and the \
             log alone no longer holds what it covers",
            shown.display()
        )),
        SnapshotCheck::Missing { after } => Some(format!(
            "{}: snapshot missing: the log starts after LSN {after} (a checkpoint's), \
             and the keys as of that LSN are in no file",
            shown.display()
        )),
    };
    if let Some(line) = line {
        print_line(format_args!("{line}"))?;
    }
    Ok(match &summary.damage {
        _ if snapshot.is_bad() => Exit::BadSnapshot,
        None => Exit::Success,
        Some(damage) if damage.is_cuttable() => Exit::Negative,
        Some(_) => Exit::ReadableAfterDamage,
    })
}

/// `clean, N records, last LSN L`, or the damage and what precedes it.
pub fn verdict(summary: &Summary) -> String {
    match &summary.damage {
        None if summary.preallocated > 0 => format!(
            "clean, {}, last LSN {}; the log ends at offset {}, {} preallocated after it",
            count(summary.records, "record"),
            summary.last_lsn,
            summary.valid_len,
            count(summary.preallocated, "zero byte"),
        ),
        None => format!(
            "clean, {}, last LSN {}",
            count(summary.records, "record"),
            summary.last_lsn
        ),
        Some(damage) => format!(
            "{damage}; {} before it, last LSN {}",
            count(summary.records, "record"),
            summary.last_lsn
        ),
    }
}
