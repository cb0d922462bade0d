//! The files beside a log: which file a log's path names, the lock every
//! writer holds, the directory fsync that makes a new name durable, and the
//! leftovers of a checkpoint killed half way. Shared by recovery, cutting a
//! tail, snapshots and checkpoints, and depending on none of them.

use std::fs::{File, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{Error, IoContext, Result};

/// The file a log's path names: `path` itself, or the file it links to when
/// it is a symlink. The files kept beside a log (saved tails, the snapshot)
/// go beside that file, and a checkpoint replaces that file, not the link.
pub(crate) fn through_symlink(path: &Path) -> PathBuf {
    let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_symlink());
    match is_link.then(|| std::fs::canonicalize(path)) {
        Some(Ok(real)) => real,
        _ => path.to_path_buf(),
    }
}

/// How long a writer keeps trying for a lock that is taken. A log that was
/// just closed can still look locked for a moment: a process forked by any
/// thread of the closing program holds a copy of the descriptor, and so the
/// lock, until it execs. A second writer that really is there keeps the lock
/// far longer than this.
const LOCK_PATIENCE: Duration = Duration::from_secs(1);

/// Takes the exclusive advisory lock (`flock`) that every writer holds for as
/// long as its file is open, so that a second writer — another process, or
/// another `Wal` in this one — cannot interleave its records with ours or cut
/// a tail that is still being written. The kernel drops the lock when the
/// holder exits, however it exits, so a crash never leaves a log locked.
pub(crate) fn lock_for_writing(file: &File, path: &Path) -> Result<()> {
    let deadline = Instant::now() + LOCK_PATIENCE;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(1));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(Error::Locked {
                    path: path.to_path_buf(),
                });
            }
            Err(TryLockError::Error(err)) => return Err(Error::io(path, err)),
        }
    }
}

/// fsyncs the directory holding `path`, so a created file's name survives.
pub(crate) fn sync_parent_dir(path: &Path) -> Result<()> {
    let dir = parent_dir(path);
    File::open(dir).and_then(|d| d.sync_all()).at(dir)?;
    Ok(())
}

/// The directory holding `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Removes what a checkpoint killed half way left beside the log at `path`:
/// its temporary snapshot (`.NAME.snapshot.XXXXXX.tmp`) and new log
/// (`.NAME.XXXXXX.tmp`). Called only by a writer holding the log's lock:
/// checkpoints run under that lock, so no live one owns such a file. The
/// six random characters must match exactly, so another log's temporary
/// files (a log named `NAME.x`, say) are never taken for ours.
pub(crate) fn remove_stale_temporaries(path: &Path) -> Result<()> {
    let log = through_symlink(path);
    let Some(name) = log.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Ok(());
    };
    let dir = match log.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let is_random = |middle: &str| {
        middle.len() == TEMP_RANDOM_CHARS && middle.bytes().all(|b| b.is_ascii_alphanumeric())
    };
    for entry in std::fs::read_dir(&dir).at(&dir)? {
        let entry = entry.at(&dir)?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(middle) = file_name
            .strip_suffix(".tmp")
            .and_then(|rest| rest.strip_prefix(&format!(".{name}.")))
        else {
            continue;
        };
        let ours = is_random(middle) || middle.strip_prefix("snapshot.").is_some_and(is_random);
        let is_file = entry.file_type().is_ok_and(|kind| kind.is_file());
        if ours && is_file {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(Error::io(&entry.path(), err)),
            }
        }
    }
    Ok(())
}

/// The random characters `tempfile` puts in a temporary file's name (its
/// default, which `temp_beside` keeps).
const TEMP_RANDOM_CHARS: usize = 6;
