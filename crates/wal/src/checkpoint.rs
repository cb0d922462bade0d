//! A checkpoint's steps: the snapshot built from the log itself, saved,
//! then a new log renamed over the old one (see [`crate::Snapshot`] for the
//! file, and the crate docs for who holds which file when).

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::path::Path;

use crate::error::{Error, IoContext, Result};
use crate::format::{self, LogFormat};
use crate::fsutil::{lock_for_writing, remove_stale_temporaries, sync_parent_dir, through_symlink};
use crate::hooks;
use crate::record::Op;
use crate::recovery::{self, RecoveryMode};
use crate::snapshot::{Snapshot, crash_point};
use crate::writer::{LogEnd, Wal};

/// Checkpoints the log `wal` writes (its caller holds it exclusively):
/// makes every record durable, snapshots what the snapshot beside the log
/// and the log itself hold, and renames a new log over the old one. Returns
/// the new log's writer and the LSN the snapshot covers.
///
/// The snapshot is built from the files, not from a caller's map: a record
/// logged and not yet applied (the crash drills' "logged, then killed
/// before the apply", [`crate::KvStore::wal`]) is acknowledged, and a
/// checkpoint must not drop it.
///
/// Once the new log is renamed over the old one, the old file is no longer
/// at the path: should anything fail after that (the directory's fsync),
/// `wal` is poisoned, so that nothing more is acknowledged into it.
pub(crate) fn checkpoint(wal: &Wal) -> Result<(Wal, u64)> {
    wal.sync()?;
    remove_stale_temporaries(wal.path())?;
    let lsn = wal.last_lsn();
    let path = wal.path().to_path_buf();
    let snapshot = Snapshot {
        lsn,
        map: replay_files(&path, lsn)?,
    };
    snapshot.save_beside(&path)?;
    // A symlinked log stays a symlink: the file it links to is replaced.
    let (file, end) = match replace_log(&through_symlink(&path), lsn) {
        Ok(new) => new,
        Err(Replaced::No(err)) => return Err(err),
        Err(Replaced::YesBut(operation, err)) => return Err(wal.poison_with(operation, err)),
    };
    Ok((Wal::from_file(file, path, end, wal.policy()), lsn))
}

/// The map the snapshot beside `path` and the log at `path` hold together,
/// which must end at `lsn` (the writer's last LSN: the log is ours, locked).
fn replay_files(path: &Path, lsn: u64) -> Result<BTreeMap<Vec<u8>, Vec<u8>>> {
    let (floor, mut map) = match Snapshot::load_beside(path)? {
        Some(snapshot) => (snapshot.lsn, snapshot.map),
        None => (0, BTreeMap::new()),
    };
    let report = recovery::replay(path, RecoveryMode::AbsoluteConsistency, |record| {
        if record.lsn <= floor {
            return;
        }
        match record.op {
            Op::Put => {
                map.insert(record.key.to_vec(), record.value.to_vec());
            }
            Op::Delete => {
                map.remove(record.key);
            }
        }
    })?;
    if report.last_lsn.max(floor) != lsn {
        return Err(Error::io(
            path,
            io::Error::other(format!(
                "the log on disk ends at LSN {}, its writer at LSN {lsn}: \
                 refusing to checkpoint a log this writer does not hold",
                report.last_lsn.max(floor)
            )),
        ));
    }
    Ok(map)
}

/// How [`replace_log`] failed: before the rename (the old log is still the
/// log) or after it (the new one is in place, its name maybe not durable).
enum Replaced {
    No(Error),
    YesBut(&'static str, io::Error),
}

impl From<Error> for Replaced {
    fn from(err: Error) -> Self {
        Replaced::No(err)
    }
}

/// Step 2 of a checkpoint: a new log (a new identity) holding its header
/// and a skip marker at `lsn`, locked, fsync'd, and renamed over the log at
/// `path` (which it replaces, old log and all, in one step), then the
/// directory fsync'd. Returns the new log, still locked, and its end.
fn replace_log(path: &Path, lsn: u64) -> Result<(File, LogEnd), Replaced> {
    use std::io::Write;
    let temp = crate::snapshot::temp_beside(path)?;
    lock_for_writing(temp.as_file(), path)?;
    crash_point("log's temporary file created");
    let format = LogFormat::new_log();
    let mut head = format::file_header(format);
    if lsn > 0 {
        head.extend_from_slice(&format::skip_marker(lsn, format));
    }
    temp.as_file().write_all(&head).at(path)?;
    crash_point("new log written");
    temp.as_file().sync_all().at(path)?;
    crash_point("new log synced");
    let file = temp
        .persist(path)
        .map_err(|err| Error::io(path, err.error))?;
    crash_point("new log renamed over the old");
    let synced = hooks::step("syncing the log's directory").at(path);
    if let Err(err) = synced.and_then(|()| sync_parent_dir(path)) {
        let err = match err {
            Error::Io { source, .. } => source,
            other => io::Error::other(other.to_string()),
        };
        return Err(Replaced::YesBut("directory fsync after a checkpoint", err));
    }
    crash_point("log's directory synced");
    let end = LogEnd {
        format,
        offset: head.len() as u64,
        last_lsn: lsn,
    };
    Ok((file, end))
}
