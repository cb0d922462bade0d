//! Cutting a damaged tail off a log, after saving it beside the log as
//! `NAME.broken-OFFSET` (read back by [`crate::SavedTail`]).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};
use crate::format::{self, LogFormat};
use crate::fsutil::{sync_parent_dir, through_symlink};
use crate::record::Damage;

/// The bytes cut off a damaged log, and where they were saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CutTail {
    pub offset: u64,
    /// Bytes cut: from `offset` to the end of the file.
    pub bytes: u64,
    /// Bytes of them saved: all, or for a version-2 log up to the last
    /// non-zero one (the zeros after it are preallocated space).
    pub saved_bytes: u64,
    pub saved_to: PathBuf,
}

/// Saves `file[offset..len]` (from the damage's offset) beside `path`
/// (beside the file it links to, when `path` is a symlink), then truncates
/// `file` to `offset`. A failed
/// attempt removes the copy it started, so that retries leave nothing.
///
/// With `skip_to` (an LSN and the log's format), a skip marker with that
/// LSN takes the first bytes of the tail's place before the file is cut
/// after it: written over the damage and synced first, so a crash at any
/// point leaves either the old tail (cut again on the next open) or the
/// marker, never a log that forgot the cut LSNs.
///
/// A tail cut from a version-2 log (`format`) is saved after a copy of the
/// log's header (its records' checksums need the log's identity) and without
/// the zeros after its last byte (preallocated space, not data: the reader
/// counted them, [`Damage::zeros_to_end`]). The cut takes the preallocated
/// space with it; the writer allocates anew.
pub(crate) fn cut_tail(
    path: &Path,
    file: &File,
    damage: &Damage,
    len: u64,
    skip_to: Option<(u64, LogFormat)>,
    format: Option<LogFormat>,
) -> Result<CutTail> {
    let offset = damage.offset;
    let end = match format {
        Some(LogFormat::V2 { .. }) => len - damage.zeros_to_end,
        _ => len,
    };
    let (saved_to, saved) = create_broken_file(&through_symlink(path), offset)?;
    let saved_bytes = match save_tail(path, file, offset..end, format, &saved_to, saved) {
        Ok(bytes) => bytes,
        Err(err) => {
            let _ = std::fs::remove_file(&saved_to);
            return Err(err);
        }
    };
    let mut new_len = offset;
    if let Some((lsn, format)) = skip_to {
        use std::os::unix::fs::FileExt;
        let marker = format::skip_marker(lsn, format);
        file.write_all_at(&marker, offset).at(path)?;
        file.sync_data().at(path)?;
        new_len += marker.len() as u64;
    }
    file.set_len(new_len).at(path)?;
    file.sync_all().at(path)?;
    Ok(CutTail {
        offset,
        bytes: len - offset,
        saved_bytes,
        saved_to,
    })
}

/// Copies `file[bytes]` into `saved` (for a version-2 log, after its
/// header; see [`cut_tail`]) and makes it durable, name and all. Returns
/// how many bytes it copied.
fn save_tail(
    path: &Path,
    file: &File,
    bytes: std::ops::Range<u64>,
    format: Option<LogFormat>,
    saved_to: &Path,
    mut saved: File,
) -> Result<u64> {
    let mut source = file;
    if let Some(format @ LogFormat::V2 { .. }) = format {
        saved.write_all(&format::file_header(format)).at(saved_to)?;
    }
    source.seek(SeekFrom::Start(bytes.start)).at(path)?;
    let wanted = bytes.end - bytes.start;
    let copied = io::copy(&mut source.take(wanted), &mut saved).at(saved_to)?;
    if copied != wanted {
        return Err(Error::io(path, io::ErrorKind::UnexpectedEof.into()));
    }
    saved.sync_all().at(saved_to)?;
    sync_parent_dir(saved_to)?;
    Ok(copied)
}

fn create_broken_file(path: &Path, offset: u64) -> Result<(PathBuf, File)> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "wal".into());
    for attempt in 0..1000 {
        let suffix = if attempt == 0 {
            String::new()
        } else {
            format!(".{attempt}")
        };
        let candidate = path.with_file_name(format!("{name}.broken-{offset}{suffix}"));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(file) => return Ok((candidate, file)),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(Error::io(&candidate, err)),
        }
    }
    Err(Error::io(
        path,
        io::Error::other("too many saved tails beside this log"),
    ))
}

/// The highest LSN of a readable record in the saved tails beside the log
/// at `path` (`NAME.broken-OFFSET`), `None` when they hold none. Those LSNs
/// were handed out, and the skip marker that moved a log past them can be
/// damaged itself; files named like a saved tail that are not one count
/// for nothing, nor does a last record whole only with the zeros the cut
/// left off.
pub(crate) fn highest_saved_lsn(path: &Path) -> Result<Option<u64>> {
    let log = through_symlink(path);
    let Some(name) = log.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Ok(None);
    };
    let dir = match log.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let prefix = format!("{name}.broken-");
    let mut highest = None;
    for entry in std::fs::read_dir(&dir).at(&dir)? {
        let entry = entry.at(&dir)?;
        let saved = entry.path();
        let is_tail = entry.file_name().to_string_lossy().starts_with(&prefix)
            && crate::saved_tail_origin(&saved).is_some();
        if !is_tail {
            continue;
        }
        let tail = match crate::SavedTail::open(&saved) {
            Ok(tail) => tail,
            Err(Error::NotAWal { .. } | Error::NotAFile { .. }) => continue,
            Err(err) => return Err(err),
        };
        // Only records stored whole: a last record that reads whole only
        // with the zeros the cut left off may be a write that never
        // finished (a torn tail is saved just so), never acknowledged.
        for piece in tail.pieces() {
            if let crate::TailPiece::Record(entry) = piece?
                && entry.offset - tail.origin + entry.len <= tail.len
            {
                highest = highest.max(Some(entry.record.lsn));
            }
        }
    }
    Ok(highest)
}
