//! `wal repair FILE [--force]`: cut a damaged tail off, keeping the cut
//! bytes in a file beside the log.

use std::path::PathBuf;

use wal::{RecoveryMode, SyncPolicy, WalOptions, WalReader};

use super::{cut_note, explain_refusal, print_line};
use crate::exit::Exit;
use crate::text::count;

#[derive(Debug, clap::Args)]
pub struct RepairArgs {
    /// The log; must exist.
    pub file: PathBuf,
    /// Also cut when readable records follow the damage: keep the records
    /// before it, and save everything from the damage on (those records
    /// included) beside the log.
    #[arg(long)]
    pub force: bool,
}

pub const EXAMPLES: &str = "\
Exit codes:
  0  clean, or the damaged tail was cut (and saved as FILE.broken-OFFSET)
  2  cannot read the file, or it is not a WAL
  3  readable records follow the damage: refused, file untouched (see --force)

Examples:
  wal repair shop.wal            after a crash tore the last write
  wal repair --force shop.wal    mid-log corruption: keep the prefix";

pub fn run(args: &RepairArgs) -> anyhow::Result<Exit> {
    let path = &args.file;
    // Look first, read-only: a clean log (or a missing file) is not opened
    // for writing at all.
    let summary = WalReader::open(path)?.finish()?;
    if summary.damage.is_none() {
        print_line(format_args!(
            "{}: clean, nothing to repair ({}, last LSN {})",
            path.display(),
            count(summary.records, "record"),
            summary.last_lsn
        ))?;
        return Ok(Exit::Success);
    }
    let mode = if args.force {
        RecoveryMode::PointInTime
    } else {
        // The library refuses here, before touching the file, when readable
        // records follow the damage.
        RecoveryMode::TolerateTornTail
    };
    let options = WalOptions {
        sync: SyncPolicy::Always,
        mode,
    };
    let (wal, report) = wal::open(path, options, |_| {}).map_err(|err| {
        let advice = format!(
            "refusing to cut them off (the file is untouched); \
             `wal repair --force {}` keeps the {} before the damage \
             and saves the rest, those records included, beside the log",
            path.display(),
            count(summary.records, "record")
        );
        explain_refusal(err, path, &advice)
    })?;
    let line =
        cut_note(&report, wal.format()).unwrap_or_else(|| "clean, nothing to repair".to_string());
    print_line(format_args!("{}: {line}", path.display()))?;
    Ok(Exit::Success)
}
