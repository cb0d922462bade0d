//! The library's error type.

use std::io;
use std::path::{Path, PathBuf};

use crate::record::Damage;

/// Everything that can go wrong, each naming the file it concerns.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },

    /// A FIFO, a directory, a device: opening one could block or read
    /// forever, so it is refused before it is opened.
    #[error("{}: not a regular file (a {kind}); a WAL is a regular file", path.display())]
    NotAFile { path: PathBuf, kind: &'static str },

    /// A checkpoint's snapshot that does not check out. Never taken for an
    /// empty one: the records it holds are no longer in the log.
    #[error("{}: damaged snapshot ({reason}); the log alone no longer holds what it covers", path.display())]
    DamagedSnapshot { path: PathBuf, reason: String },

    #[error("{}: not a WAL file ({reason})", path.display())]
    NotAWal { path: PathBuf, reason: String },

    #[error(
        "{}: WAL format version {found}, but this build reads version {supported}",
        path.display()
    )]
    UnsupportedVersion {
        path: PathBuf,
        found: u16,
        supported: u16,
    },

    /// The recovery mode refused the damage it found (boxed: it is large,
    /// and every `Result` of this crate would carry its size).
    #[error("{}: {damage} (refused by {mode} recovery)", path.display())]
    Damaged {
        path: PathBuf,
        damage: Box<Damage>,
        mode: &'static str,
    },

    /// An earlier write or fsync failed. The page cache may have dropped the
    /// data it could not write, so retrying the fsync could report success for
    /// bytes that are gone; the only safe way on is to reopen and recover.
    #[error(
        "{}: the log is unusable after a failed {operation} ({message}); reopen it to recover",
        path.display()
    )]
    Poisoned {
        path: PathBuf,
        operation: &'static str,
        message: String,
    },

    /// The writer wrote a deliberately partial record (a crash drill) and
    /// takes no more appends: anything after it would be unreachable.
    #[error("{}: the log ends in a deliberately partial record; reopen it to recover", path.display())]
    EndsInPartialRecord { path: PathBuf },

    /// Another writer holds the log open (its advisory lock is taken).
    #[error("{}: another writer has this log open (it holds the log's lock)", path.display())]
    Locked { path: PathBuf },

    #[error("{}: a new WAL cannot be created: the file already exists", path.display())]
    AlreadyExists { path: PathBuf },

    /// A new log asked for beside a checkpoint's snapshot: the snapshot holds
    /// a store's keys and LSNs, which a new log starting at LSN 1 would
    /// contradict (recovery would skip its records as already in the
    /// snapshot). Recovering the store continues it instead.
    #[error(
        "{}: a new WAL cannot be created beside the checkpoint snapshot {}; \
         recover the store instead, or move the snapshot away",
        path.display(),
        snapshot.display()
    )]
    SnapshotBeside { path: PathBuf, snapshot: PathBuf },

    /// The log has used LSN `u64::MAX`, the last there is (only a crafted
    /// log holds it): a new record's LSN would wrap to 0 and name an
    /// earlier one.
    #[error("{}: the log has used LSN {}, the last there is; it takes no more records", path.display(), u64::MAX)]
    LsnsExhausted { path: PathBuf },

    /// A batch asked of a version-1 log: builds that read only version 1
    /// know no batch frame, and a version-1 log stays readable by them. A
    /// checkpoint replaces the log with a version-2 one.
    #[error(
        "{}: a version-1 log takes no batch (older builds could not read it); \
         checkpoint the store to move it to version 2",
        path.display()
    )]
    BatchNeedsVersion2 { path: PathBuf },

    #[error("key of {len} bytes is over the cap of {max} bytes")]
    KeyTooLong { len: usize, max: u32 },

    #[error("value of {len} bytes is over the cap of {max} bytes")]
    ValueTooLong { len: usize, max: u32 },

    #[error(
        "a batch of {bytes} bytes is over the caps of a batch \
         ({max_records} records, {max_bytes} bytes)",
        max_records = crate::MAX_KEY_LEN,
        max_bytes = crate::MAX_VALUE_LEN
    )]
    BatchTooLarge { bytes: usize },

    #[error("a delete record carries no value")]
    DeleteWithValue,

    #[error(
        "a partial record must be shorter than the {len} bytes of the whole record, not {requested}"
    )]
    PartialTooLong { requested: usize, len: usize },
}

impl Error {
    pub(crate) fn io(path: &Path, source: io::Error) -> Error {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attaches a path to an `io::Result`.
pub(crate) trait IoContext<T> {
    fn at(self, path: &Path) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn at(self, path: &Path) -> Result<T> {
        self.map_err(|source| Error::io(path, source))
    }
}
