//! `wal put FILE KEY VALUE`: append one put record, print its LSN.

use std::ffi::OsString;
use std::path::PathBuf;

use wal::Op;

use super::append_one;
use crate::exit::Exit;

#[derive(Debug, clap::Args)]
pub struct PutArgs {
    /// The log; created when missing.
    pub file: PathBuf,
    /// The key (raw bytes of the argument).
    pub key: OsString,
    /// The value (raw bytes of the argument).
    pub value: OsString,
}

pub const EXAMPLES: &str = "\
Examples:
  wal put shop.wal apples 3      prints the record's LSN, e.g. 1
  wal put shop.wal apples 5      a later put of the same key wins";

pub fn run(args: &PutArgs) -> anyhow::Result<Exit> {
    append_one(
        &args.file,
        Op::Put,
        args.key.as_encoded_bytes(),
        args.value.as_encoded_bytes(),
    )
}
