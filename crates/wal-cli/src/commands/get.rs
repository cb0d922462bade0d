//! `wal get FILE KEY`: replay the log read-only and print the key's value.

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::PathBuf;

use wal::{Op, RecoveryMode};

use super::stdout_error;
use crate::exit::Exit;
use crate::text::quoted;

#[derive(Debug, clap::Args)]
pub struct GetArgs {
    /// The log; never modified.
    pub file: PathBuf,
    /// The key to look up (raw bytes of the argument).
    pub key: OsString,
}

pub const EXAMPLES: &str = "\
Examples:
  wal get shop.wal apples        prints the value, exit 0
  wal get shop.wal pears         exit 1 when the key is absent";

pub fn run(args: &GetArgs) -> anyhow::Result<Exit> {
    let key = args.key.as_encoded_bytes();
    // Only the one key's latest state is kept: memory stays bounded
    // whatever the size of the log.
    // A checkpoint's snapshot, then the log's later records (the log is
    // opened first: see `wal::replay_store`).
    let start = |snapshot: Option<wal::Snapshot>| {
        let floor = snapshot.as_ref().map_or(0, |s| s.lsn);
        (floor, snapshot.and_then(|mut s| s.map.remove(key)))
    };
    let (report, (_, value)) = wal::replay_store(
        &args.file,
        RecoveryMode::PointInTime,
        start,
        |(floor, value), record| {
            if record.lsn > *floor && record.key == key {
                *value = match record.op {
                    Op::Put => Some(record.value.to_vec()),
                    Op::Delete => None,
                };
            }
        },
    )?;
    if let Some(warning) = report.warning() {
        crate::stderr::note(format_args!("{}: warning: {warning}", args.file.display()));
    }
    match value {
        Some(value) => {
            let mut out = io::stdout().lock();
            out.write_all(&value)
                .and_then(|()| out.write_all(b"\n"))
                .and_then(|()| out.flush())
                .map_err(stdout_error)?;
            Ok(Exit::Success)
        }
        None => {
            crate::stderr::note(format_args!(
                "{}: key {} not found",
                args.file.display(),
                quoted(key)
            ));
            Ok(Exit::Negative)
        }
    }
}
