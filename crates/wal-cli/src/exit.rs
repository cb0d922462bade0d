//! Exit codes: part of `wal`'s interface, so scripts and tests can rely on them.

use std::io;
use std::process::ExitCode;

/// How a `wal` run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The command did what was asked.
    Success = 0,
    /// The file was read fine and the answer is "no": `get` found no such
    /// key, or `verify` found damage at the tail only (cutting it loses
    /// nothing readable).
    Negative = 1,
    /// The file cannot be read, is missing (for commands that do not create
    /// it), is not a WAL, or the command line is wrong (clap uses 2 as well).
    Error = 2,
    /// Readable records follow damage: `verify` says so, and `repair`
    /// (without `--force`) and the writers refuse to cut them off.
    ReadableAfterDamage = 3,
    /// `verify`: the checkpoint snapshot beside the log is damaged, or
    /// missing though the log starts after one: recovery refuses the store,
    /// or would lose the keys the snapshot held.
    BadSnapshot = 4,
}

impl Exit {
    /// The exit code for a failed command.
    ///
    /// A writer or `repair` refused by the library's recovery mode exits like
    /// `verify` would for the same damage; everything else is an error.
    pub fn for_error(err: &anyhow::Error) -> Exit {
        match err.downcast_ref::<wal::Error>() {
            Some(wal::Error::Damaged { damage, .. }) if !damage.is_cuttable() => {
                Exit::ReadableAfterDamage
            }
            Some(wal::Error::Damaged { .. }) => Exit::Negative,
            _ => Exit::Error,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

/// True when `err` comes from writing to a closed pipe (`wal dump | head`):
/// the reader has everything it wanted, so `wal` stops quietly.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|cause| cause.downcast_ref::<io::Error>())
        .any(|io_err| io_err.kind() == io::ErrorKind::BrokenPipe)
}
