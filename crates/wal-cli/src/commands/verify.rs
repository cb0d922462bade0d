//! `wal verify FILE`: read the whole log, print a one-line verdict, and
//! exit with a code that says how bad any damage is.

use std::path::PathBuf;

use wal::{Summary, WalReader};

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
    Ok(match &summary.damage {
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
