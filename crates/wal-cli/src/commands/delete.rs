//! `wal delete FILE KEY`: append one delete record, print its LSN.

use std::ffi::OsString;
use std::path::PathBuf;

use wal::Op;

use super::append_one;
use crate::exit::Exit;

#[derive(Debug, clap::Args)]
pub struct DeleteArgs {
    /// The log; created when missing.
    pub file: PathBuf,
    /// The key to delete (raw bytes of the argument).
    pub key: OsString,
}

pub const EXAMPLES: &str = "\
Examples:
  wal delete shop.wal apples     prints the delete record's LSN
  wal get shop.wal apples        now exits 1: the key is gone";

pub fn run(args: &DeleteArgs) -> anyhow::Result<Exit> {
    append_one(&args.file, Op::Delete, args.key.as_encoded_bytes(), &[])
}
